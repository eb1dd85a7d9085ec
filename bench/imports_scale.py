"""A partner's full list at 100,000 and 1,000,000 rows, imported as the import Lambda runs it.

For each size (`BENCH_IMPORT_SCALE_ROWS`, default "100000,1000000") a fresh emulator
(bench/_emulator.py: moto's server in its own process) gets a data provider and the file
`full-lista.csv` (a full refresh, so the seen-rows set is used twice: for duplicates in the
file and to find who is missing) with every 100th row bad (a consumer address) and every
1,000th row a duplicate: first as a first import (every person new), then, at sizes up to
`BENCH_IMPORT_SCALE_CHANGED_UP_TO` (default 100,000), as next month's list with every 10th
good row changed (the steady state: most rows unchanged). For each
import a worker process started fresh (`spawn`, so its memory is its own: no parent pages,
no emulator) plays the Lambda: it takes the queue's messages one at a time as invocations
of `partner_import`'s time budget (its `lambda_timeout`, 150 s: the import checkpoints and
sends itself a follow-up message when its time runs short) until the run is done, and
reports:

* peak memory: the process's peak RSS (VmHWM: what Lambda reports as Max Memory Used) and
  its working set, the peak less the RSS after the handler's modules are loaded;
* DynamoDB requests per row, by operation and table (botocore's `before-parameter-build`
  event on the app's clients: each call once, its retries not), and S3 and SQS requests;
* segments (invocations that worked on the run) and follow-up messages.

Beside it, in the same run, a naive baseline in a worker of its own: the same rows read
and checked by the same rules, a Python `set` of the people seen, and for each good row one
PutItem of the prospect and one PutItem of its audit event. Its writes go to tables of its
own; it sends them for its first `BENCH_IMPORT_BASELINE_ROWS` (default 20,000) people
only, since its requests per row are 2 whatever the size and the rest would take hours under
the emulator, and reads and checks the whole file for its memory.

Speeds are the emulator's (moto on the same two cores), not DynamoDB's; the requests, the
memory and the segments are the import's own (segments depend on speed: the emulator's
is far below DynamoDB's, so it needs more of them).
"""

from __future__ import annotations

import json
import multiprocessing
import os
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from bench import _emulator as emulator
from bench._emulator import REGION

SIZES = tuple(int(n) for n in os.environ.get("BENCH_IMPORT_SCALE_ROWS", "100000,1000000").split(","))
BASELINE_ROWS = int(os.environ.get("BENCH_IMPORT_BASELINE_ROWS", "20000"))
# The changed list is imported again at sizes up to this (the steady state; at 1,000,000 rows
# it would add more than an hour under the emulator, so by default it is not).
CHANGED_UP_TO = int(os.environ.get("BENCH_IMPORT_SCALE_CHANGED_UP_TO", "100000"))
PARTNER = "bench"
KEY = f"incoming/{PARTNER}/full-lista.csv"
BAD_EVERY = 100
DUPLICATE_EVERY = 1000
CHANGED_EVERY = 10


def write_csv(path: Path, rows: int, changed: bool = False) -> dict[str, int]:
    """The file, streamed to disk; how many rows are good, bad, duplicates and (with `changed`:
    every 10th good row's title changed, as next month's list) changed."""
    counts = Counter[str]()
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write("Organisaatio;Nimi;Titteli;Sähköposti;Puhelin\r\n")
        for i in range(rows):
            if i % BAD_EVERY == BAD_EVERY - 1:
                address, counts["bad"] = f"henkilo{i}@gmail.com", counts["bad"] + 1
            elif i % DUPLICATE_EVERY == DUPLICATE_EVERY - 2:
                address, counts["duplicate"] = emulator.email(i - 1), counts["duplicate"] + 1
            else:
                address, counts["good"] = emulator.email(i), counts["good"] + 1
            title = "Toimitusjohtaja"
            if changed and i % CHANGED_EVERY == 0 and address == emulator.email(i):
                title, counts["changed"] = "Hallituksen puheenjohtaja", counts["changed"] + 1
            out.write(f"Organisaatio {i % 5000} Oy;Henkilö Nro{i} Äyräpää;{title};{address};\r\n")
    return dict(counts)


def _upload(s3: Any, bucket: str, path: Path) -> None:
    """One PutObject, as a partner's presigned POST is: moto notifies a multipart upload twice
    (S3 once), which would start two runs of the same file."""
    with path.open("rb") as body:
        s3.put_object(Bucket=bucket, Key=KEY, Body=body)


def _rss_mib() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _peak_rss_mib() -> float:
    """The process's peak RSS (VmHWM: since its exec; `ru_maxrss` would also count the parent's
    RSS at the fork that started it)."""
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024  # kB


def _count_requests(counter: Counter[str], tables: dict[str, str]) -> None:
    """Count each request of the app's clients: service, operation and, for DynamoDB, table.

    botocore's `before-parameter-build` sees each call once with its parameters (its retries
    are not counted: they are the same request again)."""
    from chalicelib import store

    names = {name: key for key, name in tables.items()}

    def count(model: Any, params: dict[str, Any], **_: Any) -> None:
        service = model.service_model.service_name
        if service != "dynamodb":
            counter[f"{service}:{model.name}"] += 1
            return
        touched = params.get("RequestItems") or {}
        if "TransactItems" in params:
            touched = {next(iter(op.values()))["TableName"]: 1 for op in params["TransactItems"]}
        for table in touched or [params.get("TableName", "?")]:
            counter[f"dynamodb:{model.name}:{names.get(table, table)}"] += 1

    for client in (store.client("dynamodb"), store.resource("dynamodb").meta.client):
        client.meta.events.register("before-parameter-build.dynamodb", count, unique_id="bench-scale-count")
    for service in ("s3", "sqs"):
        events = store.client(service).meta.events
        events.register(f"before-parameter-build.{service}", count, unique_id="bench-scale-count")


def _import_worker(env: dict[str, str], timeout: float, answer: Any) -> None:
    """The import Lambda: one queue message per invocation, each with the function's time budget."""
    os.environ.update(env)
    from botocore.config import Config

    from chalicelib import store
    from chalicelib.imports import messages, runs

    # moto builds an index's view on its first Query (the removal phase's by_source over two
    # million items takes minutes): the app's 30-second read timeout is DynamoDB's, not moto's.
    store.RETRY_CONFIG = store.RETRY_CONFIG.merge(Config(read_timeout=1800))
    store.reset()
    requests: Counter[str] = Counter()
    _count_requests(requests, json.loads(env["BENCH_TABLES"]))
    loaded = _rss_mib()
    sqs = store.client("sqs")
    queue = env["IMPORT_QUEUE_URL"]
    outcomes: list[str] = []
    started = time.perf_counter()
    idle = 0
    while idle < 3:
        got = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=1, AttributeNames=["All"], WaitTimeSeconds=1)
        if not got.get("Messages"):
            idle += 1
            continue
        idle = 0
        message = got["Messages"][0]
        deadline = time.monotonic() + timeout
        receives = int(message["Attributes"]["ApproximateReceiveCount"])
        outcomes += messages.handle_message(
            message["Body"], message["MessageId"], receives, lambda end=deadline: end - time.monotonic()
        )
        sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
        if any(o.startswith(("done:", "failed:")) for o in outcomes):
            break
    seconds = time.perf_counter() - started
    run_id = next(o.split(":", 1)[1] for o in outcomes if o.startswith(("done:", "failed:")))
    run = store.plain(runs.get(run_id))
    for name in ("sqs:ReceiveMessage", "sqs:DeleteMessage"):
        requests.pop(name, None)  # the bench's own queue polling, which Lambda's poller does
    answer.send(
        {
            "seconds": seconds,
            "state": run["state"],
            "counts": run["counts"],
            "rejected_by_reason": run.get("rejected_by_reason", {}),
            "invocations": len(outcomes),
            "segments": sum(o.startswith(("continued:", "done:", "failed:")) for o in outcomes),
            "follow_up_messages": sum(o.startswith("continued:") for o in outcomes),
            "outcomes": Counter(o.split(":", 1)[0] for o in outcomes),
            "requests": dict(sorted(requests.items())),
            "rss_after_load_mib": round(loaded, 1),
            "peak_rss_mib": round(_peak_rss_mib(), 1),
        }
    )


def _baseline_worker(env: dict[str, str], path: str, write_rows: int, answer: Any) -> None:
    """Put per row plus an audit PutItem per row, a Python set of who was seen."""
    os.environ.update(env)
    import boto3

    from chalicelib import prospects, store
    from chalicelib.config import settings
    from chalicelib.imports.pipeline import Reject, check_row
    from chalicelib.imports.read import open_upload
    from chalicelib.validation import email_key

    store.reset()
    requests: Counter[str] = Counter()
    dynamodb = boto3.client("dynamodb", region_name=REGION, endpoint_url=env["AWS_ENDPOINT_URL"])
    dynamodb.meta.events.register("before-parameter-build.dynamodb", lambda model, **_: requests.update([model.name]))
    loaded = _rss_mib()
    free_mail = frozenset(settings().free_mail_domains)
    seen: set[str] = set()
    rows = written = 0
    started = time.perf_counter()
    with open(path, "rb") as body:
        upload = open_upload(body, KEY, lambda: False)
        for line, raw in upload.rows:
            rows += 1
            checked = check_row(raw, free_mail)
            if isinstance(checked, Reject):
                continue
            pid = prospects.candidate_ids(email_key(checked["email"]))[0]
            if pid in seen:
                continue
            seen.add(pid)
            if written < write_rows:
                item = {"pk": {"S": prospects.pk(pid)}, "sk": {"S": prospects.PROFILE}, "line": {"N": str(line)}}
                item.update({k: {"S": str(v)} for k, v in checked.items()})
                dynamodb.put_item(TableName="baseline-prospects", Item=item)
                event = {"pk": {"S": f"RECORD#prospects#{pid}"}, "sk": {"S": f"import#{line:09d}"}}
                dynamodb.put_item(TableName="baseline-audit", Item=event)
                written += 1
    answer.send(
        {
            "seconds": round(time.perf_counter() - started, 1),
            "rows": rows,
            "people": len(seen),
            "rows_written": written,
            "requests": dict(requests),
            "requests_per_row_written": round(sum(requests.values()) / max(written, 1), 2),
            "rss_after_load_mib": round(loaded, 1),
            "peak_rss_mib": round(_peak_rss_mib(), 1),
        }
    )


def _in_worker(target: Any, *args: Any) -> dict[str, Any]:
    context = multiprocessing.get_context("spawn")
    mine, theirs = context.Pipe()
    process = context.Process(target=target, args=(*args, theirs))
    process.start()
    while not mine.poll(5):
        assert process.is_alive(), f"{target.__name__} died"
    answer: dict[str, Any] = mine.recv()
    process.join(60)
    return answer


def _lambda_timeout() -> float:
    config = json.loads((Path(__file__).resolve().parent.parent / ".chalice" / "config.json").read_text())
    return float(config["stages"]["prod"]["lambda_functions"]["partner_import"]["lambda_timeout"])


def _baseline_tables(endpoint: str) -> None:
    import boto3

    dynamodb = boto3.client("dynamodb", region_name=REGION, endpoint_url=endpoint)
    for name in ("baseline-prospects", "baseline-audit"):
        dynamodb.create_table(
            TableName=name,
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": k, "AttributeType": "S"} for k in ("pk", "sk")],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        )


def _per_row(requests: dict[str, int], prefix: str, rows: int) -> float:
    return round(sum(n for op, n in requests.items() if op.startswith(prefix)) / rows, 4)


def _figures(imported: dict[str, Any], size: int) -> dict[str, Any]:
    """One import's figures: speed (the emulator's), memory, requests per row, segments."""
    requests = imported["requests"]
    return {
        "seconds": round(imported["seconds"], 1),
        "rows_per_second": round(size / imported["seconds"]),
        "peak_rss_mib": imported["peak_rss_mib"],
        "rss_after_load_mib": imported["rss_after_load_mib"],
        "working_set_mib": round(imported["peak_rss_mib"] - imported["rss_after_load_mib"], 1),
        "dynamodb_requests_per_row": _per_row(requests, "dynamodb:", size),
        "dynamodb_write_requests_per_row": round(
            sum(n for op, n in requests.items() if op.split(":")[1] in _WRITES) / size, 4
        ),
        "segments": imported["segments"],
        "follow_up_messages": imported["follow_up_messages"],
        "invocations": imported["invocations"],
        "requests": requests,
        "counts": {k: int(v) for k, v in imported["counts"].items()},
    }


def _one(size: int, folder: Path, timeout: float) -> dict[str, Any]:
    """A first import of the list, then next month's list (10% changed) as a full refresh."""
    import boto3

    from devstack import provision

    path, changed_path = folder / f"lista-{size}.csv", folder / f"lista-{size}-changed.csv"
    made = write_csv(path, size)
    file_mib = path.stat().st_size / 2**20
    with emulator.Emulator(f"benchscale{size}", lambda tables: None) as emulated:
        env = {k: v for k, v in os.environ.items() if k.startswith("AWS_")}
        env |= emulated.app_env | {"BENCH_TABLES": json.dumps(emulated.tables)}
        endpoint = env["AWS_ENDPOINT_URL"]
        provision.register_partners(
            boto3.client("dynamodb", region_name=REGION, endpoint_url=endpoint),
            emulated.tables["partners"],
            [emulator.data_provider(PARTNER)],
        )
        _baseline_tables(endpoint)
        s3 = boto3.client("s3", region_name=REGION, endpoint_url=endpoint)
        _upload(s3, env["UPLOAD_BUCKET"], path)  # the bucket notifies the import queue
        first = _in_worker(_import_worker, env, timeout)
        again, changed = None, {}
        if size <= CHANGED_UP_TO:
            changed = write_csv(changed_path, size, changed=True)
            _upload(s3, env["UPLOAD_BUCKET"], changed_path)  # a new version: a new run
            again = _in_worker(_import_worker, env, timeout)
            changed_path.unlink()
        baseline = _in_worker(_baseline_worker, env, str(path), min(size, BASELINE_ROWS))
    path.unlink()
    # The figures are only worth reporting if the imports are right.
    rejected = {"free_mail_domain": made["bad"], "duplicate_in_file": made["duplicate"]}
    for imported in (first, again):
        if imported is not None:
            assert imported["state"] == "done", imported
            assert int(imported["counts"]["rows"]) == size and imported["rejected_by_reason"] == rejected
    assert int(first["counts"]["inserted"]) == made["good"], (first["counts"], made)
    if again is not None:
        assert int(again["counts"]["updated"]) == changed["changed"], (again["counts"], changed)
        assert int(again["counts"]["unchanged"]) == made["good"] - changed["changed"]
        assert int(again["counts"]["removed"]) == 0
    assert baseline["people"] == made["good"]
    return {
        "rows": size,
        "file_mib": round(file_mib, 1),
        "rows_good_bad_duplicate": [made["good"], made["bad"], made["duplicate"]],
        **_figures(first, size),
        "ten_percent_changed": {"rows_changed": changed["changed"], **_figures(again, size)} if again else None,
        "baseline": baseline
        | {
            "working_set_mib": round(baseline["peak_rss_mib"] - baseline["rss_after_load_mib"], 1),
        },
    }


_WRITES = {"BatchWriteItem", "PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems"}


def run() -> dict[str, Any]:
    emulator.prepare_environment()
    timeout = _lambda_timeout()
    runs = []
    with tempfile.TemporaryDirectory(prefix="bench-import-scale-") as folder:
        for size in SIZES:
            runs.append(_one(size, Path(folder), timeout))
            # Each size as it ends: a later size's hours do not put the earlier ones at risk.
            print(json.dumps({"imports_scale_size": runs[-1]}), flush=True)
    largest = max(runs, key=lambda r: r["rows"])  # the summary's size, whatever order they ran in
    return {
        "rows": largest["rows"],
        "working_set_mib": largest["working_set_mib"],
        "peak_rss_mib": largest["peak_rss_mib"],
        "dynamodb_requests_per_row": largest["dynamodb_requests_per_row"],
        "ten_percent_changed_requests_per_row": max(
            (r["ten_percent_changed"] for r in runs if r["ten_percent_changed"]), key=lambda c: c["counts"]["rows"]
        )["dynamodb_requests_per_row"]
        if any(r["ten_percent_changed"] for r in runs)
        else None,
        "baseline_requests_per_row": largest["baseline"]["requests_per_row_written"],
        "segments": largest["segments"],
        "follow_up_messages": largest["follow_up_messages"],
        "lambda_timeout_seconds": timeout,
        "note": "a first import of a full list (every person new), then the list with 10% of its rows changed, "
        "under moto's server in its own process; memory is the worker process's RSS; speeds are the emulator's",
        "runs": runs,
    }
