"""Consent to service messages with its history (GDPR 7(1)), through the API."""

from __future__ import annotations

from typing import Any

from chalicelib import notice
from chalicelib.registers import SERVICE_MESSAGE_CONSENT
from tests.conftest import PASSWORD, Stack, Tokens, call, registration_body, sent_mail
from tests.test_customers_api import NEW_CUSTOMER

EMAIL = "asiakas@yritys.fi"  # the customer the `tokens` fixture registers


def history(client: Any, token: str) -> list[dict[str, Any]]:
    status, me = call(client, "GET", "/me", token)
    assert status == 200, me
    return list(me["customer"]["consent_history"])


def test_the_wording_is_served_with_the_notices_version(client: Any) -> None:
    status, wording = call(client, "GET", "/consent-wording?lang=en")
    assert status == 200
    assert wording == {
        "purpose": "service_messages",
        "lang": "en",
        "text": SERVICE_MESSAGE_CONSENT.en,
        "version": notice.version(),
    }
    status, doc = call(client, "GET", "/privacy-notice?lang=fi")
    assert doc["consents"] == [{"purpose": "service_messages", "text": SERVICE_MESSAGE_CONSENT.fi}]
    assert doc["version"] == wording["version"]
    status, en = call(client, "GET", "/privacy-notice?lang=en")
    [customers] = [r for r in en["registers"] if r["key"] == "customers"]
    assert "exact wording and version shown" in customers["sources"]
    assert "only to those whose consent is given and current" in customers["sources"]
    page = client.http.get("/privacy-notice?lang=fi", headers={"Accept": "text/html"})
    assert SERVICE_MESSAGE_CONSENT.fi.encode() in page.body


def test_registration_records_the_words_and_version_seen(client: Any, tokens: Tokens) -> None:
    [record] = history(client, tokens.customer)
    assert record["given"] is True and record["channel"] == "registration"
    assert record["wording"] == SERVICE_MESSAGE_CONSENT.fi and record["lang"] == "fi"
    assert record["wording_version"] == notice.version() and record["at"].endswith("Z")
    _, me = call(client, "GET", "/me", tokens.customer)
    assert me["customer"]["consent_service_messages"] == {
        "given": True,
        "at": record["at"],
        "channel": "registration",
        "wording_version": notice.version(),
    }
    assert "consent_request" not in me


def test_a_form_showing_an_outdated_wording_is_refused(client: Any, stack: Stack) -> None:
    body = registration_body("vanha", "vanha@yritys.fi", consent_wording_version="0123456789abcdef")
    status, resp = call(client, "POST", "/registrations", None, body)
    assert status == 409 and resp["error"]["code"] == "consent_wording_changed"
    assert sent_mail("vanha@yritys.fi") == []
    status, _ = call(
        client,
        "POST",
        "/registrations",
        None,
        registration_body("uusi", "uusi@yritys.fi", consent_wording_version=notice.version(), lang="en"),
    )
    assert status == 202


def test_each_answer_is_kept_in_order(client: Any, tokens: Tokens) -> None:
    body = {"consent_service_messages": False, "lang": "en", "consent_wording_version": notice.version()}
    status, shown = call(client, "PUT", "/me/consent", tokens.customer, body)
    assert status == 200 and shown["consent_service_messages"]["given"] is False
    assert call(client, "PUT", "/me/consent", tokens.customer, {"consent_service_messages": True})[0] == 200
    records = history(client, tokens.customer)
    assert [(r["given"], r["channel"], r["lang"]) for r in records] == [
        (True, "registration", "fi"),
        (False, "self_service", "en"),
        (True, "self_service", "fi"),
    ]
    assert records[1]["wording"] == SERVICE_MESSAGE_CONSENT.en
    assert records[0]["at"] <= records[1]["at"] <= records[2]["at"]
    stale = {"consent_service_messages": False, "consent_wording_version": "0" * 16}
    status, _ = call(client, "PUT", "/me/consent", tokens.customer, stale)
    assert status == 409 and len(history(client, tokens.customer)) == 3


def test_access_export_shows_the_consent_history(client: Any, tokens: Tokens) -> None:
    call(client, "PUT", "/me/consent", tokens.customer, {"consent_service_messages": False})
    status, body = call(client, "POST", "/subject-requests", tokens.staff, {"type": "access", "email": EMAIL})
    assert status == 200, body
    [customer] = [p for p in body["answer"]["parts"] if p["record_type"] == "customer"]
    assert [r["given"] for r in customer["data"]["consent_history"]] == [True, False]
    assert customer["data"]["consent_history"][0]["wording"] == SERVICE_MESSAGE_CONSENT.fi


def _staff_created(client: Any, stack: Stack, tokens: Tokens) -> tuple[str, str]:
    """A customer staff created, with a login the person has opened; (customer id, token)."""
    status, body = call(client, "POST", "/customers", tokens.staff, NEW_CUSTOMER)
    assert status == 201, body
    assert "consent_service_messages" not in body and "consent_history" not in body
    stack.cognito.admin_set_user_password(
        UserPoolId=stack.info["customer_user_pool_id"], Username="pekka.p", Password=PASSWORD, Permanent=True
    )
    return str(body["customer_id"]), stack.customer_login("pekka.p")


def test_a_customer_created_by_staff_has_no_consent_until_asked_at_first_login(
    client: Any, stack: Stack, tokens: Tokens
) -> None:
    customer_id, token = _staff_created(client, stack, tokens)
    status, me = call(client, "GET", "/me", token)
    assert status == 200 and "consent_service_messages" not in me["customer"]
    assert me["consent_request"] == notice.consent_wording("fi")
    body = {"consent_service_messages": True, "consent_wording_version": me["consent_request"]["version"]}
    assert call(client, "PUT", "/me/consent", token, body)[0] == 200
    [record] = history(client, token)
    assert record["channel"] == "self_service" and record["given"] is True
    status, me = call(client, "GET", "/me", token)
    assert "consent_request" not in me
    # Staff never answer for the person.
    status, _ = call(client, "PATCH", f"/customers/{customer_id}", tokens.staff, {"consent_history": []})
    assert status == 400


def test_a_consent_link_records_the_answer_once(client: Any, stack: Stack, tokens: Tokens) -> None:
    customer_id, _ = _staff_created(client, stack, tokens)
    status, body = call(client, "POST", f"/customers/{customer_id}/consent-request", tokens.staff)
    assert status == 202, body
    [message] = sent_mail(NEW_CUSTOMER["email"])[-1:]
    text = message.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    assert SERVICE_MESSAGE_CONSENT.fi in text
    code = next(w for w in text.split() if w.startswith(customer_id + "."))
    answer = {"token": code, "consent_service_messages": True, "consent_wording_version": notice.version()}
    status, resp = call(client, "POST", "/consent", None, answer)
    assert status == 200 and resp == {"recorded": True, "consent_service_messages": True}
    status, shown = call(client, "GET", f"/customers/{customer_id}", tokens.staff)
    assert shown["consent_service_messages"]["channel"] == "consent_link"
    assert [r["channel"] for r in shown["consent_history"]] == ["consent_link"]
    # The code is used up; a made-up one gets the same answer.
    for token in (code, customer_id + "." + "x" * 43):
        status, err = call(client, "POST", "/consent", None, {**answer, "token": token})
        assert status == 400 and err["error"]["code"] == "invalid_confirmation"
    assert len(shown["consent_history"]) == 1
