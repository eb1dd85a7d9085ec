"""Routes for anyone: self-registration as a customer."""

from __future__ import annotations

from typing import Annotated, Any

from chalice import Blueprint
from pydantic import Field, StrictBool

from chalicelib import accounts, customers
from chalicelib.audit import Access
from chalicelib.registers import CUSTOMER, Role
from chalicelib.validation import dump, parse, schema

from .routing import Call, route

public_bp = Blueprint(__name__)

_SELF_FIELDS = frozenset(f.name for f in CUSTOMER.fields if f.self_editable) | {"username"}


class Registration(schema(CUSTOMER, "create", _SELF_FIELDS)):  # type: ignore[misc]
    """Self-registration: the customer's own data, a password, and an explicit consent answer."""

    password: Annotated[str, Field(min_length=12, max_length=256)]
    # Asked explicitly: true or false, with no default (DESIGN §2, the notice's consent).
    consent_service_messages: StrictBool


@route(public_bp, "/registrations", "POST", status=201, summary="Register an organisation and its contact person")
def register(call: Call) -> dict[str, Any]:
    body = parse(Registration, call.json())
    data = dump(body)
    password = data.pop("password")
    item = customers.create_customer(data)
    try:
        accounts.create_customer_login(item["username"], item["email"], item["customer_id"], password)
    except Exception:
        customers.delete_new_customer(item)
        raise
    call.audit([Access("create", customers.REGISTER, item["customer_id"], customers.personal_fields(item))])
    return customers.present(item, frozenset({Role.CUSTOMER}))
