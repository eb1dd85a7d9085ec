"""Routes for the prospect register and import runs: staff (all), partners (their own).

Staff search, read, create, correct, verify and delete prospects, see every import run
and put a phone number on the do-not-call list. A partner sees only the prospects its
own imports brought, with the fields the register definition lets partners see (its own
values: not the staff-only public source URL, not other partners' values), and only its
own import runs, and asks for a presigned POST to upload a file from the browser
(`chalicelib.uploads`). Every read or write of a prospect is audited with the field names it
touched; every partner read is also a handover recorded in the prospect's disclosure log
(only what was recorded is shown), and a partner reads the Art. 19 notices of the
prospects it received (`/partner/notifications`).
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from chalice import Blueprint
from pydantic import Field

from chalicelib import disclosures, partners, prospects, store, suppression, uploads
from chalicelib.audit import Access
from chalicelib.auth import PARTNER_ID
from chalicelib.errors import Forbidden, NotFound, ValidationFailed
from chalicelib.imports import runs
from chalicelib.registers import PROSPECT, STAFF_ROLES, Role
from chalicelib.validation import RecordSearch, StrictModel, checked_email, dump, schema

from .routing import Call, route

prospects_bp = Blueprint(__name__)
STAFF = STAFF_ROLES
PARTNER = (Role.PARTNER,)
# Recipients of prospects' data (data providers, resellers, marketing partners) read their
# Art. 19 notices.
RECIPIENTS = (Role.PARTNER, Role.MARKETING)
_ID = re.compile(r"^[0-9a-f]{32}$")


class PhoneEntry(StrictModel):
    """A number for the do-not-call list, in the body: numbers stay out of URLs and logs."""

    phone: Annotated[str, Field(max_length=32)]


def _prospect_id(value: str) -> str:
    if not _ID.match(value):
        raise NotFound("No such prospect.")
    return value


def _run_id(value: str) -> str:
    if not _ID.match(value):
        raise NotFound("No such import run.")
    return value


def _shown(call: Call, items: list[dict[str, Any]], action: str) -> dict[str, Any]:
    """Present one prospect to staff and audit the read."""
    out = prospects.present(items, call.principal.roles)
    call.audit([Access(action, prospects.REGISTER, out["prospect_id"], prospects.personal_fields(items[0]))])
    return out


# -- staff ------------------------------------------------------------------------------


@route(
    prospects_bp,
    "/prospects",
    "GET",
    STAFF,
    summary="List prospects, or search by organisation",
    query=("limit", "cursor", "q"),
)
def list_prospects(call: Call) -> dict[str, Any]:
    page = prospects.list_prospects(call.limit(), call.query.get("cursor"), call.query.get("q"))
    shown = [prospects.present([i], call.principal.roles) for i in page["items"]]
    call.audit(
        Access("list", prospects.REGISTER, i["prospect_id"], prospects.personal_fields(i)) for i in page["items"]
    )
    return {"items": shown, "next_cursor": page["next_cursor"]}


@route(
    prospects_bp,
    "/prospects/search",
    "POST",
    STAFF,
    summary="Find prospects by email or the contact person's name (in the body: they stay out of URLs and logs)",
    query=(),
    body=RecordSearch,
)
def search_prospects(call: Call) -> dict[str, Any]:
    search = call.body()
    if search.name is not None:
        page = store.gather_matches(
            lambda limit, cursor: prospects.list_prospects(limit, cursor, name=search.name), search.cursor
        )
        shown = [prospects.present([i], call.principal.roles) for i in page["items"]]
        call.audit(
            Access("search", prospects.REGISTER, i["prospect_id"], prospects.personal_fields(i)) for i in page["items"]
        )
        return {"items": shown, "next_cursor": page["next_cursor"]}
    found = prospects.find_by_email(checked_email(search.email))
    return {"items": [_shown(call, found, "search")] if found else [], "next_cursor": None}


@route(
    prospects_bp,
    "/prospects",
    "POST",
    STAFF,
    status=201,
    summary="Add a prospect (staff as its source)",
    query=(),
    body=schema(PROSPECT, "create"),
)
def create_prospect(call: Call) -> dict[str, Any]:
    data = dump(call.body())
    return prospects.present(prospects.create(data, call.actor), call.principal.roles)


@route(prospects_bp, "/prospects/{prospect_id}", "GET", STAFF, summary="Get a prospect with its sources", query=())
def get_prospect(call: Call, prospect_id: str) -> dict[str, Any]:
    return _shown(call, prospects.get(_prospect_id(prospect_id)), "read")


@route(
    prospects_bp,
    "/prospects/{prospect_id}",
    "PATCH",
    STAFF,
    summary="Correct a prospect (also verifies it)",
    query=(),
    body=schema(PROSPECT, "update"),
)
def update_prospect(call: Call, prospect_id: str) -> dict[str, Any]:
    body = call.body()
    changes = dump(body)
    items = prospects.update(_prospect_id(prospect_id), changes, call.actor)
    return prospects.present(items, call.principal.roles)


@route(
    prospects_bp,
    "/prospects/{prospect_id}/verification",
    "POST",
    STAFF,
    summary="Confirm a prospect is current",
    query=(),
)
def verify_prospect(call: Call, prospect_id: str) -> dict[str, Any]:
    items = prospects.verify(_prospect_id(prospect_id), call.actor)
    return prospects.present(items, call.principal.roles)


@route(prospects_bp, "/prospects/{prospect_id}", "DELETE", STAFF, summary="Delete a prospect and its sources", query=())
def delete_prospect(call: Call, prospect_id: str) -> dict[str, Any]:
    prospects.delete(_prospect_id(prospect_id), call.actor)
    return {"prospect_id": prospect_id, "deleted": True}


@route(
    prospects_bp,
    "/import-runs",
    "GET",
    STAFF,
    summary="List import runs (all partners, or one)",
    query=("limit", "cursor", "partner_id"),
)
def list_runs(call: Call) -> dict[str, Any]:
    partner_id = call.query.get("partner_id")
    if partner_id is not None:
        if not PARTNER_ID.match(partner_id):
            raise ValidationFailed("partner_id is not valid.", code="invalid_query")
        return runs.list_for_partner(partner_id, call.limit(), call.query.get("cursor"))
    return runs.list_all(call.limit(), call.query.get("cursor"))


@route(prospects_bp, "/import-runs/{run_id}", "GET", STAFF, summary="Get an import run", query=())
def get_run(call: Call, run_id: str) -> dict[str, Any]:
    return runs.summary(runs.get(_run_id(run_id)))


@route(
    prospects_bp,
    "/import-runs/{run_id}/rejected-rows",
    "GET",
    STAFF,
    summary="The rows an import run rejected: line number, reason and field, from its report",
    query=("limit", "cursor"),
)
def run_rejects(call: Call, run_id: str) -> dict[str, Any]:
    return runs.rejected_rows(runs.get(_run_id(run_id)), call.limit(100), call.query.get("cursor"))


# -- partners ---------------------------------------------------------------------------


@route(
    prospects_bp,
    "/partner/prospects",
    "GET",
    PARTNER,
    summary="List the prospects my imports brought",
    query=("limit", "cursor"),
)
def partner_prospects(call: Call) -> dict[str, Any]:
    partner_id = call.principal.partner_id
    page = prospects.list_for_partner(partner_id, call.limit(), call.query.get("cursor"))
    # A handover: recorded first, and only what was recorded (still exists) is shown.
    recorded = disclosures.record(
        (str(i["prospect_id"]) for i in page["items"]), partner_id, "partner_read", call.actor
    )
    items = [i for i in page["items"] if i["prospect_id"] in recorded]
    visible = PROSPECT.visible_fields(Role.PARTNER)
    call.audit(
        Access(
            "list", prospects.REGISTER, i["prospect_id"], tuple(f for f in prospects.personal_fields(i) if f in visible)
        )
        for i in items
    )
    return {"items": [prospects.present_for_partner(i) for i in items], "next_cursor": page["next_cursor"]}


@route(
    prospects_bp,
    "/partner/prospects/{prospect_id}",
    "GET",
    PARTNER,
    summary="Get a prospect my imports brought",
    query=(),
)
def partner_prospect(call: Call, prospect_id: str) -> dict[str, Any]:
    # Scoped by the token's partner_id: another partner's prospect is simply not found.
    item = prospects.get_for_partner(call.principal.partner_id, _prospect_id(prospect_id))
    if not disclosures.record([prospect_id], call.principal.partner_id, "partner_read", call.actor):
        raise NotFound("No such prospect.")  # erased between the read and the handover
    visible = PROSPECT.visible_fields(Role.PARTNER)
    fields = tuple(f for f in prospects.personal_fields(item) if f in visible)
    call.audit([Access("read", prospects.REGISTER, prospect_id, fields)])
    return prospects.present_for_partner(item)


@route(prospects_bp, "/partner/import-runs", "GET", PARTNER, summary="List my import runs", query=("limit", "cursor"))
def partner_runs(call: Call) -> dict[str, Any]:
    return runs.list_for_partner(call.principal.partner_id, call.limit(), call.query.get("cursor"))


@route(prospects_bp, "/partner/import-runs/{run_id}", "GET", PARTNER, summary="Get one of my import runs", query=())
def partner_run(call: Call, run_id: str) -> dict[str, Any]:
    run = runs.get(_run_id(run_id))
    if run["partner_id"] != call.principal.partner_id:
        raise NotFound("No such import run.")
    return runs.listed(run)


@route(
    prospects_bp,
    "/partner/import-runs/{run_id}/rejected-rows",
    "GET",
    PARTNER,
    summary="The rows one of my import runs rejected: line number, reason and field, from its report",
    query=("limit", "cursor"),
)
def partner_run_rejects(call: Call, run_id: str) -> dict[str, Any]:
    run = runs.get(_run_id(run_id))
    if run["partner_id"] != call.principal.partner_id:
        raise NotFound("No such import run.")
    return runs.rejected_rows(run, call.limit(100), call.query.get("cursor"))


@route(
    prospects_bp,
    "/partner/uploads",
    "POST",
    PARTNER,
    status=201,
    summary="Get a 5-minute presigned POST to upload one .csv or .xlsx file under my own incoming/ prefix",
    query=(),
    body=uploads.UploadRequest,
    response=uploads.PresignedUpload,
)
def partner_upload(call: Call) -> uploads.PresignedUpload:
    request = call.body()
    # The registry already admitted an active uploader; a data provider whose notice delivery
    # is not recorded would have its file refused by the import: say so before it is sent.
    refusal = partners.upload_refusal(call.principal.partner_id)
    if refusal is not None:
        raise Forbidden("This partner's uploads are not imported yet.", code=refusal)
    return uploads.presign(call.principal.partner_id, request)


@route(
    prospects_bp,
    "/partner/notifications",
    "GET",
    RECIPIENTS,
    summary="Art. 19 notices: prospects I received that were rectified, erased or objected (newest first)",
    query=("limit", "cursor"),
)
def partner_notifications(call: Call) -> dict[str, Any]:
    return disclosures.notifications_for(call.principal.partner_id, call.limit(), call.query.get("cursor"))


# -- do not call ------------------------------------------------------------------------


@route(
    prospects_bp,
    "/suppression/phones",
    "POST",
    STAFF,
    status=201,
    summary="Put a phone number on the do-not-call list (the number in the body)",
    query=(),
    body=PhoneEntry,
)
def add_do_not_call(call: Call) -> dict[str, Any]:
    try:
        key = suppression.suppress_phone(call.body().phone, "do_not_call", call.actor)
    except ValueError:
        raise ValidationFailed(
            "phone is not a valid phone number.", details=[{"field": "phone", "reason": "invalid"}]
        ) from None
    return {"suppression_key": key, "on_list": True, "reason": "do_not_call"}
