"""Signed unsubscribe tokens for marketing emails, and the links that carry them.

A token is `<key version>.<base64url(nonce || AES-256-GCM(payload))>`, the payload
`{"e": normalised email}`. Authenticated encryption rather than an HMAC over a keyed hash:
the objection has to find the person's prospect and customer records, which are looked up
by address, so the token must carry the address; encrypting it keeps the address out of
URLs, proxies and access logs, and the GCM tag is the signature (any change is detected).
A random 96-bit nonce per token makes every token different and unguessable; the key
comes from Secrets Manager (`settings().unsubscribe_secret`), as a versioned keyring so it
rotates without breaking links already sent: every version stays in the ring.

No expiry (Information Society Code 917/2014 § 200, GDPR Art. 21(3)): a link must work for
as long as the person can still be in the register, which re-verification can extend
without limit, and using it only ever stops marketing, so an old link is never dangerous.
Tokens issued before this rule carry an expiry (`"x"`); it is ignored, so those links
work again too.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
from urllib.parse import urlencode

from chalicelib.aead import InvalidSeal, seal, unseal
from chalicelib.config import settings
from chalicelib.errors import ValidationFailed
from chalicelib.secrets import keyring
from chalicelib.validation import email_key

_CONTEXT = b"ilopiste/unsubscribe/v1"
_MAX_TOKEN = 1024
ONE_CLICK_PATH = "/unsubscribe/one-click"
PAGE_PATH = "/unsubscribe"
PRIVACY_CENTER_PATH = "/privacy-center"  # also where request cases (chalicelib/cases.py) send the person


def _key(secret: bytes) -> bytes:
    """A 256-bit AES key derived from the secret (the secret may be any length)."""
    return hmac.new(secret, _CONTEXT, hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def issue(email: str) -> str:
    """A token for `email`, sealed with the ring's current key."""
    ring = keyring(settings().unsubscribe_secret)
    payload = json.dumps({"e": email_key(email)}, separators=(",", ":")).encode()
    nonce = os.urandom(12)
    sealed = seal(_key(ring.current_key), nonce, payload, ring.current.encode())
    return f"{ring.current}.{_b64(nonce + sealed)}"


def one_click_url(token: str) -> str:
    """The RFC 8058 one-click URL (List-Unsubscribe): a POST to it objects, with no page."""
    return f"{settings().public_base_url}{ONE_CLICK_PATH}?{urlencode({'token': token})}"


def page_url(token: str, lang: str) -> str:
    """The visible opt-out link: a page that says what will happen and asks to confirm."""
    return f"{settings().public_base_url}{PAGE_PATH}?{urlencode({'token': token, 'lang': lang})}"


def privacy_center_url(token: str, lang: str) -> str:
    """The privacy center page for the token's address (chalicelib/privacy_center.py): it
    knows the address, so the person objects at once or picks another request without typing
    it; any other request still proves the address by a one-time link mailed to it."""
    return f"{settings().public_base_url}{PRIVACY_CENTER_PATH}?{urlencode({'token': token, 'lang': lang})}"


def _invalid() -> ValidationFailed:
    return ValidationFailed("The unsubscribe link is not valid.", code="invalid_token")


def read(token: object) -> str:
    """The normalised email of a valid token; 400 if tampered, malformed or of an unknown key."""
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
        payload = json.loads(unseal(_key(secret), raw[:12], raw[12:], version.encode()))
    except (InvalidSeal, ValueError):  # altered or foreign, or not JSON
        raise _invalid() from None
    if not isinstance(payload, dict) or not isinstance(payload.get("e"), str):
        raise _invalid()
    return str(payload["e"])


def masked(email: str) -> str:
    """`m***@example.fi`: enough for the person to recognise, too little to learn."""
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}"
