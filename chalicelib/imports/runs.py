"""Import runs: one record per uploaded object version, its lease, checkpoint and report.

Idempotency (at least once delivery, exactly one effect)
    The run id is a hash of bucket, key and object version (the S3 ``versionId``, or the
    ETag where the event has none). ``register`` creates the run with a conditional put,
    so a duplicate S3 event or an SQS redelivery finds the same run. ``claim`` takes a
    lease with a conditional update: a run that is ``done`` (or ``failed`` for a reason
    that retrying cannot fix) is never imported again, and a run another invocation is
    working on is left to it. A run is resumed from its checkpoint.

    Why not Powertools Idempotency: it stores a handler's *result* and treats a crash
    mid-way as "in progress until expiry", so a big file would restart from row one or
    not at all. The run record must exist anyway (state, counts, checkpoint, report),
    so one conditional write on it is the idempotency key, with no extra table.

Checkpoints
    ``checkpoint.row`` counts the data rows fully processed (written and flushed);
    ``checkpoint.segment`` numbers the invocation that owns the run, so a stale follow-up
    message is recognised. Counts in the record always match the checkpoint.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import tempfile
from collections.abc import Iterable, Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import unquote_plus

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from chalicelib import clock, store
from chalicelib.auth import PARTNER_ID as PARTNER_ID  # re-exported: API paths check it here too
from chalicelib.config import settings
from chalicelib.errors import NotFound, ValidationFailed
from chalicelib.store import plain as plain  # re-exported: the one copy is in store

INCOMING = "incoming/"
REPORTS = "reports/"
WORK = "work/"
# A file name starting with "full" (then -, _, . or a space) is a full refresh of the
# partner's list, e.g. incoming/acme/full-2025-05.csv. Anything else only adds/updates.
FULL_REFRESH = re.compile(r"^full[-_. ]", re.IGNORECASE)
STATES = ("received", "running", "done", "failed")
COUNTERS = (
    "rows",
    "inserted",
    "updated",
    "unchanged",
    "reverified",
    "rejected",
    "removed",
    "kept_other_source",
    "kept_staff_verified",
    "held",
)
# A run record names the partner's file (`file_name`, `object_key`), which may contain a
# person's name: it is kept as long as the run's report (the upload bucket's `reports/`
# lifecycle rule, 90 days), not for the audit trail's 3 years. The audit events of the
# run's writes keep the run id for 3 years; they never name the file.
RUN_RECORD_DAYS = 90


class NotAnUpload(ValueError):
    """An object that is not a partner upload (wrong prefix, a folder marker)."""


def run_id_for(bucket: str, key: str, version: str) -> str:
    return hashlib.sha256(f"{bucket}\n{key}\n{version}".encode()).hexdigest()[:32]


def parse_upload_key(raw_key: str) -> tuple[str, str, str]:
    """(key, partner_id, file name) of an S3 event's URL-encoded key; refuses non-uploads."""
    key = unquote_plus(raw_key)
    parts = key.split("/")
    if len(parts) < 3 or parts[0] + "/" != INCOMING or not parts[-1]:
        raise NotAnUpload("not an upload under incoming/<partner_id>/")
    if not PARTNER_ID.match(parts[1]):
        raise NotAnUpload("partner id in the key is not valid")
    return key, parts[1], parts[-1]


def is_full_refresh(file_name: str) -> bool:
    return bool(FULL_REFRESH.match(file_name))


def register(
    bucket: str, key: str, partner_id: str, file_name: str, *, version_id: str, etag: str, size: int, event_version: str
) -> dict[str, Any]:
    """The run for this object version, created `received` unless it exists already.

    `event_version` identifies the upload: the S3 versionId, else the event's sequencer.
    """
    run_id = run_id_for(bucket, key, event_version)
    now = clock.now()
    item = {
        "run_id": run_id,
        "partner_id": partner_id,
        "bucket": bucket,
        "object_key": key,
        "object_version_id": version_id,
        "object_etag": etag,
        "object_size": size,
        "file_name": file_name,
        "full_refresh": is_full_refresh(file_name),
        "state": "received",
        "received_at": clock.iso(now),
        "list_pk": "RUN",  # every run in the `by_received` index: staff list newest first
        "counts": dict.fromkeys(COUNTERS, 0),
        "rejected_by_reason": {},
        "checkpoint": {"phase": "rows", "row": 0, "segment": 0},
        "expires_at": int((now + timedelta(days=RUN_RECORD_DAYS)).timestamp()),
    }
    try:
        store.import_runs().put_item(Item=item, ConditionExpression="attribute_not_exists(run_id)")
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        return get(run_id)
    return item


def get(run_id: str) -> dict[str, Any]:
    item: dict[str, Any] | None = store.import_runs().get_item(Key={"run_id": run_id}, ConsistentRead=True).get("Item")
    if not item:
        raise NotFound("No such import run.")
    return item


def claim(run_id: str, owner: str, lease_seconds: int) -> dict[str, Any] | None:
    """Take the run's lease; None if it is finished or another live invocation holds it."""
    now = clock.now()
    try:
        resp = store.import_runs().update_item(
            Key={"run_id": run_id},
            UpdateExpression=(
                "SET #s = :running, lease_owner = :owner, lease_until = :until, "
                "started_at = if_not_exists(started_at, :now), attempts = if_not_exists(attempts, :zero) + :one "
                "REMOVE failure"
            ),
            ConditionExpression=(
                "attribute_exists(run_id)"
                " AND (#s IN (:received, :running) OR (#s = :failed AND failure.retryable = :t))"
                " AND (attribute_not_exists(lease_until) OR lease_until < :now OR lease_owner = :owner)"
            ),
            ExpressionAttributeNames={"#s": "state"},
            ExpressionAttributeValues={
                ":running": "running",
                ":received": "received",
                ":failed": "failed",
                ":t": True,
                ":owner": owner,
                ":until": clock.iso(now + timedelta(seconds=lease_seconds)),
                ":now": clock.iso(now),
                ":zero": 0,
                ":one": 1,
            },
            ReturnValues="ALL_NEW",
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return None
        raise
    return dict(resp["Attributes"])


def save_progress(run: dict[str, Any], owner: str) -> None:
    """Persist counts and checkpoint together, only while this invocation owns the run."""
    store.import_runs().update_item(
        Key={"run_id": run["run_id"]},
        UpdateExpression="SET counts = :c, rejected_by_reason = :r, checkpoint = :k, #fmt = :f",
        ConditionExpression="lease_owner = :owner",
        ExpressionAttributeNames={"#fmt": "format"},
        ExpressionAttributeValues={
            ":c": run["counts"],
            ":r": run["rejected_by_reason"],
            ":k": run["checkpoint"],
            ":f": run.get("format") or {},
            ":owner": owner,
        },
    )


def mark_writing(run_id: str, owner: str) -> None:
    """Record that writes past the last checkpoint have begun (`checkpoint.writing`).

    A delivery that finds the mark resumes after a crash in which rows may have been written
    with their audit events: it writes the events of its first window one by one, each on
    the condition that it is not recorded (chalicelib/imports/pipeline.py). The next
    checkpoint clears it.
    """
    store.import_runs().update_item(
        Key={"run_id": run_id},
        UpdateExpression="SET checkpoint.writing = :t",
        ConditionExpression="lease_owner = :owner",
        ExpressionAttributeValues={":t": True, ":owner": owner},
    )


def hand_over(run: dict[str, Any], owner: str) -> int:
    """End this invocation's segment: the next segment number, lease released."""
    segment = int(run["checkpoint"].get("segment", 0)) + 1
    run["checkpoint"] = {**run["checkpoint"], "segment": segment, "handed_over_at": clock.iso()}
    store.import_runs().update_item(
        Key={"run_id": run["run_id"]},
        UpdateExpression="SET checkpoint = :k REMOVE lease_until, lease_owner",
        ConditionExpression="lease_owner = :owner",
        ExpressionAttributeValues={":k": run["checkpoint"], ":owner": owner},
    )
    return segment


def lease_free(run: dict[str, Any]) -> bool:
    return not run.get("lease_owner") or str(run.get("lease_until", "")) < clock.iso()


def release(run_id: str, owner: str) -> None:
    """Give the lease back (after an error) so a redelivery can resume at once."""
    try:
        store.import_runs().update_item(
            Key={"run_id": run_id},
            UpdateExpression="REMOVE lease_until, lease_owner",
            ConditionExpression="lease_owner = :owner",
            ExpressionAttributeValues={":owner": owner},
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise


def close(run: dict[str, Any], state: str, failure: dict[str, Any] | None = None) -> dict[str, Any]:
    """Set the run's final state, failure and timings (in memory: the report shows them)."""
    now = clock.now()
    run["state"] = state
    run["finished_at"] = clock.iso(now)
    started = run.get("started_at") or run["received_at"]
    run["duration_ms"] = int((now - _parse(started)).total_seconds() * 1000)
    run.pop("failure", None)
    if failure:
        run["failure"] = failure
    return run


def finish(run: dict[str, Any]) -> dict[str, Any]:
    """Persist the closed run (see `close`); the lease is dropped."""
    state, failure = run["state"], run.get("failure")
    values: dict[str, Any] = {
        ":s": state,
        ":f": run["finished_at"],
        ":d": run["duration_ms"],
        ":c": run["counts"],
        ":r": run["rejected_by_reason"],
        ":k": run["checkpoint"],
    }
    expr = "SET #s = :s, finished_at = :f, duration_ms = :d, counts = :c, rejected_by_reason = :r, checkpoint = :k"
    if run.get("report_key"):
        expr += ", report_key = :rk"
        values[":rk"] = run["report_key"]
    if failure:
        expr += ", failure = :fail"
        values[":fail"] = failure
    store.import_runs().update_item(
        Key={"run_id": run["run_id"]},
        UpdateExpression=expr + " REMOVE lease_until, lease_owner",
        ExpressionAttributeNames={"#s": "state"},
        ExpressionAttributeValues=values,
    )
    return run


def _parse(iso: str) -> Any:
    from datetime import datetime

    return datetime.fromisoformat(iso.replace("Z", "+00:00"))


# -- work files and the report ------------------------------------------------------------


def work_prefix(run_id: str) -> str:
    return f"{WORK}{run_id}/"


def put_work(run_id: str, name: str, body: bytes) -> None:
    store.client("s3").put_object(Bucket=settings().upload_bucket, Key=work_prefix(run_id) + name, Body=body)


def work_objects(run_id: str, folder: str) -> Iterator[bytes]:
    """Bodies of the run's work files under `folder`, in key order."""
    s3 = store.client("s3")
    bucket = settings().upload_bucket
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=work_prefix(run_id) + folder):
        for obj in page.get("Contents", []):
            yield s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()


def delete_work(run_id: str) -> None:
    """Remove the run's work files (every version: they hold ids and line numbers)."""
    s3 = store.client("s3")
    bucket = settings().upload_bucket
    paginator = s3.get_paginator("list_object_versions")
    for page in paginator.paginate(Bucket=bucket, Prefix=work_prefix(run_id)):
        keys = [{"Key": v["Key"], "VersionId": v["VersionId"]} for v in page.get("Versions", [])]
        keys += [{"Key": m["Key"], "VersionId": m["VersionId"]} for m in page.get("DeleteMarkers", [])]
        if keys:
            s3.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})


def csv_cell(value: Any) -> str:
    """A cell that a spreadsheet will not run as a formula (=, +, -, @, tab, CR lead)."""
    text = "" if value is None else str(value)
    if text and text[0] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + text
    return text


def rejects_csv(rejects: list[dict[str, Any]]) -> bytes:
    """The rejected lines as a CSV a partner can open in a spreadsheet (formula-safe)."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";")
    writer.writerow(["line", "reason", "field"])
    for r in rejects:
        writer.writerow(_csv_row(r))
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def _csv_row(reject: dict[str, Any]) -> list[str]:
    return [csv_cell(reject.get("line")), csv_cell(reject.get("reason")), csv_cell(reject.get("field", ""))]


def summary(run: dict[str, Any]) -> dict[str, Any]:
    """A run as the API and the report show it (no lease internals, no personal data)."""
    keys = (
        "run_id",
        "partner_id",
        "file_name",
        "full_refresh",
        "state",
        "received_at",
        "started_at",
        "finished_at",
        "duration_ms",
        "counts",
        "rejected_by_reason",
        "failure",
        "report_key",
        "format",
    )
    return {k: plain(run[k]) for k in keys if k in run and run[k] is not None}


def listed(run: dict[str, Any]) -> dict[str, Any]:
    """A run as the run lists show it: its summary and `upload_key`, the uploaded object's key
    (the key of the partner portal's form: the portal finds its upload's run by it)."""
    shown = summary(run)
    if run.get("object_key"):
        shown["upload_key"] = str(run["object_key"])
    return shown


def write_report(run: dict[str, Any], rejects: Iterable[dict[str, Any]]) -> str:
    """reports/<partner_id>/<received>-<run_id>.json (and .rejected.csv when any row was rejected).

    The rejected rows stream through temporary files (Lambda's /tmp), so a file whose every
    row is rejected takes no more memory to report than one with none.
    """
    s3 = store.client("s3")
    bucket = settings().upload_bucket
    stamp = run["received_at"].replace(":", "").replace("-", "")
    base = f"{REPORTS}{run['partner_id']}/{stamp}-{run['run_id']}"
    run["report_key"] = f"{base}.json"
    with tempfile.TemporaryFile() as report, tempfile.TemporaryFile() as table:
        head = json.dumps(summary(run), ensure_ascii=False, indent=1, default=str)
        report.write(head.removesuffix("\n}").encode() + b',\n "rejected_rows": [')
        table.write(rejects_csv([]))
        rows = io.TextIOWrapper(table, encoding="utf-8", newline="")
        writer = csv.writer(rows, delimiter=";")
        count = 0
        for row in rejects:
            report.write((",\n  " if count else "\n  ").encode())
            report.write(json.dumps(row, ensure_ascii=False, default=str).encode())
            writer.writerow(_csv_row(row))
            count += 1
        report.write(b"\n ]\n}" if count else b"]\n}")
        report.seek(0)
        s3.put_object(Bucket=bucket, Key=run["report_key"], Body=report, ContentType="application/json")
        rows.flush()
        if count:
            table.seek(0)
            s3.put_object(Bucket=bucket, Key=f"{base}.rejected.csv", Body=table, ContentType="text/csv")
        rows.detach()
    return str(run["report_key"])


def rejected_rows(run: dict[str, Any], limit: int, cursor: str | None) -> dict[str, Any]:
    """A page of a finished run's rejected rows (`line`, `reason`, `field`, …) from its report.

    The rows are in the report only (`reports/<partner_id>/…json`), in file order, one per line
    after its `"rejected_rows": [` line (`write_report`). A page is read line by line from where
    the last one ended, the cursor holding that byte position (`from`) for a ranged GET, so a
    page of a million-row report costs what a page of a small one does. A report written
    before that layout (each row over several lines) is read whole, its cursor the row index
    (`offset`). No report yet (a run still going, or one that failed before it wrote one), or
    one the lifecycle rule already removed: no rows.
    """
    position, offset = _report_cursor(cursor)
    key = run.get("report_key")
    if not key:
        return {"items": [], "next_cursor": None}
    body = _report_body(str(key), position)
    if body is None:
        return {"items": [], "next_cursor": None}
    if offset is None:
        page = _rows_by_line(body, position, limit)
        body.close()
        if page is not None:
            return page
        body = _report_body(str(key), None)  # the older layout: read whole
        if body is None:
            return {"items": [], "next_cursor": None}
    rows: list[dict[str, Any]] = json.loads(body.read()).get("rejected_rows", [])
    start = offset or 0
    more = start + limit < len(rows)
    return {"items": rows[start : start + limit], "next_cursor": _cursor("offset", start + limit) if more else None}


_ROWS_LINE = b'"rejected_rows": ['


def _report_cursor(cursor: str | None) -> tuple[int | None, int | None]:
    """(byte position, row index) from a page cursor: one of them, or neither for the first page."""
    if not cursor:
        return None, None
    try:
        decoded = store.decode_cursor(cursor, {"from"})
        name = "from"
    except ValidationFailed:
        decoded, name = store.decode_cursor(cursor, {"offset"}), "offset"
    raw = (decoded or {}).get(name, "")
    if not (raw.isascii() and raw.isdigit()):
        raise ValidationFailed("The cursor is not valid.", code="invalid_cursor")
    return (int(raw), None) if name == "from" else (None, int(raw))


def _cursor(name: str, value: int) -> str | None:
    return store.encode_cursor({name: str(value)})


def _report_body(key: str, position: int | None) -> Any:
    """The report's body as a stream (from `position` on), or None when it is gone."""
    kwargs: dict[str, Any] = {"Bucket": settings().upload_bucket, "Key": key}
    if position is not None:
        kwargs["Range"] = f"bytes={position}-"
    try:
        return store.client("s3").get_object(**kwargs)["Body"]
    except ClientError as exc:
        code = exc.response["Error"]["Code"]
        if code in ("NoSuchKey", "404"):
            return None
        if code == "InvalidRange":  # a position past the report's end: not a cursor it gave
            raise ValidationFailed("The cursor is not valid.", code="invalid_cursor") from None
        raise


def _rows_by_line(body: Any, position: int | None, limit: int) -> dict[str, Any] | None:
    """Up to `limit` rows from a one-row-a-line report, from `position` (None: the first row).

    None when the report has the older layout (a row that is not one line of JSON).
    """
    lines = body.iter_lines(chunk_size=64 * 1024, keepends=True)
    at = position or 0
    if position is None:
        for line in lines:
            at += len(line)
            if line.strip() == _ROWS_LINE:
                break
        else:
            return {"items": [], "next_cursor": None}  # "rejected_rows": [] — none
    items: list[dict[str, Any]] = []
    for line in lines:
        text = line.strip()
        if not text or text.startswith(b"]"):
            break
        if len(items) == limit:
            return {"items": items, "next_cursor": _cursor("from", at)}
        try:
            row = json.loads(text.removesuffix(b","))
        except ValueError:
            return None
        if not isinstance(row, dict):
            return None
        items.append(row)
        at += len(line)
    return {"items": items, "next_cursor": None}


# -- listing ------------------------------------------------------------------------------


def list_for_partner(partner_id: str, limit: int, cursor: str | None) -> dict[str, Any]:
    """A partner's runs, newest first (`by_partner` index)."""
    page = store.query_page(
        store.import_runs(),
        cursor,
        {"run_id", "partner_id", "received_at"},
        IndexName="by_partner",
        KeyConditionExpression=Key("partner_id").eq(partner_id),
        ScanIndexForward=False,
        Limit=limit,
    )
    return {"items": [listed(i) for i in page["items"]], "next_cursor": page["next_cursor"]}


def list_all(limit: int, cursor: str | None) -> dict[str, Any]:
    """Every partner's runs for staff, newest first (`by_received` index)."""
    page = store.query_page(
        store.import_runs(),
        cursor,
        {"run_id", "list_pk", "received_at"},
        IndexName="by_received",
        KeyConditionExpression=Key("list_pk").eq("RUN"),
        ScanIndexForward=False,
        Limit=limit,
    )
    return {"items": [summary(i) for i in page["items"]], "next_cursor": page["next_cursor"]}
