"""The local stack's worker (devstack/worker.py): Lambda's SQS and schedule semantics,
against an in-process emulator and a real Chalice app's event handlers."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from chalice import Chalice
from moto import mock_aws

from devstack.worker import Worker, failed_ids, next_sweep_at

REGION = "eu-north-1"


@pytest.fixture
def sqs() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("sqs", region_name=REGION)


def queue(sqs: Any, *bodies: str) -> str:
    url = sqs.create_queue(QueueName="imports", Attributes={"VisibilityTimeout": "900"})["QueueUrl"]
    for body in bodies:
        sqs.send_message(QueueUrl=url, MessageBody=body)
    return str(url)


def depth(sqs: Any, url: str) -> tuple[int, int]:
    """(visible, in flight) messages on the queue."""
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]), int(attrs["ApproximateNumberOfMessagesNotVisible"])


def import_app(behaviour: Any, batch_size: int = 10) -> tuple[Chalice, list[dict[str, Any]]]:
    """A Chalice app with a real `partner_import` SQS handler; records what it was given."""
    app = Chalice(app_name="worker-test")
    seen: list[dict[str, Any]] = []

    @app.on_sqs_message(queue="imports", batch_size=batch_size, name="partner_import")
    def partner_import(event: Any) -> Any:
        records = [r.to_dict() for r in event]
        seen.extend(records)
        return behaviour(records)

    return app, seen


def test_successful_batch_is_deleted_and_the_event_has_lambdas_shape(sqs: Any) -> None:
    url = queue(sqs, "a", "b")
    app, seen = import_app(lambda records: {"batchItemFailures": []})
    worker = Worker(app, sqs, url, REGION, wait_seconds=0)
    assert worker.poll_once() == 2
    assert sorted(r["body"] for r in seen) == ["a", "b"]
    record = seen[0]
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"].endswith(":imports")
    assert record["awsRegion"] == REGION
    assert record["messageId"] and record["receiptHandle"]
    assert int(record["attributes"]["ApproximateReceiveCount"]) == 1
    assert depth(sqs, url) == (0, 0)


def test_partial_batch_failure_leaves_only_the_failed_messages(sqs: Any) -> None:
    url = queue(sqs, "ok-1", "bad", "ok-2")

    def fail_bad(records: list[dict[str, Any]]) -> dict[str, Any]:
        return {"batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in records if r["body"] == "bad"]}

    app, _ = import_app(fail_bad)
    Worker(app, sqs, url, REGION, wait_seconds=0).poll_once()
    assert depth(sqs, url) == (0, 1)  # the failed one waits out its visibility timeout, then retries
    msgs = sqs.receive_message(QueueUrl=url, VisibilityTimeout=0, MaxNumberOfMessages=10).get("Messages", [])
    assert msgs == []  # still invisible: not deleted, not re-delivered early


def test_handler_exception_fails_the_whole_batch(sqs: Any) -> None:
    url = queue(sqs, "a", "b")

    def explode(records: list[dict[str, Any]]) -> None:
        raise RuntimeError("import broke")

    app, _ = import_app(explode)
    Worker(app, sqs, url, REGION, wait_seconds=0).poll_once()
    assert depth(sqs, url) == (0, 2)


def test_batch_size_follows_the_apps_event_source(sqs: Any) -> None:
    url = queue(sqs, "a", "b", "c")
    app, seen = import_app(lambda records: None, batch_size=2)
    worker = Worker(app, sqs, url, REGION, wait_seconds=0)
    assert worker.batch_size() == 2
    assert worker.poll_once() <= 2
    assert len(seen) <= 2


def test_without_an_import_handler_messages_are_left_alone(sqs: Any) -> None:
    url = queue(sqs, "a")
    app = Chalice(app_name="no-imports")
    assert Worker(app, sqs, url, REGION, wait_seconds=0).poll_once() == 0
    # Not even received: a receive would count towards the redrive policy's maxReceiveCount.
    assert depth(sqs, url) == (1, 0)


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        (None, set()),
        ({"batchItemFailures": []}, set()),
        ({"batchItemFailures": [{"itemIdentifier": "m1"}]}, {"m1"}),
        ({"batchItemFailures": [{"itemIdentifier": ""}]}, None),
        ({"batchItemFailures": "m1"}, None),
    ],
)
def test_failed_ids_reads_lambdas_partial_batch_response(response: Any, expected: set[str] | None) -> None:
    assert failed_ids(response) == expected


@pytest.mark.parametrize(
    ("now", "due"),
    [
        # Winter (EET, UTC+2): 02:00 Helsinki is 00:00 UTC.
        (datetime(2026, 11, 25, 10, 0, tzinfo=UTC), datetime(2026, 11, 26, 0, 0, tzinfo=UTC)),
        # Exactly at 02:00 the run is happening now: the next is tomorrow's.
        (datetime(2026, 11, 26, 0, 0, tzinfo=UTC), datetime(2026, 11, 27, 0, 0, tzinfo=UTC)),
        # Summer (EEST, UTC+3): 23:00 UTC the evening before.
        (datetime(2026, 6, 1, 12, 0, tzinfo=UTC), datetime(2026, 6, 1, 23, 0, tzinfo=UTC)),
        # The night clocks go forward (29 March 2026, 03:00 → 04:00): 02:00 still exists, in EET.
        (datetime(2026, 3, 28, 12, 0, tzinfo=UTC), datetime(2026, 3, 29, 0, 0, tzinfo=UTC)),
        (datetime(2026, 3, 29, 0, 30, tzinfo=UTC), datetime(2026, 3, 29, 23, 0, tzinfo=UTC)),
    ],
)
def test_next_sweep_is_at_two_in_the_night_helsinki_time(now: datetime, due: datetime) -> None:
    assert next_sweep_at(now) == due


def test_sweep_loop_runs_the_sweeper_once_when_due(sqs: Any) -> None:
    url = queue(sqs)
    app = Chalice(app_name="sweeps")
    events: list[dict[str, Any]] = []
    # The clock: a second before 02:00 Helsinki, then just after it.
    times = iter([datetime(2026, 11, 25, 23, 59, 59, tzinfo=UTC), datetime(2026, 11, 26, 0, 0, 1, tzinfo=UTC)])
    last = [datetime(2026, 11, 26, 0, 0, 1, tzinfo=UTC)]

    def clock() -> datetime:
        last[0] = next(times, last[0])
        return last[0]

    worker = Worker(app, sqs, url, REGION, wait_seconds=0, clock=clock)

    @app.schedule("cron(0 0 * * ? *)", name="retention_sweeper")
    def retention_sweeper(event: Any) -> None:
        events.append(event.to_dict())
        worker._stop.set()  # end the loop after this run

    worker._stop.clear()
    worker._sweep_loop()  # due at 02:00, the clock is past it: runs the sweeper, then stops
    assert len(events) == 1
    assert events[0]["detail-type"] == "Scheduled Event"
    assert events[0]["time"] == "2026-11-26T00:00:00Z"


def test_each_queue_feeds_its_own_handler(sqs: Any) -> None:
    """The campaign queue goes to `campaign_materialiser`, the import queue to `partner_import`."""
    imports = queue(sqs, "upload")
    campaigns = sqs.create_queue(QueueName="campaigns")["QueueUrl"]
    sqs.send_message(QueueUrl=campaigns, MessageBody='{"campaign_id": "c"}')
    app, imported = import_app(lambda records: None)
    materialised: list[str] = []

    @app.on_sqs_message(queue="campaigns", batch_size=1, name="campaign_materialiser")
    def campaign_materialiser(event: Any) -> Any:
        materialised.extend(r.body for r in event)

    worker = Worker(app, sqs, imports, REGION, wait_seconds=0, queues={"campaign_materialiser": campaigns})
    assert worker.batch_size("campaign_materialiser") == 1
    assert worker.poll_once("campaign_materialiser") == 1
    assert materialised == ['{"campaign_id": "c"}'] and imported == []
    assert depth(sqs, campaigns) == (0, 0) and depth(sqs, imports) == (1, 0)
    assert worker.poll_once() == 1 and [r["body"] for r in imported] == ["upload"]
