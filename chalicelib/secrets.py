"""Keys held in AWS Secrets Manager, cached per container, with versioned keyrings.

A secret is either one key (a plain string that is not JSON) or a keyring
`{"current": "v2", "keys": {"v1": "...", "v2": "..."}}`: new values are made with the
current key, old ones stay verifiable until every `keys` entry is retired. That is how
the suppression-hash key and the unsubscribe-token key rotate without losing anyone.

Fail closed: a secret that is JSON but not a valid keyring (`current` not among `keys`,
an unknown field, a version not named `v<number>`, a key shorter than `MIN_KEY_BYTES`)
or a plain key that is too short is refused with `SecretUnusable`, never read as one
plain key: that would change every keyed hash and let suppressed people back into
imports. The refusal is logged as `secret_unusable` (the metric filter and alarm in
infra/resources.json catch it); the API answers 503 and imports fail and retry.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from typing import Any

from chalicelib import store
from chalicelib.logs import logger

_CACHE_SECONDS = 300
_cache: dict[str, tuple[float, Keyring]] = {}
# HMAC-SHA256 and the AES-256 key derivation want at least the hash's 32 bytes of key.
MIN_KEY_BYTES = 32
_VERSION = re.compile(r"^v[1-9][0-9]{0,5}$")
# The log message the infrastructure's metric filter counts (infra/resources.json).
UNUSABLE_LOG_MESSAGE = "secret_unusable"


class SecretUnusable(Exception):
    """The secret cannot be used as a keyring. The text names the problem, never a key."""


@dataclass(frozen=True)
class Keyring:
    current: str
    keys: dict[str, bytes]

    @property
    def current_key(self) -> bytes:
        return self.keys[self.current]


def _checked_key(version: str, value: Any) -> bytes:
    if not isinstance(value, str):
        raise SecretUnusable(f"Key {version} is not a string.")
    key = value.encode()
    if len(key) < MIN_KEY_BYTES:
        raise SecretUnusable(f"Key {version} is shorter than {MIN_KEY_BYTES} bytes.")
    return key


def parse_keyring(value: str) -> Keyring:
    """Read a secret string as a keyring, or raise `SecretUnusable` saying why not.

    A string that is not JSON is one key, the ring `v1` (what CloudFormation's generated
    secret holds). Anything that parses as JSON must be a complete, valid keyring.
    """
    try:
        doc = json.loads(value)
    except ValueError:
        return Keyring(current="v1", keys={"v1": _checked_key("v1", value)})
    if not isinstance(doc, dict):
        raise SecretUnusable("The secret is JSON but not a keyring object.")
    unknown = sorted(set(doc) - {"current", "keys"})
    if unknown:
        raise SecretUnusable(f"The keyring has unknown field(s): {', '.join(unknown)}.")
    keys, current = doc.get("keys"), doc.get("current")
    if not isinstance(keys, dict) or not keys:
        raise SecretUnusable("The keyring's `keys` must be a non-empty object.")
    bad_names = [str(k) for k in keys if not _VERSION.match(str(k))]
    if bad_names:
        raise SecretUnusable("Key versions must be named v1, v2, ...")
    if not isinstance(current, str) or current not in keys:
        raise SecretUnusable("The keyring's `current` does not name one of its `keys`.")
    return Keyring(current=current, keys={str(k): _checked_key(str(k), v) for k, v in keys.items()})


def keyring(secret_id: str) -> Keyring:
    """The keyring in `secret_id`, re-read at most every five minutes (rotation).

    An unusable secret is not cached, so a corrected secret is picked up at the next call.
    """
    hit = _cache.get(secret_id)
    if hit and hit[0] > time.monotonic():
        return hit[1]
    value = store.client("secretsmanager").get_secret_value(SecretId=secret_id)["SecretString"]
    try:
        ring = parse_keyring(value)
    except SecretUnusable as exc:
        logger.error(UNUSABLE_LOG_MESSAGE, extra={"secret_id": secret_id, "reason": str(exc)})
        raise
    _cache[secret_id] = (time.monotonic() + _CACHE_SECONDS, ring)
    return ring


def clear_cache() -> None:
    _cache.clear()
