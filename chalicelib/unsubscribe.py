"""Signed, expiring unsubscribe tokens for marketing and service emails.

A token is `<key version>.<base64url(nonce || AES-256-GCM(payload))>`, the payload
`{"e": normalised email, "x": expiry (epoch seconds)}`. Authenticated encryption rather
than an HMAC over a keyed hash: the objection has to find the person's prospect and
customer records, which are looked up by address, so the token must carry the address;
encrypting it keeps the address out of URLs, proxies and access logs, and the GCM tag
is the signature (any change is detected). The key comes from Secrets Manager
(`settings().unsubscribe_secret`), as a versioned keyring so it rotates without
breaking links already sent: old versions stay in the ring until their links expire.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
from datetime import timedelta

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from chalicelib import clock
from chalicelib.config import settings
from chalicelib.errors import DomainError, ValidationFailed
from chalicelib.secrets import keyring
from chalicelib.validation import email_key

DEFAULT_VALIDITY = timedelta(days=90)
_CONTEXT = b"ilopiste/unsubscribe/v1"
_MAX_TOKEN = 1024


class TokenExpired(DomainError):
    status = 410
    code = "token_expired"


def _key(secret: bytes) -> bytes:
    """A 256-bit AES key derived from the secret (the secret may be any length)."""
    return hmac.new(secret, _CONTEXT, hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def issue(email: str, validity: timedelta = DEFAULT_VALIDITY) -> str:
    """A token for `email`, valid for `validity` from now."""
    ring = keyring(settings().unsubscribe_secret)
    payload = json.dumps(
        {"e": email_key(email), "x": int((clock.now() + validity).timestamp())}, separators=(",", ":")
    ).encode()
    nonce = os.urandom(12)
    sealed = AESGCM(_key(ring.current_key)).encrypt(nonce, payload, ring.current.encode())
    return f"{ring.current}.{_b64(nonce + sealed)}"


def _invalid() -> ValidationFailed:
    return ValidationFailed("The unsubscribe link is not valid.", code="invalid_token")


def read(token: object) -> str:
    """The normalised email of a valid token; 400 if tampered or malformed, 410 if expired."""
    if not isinstance(token, str) or not token or len(token) > _MAX_TOKEN or token.count(".") != 1:
        raise _invalid()
    version, body = token.split(".")
    ring = keyring(settings().unsubscribe_secret)
    secret = ring.keys.get(version)
    if secret is None:
        raise _invalid()
    try:
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    except (binascii.Error, ValueError):
        raise _invalid() from None
    if len(raw) < 12 + 16:
        raise _invalid()
    try:
        payload = json.loads(AESGCM(_key(secret)).decrypt(raw[:12], raw[12:], version.encode()))
    except (InvalidTag, ValueError):
        raise _invalid() from None
    if not isinstance(payload, dict) or not isinstance(payload.get("e"), str) or not isinstance(payload.get("x"), int):
        raise _invalid()
    if clock.now().timestamp() >= payload["x"]:
        raise TokenExpired("The unsubscribe link has expired. Ask us by email to stop marketing to you.")
    return str(payload["e"])


def masked(email: str) -> str:
    """`m***@example.fi`: enough for the person to recognise, too little to learn."""
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}"
