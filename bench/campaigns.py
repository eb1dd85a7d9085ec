"""Campaign materialisation: items read per audience member, time and peak memory, beside a
Scan-everything baseline in the same run.

The register holds `SIZES` prospects (`BENCH_CAMPAIGN_PROSPECTS`, see below), each a
PROFILE and a partner's SOURCE item as an import leaves them, and 10% of them are on the
suppression list. One email campaign selects the whole register, the worst case: every
prospect is read and screened. The materialisation is the real job (`campaigns.materialise`:
the `by_list` index page by page, each page's members, counts, cursor and audit event in one
transaction). The baseline reads the same register the way a job without an index would: a
Scan of the whole table, screened the same way, its audience kept in memory (it writes
nothing, so its time is a lower bound of such a job).

Loading is direct: the emulator's process puts the items into its tables itself, not through
its HTTP API, so 400,000 items load in seconds.

moto, the emulator, has two costs DynamoDB does not: its index Query walks the table to
serve each page, and TransactWriteItems deep-copies the whole table for every item of a
transaction (moto 5.2, `transact_write_items`, its rollback copy). The second makes a
180,000-member audience cost hours of copying; the bench therefore replaces that copy with
none (`_no_transaction_backup`). That only changes what happens when a transaction fails,
which in this single-writer run none does: the run checks that the counts add up and that
the members are exactly the audience. Times are under moto; items read carry over to
DynamoDB as they are. The emulator runs in a process of its own (moto's server), so peak
memory (tracemalloc) is the job's and its SDK client's, not the emulator's.
"""

from __future__ import annotations

import hashlib
import os
import time
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3

REGION = "eu-north-1"
TARGET = 200_000
# Register sizes to run (comma-separated). moto's index Query walks and sorts the whole table
# for every 98-item page, so the job's time under moto grows with the square of the register:
# the default sizes finish in minutes; `BENCH_CAMPAIGN_PROSPECTS=200000` is the target size.
SIZES = tuple(int(n) for n in os.environ.get("BENCH_CAMPAIGN_PROSPECTS", "2000,5000").split(","))
SUPPRESSED_SHARE = 10  # every 10th prospect is on the suppression list


@contextmanager
def _no_transaction_backup() -> Iterator[None]:
    """moto's TransactWriteItems without its per-item deep copy of each table (see above)."""
    import copy

    from moto.dynamodb import models

    real = copy.deepcopy

    class _NoTableCopy:
        @staticmethod
        def deepcopy(value: Any, memo: Any = None) -> Any:
            return value if isinstance(value, models.Table) else real(value, memo)

    original = models.copy
    models.copy = _NoTableCopy  # type: ignore[assignment]
    try:
        yield
    finally:
        models.copy = original


# The item reads and writes (their results are typed items and counts only).
_PLAIN_JSON_ACTIONS = frozenset({"Query", "Scan", "GetItem", "BatchGetItem", "PutItem", "UpdateItem", "BatchWriteItem"})


@contextmanager
def _plain_json_responses() -> Iterator[None]:
    """moto's DynamoDB answers as plain JSON (its typed result dumped as is), not through its
    model-driven serializer, which costs about 8 ms per item returned (moto 5.2): a 200,000-
    prospect Scan would spend its hour there. Errors still go through the serializer."""
    import json

    from moto.core.responses import ActionResult
    from moto.dynamodb.responses import DynamoHandler

    original = DynamoHandler.serialized

    def serialized(self: Any, action_result: ActionResult) -> Any:
        result = action_result.result
        if isinstance(result, dict) and self._get_action() in _PLAIN_JSON_ACTIONS:
            return 200, {**self.response_headers, "Content-Type": "application/x-amz-json-1.0"}, json.dumps(result)
        return original(self, action_result)

    DynamoHandler.serialized = serialized  # type: ignore[method-assign]
    try:
        yield
    finally:
        DynamoHandler.serialized = original  # type: ignore[method-assign]


def _email(i: int) -> str:
    return f"henkilo{i}@organisaatio{i % 5000}.fi"


def _load(tables: dict[str, str], total: int) -> int:
    """`total` prospects (PROFILE + SOURCE items) and every 10th one's suppression entry,
    straight into the emulator's tables; returns how many are suppressed."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends

    from chalicelib import prospects, pseudonyms, store, suppression

    backend = dynamodb_backends[DEFAULT_ACCOUNT_ID][REGION]
    profiles, sources, blocked = (backend.get_table(tables[k]) for k in ("prospects", "prospects", "suppression"))
    ring = pseudonyms.ring()
    suppressed = 0
    now = "2026-06-01T09:00:00Z"
    for i in range(total):
        email = _email(i)
        fields = {
            "organization": f"Organisaatio {i % 5000} Oy",
            "contact_name": f"Henkilö {i}",
            "title": ("Toimitusjohtaja", "Talousjohtaja", "Myyntipäällikkö", "Sihteeri")[i % 4],
            "email": email,
            "phone": f"+35840{i:07d}",
        }
        prospect_id = hashlib.sha256(f"prospect:{email}".encode()).hexdigest()[:32]
        email_hash = f"{ring.current}:{i:032x}"
        profiles.put_item(store.typed_item(prospects.profile_item(prospect_id, fields, now, email_hash)))
        sources.put_item(store.typed_item(prospects.source_item(prospect_id, "acme", fields, now, email_hash)))
        if i % SUPPRESSED_SHARE == 0:
            key = suppression.current_key(email)
            blocked.put_item(store.typed({"suppression_key": key, "reason": "objection", "created_at": now}))
            suppressed += 1
    return suppressed


def _scan_baseline() -> dict[str, Any]:
    """Every item of the register by Scan, its PROFILEs screened: the audience in memory."""
    from chalicelib import campaigns, store

    table = store.prospects()
    read = 0
    audience: list[str] = []
    excluded = dict.fromkeys(campaigns.EXCLUSIONS, 0)
    kwargs: dict[str, Any] = {}
    tracemalloc.start()
    t0 = time.perf_counter()
    while True:
        resp = table.scan(**kwargs)
        read += int(resp["ScannedCount"])
        profiles = [i for i in resp["Items"] if i["sk"] == "PROFILE"]
        for start in range(0, len(profiles), campaigns.PAGE):
            allowed, out = campaigns.screen("email", profiles[start : start + campaigns.PAGE])
            audience += [p["prospect_id"] for p in allowed]
            excluded = {k: excluded[k] + out[k] for k in excluded}
        if "LastEvaluatedKey" not in resp:
            break
        kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]
    seconds = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {
        "items_read": read,
        "audience": len(audience),
        "excluded": excluded,
        "items_read_per_audience_member": round(read / max(len(audience), 1), 3),
        "seconds": round(seconds, 1),
        "peak_memory_mb": round(peak / 2**20, 1),
    }


def _materialise() -> dict[str, Any]:
    """The real job over the whole register (no criteria), page by page through `by_list`."""
    from boto3.dynamodb.conditions import Key

    from chalicelib import campaigns, store
    from chalicelib.audit import Actor
    from chalicelib.auth import Principal
    from chalicelib.registers import Role

    actor = Actor(Principal("bench", frozenset({Role.STAFF})), "bench")
    campaign = campaigns.create({"name": "Bench", "purpose": "Benchmark", "channel": "email"}, actor)
    cid = campaign["campaign_id"]
    campaigns.start_materialisation(cid, actor)
    reads = campaigns.ReadCounter()
    tracemalloc.start()
    t0 = time.perf_counter()
    result = campaigns.materialise(cid, reads)
    seconds = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    meta = store.plain(campaigns.get(cid))
    counts = meta["counts"]
    members = 0
    kwargs: dict[str, Any] = {
        "KeyConditionExpression": Key("pk").eq(campaigns.pk(cid)) & Key("sk").begins_with(campaigns.MEMBER_PREFIX),
        "Select": "COUNT",
    }
    while True:
        resp = store.campaigns().query(**kwargs)
        members += int(resp["Count"])
        if "LastEvaluatedKey" not in resp:
            break
        kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]
    # The figures are only worth reporting if the job is right: each person counted once.
    assert meta["status"] == "ready", meta["status"]
    assert counts["selected"] == counts["audience"] + sum(counts["excluded"].values())
    assert members == counts["audience"]
    return {
        "items_read": reads.items,
        "pages": result["pages"],
        "selected": counts["selected"],
        "audience": counts["audience"],
        "excluded": counts["excluded"],
        "items_read_per_audience_member": round(reads.items / max(counts["audience"], 1), 3),
        "seconds": round(seconds, 1),
        "peak_memory_mb": round(peak / 2**20, 1),
    }


def _emulator(port: int, env: dict[str, str], commands: Any) -> None:
    """The emulator in a process of its own, so the benchmark's memory figures are the job's and
    the client's, not the emulator's: moto's server with the two changes above, which also loads
    the register straight into its tables when asked."""
    import logging

    from moto.server import ThreadedMotoServer

    from chalicelib import store

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request
    os.environ.update(env)
    with _plain_json_responses(), _no_transaction_backup():
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        server.start()
        commands.send("ready")
        while True:
            command = commands.recv()
            if command[0] == "load":
                _, app_env, tables, total = command
                os.environ.update(app_env)
                store.reset()
                commands.send(_load(tables, total))
            else:
                server.stop()
                return


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _one(total: int) -> dict[str, Any]:
    import multiprocessing

    from chalicelib import store
    from devstack import provision

    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    ours, theirs = multiprocessing.Pipe()
    env = {k: os.environ[k] for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION", "AWS_REGION")}
    child = multiprocessing.get_context("fork").Process(target=_emulator, args=(port, env, theirs), daemon=True)
    child.start()
    try:
        assert ours.recv() == "ready"
        info = provision.provision(boto3.session.Session(), f"benchcampaigns{total}", REGION, endpoint_url=url)
        info["aws_endpoint_url"] = url
        app_env = provision.app_environment(info, stage="bench")
        os.environ.update(app_env)
        store.reset()
        t0 = time.perf_counter()
        ours.send(("load", app_env, info["tables"], total))
        suppressed = int(ours.recv())
        load_seconds = time.perf_counter() - t0
        scan = _scan_baseline()
        job = _materialise()
        assert scan["audience"] == job["audience"] == total - suppressed
    finally:
        ours.send(("stop",))
        child.join(30)
        for var in ("AWS_ENDPOINT_URL", "COGNITO_JWKS_URL", "CUSTOMER_COGNITO_JWKS_URL"):
            os.environ.pop(var, None)
        store.reset()
    return {
        "prospects": total,
        "register_items": 2 * total,
        "suppressed": suppressed,
        "load_seconds": round(load_seconds, 1),
        "materialise": job,
        "scan_baseline": scan,
    }


def run() -> dict[str, Any]:
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
    os.environ["AWS_DEFAULT_REGION"] = os.environ["AWS_REGION"] = REGION
    for var in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
        os.environ.pop(var, None)
    runs = [_one(size) for size in SIZES]
    largest = runs[-1]
    return {
        "target": TARGET,
        "index_items_read_per_audience_member": largest["materialise"]["items_read_per_audience_member"],
        "scan_items_read_per_audience_member": largest["scan_baseline"]["items_read_per_audience_member"],
        "peak_memory_mb": {
            str(r["prospects"]): {
                "materialise": r["materialise"]["peak_memory_mb"],
                "scan": r["scan_baseline"]["peak_memory_mb"],
            }
            for r in runs
        },
        "seconds": {
            str(r["prospects"]): {"materialise": r["materialise"]["seconds"], "scan": r["scan_baseline"]["seconds"]}
            for r in runs
        },
        "note": "one email campaign over the whole register, 10% suppressed; seconds under moto, whose index "
        "Query walks and sorts the table for every page (the job's time grows with the square of the register "
        "there, linearly in DynamoDB); items read and the job's page-bounded memory carry over to DynamoDB",
        "runs": runs,
    }
