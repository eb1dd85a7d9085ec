"""Import-queue messages → import work: S3 notifications, S3's test event, follow-ups.

One message is one unit of work that either finishes its run, hands over to a follow-up
message at a checkpoint, or fails (and is retried by SQS, then dead-lettered):

* S3 notification (``Records[].s3``): keys are URL-encoded (``+`` for spaces, ``%C3%A4``
  for ä); each created object under ``incoming/<partner_id>/`` becomes (or finds) its run.
* ``s3:TestEvent`` (sent when the notification is configured): ignored.
* ``{"type": "ilopiste.import.continue", "run_id", "segment", "row"}``: the next segment
  of a big file, from the checkpoint.

Segments make duplicates harmless: a message acts only if its segment is the run's
current one; a stale message is acknowledged. If an invocation crashed right after
handing over (before the follow-up was sent), the redelivered message re-sends it.

Failures: a file that cannot be imported whatever we do (unknown format, missing
columns, undecodable text, object gone) or that its partner may not upload (not in the
partner registry: `unknown_partner`; suspended or ended: `partner_inactive`; a marketing
partner: `partner_not_uploader`; a data provider not yet given our privacy notice:
`notice_not_delivered`) fails its run at once with a reason and a report, and
its object is deleted. Anything else is retried by SQS from the checkpoint; on the last delivery
before the dead-letter queue (``MAX_RECEIVES``, the queue's maxReceiveCount) the run is
marked failed with a reason (retryable, so a redrive from the DLQ resumes it).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

from botocore.exceptions import ClientError

from chalicelib import clock, partners, store
from chalicelib.config import settings
from chalicelib.imports import runs
from chalicelib.imports.pipeline import Importer, Limits
from chalicelib.imports.read import OutOfTime, UnreadableFile, open_upload
from chalicelib.logs import logger

CONTINUE = "ilopiste.import.continue"
MAX_RECEIVES = 5  # infra/resources.json ImportQueue RedrivePolicy.maxReceiveCount
LEASE_MARGIN_SECONDS = 60
RESEND_AFTER_SECONDS = 600
DEFAULT_LIMITS = Limits()


def handle_message(
    body: str,
    message_id: str,
    receive_count: int,
    remaining: Callable[[], float],
    limits: Limits | None = None,
) -> list[str]:
    """Act on one queue message; returns what happened per run (for logs and tests).

    The run's lease is taken by this call, under an owner id made for it: a standard queue
    may deliver the same message (same message id) twice at once, and the second copy
    must find the run busy. The message id is only for logs.
    """
    owner = uuid.uuid4().hex
    try:
        doc = json.loads(body)
    except ValueError:
        logger.warning("import message is not JSON; ignored", extra={"message_id": message_id})
        return ["ignored:not_json"]
    if not isinstance(doc, dict):
        return ["ignored:not_an_object"]
    if doc.get("Event") == "s3:TestEvent":
        return ["ignored:s3_test_event"]
    limits = limits or DEFAULT_LIMITS
    if doc.get("type") == CONTINUE:
        return [process(str(doc["run_id"]), int(doc["segment"]), owner, receive_count, remaining, limits)]
    outcomes = []
    for record in doc.get("Records") or []:
        if not str(record.get("eventName", "")).startswith("ObjectCreated"):
            outcomes.append("ignored:not_created")
            continue
        obj = record["s3"]["object"]
        try:
            key, partner_id, file_name = runs.parse_upload_key(str(obj["key"]))
        except runs.NotAnUpload:
            logger.warning("object outside incoming/<partner_id>/ ignored", extra={"message_id": message_id})
            outcomes.append("ignored:not_an_upload")
            continue
        # Without a versionId (unversioned bucket, or the emulator) the event's sequencer, or
        # ETag plus event time, tells a new upload of the same bytes from a duplicate event.
        version = obj.get("versionId") or obj.get("sequencer") or f"{obj.get('eTag')}@{record.get('eventTime')}"
        run = runs.register(
            str(record["s3"]["bucket"]["name"]),
            key,
            partner_id,
            file_name,
            version_id=str(obj.get("versionId") or ""),
            etag=str(obj.get("eTag") or ""),
            size=int(obj.get("size") or 0),
            event_version=str(version),
        )
        outcomes.append(process(run["run_id"], 0, owner, receive_count, remaining, limits))
    return outcomes


def time_share(remaining: Callable[[], float], reserve: float, messages_left: int) -> Callable[[], float]:
    """The next message's equal share of the invocation's time, as its own remaining-time function.

    A batch's messages are handled one after another in one invocation. Each gets an equal
    part of the time left when it starts (less the reserve), so a file that could use all
    of it checkpoints and hands over at its share, and the messages after it still run
    instead of timing out with it. The share's "remaining" reaches `reserve` when it is used.
    """
    at_start = remaining()
    share = max(at_start - reserve, 0.0) / max(messages_left, 1)
    unused = at_start - share - reserve
    return lambda: remaining() - unused


def process(
    run_id: str, segment: int, owner: str, receive_count: int, remaining: Callable[[], float], limits: Limits
) -> str:
    """Do this message's segment of the run, if it is the current one."""
    run = runs.get(run_id)
    current = int(run["checkpoint"].get("segment", 0))
    if run["state"] == "done" or (run["state"] == "failed" and not run.get("failure", {}).get("retryable")):
        return f"duplicate:{run_id}"
    if segment != current:
        if segment == current - 1 and _follow_up_overdue(run):
            send_continuation(run)  # the follow-up was lost in a crash; a duplicate would be harmless
            return f"resent:{run_id}"
        return f"stale:{run_id}"
    claimed = runs.claim(run_id, owner, int(remaining()) + LEASE_MARGIN_SECONDS)
    if claimed is None:
        return f"busy:{run_id}"
    try:
        return work(claimed, owner, remaining, limits)
    except UnreadableFile as exc:
        fail(claimed, exc.code, exc.message, retryable=False)
        return f"failed:{run_id}"
    except Exception as exc:
        if receive_count >= MAX_RECEIVES:
            fail(claimed, "import_error", f"The import kept failing ({type(exc).__name__}).", retryable=True)
        else:
            runs.release(run_id, owner)
        # The exception's type only: its text or traceback could quote a row's values.
        logger.error(
            "import run failed",
            extra={"run_id": run_id, "owner": owner, "delivery": receive_count, "error": type(exc).__name__},
        )
        raise


def _follow_up_overdue(run: dict[str, Any]) -> bool:
    """The run was handed over long ago and nobody has claimed it: its follow-up is lost.

    A redelivery comes after the queue's visibility timeout (16 min), so a message for the
    previous segment that arrives sooner is an ordinary duplicate and is only acknowledged.
    """
    handed = str(run["checkpoint"].get("handed_over_at") or "")
    overdue = clock.iso(clock.now() - timedelta(seconds=RESEND_AFTER_SECONDS))
    return run["state"] == "running" and runs.lease_free(run) and bool(handed) and handed < overdue


_REFUSALS = {
    "unknown_partner": "The partner is not in the partner registry.",
    "partner_inactive": "The partner is suspended or its contract has ended.",
    "partner_not_uploader": "The partner's kind does not supply prospect lists.",
    "notice_not_delivered": "The partner registry has no record of our privacy notice being given to this partner.",
}


def work(run: dict[str, Any], owner: str, remaining: Callable[[], float], limits: Limits) -> str:
    # Each segment asks the registry again: a partner suspended mid-run stops at its next segment.
    refusal = partners.upload_refusal(str(run["partner_id"]))
    if refusal:
        raise UnreadableFile(refusal, _REFUSALS[refusal])
    importer = Importer(run, owner, limits, remaining)
    if run["checkpoint"]["phase"] == "rows":
        body = open_object(run)
        try:
            try:
                upload = open_upload(body, run["object_key"], lambda: remaining() < limits.reserve_seconds)
            except OutOfTime:
                raise UnreadableFile(
                    "too_slow_to_read", "Opening the file took longer than an import may take."
                ) from None
            run["format"] = {
                "format": upload.format,
                "encoding": upload.encoding,
                "delimiter": upload.delimiter,
                "ignored_columns": upload.columns.ignored[:50],
            }
            if not importer.import_rows(upload):
                hand_over(run, owner)
                return f"continued:{run['run_id']}"
        finally:
            body.close()
    if run["checkpoint"]["phase"] == "removal" and not importer.remove_missing():
        hand_over(run, owner)
        return f"continued:{run['run_id']}"
    complete(run, "done")
    return f"done:{run['run_id']}"


def open_object(run: dict[str, Any]) -> Any:
    """The exact object version the run is for, as a stream."""
    kwargs: dict[str, Any] = {"Bucket": run["bucket"], "Key": run["object_key"]}
    if run.get("object_version_id"):
        kwargs["VersionId"] = run["object_version_id"]
    elif run.get("object_etag"):
        kwargs["IfMatch"] = run["object_etag"]
    try:
        return store.client("s3").get_object(**kwargs)["Body"]
    except ClientError as exc:
        code = exc.response["Error"]["Code"]
        if code in ("NoSuchKey", "NoSuchVersion", "PreconditionFailed", "412", "404", "InvalidArgument"):
            raise UnreadableFile("object_missing", "The uploaded object no longer exists.") from None
        raise


def hand_over(run: dict[str, Any], owner: str) -> None:
    runs.hand_over(run, owner)
    send_continuation(run)


def send_continuation(run: dict[str, Any]) -> None:
    message = {
        "type": CONTINUE,
        "run_id": run["run_id"],
        "segment": int(run["checkpoint"]["segment"]),
        "row": int(run["checkpoint"].get("row", 0)),
    }
    store.client("sqs").send_message(QueueUrl=settings().import_queue_url, MessageBody=json.dumps(message))


def delete_upload(run: dict[str, Any]) -> None:
    """Delete the imported object version (not a newer upload under the same key)."""
    s3 = store.client("s3")
    bucket, key = run["bucket"], run["object_key"]
    etag = str(run.get("object_etag") or "").strip('"')
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=key):
        for version in page.get("Versions", []):
            if version["Key"] != key:
                continue
            same = (
                version["VersionId"] == run.get("object_version_id")
                if run.get("object_version_id")
                else version["ETag"].strip('"') == etag
            )
            if same:
                s3.delete_object(Bucket=bucket, Key=key, VersionId=version["VersionId"])


def _rejects(run_id: str) -> Iterator[dict[str, Any]]:
    """The run's rejected rows in line order, one checkpoint window in memory at a time.

    Each window's file holds the rows of its own stretch of the file (named by its first row,
    so they list in order), so sorting within each window orders them all.
    """
    for chunk in runs.work_objects(run_id, "rejects/"):
        yield from sorted(json.loads(chunk), key=lambda r: int(r["line"]))


def complete(run: dict[str, Any], state: str, failure: dict[str, Any] | None = None) -> None:
    """Report, delete the raw upload and the work files, and close the run."""
    runs.close(run, state, failure)
    runs.write_report(run, _rejects(str(run["run_id"])))
    if state == "done" or (failure and not failure.get("retryable")):
        delete_upload(run)  # personal data must not linger; the lifecycle rule is the backstop
        runs.delete_work(run["run_id"])
    runs.finish(run)
    logger.info(
        "import run closed", extra={"run_id": run["run_id"], "state": state, "counts": store.plain(run["counts"])}
    )


def fail(run: dict[str, Any], code: str, message: str, *, retryable: bool) -> None:
    complete(run, "failed", {"code": code, "message": message, "retryable": retryable})
