"""Driving `mail_sender` the way Lambda does: the mail queue's message → an SQS Lambda event →
the handler → delete what succeeded (a follow-up message is queued by the handler)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from devstack.worker import sqs_lambda_event
from tests.conftest import REGION, Stack
from tests.imports_helpers import sqs


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
    """Call the deployed handler with the SQS event Lambda would build."""
    from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

    from chalicelib.events import mail_sender

    arn = sqs().get_queue_attributes(QueueUrl=queue_url(stack), AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    try:
        return dict(mail_sender(sqs_lambda_event(messages, arn, REGION), context))
    except BatchProcessingError:
        return {"batchItemFailures": [{"itemIdentifier": m["MessageId"]} for m in messages]}


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
        resp = invoke(stack, messages, context())
        failed = {f["itemIdentifier"] for f in resp.get("batchItemFailures", [])}
        for m in messages:
            if m["MessageId"] in failed:
                sqs().change_message_visibility(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0)
            else:
                sqs().delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    raise AssertionError("the mail queue did not drain")


class ShortContext:
    """A Lambda context whose invocation has `seconds` left (the job stops to continue)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def get_remaining_time_in_millis(self) -> int:
        return int(self.seconds * 1000)
