"""`register_backfill`: prospects recorded before Art. 14 tracking enter the nightly job's index
once, dated when their data first came, and active customers from before the dormant-account
rule come under it, counted from the walk; informed, already marked and erased records are left
as they are; a walk cut short continues from its cursor."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from chalicelib import art14, clock
from tests.conftest import Stack, Tokens, call, sent_mail
from tests.imports_helpers import csv_bytes, drain, upload
from tests.mail_helpers import drain_mail

ROWS = [
    ["Kunta Oy", "Äijä Öhman", "Toimitusjohtaja", "aija@kunta.fi", ""],
    ["Sote Ky", "Sari Sote", "Sosiaalijohtaja", "sari@sote.fi", ""],
    ["Rakennus Oy", "Olli Ohto", "Talousjohtaja", "olli@rakennus.fi", ""],
]
FIRST_SEEN = datetime(2025, 11, 3, 9, tzinfo=UTC)


class _Context:
    """A Lambda context whose time runs out after `calls` questions."""

    def __init__(self, calls: int) -> None:
        self.calls = calls

    def get_remaining_time_in_millis(self) -> int:
        self.calls -= 1
        return 600_000 if self.calls >= 0 else 1_000


def _invoke(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    from chalicelib.events import register_backfill

    return dict(register_backfill(event, context))


def _as_before_tracking(stack: Stack) -> dict[str, str]:
    """acme's three, their PROFILEs as the code before Art. 14 tracking left them; {email: id}."""
    with clock.frozen(FIRST_SEEN):
        upload(stack, "incoming/acme/lista.csv", csv_bytes(ROWS))
        drain(stack)
    table = stack.table("prospects")
    ids = {}
    for item in table.scan()["Items"]:
        if item["sk"] == "PROFILE":
            table.update_item(
                Key={"pk": item["pk"], "sk": item["sk"]}, UpdateExpression="REMOVE obtained_at, art14_pending"
            )
            ids[str(item["email"])] = str(item["prospect_id"])
    return ids


def _profile(stack: Stack, pid: str) -> dict[str, Any]:
    return dict(stack.table("prospects").get_item(Key={"pk": f"PROSPECT#{pid}", "sk": "PROFILE"})["Item"])


def test_older_records_enter_the_index_dated_when_first_seen_and_are_listed_and_informed(
    client: Any, stack: Stack, tokens: Tokens
) -> None:
    ids = _as_before_tracking(stack)
    with clock.frozen(datetime(2026, 3, 2, 9, tzinfo=UTC)):
        status, page = call(client, "GET", "/art14-notices?state=overdue", tokens.dpo)
        assert status == 200 and page["items"] == []  # invisible before the walk
        result = _invoke({})
        assert result["prospects"]["marked"] == 3 and result["done"] and result["cursor"] is None
        status, page = call(client, "GET", "/art14-notices?state=overdue", tokens.dpo)
    assert status == 200
    assert {i["prospect_id"] for i in page["items"]} == set(ids.values())
    for pid in ids.values():
        profile = _profile(stack, pid)
        assert profile["obtained_at"] == clock.iso(FIRST_SEEN) == profile["first_seen"]
        assert profile[art14.PENDING_ATTR] == art14.PENDING
    # The next night informs them like anyone else due.
    from chalicelib.events import art14_notices
    from devstack.worker import scheduled_event
    from tests.conftest import REGION

    night = datetime(2026, 3, 3, 1, tzinfo=UTC)  # 03:00 in Helsinki
    with clock.frozen(night):
        art14_notices(scheduled_event(night, REGION, "art14_notices-nightly"), None)
        drain_mail(stack)
    assert all(len(sent_mail(address)) == 1 for address in ids)
    assert all(_profile(stack, pid)["informed_how"] == "notice_email" for pid in ids.values())


def test_informed_marked_and_erased_records_are_left_and_a_second_walk_changes_nothing(
    stack: Stack,
) -> None:
    ids = _as_before_tracking(stack)
    aija, sari, olli = (ids[r[3]] for r in ROWS)
    table = stack.table("prospects")
    informed_at = "2025-11-10T10:00:00Z"
    table.update_item(
        Key={"pk": f"PROSPECT#{aija}", "sk": "PROFILE"},
        UpdateExpression="SET informed_at = :at, informed_how = :how",
        ExpressionAttributeValues={":at": informed_at, ":how": "phone_call"},
    )
    table.update_item(
        Key={"pk": f"PROSPECT#{sari}", "sk": "PROFILE"},
        UpdateExpression="SET obtained_at = :at, art14_pending = :p",
        ExpressionAttributeValues={":at": "2025-12-01T08:00:00Z", ":p": art14.PENDING},
    )
    assert _invoke({})["prospects"]["marked"] == 1
    assert art14.PENDING_ATTR not in _profile(stack, aija) and "obtained_at" not in _profile(stack, aija)
    assert _profile(stack, sari)["obtained_at"] == "2025-12-01T08:00:00Z"  # its own date kept
    assert _profile(stack, olli)["obtained_at"] == clock.iso(FIRST_SEEN)
    again = _invoke({})
    assert again["prospects"] == again["customers"] == {"marked": 0, "changed_meanwhile": 0} and again["done"]
    # A record erased between the Scan's page and its update is not brought back.
    from chalicelib import backfill

    gone = {"pk": f"PROSPECT#{'0' * 32}", "sk": "PROFILE", "first_seen": clock.iso(FIRST_SEEN)}
    assert not backfill.mark_prospect(gone)
    assert "Item" not in table.get_item(Key={"pk": gone["pk"], "sk": "PROFILE"})


def test_a_walk_cut_short_returns_its_cursor_and_continues_from_it(stack: Stack, monkeypatch: Any) -> None:
    from chalicelib import backfill

    ids = _as_before_tracking(stack)
    monkeypatch.setattr(backfill, "_PAGE", 1)
    first = _invoke({}, _Context(calls=1))
    assert not first["done"] and first["cursor"] is not None
    marked = first["prospects"]["marked"]
    result = first
    while not result["done"]:
        result = _invoke({"cursor": result["cursor"]})
        marked += result["prospects"]["marked"]
    assert marked == len(ids)
    assert all(_profile(stack, pid)[art14.PENDING_ATTR] == art14.PENDING for pid in ids.values())


def test_active_customers_from_before_the_dormancy_rule_come_under_it_counted_from_the_walk(
    client: Any, stack: Stack
) -> None:
    from tests.conftest import register_customer

    with clock.frozen(FIRST_SEEN):
        customer_id = register_customer(client, "vanhaasiakas", "vanha@asiakas.fi")
    table = stack.table("customers")
    key = {"pk": f"CUSTOMER#{customer_id}", "sk": "PROFILE"}
    # As the code before the rule left it: no retention rule while the contract runs.
    table.update_item(Key=key, UpdateExpression="REMOVE retention_rule, retention_due_at")
    walked = datetime(2026, 12, 2, 9, tzinfo=UTC)
    with clock.frozen(walked):
        result = _invoke({})
    assert result["customers"]["marked"] >= 1 and result["done"]
    profile = table.get_item(Key=key)["Item"]
    assert profile["retention_rule"] == "customer_dormant"
    assert profile["retention_due_at"] == "2028-12-02"  # 24 months from the walk, not from 2025
    # A second walk leaves it, and an ended contract's grace rule is never replaced.
    with clock.frozen(walked):
        assert _invoke({})["customers"]["marked"] == 0
    table.update_item(
        Key=key,
        UpdateExpression="SET contract_end = :end REMOVE retention_rule, retention_due_at",
        ExpressionAttributeValues={":end": "2026-11-30"},
    )
    with clock.frozen(walked):
        assert _invoke({})["customers"]["marked"] == 0
    assert "retention_rule" not in table.get_item(Key=key)["Item"]
