"""Partner imports under DynamoDB and S3 faults, partial batch failure and SQS redelivery.

Extends tests/test_imports.py (crash mid-file, lost follow-ups, DLQ, a flaky
BatchWriteItem client) with faults on every call path of the pipeline at botocore's
level (tests/faults.py): the run record, reads, batch writes, audit, work files,
report and upload deletion. Each test ends with exact prospects, counts and reports.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from boto3.dynamodb.conditions import Key

from tests import faults as f
from tests.conftest import Stack
from tests.imports_helpers import (
    csv_bytes,
    drain,
    invoke,
    object_versions,
    prospect_items,
    receive,
    report,
    runs_of,
    s3,
    sqs,
    upload,
)

GOOD = 30


def _rows(start: int = 0) -> list[list[str]]:
    rows = [[f"Org {i} Oy", f"Henkilö {i}", "Johtaja", f"h{i}@org{i}.fi", ""] for i in range(start, start + GOOD)]
    rows.insert(5, ["Koti", "Yksityinen", "", "matti@gmail.com", ""])  # line 7: a private person
    rows.insert(20, rows[2])  # line 22: the same person again
    return rows


EXPECTED_REJECTS = [
    {"line": 7, "reason": "free_mail_domain", "field": "email"},
    {"line": 22, "reason": "duplicate_in_file"},
]


@pytest.fixture
def faults(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> f.FaultInjector:
    from chalicelib.imports import messages, pipeline

    # Several checkpoints and batches per file, so faults meet every step more than once.
    monkeypatch.setattr(messages, "DEFAULT_LIMITS", pipeline.Limits(chunk_rows=5, checkpoint_rows=10))
    return f.install(monkeypatch)


def _assert_imported_exactly(stack: Stack, partner: str, name: str, start: int = 0) -> dict[str, Any]:
    [run] = [r for r in runs_of(stack, partner) if r["file_name"] == name]
    assert run["state"] == "done", run.get("failure")
    counts = {k: int(v) for k, v in run["counts"].items() if v}
    assert counts == {"rows": GOOD + 2, "inserted": GOOD, "rejected": 2}
    emails = [i["email"] for i in prospect_items(stack) if i.get("last_import_run") == run["run_id"]]
    assert sorted(emails) == sorted(f"h{i}@org{i}.fi" for i in range(start, start + GOOD))
    rep = report(stack, run)
    assert rep["counts"] == run["counts"] and rep["rejected_rows"] == EXPECTED_REJECTS
    reports = s3().list_objects_v2(Bucket=stack.info["upload_bucket"], Prefix=f"reports/{partner}/")
    assert sorted(o["Key"] for o in reports.get("Contents", []) if run["run_id"] in o["Key"]) == sorted(
        [run["report_key"], run["report_key"].replace(".json", ".rejected.csv")]
    )
    assert object_versions(stack, f"incoming/{partner}/{name}") == []
    assert object_versions(stack, f"work/{run['run_id']}/") == []
    # One audit event per prospect written: none lost, none doubled.
    events = stack.table("audit").query(
        IndexName="by_principal", KeyConditionExpression=Key("principal_id").eq("system:partner_import")
    )["Items"]
    mine = Counter(e["record_id"] for e in events if e["request_id"] == run["run_id"])
    assert len(mine) == GOOD and set(mine.values()) == {1}
    return run


@pytest.mark.parametrize("fault", [*f.DYNAMODB_FAULTS, f.LOST_REPLY], ids=lambda x: x.code or x.kind)
def test_import_under_dynamodb_faults_is_exact(stack: Stack, faults: f.FaultInjector, fault: f.Fault) -> None:
    upload(stack, "incoming/acme/lista.csv", csv_bytes(_rows()))
    faults.inject("dynamodb", "*", fault, times=40, every=3)
    drain(stack)
    assert faults.total("dynamodb") >= 10
    _assert_imported_exactly(stack, "acme", "lista.csv")
    assert len(prospect_items(stack)) == GOOD


def pipeline_attempts() -> int:
    """How many times the import's own writer sends a batch before the delivery gives up."""
    import inspect

    from chalicelib.imports import pipeline

    return int(inspect.signature(pipeline.ItemWriter).parameters["max_attempts"].default)


def _import_events(stack: Stack) -> Counter[str]:
    events = stack.table("audit").query(
        IndexName="by_principal", KeyConditionExpression=Key("principal_id").eq("system:partner_import")
    )["Items"]
    return Counter(e["record_id"] for e in events)


@pytest.mark.parametrize("fault", [f.PROVISIONED_THROUGHPUT, f.LOST_REPLY], ids=lambda x: x.code or x.kind)
def test_events_lost_with_a_dead_delivery_are_written_by_the_redelivery(
    stack: Stack, faults: f.FaultInjector, fault: f.Fault
) -> None:
    """The rows' batch is written, then every try of an audit write fails: the run dies.

    The redelivery finds the rows this run wrote, and writes exactly the events that are
    missing (the key is run + line + action, and an event is never written twice).
    """
    upload(stack, "incoming/acme/lista.csv", csv_bytes(_rows()))
    # The events go out in batches after each checkpoint's rows (every 10 rows here): the first
    # batch goes through, the second fails for good, after its rows are written. Throttled, it
    # is retried by botocore and then by the import's own writer until both give up; with a
    # lost reply, the events are written and the reply is lost every time.
    times = f.RETRY_BUDGET * (1 if fault is f.LOST_REPLY else pipeline_attempts())
    audit = stack.info["tables"]["audit"]
    faults.inject("dynamodb", "BatchWriteItem", fault, times=times, after=1, body_contains=audit)
    batch = [m for m in receive(stack) if "Records" in m["Body"]]
    first = invoke(stack, batch)
    assert first["batchItemFailures"]
    written = {i["prospect_id"] for i in prospect_items(stack)}
    if fault is f.LOST_REPLY:
        assert len(_import_events(stack)) == len(written)  # written, though the delivery saw them fail
    else:
        assert len(_import_events(stack)) < len(written)  # changes whose events the dead delivery lost
    url = stack.info["import_queue_url"]
    for m in batch:
        sqs().change_message_visibility(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0)
    drain(stack)
    _assert_imported_exactly(stack, "acme", "lista.csv")
    events = _import_events(stack)
    assert all(events[pid] == 1 for pid in written) and set(events.values()) == {1}


def test_a_redelivery_after_a_crash_never_rewrites_a_recorded_event(stack: Stack, faults: f.FaultInjector) -> None:
    """A delivery writes its first window's rows and their events, then dies before its
    checkpoint. Meanwhile one of those prospects is deleted, so the redelivery creates it
    again, with the same event key (run, line, create): the event recorded by the dead
    delivery stays as it was (the redelivery puts its first window's events on condition)."""
    upload(stack, "incoming/acme/lista.csv", csv_bytes(_rows()))
    # The window's report chunk is the last write before its checkpoint: it fails for good.
    faults.inject("s3", "PutObject", f.S3_INTERNAL_ERROR, times=f.RETRY_BUDGET, url_contains="/rejects/")
    batch = [m for m in receive(stack) if "Records" in m["Body"]]
    assert invoke(stack, batch)["batchItemFailures"]
    [run] = runs_of(stack, "acme")
    assert run["checkpoint"]["row"] == 0 and run["checkpoint"]["writing"] is True
    written = sorted({i["prospect_id"] for i in prospect_items(stack)})
    assert written and sum(_import_events(stack).values()) == len(written)
    gone = written[0]
    audit = stack.table("audit")
    [event] = audit.query(KeyConditionExpression=Key("pk").eq(f"RECORD#prospects#{gone}"))["Items"]
    audit.update_item(
        Key={"pk": event["pk"], "sk": event["sk"]},
        UpdateExpression="SET marker = :m",
        ExpressionAttributeValues={":m": "as recorded"},
    )
    register = stack.table("prospects")
    for item in register.query(KeyConditionExpression=Key("pk").eq(f"PROSPECT#{gone}"))["Items"]:
        register.delete_item(Key={"pk": item["pk"], "sk": item["sk"]})  # its PROFILE and the partner's item
    url = stack.info["import_queue_url"]
    for m in batch:
        sqs().change_message_visibility(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0)
    drain(stack)
    _assert_imported_exactly(stack, "acme", "lista.csv")
    [again] = audit.query(KeyConditionExpression=Key("pk").eq(f"RECORD#prospects#{gone}"))["Items"]
    assert again == {**event, "marker": "as recorded"}  # not rewritten by the redelivery
    assert "writing" not in runs_of(stack, "acme")[0]["checkpoint"]


def test_a_clean_run_writes_no_event_alone(stack: Stack, faults: f.FaultInjector) -> None:
    """Without a crash, every row event goes out in a batch: no conditional PutItem on the audit table."""
    upload(stack, "incoming/acme/lista.csv", csv_bytes(_rows()))
    drain(stack)
    _assert_imported_exactly(stack, "acme", "lista.csv")
    assert faults.calls[("dynamodb", "PutItem")] == 1  # the run record's creation only


@pytest.mark.parametrize("fault", [*f.S3_FAULTS, f.LOST_REPLY], ids=lambda x: x.code or x.kind)
def test_import_under_s3_faults_is_exact(stack: Stack, faults: f.FaultInjector, fault: f.Fault) -> None:
    """GetObject of the upload, work-file puts, lists and gets, the report, the deletions."""
    upload(stack, "incoming/acme/lista.csv", csv_bytes(_rows()))
    faults.inject("s3", "*", fault, times=30, every=2)
    drain(stack)
    assert {op for (svc, op) in faults.injected if svc == "s3"} >= {"GetObject", "PutObject"}
    _assert_imported_exactly(stack, "acme", "lista.csv")


def test_one_failing_file_in_a_batch_fails_alone_and_is_redelivered(stack: Stack, faults: f.FaultInjector) -> None:
    """S3 GetObject of one upload fails past the retry budget: only its message is retried."""
    for n in range(3):
        upload(stack, f"incoming/acme/lista-{n}.csv", csv_bytes(_rows(100 * n)))
    batch = [m for m in receive(stack) if "Records" in m["Body"]]
    assert len(batch) == 3
    bad = next(m for m in batch if "lista-1.csv" in m["Body"])
    faults.inject("s3", "GetObject", f.SLOW_DOWN, times=f.RETRY_BUDGET, url_contains="lista-1.csv")
    resp = invoke(stack, batch)
    assert resp["batchItemFailures"] == [{"itemIdentifier": bad["MessageId"]}]
    states = {r["file_name"]: r["state"] for r in runs_of(stack, "acme")}
    assert states == {"lista-0.csv": "done", "lista-1.csv": "running", "lista-2.csv": "done"}
    assert object_versions(stack, "incoming/acme/lista-1.csv")  # kept for the redelivery
    url = stack.info["import_queue_url"]
    for m in batch:
        if m is not bad:
            sqs().delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    sqs().change_message_visibility(QueueUrl=url, ReceiptHandle=bad["ReceiptHandle"], VisibilityTimeout=0)
    drain(stack)
    for n in range(3):
        _assert_imported_exactly(stack, "acme", f"lista-{n}.csv", 100 * n)
    assert len(prospect_items(stack)) == 3 * GOOD


@pytest.mark.parametrize(
    ("operation", "fault"),
    [("DeleteObject", f.SERVICE_UNAVAILABLE), ("PutObject", f.S3_INTERNAL_ERROR)],
)
def test_failure_while_finishing_is_redone_without_counting_twice(
    stack: Stack, faults: f.FaultInjector, operation: str, fault: f.Fault
) -> None:
    """Every row is in; deleting the upload (or writing the report) fails past the budget.

    The redelivery finds the run at its `finish` checkpoint: it writes the same report
    again, deletes the upload and closes the run, with every count as it was.
    """
    upload(stack, "incoming/acme/lista.csv", csv_bytes(_rows()))
    if operation == "PutObject":
        # Work files are puts too: fail the report, the first put after the last work file.
        faults.inject("s3", "PutObject", fault, times=f.RETRY_BUDGET, after=3)
    else:
        faults.inject("s3", operation, fault, times=f.RETRY_BUDGET)
    responses = drain(stack)
    assert responses[0]["batchItemFailures"] and not responses[-1]["batchItemFailures"]
    run = _assert_imported_exactly(stack, "acme", "lista.csv")
    assert int(run["attempts"]) == 2
    assert len(prospect_items(stack)) == GOOD
