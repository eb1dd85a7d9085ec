"""Keys held in AWS Secrets Manager, cached per container, with versioned keyrings.

A secret is either one key (a plain string) or a keyring
`{"current": "v2", "keys": {"v1": "...", "v2": "..."}}`: new values are made with the
current key, old ones stay verifiable until every `keys` entry is retired. That is how
the suppression-hash key and the unsubscribe-token key rotate without losing anyone.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

from chalicelib import store

_CACHE_SECONDS = 300
_cache: dict[str, tuple[float, Keyring]] = {}


@dataclass(frozen=True)
class Keyring:
    current: str
    keys: dict[str, bytes]

    @property
    def current_key(self) -> bytes:
        return self.keys[self.current]


def parse_keyring(value: str) -> Keyring:
    """Read a secret string as a keyring (a plain string is a one-key ring `v1`)."""
    try:
        doc = json.loads(value)
    except ValueError:
        doc = None
    if isinstance(doc, dict) and isinstance(doc.get("keys"), dict) and doc.get("current") in doc["keys"]:
        return Keyring(current=str(doc["current"]), keys={str(k): str(v).encode() for k, v in doc["keys"].items()})
    return Keyring(current="v1", keys={"v1": value.encode()})


def keyring(secret_id: str) -> Keyring:
    """The keyring in `secret_id`, re-read at most every five minutes (rotation)."""
    hit = _cache.get(secret_id)
    if hit and hit[0] > time.monotonic():
        return hit[1]
    value = store.client("secretsmanager").get_secret_value(SecretId=secret_id)["SecretString"]
    ring = parse_keyring(value)
    _cache[secret_id] = (time.monotonic() + _CACHE_SECONDS, ring)
    return ring


def clear_cache() -> None:
    _cache.clear()
