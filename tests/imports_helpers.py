"""Driving `partner_import` the way Lambda does: S3 upload → moto's notification on the
queue → an SQS Lambda event → the handler → delete what succeeded."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterable
from typing import Any

import boto3
from openpyxl import Workbook

from devstack.worker import sqs_lambda_event
from tests.conftest import REGION, Stack

HEADER_FI = ["Organisaatio", "Nimi", "Titteli", "Sähköposti", "Puhelin"]
HEADER_EN = ["Organization", "Name", "Title", "Email", "Phone"]


def s3() -> Any:
    return boto3.client("s3", region_name=REGION)


def sqs() -> Any:
    return boto3.client("sqs", region_name=REGION)


def csv_bytes(
    rows: Iterable[Iterable[str]], header: list[str] = HEADER_FI, sep: str = ";", encoding: str = "utf-8"
) -> bytes:
    lines = [sep.join(header)] + [sep.join(r) for r in rows]
    return ("\r\n".join(lines) + "\r\n").encode(encoding)


def xlsx_bytes(rows: Iterable[Iterable[str]], header: list[str] = HEADER_FI) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.append(header)
    for r in rows:
        ws.append(list(r))
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def upload(stack: Stack, key: str, body: bytes) -> None:
    s3().put_object(Bucket=stack.info["upload_bucket"], Key=key, Body=body)


def receive(stack: Stack, queue_url: str | None = None) -> list[dict[str, Any]]:
    resp = sqs().receive_message(
        QueueUrl=queue_url or stack.info["import_queue_url"], MaxNumberOfMessages=10, AttributeNames=["All"]
    )
    return list(resp.get("Messages", []))


class TickingContext:
    """A Lambda context whose clock moves `tick_ms` every time the remaining time is asked.

    The import asks once per row it visits (empty rows included), so the budget bounds the
    rows an invocation can visit, and `calls` counts them: no wall-clock time involved.
    """

    def __init__(self, budget_ms: int, tick_ms: int = 10):
        self.left = budget_ms
        self.tick = tick_ms
        self.calls = 0

    def get_remaining_time_in_millis(self) -> int:
        self.calls += 1
        self.left = max(self.left - self.tick, 0)
        return self.left


def invoke_queue_handler(
    handler: Callable[..., Any], url: str, messages: list[dict[str, Any]], context: Any = None
) -> dict[str, Any]:
    """Call a queue's deployed handler with the SQS event Lambda would build for `messages`."""
    from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

    arn = sqs().get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    try:
        return dict(handler(sqs_lambda_event(messages, arn, REGION), context))
    except BatchProcessingError:
        # Every record failed: the handler raises and Lambda retries the whole batch.
        return {"batchItemFailures": [{"itemIdentifier": m["MessageId"]} for m in messages]}


def settle(url: str, messages: list[dict[str, Any]], response: dict[str, Any]) -> None:
    """What the queue does after an invocation: delete what succeeded; a failed message is
    made visible again at once, as it would be after its visibility timeout."""
    failed = {f["itemIdentifier"] for f in response.get("batchItemFailures", [])}
    for m in messages:
        if m["MessageId"] in failed:
            sqs().change_message_visibility(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0)
        else:
            sqs().delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])


def invoke(stack: Stack, messages: list[dict[str, Any]], context: Any = None) -> dict[str, Any]:
    """Call `partner_import` with the SQS event Lambda would build."""
    from chalicelib.events import partner_import

    return invoke_queue_handler(partner_import, stack.info["import_queue_url"], messages, context)


def drain(stack: Stack, rounds: int = 100, context: Callable[[], Any] = lambda: None) -> list[dict[str, Any]]:
    """Deliver until the queue is empty; failed messages are made visible again at once.

    `context` makes each invocation's Lambda context (None: time never runs out).
    """
    responses = []
    url = stack.info["import_queue_url"]
    for _ in range(rounds):
        messages = receive(stack)
        if not messages:
            return responses
        resp = invoke(stack, messages, context())
        responses.append(resp)
        settle(url, messages, resp)
    raise AssertionError("the queue did not drain")


def runs_of(stack: Stack, partner_id: str) -> list[dict[str, Any]]:
    from boto3.dynamodb.conditions import Key

    resp = stack.table("import_runs").query(
        IndexName="by_partner", KeyConditionExpression=Key("partner_id").eq(partner_id)
    )
    return sorted(resp["Items"], key=lambda r: r["received_at"])


def all_prospect_items(stack: Stack) -> list[dict[str, Any]]:
    """Every item of the prospects table: PROFILEs and each partner's SOURCE items."""
    return list(stack.table("prospects").scan(ConsistentRead=True)["Items"])


def prospect_items(stack: Stack) -> list[dict[str, Any]]:
    """The prospects as the register shows them: their PROFILE items."""
    return [i for i in all_prospect_items(stack) if i["sk"] == "PROFILE"]


def source_items(stack: Stack, partner: str | None = None) -> list[dict[str, Any]]:
    """The partners' own items (`partner`'s only, when given)."""
    items = [i for i in all_prospect_items(stack) if i["sk"].startswith("SOURCE#")]
    return [i for i in items if partner is None or i["source_partner"] == partner]


def report(stack: Stack, run: dict[str, Any]) -> dict[str, Any]:
    body = s3().get_object(Bucket=stack.info["upload_bucket"], Key=run["report_key"])["Body"].read()
    return dict(json.loads(body))


def object_versions(stack: Stack, prefix: str) -> list[dict[str, Any]]:
    resp = s3().list_object_versions(Bucket=stack.info["upload_bucket"], Prefix=prefix)
    return list(resp.get("Versions", []))
