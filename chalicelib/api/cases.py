"""Routes for data subject request cases, for staff and the DPO (chalicelib/cases.py).

Staff open a case for a request that came by letter, phone call or email (`POST /cases`),
work the list by due date (`GET /cases`, overdue first), and move each case on: verify
the person's identity, carry the request out, wait for the person (the clock stops),
resume, extend the deadline once (the person is mailed the reason), refuse with a reason,
or close it saying what was done and how the answer was delivered. Every change is audited
with the case (register `cases`); what staff are shown of cases is recorded as a read.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from chalice import Blueprint
from pydantic import Field

from chalicelib import cases
from chalicelib.audit import Access
from chalicelib.registers import STAFF_ROLES
from chalicelib.validation import StrictModel

from .routing import Call, route

cases_bp = Blueprint(__name__)
STAFF = STAFF_ROLES
Text = Annotated[str, Field(min_length=1, max_length=cases.MAX_TEXT)]


class OpenCase(StrictModel):
    """A request staff received by letter, phone or email; `verified_by` when staff checked
    who the person is (otherwise the case waits, unverified). `details`: what the person
    asked (rectification: `{"changes": {...}}`; restriction: `{"reason": ..., "until": ...}`)."""

    type: Literal["access", "rectification", "erasure", "restriction", "objection", "portability"]
    email: Annotated[str, Field(max_length=254)]
    channel: Literal["staff_letter", "staff_phone", "staff_email"]
    lang: Literal["fi", "en"] = "fi"
    verified_by: Literal["staff_checked"] | None = None
    details: dict[str, Any] | None = None


class VerifyCase(StrictModel):
    """Staff checked the person's identity (a signed letter, a call back, a known address)."""

    method: Literal["staff_checked"] = "staff_checked"


class CarryOut(StrictModel):
    """For rectification the changes, for restriction `{"reason", "until"?}`; otherwise
    nothing (the case's own `details` are used when this is left out)."""

    changes: dict[str, Any] | None = None


class Reason(StrictModel):
    reason: Text


class Extension(StrictModel):
    """One extension of the deadline (GDPR Art. 12(3)); the reason is mailed to the person."""

    months: Literal[1, 2]
    reason: Text


class Closing(StrictModel):
    """What was done, and how the answer reached the person."""

    outcome: Text
    delivery: Literal["email", "privacy_center", "letter", "in_response"]


def _shown(call: Call, case: dict[str, Any], action: str = "read") -> dict[str, Any]:
    """Audit what staff are shown of a case (what the person asked, if anything)."""
    call.audit([Access(action, cases.REGISTER, str(case["case_id"]), ("details",) if case.get("details") else ())])
    return case


@route(
    cases_bp,
    "/cases",
    "POST",
    STAFF,
    summary="Open a case for a data subject request received by letter, phone or email",
    status=201,
    query=(),
    body=OpenCase,
)
def open_case(call: Call) -> dict[str, Any]:
    body = call.body()
    return cases.open_case(
        body.type,
        body.email,
        body.channel,
        call.actor,
        lang=body.lang,
        verified_by=body.verified_by,
        details=body.details,
    )


@route(
    cases_bp,
    "/cases",
    "GET",
    STAFF,
    summary="Request cases: active ones by due date (overdue first), or closed ones by status",
    query=("status", "limit", "cursor"),
)
def list_cases(call: Call) -> dict[str, Any]:
    page = cases.list_cases(call.query.get("status"), call.limit(50), call.query.get("cursor"))
    for case in page["items"]:
        _shown(call, case, "list")
    return page


@route(cases_bp, "/cases/{case_id}", "GET", STAFF, summary="One request case", query=())
def get_case(call: Call, case_id: str) -> dict[str, Any]:
    return _shown(call, cases.view(cases.get(case_id)))


@route(
    cases_bp,
    "/cases/{case_id}/verify",
    "POST",
    STAFF,
    summary="Record that staff verified the person's identity: the case opens",
    query=(),
    body=VerifyCase,
)
def verify_case(call: Call, case_id: str) -> dict[str, Any]:
    return cases.verify(case_id, call.body().method, call.actor)


@route(
    cases_bp,
    "/cases/{case_id}/carry-out",
    "POST",
    STAFF,
    summary="Carry out the case's request; access, portability, objection (and erasure with nothing held) close it",
    query=(),
    body=CarryOut,
)
def carry_out_case(call: Call, case_id: str) -> dict[str, Any]:
    shown, answer = cases.carry_out(case_id, call.actor, changes=call.body().changes)
    return {"case": shown, "answer": answer.body}


@route(
    cases_bp,
    "/cases/{case_id}/wait",
    "POST",
    STAFF,
    summary="Wait for the person (the deadline's clock stops)",
    query=(),
    body=Reason,
)
def wait_case(call: Call, case_id: str) -> dict[str, Any]:
    return cases.wait_for_person(case_id, call.body().reason, call.actor)


@route(
    cases_bp,
    "/cases/{case_id}/resume",
    "POST",
    STAFF,
    summary="The person answered: the case is open again, its due date moved by the days waited",
    query=(),
)
def resume_case(call: Call, case_id: str) -> dict[str, Any]:
    return cases.resume(case_id, call.actor)


@route(
    cases_bp,
    "/cases/{case_id}/extend",
    "POST",
    STAFF,
    summary="Extend the deadline once by one or two months; the reason is mailed to the person",
    query=(),
    body=Extension,
)
def extend_case(call: Call, case_id: str) -> dict[str, Any]:
    body = call.body()
    return cases.extend(case_id, body.months, body.reason, call.actor)


@route(
    cases_bp,
    "/cases/{case_id}/refuse",
    "POST",
    STAFF,
    summary="Refuse the request, with the reason",
    query=(),
    body=Reason,
)
def refuse_case(call: Call, case_id: str) -> dict[str, Any]:
    return cases.refuse(case_id, call.body().reason, call.actor)


@route(
    cases_bp,
    "/cases/{case_id}/close",
    "POST",
    STAFF,
    summary="Close the case as done: what was done and how the answer was delivered",
    query=(),
    body=Closing,
)
def close_case(call: Call, case_id: str) -> dict[str, Any]:
    body = call.body()
    return cases.close(case_id, body.outcome, body.delivery, call.actor)
