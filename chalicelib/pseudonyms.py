"""Keyed hashes that stand for an email address or a username wherever one would be a key.

Keys and index keys are what DynamoDB exports, CloudTrail data events and support tickets
show, so no address or username is ever one: the uniqueness guards (`EMAIL#`, `USERNAME#`,
a reseller's `EMAIL#`) and the `by_email` index key `email_hash` hold
`<version>:<HMAC-SHA256(key, purpose:value)>` under the pseudonym keyring
(`settings().pseudonym_key_secret`), the same ring as the suppression list and prospect ids.

Rotation: a new key becomes `current` while the old ones stay in the ring. New values are
made with the current key; look-ups try every version (`email_hashes`), and a guard is
claimed only if no version's guard exists, so uniqueness holds across the change. The
`pseudonym_rekey` function then moves every stored hash to the current key
(`chalicelib.rekeying`); once it reports nothing left under a version, that version can
leave the ring (docs/operations.md, "Rotating the pseudonym key").
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from boto3.dynamodb.conditions import Key

from chalicelib import store
from chalicelib.config import settings
from chalicelib.secrets import Keyring, keyring
from chalicelib.validation import email_key

EMAIL = "email"
USERNAME = "username"
_HEX = 32  # 128 bits: collisions are out of reach for any register's size


def digest(purpose: str, value: str, version: str, key: bytes) -> str:
    """The keyed hash of `value` for `purpose` under key `version` (versioned, safe to log)."""
    mac = hmac.new(key, f"{purpose}:{value}".encode(), hashlib.sha256).hexdigest()[:_HEX]
    return f"{version}:{mac}"


def ring() -> Keyring:
    return keyring(settings().pseudonym_key_secret)


def version_of(hashed: str) -> str:
    """The key version a stored hash was made with."""
    return hashed.split(":", 1)[0]


def _all(purpose: str, value: str) -> list[str]:
    keys = ring()
    versions = [keys.current, *(v for v in keys.keys if v != keys.current)]
    return [digest(purpose, value, v, keys.keys[v]) for v in versions]


def email_hash(email: str) -> str:
    """The hash of an address (any spelling of it, `validation.email_key`) under the current key."""
    return key_hash(email_key(email))


def key_hash(key: str) -> str:
    """The hash of an address already in its `validation.email_key` form (no second parse)."""
    keys = ring()
    return digest(EMAIL, key, keys.current, keys.current_key)


def email_hashes(email: str) -> list[str]:
    """The address's hash under every key version in the ring, the current one first."""
    return _all(EMAIL, email_key(email))


def username_hash(username: str) -> str:
    """The hash of a (normalised) username under the current key."""
    keys = ring()
    return digest(USERNAME, username, keys.current, keys.current_key)


def username_hashes(username: str) -> list[str]:
    """The username's hash under every key version in the ring, the current one first."""
    return _all(USERNAME, username)


def items_by_email(table: Any, email: str, pk_prefix: str) -> list[dict[str, Any]]:
    """Items of `table` under `pk_prefix` whose `by_email` key is the address's, any key version."""
    return [
        item
        for hashed in email_hashes(email)
        for item in store.query_all(
            table,
            IndexName="by_email",
            KeyConditionExpression=Key("email_hash").eq(hashed) & Key("pk").begins_with(pk_prefix),
        )
    ]
