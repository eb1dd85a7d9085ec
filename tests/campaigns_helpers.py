"""Driving `campaign_materialiser` the way Lambda does: the queue's message → an SQS Lambda
event → the handler → delete what succeeded (a follow-up message is queued by the handler)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.conftest import Stack, call
from tests.imports_helpers import invoke_queue_handler, settle, sqs


def queue_url(stack: Stack) -> str:
    return str(stack.info["campaign_queue_url"])


def invoke(stack: Stack, messages: list[dict[str, Any]], context: Any = None) -> dict[str, Any]:
    """Call `campaign_materialiser` with the SQS event Lambda would build."""
    from chalicelib.events import campaign_materialiser

    return invoke_queue_handler(campaign_materialiser, queue_url(stack), messages, context)


def drain_campaigns(stack: Stack, rounds: int = 200, context: Callable[[], Any] = lambda: None) -> int:
    """Deliver until the campaign queue is empty; returns the invocations made.

    `context` makes each invocation's Lambda context (None: time never runs out).
    """
    url = queue_url(stack)
    for n in range(rounds):
        messages = (
            sqs().receive_message(QueueUrl=url, MaxNumberOfMessages=1, AttributeNames=["All"]).get("Messages", [])
        )
        if not messages:
            return n
        settle(url, messages, invoke(stack, messages, context()))
    raise AssertionError("the campaign queue did not drain")


def ready_campaign(client: Any, stack: Stack, token: str, **body: Any) -> dict[str, Any]:
    """Create a campaign through the API, materialise it and return it as staff read it."""
    doc = {"name": "Kevät 2027", "purpose": "Uusien asiakkaiden haku", "channel": "email", **body}
    status, created = call(client, "POST", "/campaigns", token, doc)
    assert status == 201, created
    status, started = call(client, "POST", f"/campaigns/{created['campaign_id']}/materialisation", token)
    assert status == 202, started
    drain_campaigns(stack)
    status, got = call(client, "GET", f"/campaigns/{created['campaign_id']}", token)
    assert status == 200 and got["status"] == "ready", got
    return dict(got)


def audience(
    client: Any, token: str, campaign_id: str, limit: int = 100
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Every member staff see now, and the exclusions summed over the pages."""
    items: list[dict[str, Any]] = []
    excluded: dict[str, int] = {}
    cursor = None
    while True:
        path = f"/campaigns/{campaign_id}/audience?limit={limit}" + (f"&cursor={cursor}" if cursor else "")
        status, page = call(client, "GET", path, token)
        assert status == 200, page
        items += page["items"]
        for reason, n in page["excluded"].items():
            excluded[reason] = excluded.get(reason, 0) + n
        cursor = page["next_cursor"]
        if not cursor:
            return items, excluded
