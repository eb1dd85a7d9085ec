"""API writes under throttling, server errors, resets and lost replies (tests/faults.py).

Extends tests/test_customers_api.py: within the retry budget each write succeeds with
exactly one record; past it the client gets a JSON error with no internals or personal
data, and the register is unchanged (transactions) and takes a clean retry.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from boto3.dynamodb.conditions import Key

from chalicelib import clock, customers, pseudonyms
from tests import faults as f
from tests.conftest import Stack, Tokens, call, registration_body


@pytest.fixture
def faults(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> f.FaultInjector:
    return f.install(monkeypatch)


def _items(stack: Stack) -> list[dict[str, Any]]:
    return list(stack.table("customers").scan(ConsistentRead=True)["Items"])


def _profiles(stack: Stack, email: str) -> list[dict[str, Any]]:
    return [i for i in _items(stack) if i.get("entity") == "customer" and i.get("email") == email]


def _guards(stack: Stack, email: str, username: str) -> tuple[bool, bool]:
    table = stack.table("customers")
    return (
        "Item" in table.get_item(Key=customers.email_guard(pseudonyms.email_hash(email))),
        "Item" in table.get_item(Key=customers.username_guard(pseudonyms.username_hash(username))),
    )


def _assert_clean_error(status: int, body: Any, *personal: str) -> None:
    """An error the client can act on: JSON, no traceback, no internals, no personal data."""
    assert status == 503 and set(body) == {"error"}, body
    assert body["error"]["code"] == "service_unavailable"
    text = json.dumps(body, ensure_ascii=False)
    for leak in ("Traceback", "ProvisionedThroughput", "botocore", 'File "', *personal):
        assert leak not in text


WRITE_FAULTS = [*f.DYNAMODB_FAULTS, f.LOST_REPLY]
IDS = [x.code or x.kind for x in WRITE_FAULTS]


@pytest.mark.parametrize("fault", WRITE_FAULTS, ids=IDS)
def test_registration_rides_out_faults_with_exactly_one_customer(
    client: Any, stack: Stack, faults: f.FaultInjector, fault: f.Fault
) -> None:
    # The audit event is in the customer's transaction.
    faults.inject("dynamodb", "TransactWriteItems", fault, times=3)
    faults.inject("cognito-identity-provider", "AdminCreateUser", f.TOO_MANY_REQUESTS, times=2)
    status, body = call(client, "POST", "/registrations", None, registration_body("heikki", "h@firma.fi"))
    assert status == 202, body
    # A lost transaction reply is retried once with the same token (DynamoDB answers it).
    assert faults.total() == (1 if fault.kind == "lost_reply" else 3) + 2
    [profile] = _profiles(stack, "h@firma.fi")
    assert profile["status"] == "unconfirmed" and profile["version"] == 1
    assert _guards(stack, "h@firma.fi", "heikki") == (True, True)
    assert stack.customer_login_exists("heikki")
    events = stack.table("audit").query(
        KeyConditionExpression=Key("pk").eq(f"RECORD#customers#{profile['customer_id']}")
    )["Items"]
    assert [e["action"] for e in events] == ["create"]


def test_registration_past_the_retry_budget_leaves_nothing_and_can_be_retried(
    client: Any, stack: Stack, faults: f.FaultInjector
) -> None:
    before = _items(stack)
    faults.inject("dynamodb", "TransactWriteItems", f.PROVISIONED_THROUGHPUT, times=f.RETRY_BUDGET)
    status, body = call(client, "POST", "/registrations", None, registration_body("heikki", "h@firma.fi"))
    _assert_clean_error(status, body, "h@firma.fi", "heikki", "Meikäläinen")
    assert _items(stack) == before
    assert not stack.customer_login_exists("heikki")
    status, body = call(client, "POST", "/registrations", None, registration_body("heikki", "h@firma.fi"))
    assert status == 202, body
    assert len(_profiles(stack, "h@firma.fi")) == 1


def test_a_connection_reset_past_the_retry_budget_is_a_clean_503(
    client: Any, stack: Stack, faults: f.FaultInjector
) -> None:
    """A reset left after botocore's retries (`ConnectionClosedError`, an `HTTPClientError`,
    not a `ConnectionError`) is AWS unavailable, not a bug: 503, nothing written."""
    before = _items(stack)
    faults.inject("dynamodb", "TransactWriteItems", f.CONNECTION_RESET, times=f.RETRY_BUDGET)
    status, body = call(client, "POST", "/registrations", None, registration_body("heikki", "h@firma.fi"))
    _assert_clean_error(status, body, "h@firma.fi", "heikki")
    assert _items(stack) == before
    assert call(client, "POST", "/registrations", None, registration_body("heikki", "h@firma.fi"))[0] == 202


def test_registration_whose_login_cannot_be_created_is_rolled_back(
    client: Any, stack: Stack, faults: f.FaultInjector
) -> None:
    """Cognito throttles past the budget after the record was written: the record goes too."""
    before = _items(stack)
    faults.inject("cognito-identity-provider", "AdminCreateUser", f.TOO_MANY_REQUESTS, times=f.RETRY_BUDGET)
    faults.inject("dynamodb", "TransactWriteItems", f.THROTTLING, times=2, after=1)  # the rollback itself
    status, body = call(client, "POST", "/registrations", None, registration_body("heikki", "h@firma.fi"))
    _assert_clean_error(status, body, "h@firma.fi", "heikki")
    assert _items(stack) == before
    assert not stack.customer_login_exists("heikki")
    assert call(client, "POST", "/registrations", None, registration_body("heikki", "h@firma.fi"))[0] == 202


@pytest.mark.parametrize("fault", WRITE_FAULTS, ids=IDS)
def test_email_change_moves_its_guard_exactly_once(
    client: Any, stack: Stack, tokens: Tokens, faults: f.FaultInjector, fault: f.Fault
) -> None:
    cid = tokens.customer_id
    faults.inject("dynamodb", "TransactWriteItems", fault, times=3)
    faults.inject("dynamodb", "GetItem", fault, times=2)
    status, body = call(client, "PATCH", f"/customers/{cid}", tokens.staff, {"email": "uusi@yritys.fi"})
    assert status == 200, body
    # Registered (1), confirmed (2), and this change exactly once (3).
    assert body["email"] == "uusi@yritys.fi" and int(body["version"]) == 3
    assert _guards(stack, "uusi@yritys.fi", "asiakas") == (True, True)
    assert _guards(stack, "asiakas@yritys.fi", "asiakas") == (False, True)
    assert len([i for i in _items(stack) if i["pk"].startswith("EMAIL#")]) == 1


def test_email_change_past_the_retry_budget_changes_nothing(
    client: Any, stack: Stack, tokens: Tokens, faults: f.FaultInjector
) -> None:
    before = _items(stack)
    faults.inject("dynamodb", "TransactWriteItems", f.INTERNAL_SERVER_ERROR, times=f.RETRY_BUDGET)
    status, body = call(client, "PATCH", f"/customers/{tokens.customer_id}", tokens.staff, {"email": "uusi@yritys.fi"})
    _assert_clean_error(status, body, "uusi@yritys.fi", "asiakas@yritys.fi")
    assert _items(stack) == before


def _offer_ilopiste(client: Any, tokens: Tokens) -> None:
    """Staff give the customer the service its orders name (orders take prices from there)."""
    services = {"active_services": [{"service": "Ilopiste", "price": "49.90"}]}
    assert call(client, "PUT", f"/customers/{tokens.customer_id}/services", tokens.staff, services)[0] == 200


@pytest.mark.parametrize("fault", WRITE_FAULTS, ids=IDS)
def test_staff_created_customer_order_and_end_user_exactly_once(
    client: Any, stack: Stack, tokens: Tokens, faults: f.FaultInjector, fault: f.Fault
) -> None:
    """Every DynamoDB request of these writes meets the fault once in a while, reads included."""
    _offer_ilopiste(client, tokens)
    faults.inject("dynamodb", "*", fault, times=30, every=2)
    staff_body = {
        k: v
        for k, v in registration_body("outi", "outi@yritys.fi").items()
        if k not in ("password", "consent_service_messages")
    }
    status, created = call(client, "POST", "/customers", tokens.staff, staff_body)
    assert status == 201, created
    line = {"service": "Ilopiste", "quantity": 2}
    status, order = call(client, "POST", "/me/orders", tokens.customer, {"items": [line]})
    assert status == 201, order
    status, end_user = call(
        client, "POST", "/partner/end-users", tokens.reseller, {"name": "Eero Esim", "email": "eero@asiakas.fi"}
    )
    assert status == 201, end_user
    assert faults.total() >= 2  # each write is one transaction with its audit event
    for record_id in (created["customer_id"], order["order_id"], end_user["end_user_id"]):
        assert _changes(stack, "customers", record_id) == Counter(create=1)
    assert len(_profiles(stack, "outi@yritys.fi")) == 1
    orders = [i for i in _items(stack) if i.get("entity") == "order"]
    assert [o["order_id"] for o in orders] == [order["order_id"]] and orders[0]["total"] == "99.80"
    end_users = [i for i in _items(stack) if i.get("entity") == "reseller_end_user"]
    assert [u["end_user_id"] for u in end_users] == [end_user["end_user_id"]]


def test_order_past_the_retry_budget_is_not_written(
    client: Any, stack: Stack, tokens: Tokens, faults: f.FaultInjector
) -> None:
    _offer_ilopiste(client, tokens)
    events_before = stack.table("audit").scan(ConsistentRead=True)["Items"]
    faults.inject("dynamodb", "TransactWriteItems", f.REQUEST_LIMIT, times=f.RETRY_BUDGET)
    line = {"service": "Ilopiste", "quantity": 1}
    status, body = call(client, "POST", "/me/orders", tokens.customer, {"items": [line]})
    _assert_clean_error(status, body, "asiakas@yritys.fi")
    assert not [i for i in _items(stack) if i.get("entity") == "order"]
    assert stack.table("audit").scan(ConsistentRead=True)["Items"] == events_before  # no event without its order


def _changes(stack: Stack, register: str, record_id: str) -> Counter[str]:
    """The audit events of changes (not reads) to one record, by action."""
    events = stack.table("audit").query(
        KeyConditionExpression=Key("pk").eq(f"RECORD#{register}#{record_id}"), ConsistentRead=True
    )["Items"]
    return Counter(e["action"] for e in events if e["action"] not in ("read", "list", "search", "export"))


@pytest.mark.parametrize("fault", WRITE_FAULTS, ids=IDS)
def test_every_api_change_has_exactly_one_audit_event(
    client: Any, stack: Stack, tokens: Tokens, faults: f.FaultInjector, fault: f.Fault
) -> None:
    """Each change and its event are one transaction: a retried or lost reply records it once."""
    cid = tokens.customer_id
    before = _changes(stack, "customers", cid)
    faults.inject("dynamodb", "TransactWriteItems", fault, times=40, every=2)
    yesterday = (clock.local_date() - timedelta(days=1)).isoformat()
    services = {"active_services": [{"service": "Ilopiste", "price": 19, "period": "year"}]}
    for method, path, token, body in [
        ("PATCH", f"/customers/{cid}", tokens.staff, {"phone": "+358401234567"}),
        ("PUT", f"/customers/{cid}/services", tokens.staff, services),
        ("PUT", "/me/consent", tokens.customer, {"consent_service_messages": False}),
        ("POST", f"/customers/{cid}/contract-end", tokens.staff, {"end_date": yesterday}),
        ("POST", f"/customers/{cid}/reactivation", tokens.staff, None),
    ]:
        status, answer = call(client, method, path, token, body)
        assert status == 200, (path, answer)
    assert _changes(stack, "customers", cid) - before == Counter(update=3, end_contract=1, reactivate=1)

    prospect = {"organization": "Kunta Oy", "contact_name": "Olli Oja", "email": "olli@kunta.fi"}
    status, created = call(client, "POST", "/prospects", tokens.staff, prospect)
    assert status == 201, created
    pid = created["prospect_id"]
    assert call(client, "PATCH", f"/prospects/{pid}", tokens.staff, {"title": "Johtaja"})[0] == 200
    assert call(client, "POST", f"/prospects/{pid}/verification", tokens.staff, None)[0] == 200
    assert call(client, "DELETE", f"/prospects/{pid}", tokens.staff, None)[0] == 200
    assert _changes(stack, "prospects", pid) == Counter(create=1, update=1, verify=1, delete=1)

    status, end_user = call(
        client, "POST", "/partner/end-users", tokens.reseller, {"name": "Eero Esim", "email": "eero@asiakas.fi"}
    )
    assert status == 201, end_user
    euid = end_user["end_user_id"]
    assert call(client, "DELETE", f"/partner/end-users/{euid}", tokens.reseller, None)[0] == 200
    assert _changes(stack, "customers", euid) == Counter(create=1, delete=1)
    assert faults.total() >= 5
