"""Partner import benchmark: a generated 100,000-row CSV through `partner_import` under mock_aws.

Three imports of the same partner's list:
1. the first import (every row new),
2. the same bytes uploaded again (every row unchanged: must write 0 prospect items),
3. the list with 10% of the rows changed (write requests ≈ ceil(changed rows / 25)).
DynamoDB writes are counted per table, and every DynamoDB request (reads too) per row, with a
botocore `before-parameter-build` hook on every client the app uses. Peak memory is
tracemalloc's peak during import 2 (it streams the whole file and
reads every row's provenance; tracing import 1 as well would triple the bench's run time, as
the emulator's allocations are traced too). The emulator lives in the same process, so
`working_memory_mb` (the peak minus what is still allocated after the run) is the import's own
transient share; the fingerprints of seen rows (8 bytes per row) are part of it. The same file at
1,000,000 rows, as the Lambda runs it, is bench/imports_scale.py.
"""

from __future__ import annotations

import math
import os
import time
import tracemalloc
from collections import Counter
from typing import Any

ROWS = int(os.environ.get("BENCH_IMPORT_ROWS", "100000"))
CHANGED_SHARE = 10  # every 10th row changes in import 3
REGION = "eu-north-1"


def _csv(rows: int, changed: bool = False) -> bytes:
    lines = ["Organisaatio;Nimi;Titteli;Sähköposti;Puhelin"]
    for i in range(rows):
        title = "Toimitusjohtaja" if not (changed and i % CHANGED_SHARE == 0) else "Hallituksen puheenjohtaja"
        lines.append(f"Organisaatio {i} Oy;Henkilö Nro{i} Äyräpää;{title};etunimi.sukunimi{i}@org{i % 5000}.fi;")
    return ("\r\n".join(lines) + "\r\n").encode("utf-8")


class WriteCounter:
    """DynamoDB write requests and items per table, from botocore's before-parameter-build event."""

    def __init__(self) -> None:
        self.requests: Counter[str] = Counter()
        self.items: Counter[str] = Counter()
        self.all_requests = 0  # every DynamoDB request, reads included

    def __call__(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        self.all_requests += 1
        if model.name == "BatchWriteItem":
            for table, requests in params["RequestItems"].items():
                self.requests[table] += 1
                self.items[table] += len(requests)
        elif model.name in ("PutItem", "UpdateItem", "DeleteItem"):
            self.requests[params["TableName"]] += 1
            self.items[params["TableName"]] += 1
        elif model.name == "TransactWriteItems":
            for entry in params["TransactItems"]:
                (op,) = entry.values()
                self.requests[op["TableName"]] += 1
                self.items[op["TableName"]] += 1

    def reset(self) -> None:
        self.requests.clear()
        self.items.clear()
        self.all_requests = 0


def _import(stack: dict[str, Any], key: str, body: bytes) -> dict[str, Any]:
    """Upload, then deliver the queue's messages to the handler until the run is done."""
    import boto3

    from chalicelib.imports import messages, runs

    s3 = boto3.client("s3", region_name=REGION)
    sqs = boto3.client("sqs", region_name=REGION)
    s3.put_object(Bucket=stack["upload_bucket"], Key=key, Body=body)
    started = time.perf_counter()
    outcomes: list[str] = []
    while True:
        got = sqs.receive_message(QueueUrl=stack["import_queue_url"], MaxNumberOfMessages=10, AttributeNames=["All"])
        batch = got.get("Messages", [])
        if not batch:
            break
        for m in batch:
            outcomes += messages.handle_message(m["Body"], m["MessageId"], 1, lambda: 900.0)
            sqs.delete_message(QueueUrl=stack["import_queue_url"], ReceiptHandle=m["ReceiptHandle"])
    seconds = time.perf_counter() - started
    run_id = next(o.split(":", 1)[1] for o in outcomes if o.startswith("done:"))
    run = runs.summary(runs.get(run_id))
    return {"seconds": round(seconds, 2), "rows_per_second": round(ROWS / seconds), "counts": run["counts"]}


def run() -> dict[str, Any]:
    import boto3
    from moto import mock_aws

    from bench._emulator import data_provider
    from chalicelib import store
    from devstack import provision

    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
        }
    )
    os.environ.pop("AWS_ENDPOINT_URL", None)
    with mock_aws():
        stack = provision.provision(boto3.session.Session(), "bench", REGION)
        # Uploads are imported only for a registered, active data provider.
        provision.register_partners(
            boto3.client("dynamodb", region_name=REGION),
            stack["tables"]["partners"],
            [data_provider("bench")],
        )
        os.environ.update(provision.app_environment(stack, stage="bench"))
        store.reset()
        counter = WriteCounter()
        for client in (store.client("dynamodb"), store.resource("dynamodb").meta.client):
            client.meta.events.register("before-parameter-build.dynamodb.*", counter)
        prospects_table = stack["tables"]["prospects"]
        audit_table = stack["tables"]["audit"]

        def writes() -> dict[str, int]:
            return {
                "prospect_write_requests": counter.requests[prospects_table],
                "prospect_items_written": counter.items[prospects_table],
                "audit_write_requests": counter.requests[audit_table],
                "audit_items_written": counter.items[audit_table],
                "dynamodb_requests_per_row": round(counter.all_requests / ROWS, 4),
            }

        original = _csv(ROWS)
        first = _import(stack, "incoming/bench/lista.csv", original)
        first.update(writes())
        counter.reset()
        # Memory is measured on the unchanged re-import: it streams the whole file, reads every
        # row's provenance and keeps the seen-set, with no writes to add emulator storage.
        tracemalloc.start()
        unchanged = _import(stack, "incoming/bench/lista.csv", original)
        retained, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        unchanged.update(
            writes(), peak_memory_mb=round(peak / 2**20, 1), working_memory_mb=round((peak - retained) / 2**20, 1)
        )
        counter.reset()
        changed = _import(stack, "incoming/bench/lista.csv", _csv(ROWS, changed=True))
        changed.update(writes())
        changed_rows = int(changed["counts"]["updated"])
        # A changed row rewrites the partner's own item and the PROFILE that shows its values.
        expected = math.ceil(2 * changed_rows / 25)
        changed["expected_write_requests"] = expected
        changed["write_requests_vs_expected_pct"] = round(
            100 * (changed["prospect_write_requests"] - expected) / expected, 2
        )
        store.reset()
    return {
        "rows": ROWS,
        "file_mb": round(len(original) / 2**20, 1),
        "first_import": first,
        "unchanged_reimport": unchanged,
        "ten_percent_changed": changed,
        "note": "mock_aws in-process; the re-import ran under tracemalloc (slower)",
    }
