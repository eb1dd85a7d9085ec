"""Driving `mail_sender` the way Lambda does: the mail queue's message → an SQS Lambda event →
the handler → delete what succeeded (a follow-up message is queued by the handler)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.conftest import Stack
from tests.imports_helpers import invoke_queue_handler, settle, sqs


def queue_url(stack: Stack) -> str:
    return str(stack.info["mail_queue_url"])


def receive(stack: Stack) -> list[dict[str, Any]]:
    """At most one message of the mail queue (left invisible until deleted or released)."""
    got: list[dict[str, Any]] = (
        sqs()
        .receive_message(QueueUrl=queue_url(stack), MaxNumberOfMessages=1, AttributeNames=["All"])
        .get("Messages", [])
    )
    return got


def invoke(stack: Stack, messages: list[dict[str, Any]], context: Any = None) -> dict[str, Any]:
    """Call `mail_sender` with the SQS event Lambda would build."""
    from chalicelib.events import mail_sender

    return invoke_queue_handler(mail_sender, queue_url(stack), messages, context)


def drain_mail(stack: Stack, rounds: int = 200, context: Callable[[], Any] = lambda: None) -> int:
    """Deliver until the mail queue is empty; returns the invocations made.

    `context` makes each invocation's Lambda context (None: time never runs out). A failed
    message is made visible again at once, as the queue would after its visibility timeout.
    """
    url = queue_url(stack)
    for n in range(rounds):
        messages = receive(stack)
        if not messages:
            return n
        settle(url, messages, invoke(stack, messages, context()))
    raise AssertionError("the mail queue did not drain")


class ShortContext:
    """A Lambda context whose invocation has `seconds` left (the job stops to continue)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def get_remaining_time_in_millis(self) -> int:
        return int(self.seconds * 1000)


def ses_event(kind: str, recipients: list[str], bounce_type: str = "Permanent") -> dict[str, Any]:
    """An SES event-publishing record as SES writes it (docs: "Examples of event data that
    Amazon SES publishes to Amazon SNS"), for a message from the controller."""
    mail = {
        "timestamp": "2026-12-01T10:00:00.000Z",
        "source": "Kuntotimpurit <ilopiste@kuntotimpurit.fi>",
        "sourceArn": "arn:aws:ses:eu-north-1:123456789012:identity/kuntotimpurit.fi",
        "sendingAccountId": "123456789012",
        "messageId": "0100018c1f2e3d4a-5b6c7d8e-1111-2222-3333-444455556666-000000",
        "destination": recipients,
        "headersTruncated": False,
        "tags": {"ses:configuration-set": ["ilopiste-test"]},
    }
    if kind == "Bounce":
        detail: dict[str, Any] = {
            "bounce": {
                "bounceType": bounce_type,
                "bounceSubType": "General" if bounce_type == "Permanent" else "MailboxFull",
                "bouncedRecipients": [
                    {
                        "emailAddress": r,
                        "action": "failed",
                        "status": "5.1.1",
                        "diagnosticCode": "smtp; 550 5.1.1 user unknown",
                    }
                    for r in recipients
                ],
                "timestamp": "2026-12-01T10:00:02.669Z",
                "feedbackId": "0100018c1f2e3d4a-aaaa-bbbb-cccc-000000000000-000000",
                "reportingMTA": "dsn; mta.example.com",
            }
        }
    else:
        detail = {
            "complaint": {
                "complainedRecipients": [{"emailAddress": r} for r in recipients],
                "timestamp": "2026-12-01T11:00:00.000Z",
                "feedbackId": "0100018c1f2e3d4a-dddd-eeee-ffff-000000000000-000000",
                "userAgent": "ExampleCorp Feedback Loop (V0.01)",
                "complaintFeedbackType": "abuse",
                "arrivalDate": "2026-12-01T10:59:58.000Z",
            }
        }
    return {"eventType": kind, **detail, "mail": mail}


def sns_envelope(event: dict[str, Any]) -> str:
    """The SQS message body SNS delivers for `event` (no raw message delivery)."""
    import json

    return json.dumps(
        {
            "Type": "Notification",
            "MessageId": "4f6b2e8a-1c3d-5e7f-9a0b-1c2d3e4f5a6b",
            "TopicArn": "arn:aws:sns:eu-north-1:123456789012:ilopiste-test-mail-events",
            "Message": json.dumps(event),
            "Timestamp": "2026-12-01T10:00:03.000Z",
            "SignatureVersion": "1",
            "Signature": "EXAMPLE",
            "SigningCertURL": "https://sns.eu-north-1.amazonaws.com/SimpleNotificationService-example.pem",
            "UnsubscribeURL": "https://sns.eu-north-1.amazonaws.com/?Action=Unsubscribe",
        }
    )


def deliver_ses_event(stack: Stack, event: dict[str, Any]) -> dict[str, Any]:
    """Put `event` on the mail-events queue as SNS would and run `mail_events` on it as Lambda would."""
    from chalicelib.events import mail_events

    url = str(stack.info["mail_events_queue_url"])
    sqs().send_message(QueueUrl=url, MessageBody=sns_envelope(event))
    messages = sqs().receive_message(QueueUrl=url, MaxNumberOfMessages=1, AttributeNames=["All"])["Messages"]
    resp = invoke_queue_handler(mail_events, url, messages)
    settle(url, messages, resp)
    return resp
