"""Routes for phone campaigns' call lists and outcomes: staff, and the assigned marketing partner.

Staff (the register's named persons) download any phone campaign's call list, record
outcomes and read those recorded (by staff or the partner, also of people no longer in the
audience); their reads are audited, not disclosures. A marketing partner (`/marketing/…`)
sees only the campaigns assigned to it while the assignment is open, and within them only
the current audience with the partner-visible fields: every person handed to it is first
recorded in the disclosure log (`campaign_audience` for a read of the audience, `call_list`
for a list downloaded). Anything else — a campaign not assigned to it, another partner's,
a closed assignment, a prospect outside the audience — is simply 404.

Downloads: `?format=xlsx` (default; send `Accept` with the .xlsx media type or `*/*`: API
Gateway returns binary bodies only to a client that accepts them) or `?format=csv`.
Outcomes: one row by PUT with `{"outcome": …}`, or the whole list sent back by POST with
the .xlsx or CSV file as the body (`Content-Type` the file's media type).
"""

from __future__ import annotations

from typing import Any

from chalice import Blueprint, Response

from chalicelib import call_lists, campaigns, clock, prospects, store
from chalicelib.audit import Access
from chalicelib.errors import NotFound, ValidationFailed
from chalicelib.registers import STAFF_ROLES, Role
from chalicelib.validation import StrictModel

from .routing import Call, route

call_lists_bp = Blueprint(__name__)
STAFF = STAFF_ROLES
MARKETING = (Role.MARKETING,)
UPLOAD_TYPES = [call_lists.XLSX_TYPE, call_lists.CSV_TYPE, "application/octet-stream"]
# Media types API Gateway passes through as bytes (app.py adds them to the binary types).
BINARY_TYPES = (call_lists.XLSX_TYPE, call_lists.CSV_TYPE)


class OutcomeBody(StrictModel):
    """One caller's outcome for one person: a code, never free text about them."""

    outcome: call_lists.Outcome


# What a marketing partner sees of a campaign assigned to it.
_PARTNER_SHOWN = ("campaign_id", "name", "purpose", "channel", "status", "materialised_at", "assigned_at")


def present_for_partner(meta: dict[str, Any]) -> dict[str, Any]:
    """A campaign as its marketing partner sees it: what it is for, and the audience's size."""
    shown = {k: meta[k] for k in _PARTNER_SHOWN if k in meta}
    shown["audience"] = (meta.get("counts") or {}).get("audience", 0)
    return dict(store.plain(shown))


def _fmt(call: Call) -> str:
    fmt = call.query.get("format", "xlsx")
    if fmt not in call_lists.FORMATS:
        raise ValidationFailed("format must be xlsx or csv.", code="invalid_query")
    return fmt


def _audit_rows(call: Call, campaign: dict[str, Any], rows: list[call_lists.Row], action: str) -> None:
    """Audit each person's data handed out (field names only), and the handover on the campaign."""
    call.audit(
        [
            Access(action, campaigns.REGISTER, str(campaign["campaign_id"]), ()),
            *(Access(action, prospects.REGISTER, r.prospect_id, tuple(r.values)) for r in rows),
        ]
    )


def _download(call: Call, campaign: dict[str, Any], recipient: str | None) -> Response:
    fmt = _fmt(call)
    rows = call_lists.call_list(campaign, call.actor, recipient=recipient)
    _audit_rows(call, campaign, rows, "export")
    body = call_lists.render(fmt, campaign, rows)
    name = f"soittolista-{str(campaign['campaign_id'])[:8]}-{clock.local_date().isoformat()}.{fmt}"
    return Response(
        body=body,
        status_code=200,
        headers={
            "Content-Type": call_lists.FORMATS[fmt],
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
        },
    )


_XLSX_MAGIC = b"PK\x03\x04"  # a workbook is a zip archive


def _upload(call: Call, campaign: dict[str, Any]) -> dict[str, Any]:
    if not call.raw_body:
        raise ValidationFailed("Send the call list file as the request body.", code="empty_file")
    # Told apart by content, not by the media type: browsers and mail programs label a CSV
    # as application/vnd.ms-excel or application/octet-stream as often as text/csv.
    name = "outcomes.xlsx" if call.raw_body[:4] == _XLSX_MAGIC else "outcomes.csv"
    return call_lists.apply_upload(campaign, call.raw_body, name, call.actor)


def _marketing_campaign(call: Call, campaign_id: str) -> dict[str, Any]:
    """The campaign if it is assigned to the caller's partner and open; 404 otherwise."""
    return campaigns.assigned(campaign_id, call.principal.partner_id)


def _prospect_id(value: str) -> str:
    if not call_lists.is_prospect_id(value):
        raise NotFound("No such audience member.")
    return value


# -- staff --------------------------------------------------------------------------------


@route(
    call_lists_bp,
    "/campaigns/{campaign_id}/call-list",
    "GET",
    STAFF,
    summary="Download a phone campaign's call list (`format`: xlsx or csv): the audience as it stands now",
    query=("format",),
)
def staff_call_list(call: Call, campaign_id: str) -> Response:
    return _download(call, campaigns.get(campaign_id), recipient=None)


@route(
    call_lists_bp,
    "/campaigns/{campaign_id}/call-list/script",
    "GET",
    STAFF,
    summary="The caller's first-contact script of a phone campaign (Finnish and English)",
    query=(),
)
def staff_script(call: Call, campaign_id: str) -> dict[str, Any]:
    campaign = campaigns.get(campaign_id)
    call_lists.check_callable(campaign)
    return call_lists.script_document(campaign)


@route(
    call_lists_bp,
    "/campaigns/{campaign_id}/members/{prospect_id}/outcome",
    "PUT",
    STAFF,
    summary="Record a call's outcome for one person of the audience (with its effects)",
    query=(),
    body=OutcomeBody,
)
def staff_outcome(call: Call, campaign_id: str, prospect_id: str) -> dict[str, Any]:
    outcome = call.body().outcome
    return call_lists.apply_outcome(campaigns.get(campaign_id), _prospect_id(prospect_id), outcome, call.actor)


@route(
    call_lists_bp,
    "/campaigns/{campaign_id}/outcomes",
    "GET",
    STAFF,
    summary="The call outcomes recorded for the campaign's members, also of those no longer in its audience",
    query=("limit", "cursor"),
)
def staff_outcomes(call: Call, campaign_id: str) -> dict[str, Any]:
    page = campaigns.recorded_outcomes(campaign_id, call.limit(), call.query.get("cursor"))
    # Each person's outcome shown is an audited read, as an audience read is.
    call.audit(
        Access("read", prospects.REGISTER, str(item["prospect_id"]), ("contact_outcome",)) for item in page["items"]
    )
    return page


@route(
    call_lists_bp,
    "/campaigns/{campaign_id}/outcomes",
    "POST",
    STAFF,
    summary="Send the call list back with its outcome column filled (.xlsx or CSV as the body)",
    query=(),
    content_types=UPLOAD_TYPES,
)
def staff_upload(call: Call, campaign_id: str) -> dict[str, Any]:
    return _upload(call, campaigns.get(campaign_id))


# -- marketing partners -----------------------------------------------------------------------


@route(
    call_lists_bp,
    "/marketing/campaigns",
    "GET",
    MARKETING,
    summary="The campaigns assigned to me (open assignments only), newest first",
    query=("limit", "cursor"),
)
def marketing_campaigns(call: Call) -> dict[str, Any]:
    page = campaigns.list_assigned(call.principal.partner_id, call.limit(), call.query.get("cursor"))
    items = [present_for_partner(i) for i in page["items"] if i.get("assignment_open")]
    return {"items": items, "next_cursor": page["next_cursor"]}


@route(
    call_lists_bp,
    "/marketing/campaigns/{campaign_id}",
    "GET",
    MARKETING,
    summary="One campaign assigned to me",
    query=(),
)
def marketing_campaign(call: Call, campaign_id: str) -> dict[str, Any]:
    return present_for_partner(_marketing_campaign(call, campaign_id))


@route(
    call_lists_bp,
    "/marketing/campaigns/{campaign_id}/audience",
    "GET",
    MARKETING,
    summary="My campaign's audience as it stands now (partner-visible fields; each read is a recorded disclosure)",
    query=("limit", "cursor"),
)
def marketing_audience(call: Call, campaign_id: str) -> dict[str, Any]:
    campaign = _marketing_campaign(call, campaign_id)
    page = call_lists.hand_out(
        campaign,
        call.actor,
        recipient=call.principal.partner_id,
        purpose="campaign_audience",
        limit=call.limit(),
        cursor=call.query.get("cursor"),
    )
    _audit_rows(call, campaign, page["rows"], "read")
    items = [{"prospect_id": r.prospect_id, **r.values, "source": r.source} for r in page["rows"]]
    return {"items": items, "next_cursor": page["next_cursor"]}


@route(
    call_lists_bp,
    "/marketing/campaigns/{campaign_id}/call-list",
    "GET",
    MARKETING,
    summary="Download my campaign's call list (`format`: xlsx or csv); each person is a recorded disclosure",
    query=("format",),
)
def marketing_call_list(call: Call, campaign_id: str) -> Response:
    return _download(call, _marketing_campaign(call, campaign_id), recipient=call.principal.partner_id)


@route(
    call_lists_bp,
    "/marketing/campaigns/{campaign_id}/call-list/script",
    "GET",
    MARKETING,
    summary="The first-contact script of my campaign (Finnish and English)",
    query=(),
)
def marketing_script(call: Call, campaign_id: str) -> dict[str, Any]:
    campaign = _marketing_campaign(call, campaign_id)
    call_lists.check_callable(campaign)
    return call_lists.script_document(campaign)


@route(
    call_lists_bp,
    "/marketing/campaigns/{campaign_id}/members/{prospect_id}/outcome",
    "PUT",
    MARKETING,
    summary="Record a call's outcome for one person of my campaign's audience",
    query=(),
    body=OutcomeBody,
)
def marketing_outcome(call: Call, campaign_id: str, prospect_id: str) -> dict[str, Any]:
    outcome = call.body().outcome
    campaign = _marketing_campaign(call, campaign_id)
    return call_lists.apply_outcome(campaign, _prospect_id(prospect_id), outcome, call.actor)


@route(
    call_lists_bp,
    "/marketing/campaigns/{campaign_id}/outcomes",
    "POST",
    MARKETING,
    summary="Send my call list back with its outcome column filled (.xlsx or CSV as the body)",
    query=(),
    content_types=UPLOAD_TYPES,
)
def marketing_upload(call: Call, campaign_id: str) -> dict[str, Any]:
    return _upload(call, _marketing_campaign(call, campaign_id))
