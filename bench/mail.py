"""Email campaign sending: messages per second, DynamoDB requests per message, and that the
finished job, run again, sends nothing.

The register holds `SIZES` recipients (`BENCH_MAIL_RECIPIENTS`), each a PROFILE and a
partner's SOURCE item as an import leaves them, 10% of them on the suppression list (the
re-check before each message leaves them out), and one email campaign whose audience is
all of them, loaded as materialisation leaves it (MEMBER items, the campaign `ready`): the
materialisation has its own benchmark (bench/campaigns.py), and under moto it grows with
the square of the register. The sending is the real job (`campaign_send.run`, the handler of
the `campaign` mail job): each member claimed, re-checked (PROFILE and suppression list),
its message composed (text + HTML, unsubscribe token) and handed to the emulated SES, and
recorded (member state, last contact, disclosure entry, audit event: one transaction).
SES's rate is set out of the way (`SES_MAX_SEND_RATE`), so the figure is the job's own
throughput; in AWS the account's quota paces it (14/s by default: 50,000 messages take an
hour there, in about 12 invocations of the 300-second function).

The emulator is bench/_emulator.py's (moto's server in its own process, the data loaded
straight into its tables, moto's costs that DynamoDB does not have switched off). Requests
are counted on the app's clients (botocore's `before-call` event) by operation; times are
moto's.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from typing import Any

from bench import _emulator as emulator
from bench._emulator import REGION

TARGET = 50_000
# Recipient counts to run (comma-separated): a small one, then the 50,000 (about 30
# minutes under moto on two cores; `BENCH_MAIL_RECIPIENTS=1500` for a quick look).
SIZES = tuple(int(n) for n in os.environ.get("BENCH_MAIL_RECIPIENTS", f"1500,{TARGET}").split(","))
SUPPRESSED_SHARE = 10


def _load(tables: dict[str, str], total: int, campaign_id: str) -> int:
    """`total` prospects, every 10th suppressed, all of them members of the campaign, straight
    into the emulator's tables. Returns how many are suppressed."""
    import hashlib

    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends

    from chalicelib import campaigns, prospects, pseudonyms, store, suppression

    backend = dynamodb_backends[DEFAULT_ACCOUNT_ID][REGION]
    register, blocked, audience = (backend.get_table(tables[k]) for k in ("prospects", "suppression", "campaigns"))
    ring = pseudonyms.ring()
    now = "2026-06-01T09:00:00Z"
    suppressed = 0
    for i in range(total):
        email = emulator.email(i)
        fields = {
            "organization": f"Organisaatio {i % 5000} Oy",
            "contact_name": f"Henkilö {i}",
            "title": "Toimitusjohtaja",
            "email": email,
        }
        pid = hashlib.sha256(f"prospect:{email}".encode()).hexdigest()[:32]
        email_hash = f"{ring.current}:{i:032x}"
        profile = prospects.profile_item(pid, fields, now, email_hash) | {
            "values_from": "acme"
        }  # as an import leaves it
        register.put_item(store.typed_item(profile))
        register.put_item(store.typed_item(prospects.source_item(pid, "acme", fields, now, email_hash)))
        audience.put_item(
            store.typed(
                {"pk": campaigns.pk(campaign_id), "sk": campaigns.member_sk(pid), "prospect_id": pid}
                | {"entity": "campaign_member", "added_at": now}
            )
        )
        if i % SUPPRESSED_SHARE == 0:
            key = suppression.current_key(email)
            blocked.put_item(store.typed({"suppression_key": key, "reason": "objection", "created_at": now}))
            suppressed += 1
    return suppressed


def _count_requests(counter: Counter[str]) -> None:
    """Count each request the app's DynamoDB and SES clients make, by operation."""
    from chalicelib import store

    def count(model: Any, **_: Any) -> None:
        counter[f"{model.service_model.service_name}:{model.name}"] += 1

    for client in (store.client("dynamodb"), store.resource("dynamodb").meta.client, store.send_once_client("sesv2")):
        client.meta.events.register("before-call", count, unique_id="bench-mail-count")


def _send(campaign_id: str) -> dict[str, Any]:
    """Run the `campaign` job until done, then once more; the requests of each."""
    from chalicelib import campaigns, store
    from chalicelib.mail import campaign_send

    requests: Counter[str] = Counter()
    _count_requests(requests)
    t0 = time.perf_counter()
    assert campaign_send.run({"campaign_id": campaign_id}, lambda: float("inf"))
    seconds = time.perf_counter() - t0
    first = Counter(requests)
    sending = store.plain(campaigns.get(campaign_id))["sending"]
    requests.clear()
    assert campaign_send.run({"campaign_id": campaign_id}, lambda: float("inf"))
    again = Counter(requests)
    return {"seconds": seconds, "requests": first, "sending": sending, "rerun_requests": again}


def _one(total: int) -> dict[str, Any]:
    from chalicelib import campaigns, store
    from chalicelib.audit import Actor
    from chalicelib.auth import Principal
    from chalicelib.registers import Role

    with emulator.Emulator(f"benchmail{total}", _load, {"SES_MAX_SEND_RATE": "1000000"}) as emulated:
        actor = Actor(Principal("bench", frozenset({Role.STAFF})), "bench")
        campaign = campaigns.create({"name": "Bench", "purpose": "Benchmark", "channel": "email"}, actor)
        cid = campaign["campaign_id"]
        suppressed, _ = emulated.load(total, cid)
        # The audience as materialisation leaves it.
        store.campaigns().update_item(
            Key={"pk": campaigns.pk(cid), "sk": campaigns.META},
            UpdateExpression="SET #status = :ready",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={":ready": "ready"},
        )
        campaigns.start_sending(cid, {"subject": "Tarjous", "text": "Hei,\n\nuusi palvelumme.", "lang": "fi"}, actor)
        result = _send(cid)
    sending, requests, again = result["sending"], result["requests"], result["rerun_requests"]
    sent = int(sending["counts"]["sent"])
    # The figures are only worth reporting if the job is right: each person once, none suppressed.
    assert sending["status"] == "sent"
    assert sent == total - suppressed == requests["sesv2:SendEmail"]
    assert sending["counts"]["excluded"]["suppressed"] == suppressed
    dynamodb = sum(n for op, n in requests.items() if op.startswith("dynamodb:"))
    return {
        "recipients": total,
        "suppressed": suppressed,
        "sent": sent,
        "seconds": round(result["seconds"], 1),
        "messages_per_second": round(sent / result["seconds"], 1),
        "dynamodb_requests": dynamodb,
        "dynamodb_requests_per_message": round(dynamodb / max(sent, 1), 2),
        "dynamodb_requests_per_recipient": round(dynamodb / total, 2),
        "requests_by_operation": dict(sorted(requests.items())),
        "rerun_sent": again.get("sesv2:SendEmail", 0),
        "rerun_requests": dict(sorted(again.items())),
    }


def run() -> dict[str, Any]:
    emulator.prepare_environment()
    runs = [_one(size) for size in SIZES]
    largest = runs[-1]
    return {
        "target": TARGET,
        "recipients": largest["recipients"],
        "messages_per_second": largest["messages_per_second"],
        "dynamodb_requests_per_message": largest["dynamodb_requests_per_message"],
        "rerun_sent": largest["rerun_sent"],
        "note": "one email campaign to every recipient, 10% suppressed (re-checked and left out); the job's own "
        "throughput under moto with SES's rate out of the way; requests per message carry over to DynamoDB",
        "runs": runs,
    }
