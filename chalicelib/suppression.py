"""The suppression list: people who objected to direct marketing, as keyed hashes only.

An entry is HMAC-SHA256(key, normalised email); the address itself is never kept, so
the list can outlive the person's erasure. Imports and marketing registrations check it.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from chalicelib import clock, pseudonyms, store
from chalicelib.audit import Access, Actor
from chalicelib.config import settings
from chalicelib.validation import email_key


def keyed_hash(email: str, key: bytes) -> str:
    return hmac.new(key, email_key(email).encode(), hashlib.sha256).hexdigest()


def _candidates(email: str) -> list[str]:
    ring = pseudonyms.ring()
    return [f"{version}:{keyed_hash(email, key)}" for version, key in ring.keys.items()]


def current_key(email: str) -> str:
    """The suppression key of `email` under the current key (also a safe id for logs)."""
    ring = pseudonyms.ring()
    return f"{ring.current}:{keyed_hash(email, ring.current_key)}"


def is_suppressed(email: str) -> bool:
    """True if the person objected, under any key version still in the ring."""
    keys = _candidates(email)
    resp = store.client("dynamodb").batch_get_item(
        RequestItems={
            settings().suppression_table: {
                "Keys": [{"suppression_key": {"S": k}} for k in keys],
                "ProjectionExpression": "suppression_key",
            }
        }
    )
    return bool(resp["Responses"].get(settings().suppression_table))


def suppressed_keys(emails: list[str]) -> set[str]:
    """Of `emails`, the email_keys of those on the list (batched for imports)."""
    by_candidate: dict[str, str] = {}
    for email in emails:
        for candidate in _candidates(email):
            by_candidate[candidate] = email_key(email)
    found: set[str] = set()
    candidates = list(by_candidate)
    table = settings().suppression_table
    for start in range(0, len(candidates), 100):
        request: dict[str, Any] = {
            table: {
                "Keys": [{"suppression_key": {"S": k}} for k in candidates[start : start + 100]],
                "ProjectionExpression": "suppression_key",
            }
        }
        while request:
            resp = store.client("dynamodb").batch_get_item(RequestItems=request)
            for item in resp["Responses"].get(table, []):
                found.add(by_candidate[item["suppression_key"]["S"]])
            request = resp.get("UnprocessedKeys") or {}
    return found


def suppress(email: str, reason: str, actor: Actor) -> str:
    """Add the person (idempotent), audited in the same transaction; returns the suppression
    key, which is safe to log."""
    key = current_key(email)
    item = {"suppression_key": key, "reason": reason, "created_at": clock.iso()}
    put = {"TableName": store.suppression().name, "Item": store.typed(item)}
    store.client("dynamodb").transact_write_items(
        TransactItems=[{"Put": put}, actor.put(Access("create", "suppression", key, ()))]
    )
    return key
