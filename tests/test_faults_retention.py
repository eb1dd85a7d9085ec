"""The retention sweeper under throttling, server errors, resets and lost replies.

Extends tests/test_retention.py (rules, dates, holds, a run killed by an injected
transition) with faults from DynamoDB and Cognito themselves: every due record is
processed exactly once, each with one audit event, and no customer is ever half-erased.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime
from typing import Any

import pytest
from boto3.dynamodb.conditions import Key

from chalicelib import accounts, clock, customers, pseudonyms, retention, store
from chalicelib import prospects as prospect_register
from tests import faults as f
from tests.conftest import PASSWORD, Stack, setup_actor
from tests.test_retention import customer_data

AS_OF = date(2026, 6, 1)
CUSTOMERS, ORDERS, PROSPECTS = 4, 6, 4


@pytest.fixture
def faults(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> f.FaultInjector:
    return f.install(monkeypatch)


def _due_records() -> dict[str, list[str]]:
    """Customers past their grace period (with logins), orders past bookkeeping, stale prospects."""
    ids: dict[str, list[str]] = {"customers": [], "orders": [], "prospects": []}
    with clock.frozen(datetime(2019, 3, 1, 9, tzinfo=UTC)):
        buyer = customers.create_customer(customer_data(99), setup_actor())
        for _ in range(ORDERS):
            order = customers.add_order(
                buyer["customer_id"], {"items": [{"service": "x", "quantity": 1}]}, setup_actor()
            )
            ids["orders"].append(order["order_id"])
    with clock.frozen(datetime(2025, 1, 10, 9, tzinfo=UTC)):
        for n in range(CUSTOMERS):
            item = customers.create_customer(customer_data(n), setup_actor())
            accounts.create_customer_login(item["username"], item["email"], item["customer_id"], PASSWORD)
            customers.end_contract(item["customer_id"], date(2025, 3, 15), setup_actor())
            ids["customers"].append(item["customer_id"])
    with clock.frozen(datetime(2024, 5, 1, 10, tzinfo=UTC)):
        for n in range(PROSPECTS):
            fields = {"organization": "Kunta Oy", "contact_name": "Olli", "email": f"olli{n}@kunta.fi"}
            store.prospects().put_item(Item=prospect_register.profile_item(f"p{n}", fields, clock.iso()))
            store.prospects().put_item(Item=prospect_register.source_item(f"p{n}", "acme", fields, clock.iso()))
            ids["prospects"].append(f"p{n}")
    return ids


def _exists(table: Any, pk: str, sk: str) -> bool:
    return "Item" in table.get_item(Key={"pk": pk, "sk": sk}, ConsistentRead=True)


def _customer_state(stack: Stack, n: int, customer_id: str) -> str:
    """'erased' or 'intact'; anything in between fails the test (a half-erased record)."""
    table = stack.table("customers")
    item = table.get_item(Key={"pk": f"CUSTOMER#{customer_id}", "sk": "PROFILE"}, ConsistentRead=True)["Item"]
    guards = (
        _exists(table, *customers.email_guard(pseudonyms.email_hash(f"maija{n}@yritys.fi")).values()),
        _exists(table, *customers.username_guard(pseudonyms.username_hash(f"maija{n}")).values()),
    )
    contact = [k for k in retention.ERASED_CONTACT_FIELDS if k in item]
    if item["status"] == "erased":
        assert (
            contact == [] and "email_hash" not in item and "username_hash" not in item and guards == (False, False)
        ), customer_id
        assert not stack.customer_login_exists(f"maija{n}")
        assert item["retention_rule"] == "customer_bookkeeping" and item["organization"] == f"Esimerkki {n} Oy"
        return "erased"
    # The contract end was set in advance: it is in effect by the sweep's date.
    assert customers.in_effect(item, AS_OF)["status"] == "ended" and guards == (True, True), customer_id
    assert set(contact) >= {"contact_name", "email", "phone", "address", "username"}
    assert item["retention_rule"] == "customer_grace"
    return "intact"


def _audit_deletions(stack: Stack) -> Counter[str]:
    """Sweeper audit events per record id (erase and delete actions)."""
    resp = stack.table("audit").query(
        IndexName="by_principal", KeyConditionExpression=Key("principal_id").eq(retention.SWEEPER.principal_id)
    )
    return Counter(e["record_id"] for e in resp["Items"] if e["action"] in ("erase", "delete"))


def _assert_all_done(stack: Stack, ids: dict[str, list[str]]) -> None:
    for n, cid in enumerate(ids["customers"]):
        assert _customer_state(stack, n, cid) == "erased"
    assert not [i for i in stack.table("customers").scan()["Items"] if i.get("entity") == "order"]
    assert stack.table("prospects").scan()["Items"] == []
    # One audit event per item (a prospect's PROFILE and SOURCE items each go by their own
    # index entry): nothing processed twice, no deletion unrecorded.
    assert _audit_deletions(stack) == _one_event_per_item(ids)


def _one_event_per_item(ids: dict[str, list[str]]) -> Counter[str]:
    """Sweeper events per record when every due item is done once (a prospect is two items)."""
    return Counter(ids["customers"] + ids["orders"] + 2 * ids["prospects"])


def _summary_counts(run: dict[str, Any]) -> dict[str, tuple[int, int]]:
    return {name: (r["done"], r["changed"]) for name, r in run["rules"].items() if r["due"]}


EXPECTED_RUN = {
    "customer_grace": (CUSTOMERS, 0),
    # The buyer has a contract with services: its dormancy date moves on, and no notice goes.
    "customer_dormant": (1, 0),
    "order_bookkeeping": (ORDERS, 0),
    # A prospect's PROFILE and SOURCE item are each due and each deleted by the index.
    "prospect_unverified": (2 * PROSPECTS, 0),
}


@pytest.mark.parametrize(
    "fault",
    [*f.DYNAMODB_FAULTS, f.LOST_REPLY],
    ids=lambda x: x.code or x.kind,
)
def test_sweep_under_dynamodb_faults_processes_every_record_once(
    stack: Stack, faults: f.FaultInjector, fault: f.Fault
) -> None:
    ids = _due_records()
    # Every second DynamoDB request of the sweep fails once: queries, conditional deletes,
    # erase transactions, audit writes and the summary all meet a fault.
    faults.inject("dynamodb", "*", fault, times=40, every=2)
    faults.inject("cognito-identity-provider", "AdminDeleteUser", f.TOO_MANY_REQUESTS, times=2)
    with clock.frozen(datetime(2026, 6, 1, 0, tzinfo=UTC)):
        run = retention.sweep(AS_OF)
    assert faults.total() >= 15  # audit events ride in the transitions, not in requests of their own
    assert _summary_counts(run) == EXPECTED_RUN
    _assert_all_done(stack, ids)
    assert len(retention.last_runs(10, None)["items"]) == 1


@pytest.mark.parametrize("after", [2, 12], ids=["among_erasures", "among_deletions"])
def test_a_rule_that_fails_mid_way_stops_alone_and_the_rerun_finishes_it_exactly_once(
    stack: Stack, faults: f.FaultInjector, after: int
) -> None:
    """Throttling beyond the retry budget stops one rule; the others run; the next run finishes.

    Every transition (erasure, deletion) is one transaction with its audit event; a customer's
    erasure is two (the erasure, then its login marker's removal), so 2 stops the erasures
    after the first customer and 12 lets every erasure and a few deletions through.
    """
    ids = _due_records()
    # Let `after` transactions through, then throttle one call past every retry.
    faults.inject("dynamodb", "TransactWriteItems", f.PROVISIONED_THROUGHPUT, times=f.RETRY_BUDGET, after=after)
    with clock.frozen(datetime(2026, 6, 1, 0, tzinfo=UTC)):
        run = retention.sweep(AS_OF, page_size=3)
    ((failed_rule, code),) = run["failed_rules"].items()
    assert code == "ProvisionedThroughputExceededException"
    for name, counts in run["rules"].items():
        if name != failed_rule:
            assert counts["done"] == counts["due"], name  # the other rules ran to the end
    assert len(retention.last_runs(10, None)["items"]) == 1  # the summary says what failed

    # Every customer is either fully erased or untouched; never in between.
    states = [_customer_state(stack, n, cid) for n, cid in enumerate(ids["customers"])]
    first = _audit_deletions(stack)
    assert not first - _one_event_per_item(ids)  # nothing recorded twice (a prospect's items are two)

    with clock.frozen(datetime(2026, 6, 1, 1, tzinfo=UTC)):
        rerun = retention.sweep(AS_OF, page_size=3)
    assert rerun["rules"]["customer_grace"]["done"] == states.count("intact")
    assert all(r["changed"] == 0 for r in rerun["rules"].values())
    _assert_all_done(stack, ids)
    # Done across both runs is every due item exactly once (a prospect is two items).
    done = sum(first.values()) + sum(r["done"] for r in rerun["rules"].values())
    assert done == CUSTOMERS + ORDERS + 2 * PROSPECTS
