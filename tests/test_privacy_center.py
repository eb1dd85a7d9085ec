"""The privacy center: one answer for every address, the one-time link's lifecycle, the
case session, each request through a case, and the link in marketing messages."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, quote, urlparse

import pytest
from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from chalicelib import (
    cases,
    clock,
    disclosures,
    privacy_center,
    prospects,
    retention,
    store,
    subjects,
    suppression,
    unsubscribe,
)
from chalicelib.api.privacy_center import PURPOSE_NAMES
from tests import faults as f
from tests.conftest import Stack, Tokens, call, register_partner, sent_mail, setup_actor

PROSPECT_EMAIL = "pekka.prospekti@kunta.fi"
STRANGER = "ei.rekisterissa@muualla.fi"
CUSTOMER_EMAIL = "asiakas@yritys.fi"  # the `tokens` fixture's registered customer
FORM = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "text/html"}


def _prospect(client: Any, tokens: Tokens, email: str = PROSPECT_EMAIL) -> None:
    body = {"organization": "Esimerkin kunta", "contact_name": "Pekka Prospekti", "email": email}
    status, created = call(client, "POST", "/prospects", tokens.staff, body)
    assert status == 201, created


def _link(to: str) -> str:
    """The one-time link in the latest message to `to`, as its owner reads it."""
    text = sent_mail(to)[-1].get_body(preferencelist=("plain",)).get_content()
    return next(word for word in text.split() if "/privacy-center/link?" in word)


def _token(to: str) -> str:
    return parse_qs(urlparse(_link(to)).query)["token"][0]


def _ask(client: Any, email: str, kind: str = "access", lang: str = "fi") -> str:
    status, body = call(client, "POST", "/privacy-center/requests", None, {"email": email, "type": kind, "lang": lang})
    assert status == 202, body
    return _token(email)


def _redeem(client: Any, token: str) -> tuple[int, Any]:
    return call(client, "POST", "/privacy-center/link", None, {"token": token})


def _session(client: Any, email: str, kind: str = "access") -> tuple[str, str]:
    """A redeemed session for a new request: (session token, case id)."""
    status, body = _redeem(client, _ask(client, email, kind))
    assert status == 200, body
    return str(body["session"]), str(body["case"]["case_id"])


def _act(client: Any, session: str, body: dict[str, Any]) -> tuple[int, Any]:
    resp = client.http.post(
        "/privacy-center/case/actions",
        headers={"Content-Type": "application/json", "X-Case-Session": session},
        body=json.dumps(body).encode(),
    )
    return resp.status_code, json.loads(resp.body)


# -- no existence oracle ---------------------------------------------------------------------


def test_the_answer_is_the_same_for_a_person_in_the_registers_and_a_stranger(client: Any, tokens: Tokens) -> None:
    _prospect(client, tokens)
    answers = []
    for email in (PROSPECT_EMAIL, STRANGER, CUSTOMER_EMAIL):
        status, body = call(client, "POST", "/privacy-center/requests", None, {"email": email, "type": "access"})
        answers.append((status, body))
        # The same work either way: a case, and a link to the address.
        assert "/privacy-center/link?token=" in _link(email)
    assert answers[0] == answers[1] == answers[2] == (202, privacy_center.ACCEPTED)
    assert PROSPECT_EMAIL not in json.dumps(answers) and "kunta" not in json.dumps(answers)
    case_id = _token(STRANGER).split(".")[0]
    case = cases.get(case_id)
    assert case["status"] == "unverified" and case["channel"] == "privacy_center" and case["type"] == "access"
    assert "code_hash" in case["link"] and _token(STRANGER).split(".")[1] not in json.dumps(case, default=str)


def test_a_request_is_validated_before_anything_is_done(client: Any, tokens: Tokens) -> None:
    for body in (
        {"email": "not-an-address", "type": "access"},
        {"email": STRANGER, "type": "everything"},
        {"type": "access"},
        {"email": STRANGER, "token": "v1.x", "type": "access"},
    ):
        status, answer = call(client, "POST", "/privacy-center/requests", None, body)
        assert status == 400, (body, answer)
        assert STRANGER not in json.dumps(answer)
    assert sent_mail(STRANGER) == []


# -- the one-time link -------------------------------------------------------------------


def test_the_link_page_changes_nothing_and_the_post_verifies_once(client: Any, tokens: Tokens) -> None:
    token = _ask(client, STRANGER)
    case_id = token.split(".")[0]
    page = client.http.get(f"/privacy-center/link?token={quote(token)}&lang=en", headers={"Accept": "text/html"})
    assert page.status_code == 200 and b'action="link"' in page.body and b'lang="en"' in page.body
    assert cases.get(case_id)["status"] == "unverified"

    status, body = _redeem(client, token)
    assert status == 200, body
    assert body["case"]["case_id"] == case_id and body["case"]["status"] == "open"
    case = cases.get(case_id)
    assert case["verification"]["state"] == "verified" and case["verification"]["method"] == "email_link"
    assert "link" not in case

    status, again = _redeem(client, token)
    assert status == 400 and again["error"]["code"] == "invalid_link"


def test_the_session_is_a_strict_httponly_cookie_scoped_to_the_privacy_center(client: Any, tokens: Tokens) -> None:
    token = _ask(client, STRANGER)
    resp = client.http.post("/privacy-center/link", headers=FORM, body=f"token={quote(token)}&lang=fi".encode())
    assert resp.status_code == 303 and resp.headers["Location"] == "case"
    cookie = resp.headers["Set-Cookie"]
    assert cookie.startswith(f"{privacy_center.COOKIE}=")
    for flag in ("HttpOnly", "Secure", "SameSite=Strict", "Path=/privacy-center", "Max-Age=1800"):
        assert flag in cookie
    page = client.http.get("/privacy-center/case", headers={"Accept": "text/html", "Cookie": cookie.split(";")[0]})
    assert page.status_code == 200, page.body
    assert b"e***@muualla.fi" in page.body and STRANGER.encode() not in page.body
    assert b'<label for="reason">' in page.body and b"<script" not in page.body


def test_an_expired_link_does_not_verify(client: Any, tokens: Tokens) -> None:
    token = _ask(client, STRANGER)
    with clock.frozen(clock.now() + timedelta(hours=privacy_center.LINK_HOURS, seconds=1)):
        status, body = _redeem(client, token)
    assert status == 400 and body["error"]["code"] == "invalid_link"
    assert cases.get(token.split(".")[0])["status"] == "unverified"


def test_wrong_tries_lock_the_link(client: Any, tokens: Tokens) -> None:
    token = _ask(client, STRANGER)
    case_id, secret = token.split(".")
    wrong = f"{case_id}.{'A' * len(secret)}"
    for _ in range(privacy_center.MAX_ATTEMPTS):
        status, body = _redeem(client, wrong)
        assert status == 400 and body["error"]["code"] == "invalid_link"
    status, body = _redeem(client, token)  # the right one, too late
    assert status == 400 and body["error"]["code"] == "invalid_link"
    assert cases.get(case_id)["status"] == "unverified"


def test_a_tampered_or_misdirected_link_does_not_verify(client: Any, tokens: Tokens) -> None:
    mine = _ask(client, STRANGER)
    other = _ask(client, PROSPECT_EMAIL)
    case_id, secret = mine.split(".")
    tampered = [
        f"{case_id}.{secret[:-1]}{'B' if secret[-1] != 'B' else 'C'}",
        f"{case_id}.{secret}x",
        f"{case_id.upper()}.{secret}",
        secret,
        f"{'0' * 32}.{secret}",  # no such case
        f"{other.split('.')[0]}.{secret}",  # my secret against another person's case
    ]
    for token in tampered:
        status, body = _redeem(client, token)
        assert status == 400 and body["error"]["code"] == "invalid_link", token
    assert cases.get(other.split(".")[0])["link"]["attempts"] == 1  # a wrong try counts against that case
    assert _redeem(client, other)[0] == 200 and _redeem(client, mine)[0] == 200


def _case_events(case_id: str) -> list[str]:
    """The actions of the case's audit events, sorted."""
    items = store.audit().query(KeyConditionExpression=Key("pk").eq(f"RECORD#cases#{case_id}"), ConsistentRead=True)
    return sorted(str(i["action"]) for i in items["Items"])


def _still_usable(case_id: str, attempts: int = 0) -> None:
    """The case waits for verification with its link in place (the right secret still works)."""
    case = cases.get(case_id)
    assert case["status"] == "unverified" and case["verification"] == {"state": "unverified"}
    assert case["link"]["code_hash"] and case["link"]["attempts"] == attempts
    assert case["retention_rule"] == cases.RULE_UNVERIFIED


@pytest.fixture
def faults(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> f.FaultInjector:
    return f.install(monkeypatch)


def test_redeeming_uses_the_link_and_verifies_the_case_in_one_transaction(
    client: Any, tokens: Tokens, faults: f.FaultInjector
) -> None:
    token = _ask(client, STRANGER)
    case_id = token.split(".")[0]
    assert _case_events(case_id) == ["create", "link_sent"]
    transactions = faults.calls[("dynamodb", "TransactWriteItems")]
    status, body = _redeem(client, token)
    assert status == 200, body
    assert faults.calls[("dynamodb", "TransactWriteItems")] == transactions + 1
    assert _case_events(case_id) == ["create", "link_sent", "link_used", "verify"]  # exactly the two
    case = cases.get(case_id)
    assert case["status"] == "open" and case["verification"]["method"] == "email_link" and "link" not in case
    assert "retention_rule" not in case and "retention_due_at" not in case
    assert [a["what"] for a in case["actions"]] == ["received", "verified:email_link"]


@pytest.mark.parametrize("fault", [f.INTERNAL_SERVER_ERROR, f.THROTTLING], ids=["500", "throttled"])
def test_a_failed_redemption_leaves_the_link_usable_and_the_case_unverified(
    client: Any, tokens: Tokens, faults: f.FaultInjector, fault: f.Fault
) -> None:
    token = _ask(client, STRANGER)
    case_id = token.split(".")[0]
    # The transaction that verifies (before, the second of two: the link was spent by then).
    faults.inject("dynamodb", "TransactWriteItems", fault, times=f.RETRY_BUDGET, body_contains='"verify"')
    status, body = _redeem(client, token)
    assert faults.total() == f.RETRY_BUDGET
    assert status == 503 and body["error"]["code"] == "service_unavailable", body
    _still_usable(case_id)
    assert _case_events(case_id) == ["create", "link_sent"]  # neither event
    faults.clear()
    status, body = _redeem(client, token)  # the person clicks again
    assert status == 200 and body["case"]["status"] == "open", body
    assert _case_events(case_id) == ["create", "link_sent", "link_used", "verify"]


def test_a_case_changed_meanwhile_is_not_verified_and_its_link_still_works(
    client: Any, tokens: Tokens, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = _ask(client, STRANGER)
    case_id = token.split(".")[0]
    real = cases.verify_by_link

    def after_a_wrong_try(case: dict[str, Any], code_hash: str, actor: Any) -> dict[str, Any]:
        monkeypatch.setattr(cases, "verify_by_link", real)
        privacy_center._count_miss(case_id, case["link"])  # someone's wrong secret, between read and write
        return real(case, code_hash, actor)

    monkeypatch.setattr(cases, "verify_by_link", after_a_wrong_try)
    status, body = _redeem(client, token)
    assert status == 400 and body["error"]["code"] == "invalid_link", body
    _still_usable(case_id, attempts=1)
    assert _case_events(case_id) == ["create", "link_sent"]
    assert _redeem(client, token)[0] == 200


def test_of_two_racing_redeemers_one_wins(client: Any, tokens: Tokens, monkeypatch: pytest.MonkeyPatch) -> None:
    token = _ask(client, STRANGER)
    case_id = token.split(".")[0]
    real = cases.verify_by_link
    won: list[privacy_center.Session] = []

    def overtaken(case: dict[str, Any], code_hash: str, actor: Any) -> dict[str, Any]:
        monkeypatch.setattr(cases, "verify_by_link", real)
        won.append(privacy_center.redeem(token, setup_actor())[1])  # the other click gets there first
        return real(case, code_hash, actor)

    monkeypatch.setattr(cases, "verify_by_link", overtaken)
    status, body = _redeem(client, token)
    assert status == 400 and body["error"]["code"] == "invalid_link", body
    assert [s.case_id for s in won] == [case_id]
    assert cases.get(case_id)["status"] == "open"
    assert _case_events(case_id) == ["create", "link_sent", "link_used", "verify"]


# -- the session ------------------------------------------------------------------------------


def test_without_a_valid_session_nothing_is_shown(client: Any, tokens: Tokens) -> None:
    session, _ = _session(client, STRANGER)
    forged = session[:-4] + ("AAAA" if not session.endswith("AAAA") else "BBBB")
    for headers in ({}, {"X-Case-Session": forged}, {"X-Case-Session": "nonsense"}, {"Cookie": "case_session=x"}):
        resp = client.http.get("/privacy-center/case", headers=headers)
        assert resp.status_code == 400 and json.loads(resp.body)["error"]["code"] == "invalid_session"
    status, body = _act(client, forged, {"type": "access"})
    assert status == 400 and body["error"]["code"] == "invalid_session"
    with clock.frozen(clock.now() + timedelta(minutes=privacy_center.SESSION_MINUTES, seconds=1)):
        status, body = _act(client, session, {"type": "access"})
    assert status == 400 and body["error"]["code"] == "invalid_session"
    resp = client.http.get("/privacy-center/case", headers={"X-Case-Session": session})
    assert resp.status_code == 200 and json.loads(resp.body)["email"] == "e***@muualla.fi"


# -- requests within the session ------------------------------------------------------------


def test_access_shows_the_data_with_its_sources_and_recipients_and_closes_the_case(client: Any, tokens: Tokens) -> None:
    _prospect(client, tokens)
    session, case_id = _session(client, PROSPECT_EMAIL)
    status, body = _act(client, session, {"type": "access"})
    assert status == 200, body
    assert body["case"]["case_id"] == case_id and body["case"]["status"] == "done"
    [part] = body["answer"]["parts"]
    assert part["data"]["contact_name"] == "Pekka Prospekti" and "sources" in part and "disclosures" in part
    # Seeing it again within the session is a new access case of the same address, also done.
    resp = client.http.post(
        "/privacy-center/case/actions",
        headers={**FORM, "X-Case-Session": session},
        body=b"type=access&format=html&lang=en",
    )
    assert resp.status_code == 200 and b"Pekka Prospekti" in resp.body
    assert b"Who the data was disclosed to" not in resp.body
    assert b"Your data has not been disclosed to anyone." in resp.body
    download = client.http.post(
        "/privacy-center/case/actions", headers={**FORM, "X-Case-Session": session}, body=b"type=access&format=json"
    )
    assert download.status_code == 200 and "attachment" in download.headers["Content-Disposition"]
    assert json.loads(download.body)["parts"][0]["data"]["email"] == PROSPECT_EMAIL


def test_the_readable_page_names_the_recipients_from_the_disclosure_log(
    client: Any, stack: Stack, tokens: Tokens
) -> None:
    _prospect(client, tokens)
    register_partner(stack, "soittajat", "marketing")
    [profile] = subjects.find(PROSPECT_EMAIL).prospects
    prospect_id = retention.record_id(prospects.REGISTER, profile)
    assert disclosures.record([prospect_id], "soittajat", "call_list", setup_actor()) == {prospect_id}
    session, _ = _session(client, PROSPECT_EMAIL)
    resp = client.http.post(
        "/privacy-center/case/actions", headers={**FORM, "X-Case-Session": session}, body=b"type=access&format=html"
    )
    assert resp.status_code == 200, resp.body
    page = resp.body.decode()
    assert "Kenelle tietoja on luovutettu: soittajat Oy (puhelukampanjan soittolista" in page
    assert "Yhteyshenkilön nimi" in page and "Pekka Prospekti" in page  # fields under their labels
    assert '<html lang="fi">' in page and "<script" not in page
    for lang in ("fi", "en"):  # every purpose the log can hold has its words
        assert set(PURPOSE_NAMES[lang]) == set(disclosures.PURPOSES)


def test_an_address_ses_refuses_gets_the_same_answer(
    client: Any, tokens: Tokens, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(msg: Any, purpose: str) -> str:
        raise ClientError({"Error": {"Code": "MessageRejected", "Message": "refused"}}, "SendEmail")

    monkeypatch.setattr(privacy_center, "send", refuse)
    status, body = call(client, "POST", "/privacy-center/requests", None, {"email": STRANGER, "type": "access"})
    assert (status, body) == (202, privacy_center.ACCEPTED)

    def throttled(msg: Any, purpose: str) -> str:
        raise ClientError({"Error": {"Code": "TooManyRequestsException", "Message": "slow down"}}, "SendEmail")

    def unsendable(msg: Any, purpose: str) -> str:  # e.g. a Unicode local part SES cannot send to
        raise ClientError({"Error": {"Code": "BadRequestException", "Message": "bad address"}}, "SendEmail")

    monkeypatch.setattr(privacy_center, "send", unsendable)
    status, body = call(client, "POST", "/privacy-center/requests", None, {"email": STRANGER, "type": "access"})
    assert (status, body) == (202, privacy_center.ACCEPTED)

    monkeypatch.setattr(privacy_center, "send", throttled)
    status, body = call(client, "POST", "/privacy-center/requests", None, {"email": STRANGER, "type": "access"})
    assert status == 503 and body["error"]["code"] == "service_unavailable"  # the client retries


def test_one_address_gets_a_few_links_a_day_and_then_the_same_answer_without_a_message(
    client: Any, tokens: Tokens
) -> None:
    start = clock.now()
    with clock.frozen(start):
        for _ in range(privacy_center.LINKS_PER_ADDRESS_PER_DAY):
            _ask(client, STRANGER)
        sent = len(sent_mail(STRANGER))
        opened = len(_all_cases())
        status, body = call(client, "POST", "/privacy-center/requests", None, {"email": STRANGER, "type": "erasure"})
        assert (status, body) == (202, privacy_center.ACCEPTED)  # the same answer: no flood, no oracle
        assert len(sent_mail(STRANGER)) == sent and len(_all_cases()) == opened
        _ask(client, "toinen@muualla.fi")  # another address is not held back
    with clock.frozen(start + timedelta(hours=24, minutes=1)):
        _ask(client, STRANGER)  # a day later the address may ask again
    assert len(sent_mail(STRANGER)) == sent + 1


def test_objection_is_carried_out_at_once(client: Any, tokens: Tokens) -> None:
    _prospect(client, tokens)
    session, case_id = _session(client, PROSPECT_EMAIL)  # an access request; the person then objects
    status, body = _act(client, session, {"type": "objection"})
    assert status == 200, body
    assert body["case"]["type"] == "objection" and body["case"]["status"] == "done"
    assert body["case"]["case_id"] != case_id
    assert suppression.is_suppressed(PROSPECT_EMAIL)
    assert cases.get(body["case"]["case_id"])["verification"]["method"] == "email_link"


def test_erasure_of_a_prospect_carries_itself_out(client: Any, tokens: Tokens) -> None:
    _prospect(client, tokens)
    session, case_id = _session(client, PROSPECT_EMAIL, "erasure")
    status, body = _act(client, session, {"type": "erasure"})
    assert status == 200, body
    assert body["case"]["case_id"] == case_id
    assert subjects.find(PROSPECT_EMAIL).prospects == []
    assert body["case"]["status"] == "done"


def test_erasure_of_a_customer_waits_for_staff(client: Any, tokens: Tokens) -> None:
    session, case_id = _session(client, CUSTOMER_EMAIL, "erasure")
    status, body = _act(client, session, {"type": "erasure"})
    assert status == 200, body
    assert body["case"]["case_id"] == case_id and body["case"]["status"] == "open" and body["answer"] is None
    status, me = call(client, "GET", "/me", tokens.customer)
    assert status == 200 and me["customer"]["email"] == CUSTOMER_EMAIL


def test_a_case_waiting_for_the_person_shows_the_day_it_closes_unless_they_answer(client: Any, tokens: Tokens) -> None:
    session, case_id = _session(client, CUSTOMER_EMAIL, "erasure")
    status, body = _act(client, session, {"type": "erasure"})
    assert status == 200 and "lapses_on" not in body["case"], body
    status, waiting = call(client, "POST", f"/cases/{case_id}/wait", tokens.staff, {"reason": "Asiakassopimus kesken"})
    assert status == 200 and waiting["lapses_on"], waiting
    resp = client.http.get("/privacy-center/case", headers={"X-Case-Session": session})
    shown = json.loads(resp.body)["case"]
    assert shown["status"] == "waiting_for_person" and shown["lapses_on"] == waiting["lapses_on"]
    assert "waiting_reason" not in shown  # staff's own note; staff ask the person themselves
    page = client.http.get("/privacy-center/case?lang=en", headers={"X-Case-Session": session, "Accept": "text/html"})
    assert page.status_code == 200
    # The sweep closes it in the small hours of that day: an answer must come before it.
    assert f"If it has not reached us before {waiting['lapses_on']}, we close the" in page.body.decode()


def test_rectification_goes_to_staff_with_the_asked_changes(client: Any, tokens: Tokens) -> None:
    _prospect(client, tokens)
    session, case_id = _session(client, PROSPECT_EMAIL)
    resp = client.http.post(
        "/privacy-center/case/actions",
        headers={**FORM, "X-Case-Session": session},
        body=b"type=rectification&change_title=Kunnanjohtaja&change_phone=&lang=fi",
    )
    assert resp.status_code == 200, resp.body
    [new] = [c for c in _all_cases() if c["type"] == "rectification"]
    assert new["status"] == "open" and cases.asked(new)["changes"] == {"title": "Kunnanjohtaja"}
    assert cases.asked(new)["from_case"] == case_id
    status, body = _act(client, session, {"type": "rectification"})
    assert status == 400 and body["error"]["details"][0]["field"] == "changes"
    status, body = _act(client, session, {"type": "rectification", "changes": {"password": "x"}})
    assert status == 400 and body["error"]["details"][0]["field"].startswith("changes")


def test_corrections_on_the_sessions_own_case_are_checked_and_kept_for_staff(client: Any, tokens: Tokens) -> None:
    _prospect(client, tokens)
    session, case_id = _session(client, PROSPECT_EMAIL, "rectification")
    status, body = _act(client, session, {"type": "rectification", "changes": {"business_id": "123"}})
    assert status == 400, body
    assert "details" not in cases.get(case_id)
    status, body = _act(client, session, {"type": "rectification", "changes": {"title": "Kunnanjohtaja"}})
    assert status == 200, body
    assert body["case"]["case_id"] == case_id and body["case"]["status"] == "open" and body["answer"] is None
    assert cases.asked(cases.get(case_id)) == {"changes": {"title": "Kunnanjohtaja"}}
    assert body["case"]["type"] == "rectification"
    [profile] = subjects.find(PROSPECT_EMAIL).prospects
    assert "title" not in profile  # nothing changed before staff carry it out


def test_restriction_is_carried_out_with_its_ground(client: Any, tokens: Tokens) -> None:
    _prospect(client, tokens)
    session, _ = _session(client, PROSPECT_EMAIL, "restriction")
    status, body = _act(client, session, {"type": "restriction"})
    assert status == 400 and body["error"]["details"][0]["field"] == "reason"
    status, body = _act(client, session, {"type": "restriction", "reason": "accuracy_contested"})
    assert status == 200, body
    [profile] = subjects.find(PROSPECT_EMAIL).prospects
    assert profile["restriction"]["reason"] == "accuracy_contested"


def test_a_restriction_that_would_keep_the_data_waits_for_staff(client: Any, tokens: Tokens) -> None:
    _prospect(client, tokens)
    session, _ = _session(client, PROSPECT_EMAIL, "restriction")
    status, body = _act(client, session, {"type": "restriction", "reason": "needed_for_legal_claims"})
    assert status == 200, body
    assert body["case"]["status"] == "open" and not body.get("answer")
    [profile] = subjects.find(PROSPECT_EMAIL).prospects
    assert "restriction" not in profile  # staff check the ground before the data is kept from deletion
    assert cases.asked(cases.get(body["case"]["case_id"]))["reason"] == "needed_for_legal_claims"


def _all_cases() -> list[dict[str, Any]]:
    return list(store.request_cases().scan(ConsistentRead=True)["Items"])


# -- cross-site form posts (chalicelib/api/cross_origin.py) ------------------------------------

HOST = "rekisterit.ilopiste.test"


def _post(client: Any, path: str, body: str, **headers: str) -> Any:
    return client.http.post(path, headers={**FORM, "Host": HOST, **headers}, body=body.encode())


def test_a_cross_site_form_post_is_refused_on_each_route_and_changes_nothing(client: Any, tokens: Tokens) -> None:
    _prospect(client, tokens)
    token = _ask(client, STRANGER)
    session, _ = _session(client, PROSPECT_EMAIL)
    cookie = f"{privacy_center.COOKIE}={session}"
    opened, mailed = len(_all_cases()), len(sent_mail(PROSPECT_EMAIL))
    cross = {"Sec-Fetch-Site": "cross-site", "Accept-Language": "en"}  # the page: the browser's language
    refused = [
        _post(client, "/privacy-center/requests", f"email={quote(PROSPECT_EMAIL)}&type=erasure&lang=fi", **cross),
        _post(client, "/privacy-center/link", f"token={quote(token)}&lang=fi", **cross),  # login CSRF
        _post(client, "/privacy-center/case/actions", "type=objection&lang=fi", Cookie=cookie, **cross),
    ]
    for resp in refused:
        assert resp.status_code == 403, resp.body
        assert b"The form was sent from another site, so nothing was done." in resp.body  # the center's error page
        assert b'<html lang="en">' in resp.body and "Set-Cookie" not in resp.headers
        assert PROSPECT_EMAIL.encode() not in resp.body and token.encode() not in resp.body
    _still_usable(token.split(".")[0])  # the link was not used
    assert len(_all_cases()) == opened and len(sent_mail(PROSPECT_EMAIL)) == mailed  # no case, no link, no objection
    assert not suppression.is_suppressed(PROSPECT_EMAIL)
    # A JSON client that says it is a cross-site page gets the JSON error; same-site is another site too.
    for site in ("cross-site", "same-site"):
        resp = client.http.post(
            "/privacy-center/link",
            headers={"Content-Type": "application/json", "Sec-Fetch-Site": site},
            body=json.dumps({"token": token}).encode(),
        )
        assert resp.status_code == 403 and json.loads(resp.body)["error"]["code"] == "cross_origin_request"
    _still_usable(token.split(".")[0])


@pytest.mark.parametrize(
    "headers",
    [
        {"Sec-Fetch-Site": "same-origin"},  # our own page's form
        {"Sec-Fetch-Site": "none"},  # the person's own navigation
        {"Sec-Fetch-Site": "same-origin", "Origin": "https://elsewhere.test"},  # the browser's word counts
        {"Origin": f"https://{HOST}"},  # an older browser, from our own page
        {},  # not a browser: an API client
    ],
    ids=["same-origin", "none", "fetch-site-over-origin", "origin-matches", "no-headers"],
)
def test_a_post_from_our_own_pages_or_no_browser_passes(client: Any, tokens: Tokens, headers: dict[str, str]) -> None:
    resp = _post(client, "/privacy-center/requests", f"email={quote(STRANGER)}&type=access&lang=fi", **headers)
    assert resp.status_code == 202, resp.body
    resp = _post(client, "/privacy-center/link", f"token={quote(_token(STRANGER))}", **headers)
    assert resp.status_code == 303 and resp.headers["Set-Cookie"].startswith("case_session="), resp.body
    cookie = resp.headers["Set-Cookie"].split(";")[0]
    resp = _post(client, "/privacy-center/case/actions", "type=objection", Cookie=cookie, **headers)
    assert resp.status_code == 200, resp.body
    assert suppression.is_suppressed(STRANGER)


@pytest.mark.parametrize("origin", ["https://elsewhere.test", "null", f"http://{HOST}:8443"])
def test_an_older_browsers_post_from_another_origin_is_refused(client: Any, tokens: Tokens, origin: str) -> None:
    token = _ask(client, STRANGER)
    resp = _post(client, "/privacy-center/link", f"token={quote(token)}", Origin=origin)
    assert resp.status_code == 403 and b"toiselta sivustolta" in resp.body  # Finnish by default
    _still_usable(token.split(".")[0])


# -- the link in messages -------------------------------------------------------------------


def test_a_messages_signed_link_opens_the_privacy_center_for_its_address(client: Any, tokens: Tokens) -> None:
    from chalicelib.mail import compose

    token = unsubscribe.issue(PROSPECT_EMAIL)
    msg = compose.marketing(PROSPECT_EMAIL, "Tarjous", "Hei", token, "fi")
    plain = msg.get_body(preferencelist=("plain",)).get_content()
    rich = msg.get_body(preferencelist=("html",)).get_content()
    url = unsubscribe.privacy_center_url(token, "fi")
    assert url in plain and url.replace("&", "&amp;") in rich
    page = client.http.get(urlparse(url).path + "?" + urlparse(url).query, headers={"Accept": "text/html"})
    assert page.status_code == 200 and b"p***@kunta.fi" in page.body and PROSPECT_EMAIL.encode() not in page.body
    assert b'action="unsubscribe"' in page.body and b'action="privacy-center/requests"' in page.body

    resp = client.http.post(
        "/privacy-center/requests", headers=FORM, body=f"token={quote(token)}&type=erasure&lang=fi".encode()
    )
    assert resp.status_code == 202 and b"Tarkista" in resp.body
    case = cases.get(_token(PROSPECT_EMAIL).split(".")[0])
    assert case["type"] == "erasure" and case["status"] == "unverified"

    status, body = call(client, "GET", "/privacy-center?token=broken")
    assert status == 400 and body["error"]["code"] == "invalid_token"


@pytest.mark.parametrize("lang", ["fi", "en"])
def test_pages_are_in_the_persons_language(client: Any, lang: str) -> None:
    page = client.http.get(f"/privacy-center?lang={lang}", headers={"Accept": "text/html"})
    assert page.status_code == 200 and f'<html lang="{lang}">'.encode() in page.body
    assert b'<meta name="viewport"' in page.body and b'<label for="email">' in page.body
    assert page.headers["Content-Language"] == lang


def test_a_session_sealed_before_pycryptodome_still_opens(stack: Stack) -> None:
    """A session token sealed by the old code (cryptography's AESGCM) opens with the new code."""
    import base64
    import hashlib
    import hmac
    import os

    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    from chalicelib.config import settings
    from chalicelib.secrets import keyring

    ring = keyring(settings().unsubscribe_secret)
    expires = int((clock.now() + timedelta(minutes=5)).timestamp())
    payload = json.dumps({"c": "case-1", "e": CUSTOMER_EMAIL, "l": "en", "x": expires}, separators=(",", ":"))
    key = hmac.new(ring.current_key, b"ilopiste/case-session/v1", hashlib.sha256).digest()
    nonce = os.urandom(12)
    sealed = AESGCM(key).encrypt(nonce, payload.encode(), ring.current.encode())
    old = f"{ring.current}." + base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")
    session = privacy_center.open_session(old)
    assert (session.case_id, session.email, session.lang, session.expires) == ("case-1", CUSTOMER_EMAIL, "en", expires)
    # The new code's sessions open with the old code too (a deploy mid-session changes nothing).
    new, _ = privacy_center.seal_session("case-2", CUSTOMER_EMAIL, "fi")
    version, body = new.split(".")
    raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    assert json.loads(AESGCM(key).decrypt(raw[:12], raw[12:], version.encode()))["c"] == "case-2"
