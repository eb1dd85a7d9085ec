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

The emulator is bench/_emulator.py's: moto's server in a process of its own (so peak
memory, by tracemalloc, is the job's and its SDK client's, not the emulator's), the register
loaded straight into its tables, and moto's costs that DynamoDB does not have switched off:
its per-page walk and re-sort of the whole table for an index Query and for a Scan (pages are
sliced from a sorted view built once, by moto's own page rules: without it the job would take
about a day at 200,000), its per-item deep copy of the table in a transaction (which only
matters when a transaction fails; none does in this single-writer run), and its per-item
response serializer. The run checks itself: the counts add up and the members are exactly
the Scan's audience. Times are under moto; items read and suppression keys looked up carry
over to DynamoDB as they are.
"""

from __future__ import annotations

import hashlib
import os
import time
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from bench import _emulator as emulator
from bench._emulator import REGION

TARGET = 200_000
# Register sizes to run (comma-separated): a small one, then the 200,000 (about twenty
# minutes under moto on two cores; `BENCH_CAMPAIGN_PROSPECTS=2000` for a quick look).
SIZES = tuple(int(n) for n in os.environ.get("BENCH_CAMPAIGN_PROSPECTS", f"2000,{TARGET}").split(","))
SUPPRESSED_SHARE = 10  # every 10th prospect is on the suppression list


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
        email = emulator.email(i)
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


@contextmanager
def _suppression_lookups() -> Iterator[list[int]]:
    """Counts the keys the screen looks up on the suppression list (one per address or
    number and key version): reads by key beside the register items read."""
    from chalicelib import pseudonyms, suppression

    counted = [0]
    real = suppression.suppressed_keys

    def counting(emails: list[str]) -> set[str]:
        counted[0] += len(emails) * len(pseudonyms.ring().keys)
        return real(emails)

    suppression.suppressed_keys = counting  # type: ignore[assignment]
    try:
        yield counted
    finally:
        suppression.suppressed_keys = real  # type: ignore[assignment]


def _scan_baseline() -> dict[str, Any]:
    """Every item of the register by Scan, its PROFILEs screened: the audience in memory."""
    from chalicelib import campaigns, store

    table = store.prospects()
    read = 0
    audience: list[str] = []
    excluded = dict.fromkeys(campaigns.EXCLUSIONS, 0)
    kwargs: dict[str, Any] = {}
    with _suppression_lookups() as lookups:
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
        "suppression_keys_looked_up": lookups[0],
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
    with _suppression_lookups() as lookups:
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
        "suppression_keys_looked_up": lookups[0],
        "seconds": round(seconds, 1),
        "peak_memory_mb": round(peak / 2**20, 1),
    }


def _one(total: int) -> dict[str, Any]:
    with emulator.Emulator(f"benchcampaigns{total}", _load) as emulated:
        suppressed, load_seconds = emulated.load(total)
        scan = _scan_baseline()
        job = _materialise()
        assert scan["audience"] == job["audience"] == total - int(suppressed)
    return {
        "prospects": total,
        "register_items": 2 * total,
        "suppressed": suppressed,
        "load_seconds": round(load_seconds, 1),
        "materialise": job,
        "scan_baseline": scan,
    }


def run() -> dict[str, Any]:
    emulator.prepare_environment()
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
        "note": "one email campaign over the whole register, 10% suppressed; seconds under moto (index and Scan pages "
        "from a sorted view, see the module); items read, suppression keys looked up and the job's page-bounded "
        "memory carry over to DynamoDB",
        "runs": runs,
    }
