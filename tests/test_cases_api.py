"""Request cases through the API: staff open and work cases by due date; the instant flows
(POST /subject-requests, the unsubscribe link and one-click, a customer's /me/requests) go
through cases; each step is audited under the case and refused when its status does not
allow it. The deadline arithmetic itself is tested in tests/test_cases.py."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any
from urllib.parse import quote

from chalicelib import clock, suppression
from tests.conftest import Tokens, call, sent_mail

LETTER = {"type": "access", "email": "Sari@Sote.fi", "channel": "staff_letter"}


def _case(client: Any, tokens: Tokens, case_id: str) -> dict[str, Any]:
    status, body = call(client, "GET", f"/cases/{case_id}", tokens.staff)
    assert status == 200, body
    return dict(body)


def _step(client: Any, token: str, case_id: str, step: str, body: Any = None) -> tuple[int, Any]:
    return call(client, "POST", f"/cases/{case_id}/{step}", token, {} if body is None else body)


def test_staff_open_verify_and_carry_out_a_letter(client: Any, tokens: Tokens) -> None:
    status, opened = call(client, "POST", "/cases", tokens.staff, LETTER)
    assert status == 201, opened
    case_id = opened["case_id"]
    assert opened["status"] == "unverified" and opened["channel"] == "staff_letter"
    assert "contact" not in opened and "email_hash" not in opened and "sote" not in json.dumps(opened).lower()
    assert opened["due_at"] > clock.local_date().isoformat()

    status, refused = _step(client, tokens.staff, case_id, "carry-out")
    assert status == 409 and refused["error"]["code"] == "case_not_open"
    status, page = call(client, "GET", "/cases?status=unverified", tokens.staff)
    assert status == 200 and [i["case_id"] for i in page["items"]] == [case_id]

    status, verified = _step(client, tokens.staff, case_id, "verify")
    assert status == 200 and verified["status"] == "open"
    assert verified["verification"]["method"] == "staff_checked"
    status, again = _step(client, tokens.staff, case_id, "verify")
    assert status == 409 and again["error"]["code"] == "case_not_unverified"

    status, carried = _step(client, tokens.dpo, case_id, "carry-out")
    assert status == 200, carried
    # A letter is answered by letter: the case stays open until staff say how the answer went.
    assert carried["case"]["status"] == "open" and carried["case"]["outcome"] == "nothing_found"
    assert carried["answer"]["parts"] == []
    assert [c["case_id"] for c in carried["answer"]["request_cases"]] == [case_id]
    status, done = _step(
        client, tokens.staff, case_id, "close", {"outcome": "Nothing held; told by letter.", "delivery": "letter"}
    )
    assert status == 200, done
    assert done["status"] == "done" and done["delivery"] == "letter"
    status, page = call(client, "GET", "/cases?status=done", tokens.staff)
    assert [i["case_id"] for i in page["items"]] == [case_id]
    assert call(client, "GET", "/cases", tokens.staff)[1]["items"] == []

    status, events = call(client, "GET", f"/audit/records/cases/{case_id}", tokens.dpo)
    assert status == 200
    actions = sorted(e["action"] for e in events["items"])
    assert actions == ["carry_out", "close", "create", "export", "list", "list", "verify"]
    assert "sote" not in json.dumps(events).lower()


def test_wait_resume_extend_close_and_refuse_through_the_api(client: Any, tokens: Tokens) -> None:
    body = {**LETTER, "type": "rectification", "verified_by": "staff_checked", "lang": "en"}
    body["details"] = {"changes": {"contact_name": "Sari Sote"}}
    status, opened = call(client, "POST", "/cases", tokens.staff, body)
    assert status == 201 and opened["status"] == "open" and opened["details"] == body["details"]
    case_id = opened["case_id"]

    status, waiting = _step(client, tokens.staff, case_id, "wait", {"reason": "Which organisation?"})
    assert status == 200 and waiting["status"] == "waiting_for_person"
    lapses = date.fromisoformat(waiting["paused_since"]) + timedelta(days=60)
    assert waiting["lapses_on"] == lapses.isoformat() and "kept_until" not in waiting
    status, refused = _step(client, tokens.staff, case_id, "carry-out")
    assert status == 409 and refused["error"]["code"] == "case_not_open"
    status, resumed = call(client, "POST", f"/cases/{case_id}/resume", tokens.staff)
    assert status == 200 and resumed["status"] == "open" and resumed["paused_days"] == 0
    assert "lapses_on" not in resumed
    status, refused = call(client, "POST", f"/cases/{case_id}/resume", tokens.staff)
    assert status == 409 and refused["error"]["code"] == "case_not_waiting"

    status, extended = _step(client, tokens.staff, case_id, "extend", {"months": 2, "reason": "Many requests now."})
    assert status == 200 and extended["extension"]["months"] == 2, extended
    [msg] = sent_mail("sari@sote.fi")
    assert "Many requests now." in str(msg.get_body(preferencelist=("plain",)).get_content())  # type: ignore[union-attr]
    status, refused = _step(client, tokens.staff, case_id, "extend", {"months": 1, "reason": "More."})
    assert status == 409 and refused["error"]["code"] == "already_extended"
    assert _step(client, tokens.staff, case_id, "extend", {"months": 3, "reason": "x"})[0] == 400

    status, done = _step(client, tokens.staff, case_id, "carry-out")
    assert status == 200 and done["case"]["status"] == "open" and done["answer"]["updated"] == []
    status, closed = _step(
        client, tokens.staff, case_id, "close", {"outcome": "Not in the registers.", "delivery": "email"}
    )
    assert status == 200 and closed["status"] == "done" and "details" not in closed
    assert _step(client, tokens.staff, case_id, "close", {"outcome": "x", "delivery": "fax"})[0] == 400
    status, refused = _step(client, tokens.staff, case_id, "refuse", {"reason": "late"})
    assert status == 409 and refused["error"]["code"] == "case_closed"

    status, other = call(client, "POST", "/cases", tokens.staff, LETTER)
    status, refused = _step(client, tokens.dpo, other["case_id"], "refuse", {"reason": "Identity not shown."})
    assert status == 200 and refused["status"] == "refused" and refused["refusal_reason"] == "Identity not shown."
    assert call(client, "GET", "/cases?status=refused", tokens.staff)[1]["items"][0]["case_id"] == other["case_id"]


def test_staff_cannot_claim_a_channel_or_verification_of_the_person(client: Any, tokens: Tokens) -> None:
    for bad in ({"channel": "privacy_center"}, {"verified_by": "email_link"}, {"type": "complaint"}):
        status, body = call(client, "POST", "/cases", tokens.staff, {**LETTER, **bad})
        assert status == 400, body
    status, body = call(
        client, "POST", "/cases", tokens.staff, {**LETTER, "type": "rectification", "details": {"changes": {"x": 1}}}
    )
    assert status == 400  # a change no register takes opens no case
    assert call(client, "GET", "/cases", tokens.staff)[1]["items"] == []
    assert call(client, "GET", "/cases/" + "0" * 32, tokens.staff)[0] == 404
    assert call(client, "GET", "/cases?status=lost", tokens.staff)[0] == 400


def test_subject_requests_open_a_staff_checked_case_and_carry_it_out(client: Any, tokens: Tokens) -> None:
    status, body = call(client, "POST", "/subject-requests", tokens.staff, {"type": "access", "email": "x@kunta.fi"})
    assert status == 200, body
    assert body["request"]["type"] == "access" and body["answer"]["parts"] == []
    case = _case(client, tokens, body["case_id"])
    assert case["status"] == "open" and case["verification"]["method"] == "staff_checked"
    assert case["channel"] == "staff_email" and case["outcome"] == "nothing_found"  # open until staff send it
    access_case = case["case_id"]

    change = {"type": "rectification", "email": "asiakas@yritys.fi", "changes": {"phone": "050 111 2222"}}
    status, body = call(client, "POST", "/subject-requests", tokens.staff, {**change, "channel": "staff_phone"})
    assert status == 200 and body["answer"]["updated"], body
    case = _case(client, tokens, body["case_id"])
    assert case["status"] == "open" and case["channel"] == "staff_phone"  # staff close it once the person is told
    status, body = call(client, "POST", "/subject-requests", tokens.staff, {**change, "changes": {"phone": "nope"}})
    assert status == 400
    restrict = {"type": "restriction", "email": "asiakas@yritys.fi"}
    status, body = call(client, "POST", "/subject-requests", tokens.staff, restrict)  # no ground given
    assert status == 400, body
    status, body = call(client, "POST", "/subject-requests", tokens.staff, {**restrict, "changes": {"reason": "nope"}})
    assert status == 400, body
    listed = {i["case_id"] for i in call(client, "GET", "/cases", tokens.staff)[1]["items"]}
    assert listed == {case["case_id"], access_case}  # the refused requests opened no case
    status, recorded = call(client, "GET", "/subject-requests", tokens.staff)
    assert [e["type"] for e in recorded["items"]] == ["rectification", "access"]


def test_the_unsubscribe_link_and_one_click_close_objection_cases(client: Any, tokens: Tokens) -> None:
    tokens_by_email = {}
    for email in ("a@kunta.fi", "b@kunta.fi"):
        status, link = call(client, "POST", "/unsubscribe-links", tokens.staff, {"email": email})
        assert status == 201
        tokens_by_email[email] = link["token"]
    assert call(client, "POST", "/unsubscribe", None, {"token": tokens_by_email["a@kunta.fi"]})[0] == 200
    resp = client.http.post(
        f"/unsubscribe/one-click?token={quote(tokens_by_email['b@kunta.fi'])}",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        body="List-Unsubscribe=One-Click",
    )
    assert resp.status_code == 200, resp.body
    assert suppression.is_suppressed("a@kunta.fi") and suppression.is_suppressed("b@kunta.fi")
    status, page = call(client, "GET", "/cases?status=done", tokens.staff)
    assert status == 200
    cases = {i["channel"]: i for i in page["items"]}
    assert set(cases) == {"unsubscribe_link", "one_click_unsubscribe"}
    for case in cases.values():
        assert case["type"] == "objection" and case["verification"]["method"] == "unsubscribe_link"
        assert case["outcome"] == "objection_recorded" and "handler" not in case


def test_a_customer_asks_through_me_requests(client: Any, tokens: Tokens) -> None:
    status, body = call(client, "POST", "/me/requests", tokens.customer, {"type": "portability"})
    assert status == 201, body
    assert body["case"]["status"] == "done" and body["case"]["verification"]["method"] == "signed_in"
    [record] = [r for r in body["answer"]["records"] if r["record_type"] == "customer"]
    assert record["data"]["email"] == "asiakas@yritys.fi"

    status, body = call(client, "POST", "/me/requests", tokens.customer, {"type": "erasure"})
    assert status == 201 and "answer" not in body
    case = _case(client, tokens, body["case"]["case_id"])
    assert case["status"] == "open" and case["channel"] == "self_service" and case["type"] == "erasure"
    status, me = call(client, "GET", "/me", tokens.customer)
    assert me["customer"]["email"] == "asiakas@yritys.fi"  # staff carry it out
    status, body = call(
        client, "POST", "/me/requests", tokens.customer, {"type": "restriction", "details": {"reason": "maybe"}}
    )
    assert status == 400


def test_the_art30_record_states_what_cases_hold_and_how_long(client: Any, tokens: Tokens) -> None:
    status, record = call(client, "GET", "/records-of-processing", tokens.dpo)
    assert status == 200
    cases = record["request_cases"]
    assert "keyed (HMAC) hash" in cases["categories_of_personal_data"]
    assert "3 years from closing" in cases["retention"] and "30 days from receipt" in cases["retention"]
    assert "waiting for the person's answer closed after 60 days with no answer" in cases["retention"]
    assert cases["legal_basis"].startswith("GDPR 6(1)(c)")
