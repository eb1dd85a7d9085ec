"""The disclosure log and Art. 19 through the API: partner reads are recorded handovers, the
access answer lists them, and a rectification, erasure or objection notifies every
recipient once, through its own channel, with no personal values."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

from boto3.dynamodb.conditions import Key

from chalicelib import clock, disclosures, retention
from tests.conftest import Stack, Tokens, call, register_partner, setup_actor
from tests.imports_helpers import all_prospect_items, csv_bytes, drain, upload

EMAIL = "aija@kunta.fi"
ROWS = [
    ["Kunta Oy", "Äijä Öhman", "Toimitusjohtaja", EMAIL, "040 123 4567"],
    ["Sote Ky", "Sari Sote", "Sosiaalijohtaja", "sari@sote.fi", ""],
]
PERSONAL = ("Äijä", "aija@", "401234567", "Sari", "sari@")


def _import(stack: Stack, partner: str, rows: list[list[str]], name: str = "lista.csv") -> None:
    upload(stack, f"incoming/{partner}/{name}", csv_bytes(rows))
    drain(stack)


def _beta(stack: Stack) -> str:
    """A second data provider with its own user, which also sends the person."""
    register_partner(stack, "beta", "data_provider")
    return stack.user("beta-data", ["partner"], partner_id="beta", partner_type="data_provider")


def _pid(client: Any, token: str, email: str = EMAIL) -> str:
    status, page = call(client, "GET", "/partner/prospects", token)
    assert status == 200, page
    return str(next(p["prospect_id"] for p in page["items"] if p["email"] == email))


def _entries(stack: Stack) -> list[dict[str, Any]]:
    return [i for i in all_prospect_items(stack) if i["sk"].startswith("DISCLOSURE#")]


def _notices(client: Any, token: str) -> list[dict[str, Any]]:
    status, page = call(client, "GET", "/partner/notifications?limit=100", token)
    assert status == 200, page
    return list(page["items"])


def _notify_events(stack: Stack, pid: str) -> list[dict[str, Any]]:
    resp = stack.table("audit").query(KeyConditionExpression=Key("pk").eq(f"RECORD#prospects#{pid}"))
    return [e for e in resp["Items"] if e["action"] == "notify"]


def test_partner_reads_are_recorded_once_a_day_without_personal_values(
    client: Any, stack: Stack, tokens: Tokens
) -> None:
    _import(stack, "acme", ROWS)
    pid = _pid(client, tokens.partner)
    assert call(client, "GET", f"/partner/prospects/{pid}", tokens.partner)[0] == 200
    assert call(client, "GET", "/partner/prospects", tokens.partner)[0] == 200
    entries = _entries(stack)
    # One entry per prospect, recipient, purpose and day: re-reads the same day overwrite.
    assert sorted((e["recipient"], e["purpose"]) for e in entries) == [("acme", "partner_read")] * 2
    mine = next(e for e in entries if e["prospect_id"] == pid)
    assert mine["first_at"] <= mine["last_at"] and mine["day"] == clock.local_date().isoformat()
    assert not any(p in json.dumps(entries, default=str) for p in PERSONAL)
    # No index sees them: no index key attribute is on an entry.
    assert not {"email_hash", "source_partner", "list_pk", "retention_rule"} & {k for e in entries for k in e}


def test_the_access_answer_lists_recipients_and_dates(client: Any, stack: Stack, tokens: Tokens) -> None:
    _import(stack, "acme", ROWS)
    pid = _pid(client, tokens.partner)
    disclosures.record([pid], "kampanja", "call_list", setup_actor(), campaign_id="c" * 32)
    disclosures.record([pid], "poistunut", "call_list", setup_actor(), campaign_id="d" * 32)  # left the registry
    status, body = call(client, "POST", "/subject-requests", tokens.staff, {"type": "access", "email": EMAIL})
    assert status == 200, body
    [part] = [p for p in body["answer"]["parts"] if p["record_type"] == "prospect"]
    shown = [(d["recipient"], d["purpose"], d.get("campaign_id"), d.get("recipient_name")) for d in part["disclosures"]]
    assert shown == [
        ("acme", "partner_read", None, "acme Oy"),
        ("kampanja", "call_list", "c" * 32, "kampanja Oy"),
        ("poistunut", "call_list", "d" * 32, None),
    ]
    assert all(d["first_at"].startswith(clock.local_date().isoformat()[:4]) for d in part["disclosures"])


def test_record_leaves_out_a_prospect_erased_meanwhile(client: Any, stack: Stack, tokens: Tokens) -> None:
    _import(stack, "acme", ROWS)
    pid = _pid(client, tokens.partner)
    gone = "0" * 32
    assert disclosures.record([gone, pid, gone], "acme", "partner_read", setup_actor()) == {pid}
    assert disclosures.record([gone], "acme", "partner_read", setup_actor()) == set()
    assert {e["prospect_id"] for e in _entries(stack)} == {pid, _pid(client, tokens.partner, "sari@sote.fi")}


def test_an_erasure_notifies_each_recipient_once_and_the_notice_outlives_the_record(
    client: Any, stack: Stack, tokens: Tokens
) -> None:
    beta = _beta(stack)
    _import(stack, "acme", ROWS)
    _import(stack, "beta", ROWS[:1])
    pid = _pid(client, tokens.partner)
    assert _pid(client, beta) == pid
    assert call(client, "GET", f"/partner/prospects/{pid}", beta)[0] == 200  # a second read, same day
    register_partner(stack, "gamma", "data_provider")
    gamma = stack.user("gamma-data", ["partner"], partner_id="gamma", partner_type="data_provider")

    status, body = call(client, "POST", "/subject-requests", tokens.staff, {"type": "erasure", "email": EMAIL})
    assert status == 200 and body["answer"]["erased"][0]["record_id"] == pid
    assert not [i for i in all_prospect_items(stack) if i["pk"] == f"PROSPECT#{pid}"]  # the log went with it
    status, again = call(client, "POST", "/subject-requests", tokens.staff, {"type": "erasure", "email": EMAIL})
    assert status == 200 and again["answer"]["erased"] == []

    for token in (tokens.partner, beta):
        [notice] = _notices(client, token)
        assert notice["prospect_id"] == pid and notice["change"] == "erased" and "fields" not in notice
        assert not any(p in json.dumps(notice) for p in PERSONAL)
    assert _notices(client, gamma) == []  # it never got the person's data
    events = _notify_events(stack, pid)
    assert sorted(e["notification"]["recipient"] for e in events) == ["acme", "beta"]
    assert all(e["notification"]["change"] == "erased" for e in events)


def test_notices_expire_after_twelve_months_by_ttl(client: Any, stack: Stack, tokens: Tokens) -> None:
    _import(stack, "acme", ROWS)
    pid = _pid(client, tokens.partner)
    assert call(client, "DELETE", f"/prospects/{pid}", tokens.staff)[0] == 200
    items = stack.table("audit").query(KeyConditionExpression=Key("pk").eq("NOTIFICATIONS#acme"))["Items"]
    [item] = items
    # moto does not run TTL: the attribute DynamoDB deletes by is what is checked.
    expires = datetime.fromtimestamp(int(item["expires_at"]), UTC)
    made = datetime.fromisoformat(item["at"].replace("Z", "+00:00"))
    assert timedelta(days=365) <= expires - made <= timedelta(days=367)
    [notice] = _notices(client, tokens.partner)
    assert notice["expires_at"] == int(item["expires_at"])


def test_a_rectification_notifies_the_field_names_and_a_verification_nothing(
    client: Any, stack: Stack, tokens: Tokens
) -> None:
    _import(stack, "acme", ROWS)
    pid = _pid(client, tokens.partner)
    assert call(client, "POST", f"/prospects/{pid}/verification", tokens.staff)[0] == 200
    assert _notices(client, tokens.partner) == []
    status, _ = call(client, "PATCH", f"/prospects/{pid}", tokens.staff, {"title": "Johtaja", "phone": None})
    assert status == 200
    [notice] = _notices(client, tokens.partner)
    assert (notice["change"], notice["fields"]) == ("rectified", ["phone", "title"])
    changes = {"contact_name": "Äijä Öhman-Uusi"}
    body = {"type": "rectification", "email": EMAIL, "changes": changes}
    assert call(client, "POST", "/subject-requests", tokens.staff, body)[0] == 200
    newest, older = _notices(client, tokens.partner)
    assert (newest["change"], newest["fields"]) == ("rectified", ["contact_name"]) and older == notice
    assert "Uusi" not in json.dumps(_notices(client, tokens.partner))
    assert len(_notify_events(stack, pid)) == 2


def test_an_objection_notifies_objected(client: Any, stack: Stack, tokens: Tokens) -> None:
    _import(stack, "acme", ROWS)
    pid = _pid(client, tokens.partner)
    status, body = call(client, "POST", "/subject-requests", tokens.staff, {"type": "objection", "email": EMAIL})
    assert status == 200 and body["answer"]["prospects_removed"] == 1
    [notice] = _notices(client, tokens.partner)
    assert (notice["prospect_id"], notice["change"]) == (pid, "objected")


def test_a_full_refresh_removal_notifies_the_other_recipients_not_the_partner_itself(
    client: Any, stack: Stack, tokens: Tokens
) -> None:
    kampanja = tokens.marketing  # the marketing partner a call list went to
    _import(stack, "acme", ROWS)
    pid = _pid(client, tokens.partner)
    disclosures.record([pid], "kampanja", "call_list", setup_actor(), campaign_id="c" * 32)
    _import(stack, "acme", ROWS[1:], "full-2026-12.csv")  # the person is no longer in acme's list
    assert not [i for i in all_prospect_items(stack) if i["pk"] == f"PROSPECT#{pid}"]
    assert _notices(client, tokens.partner) == []
    [notice] = _notices(client, kampanja)
    assert (notice["prospect_id"], notice["change"]) == (pid, "erased")


def test_the_sweeper_deletes_the_log_with_the_prospect_and_notifies(client: Any, stack: Stack, tokens: Tokens) -> None:
    with clock.frozen(datetime(2024, 5, 31, 10, tzinfo=UTC)):
        _import(stack, "acme", ROWS[:1])
        pid = _pid(client, tokens.partner)
    run = retention.sweep(date(2026, 6, 1))
    assert run["rules"]["prospect_unverified"]["done"] == 2  # the PROFILE and acme's SOURCE item
    assert not [i for i in all_prospect_items(stack) if i["pk"] == f"PROSPECT#{pid}"]
    [notice] = _notices(client, tokens.partner)
    assert (notice["prospect_id"], notice["change"]) == (pid, "erased")
    [event] = _notify_events(stack, pid)
    assert event["principal_id"] == "system:retention_sweeper"


def test_notifications_page_newest_first(client: Any, stack: Stack, tokens: Tokens) -> None:
    _import(stack, "acme", ROWS)
    first = _pid(client, tokens.partner)
    second = _pid(client, tokens.partner, "sari@sote.fi")
    for pid in (first, second):
        assert call(client, "DELETE", f"/prospects/{pid}", tokens.staff)[0] == 200
    status, page = call(client, "GET", "/partner/notifications?limit=1", tokens.partner)
    assert status == 200 and [n["prospect_id"] for n in page["items"]] == [second]
    status, rest = call(client, "GET", f"/partner/notifications?limit=1&cursor={page['next_cursor']}", tokens.partner)
    assert status == 200 and [n["prospect_id"] for n in rest["items"]] == [first]
    status, bad = call(client, "GET", "/partner/notifications?cursor=abc", tokens.partner)
    assert status == 400 and bad["error"]["code"] == "invalid_cursor"


def test_a_full_refresh_that_hands_the_profile_to_another_partner_notifies_the_changed_fields(
    client: Any, stack: Stack, tokens: Tokens
) -> None:
    kampanja = tokens.marketing  # the marketing partner a call list went to
    beta = _beta(stack)
    _import(stack, "acme", ROWS)
    _import(stack, "beta", [[*ROWS[0][:2], "Hallintojohtaja", *ROWS[0][3:]]])  # the PROFILE keeps acme's
    pid = _pid(client, tokens.partner)
    disclosures.record([pid], "kampanja", "call_list", setup_actor(), campaign_id="c" * 32)
    _import(stack, "acme", ROWS[1:], "full-2026-12.csv")
    [profile] = [i for i in all_prospect_items(stack) if i["pk"] == f"PROSPECT#{pid}" and i["sk"] == "PROFILE"]
    assert profile["values_from"] == "beta" and profile["title"] == "Hallintojohtaja"
    [notice] = _notices(client, kampanja)
    assert (notice["prospect_id"], notice["change"], notice["fields"]) == (pid, "rectified", ["title"])
    assert _notices(client, tokens.partner) == [] and _notices(client, beta) == []  # beta never read it


def _notified(stack: Stack, recipient: str) -> list[dict[str, Any]]:
    resp = stack.table("audit").query(KeyConditionExpression=Key("pk").eq(f"{disclosures.NOTIFICATIONS}{recipient}"))
    return list(resp["Items"])


def test_a_long_log_and_many_recipients_overflow_one_transaction_and_still_go_once(
    client: Any, stack: Stack, tokens: Tokens
) -> None:
    _import(stack, "acme", ROWS[:1])
    pid = _pid(client, tokens.partner)
    for n in range(60):  # 60 recipients: 120 notice items, more than a transaction holds
        disclosures.record([pid], f"kumppani{n}", "call_list", setup_actor(), campaign_id=f"{n:032x}")
    for n in range(60, 130):  # and 70 more entries of one recipient
        disclosures.record([pid], "kumppani0", "call_list", setup_actor(), campaign_id=f"{n:032x}")
    assert len(_entries(stack)) == 131
    assert call(client, "PATCH", f"/prospects/{pid}", tokens.staff, {"title": "Johtaja"})[0] == 200
    assert all(len(_notified(stack, f"kumppani{n}")) == 1 for n in range(60))
    assert call(client, "DELETE", f"/prospects/{pid}", tokens.staff)[0] == 200
    assert not [i for i in all_prospect_items(stack) if i["pk"] == f"PROSPECT#{pid}"]
    for n in range(60):
        assert sorted(i["change"] for i in _notified(stack, f"kumppani{n}")) == ["erased", "rectified"]
    assert len(_notify_events(stack, pid)) == 122  # 61 recipients (acme too), twice


def test_the_sweeper_deletes_a_long_log_in_more_than_one_transaction(client: Any, stack: Stack, tokens: Tokens) -> None:
    with clock.frozen(datetime(2024, 5, 31, 10, tzinfo=UTC)):
        _import(stack, "acme", ROWS[:1])
        pid = _pid(client, tokens.partner)
        for n in range(110):
            disclosures.record([pid], "kampanja", "call_list", setup_actor(), campaign_id=f"{n:032x}")
    assert retention.sweep(date(2026, 6, 1))["rules"]["prospect_unverified"]["done"] == 2
    assert not [i for i in all_prospect_items(stack) if i["pk"] == f"PROSPECT#{pid}"]
    assert [i["change"] for i in _notified(stack, "kampanja")] == ["erased"]
    assert [i["change"] for i in _notified(stack, "acme")] == ["erased"]
