"""The suppression list: people who objected to direct marketing, as keyed hashes only.

An entry is HMAC-SHA256(key, normalised email); the address itself is never kept, so
the list can outlive the person's erasure. Imports and marketing registrations check it.

Phone numbers (the do-not-call list) live in the same table under their own key form,
`phone:<version>:<HMAC-SHA256(key, "phone:" + E.164 number)>`: the same keyring, and a
prefix no email entry (`<version>:<hex>`) can ever have, so a number and an address
never meet. A number is entered for a phone objection or a `do_not_call` request; imports
and staff entry skip it, and the access answer says whether a person's number is on it.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from typing import Any

from chalicelib import clock, pseudonyms, store
from chalicelib.audit import Access, Actor
from chalicelib.config import settings
from chalicelib.validation import email_key, normalise_phone

PHONE_PREFIX = "phone:"


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
                # Strongly consistent: an objection made a moment ago must already count
                # (a campaign checks each address right before its message).
                "ConsistentRead": True,
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
    return _on_list(by_candidate)


def _on_list(by_candidate: dict[str, str]) -> set[str]:
    """The values (of `{suppression key: value}`) whose key is on the list, 100 keys a request."""
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
    _enter(key, reason, actor)
    return key


def _enter(key: str, reason: str, actor: Actor) -> None:
    item = {"suppression_key": key, "reason": reason, "created_at": clock.iso()}
    put = {"TableName": store.suppression().name, "Item": store.typed(item)}
    store.client("dynamodb").transact_write_items(
        TransactItems=[{"Put": put}, actor.put(Access("create", "suppression", key, ()))]
    )


# --- phone numbers (do not call) ----------------------------------------------------------


def _phone_hash(e164: str, version: str, key: bytes) -> str:
    mac = hmac.new(key, f"{PHONE_PREFIX}{e164}".encode(), hashlib.sha256).hexdigest()
    return f"{PHONE_PREFIX}{version}:{mac}"


def phone_key(phone: str) -> str:
    """The suppression key of a number under the current key (safe to log): `phone:v1:<hmac>`."""
    ring = pseudonyms.ring()
    return _phone_hash(normalise_phone(phone), ring.current, ring.current_key)


def _phone_candidates(e164: str) -> list[str]:
    ring = pseudonyms.ring()
    return [_phone_hash(e164, version, key) for version, key in ring.keys.items()]


def suppress_phone(phone: str, reason: str, actor: Actor) -> str:
    """Put a number on the do-not-call list (idempotent), audited in the same transaction.

    `phone` may be any form `validation.normalise_phone` accepts; `reason` is e.g.
    `do_not_call` or `objection`. Returns the suppression key, which is safe to log.
    """
    key = phone_key(phone)
    _enter(key, reason, actor)
    return key


def is_phone_suppressed(phone: str) -> bool:
    """True if the number is on the do-not-call list, under any key version in the ring."""
    return bool(suppressed_phones([phone]))


def suppressed_phones(phones: Iterable[str]) -> set[str]:
    """Of the given numbers (E.164, as stored), those on the do-not-call list, as given.

    Batched (100 keys a request) over every key version of the ring. Each number is
    normalised first, so another spelling of a listed number is found too; one that is not
    a valid number cannot be on the list (only normalised numbers are entered).
    """
    normalised: dict[str, str] = {}
    for given in set(phones):
        try:
            normalised[given] = normalise_phone(given)
        except ValueError:
            continue
    by_candidate = {c: e164 for e164 in set(normalised.values()) for c in _phone_candidates(e164)}
    listed = _on_list(by_candidate)
    return {given for given, e164 in normalised.items() if e164 in listed}
