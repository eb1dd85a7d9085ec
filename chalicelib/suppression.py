"""The suppression list: people who objected to direct marketing, as keyed hashes only.

An entry is HMAC-SHA256(key, normalised email); the address itself is never kept, so
the list can outlive the person's erasure. Imports and marketing registrations check it.

Phone numbers (the do-not-call list) live in the same table under their own key form,
`phone:<version>:<HMAC-SHA256(key, "phone:" + E.164 number)>`: the same keyring, and a
prefix no email entry (`<version>:<hex>`) can ever have, so a number and an address
never meet. A number is entered for a phone objection or a `do_not_call` request; imports
and staff entry skip it, and the access answer says whether a person's number is on it.

A prospect erased on the person's request (Art. 17) leaves a "do not re-add" entry,
`erased:<version>:<HMAC-SHA256(key, "erased:" + normalised email)>`, reason `erased`: the
same keyring, a prefix of its own, so it is never taken for an objection (an erased person
may still take marketing they ask for themselves, e.g. as a registered customer). It holds
no address and is written in the erasure's own transaction (`erased_entry`). A partner file
bringing the address back skips the row (`erased_on_request`), staff entry is refused (409
`erased_on_request`) and the access answer says since when and why the entry exists.
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
ERASED_PREFIX = "erased:"
ERASED = "erased"  # the reason of a do-not-re-add entry (an objection's is `objection`)


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
    return {by_candidate[k] for k in _listed(by_candidate)}


def _listed(keys: Iterable[str]) -> set[str]:
    """The keys of `keys` that are on the list (any reason), 100 keys a request."""
    found: set[str] = set()
    candidates = list(dict.fromkeys(keys))
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
                found.add(item["suppression_key"]["S"])
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


def _prefixed_hash(prefix: str, value: str, version: str, key: bytes) -> str:
    """A keyed entry of another kind than an objection: `<prefix><version>:<HMAC(prefix + value)>`,
    the prefix inside the MAC too, so no kind's hash can stand for another's."""
    mac = hmac.new(key, f"{prefix}{value}".encode(), hashlib.sha256).hexdigest()
    return f"{prefix}{version}:{mac}"


def _all_versions(prefix: str, value: str) -> list[str]:
    """The entry's key under every version in the ring (look-ups must find older entries)."""
    ring = pseudonyms.ring()
    return [_prefixed_hash(prefix, value, version, key) for version, key in ring.keys.items()]


def phone_key(phone: str) -> str:
    """The suppression key of a number under the current key (safe to log): `phone:v1:<hmac>`."""
    ring = pseudonyms.ring()
    return _prefixed_hash(PHONE_PREFIX, normalise_phone(phone), ring.current, ring.current_key)


def _phone_candidates(e164: str) -> list[str]:
    return _all_versions(PHONE_PREFIX, e164)


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


# --- do not re-add (erasure on request) ---------------------------------------------------


def erased_key(email: str) -> str:
    """The do-not-re-add key of `email` under the current key (safe to log): `erased:v1:<hmac>`."""
    ring = pseudonyms.ring()
    return _prefixed_hash(ERASED_PREFIX, email_key(email), ring.current, ring.current_key)


def _erased_candidates(norm: str) -> list[str]:
    return _all_versions(ERASED_PREFIX, norm)


def erased_entry(email: str, actor: Actor) -> tuple[str, list[dict[str, Any]]]:
    """The do-not-re-add entry of `email` and its audit event, for the erasure's own transaction.

    Returns the key (safe to log) and two transaction items. The write is idempotent and
    keeps the first erasure's date (`created_at`): a repeated erasure does not move "since".
    """
    key = erased_key(email)
    update = {
        "TableName": store.suppression().name,
        "Key": store.typed({"suppression_key": key}),
        "UpdateExpression": "SET reason = :r, created_at = if_not_exists(created_at, :now)",
        "ExpressionAttributeValues": store.typed({":r": ERASED, ":now": clock.iso()}),
    }
    return key, [{"Update": update}, actor.put(Access("create", "suppression", key, ()))]


def erased_since(email: str) -> str | None:
    """When the person's prospect record was first erased on request (None: no entry).

    Read consistently under every key version of the ring: an erasure made a moment ago counts.
    """
    keys = _erased_candidates(email_key(email))
    resp = store.client("dynamodb").batch_get_item(
        RequestItems={
            settings().suppression_table: {
                "Keys": [{"suppression_key": {"S": k}} for k in keys],
                "ProjectionExpression": "created_at",
                "ConsistentRead": True,
            }
        }
    )
    dates = [i["created_at"]["S"] for i in resp["Responses"].get(settings().suppression_table, [])]
    return min(dates) if dates else None


def import_blocks(emails: Iterable[str]) -> tuple[set[str], set[str]]:
    """Of `emails`, the email_keys that objected and those erased on request, in one batched look-up.

    An import skips both (the first as `not_imported`, the second as `erased_on_request`);
    an address with both entries counts as objected.
    """
    objection: dict[str, str] = {}
    erased: dict[str, str] = {}
    for email in emails:
        norm = email_key(email)
        objection.update(dict.fromkeys(_candidates(norm), norm))
        erased.update(dict.fromkeys(_erased_candidates(norm), norm))
    found = _listed([*objection, *erased])
    objected = {objection[k] for k in found if k in objection}
    return objected, {erased[k] for k in found if k in erased} - objected
