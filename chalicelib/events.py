"""Event adapters: the nightly `retention_sweeper` and `art14_notices` schedules, the `partner_import` queue, the
operator-invoked `pseudonym_rekey` and `register_backfill`, the `campaign_materialiser` queue, the `mail_sender`
queue and the `mail_events` queue (SES bounces and complaints).

Thin: parse the event, call the domain in chalicelib/, return a JSON-able result.

Each function's Lambda imports this module (its handler string is `chalicelib.events.<name>`),
so the module itself loads only Chalice; each handler imports its own domain when it first
runs: the sweeper never loads the import pipeline (openpyxl, charset detection), the import
never loads the retention rules, and neither loads the HTTP layer (docs/architecture.md).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from chalice import Blueprint, Cron
from chalice.app import CloudWatchEvent, EventSourceHandler, SQSEvent

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

events_bp = Blueprint(__name__)


class SweepEvent(CloudWatchEvent):
    """The schedule's EventBridge event, or a bare `{"as_of", "dry_run"}` manual payload."""

    def _extract_attributes(self, event_dict: dict[str, Any]) -> None:
        if "detail-type" in event_dict:
            super()._extract_attributes(event_dict)
            return
        self.version, self.account, self.region, self.source, self.time, self.event_id = "", "", "", "", "", ""
        self.detail, self.detail_type, self.resources = {}, "", []


# EventBridge cron is UTC. 23:00 UTC is 02:00 EEST (summer) and 00:00 UTC is 02:00 EET
# (winter); the handler acts only on the one of the two that is 02:xx in Helsinki.
@events_bp.schedule(
    Cron(0, "23,0", "*", "*", "?", "*"),
    name="retention_sweeper",
    description="Nightly retention sweep at 02:00 Europe/Helsinki",
)
def retention_sweeper(event: CloudWatchEvent) -> dict[str, Any]:
    """Run the sweep. Options (a manual payload, or the event's `detail`): `as_of`, `dry_run`."""
    from chalicelib import clock, retention
    from chalicelib.config import settings

    raw = event.to_dict()
    detail = raw.get("detail")
    options: dict[str, Any] = detail if isinstance(detail, dict) and "detail-type" in raw else raw
    scheduled_at = retention.event_time(raw)
    if scheduled_at is not None and not options and not retention.is_sweep_hour(scheduled_at):
        return {"skipped": True, "reason": "not 02:xx in Europe/Helsinki", "time": raw.get("time")}
    today = clock.local_date(scheduled_at) if scheduled_at is not None else retention.today()
    as_of = retention.parse_as_of(options.get("as_of"), today=today, is_prod=settings().is_prod)
    dry_run = options.get("dry_run", False)
    if not isinstance(dry_run, bool):
        raise ValueError("dry_run must be true or false")
    summary = retention.sweep(as_of, dry_run=dry_run, trigger="schedule" if scheduled_at else "manual")
    if summary["failed_rules"]:
        # The summary is written and the other rules ran; failing the invocation is what
        # alarms (the function's Errors alarm) and lets Lambda retry the run.
        raise retention.SweepIncomplete(summary["run_id"], summary["failed_rules"])
    return summary


cast(EventSourceHandler, retention_sweeper).event_class = SweepEvent


# -- art14_notices ----------------------------------------------------------------------


# EventBridge cron is UTC. 00:00 UTC is 03:00 EEST (summer) and 01:00 UTC is 03:00 EET
# (winter); the handler acts only on the one of the two that is 03:xx in Helsinki, an hour
# after the retention sweep (a prospect it deletes gets no notice).
@events_bp.schedule(
    Cron(0, "0,1", "*", "*", "?", "*"),
    name="art14_notices",
    description="Nightly GDPR Art. 14 notices at 03:00 Europe/Helsinki",
)
def art14_notices(event: CloudWatchEvent) -> dict[str, Any]:
    """Queue the night's Art. 14 notice job for `mail_sender` (chalicelib/mail/art14_notices.py).

    A manual payload `{"as_of": "YYYY-MM-DD"}` (a future day refused in prod) queues the job
    for that day. The function only queues: the sending runs under `mail_sender`'s role,
    page by page within SES's rate, and a second queued job sends nothing twice.
    """
    from chalicelib import art14, clock, retention
    from chalicelib.config import settings
    from chalicelib.mail import jobs

    raw = event.to_dict()
    detail = raw.get("detail")
    options: dict[str, Any] = detail if isinstance(detail, dict) and "detail-type" in raw else raw
    scheduled_at = retention.event_time(raw)
    if scheduled_at is not None and not options and not art14.is_run_hour(scheduled_at):
        return {"skipped": True, "reason": "not 03:xx in Europe/Helsinki", "time": raw.get("time")}
    today = clock.local_date(scheduled_at) if scheduled_at is not None else retention.today()
    as_of = retention.parse_as_of(options.get("as_of"), today=today, is_prod=settings().is_prod)
    jobs.enqueue(art14.JOB, {"as_of": as_of.isoformat()})
    return {"queued": art14.JOB, "as_of": as_of.isoformat()}


cast(EventSourceHandler, art14_notices).event_class = SweepEvent


# -- partner_import ----------------------------------------------------------------------

# The queue's name for `chalice package`; the merge template points the event source
# mapping at infra's ImportQueue and turns on ReportBatchItemFailures.
IMPORT_QUEUE = "ilopiste-imports"


@events_bp.on_sqs_message(queue=IMPORT_QUEUE, batch_size=5, name="partner_import")
def partner_import(event: SQSEvent) -> dict[str, Any]:
    """Import partner uploads: one message is one upload (or one follow-up segment of one).

    Each message succeeds or fails on its own (partial batch response), so one bad file
    does not hold back, or re-run, the others in the batch; and each gets an equal share
    of the time left (`messages.time_share`), so one slow file cannot time the batch out.
    """
    from chalicelib.imports import messages

    left = len(event.to_dict().get("Records") or [])
    remaining = _seconds_left(event.context)

    def handle(record: SQSRecord) -> list[str]:
        nonlocal left
        share = messages.time_share(remaining, messages.DEFAULT_LIMITS.reserve_seconds, left)
        left -= 1
        receives = int(record.attributes.approximate_receive_count or 1)
        return messages.handle_message(record.body, record.message_id, receives, share)

    return _each_record(event, handle)


# -- pseudonym_rekey ---------------------------------------------------------------------


@events_bp.lambda_function(name="pseudonym_rekey")
def pseudonym_rekey(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Move stored pseudonyms to the current key after a rotation (docs/operations.md).

    Invoked by an operator with `{}` and then with each answer's `cursor` until it says
    `done`; a run that runs out of time returns where to continue.
    """
    from chalicelib import clock, rekeying

    run_id = str(getattr(context, "aws_request_id", "") or clock.sortable())
    return rekeying.run(_operator_cursor(event), _seconds_left(context), run_id)


def _each_record(event: SQSEvent, handle: Callable[[SQSRecord], Any]) -> dict[str, Any]:
    """Handle each SQS record on its own (Powertools' partial batch response): a failed record
    is retried alone, the others are deleted."""
    from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

    return dict(
        process_partial_response(
            event=event.to_dict(), record_handler=handle, processor=BatchProcessor(event_type=EventType.SQS)
        )
    )


def _operator_cursor(event: Any) -> dict[str, Any] | None:
    """The `cursor` an operator passes back from the previous run's answer (None: start)."""
    cursor = event.get("cursor") if isinstance(event, dict) else None
    if cursor is not None and not isinstance(cursor, dict):
        raise ValueError("cursor must be the object a previous run returned")
    return cursor


def _seconds_left(context: Any) -> Callable[[], float]:
    """The invocation's remaining time in seconds (15 minutes outside Lambda)."""

    def time_left() -> float:
        if context is None or not hasattr(context, "get_remaining_time_in_millis"):
            return 900.0
        return float(context.get_remaining_time_in_millis()) / 1000

    return time_left


# -- register_backfill -------------------------------------------------------------------


@events_bp.lambda_function(name="register_backfill")
def register_backfill(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Put records made before a rule's date existed under it (Art. 14 notices, dormant
    accounts), once after deployment (docs/operations.md). Invoked like `pseudonym_rekey`:
    `{}`, then each answer's `cursor` until it says `done`."""
    from chalicelib import backfill

    return backfill.run(_operator_cursor(event), _seconds_left(context))


# -- campaign_materialiser ---------------------------------------------------------------

# The queue's name for `chalice package`; the merge template points the event source
# mapping at infra's CampaignQueue and turns on ReportBatchItemFailures.
CAMPAIGN_QUEUE = "ilopiste-campaigns"


@events_bp.on_sqs_message(queue=CAMPAIGN_QUEUE, batch_size=1, name="campaign_materialiser")
def campaign_materialiser(event: SQSEvent) -> dict[str, Any]:
    """Form a campaign's audience, page by page, until the invocation's time runs low.

    One message names one campaign (`{"campaign_id"}`); the job resumes from the cursor the
    campaign saved, so a follow-up message, a redelivery or a duplicate continues where the
    last committed page ended. Out of time, it queues a follow-up message and succeeds.
    """
    from chalicelib import campaigns

    remaining = _seconds_left(event.context)

    def handle(record: SQSRecord) -> dict[str, Any]:
        body = json.loads(record.body)
        campaign_id = body.get("campaign_id") if isinstance(body, dict) else None
        if not isinstance(campaign_id, str):
            raise ValueError("the message names no campaign")
        result = campaigns.run(campaign_id, remaining)
        if not result["done"]:
            campaigns.enqueue(campaign_id)
        return result

    return _each_record(event, handle)


# -- mail_sender -------------------------------------------------------------------------

# The queue's name for `chalice package`; the merge template points the event source
# mapping at infra's MailQueue and turns on ReportBatchItemFailures.
MAIL_QUEUE = "ilopiste-mail"


@events_bp.on_sqs_message(queue=MAIL_QUEUE, batch_size=1, name="mail_sender")
def mail_sender(event: SQSEvent) -> dict[str, Any]:
    """Run one mail job (`{"kind", "body"}`, chalicelib/mail/jobs.py): an email campaign, a
    service message. Out of time, the job queues its follow-up message and succeeds."""
    from chalicelib.mail import jobs

    remaining = _seconds_left(event.context)

    def handle(record: SQSRecord) -> dict[str, Any]:
        return jobs.handle(record.body, remaining)

    return _each_record(event, handle)


# -- mail_events -------------------------------------------------------------------------

# The queue's name for `chalice package`; the merge template points the event source
# mapping at infra's MailEventsQueue (fed by the SES events' SNS topic) and turns on
# ReportBatchItemFailures.
MAIL_EVENTS_QUEUE = "ilopiste-mail-events"


@events_bp.on_sqs_message(queue=MAIL_EVENTS_QUEUE, batch_size=10, name="mail_events")
def mail_events(event: SQSEvent) -> dict[str, Any]:
    """Apply SES bounce and complaint events (chalicelib/mail/feedback.py), each message on its own."""
    from chalicelib.mail import feedback

    def handle(record: SQSRecord) -> dict[str, Any]:
        return feedback.handle(record.body, record.message_id)

    return _each_record(event, handle)
