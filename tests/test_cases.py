"""Request cases (chalicelib/cases.py) under an injected clock: due dates across month ends
and leap years, the pause, the extension and its message, every status transition and its
refusal when not allowed, carrying out each type, the working list and the retention sweep.
Calls run attributed to the function that makes them in AWS, so its role is checked."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from chalicelib import audit, cases, clock, prospects, restriction, retention, store, suppression
from chalicelib.audit import Actor
from chalicelib.auth import ANONYMOUS, SYSTEM_SWEEPER, Principal
from chalicelib.config import settings
from chalicelib.errors import Conflict, NotFound, ValidationFailed
from chalicelib.registers import Role
from tests.aws_calls import as_function
from tests.conftest import Stack, sent_mail, setup_actor
from tests.template import MERGE_TEMPLATE

STAFF = Actor(Principal(principal_id="staff:maija", roles=frozenset({Role.STAFF})), "req-staff")
PERSON = Actor(ANONYMOUS, "req-person")
DAY = date(2028, 1, 31)  # a leap year's January: due on 29 February


def _at(day: date, hour: int = 12) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=clock.HELSINKI)


@pytest.fixture(autouse=True)
def _api_role(stack: Stack) -> Iterator[None]:
    """Everything here runs as the API handler does in AWS (its role is checked)."""
    with as_function("api_handler"):
        yield


def _open(
    kind: str = "access",
    email: str = "aija@kunta.fi",
    day: date = DAY,
    *,
    verified: str | None = "staff_checked",
    **kw: Any,
) -> dict[str, Any]:
    with clock.frozen(_at(day)):
        return cases.open_case(kind, email, "staff_letter", STAFF, verified_by=verified, **kw)


def _prospect(email: str = "aija@kunta.fi", phone: str = "040 123 4567") -> str:
    fields = {"organization": "Kunta Oy", "contact_name": "Äijä Öhman", "email": email, "phone": phone}
    return str(prospects.create(fields, setup_actor())[0]["prospect_id"])


def _events(case_id: str) -> list[dict[str, Any]]:
    items = store.audit().query(KeyConditionExpression=Key("pk").eq(f"RECORD#cases#{case_id}"))["Items"]
    return sorted(items, key=lambda i: str(i["sk"]))


def _code(exc: pytest.ExceptionInfo[Conflict]) -> str:
    return exc.value.code


# -- due dates ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("received", "months", "due"),
    [
        (date(2028, 1, 31), 0, date(2028, 2, 29)),  # leap year: February's last day is the 29th
        (date(2027, 1, 31), 0, date(2027, 2, 28)),
        (date(2028, 2, 29), 0, date(2028, 3, 29)),
        (date(2028, 3, 31), 0, date(2028, 4, 30)),
        (date(2028, 12, 15), 0, date(2029, 1, 15)),
        (date(2028, 1, 31), 2, date(2028, 4, 30)),  # extended from the day received, not from 29 Feb
        (date(2027, 12, 31), 2, date(2028, 3, 31)),
    ],
)
def test_due_dates_count_calendar_months_as_regulation_1182_71(received: date, months: int, due: date) -> None:
    assert cases.due_date(received, months) == due


def test_a_case_is_due_a_month_from_the_finnish_day_it_was_received() -> None:
    case = _open(day=DAY)
    assert case["received_on"] == "2028-01-31" and case["due_at"] == "2028-02-29"
    # 22:30 UTC on 31 January is already 1 February in Helsinki (UTC+2).
    with clock.frozen(datetime(2028, 1, 31, 22, 30, tzinfo=UTC)):
        case = cases.open_case("access", "aija@kunta.fi", "staff_phone", STAFF, verified_by="staff_checked")
    assert case["received_on"] == "2028-02-01" and case["due_at"] == "2028-03-01"


# -- opening, reading --------------------------------------------------------------------


def test_opening_keeps_a_keyed_hash_and_the_contact_and_staff_never_see_either() -> None:
    case = _open(verified=None, email="Aija@Kunta.fi")
    assert case["status"] == "unverified" and case["verification"] == {"state": "unverified"}
    assert "contact" not in case and "email_hash" not in case
    stored = cases.get(case["case_id"])
    assert stored["contact"] == "aija@kunta.fi"
    assert stored["email_hash"].startswith("v") and "aija" not in stored["email_hash"]
    assert stored["queue"] == "active" and stored["retention_rule"] == cases.RULE_UNVERIFIED
    assert stored["retention_due_at"] == (DAY + timedelta(days=30)).isoformat()
    assert cases.contact_of(case["case_id"]) == "aija@kunta.fi"
    [event] = _events(case["case_id"])
    assert event["action"] == "create" and event["register"] == "cases" and event["principal_id"] == "staff:maija"
    assert event["request"] == {"type": "access", "channel": "staff_letter", "status": "unverified"}
    assert "kunta.fi" not in str(event)


def test_opening_refuses_what_is_not_a_type_channel_method_or_language() -> None:
    for kwargs in (
        {"kind": "complaint"},
        {"channel": "fax"},
        {"verified_by": "guess"},
        {"lang": "sv"},
        {"email": "not an address"},
        {"details": {"x": "y" * cases.MAX_DETAILS_BYTES}},
        {"details": {"x": float("inf")}},
        {"kind": "restriction", "details": {"reason": "because"}},
        {"kind": "rectification", "details": {"changes": {"shoe_size": 42}}},
    ):
        args = {"kind": "access", "email": "a@kunta.fi", "channel": "privacy_center"} | kwargs
        with pytest.raises(ValidationFailed):
            cases.open_case(args.pop("kind"), args.pop("email"), args.pop("channel"), PERSON, **args)
    assert cases.list_cases(None, 25, None)["items"] == []


def test_details_are_kept_as_asked_until_the_case_closes() -> None:
    asked = {"note": "Please also check the old address.", "n": 10**40, "share": 1.5, "list": [None, True]}
    case = _open("erasure", details=asked)
    assert case["details"] == asked and cases.view(cases.get(case["case_id"]))["details"] == asked
    closed = cases.refuse(case["case_id"], "Asked to withdraw.", STAFF)
    assert "details" not in closed and "details" not in cases.get(case["case_id"])


def test_an_unknown_or_malformed_case_id_is_not_found() -> None:
    for case_id in ("0" * 32, "nope", "A" * 32):
        with pytest.raises(NotFound):
            cases.get(case_id)


# -- transitions -------------------------------------------------------------------------


def test_verify_opens_an_unverified_case_once() -> None:
    case = _open(verified=None)
    with pytest.raises(Conflict) as refused:
        cases.carry_out(case["case_id"], STAFF)
    assert _code(refused) == "case_not_open"
    opened = cases.verify(case["case_id"], "email_link", PERSON)
    assert opened["status"] == "open" and opened["verification"]["method"] == "email_link"
    assert "retention_rule" not in cases.get(case["case_id"])  # kept while it is worked on
    with pytest.raises(Conflict) as refused:
        cases.verify(case["case_id"], "email_link", PERSON)
    assert _code(refused) == "case_not_unverified"
    with pytest.raises(ValidationFailed):
        cases.verify(_open(verified=None)["case_id"], "trust_me", PERSON)


def test_access_from_a_letter_is_carried_out_then_closed_by_staff_without_its_contact() -> None:
    pid = _prospect()
    case = _open("access")
    with clock.frozen(_at(DAY + timedelta(days=3))):
        shown, answer = cases.carry_out(case["case_id"], STAFF)
    assert answer.outcome == "found"
    assert [p["record"]["prospect_id"] for p in answer.body["parts"]] == [pid]
    # A letter's answer reaches the person only when staff send it: the case stays open till then.
    assert shown["status"] == "open" and shown["outcome"] == "found" and "delivery" not in shown
    assert [a["what"] for a in shown["actions"]] == ["received", "verified:staff_checked", "carried_out:found"]
    assert "contact" in cases.get(case["case_id"])  # what the answer must still reach
    with clock.frozen(_at(DAY + timedelta(days=4))):
        closed = cases.close(case["case_id"], "Export sent by letter.", "letter", STAFF)
    assert closed["status"] == "done" and closed["delivery"] == "letter"
    assert closed["handler"] == "staff:maija" and closed["closed_at"].startswith("2028-02-04")
    stored = cases.get(case["case_id"])
    assert "contact" not in stored and "queue" not in stored and "details" not in stored
    assert stored["retention_rule"] == cases.RULE_CLOSED and stored["retention_due_at"] == "2031-02-04"
    with pytest.raises(Conflict) as refused:
        cases.contact_of(case["case_id"])
    assert _code(refused) == "case_closed"
    for step in (
        lambda: cases.carry_out(case["case_id"], STAFF),
        lambda: cases.close(case["case_id"], "answered", "letter", STAFF),
        lambda: cases.wait_for_person(case["case_id"], "need a copy", STAFF),
        lambda: cases.extend(case["case_id"], 1, "many requests", STAFF),
    ):
        with pytest.raises(Conflict) as refused:
            step()
        assert _code(refused) == "case_not_open"
    with pytest.raises(Conflict) as refused:
        cases.refuse(case["case_id"], "late", STAFF)
    assert _code(refused) == "case_closed"
    # The access answer showed the person this case too (a read, audited; at the same frozen instant).
    assert sorted(e["action"] for e in _events(case["case_id"])) == ["carry_out", "close", "create", "export"]


def test_access_asked_by_the_person_themself_closes_with_the_answer_in_the_response() -> None:
    _prospect()
    with clock.frozen(_at(DAY)):
        case = cases.open_case("access", "aija@kunta.fi", "self_service", PERSON, verified_by="signed_in")
        shown, answer = cases.carry_out(case["case_id"], PERSON)
    assert answer.outcome == "found"
    assert shown["status"] == "done" and shown["delivery"] == "in_response"
    assert "contact" not in cases.get(case["case_id"])


def test_the_access_answer_tells_the_person_of_their_request_cases() -> None:
    earlier = _open("erasure", day=date(2028, 1, 10))
    with clock.frozen(_at(date(2028, 1, 12))):
        cases.refuse(earlier["case_id"], "Asked to withdraw.", STAFF)
    _open("access", email="someone.else@kunta.fi")
    case = _open("access", day=date(2028, 1, 20))
    with clock.frozen(_at(date(2028, 1, 21))):
        _, answer = cases.carry_out(case["case_id"], STAFF)
    told = answer.body["request_cases"]
    assert [c["case_id"] for c in told] == [earlier["case_id"], case["case_id"]]
    assert told[0]["status"] == "refused" and told[0]["refusal_reason"] == "Asked to withdraw."
    assert told[0]["kept_until"] == "2031-01-12" and told[1]["status"] == "open"  # answered as it was
    assert all("handler" not in c and "contact" not in c and "actions" not in c for c in told)
    exported = {a.record_id for a in answer.accesses if a.register == cases.REGISTER}
    assert exported == {earlier["case_id"], case["case_id"]}


def test_portability_gives_the_data_machine_readable() -> None:
    _prospect()
    case = _open("portability")
    shown, answer = cases.carry_out(case["case_id"], STAFF)
    assert shown["status"] == "open" and shown["outcome"] == "found"  # staff send it, then close
    [record] = answer.body["records"]
    assert answer.body["format"] == "application/json"
    assert record["register"] == "prospects" and record["data"]["email"] == "aija@kunta.fi"
    assert "purpose" not in record


def test_objection_is_carried_out_at_once() -> None:
    _prospect()
    with clock.frozen(_at(DAY)):
        case = cases.open_case("objection", "aija@kunta.fi", "unsubscribe_link", PERSON, verified_by="unsubscribe_link")
    shown, answer = cases.carry_out(case["case_id"], PERSON)
    assert answer.body["prospects_removed"] == 1 and suppression.is_suppressed("aija@kunta.fi")
    assert shown["status"] == "done" and "handler" not in shown  # no staff handled it


def test_erasure_of_a_prospect_closes_itself_when_the_person_asked_online() -> None:
    _prospect()
    with clock.frozen(_at(DAY)):
        case = cases.open_case("erasure", "aija@kunta.fi", "privacy_center", PERSON, verified_by="email_link")
    shown, answer = cases.carry_out(case["case_id"], PERSON)
    assert answer.outcome == "erased" and shown["status"] == "done" and shown["delivery"] == "privacy_center"
    assert prospects.by_email("aija@kunta.fi") == []


def test_erasure_from_a_letter_stays_open_until_staff_tell_the_person() -> None:
    _prospect()
    shown, answer = cases.carry_out(_open("erasure")["case_id"], STAFF)
    assert answer.outcome == "erased" and shown["status"] == "open"
    assert prospects.by_email("aija@kunta.fi") == []


def test_restriction_leaves_a_restriction_staff_set_as_it_is() -> None:
    pid = _prospect()
    restriction.restrict("prospect", pid, "needed_for_legal_claims", date(2029, 1, 1), STAFF)
    case = _open("restriction", details={"reason": "accuracy_contested"})
    shown, answer = cases.carry_out(case["case_id"], STAFF)
    assert answer.outcome == "already_restricted" and shown["outcome"] == "already_restricted"
    assert answer.body == {"restricted": [], "already_restricted": [{"kind": "prospect", "record_id": pid}]}
    assert prospects.get(pid)[0]["restriction"]["reason"] == "needed_for_legal_claims"


def test_rectification_uses_the_asked_changes_and_stays_open_for_staff() -> None:
    pid = _prospect()
    case = _open("rectification", details={"changes": {"contact_name": "Aija Öhman"}})
    assert case["details"] == {"changes": {"contact_name": "Aija Öhman"}}
    shown, answer = cases.carry_out(case["case_id"], STAFF)
    assert answer.outcome == "rectified" and shown["status"] == "open" and shown["outcome"] == "rectified"
    assert prospects.get(pid)[0]["contact_name"] == "Aija Öhman"
    closed = cases.close(case["case_id"], "Name corrected; told by letter.", "letter", STAFF)
    assert closed["status"] == "done" and closed["delivery"] == "letter" and "details" not in closed
    with pytest.raises(ValidationFailed):
        cases.carry_out(_open("rectification")["case_id"], STAFF)  # nothing asked, nothing given


def test_restriction_restricts_every_record_of_the_person() -> None:
    pid = _prospect()
    case = _open("restriction", details={"reason": "accuracy_contested"})
    shown, answer = cases.carry_out(case["case_id"], STAFF)
    assert answer.body["restricted"] == [{"kind": "prospect", "record_id": pid}]
    assert prospects.get(pid)[0]["restriction"]["reason"] == "accuracy_contested"
    assert shown["status"] == "open"
    with pytest.raises(ValidationFailed):
        cases.carry_out(_open("restriction", email="b@kunta.fi")["case_id"], STAFF, changes={"reason": "because"})


def test_refuse_from_every_active_status_with_its_reason() -> None:
    unverified = _open(verified=None)
    refused = cases.refuse(unverified["case_id"], "Identity not shown.", STAFF)
    assert refused["status"] == "refused" and refused["refusal_reason"] == "Identity not shown."
    waiting = _open()
    cases.wait_for_person(waiting["case_id"], "Which register?", STAFF)
    assert cases.refuse(waiting["case_id"], "No answer.", STAFF)["status"] == "refused"
    assert "contact" not in cases.get(waiting["case_id"])
    with pytest.raises(ValidationFailed):
        cases.refuse(_open()["case_id"], "   ", STAFF)


# -- the pause ---------------------------------------------------------------------------


def test_waiting_for_the_person_stops_the_clock() -> None:
    case = _open(day=date(2028, 3, 1))  # due 1 April
    assert case["due_at"] == "2028-04-01"
    with clock.frozen(_at(date(2028, 3, 6))):
        waiting = cases.wait_for_person(case["case_id"], "Please say which customer number.", STAFF)
    assert waiting["status"] == "waiting_for_person" and waiting["paused_since"] == "2028-03-06"
    with pytest.raises(Conflict) as refused:
        cases.carry_out(case["case_id"], STAFF)
    assert _code(refused) == "case_not_open"
    with pytest.raises(Conflict) as refused:
        cases.wait_for_person(case["case_id"], "again", STAFF)
    assert _code(refused) == "case_not_open"
    with clock.frozen(_at(date(2028, 3, 10))):
        assert cases.view(cases.get(case["case_id"]))["days_left"] == 26  # stopped at the 6th's
    with clock.frozen(_at(date(2028, 3, 16))):
        resumed = cases.resume(case["case_id"], STAFF)
    assert resumed["status"] == "open" and resumed["paused_days"] == 10 and resumed["due_at"] == "2028-04-11"
    assert "paused_since" not in resumed
    with pytest.raises(Conflict) as refused:
        cases.resume(case["case_id"], STAFF)
    assert _code(refused) == "case_not_waiting"
    assert [e["action"] for e in _events(case["case_id"])] == ["create", "wait", "resume"]


def test_waiting_puts_the_case_under_the_lapse_rule_and_resuming_takes_it_off() -> None:
    case = _open(day=date(2028, 3, 1))
    with clock.frozen(_at(date(2028, 3, 6), 23)):  # 23:00 Helsinki: still the 6th in Finland
        waiting = cases.wait_for_person(case["case_id"], "Please say which customer number.", STAFF)
    stored = cases.get(case["case_id"])
    assert stored["retention_rule"] == cases.RULE_WAITING and cases.WAITING_LAPSE_DAYS == 60
    assert stored["retention_due_at"] == "2028-05-05"  # 6 March + 60 days
    assert waiting["lapses_on"] == "2028-05-05" and "kept_until" not in waiting  # not a keeping period
    with clock.frozen(_at(date(2028, 3, 20))):
        resumed = cases.resume(case["case_id"], STAFF)
    stored = cases.get(case["case_id"])
    assert "retention_rule" not in stored and "retention_due_at" not in stored
    assert "lapses_on" not in resumed
    with clock.frozen(_at(date(2028, 3, 25))):
        cases.wait_for_person(case["case_id"], "And the invoice number?", STAFF)
    assert cases.get(case["case_id"])["retention_due_at"] == "2028-05-24"  # a new wait counts anew


# -- the extension -----------------------------------------------------------------------


def test_the_extension_is_mailed_with_its_reason_and_moves_the_due_date_once() -> None:
    case = _open(day=DAY, lang="en")
    with clock.frozen(_at(date(2028, 2, 20))):
        extended = cases.extend(case["case_id"], 2, "Your request covers ten years of orders.", STAFF)
    assert extended["due_at"] == "2028-04-30"  # 31 January + 3 months
    assert extended["extension"]["months"] == 2 and extended["extension"]["told_at"]
    [msg] = sent_mail("aija@kunta.fi")
    text = msg.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    assert msg["Content-Language"] == "en" and "extended" in msg["Subject"]
    assert "Your request covers ten years of orders." in text and "2028-04-30" in text
    assert case["case_id"] in text and "Article 12(3)" in text
    with pytest.raises(Conflict) as refused:
        cases.extend(case["case_id"], 1, "again", STAFF)
    assert _code(refused) == "already_extended"
    assert [e["action"] for e in _events(case["case_id"])] == ["create", "extend"]


def test_the_extension_message_is_finnish_by_default() -> None:
    case = _open(day=date(2028, 5, 10), email="sari@sote.fi")
    with clock.frozen(_at(date(2028, 5, 12))):
        cases.extend(case["case_id"], 1, "Pyyntöjä on paljon.", STAFF)
    [msg] = sent_mail("sari@sote.fi")
    text = msg.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    assert msg["Content-Language"] == "fi" and "10.7.2028" in text and "Pyyntöjä on paljon." in text


def test_no_extension_after_the_due_date_or_of_another_length() -> None:
    case = _open(day=DAY)
    with clock.frozen(_at(date(2028, 3, 1))), pytest.raises(Conflict) as refused:
        cases.extend(case["case_id"], 1, "too late", STAFF)
    assert _code(refused) == "extension_too_late"
    with pytest.raises(ValidationFailed):
        cases.extend(case["case_id"], 3, "three", STAFF)
    unverified = _open(verified=None)
    with pytest.raises(Conflict) as refused:
        cases.extend(unverified["case_id"], 1, "unverified", STAFF)
    assert _code(refused) == "case_not_open"
    assert sent_mail("aija@kunta.fi") == []


def test_an_extension_the_person_was_not_told_is_not_recorded(monkeypatch: pytest.MonkeyPatch) -> None:
    case = _open(day=DAY)

    def refused(*_: Any, **__: Any) -> str:
        raise ClientError({"Error": {"Code": "MessageRejected", "Message": "x"}}, "SendEmail")

    monkeypatch.setattr(cases, "send", refused)
    with clock.frozen(_at(date(2028, 2, 1))), pytest.raises(Conflict) as not_told:
        cases.extend(case["case_id"], 1, "many requests", STAFF)
    assert _code(not_told) == "person_not_told"
    stored = cases.get(case["case_id"])
    assert "extension" not in stored and stored["due_at"] == "2028-02-29"


def test_a_waiting_case_extended_keeps_its_pause() -> None:
    case = _open(day=date(2028, 3, 1))
    with clock.frozen(_at(date(2028, 3, 5))):
        cases.wait_for_person(case["case_id"], "Which register?", STAFF)
    with clock.frozen(_at(date(2028, 3, 10))):
        cases.extend(case["case_id"], 1, "Many requests.", STAFF)
    with clock.frozen(_at(date(2028, 3, 12))):
        resumed = cases.resume(case["case_id"], STAFF)
    assert resumed["due_at"] == "2028-05-08"  # 1 May + 7 days waited


# -- the working list and the alarm's figures --------------------------------------------


def test_the_list_shows_overdue_first_then_soon_due_then_the_rest() -> None:
    today = date(2028, 6, 20)
    overdue = _open(day=date(2028, 5, 10))  # due 10 June
    soon = _open(day=date(2028, 5, 25))  # due 25 June
    later = _open(day=date(2028, 6, 15))  # due 15 July
    unverified = _open(day=date(2028, 5, 1), verified=None)  # due 1 June: not counted, identity unknown
    done = _open(day=date(2028, 5, 2))
    with clock.frozen(_at(date(2028, 6, 1))):
        cases.close(done["case_id"], "answered", "email", STAFF)
    with clock.frozen(_at(today)):
        page = cases.list_cases(None, 25, None)
        ids = [i["case_id"] for i in page["items"]]
        assert ids == [unverified["case_id"], overdue["case_id"], soon["case_id"], later["case_id"]]
        flags = {i["case_id"]: (i["overdue"], i["soon_due"]) for i in page["items"]}
        assert flags[overdue["case_id"]] == (True, False) and flags[soon["case_id"]] == (False, True)
        assert flags[later["case_id"]] == (False, False) and flags[unverified["case_id"]] == (False, False)
        assert cases.deadline_counts() == {"overdue": 1, "soon_due": 1}
        only = cases.list_cases("unverified", 25, None)["items"]
        assert [i["case_id"] for i in only] == [unverified["case_id"]]
        closed = cases.list_cases("done", 25, None)["items"]
        assert [i["case_id"] for i in closed] == [done["case_id"]] and "days_left" not in closed[0]
        first = cases.list_cases(None, 2, None)
        rest = cases.list_cases(None, 2, first["next_cursor"])
        assert [i["case_id"] for i in first["items"] + rest["items"]] == ids
    with pytest.raises(ValidationFailed):
        cases.list_cases("lost", 25, None)
    with pytest.raises(ValidationFailed):
        cases.list_cases(None, 25, "garbage")


# -- retention ---------------------------------------------------------------------------


def test_the_sweeper_deletes_unverified_cases_after_30_days_and_closed_ones_after_3_years() -> None:
    never = _open(day=DAY, verified=None)
    verified = _open(day=DAY, verified=None)
    cases.verify(verified["case_id"], "email_link", PERSON)
    closed = _open(day=DAY)
    with clock.frozen(_at(DAY)):
        cases.close(closed["case_id"], "answered", "letter", STAFF)
    sweeper = Actor(SYSTEM_SWEEPER, "run-1")
    with as_function("retention_sweeper"):
        counts = cases.sweep_retention(DAY + timedelta(days=29), sweeper, "k1")
        assert counts[cases.RULE_UNVERIFIED] == {"due": 0, "done": 0, "changed": 0}
        counts = cases.sweep_retention(DAY + timedelta(days=30), sweeper, "k2", dry_run=True)
        assert counts[cases.RULE_UNVERIFIED]["due"] == 1 and counts[cases.RULE_UNVERIFIED]["done"] == 0
        counts = cases.sweep_retention(DAY + timedelta(days=30), sweeper, "k3")
        assert counts[cases.RULE_UNVERIFIED] == {"due": 1, "done": 1, "changed": 0}
        assert counts[cases.RULE_CLOSED]["due"] == 0
        counts = cases.sweep_retention(date(2031, 1, 31), sweeper, "k4")
        assert counts[cases.RULE_CLOSED] == {"due": 1, "done": 1, "changed": 0}
    with pytest.raises(NotFound):
        cases.get(never["case_id"])
    with pytest.raises(NotFound):
        cases.get(closed["case_id"])
    assert cases.get(verified["case_id"])["status"] == "open"
    assert _events(never["case_id"])[-1]["action"] == "delete"


# -- the nightly sweep: retention and the deadline alarms ---------------------------------


def _deadline_metrics(out: io.StringIO) -> dict[str, list[int]]:
    """The values the template's deadline metric filters take from the log (their JSON
    pattern and `$.field` value, evaluated here), by metric name."""
    resources = json.loads(MERGE_TEMPLATE.read_text())["Resources"]
    values: dict[str, list[int]] = {}
    for res in resources.values():
        if res.get("Type") != "AWS::Logs::MetricFilter":
            continue
        props = res["Properties"]
        m = re.fullmatch(r'\{ \$\.(\w+) = "([^"]*)" \}', props["FilterPattern"])
        assert m, props["FilterPattern"]
        for line in out.getvalue().splitlines():
            doc = json.loads(line)
            if doc.get(m[1]) != m[2]:
                continue
            for t in props["MetricTransformations"]:
                values.setdefault(t["MetricName"], []).append(doc[t["MetricValue"].removeprefix("$.")])
    return values


def test_the_nightly_sweep_deletes_expired_cases_and_alarms_on_overdue_and_soon_due(log_lines: io.StringIO) -> None:
    today = date(2028, 6, 20)
    _open(day=date(2028, 5, 10))  # due 10 June: overdue
    _open(day=date(2028, 5, 25))  # due 25 June: soon due
    _open(day=date(2028, 6, 15))  # due 15 July
    stale = _open(day=date(2028, 5, 20), verified=None)  # never verified, 31 days old
    with as_function(None), clock.frozen(_at(today, 2)):
        summary = retention.sweep(today)
    assert summary["failed_rules"] == {}
    done = summary["request_cases"]
    assert done["deadlines"] == {"overdue": 1, "soon_due": 1}
    assert done["rules"][cases.RULE_UNVERIFIED] == {"due": 1, "done": 1, "changed": 0}
    with pytest.raises(NotFound):
        cases.get(stale["case_id"])
    assert _deadline_metrics(log_lines) == {"RequestCasesOverdue": [1], "RequestCasesSoonDue": [1]}

    resources = json.loads(MERGE_TEMPLATE.read_text())["Resources"]
    for name in ("RequestCasesOverdue", "RequestCasesSoonDue"):
        alarm = resources[f"{name}Alarm"]["Properties"]
        assert (alarm["Namespace"], alarm["MetricName"]) == ("Ilopiste", name)
        assert alarm["Threshold"] == 0 and alarm["ComparisonOperator"] == "GreaterThanThreshold"
        assert alarm["AlarmActions"] == [{"Ref": "AlarmTopic"}]
        assert resources[f"{name}Filter"]["Properties"]["LogGroupName"] == {"Ref": "RetentionSweeperLogGroup"}
        # A nightly figure: the day's value holds until the next night's.
        assert alarm["Period"] == 86400 and alarm["TreatMissingData"] == "ignore"


def test_a_failing_case_step_is_reported_like_a_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_: Any, **__: Any) -> dict[str, int]:
        raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "x"}}, "Query")

    monkeypatch.setattr(cases, "deadline_counts", broken)
    with as_function(None):
        summary = retention.sweep(clock.local_date())
    assert summary["failed_rules"] == {retention.CASES_STEP: "ThrottlingException"}


# -- a wait that lapses -------------------------------------------------------------------

WAIT_BEGAN = date(2028, 3, 6)
LAPSES_ON = date(2028, 5, 5)  # 60 days on


def _waiting(kind: str = "access", email: str = "aija@kunta.fi", *, lang: str = "en", **kw: Any) -> str:
    case = _open(kind, email, day=date(2028, 3, 1), lang=lang, **kw)
    with clock.frozen(_at(WAIT_BEGAN)):
        cases.wait_for_person(case["case_id"], "Please say which customer number.", STAFF)
    return str(case["case_id"])


def _night(day: date, *, dry_run: bool = False) -> dict[str, Any]:
    """The nightly sweep of `day`, as the sweeper function runs it at 02:00; the case step's counts."""
    with as_function("retention_sweeper"), clock.frozen(_at(day, 2)):
        summary = retention.sweep(day, dry_run=dry_run)
    return dict(summary)


def _text_of(msg: Any) -> str:
    return str(msg.get_body(preferencelist=("plain",)).get_content())


def test_a_wait_with_no_answer_lapses_on_its_day_the_person_told_once_in_their_language() -> None:
    case_id = _waiting(lang="en")
    summary = _night(LAPSES_ON - timedelta(days=1))
    assert summary["request_cases"]["rules"][cases.RULE_WAITING] == {"due": 0, "done": 0, "changed": 0, "not_told": 0}
    assert cases.get(case_id)["status"] == "waiting_for_person" and sent_mail() == []

    summary = _night(LAPSES_ON, dry_run=True)
    assert summary["request_cases"]["rules"][cases.RULE_WAITING] == {"due": 1, "done": 0, "changed": 0, "not_told": 0}
    assert cases.get(case_id)["status"] == "waiting_for_person" and sent_mail() == []

    summary = _night(LAPSES_ON)
    assert summary["failed_rules"] == {}
    assert summary["request_cases"]["rules"][cases.RULE_WAITING] == {"due": 1, "done": 1, "changed": 0, "not_told": 0}
    stored = cases.get(case_id)
    assert stored["status"] == "done" and stored["outcome"] == cases.LAPSED_NO_ANSWER
    assert stored["delivery"] == "email" and stored["closed_at"].startswith("2028-05-04T23:")  # 02:00 Helsinki
    assert "contact" not in stored and "queue" not in stored and "paused_since" not in stored
    assert stored["retention_rule"] == cases.RULE_CLOSED and stored["retention_due_at"] == "2031-05-05"
    assert stored["actions"][-1]["what"] == "lapsed" and stored["actions"][-1]["by"] == SYSTEM_SWEEPER.principal_id
    [msg] = sent_mail("aija@kunta.fi")
    text = _text_of(msg)
    assert msg["Content-Language"] == "en" and "closed" in msg["Subject"]
    assert "on 2028-03-06 for further information" in text and "within 60 days" in text
    assert "make a new request" in text and f"{settings().public_base_url}/privacy-center?lang=en\r\n" in text
    assert case_id in text and "Article 12(4)" in text
    events = _events(case_id)
    assert [e["action"] for e in events] == ["create", "wait", "lapse"]
    lapse = events[-1]
    assert lapse["principal_id"] == SYSTEM_SWEEPER.principal_id and lapse["fields"] == ["contact"]
    assert lapse["sk"].endswith(f"#{cases.RULE_WAITING}")  # the run's deterministic key
    assert lapse["request"] == {"type": "access", "channel": "staff_letter", "status": "done"}

    # The same night again (Lambda retries a failed run): the case is closed, nothing is due.
    summary = _night(LAPSES_ON)
    assert summary["request_cases"]["rules"][cases.RULE_WAITING]["due"] == 0
    assert len(sent_mail("aija@kunta.fi")) == 1 and [e["action"] for e in _events(case_id)].count("lapse") == 1


def test_a_rerun_with_the_same_run_key_records_the_lapse_once() -> None:
    case_id = _waiting()
    sweeper = Actor(SYSTEM_SWEEPER, "run-1")
    with as_function("retention_sweeper"), clock.frozen(_at(LAPSES_ON, 2)):
        assert cases.sweep_retention(LAPSES_ON, sweeper, "k1")[cases.RULE_WAITING]["done"] == 1
        assert cases.sweep_retention(LAPSES_ON, sweeper, "k1")[cases.RULE_WAITING]["due"] == 0
    lapses = [e for e in _events(case_id) if e["action"] == "lapse"]
    assert [e["sk"] for e in lapses] == [audit.event_key("k1", cases.RULE_WAITING)]  # the run's own key
    assert len(sent_mail("aija@kunta.fi")) == 1


def test_the_lapse_message_is_finnish_by_default_and_the_details_go() -> None:
    case_id = _waiting("rectification", "sari@sote.fi", lang="fi", details={"changes": {"contact_name": "Sari S"}})
    assert "details" in cases.get(case_id)
    _night(LAPSES_ON + timedelta(days=3))  # a night missed: the next one closes it
    stored = cases.get(case_id)
    assert stored["status"] == "done" and "details" not in stored and "contact" not in stored
    assert stored["retention_due_at"] == "2031-05-08"  # 36 months from the day it was closed
    [msg] = sent_mail("sari@sote.fi")
    text = _text_of(msg)
    assert msg["Content-Language"] == "fi" and "suljettu" in msg["Subject"]
    assert "6.3.2028" in text and "60 päivän" in text and "tietojen oikaiseminen" in text
    assert "uuden pyynnön" in text and "/privacy-center?lang=fi" in text


@pytest.mark.parametrize("stale", [False, True], ids=["resumed-before-the-read", "resumed-after-the-read"])
def test_a_case_resumed_meanwhile_is_left_as_staff_made_it(monkeypatch: pytest.MonkeyPatch, stale: bool) -> None:
    case_id = _waiting()
    read = cases.get
    raced: list[str] = []

    def racing_get(wanted: str) -> dict[str, Any]:
        """The person answers and staff resume the case while the sweep reaches it."""
        if raced:
            return read(wanted)
        raced.append(wanted)
        before = read(wanted)
        with as_function("api_handler"):
            cases.resume(wanted, STAFF)
        return before if stale else read(wanted)

    monkeypatch.setattr(cases, "get", racing_get)
    summary = _night(LAPSES_ON)
    assert summary["request_cases"]["rules"][cases.RULE_WAITING] == {"due": 1, "done": 0, "changed": 1, "not_told": 0}
    stored = read(case_id)
    assert stored["status"] == "open" and stored["contact"] == "aija@kunta.fi" and "retention_rule" not in stored
    assert [e["action"] for e in _events(case_id)] == ["create", "wait", "resume"]
    # Read before the resume, the message went before the close was refused (the version
    # changed); read after it, nobody is mailed.
    assert len(sent_mail("aija@kunta.fi")) == (1 if stale else 0)


def test_a_lapse_the_person_could_not_be_told_leaves_the_case_waiting_and_alarms(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    case_id = _waiting()
    never = _open(email="b@kunta.fi", day=LAPSES_ON - timedelta(days=30), verified=None)  # due the same night
    sent = cases.send

    def rejected(*_: Any, **__: Any) -> str:
        raise ClientError({"Error": {"Code": "MessageRejected", "Message": "x"}}, "SendEmail")

    monkeypatch.setattr(cases, "send", rejected)
    summary = _night(LAPSES_ON)
    assert summary["failed_rules"] == {retention.CASES_STEP: retention.PERSON_NOT_TOLD}
    assert summary["request_cases"]["rules"][cases.RULE_WAITING] == {"due": 1, "done": 0, "changed": 0, "not_told": 1}
    assert summary["request_cases"]["rules"][cases.RULE_UNVERIFIED]["done"] == 1  # the rest of the step ran
    assert "deadlines" in summary["request_cases"]
    with pytest.raises(NotFound):
        cases.get(never["case_id"])
    stored = cases.get(case_id)
    assert stored["status"] == "waiting_for_person" and stored["contact"] == "aija@kunta.fi"
    assert [e["action"] for e in _events(case_id)] == ["create", "wait"]

    monkeypatch.setattr(cases, "send", sent)  # SES takes it the next night
    summary = _night(LAPSES_ON + timedelta(days=1))
    assert summary["failed_rules"] == {}
    assert cases.get(case_id)["status"] == "done" and len(sent_mail("aija@kunta.fi")) == 1


# -- the refusal (Art. 12(4)) --------------------------------------------------------------


def test_a_refusal_is_mailed_with_its_reason_and_the_remedies() -> None:
    case = _open("erasure", day=DAY, lang="en")
    refused = cases.refuse(case["case_id"], "We could not confirm that the address is yours.", STAFF)
    assert refused["status"] == "refused" and refused["refusal_told_at"]
    [msg] = sent_mail("aija@kunta.fi")
    text = msg.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    assert msg["Content-Language"] == "en" and "cannot carry out" in msg["Subject"]
    assert "We could not confirm that the address is yours." in text and case["case_id"] in text
    assert "Article 12(4)" in text and "supervisory authority" in text and "judicial remedy" in text
    assert "contact" not in cases.get(case["case_id"])


def test_a_refusal_the_person_was_not_told_is_not_recorded(monkeypatch: pytest.MonkeyPatch) -> None:
    case = _open("erasure", day=DAY)

    def rejected(*_: Any, **__: Any) -> str:
        raise ClientError({"Error": {"Code": "MessageRejected", "Message": "x"}}, "SendEmail")

    monkeypatch.setattr(cases, "send", rejected)
    with pytest.raises(Conflict) as not_told:
        cases.refuse(case["case_id"], "Manifestly unfounded.", STAFF)
    assert _code(not_told) == "person_not_told"
    stored = cases.get(case["case_id"])
    assert stored["status"] == "open" and stored["contact"] == "aija@kunta.fi"
    assert [e["action"] for e in _events(case["case_id"])] == ["create"]
