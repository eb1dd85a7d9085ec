"""The mail queue and `mail_sender`: jobs by kind, follow-ups, refusals (chalicelib/mail/jobs.py)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from chalicelib.mail import jobs
from tests.conftest import Stack
from tests.imports_helpers import sqs
from tests.mail_helpers import drain_mail, invoke, queue_url, receive


@pytest.fixture
def ran() -> Iterator[list[tuple[dict[str, Any], float]]]:
    """A kind `probe` whose handler records its calls and finishes on the third."""
    calls: list[tuple[dict[str, Any], float]] = []

    def probe(body: dict[str, Any], time_left: Callable[[], float]) -> bool:
        calls.append((body, time_left()))
        return len(calls) >= 3

    jobs.register("probe", probe)
    try:
        yield calls
    finally:
        jobs._HANDLERS.pop("probe", None)


def test_a_job_runs_its_kinds_handler_and_continues_until_done(
    stack: Stack, ran: list[tuple[dict[str, Any], float]]
) -> None:
    jobs.enqueue("probe", {"job_id": "j1"})
    raw = json.loads(receive(stack)[0]["Body"])
    assert raw == {"kind": "probe", "body": {"job_id": "j1"}}
    sqs().purge_queue(QueueUrl=queue_url(stack))
    jobs.enqueue("probe", {"job_id": "j1"})
    # Not done twice: each time a follow-up with the same body is queued; the third finishes.
    assert drain_mail(stack) == 3
    assert [body for body, _ in ran] == [{"job_id": "j1"}] * 3
    assert receive(stack) == []


def test_a_kind_is_registered_once() -> None:
    def one(body: dict[str, Any], time_left: Callable[[], float]) -> bool:
        return True

    def other(body: dict[str, Any], time_left: Callable[[], float]) -> bool:
        return True

    jobs.register("once", one)
    try:
        jobs.register("once", one)  # the same handler again: a module imported twice
        with pytest.raises(ValueError, match="already has a handler"):
            jobs.register("once", other)
    finally:
        jobs._HANDLERS.pop("once", None)


@pytest.mark.parametrize(
    "body",
    [
        json.dumps({"kind": "nobody-handles-this", "body": {}}),
        json.dumps({"kind": "probe"}),
        json.dumps(["probe", {}]),
        "not json",
    ],
)
def test_an_unknown_or_malformed_job_fails_and_stays_for_the_dead_letter_queue(
    stack: Stack, ran: list[tuple[dict[str, Any], float]], body: str
) -> None:
    sqs().send_message(QueueUrl=queue_url(stack), MessageBody=body)
    messages = receive(stack)
    resp = invoke(stack, messages)
    assert resp["batchItemFailures"] == [{"itemIdentifier": messages[0]["MessageId"]}]
    assert ran == []
