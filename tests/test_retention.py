"""The retention sweeper across date boundaries, with an injected clock and moto."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any

import botocore.client
import pytest

from chalicelib import accounts, auth, clock, customers, pseudonyms, retention, store
from chalicelib.errors import ValidationFailed
from chalicelib.events import retention_sweeper
from tests.conftest import PASSWORD, Stack, Tokens, call, register_partner, setup_actor
from tests.faults import LambdaKilled


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def customer_data(n: int) -> dict[str, Any]:
    """A complete customer record's fields, unique by `n`."""
    return {
        "organization": f"Esimerkki {n} Oy",
        "business_id": "0112038-9",
        "contact_name": "Maija Meikäläinen",
        "email": f"maija{n}@yritys.fi",
        "phone": "+358401234567",
        "address": {"street": "Katu 1", "postal_code": "00100", "city": "Helsinki"},
        "billing_address": {"street": "PL 1", "postal_code": "00101", "city": "Helsinki"},
        "username": f"maija{n}",
        "active_services": [{"service": "x", "price": "1.00", "currency": "EUR", "period": "once"}],
        "consent_service_messages": True,
    }


def new_customer(n: int = 1, *, login: bool = True) -> dict[str, Any]:
    item = customers.create_customer(customer_data(n), setup_actor())
    if login:
        accounts.create_customer_login(item["username"], item["email"], item["customer_id"], PASSWORD)
    return item


def profile(customer_id: str) -> dict[str, Any]:
    return store.customers().get_item(Key={"pk": f"CUSTOMER#{customer_id}", "sk": "PROFILE"})["Item"]


def exists(table: Any, pk: str, sk: str) -> bool:
    return "Item" in table.get_item(Key={"pk": pk, "sk": sk})


@pytest.fixture
def operations(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every DynamoDB operation name the code under test calls."""
    seen: list[str] = []
    original = botocore.client.BaseClient._make_api_call

    def spy(self: Any, operation: str, params: dict[str, Any]) -> Any:
        seen.append(operation)
        return original(self, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", spy)
    return seen


def test_customer_contact_is_erased_after_grace_keeping_bookkeeping(stack: Stack, operations: list[str]) -> None:
    with clock.frozen(utc(2025, 1, 10, 9)):
        item = new_customer()
        customers.end_contract(item["customer_id"], date(2025, 3, 15), setup_actor())
    assert profile(item["customer_id"])["retention_due_at"] == "2026-03-15"

    with clock.frozen(utc(2026, 3, 14, 0)):
        run = retention.sweep(date(2026, 3, 14))
    assert run["rules"]["customer_grace"]["done"] == 0
    assert profile(item["customer_id"])["email"] == "maija1@yritys.fi"

    with clock.frozen(utc(2026, 3, 15, 0)):
        run = retention.sweep(date(2026, 3, 15))
    assert run["rules"]["customer_grace"] == {"due": 1, "done": 1, "held": 0, "changed": 0}
    after = profile(item["customer_id"])
    for gone in (
        "contact_name",
        "email",
        "email_hash",
        "username_hash",
        "phone",
        "address",
        "username",
        "consent_service_messages",
    ):
        assert gone not in after
    assert after["organization"] == "Esimerkki 1 Oy"
    assert after["business_id"] == "0112038-9"
    assert after["billing_address"]["street"] == "PL 1"
    assert after["status"] == "erased"
    # The bookkeeping remainder moves to its own rule: 6 years from the end of 2025.
    assert (after["retention_rule"], after["retention_due_at"]) == ("customer_bookkeeping", "2032-01-01")
    assert not exists(store.customers(), *customers.email_guard(pseudonyms.email_hash("maija1@yritys.fi")).values())
    assert not exists(store.customers(), *customers.username_guard(pseudonyms.username_hash("maija1")).values())
    assert not stack.customer_login_exists("maija1")
    assert "Scan" not in operations

    # The remainder goes when its own date comes, not before.
    with clock.frozen(utc(2031, 12, 31, 0)):
        assert retention.sweep(date(2031, 12, 31))["rules"]["customer_bookkeeping"]["done"] == 0
    with clock.frozen(utc(2032, 1, 1, 0)):
        assert retention.sweep(date(2032, 1, 1))["rules"]["customer_bookkeeping"]["done"] == 1
    assert not exists(store.customers(), f"CUSTOMER#{item['customer_id']}", "PROFILE")


def test_leap_day_contract_end_is_due_on_feb_28(stack: Stack) -> None:
    with clock.frozen(utc(2024, 1, 2, 9)):
        item = new_customer(login=False)
        customers.end_contract(item["customer_id"], date(2024, 2, 29), setup_actor())
    assert profile(item["customer_id"])["retention_due_at"] == "2025-02-28"
    assert retention.sweep(date(2025, 2, 27))["rules"]["customer_grace"]["due"] == 0
    assert retention.sweep(date(2025, 2, 28))["rules"]["customer_grace"]["done"] == 1


def test_bookkeeping_due_counts_from_the_end_of_the_fiscal_year() -> None:
    assert customers.order_deletion_date(date(2024, 2, 29)) == date(2031, 1, 1)
    assert customers.order_deletion_date(date(2025, 12, 31)) == date(2032, 1, 1)
    assert customers.order_deletion_date(date(2026, 1, 1)) == date(2033, 1, 1)
    assert not hasattr(retention, "bookkeeping_due")  # one definition, in customers
    assert retention.SWEEPER is auth.SYSTEM_SWEEPER


def test_hold_set_after_the_read_keeps_the_login(stack: Stack) -> None:
    """A failed erasure transaction changes nothing: the person can still log in."""
    with clock.frozen(utc(2024, 1, 2, 9)):
        item = new_customer()
        customers.end_contract(item["customer_id"], date(2024, 1, 15), setup_actor())
    rule = next(r for r in retention.sweep_rules() if r.name == "customer_grace")
    [stale] = list(retention.due_items(rule, date(2026, 1, 1), retention.ReadCounter()))
    retention.set_legal_hold("customer", item["customer_id"], "Riita-asia 12/2026", "dora")
    with pytest.raises(retention.Conflict):
        retention.apply(rule, stale, date(2026, 1, 1), retention.ReadCounter())
    assert stack.customer_login_exists("maija1")
    assert profile(item["customer_id"])["email"] == "maija1@yritys.fi"


def test_run_killed_between_erasure_and_login_deletion_is_finished(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    with clock.frozen(utc(2024, 1, 2, 9)):
        item = new_customer()
        customers.end_contract(item["customer_id"], date(2024, 1, 15), setup_actor())

    def dies(username: str) -> None:
        raise LambdaKilled()

    monkeypatch.setattr(accounts, "delete_login", dies)
    with pytest.raises(LambdaKilled):
        retention.sweep(date(2026, 1, 1))
    assert profile(item["customer_id"])["status"] == "erased"
    assert stack.customer_login_exists("maija1")  # the step the killed run did not reach
    monkeypatch.undo()

    run = retention.sweep(date(2026, 1, 1))
    assert run["logins_finished"] == 1
    assert run["rules"]["customer_grace"]["due"] == 0
    assert not stack.customer_login_exists("maija1")
    assert "login_to_delete" not in profile(item["customer_id"])
    assert retention.sweep(date(2026, 1, 1))["logins_finished"] == 0


def test_orders_go_at_the_year_end_boundary(stack: Stack) -> None:
    with clock.frozen(utc(2020, 6, 1, 9)):
        item = new_customer(login=False)
    with clock.frozen(utc(2020, 12, 31, 12)):
        last_of_2020 = customers.add_order(
            item["customer_id"], {"items": [{"service": "x", "quantity": 1}]}, setup_actor()
        )
    with clock.frozen(utc(2021, 1, 1, 12)):
        first_of_2021 = customers.add_order(
            item["customer_id"], {"items": [{"service": "x", "quantity": 1}]}, setup_actor()
        )
    assert last_of_2020["retention_due_at"] == "2027-01-01"
    assert first_of_2021["retention_due_at"] == "2028-01-01"
    table = store.customers()
    assert retention.sweep(date(2026, 12, 31))["rules"]["order_bookkeeping"]["done"] == 0
    run = retention.sweep(date(2027, 1, 1))
    assert run["rules"]["order_bookkeeping"]["done"] == 1
    assert not exists(table, last_of_2020["pk"], last_of_2020["sk"])
    assert exists(table, first_of_2021["pk"], first_of_2021["sk"])
    assert retention.sweep(date(2028, 1, 1))["rules"]["order_bookkeeping"]["done"] == 1
    assert not exists(table, first_of_2021["pk"], first_of_2021["sk"])


def test_finnish_date_decides_what_is_due() -> None:
    # 21:59 UTC on 14 July is 00:59 on 15 July in Helsinki (EEST, UTC+3).
    assert clock.local_date(utc(2026, 7, 14, 21, 59)) == date(2026, 7, 15)
    assert clock.local_date(utc(2026, 7, 14, 20, 59)) == date(2026, 7, 14)
    # In winter (EET, UTC+2) midnight is 22:00 UTC.
    assert clock.local_date(utc(2026, 12, 31, 22, 0)) == date(2027, 1, 1)
    assert clock.local_date(utc(2026, 12, 31, 21, 59)) == date(2026, 12, 31)


def scheduled(at: datetime, detail: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "version": "0",
        "id": "1",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": "eu-north-1",
        "resources": [],
        "detail": detail or {},
    }


@pytest.mark.parametrize(
    ("fires", "acts", "as_of"),
    [
        # Summer: 23:00 UTC is 02:00 EEST the next day; 00:00 UTC is 03:00.
        (utc(2026, 7, 14, 23), True, "2026-07-15"),
        (utc(2026, 7, 15, 0), False, None),
        # Winter: 00:00 UTC is 02:00 EET; 23:00 UTC is 01:00.
        (utc(2026, 1, 14, 23), False, None),
        (utc(2026, 1, 15, 0), True, "2026-01-15"),
        # Spring forward (Sun 29 March 2026, at 01:00 UTC): 23:00 UTC Sat is 01:00 EET, 00:00 UTC is 02:00.
        (utc(2026, 3, 28, 23), False, None),
        (utc(2026, 3, 29, 0), True, "2026-03-29"),
        # Fall back (Sun 25 October 2026, at 01:00 UTC): 23:00 UTC Sat is 02:00 EEST, 00:00 UTC is 03:00.
        (utc(2026, 10, 24, 23), True, "2026-10-25"),
        (utc(2026, 10, 25, 0), False, None),
    ],
)
def test_schedule_acts_once_a_day_at_two_finnish_time(
    stack: Stack, fires: datetime, acts: bool, as_of: str | None
) -> None:
    result = retention_sweeper(scheduled(fires), None)
    if acts:
        assert result["as_of"] == as_of
        assert result["trigger"] == "schedule"
    else:
        assert result["skipped"] is True


def test_manual_payload_and_future_as_of(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    with clock.frozen(utc(2026, 5, 1, 9)):
        result = retention_sweeper({"as_of": "2027-01-01", "dry_run": True}, None)
        assert (result["as_of"], result["dry_run"], result["trigger"]) == ("2027-01-01", True, "manual")
        monkeypatch.setenv("STAGE", "prod")
        monkeypatch.delenv("COGNITO_JWKS_URL", raising=False)  # prod refuses the emulator's override
        monkeypatch.delenv("CUSTOMER_COGNITO_JWKS_URL", raising=False)
        store.reset()
        with pytest.raises(ValidationFailed) as refused:
            retention_sweeper({"as_of": "2026-05-02"}, None)
        assert refused.value.code == "as_of_in_future"
        assert retention_sweeper({"as_of": "2026-05-01", "dry_run": True}, None)["as_of"] == "2026-05-01"
    for bad in ("2026-02-30", "20260101", 20260101, "tomorrow"):
        with pytest.raises(ValidationFailed):
            retention.parse_as_of(bad, today=date(2026, 1, 1), is_prod=False)


def test_dry_run_changes_nothing_and_is_summarised(stack: Stack) -> None:
    with clock.frozen(utc(2025, 1, 10, 9)):
        item = new_customer()
        customers.end_contract(item["customer_id"], date(2025, 3, 15), setup_actor())
    before = profile(item["customer_id"])
    run = retention.sweep(date(2026, 6, 1), dry_run=True)
    assert run["rules"]["customer_grace"]["due"] == 1
    assert run["rules"]["customer_grace"]["done"] == 0
    assert run["rules"]["customer_grace"]["record_ids"] == [item["customer_id"]]
    assert profile(item["customer_id"]) == before
    assert stack.customer_login_exists("maija1")
    runs = retention.last_runs(10, None)["items"]
    assert runs[0]["summary"]["dry_run"] is True
    assert runs[0]["summary"]["rules"]["customer_grace"]["due"] == 1
    assert runs[0]["principal_id"] == "system:retention_sweeper"


def test_legal_hold_suspends_deletion_until_lifted(stack: Stack) -> None:
    with clock.frozen(utc(2019, 3, 1, 9)):
        item = new_customer()
        order = customers.add_order(item["customer_id"], {"items": [{"service": "x", "quantity": 1}]}, setup_actor())
        customers.end_contract(item["customer_id"], date(2019, 3, 15), setup_actor())
    hold = retention.set_legal_hold("customer", item["customer_id"], "Riita-asia 12/2026", "dora")
    assert hold["items"] == 2
    run = retention.sweep(date(2026, 6, 1))
    assert run["rules"]["customer_grace"]["held"] == 1
    assert run["rules"]["order_bookkeeping"]["held"] == 1
    assert profile(item["customer_id"])["email"] == "maija1@yritys.fi"
    assert exists(store.customers(), order["pk"], order["sk"])
    assert stack.customer_login_exists("maija1")

    retention.lift_legal_hold("customer", item["customer_id"])
    run = retention.sweep(date(2026, 6, 1))
    assert run["rules"]["customer_grace"]["done"] == 1
    assert run["rules"]["order_bookkeeping"]["done"] == 1
    assert not exists(store.customers(), order["pk"], order["sk"])


def test_hold_set_after_the_read_still_stops_the_write(stack: Stack) -> None:
    """The transition's own condition re-checks the hold, not just the index read."""
    with clock.frozen(utc(2019, 3, 1, 9)):
        item = new_customer(login=False)
        order = customers.add_order(item["customer_id"], {"items": [{"service": "x", "quantity": 1}]}, setup_actor())
    stale = store.customers().get_item(Key={"pk": order["pk"], "sk": order["sk"]})["Item"]
    retention.set_legal_hold("customer", item["customer_id"], "Verotarkastus", "dora")
    rule = next(r for r in retention.sweep_rules() if r.name == "order_bookkeeping")
    with pytest.raises(retention.Conflict):
        retention.apply(rule, stale, date(2026, 6, 1), retention.ReadCounter())
    assert exists(store.customers(), order["pk"], order["sk"])


def test_run_killed_half_way_is_finished_by_the_next_run(stack: Stack) -> None:
    with clock.frozen(utc(2019, 3, 1, 9)):
        item = new_customer(login=False)
        orders = [
            customers.add_order(item["customer_id"], {"items": [{"service": "x", "quantity": 1}]}, setup_actor())
            for _ in range(10)
        ]
    calls = {"n": 0}

    def dies_after_four(rule: Any, record: dict[str, Any], as_of: date, reads: Any, run: Any) -> Any:
        if rule.name != "order_bookkeeping":  # the customer's own dormancy step
            return retention.apply(rule, record, as_of, reads, run)
        if calls["n"] == 4:
            raise LambdaKilled()
        calls["n"] += 1
        return retention.apply(rule, record, as_of, reads, run)

    with pytest.raises(LambdaKilled):
        retention.sweep(date(2026, 6, 1), transition=dies_after_four, page_size=3)
    remaining = [o for o in orders if exists(store.customers(), o["pk"], o["sk"])]
    assert len(remaining) == 6
    assert retention.last_runs(10, None)["items"] == []  # a killed run wrote no summary

    run = retention.sweep(date(2026, 6, 1), page_size=3)
    assert run["rules"]["order_bookkeeping"] == {"due": 6, "done": 6, "held": 0, "changed": 0}
    assert all(not exists(store.customers(), o["pk"], o["sk"]) for o in orders)
    assert retention.sweep(date(2026, 6, 1))["rules"]["order_bookkeeping"]["due"] == 0


def test_prospects_end_users_follow_their_rules(stack: Stack) -> None:
    from chalicelib import prospects as register

    table, custs = store.prospects(), store.customers()
    fields = {"organization": "Kunta Oy", "contact_name": "Olli", "email": "olli@kunta.fi", "title": "Johtaja"}
    with clock.frozen(utc(2024, 5, 31, 10)):
        table.put_item(Item=register.profile_item("p1", fields, clock.iso()))
        table.put_item(Item=register.source_item("p1", "other", fields, clock.iso()))
    with clock.frozen(utc(2024, 6, 2, 10)):
        table.put_item(Item=register.profile_item("p2", {**fields, "email": "eeva@kunta.fi"}, clock.iso()))
    custs.put_item(
        Item={
            "pk": "RESELLER#r",
            "sk": "ENDUSER#e1",
            "entity": "reseller_end_user",
            "end_user_id": "e1",
            "name": "N",
            "email": "e@x.fi",
            "retention_rule": "end_user_reseller_ended",
            "retention_due_at": "2026-06-01",
        }
    )
    assert retention.sweep(date(2026, 5, 30))["rules"]["prospect_unverified"]["due"] == 0
    run = retention.sweep(date(2026, 6, 1))
    assert run["rules"]["prospect_unverified"] == {"due": 2, "done": 2, "held": 0, "changed": 0}
    assert run["rules"]["end_user_reseller_ended"]["done"] == 1
    assert not exists(table, "PROSPECT#p1", "PROFILE")
    assert not exists(table, "PROSPECT#p1", "SOURCE#other")
    assert exists(table, "PROSPECT#p2", "PROFILE")
    assert not exists(custs, "RESELLER#r", "ENDUSER#e1")


def test_every_rule_comes_from_the_register_definitions() -> None:
    names = {r.name for r in retention.sweep_rules()}
    assert {"customer_grace", "customer_bookkeeping", "order_bookkeeping", "prospect_unverified"} <= names
    assert not {"customer_objection", "prospect_objection"} & names  # objections act at once


def test_reseller_contract_end_schedules_its_end_users_for_the_sweeper(
    client: Any, stack: Stack, tokens: Tokens
) -> None:
    register_partner(stack, "lopetus", "reseller")
    register_partner(stack, "jatkuu", "reseller")
    ended: list[str] = []
    with clock.frozen(utc(2026, 1, 10, 9)):
        for n in range(3):
            status, created = call(
                client, "POST", "/resellers/lopetus/end-users", tokens.staff, {"name": f"K {n}", "email": f"k{n}@x.fi"}
            )
            assert status == 201
            ended.append(created["end_user_id"])
        assert (
            call(client, "POST", "/resellers/jatkuu/end-users", tokens.staff, {"name": "J", "email": "j@x.fi"})[0]
            == 201
        )
        status, body = call(client, "POST", "/resellers/lopetus/contract-end", tokens.staff, {"end_date": "1970-01-01"})
        assert status == 400
        status, body = call(client, "POST", "/resellers/lopetus/contract-end", tokens.staff, {"end_date": "2026-01-31"})
    assert status == 200, body
    assert body == {
        "partner_id": "lopetus",
        "contract_end": "2026-01-31",
        "retention_rule": "end_user_reseller_ended",
        "retention_due_at": "2027-01-31",
        "end_users": 3,
    }

    assert retention.sweep(date(2027, 1, 30))["rules"]["end_user_reseller_ended"]["due"] == 0
    run = retention.sweep(date(2027, 1, 31))
    assert run["rules"]["end_user_reseller_ended"] == {"due": 3, "done": 3, "held": 0, "changed": 0}
    assert call(client, "GET", "/resellers/lopetus/end-users", tokens.staff)[1]["items"] == []
    assert len(call(client, "GET", "/resellers/jatkuu/end-users", tokens.staff)[1]["items"]) == 1
    # The addresses' uniqueness guards went with their end users.
    left = {i["pk"] for i in stack.table("customers").scan()["Items"] if i["pk"].startswith("RESELLER#")}
    assert left == {"RESELLER#jatkuu"}
    # Each deletion has its one event, written in the deletion's transaction under the run's
    # deterministic key; the DPO sees it with an event id of its own (not the key's rule name).
    event_ids = set()
    for end_user_id in ended:
        events = call(client, "GET", f"/audit/records/customers/{end_user_id}", tokens.dpo)[1]["items"]
        (deleted,) = [e for e in events if e["principal_id"] == retention.SWEEPER.principal_id]
        assert deleted["action"] == "delete" and deleted["fields"] == ["email", "name"]
        assert re.fullmatch(r"[0-9a-f]{32}", deleted["event_id"]), deleted
        event_ids.add(deleted["event_id"])
    assert len(event_ids) == len(ended)


def test_rules_enforced_by_an_event_elsewhere_are_not_swept(stack: Stack) -> None:
    run = retention.sweep(date(2026, 1, 1))
    assert not {"prospect_refresh", "end_user_removed", "customer_objection", "prospect_objection"} & set(run["rules"])
    assert {"customer_grace", "end_user_reseller_ended", "prospect_unverified"} <= set(run["rules"])


def test_a_failing_rule_stops_alone_is_summarised_and_fails_the_invocation(
    stack: Stack, client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    with clock.frozen(utc(2019, 3, 1, 9)):
        item = new_customer(login=False)
        order = customers.add_order(item["customer_id"], {"items": [{"service": "x", "quantity": 1}]}, setup_actor())
        customers.end_contract(item["customer_id"], date(2019, 3, 15), setup_actor())

    def denied(*args: Any, **kwargs: Any) -> Any:
        raise botocore.exceptions.ClientError({"Error": {"Code": "AccessDeniedException"}}, "TransactWriteItems")

    monkeypatch.setattr(retention, "erase_customer_contact", denied)
    with pytest.raises(retention.SweepIncomplete) as failed:
        client.lambda_.invoke("retention_sweeper", {"as_of": "2026-06-01"})
    assert failed.value.failed == ["customer_grace"]
    # The other rules ran: the 2019 order's bookkeeping period is over, so it is gone.
    assert not exists(store.customers(), order["pk"], order["sk"])
    (summary,) = [r["summary"] for r in retention.last_runs(10, None)["items"]]
    assert summary["failed_rules"] == {"customer_grace": "AccessDeniedException"}
    assert summary["rules"]["order_bookkeeping"]["done"] == 1
    assert profile(item["customer_id"])["status"] != "erased"
