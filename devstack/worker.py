"""The local stack's stand-in for Lambda's event sources: SQS → `partner_import`, the
campaign queue → `campaign_materialiser`, the mail queue → `mail_sender`, the mail-events
queue → `mail_events` (the emulated SES sends no bounces; a test or a person can put an SES
event on it), and the nightly schedules → `retention_sweeper` (02:00 Helsinki) and
`art14_notices` (03:00 Helsinki; it queues the night's Art. 14 notice job, which the mail
queue's poller then runs through `mail_sender`).

Uploads reach the import queue the way they do in AWS: the emulator (moto server) delivers
the bucket's `s3:ObjectCreated:*` notification for `incoming/` to the queue itself. This
worker only plays Lambda's part: it long-polls each queue, hands each batch to the app's
handler of that queue (`partner_import`, `campaign_materialiser`, `mail_sender`) as an SQS
Lambda event, deletes what succeeded and leaves the items named in `batchItemFailures` (or the whole
batch, if the handler raises) on the queue, so the queue's redrive policy moves repeat
failures to the dead-letter queue.

The handlers are looked up in the Chalice app's `handler_map` at each poll, through the
same wrappers Lambda would call (middleware included). When the app has no such handler,
the worker does not receive messages at all: a received-but-unhandled message would count
towards `maxReceiveCount` and end in the dead-letter queue.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import uuid
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from chalice.app import SQSEventConfig
from chalice.local import LambdaContext

log = logging.getLogger("devstack.worker")

IMPORT_HANDLER = "partner_import"
CAMPAIGN_HANDLER = "campaign_materialiser"
MAIL_HANDLER = "mail_sender"
MAIL_EVENTS_HANDLER = "mail_events"
SWEEPER_HANDLER = "retention_sweeper"
ART14_HANDLER = "art14_notices"
SWEEP_ZONE = ZoneInfo("Europe/Helsinki")
SWEEP_AT = time(2, 0)
ART14_AT = time(3, 0)
ACCOUNT_ID = "123456789012"  # moto's default account
MAX_BATCH = 10  # SQS ReceiveMessage's limit, and Lambda's default batch size
SWEEP_REQUEST_POLL_SECONDS = 0.5


def next_sweep_at(now: datetime, zone: ZoneInfo = SWEEP_ZONE, at: time = SWEEP_AT) -> datetime:
    """The next 02:00 wall-clock time in Helsinki strictly after `now` (aware), in UTC.

    Computed on the local date so a daylight-saving change moves the UTC instant, not the
    wall-clock hour, as the production schedule's rule is written for Finnish time.
    """
    local_now = now.astimezone(zone)
    candidate = datetime.combine(local_now.date(), at, tzinfo=zone)
    if candidate <= local_now:
        candidate = datetime.combine(local_now.date() + timedelta(days=1), at, tzinfo=zone)
    return candidate.astimezone(UTC)


def sqs_lambda_event(messages: list[dict[str, Any]], queue_arn: str, region: str) -> dict[str, Any]:
    """The event Lambda's SQS event source mapping passes for a batch of received messages."""
    records = []
    for msg in messages:
        body = msg["Body"]
        records.append(
            {
                "messageId": msg["MessageId"],
                "receiptHandle": msg["ReceiptHandle"],
                "body": body,
                "attributes": dict(msg.get("Attributes", {})),
                "messageAttributes": msg.get("MessageAttributes", {}),
                "md5OfBody": msg.get("MD5OfBody") or hashlib.md5(body.encode(), usedforsecurity=False).hexdigest(),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": region,
            }
        )
    return {"Records": records}


def scheduled_event(when: datetime, region: str, rule: str = "retention_sweeper-nightly") -> dict[str, Any]:
    """The event EventBridge passes to a scheduled Lambda."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT_ID,
        "time": when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [f"arn:aws:events:{region}:{ACCOUNT_ID}:rule/{rule}"],
        "detail": {},
    }


def failed_ids(response: Any) -> set[str] | None:
    """Message ids the handler reported as failed; None means "treat the batch as failed"."""
    if response is None:
        return set()
    if not isinstance(response, dict):
        return set()
    items = response.get("batchItemFailures", [])
    if not isinstance(items, list):
        return None
    ids = set()
    for item in items:
        if not isinstance(item, dict) or not item.get("itemIdentifier"):
            # Lambda fails the whole batch when a failure entry is malformed.
            return None
        ids.add(str(item["itemIdentifier"]))
    return ids


class Worker:
    """Runs a poller per queue (imports; `queues` adds others, such as the campaign queue) and
    the nightly sweep, each on its own thread, until `stop()`."""

    def __init__(
        self,
        app: Any,
        sqs: Any,
        queue_url: str,
        region: str,
        wait_seconds: int = 2,
        clock: Any = None,
        sweep_request: Path | None = None,
        queues: dict[str, str] | None = None,
    ) -> None:
        self.app = app
        self.sqs = sqs
        self.queue_url = queue_url
        # {handler name: the URL of the queue that feeds it}
        self.queues = {IMPORT_HANDLER: queue_url, **(queues or {})}
        self.region = region
        self.wait_seconds = wait_seconds
        self._now = clock or (lambda: datetime.now(UTC))
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._queue_arns = {
            name: sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            for name, url in self.queues.items()
        }
        self._warned_missing: set[str] = set()
        # Local only (never deployed): a JSON object written to this file runs one sweep
        # now with it as the manual payload ({"as_of", "dry_run"}); see run_requested_sweep.
        self.sweep_request = sweep_request

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> None:
        for handler in self.queues:
            thread = threading.Thread(
                target=self._poll_loop, args=(handler,), name=f"devstack-{handler}-poller", daemon=True
            )
            thread.start()
            self._threads.append(thread)
        thread = threading.Thread(target=self._sweep_loop, name="devstack-nightly-sweep", daemon=True)
        thread.start()
        self._threads.append(thread)
        thread = threading.Thread(target=self._art14_loop, name="devstack-nightly-art14", daemon=True)
        thread.start()
        self._threads.append(thread)

    def stop(self, timeout: float = 10.0) -> None:
        """Ask every loop to finish; an in-flight long poll ends within `wait_seconds`."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout)

    # -- handlers ------------------------------------------------------------------------

    def handler(self, name: str) -> Any:
        """The app's Lambda entry point `name`, or None (logged once) if it has none yet."""
        found = self.app.handler_map.get(name)
        if found is None and name not in self._warned_missing:
            self._warned_missing.add(name)
            log.warning("the app defines no %s handler yet; the worker leaves its events alone", name)
        elif found is not None:
            self._warned_missing.discard(name)
        return found

    def batch_size(self, name: str = IMPORT_HANDLER) -> int:
        for source in getattr(self.app, "event_sources", []):
            if isinstance(source, SQSEventConfig) and source.name == name:
                return max(1, min(MAX_BATCH, int(source.batch_size)))
        return MAX_BATCH

    # -- queues --------------------------------------------------------------------------

    def poll_once(self, name: str = IMPORT_HANDLER) -> int:
        """Receive one batch of `name`'s queue, invoke `name`, delete the successes. Returns the batch size."""
        handler = self.handler(name)
        if handler is None:
            self._stop.wait(self.wait_seconds)
            return 0
        queue_url = self.queues[name]
        received = self.sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=self.batch_size(name),
            WaitTimeSeconds=self.wait_seconds,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not received:
            return 0
        event = sqs_lambda_event(received, self._queue_arns[name], self.region)
        context = LambdaContext(name, memory_size=1024, max_runtime_ms=900_000)
        try:
            failures = failed_ids(handler(event, context))
        except Exception:
            log.exception("%s raised; the whole batch of %d stays on the queue", name, len(received))
            return len(received)
        if failures is None:
            log.error("%s returned a malformed batchItemFailures; the whole batch stays on the queue", name)
            return len(received)
        done = [m for m in received if m["MessageId"] not in failures]
        if done:
            self.sqs.delete_message_batch(
                QueueUrl=queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)],
            )
        log.info(
            "%s handled %d message(s): %d done, %d left for retry",
            name,
            len(received),
            len(done),
            len(received) - len(done),
        )
        return len(received)

    def _poll_loop(self, name: str = IMPORT_HANDLER) -> None:
        while not self._stop.is_set():
            try:
                self.poll_once(name)
            except Exception:
                if self._stop.is_set():
                    break  # the emulator is going away under us
                log.exception("%s poll failed; retrying", name)
                self._stop.wait(1)

    # -- nightly sweep -------------------------------------------------------------------

    def sweep(self, when: datetime) -> Any:
        """Invoke `retention_sweeper` with the scheduled event for `when`."""
        handler = self.handler(SWEEPER_HANDLER)
        if handler is None:
            return None
        log.info("retention_sweeper: nightly run for %s", when.isoformat())
        result = handler(scheduled_event(when, self.region), LambdaContext(SWEEPER_HANDLER, 1024, 900_000))
        log.info("retention_sweeper finished")
        return result

    def art14_notices(self, when: datetime) -> Any:
        """Invoke `art14_notices` with the scheduled event for `when` (it queues the mail job)."""
        handler = self.handler(ART14_HANDLER)
        if handler is None:
            return None
        log.info("art14_notices: nightly run for %s", when.isoformat())
        event = scheduled_event(when, self.region, rule="art14_notices-nightly")
        return handler(event, LambdaContext(ART14_HANDLER, 256, 30_000))

    def _art14_loop(self) -> None:
        due = next_sweep_at(self._now(), at=ART14_AT)
        while not self._stop.is_set():
            remaining = (due - self._now()).total_seconds()
            if remaining > 0:
                self._stop.wait(min(remaining, 60.0))
                continue
            try:
                self.art14_notices(due)
            except Exception:
                log.exception("art14_notices raised")
            due = next_sweep_at(self._now(), at=ART14_AT)

    @property
    def sweep_result(self) -> Path | None:
        """Where the outcome of a requested sweep is written (beside the request file)."""
        return None if self.sweep_request is None else self.sweep_request.with_name("sweep-result.json")

    def run_requested_sweep(self) -> bool:
        """Run one sweep now if the request file exists (local stack only: developers and e2e
        tests use it instead of waiting for 02:00). The file holds the manual payload, a JSON
        object such as `{"as_of": "2030-01-01"}` (`{}`: today); write it atomically (write a
        temporary file, then rename). The request is consumed, and `sweep-result.json` gets
        `{"result": …}` or `{"error": …}`. Returns whether a request was handled.
        """
        request, result_path = self.sweep_request, self.sweep_result
        if request is None or result_path is None or not request.exists():
            return False
        try:
            payload = json.loads(request.read_text() or "{}")
        except ValueError:
            payload = None
        request.unlink(missing_ok=True)
        handler = self.handler(SWEEPER_HANDLER)
        outcome: dict[str, Any]
        if not isinstance(payload, dict):
            outcome = {"error": "the sweep request must be a JSON object"}
        elif handler is None:
            outcome = {"error": f"the app defines no {SWEEPER_HANDLER} handler"}
        else:
            log.info("retention_sweeper: run requested through %s", request.name)
            try:
                outcome = {"result": handler(payload, LambdaContext(SWEEPER_HANDLER, 1024, 900_000))}
                log.info("retention_sweeper finished")
            except Exception as exc:
                log.exception("retention_sweeper raised")
                outcome = {"error": type(exc).__name__}
        tmp = result_path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(outcome, default=str) + "\n")
        tmp.replace(result_path)
        return True

    def _sweep_loop(self) -> None:
        due = next_sweep_at(self._now())
        log.info("next nightly retention sweep at %s (02:00 Europe/Helsinki)", due.astimezone(SWEEP_ZONE).isoformat())
        poll = 60.0 if self.sweep_request is None else SWEEP_REQUEST_POLL_SECONDS
        while not self._stop.is_set():
            try:
                if self.run_requested_sweep():
                    continue
            except Exception:
                log.exception("requested retention sweep failed")
            remaining = (due - self._now()).total_seconds()
            if remaining > 0:
                self._stop.wait(min(remaining, poll))
                continue
            try:
                self.sweep(due)
            except Exception:
                log.exception("retention_sweeper raised")
            due = next_sweep_at(self._now())
