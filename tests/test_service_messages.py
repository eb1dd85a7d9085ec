"""Service messages through the API and the mail queue: exactly the customers whose consent
is given and current, each at most once, in their language."""

from __future__ import annotations

from typing import Any

import pytest
from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from chalicelib import service_messages
from chalicelib.mail import jobs
from tests.aws_calls import as_function
from tests.conftest import Stack, Tokens, call, register_customer, sent_mail
from tests.mail_helpers import drain_mail
from tests.test_customers_api import NEW_CUSTOMER

MESSAGE = {
    "subject": {"fi": "Huoltokatko 5.1.", "en": "Maintenance break on 5 Jan"},
    "body": {"fi": "Palvelu on poissa käytöstä klo 2-4 {huom}.", "en": "The service is down 2-4 am {note}."},
}


@pytest.fixture
def audience(client: Any, stack: Stack, tokens: Tokens, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Customers with every kind of answer; small pages so the job runs over several."""
    monkeypatch.setattr(service_messages, "PAGE_SIZE", 2)
    register_customer(client, "english", "english@yritys.fi", lang="en")
    register_customer(client, "kielto", "kielto@yritys.fi", consent_service_messages=False)
    register_customer(client, "peruja", "peruja@yritys.fi")
    token = stack.customer_login("peruja")
    assert call(client, "PUT", "/me/consent", token, {"consent_service_messages": False})[0] == 200
    status, body = call(client, "POST", "/customers", tokens.staff, NEW_CUSTOMER)  # never answered
    assert status == 201, body
    return {"english": stack.customer_login("english")}


def recipients() -> list[str]:
    return sorted(
        str(m["To"])
        for m in sent_mail()
        if str(m["Subject"]) in (MESSAGE["subject"]["fi"], "Maintenance break on 5 Jan")
    )


def start(client: Any, tokens: Tokens, body: dict[str, Any] = MESSAGE) -> str:
    status, resp = call(client, "POST", "/service-messages", tokens.staff, body)
    assert status == 202, resp
    assert resp["status"] == "queued"
    return str(resp["message_id"])


def test_exactly_the_consenting_customers_get_it_in_their_language(
    client: Any, stack: Stack, tokens: Tokens, audience: dict[str, str]
) -> None:
    message_id = start(client, tokens)
    drain_mail(stack)
    assert recipients() == ["asiakas@yritys.fi", "english@yritys.fi"]
    [english] = [m for m in sent_mail("english@yritys.fi") if str(m["Subject"]) == MESSAGE["subject"]["en"]]
    text = english.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    assert "The service is down 2-4 am {note}." in text and english["Content-Language"] == "en"
    [finnish] = [m for m in sent_mail("asiakas@yritys.fi") if str(m["Subject"]) == MESSAGE["subject"]["fi"]]
    assert "{huom}" in finnish.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    status, progress = call(client, "GET", f"/service-messages/{message_id}", tokens.staff)
    assert status == 200
    assert progress["status"] == "done" and progress["unconfirmed"] == 0
    assert progress["counts"] == {"considered": 5, "sent": 2, "skipped": 3}
    assert "asiakas@yritys.fi" not in str(progress)


def test_a_retried_or_repeated_job_sends_nothing_twice(
    client: Any, stack: Stack, tokens: Tokens, audience: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    advance = service_messages._advance
    failures: list[int] = []

    def dies_once(*args: Any) -> bool:
        # The first page went out, then the invocation died before saving where it was.
        if not failures:
            failures.append(1)
            raise ClientError({"Error": {"Code": "InternalServerError", "Message": "x"}}, "UpdateItem")
        return bool(advance(*args))

    monkeypatch.setattr(service_messages, "_advance", dies_once)
    message_id = start(client, tokens)
    drain_mail(stack)
    assert failures and recipients() == ["asiakas@yritys.fi", "english@yritys.fi"]
    # Staff start it again, twice: a finished job sends nothing.
    jobs.enqueue(service_messages.KIND, {"message_id": message_id})
    jobs.enqueue(service_messages.KIND, {"message_id": message_id})
    drain_mail(stack)
    assert recipients() == ["asiakas@yritys.fi", "english@yritys.fi"]
    _, progress = call(client, "GET", f"/service-messages/{message_id}", tokens.staff)
    assert progress["counts"] == {"considered": 5, "sent": 2, "skipped": 3} and progress["status"] == "done"
    # Who got it stays in the audit trail only: the per-recipient records are gone.
    left = stack.table("customers").query(KeyConditionExpression=Key("pk").eq(f"SERVICEMSG#{message_id}"))
    assert [i["sk"] for i in left["Items"]] == ["META"]
    events = stack.table("audit").query(KeyConditionExpression=Key("pk").eq(f"RECORD#customers#{tokens.customer_id}"))
    assert [e["action"] for e in events["Items"]].count("service_message") == 1


def test_consent_is_checked_again_right_before_each_message(
    client: Any, stack: Stack, tokens: Tokens, audience: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    deliver = service_messages._deliver

    def withdraw_first(meta: dict[str, Any], listed: dict[str, Any]) -> str:
        # The page said "given"; the English customer withdraws before its message goes.
        if listed.get("email") == "english@yritys.fi":
            with as_function("api_handler"):  # the customer's own request, checked against the API's role
                withdrawal = {"consent_service_messages": False}
                assert call(client, "PUT", "/me/consent", audience["english"], withdrawal)[0] == 200
        return deliver(meta, listed)

    monkeypatch.setattr(service_messages, "_deliver", withdraw_first)
    message_id = start(client, tokens)
    drain_mail(stack)
    assert recipients() == ["asiakas@yritys.fi"]
    _, progress = call(client, "GET", f"/service-messages/{message_id}", tokens.staff)
    assert progress["counts"] == {"considered": 5, "sent": 1, "skipped": 4}


def test_a_refused_message_is_released_for_the_retry(
    client: Any, stack: Stack, tokens: Tokens, audience: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    real_send = service_messages.send
    refused: list[str] = []

    def throttled_once(msg: Any, purpose: str) -> str:
        if not refused:
            refused.append(str(msg["To"]))
            raise ClientError({"Error": {"Code": "TooManyRequestsException", "Message": "slow"}}, "SendEmail")
        return real_send(msg, purpose)

    monkeypatch.setattr(service_messages, "send", throttled_once)
    message_id = start(client, tokens)
    drain_mail(stack)
    assert refused and recipients() == ["asiakas@yritys.fi", "english@yritys.fi"]
    _, progress = call(client, "GET", f"/service-messages/{message_id}", tokens.staff)
    assert progress["counts"]["sent"] == 2


def test_staff_only_and_the_body_is_checked(client: Any, tokens: Tokens) -> None:
    assert call(client, "POST", "/service-messages", tokens.customer, MESSAGE)[0] == 403
    bad = {"subject": {"fi": "a\r\nBcc: x@y.fi"}, "body": {"fi": "x"}}
    assert call(client, "POST", "/service-messages", tokens.staff, bad)[0] == 400
    assert (
        call(client, "POST", "/service-messages", tokens.staff, {"subject": {"en": "x"}, "body": {"fi": "x"}})[0] == 400
    )
    assert call(client, "GET", "/service-messages/nope", tokens.staff)[0] == 404
    assert call(client, "GET", f"/service-messages/{'0' * 32}", tokens.staff)[0] == 404
