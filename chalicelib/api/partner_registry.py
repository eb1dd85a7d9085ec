"""Routes for staff keeping the partner registry (chalicelib/partners.py).

Every change is audited in the same transaction as the write (the caller as `call.actor`).
"""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib import partners
from chalicelib.registers import STAFF_ROLES
from chalicelib.validation import dump

from .routing import Call, route

partner_registry_bp = Blueprint(__name__)
STAFF = STAFF_ROLES


@route(
    partner_registry_bp,
    "/partners",
    "GET",
    STAFF,
    summary="List the registered partners, oldest first",
    query=("limit", "cursor"),
)
def list_partners(call: Call) -> dict[str, Any]:
    page = partners.list_partners(call.limit(), call.query.get("cursor"))
    return {"items": [partners.present(i) for i in page["items"]], "next_cursor": page["next_cursor"]}


@route(
    partner_registry_bp,
    "/partners",
    "POST",
    STAFF,
    status=201,
    summary="Register a partner (data provider, reseller or marketing partner; EU/EEA countries only)",
    query=(),
    body=partners.NewPartner,
)
def create_partner(call: Call) -> dict[str, Any]:
    data = dump(call.body())
    return partners.present(partners.create(data, call.actor))


@route(partner_registry_bp, "/partners/{partner_id}", "GET", STAFF, summary="Get a partner", query=())
def get_partner(call: Call, partner_id: str) -> dict[str, Any]:
    return partners.present(partners.get(partner_id))


@route(
    partner_registry_bp,
    "/partners/{partner_id}",
    "PATCH",
    STAFF,
    summary="Change a partner (optionally against its `version`: 409 if it changed since)",
    query=(),
    body=partners.PartnerChanges,
)
def update_partner(call: Call, partner_id: str) -> dict[str, Any]:
    return partners.present(partners.update(partner_id, dump(call.body()), call.actor))
