"""Routes for restriction of processing (GDPR Art. 18), for staff and the DPO.

`PUT /restrictions/{kind}/{record_id}` restricts a prospect's or a customer's record (or
changes the reason or review date of its restriction); `POST .../lift` lifts it after the
person is told. The logic, and what a restriction excludes, is in chalicelib/restriction.py.
"""

from __future__ import annotations

import re
from typing import Any

from chalice import Blueprint

from chalicelib import restriction
from chalicelib.errors import NotFound
from chalicelib.registers import STAFF_ROLES

from .routing import Call, route

restrictions_bp = Blueprint(__name__)
STAFF = STAFF_ROLES
_ID = re.compile(r"^[0-9a-f]{32}$")


def _record_id(value: str) -> str:
    # Prospect and customer ids are 32 hex digits: anything else names no record.
    if not _ID.match(value):
        raise NotFound("No such record.")
    return value


@route(
    restrictions_bp,
    "/restrictions/{kind}/{record_id}",
    "PUT",
    STAFF,
    summary="Restrict processing of a prospect or customer record (GDPR Art. 18): stored, not used",
    query=(),
    body=restriction.RestrictionRequest,
)
def restrict(call: Call, kind: str, record_id: str) -> dict[str, Any]:
    body = call.body()
    return restriction.restrict(
        restriction.check_kind(kind), _record_id(record_id), body.reason, body.until, call.actor
    )


@route(
    restrictions_bp,
    "/restrictions/{kind}/{record_id}/lift",
    "POST",
    STAFF,
    summary="Lift a restriction of processing; the person is told first (GDPR Art. 18(3))",
    query=(),
    body=restriction.LiftRequest,
)
def lift(call: Call, kind: str, record_id: str) -> dict[str, Any]:
    body = call.body()
    return restriction.lift(
        restriction.check_kind(kind), _record_id(record_id), call.actor, told_otherwise=body.told_otherwise
    )
