"""Addresses proven before they count: registration and a customer's new email, by mailed codes."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from chalicelib import clock, confirmations, customers, pseudonyms, retention
from tests.conftest import PASSWORD, Stack, Tokens, call, mailed_code, registration_body, sent_mail
from tests.template import MERGE_TEMPLATE

REGISTERED = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)


def _register(client: Any, username: str = "uusi", email: str = "uusi@firma.fi", **overrides: Any) -> None:
    status, body = call(client, "POST", "/registrations", None, registration_body(username, email, **overrides))
    assert status == 202, body


def _confirm(client: Any, token: str) -> tuple[int, Any]:
    return call(client, "POST", "/registrations/confirm", None, {"token": token})


def _profile(stack: Stack, email: str) -> dict[str, Any] | None:
    guard = stack.table("customers").get_item(Key=customers.email_guard(pseudonyms.email_hash(email))).get("Item")
    if not guard:
        return None
    key = {"pk": f"CUSTOMER#{guard['customer_id']}", "sk": "PROFILE"}
    item: dict[str, Any] | None = stack.table("customers").get_item(Key=key).get("Item")
    return item


def test_unconfirmed_registration_cannot_sign_in_is_not_listed_and_has_no_consent(
    client: Any, stack: Stack, tokens: Tokens
) -> None:
    _register(client)
    item = _profile(stack, "uusi@firma.fi")
    assert item is not None and item["status"] == "unconfirmed"
    assert "consent_service_messages" not in item
    # Only a keyed hash of the code is kept, never the code itself.
    code = mailed_code("uusi@firma.fi")
    assert code.split(".", 1)[1] not in json.dumps(item, default=str)
    with pytest.raises(ClientError) as refused:
        stack.customer_login("uusi")
    assert refused.value.response["Error"]["Code"] == "NotAuthorizedException"
    listed = call(client, "GET", "/customers", tokens.staff)[1]["items"]
    assert [c["customer_id"] for c in listed] == [tokens.customer_id]
    assert call(client, "POST", "/customers/search", tokens.staff, {"email": "uusi@firma.fi"})[1]["items"] == []

    status, body = _confirm(client, code)
    assert status == 200, body
    assert body["customer"]["consent_service_messages"]["given"] is True
    token = stack.customer_login("uusi")
    status, me = call(client, "GET", "/me", token)
    assert status == 200 and me["customer"]["status"] == "active"
    assert len(call(client, "GET", "/customers", tokens.staff)[1]["items"]) == 2
    # A code works once.
    used = _confirm(client, code)
    assert used[0] == 400 and used[1]["error"]["code"] == "invalid_confirmation"


def test_every_invalid_code_gets_the_same_answer_and_guesses_are_limited(client: Any, stack: Stack) -> None:
    with clock.frozen(REGISTERED):
        _register(client)
    code = mailed_code("uusi@firma.fi")
    customer_id, secret = code.split(".", 1)
    wrong = f"{customer_id}.{'x' * len(secret)}"
    answers = [
        _confirm(client, "not-a-code"),
        _confirm(client, f"{'0' * 32}.{secret}"),  # no such registration
    ]
    with clock.frozen(REGISTERED + timedelta(hours=confirmations.VALID_HOURS, seconds=1)):
        answers.append(_confirm(client, code))  # expired
    with clock.frozen(REGISTERED + timedelta(hours=1)):
        for _ in range(confirmations.MAX_ATTEMPTS):
            answers.append(_confirm(client, wrong))
        answers.append(_confirm(client, code))  # the right code, after too many wrong guesses
    assert {json.dumps(a, sort_keys=True) for a in answers} == {json.dumps(answers[0], sort_keys=True)}, answers
    assert answers[0][0] == 400
    item = _profile(stack, "uusi@firma.fi")
    assert item is not None and item["status"] == "unconfirmed"


def test_an_expired_registration_is_deleted_by_the_sweep_and_frees_its_address(client: Any, stack: Stack) -> None:
    with clock.frozen(REGISTERED):
        _register(client)
    due = (REGISTERED + timedelta(hours=confirmations.VALID_HOURS)).date() + timedelta(days=1)
    assert retention.sweep(due - timedelta(days=1))["rules"]["customer_unconfirmed"]["due"] == 0
    run = retention.sweep(due)
    assert run["rules"]["customer_unconfirmed"]["done"] == 1
    assert _profile(stack, "uusi@firma.fi") is None
    assert (
        stack.table("customers").get_item(Key=customers.username_guard(pseudonyms.username_hash("uusi"))).get("Item")
        is None
    )
    with pytest.raises(ClientError):
        stack.customer_user("uusi")
    # The address and the username can be registered again, and that registration confirms.
    _register(client)
    assert _confirm(client, mailed_code("uusi@firma.fi"))[0] == 200


def test_a_confirmed_registration_is_never_swept_as_unconfirmed(client: Any, stack: Stack) -> None:
    with clock.frozen(REGISTERED):
        _register(client)
        assert _confirm(client, mailed_code("uusi@firma.fi"))[0] == 200
    assert retention.sweep(date(2026, 3, 20))["rules"]["customer_unconfirmed"]["due"] == 0
    assert stack.customer_login("uusi")


def test_messages_are_from_the_controller_in_finnish_unless_english_is_asked(client: Any, stack: Stack) -> None:
    _register(client)
    _register(client, "english", "english@firma.fi", lang="en")
    fi, en = sent_mail("uusi@firma.fi")[-1], sent_mail("english@firma.fi")[-1]
    assert fi["From"].addresses[0].addr_spec == stack.info["mail_from"] == "ilopiste@kuntotimpurit.fi"
    assert fi["Content-Language"] == "fi" and "Vahvista" in fi["Subject"]
    assert en["Content-Language"] == "en" and en["Subject"] == "Confirm your registration"
    assert fi.get_content_type() == "text/plain"
    assert PASSWORD not in fi.as_string()


def test_new_email_counts_only_once_the_new_address_confirms(client: Any, stack: Stack, tokens: Tokens) -> None:
    status, body = call(
        client, "PATCH", "/me", tokens.customer, {"email": "uusi.osoite@yritys.fi", "contact_name": "Maija V"}
    )
    assert status == 200, body
    assert body["email"] == "asiakas@yritys.fi" and body["contact_name"] == "Maija V"
    assert body["email_change"] == {"status": "confirmation_sent"}
    code = mailed_code("uusi.osoite@yritys.fi")
    # Another customer cannot use it, and neither can a guess.
    other_id = stack.table("customers").get_item(Key=customers.email_guard(pseudonyms.email_hash("asiakas@yritys.fi")))[
        "Item"
    ]
    assert other_id["customer_id"] == tokens.customer_id
    wrong = code[:-4] + ("aaaa" if not code.endswith("aaaa") else "bbbb")
    assert call(client, "POST", "/me/email/confirm", tokens.customer, {"token": wrong})[0] == 400
    assert call(client, "GET", "/me", tokens.customer)[1]["customer"]["email"] == "asiakas@yritys.fi"
    assert call(client, "POST", "/registrations/confirm", None, {"token": code})[0] == 400

    status, body = call(client, "POST", "/me/email/confirm", tokens.customer, {"token": code})
    assert status == 200, body
    assert body["email"] == "uusi.osoite@yritys.fi"
    attrs = stack.customer_user("asiakas")["UserAttributes"]
    assert {"Name": "email", "Value": "uusi.osoite@yritys.fi"} in attrs
    assert {"Name": "email_verified", "Value": "true"} in attrs
    assert call(client, "POST", "/me/email/confirm", tokens.customer, {"token": code})[0] == 400


def test_new_email_taken_by_another_customer_is_refused_only_after_proof(
    client: Any, stack: Stack, tokens: Tokens
) -> None:
    _register(client)
    assert _confirm(client, mailed_code("uusi@firma.fi"))[0] == 200
    status, body = call(client, "PATCH", "/me", tokens.customer, {"email": "uusi@firma.fi"})
    assert status == 200 and body["email_change"] == {"status": "confirmation_sent"}
    status, body = call(client, "POST", "/me/email/confirm", tokens.customer, {"token": mailed_code("uusi@firma.fi")})
    assert status == 409 and body["error"]["code"] == "email_taken"
    assert call(client, "GET", "/me", tokens.customer)[1]["customer"]["email"] == "asiakas@yritys.fi"


def test_app_clients_cannot_write_email_and_the_policy_matches_the_pool() -> None:
    from chalicelib import accounts

    resources = json.loads(MERGE_TEMPLATE.read_text())["Resources"]
    for client_name in ("UserPoolClient", "CustomerUserPoolClient"):
        assert "email" not in resources[client_name]["Properties"]["WriteAttributes"]
    policy = resources["CustomerUserPool"]["Properties"]["Policies"]["PasswordPolicy"]
    assert policy["MinimumLength"] == accounts.PASSWORD_MIN_LENGTH
    assert all(policy[k] for k in ("RequireLowercase", "RequireUppercase", "RequireNumbers", "RequireSymbols"))
    for weak in ("Short-1a", "lowercase-only-1", "UPPERCASE-ONLY-1", "NoDigits-Here!", "NoSymbols12345"):
        with pytest.raises(Exception, match="password policy"):
            accounts.check_password(weak)
    accounts.check_password(PASSWORD)
