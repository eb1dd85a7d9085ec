"""Customer register through the HTTP API, per principal kind."""

from __future__ import annotations

from typing import Any

from tests.conftest import Stack, Tokens, call, registration_body


def test_customer_registers_and_reads_own_data(client: Any, tokens: Tokens) -> None:
    status, body = call(client, "GET", "/me", tokens.customer)
    assert status == 200, body
    assert body["customer"]["email"] == "asiakas@yritys.fi"
    assert body["customer"]["phone"] == "+358401234567"
    assert body["customer"]["consent_service_messages"]["given"] is True
    assert body["orders"] == []


def test_staff_lists_customers(client: Any, tokens: Tokens) -> None:
    status, body = call(client, "GET", "/customers", tokens.staff)
    assert status == 200, body
    assert [c["customer_id"] for c in body["items"]] == [tokens.customer_id]


def test_customer_may_not_list_customers(client: Any, tokens: Tokens) -> None:
    status, body = call(client, "GET", "/customers", tokens.customer)
    assert status == 403
    assert body["error"]["code"] == "forbidden"


def test_forged_token_is_401(client: Any, tokens: Tokens) -> None:
    status, body = call(client, "GET", "/customers", tokens.staff[:-4] + "AAAA")
    assert status == 401
    assert body["error"]["code"] == "unauthorized"


def test_missing_token_is_401(client: Any, stack: Stack) -> None:
    status, _ = call(client, "GET", "/customers")
    assert status == 401


def test_registration_refuses_unknown_fields(client: Any, stack: Stack) -> None:
    status, body = call(client, "POST", "/registrations", None, registration_body("x123", "x@y.fi", shoe_size=42))
    assert status == 400
    assert "shoe_size" in body["error"]["message"]
