"""Retention sweep: items read per due item via the sparse index vs a Scan, and run time by table size.

Tables of 1,000 and 10,000 records (customers' orders and profiles, prospects) with the
same 100 due records (1% of the large table): 75 orders past the Accounting Act period
and 25 unverified prospects. Every transition is a transaction (the deletion and its
audit event), and moto deep-copies each table a transaction names, the audit table
included, for every transaction: about 1 s per deletion at 20,000 records, 7 s at
100,000. Hence tables ten times smaller than a production-sized run; the ratios that
matter (1% due, Scan against index) are kept. Customers past their grace period are
found the same way (one index item each) and left out here. Items read are DynamoDB's
ScannedCount of every Query/Scan the sweep makes (what read capacity is billed on). The
Scan figure is a sweep that Scans both tables with a filter on the due date.

Run time is measured under moto, whose in-memory GSI Query walks the whole table to
serve an index; DynamoDB reads an index partition directly. The items-read figure is
the one that carries over to AWS; the time ratio under moto is an upper bound.
"""

from __future__ import annotations

import os
import time
from datetime import date
from typing import Any

import boto3
from moto import mock_aws

REGION = "eu-north-1"
DUE_ORDERS, DUE_PROSPECTS = 75, 25
DUE = DUE_ORDERS + DUE_PROSPECTS
SIZES = (1_000, 10_000)
AS_OF = date(2026, 6, 1)


def _load(tables: dict[str, str], total: int) -> None:
    """`total` records of which exactly DUE are due on AS_OF."""
    ddb = boto3.resource("dynamodb", region_name=REGION)
    customers, prospects = ddb.Table(tables["customers"]), ddb.Table(tables["prospects"])
    not_due = total - DUE
    n_prospects = max(not_due // 4, 0)
    with customers.batch_writer() as batch:
        for i in range(DUE_ORDERS):
            batch.put_item(
                Item={
                    "pk": f"CUSTOMER#old{i}",
                    "sk": f"ORDER#2019-05-01#{i}",
                    "entity": "order",
                    "order_id": f"o{i}",
                    "customer_id": f"old{i}",
                    "items": [],
                    "retention_rule": "order_bookkeeping",
                    "retention_due_at": "2026-01-01",
                }
            )
        for i in range(not_due - n_prospects):
            if i % 2:  # an active customer: not in the sparse index at all
                batch.put_item(
                    Item={
                        "pk": f"CUSTOMER#c{i}",
                        "sk": "PROFILE",
                        "entity": "customer",
                        "customer_id": f"c{i}",
                        "organization": "Oy",
                        "status": "active",
                    }
                )
            else:  # a recent order: in the index, due years from now
                batch.put_item(
                    Item={
                        "pk": f"CUSTOMER#c{i - 1}",
                        "sk": f"ORDER#2025-03-01#{i}",
                        "entity": "order",
                        "order_id": f"n{i}",
                        "items": [],
                        "retention_rule": "order_bookkeeping",
                        "retention_due_at": "2032-01-01",
                    }
                )
    with prospects.batch_writer() as batch:
        for i in range(DUE_PROSPECTS):
            batch.put_item(
                Item={
                    "pk": f"PROSPECT#old{i}",
                    "sk": "PROFILE",
                    "prospect_id": f"old{i}",
                    "retention_rule": "prospect_unverified",
                    "retention_due_at": "2026-03-01",
                }
            )
        for i in range(n_prospects):
            batch.put_item(
                Item={
                    "pk": f"PROSPECT#p{i}",
                    "sk": "PROFILE",
                    "prospect_id": f"p{i}",
                    "retention_rule": "prospect_unverified",
                    "retention_due_at": "2027-09-01",
                }
            )


def _scan_sweep_reads(tables: dict[str, str]) -> tuple[int, int]:
    """Items read and due found by a Scan-based sweep (what the index avoids)."""
    client = boto3.client("dynamodb", region_name=REGION)
    read = found = 0
    for name in (tables["customers"], tables["prospects"]):
        kwargs: dict[str, Any] = {
            "TableName": name,
            "FilterExpression": "retention_due_at < :cut",
            "ExpressionAttributeValues": {":cut": {"S": "2026-06-02"}},
        }
        while True:
            resp = client.scan(**kwargs)
            read += resp["ScannedCount"]
            found += resp["Count"]
            if "LastEvaluatedKey" not in resp:
                break
            kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]
    return read, found


def _one(total: int, with_scan: bool) -> dict[str, Any]:
    from chalicelib import retention, store
    from devstack import provision

    with mock_aws():
        info = provision.provision(boto3.session.Session(), f"bench{total}", REGION)
        os.environ.update(provision.app_environment(info, stage="bench"))
        store.reset()
        t0 = time.perf_counter()
        _load(info["tables"], total)
        load_s = time.perf_counter() - t0
        out: dict[str, Any] = {"records": total, "due": DUE, "load_seconds": round(load_s, 1)}
        if with_scan:
            t0 = time.perf_counter()
            read, found = _scan_sweep_reads(info["tables"])
            out["scan_sweep"] = {
                "items_read": read,
                "due_found": found,
                "items_read_per_due_item": round(read / found, 2),
                "seconds": round(time.perf_counter() - t0, 2),
            }
        t0 = time.perf_counter()
        dry = retention.sweep(AS_OF, dry_run=True)
        dry_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        run = retention.sweep(AS_OF)
        run_s = time.perf_counter() - t0
        done = sum(r["done"] for r in run["rules"].values())
        out["index_sweep"] = {
            "items_read": run["items_read"],
            "done": done,
            "items_read_per_due_item": round(run["items_read"] / max(done, 1), 3),
            "dry_run_seconds": round(dry_s, 2),
            "dry_run_items_read": dry["items_read"],
            "seconds": round(run_s, 2),
        }
        store.reset()
        return out


def run() -> dict[str, Any]:
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
    os.environ["AWS_DEFAULT_REGION"] = os.environ["AWS_REGION"] = REGION
    for var in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
        os.environ.pop(var, None)
    small, large = (_one(size, with_scan=True) for size in SIZES)
    return {
        "target_items_read_per_due_item": 1.1,
        "index_items_read_per_due_item_large": large["index_sweep"]["items_read_per_due_item"],
        "scan_items_read_per_due_item_large": large["scan_sweep"]["items_read_per_due_item"],
        "index_sweep_seconds": {str(r["records"]): r["index_sweep"]["seconds"] for r in (small, large)},
        "note": "seconds are under moto, whose GSI Query walks the table and whose transactions copy "
        "every table they name; items read carry over to DynamoDB",
        "runs": [small, large],
    }
