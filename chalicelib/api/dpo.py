"""Routes for the data protection officer (group `dpo`): retention, legal holds, Art. 30, Art. 14 notices."""

from __future__ import annotations

from typing import Annotated, Any

from chalice import Blueprint
from pydantic import Field

from chalicelib import art14, audit, clock, notice, retention
from chalicelib.audit import Access
from chalicelib.config import settings
from chalicelib.errors import ValidationFailed
from chalicelib.registers import Role
from chalicelib.validation import StrictModel

from .routing import Call, route

dpo_bp = Blueprint(__name__)
DPO = (Role.DPO,)
_REGISTER_OF_KIND = {"customer": "customers", "prospect": "prospects"}


class HoldReason(StrictModel):
    """Why the hold is set or lifted: the case, not the person's data."""

    reason: Annotated[str, Field(min_length=3, max_length=500)]


@route(
    dpo_bp,
    "/retention/runs",
    "GET",
    DPO,
    summary="The latest retention sweep runs and their counts",
    query=("limit", "cursor"),
    response=audit.AuditEventPage,
)
def retention_runs(call: Call) -> dict[str, Any]:
    return retention.last_runs(call.limit(20), call.query.get("cursor"))


@route(
    dpo_bp,
    "/retention/preview",
    "GET",
    DPO,
    summary="What a sweep on a day would do (changes nothing)",
    query=("as_of",),
)
def retention_preview(call: Call) -> dict[str, Any]:
    as_of = retention.parse_as_of(call.query.get("as_of"), today=retention.today(), is_prod=False)
    result = retention.preview(as_of)
    call.audit([Access("preview", "system", retention.PREVIEWS_RECORD)])
    return result


def _hold_event(call: Call, action: str, kind: str, record_id: str, reason: str) -> None:
    """Audited with the reason: who held or released which record, when and why."""
    audit.append(call.principal, Access(action, _REGISTER_OF_KIND[kind], record_id), call.request_id, reason=reason)


def _kind(kind: str) -> str:
    if kind not in _REGISTER_OF_KIND:
        raise ValidationFailed("kind must be customer or prospect.", code="invalid_path")
    return kind


@route(
    dpo_bp,
    "/legal-holds/{kind}/{record_id}",
    "PUT",
    DPO,
    summary="Set a legal hold on a record",
    query=(),
    body=HoldReason,
)
def set_hold(call: Call, kind: str, record_id: str) -> dict[str, Any]:
    body = call.body()
    result = retention.set_legal_hold(_kind(kind), record_id, body.reason, call.principal.principal_id)  # type: ignore[attr-defined]
    _hold_event(call, "legal_hold_set", kind, record_id, body.reason)  # type: ignore[attr-defined]
    return result


@route(
    dpo_bp, "/legal-holds/{kind}/{record_id}/lift", "POST", DPO, summary="Lift a legal hold", query=(), body=HoldReason
)
def lift_hold(call: Call, kind: str, record_id: str) -> dict[str, Any]:
    body = call.body()
    result = retention.lift_legal_hold(_kind(kind), record_id)
    _hold_event(call, "legal_hold_lifted", kind, record_id, body.reason)  # type: ignore[attr-defined]
    return result | {"lifted_at": clock.iso()}


@route(dpo_bp, "/records-of-processing", "GET", DPO, summary="GDPR Art. 30 records of processing", query=())
def records_of_processing(call: Call) -> dict[str, Any]:
    return notice.records_of_processing() | {"stage": settings().stage}


@route(
    dpo_bp,
    "/art14-notices",
    "GET",
    DPO,
    summary="Prospects not yet informed (GDPR Art. 14): due now, or past the one-month limit",
    query=("state", "limit", "cursor"),
    response=art14.Art14Page,
)
def art14_notices(call: Call) -> dict[str, Any]:
    """`state=due` (the nightly job sends now; still within the month, the default) or
    `state=overdue` (past the month: no email, a refused or unconfirmed send, restricted)."""
    page = art14.listing(call.query.get("state", "due"), clock.local_date(), call.limit(50), call.query.get("cursor"))
    call.audit([Access("read", "prospects", i["prospect_id"], art14.LISTED_FIELDS) for i in page["items"]])
    return page
