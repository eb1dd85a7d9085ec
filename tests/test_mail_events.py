"""SES bounce and complaint events, as SNS delivers them to the mail-events queue."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from boto3.dynamodb.conditions import Key

from chalicelib import store, suppression
from tests.conftest import Stack, Tokens, call, register_customer
from tests.imports_helpers import csv_bytes, drain, upload
from tests.mail_helpers import deliver_ses_event, ses_event

PROSPECT = "olli@kunta.fi"
ROW = ["Kunta", "Olli Ohto", "Johtaja", PROSPECT, "040 765 4321"]


def prospect_items(stack: Stack) -> list[dict[str, Any]]:
    return [i for i in store.prospects().scan()["Items"] if i.get("email") == PROSPECT]


def imported(stack: Stack) -> None:
    upload(stack, "incoming/acme/list.csv", csv_bytes([ROW]))
    drain(stack)
    assert prospect_items(stack)


def test_a_permanent_bounce_removes_the_prospect_as_a_refresh_would(client: Any, stack: Stack, tokens: Tokens) -> None:
    imported(stack)
    status, listed = call(client, "GET", "/partner/prospects", tokens.partner)  # a recorded handover
    assert status == 200, listed
    assert deliver_ses_event(stack, ses_event("Bounce", [PROSPECT.upper()])) == {"batchItemFailures": []}
    assert prospect_items(stack) == []
    # Removed, not objected: a later source may add the address again.
    assert not suppression.is_suppressed(PROSPECT)
    # The partner that received the data is told of the erasure (Art. 19).
    status, notes = call(client, "GET", "/partner/notifications", tokens.partner)
    assert status == 200 and [n["change"] for n in notes["items"]] == ["erased"]
    # A redelivery changes nothing more.
    assert deliver_ses_event(stack, ses_event("Bounce", [PROSPECT])) == {"batchItemFailures": []}


def test_a_permanent_bounce_flags_a_customers_address_for_staff(client: Any, stack: Stack, tokens: Tokens) -> None:
    assert deliver_ses_event(stack, ses_event("Bounce", ["asiakas@yritys.fi"])) == {"batchItemFailures": []}
    status, shown = call(client, "GET", f"/customers/{tokens.customer_id}", tokens.staff)
    assert status == 200
    assert shown["mail_undeliverable"]["bounce"] == "Permanent" and shown["mail_undeliverable"]["at"].endswith("Z")
    events = store.audit().query(KeyConditionExpression=Key("pk").eq(f"RECORD#customers#{tokens.customer_id}"))
    flagged = [e for e in events["Items"] if e["fields"] == ["mail_undeliverable"]]
    assert len(flagged) == 1 and flagged[0]["principal_id"] == "system:mail_events"
    # No service message goes to it; a new address (proven by its owner) clears the flag.
    status, _ = call(client, "PATCH", f"/customers/{tokens.customer_id}", tokens.staff, {"email": "uusi@yritys.fi"})
    assert status == 200
    status, shown = call(client, "GET", f"/customers/{tokens.customer_id}", tokens.staff)
    assert "mail_undeliverable" not in shown


def test_transient_bounces_change_nothing(client: Any, stack: Stack, tokens: Tokens) -> None:
    imported(stack)
    for kind in ("Transient", "Undetermined"):
        event = ses_event("Bounce", [PROSPECT, "asiakas@yritys.fi"], bounce_type=kind)
        assert deliver_ses_event(stack, event) == {"batchItemFailures": []}
    assert prospect_items(stack)
    _, shown = call(client, "GET", f"/customers/{tokens.customer_id}", tokens.staff)
    assert "mail_undeliverable" not in shown


def test_a_complaint_is_an_objection(client: Any, stack: Stack, tokens: Tokens) -> None:
    imported(stack)
    register_customer(client, "olli", PROSPECT)
    assert deliver_ses_event(stack, ses_event("Complaint", [PROSPECT])) == {"batchItemFailures": []}
    assert prospect_items(stack) == []
    assert suppression.is_suppressed(PROSPECT)
    assert suppression.is_phone_suppressed(ROW[4])
    # The service-message consent is another purpose: the complaint leaves it.
    _, found = call(client, "POST", "/customers/search", tokens.staff, {"email": PROSPECT})
    assert found["items"][0]["consent_service_messages"]["given"] is True


def test_the_address_is_never_logged(
    client: Any, stack: Stack, tokens: Tokens, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    imported(stack)
    deliver_ses_event(stack, ses_event("Bounce", [PROSPECT]))
    deliver_ses_event(stack, ses_event("Complaint", ["asiakas@yritys.fi"]))
    handled = [r for r in caplog.records if r.getMessage() == "ses event handled"]
    assert [getattr(r, "event", None) for r in handled] == ["Bounce", "Complaint"]
    logged = caplog.text + json.dumps([r.__dict__ for r in caplog.records], default=str)
    assert PROSPECT not in logged and "asiakas@yritys.fi" not in logged


def test_a_malformed_message_fails_alone(stack: Stack) -> None:
    from chalicelib.events import mail_events
    from devstack.worker import sqs_lambda_event
    from tests.conftest import REGION

    good = {"messageId": "m1", "receiptHandle": "r1", "body": json.dumps(ses_event("Bounce", ["x@y.fi"], "Transient"))}
    bad = {"messageId": "m2", "receiptHandle": "r2", "body": "not json"}
    arn = "arn:aws:sqs:eu-north-1:123456789012:ilopiste-mail-events"
    messages = [
        {"MessageId": m["messageId"], "ReceiptHandle": m["receiptHandle"], "Body": m["body"], "Attributes": {}}
        for m in (good, bad)
    ]
    resp = mail_events(sqs_lambda_event(messages, arn, REGION), None)
    assert resp == {"batchItemFailures": [{"itemIdentifier": "m2"}]}
