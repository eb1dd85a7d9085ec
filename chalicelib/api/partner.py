"""Routes for partners: resellers manage their own end users (name and email only)."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib import customers
from chalicelib.registers import Role

from .routing import Call, route
from .staff import END_USER, create_end_user, delete_end_user, read_records

partner_bp = Blueprint(__name__)
RESELLER = (Role.RESELLER,)


@route(partner_bp, "/partner/end-users", "GET", RESELLER, summary="List my end users", query=("limit", "cursor"))
def list_end_users(call: Call) -> dict[str, Any]:
    page = customers.list_end_users(call.principal.partner_id, call.limit(), call.query.get("cursor"))
    return {"items": read_records(call, page["items"], "list"), "next_cursor": page["next_cursor"]}


@route(
    partner_bp, "/partner/end-users", "POST", RESELLER, status=201, summary="Add an end user", query=(), body=END_USER
)
def add_end_user(call: Call) -> dict[str, Any]:
    return create_end_user(call, call.principal.partner_id)


@route(partner_bp, "/partner/end-users/{end_user_id}", "DELETE", RESELLER, summary="Remove an end user", query=())
def remove_end_user(call: Call, end_user_id: str) -> dict[str, Any]:
    # Scoped by the token's partner_id: another reseller's end user is simply not found.
    return delete_end_user(call, call.principal.partner_id, end_user_id)
