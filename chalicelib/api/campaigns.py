"""Routes for staff running campaigns (chalicelib/campaigns.py).

Staff create a campaign (a draft with its selection), change it while it is a draft, start
its materialisation (a queued job: 202), read its current audience (exclusions re-checked
at every read; every prospect shown is an audited read; with each member's latest call
outcome), hand it to a marketing partner
and close that assignment, and close the campaign. Every change is audited in the same
transaction as the write (the caller as `call.actor`).
"""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib import campaigns, prospects
from chalicelib.audit import Access
from chalicelib.registers import STAFF_ROLES
from chalicelib.validation import dump

from .routing import Call, route

campaigns_bp = Blueprint(__name__)
STAFF = STAFF_ROLES


@route(
    campaigns_bp,
    "/campaigns",
    "POST",
    STAFF,
    status=201,
    summary="Create a campaign (a draft): name, purpose, channel and a selection over the prospect register",
    query=(),
    body=campaigns.NewCampaign,
)
def create_campaign(call: Call) -> dict[str, Any]:
    return campaigns.present(campaigns.create(dump(call.body()), call.actor))


@route(campaigns_bp, "/campaigns", "GET", STAFF, summary="List campaigns, newest first", query=("limit", "cursor"))
def list_campaigns(call: Call) -> dict[str, Any]:
    page = campaigns.list_campaigns(call.limit(), call.query.get("cursor"))
    return {"items": [campaigns.present(i) for i in page["items"]], "next_cursor": page["next_cursor"]}


@route(campaigns_bp, "/campaigns/{campaign_id}", "GET", STAFF, summary="Get a campaign with its counts", query=())
def get_campaign(call: Call, campaign_id: str) -> dict[str, Any]:
    return campaigns.present(campaigns.get(campaign_id))


@route(
    campaigns_bp,
    "/campaigns/{campaign_id}",
    "PATCH",
    STAFF,
    summary="Change a draft campaign (optionally against its `version`: 409 if it changed since)",
    query=(),
    body=campaigns.CampaignChanges,
)
def update_campaign(call: Call, campaign_id: str) -> dict[str, Any]:
    return campaigns.present(campaigns.update(campaign_id, dump(call.body()), call.actor))


@route(
    campaigns_bp,
    "/campaigns/{campaign_id}/materialisation",
    "POST",
    STAFF,
    status=202,
    summary="Form the campaign's audience now (a queued job; follow the campaign's status and counts)",
    query=(),
)
def materialise_campaign(call: Call, campaign_id: str) -> dict[str, Any]:
    return campaigns.present(campaigns.start_materialisation(campaign_id, call.actor))


@route(
    campaigns_bp,
    "/campaigns/{campaign_id}/sending",
    "POST",
    STAFF,
    status=202,
    summary="Send an email campaign's messages (a queued job; follow `sending` in the campaign)",
    query=(),
    body=campaigns.EmailMessageText,
)
def send_campaign(call: Call, campaign_id: str) -> dict[str, Any]:
    return campaigns.present(campaigns.start_sending(campaign_id, dump(call.body()), call.actor))


@route(
    campaigns_bp,
    "/campaigns/{campaign_id}/audience",
    "GET",
    STAFF,
    summary="The campaign's audience as it stands now (exclusions re-checked; counts of who was left out and why)",
    query=("limit", "cursor"),
)
def campaign_audience(call: Call, campaign_id: str) -> dict[str, Any]:
    page = campaigns.current_audience(campaign_id, call.limit(), call.query.get("cursor"))
    items = []
    for member, profile in page["items"]:
        shown = prospects.present([profile], call.principal.roles)
        shown.pop("sources", None)  # a profile alone does not list its sources
        # The latest call outcome recorded for the person, if any (chalicelib/call_lists.py).
        recorded = {k: member[k] for k in ("outcome", "outcome_at") if k in member}
        items.append({**shown, "added_at": member["added_at"], **recorded})
    call.audit(
        Access("read", prospects.REGISTER, profile["prospect_id"], prospects.personal_fields(profile))
        for _, profile in page["items"]
    )
    return {"items": items, "next_cursor": page["next_cursor"], "excluded": page["excluded"]}


@route(
    campaigns_bp,
    "/campaigns/{campaign_id}/assignment",
    "PUT",
    STAFF,
    summary="Assign the campaign to an active marketing partner with a processing agreement",
    query=(),
    body=campaigns.Assignment,
)
def assign_campaign(call: Call, campaign_id: str) -> dict[str, Any]:
    return campaigns.present(campaigns.assign(campaign_id, call.body().partner_id, call.actor))


@route(
    campaigns_bp,
    "/campaigns/{campaign_id}/assignment",
    "DELETE",
    STAFF,
    summary="Close the campaign's assignment: the marketing partner's access ends",
    query=(),
)
def unassign_campaign(call: Call, campaign_id: str) -> dict[str, Any]:
    return campaigns.present(campaigns.close_assignment(campaign_id, call.actor))


@route(
    campaigns_bp,
    "/campaigns/{campaign_id}/closure",
    "POST",
    STAFF,
    summary="Close the campaign: its audience is no longer read and its retention period starts",
    query=(),
)
def close_campaign(call: Call, campaign_id: str) -> dict[str, Any]:
    return campaigns.present(campaigns.close(campaign_id, call.actor))
