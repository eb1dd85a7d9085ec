"""Signed unsubscribe links: preview, objection, tampering, and no expiry."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import pytest

from chalicelib import clock, suppression, unsubscribe
from chalicelib.errors import ValidationFailed
from tests.conftest import Stack, Tokens, call

EMAIL = "asiakas@yritys.fi"


def link(client: Any, tokens: Tokens, email: str = EMAIL) -> str:
    status, body = call(client, "POST", "/unsubscribe-links", tokens.staff, {"email": email})
    assert status == 201, body
    assert email not in body["path"] and "yritys" not in body["token"]
    return str(body["token"])


def test_get_shows_what_happens_and_changes_nothing(client: Any, tokens: Tokens) -> None:
    token = link(client, tokens)
    status, body = call(client, "GET", f"/unsubscribe?token={quote(token)}")
    assert status == 200
    assert body["email"] == "a***@yritys.fi"
    assert "add_to_suppression_list" in body["will"]
    assert "withdraw_service_message_consent" not in body["will"]
    assert not suppression.is_suppressed(EMAIL)
    page = client.http.get(f"/unsubscribe?token={quote(token)}&lang=en", headers={"Accept": "text/html"})
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert b'<form method="post"' in page.body and EMAIL.encode() not in page.body
    assert b"withdrawn" not in page.body and b"withdraw it separately" in page.body


def test_post_performs_the_objection(client: Any, tokens: Tokens) -> None:
    token = link(client, tokens)
    status, body = call(client, "POST", "/unsubscribe", None, {"token": token})
    assert status == 200, body
    assert body["unsubscribed"] is True
    assert suppression.is_suppressed(EMAIL)
    # Marketing and service messages are separate purposes: the customer's consent stays.
    status, me = call(client, "GET", "/me", tokens.customer)
    assert me["customer"]["consent_service_messages"]["given"] is True
    status, recorded = call(client, "GET", "/subject-requests", tokens.staff)
    [entry] = recorded["items"]
    assert entry["channel"] == "unsubscribe_link" and entry["handled_by"] == "anonymous"
    assert entry["type"] == "objection" and entry["request_ref"] == body["request_ref"]
    assert EMAIL not in json.dumps(entry)


def test_browser_form_post(client: Any, tokens: Tokens) -> None:
    token = link(client, tokens, "someone@kunta.fi")
    resp = client.http.post(
        "/unsubscribe",
        headers={"Content-Type": "application/x-www-form-urlencoded", "Accept": "text/html"},
        body=f"token={quote(token)}".encode(),
    )
    assert resp.status_code == 200 and resp.headers["Content-Type"].startswith("text/html")
    assert suppression.is_suppressed("someone@kunta.fi")


def test_a_confirm_form_posted_from_another_site_changes_nothing(client: Any, tokens: Tokens) -> None:
    token = link(client, tokens, "toinen@kunta.fi")
    form = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "text/html", "Accept-Language": "en"}
    resp = client.http.post(
        "/unsubscribe", headers={**form, "Sec-Fetch-Site": "cross-site"}, body=f"token={quote(token)}&lang=fi".encode()
    )
    assert resp.status_code == 403 and b'<html lang="en">' in resp.body
    assert b"Nothing was changed. Open the link from the message again" in resp.body
    assert token.encode() not in resp.body and not suppression.is_suppressed("toinen@kunta.fi")
    # From our own confirm page it is done.
    resp = client.http.post(
        "/unsubscribe", headers={**form, "Sec-Fetch-Site": "same-origin"}, body=f"token={quote(token)}".encode()
    )
    assert resp.status_code == 200 and suppression.is_suppressed("toinen@kunta.fi")


def test_tampered_and_malformed_tokens_are_400(client: Any, tokens: Tokens) -> None:
    token = link(client, tokens)
    version, body = token.split(".")
    flipped = body[:-3] + ("A" if body[-3] != "A" else "B") + body[-2:]
    for bad in (f"{version}.{flipped}", f"v9.{body}", "garbage", "", "a.b.c", f"{version}.{body[:10]}"):
        status, err = call(client, "POST", "/unsubscribe", None, {"token": bad})
        assert status == 400, bad
        assert err["error"]["code"] == "invalid_token"
    status, err = call(client, "GET", f"/unsubscribe?token={quote(flipped)}")
    assert status == 400
    status, err = call(client, "POST", "/unsubscribe", None, {"nothing": 1})
    assert status == 400
    assert not suppression.is_suppressed(EMAIL)


def test_links_do_not_expire_and_pre_expiry_tokens_open_again(client: Any, stack: Stack, tokens: Tokens) -> None:
    issued = datetime(2026, 1, 1, 12, tzinfo=UTC)
    with clock.frozen(issued):
        token = unsubscribe.issue(EMAIL)
    with clock.frozen(issued + timedelta(days=3 * 365)):
        assert unsubscribe.read(token) == EMAIL
    # A token of the old format carried its expiry ("x"); it is ignored now.
    old = _sealed({"e": EMAIL, "x": int((issued - timedelta(days=1)).timestamp())})
    status, body = call(client, "POST", "/unsubscribe", None, {"token": old})
    assert status == 200 and body["unsubscribed"] is True
    assert suppression.is_suppressed(EMAIL)


def _sealed(payload: Any) -> str:
    """A token sealed with the current key around any payload (the issuer's own format)."""
    import base64
    import os

    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    from chalicelib.config import settings
    from chalicelib.secrets import keyring

    ring = keyring(settings().unsubscribe_secret)
    nonce = os.urandom(12)
    sealed = AESGCM(unsubscribe._key(ring.current_key)).encrypt(
        nonce, json.dumps(payload).encode(), ring.current.encode()
    )
    return f"{ring.current}." + base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")


def test_tokens_are_unguessable_and_carry_no_address(stack: Stack) -> None:
    first, second = unsubscribe.issue(EMAIL), unsubscribe.issue(EMAIL)
    assert first != second  # a fresh nonce each time: one link says nothing about another
    assert "yritys" not in first and "asiakas" not in first
    assert unsubscribe.read(first) == unsubscribe.read(second) == EMAIL
    for payload in ({"x": 1}, {"e": 5}, ["e"]):
        with pytest.raises(ValidationFailed, match="not valid"):
            unsubscribe.read(_sealed(payload))


def test_old_key_version_still_opens_after_rotation(stack: Stack, monkeypatch: Any) -> None:
    import boto3

    from chalicelib import secrets

    token = unsubscribe.issue(EMAIL)
    sm = boto3.client("secretsmanager", region_name="eu-north-1")
    old = sm.get_secret_value(SecretId=stack.env["UNSUBSCRIBE_SECRET"])["SecretString"]
    sm.put_secret_value(
        SecretId=stack.env["UNSUBSCRIBE_SECRET"],
        SecretString=json.dumps({"current": "v2", "keys": {"v1": old, "v2": "n" * 48}}),
    )
    secrets.clear_cache()
    assert unsubscribe.read(token) == EMAIL
    assert unsubscribe.issue(EMAIL).startswith("v2.")


VIEWPORT = b'<meta name="viewport" content="width=device-width, initial-scale=1">'


def _browser_get(client: Any, path: str, **headers: str) -> Any:
    return client.http.get(path, headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8", **headers})


def _is_page(resp: Any, status: int, lang: str) -> str:
    assert resp.status_code == status, resp.body
    assert resp.headers["Content-Type"].startswith("text/html")
    assert resp.headers["Content-Language"] == lang
    assert VIEWPORT in resp.body and f'<html lang="{lang}">'.encode() in resp.body
    return str(resp.body.decode())


def test_every_unsubscribe_page_is_a_mobile_friendly_page(client: Any, tokens: Tokens) -> None:
    token = link(client, tokens)
    preview = _is_page(_browser_get(client, f"/unsubscribe?token={quote(token)}"), 200, "fi")
    assert "Vahvista peruutus" in preview and 'name="lang" value="fi"' in preview
    resp = client.http.post(
        "/unsubscribe",
        headers={"Content-Type": "application/x-www-form-urlencoded", "Accept": "text/html"},
        body=f"token={quote(token)}&lang=en".encode(),
    )
    assert "You will not receive marketing" in _is_page(resp, 200, "en")


def test_a_browser_gets_a_tampered_link_as_a_page_in_the_persons_language(client: Any, tokens: Tokens) -> None:
    token = link(client, tokens)
    version, body = token.split(".")
    tampered = quote(f"{version}.{body[:-3]}{'A' if body[-3] != 'A' else 'B'}{body[-2:]}")
    page = _is_page(_browser_get(client, f"/unsubscribe?token={tampered}"), 400, "fi")
    assert "Linkki ei toimi" in page and "ilopiste@kuntotimpurit.fi" in page
    assert "Traceback" not in page and "invalid_token" not in page
    # English where the link says so, or where the browser prefers it over Finnish.
    assert "does not work" in _is_page(_browser_get(client, f"/unsubscribe?token={tampered}&lang=en"), 400, "en")
    prefers_en = {"Accept-Language": "sv-FI, en-GB;q=0.8, fi;q=0.5"}
    assert "does not work" in _is_page(_browser_get(client, f"/unsubscribe?token={tampered}", **prefers_en), 400, "en")
    prefers_fi = {"Accept-Language": "fi-FI,fi;q=0.9,en;q=0.8"}
    assert "Linkki ei toimi" in _is_page(
        _browser_get(client, f"/unsubscribe?token={tampered}", **prefers_fi), 400, "fi"
    )
    # The link's own `lang` wins over the browser's preference.
    url = f"/unsubscribe?token={tampered}&lang=fi"
    assert "Linkki ei toimi" in _is_page(_browser_get(client, url, **prefers_en), 400, "fi")

    # A form without a token is a page too; JSON clients keep getting JSON errors.
    resp = client.http.post(
        "/unsubscribe", headers={"Content-Type": "application/x-www-form-urlencoded", "Accept": "text/html"}, body=b""
    )
    _is_page(resp, 400, "fi")
    status, err = call(client, "GET", f"/unsubscribe?token={tampered}")
    assert status == 400 and err["error"]["code"] == "invalid_token"
    assert not suppression.is_suppressed(EMAIL)


def test_a_browser_gets_an_unavailable_page_when_the_key_is_unusable(client: Any, stack: Stack, tokens: Tokens) -> None:
    import boto3

    from chalicelib import secrets

    token = link(client, tokens)
    sm = boto3.client("secretsmanager", region_name="eu-north-1")
    sm.put_secret_value(SecretId=stack.env["UNSUBSCRIBE_SECRET"], SecretString='{"current": "v1"}')
    secrets.clear_cache()
    page = _is_page(_browser_get(client, f"/unsubscribe?token={quote(token)}&lang=en"), 503, "en")
    assert "Temporarily unavailable" in page


def _sealed_by_cryptography(key: bytes, context: bytes, version: str, payload: bytes) -> str:
    """A token exactly as the code before issue 13 sealed it: cryptography's AESGCM, the key
    HMAC-SHA256(secret, context), the key version as associated data, nonce || ciphertext || tag."""
    import base64
    import hashlib
    import hmac
    import os

    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    nonce = os.urandom(12)
    sealed = AESGCM(hmac.new(key, context, hashlib.sha256).digest()).encrypt(nonce, payload, version.encode())
    return f"{version}." + base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")


def test_a_link_mailed_before_pycryptodome_still_opens(stack: Stack) -> None:
    """Links never expire: one sealed by the old code (cryptography's AESGCM) reads with the new."""
    import base64

    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    from chalicelib.config import settings
    from chalicelib.secrets import keyring

    ring = keyring(settings().unsubscribe_secret)
    payload = json.dumps({"e": EMAIL}, separators=(",", ":")).encode()
    old = _sealed_by_cryptography(ring.current_key, b"ilopiste/unsubscribe/v1", ring.current, payload)
    assert unsubscribe.read(old) == EMAIL
    # And the other way: what the new code issues, the old code would have read.
    new = unsubscribe.issue(EMAIL)
    version, body = new.split(".")
    raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    opened = AESGCM(unsubscribe._key(ring.keys[version])).decrypt(raw[:12], raw[12:], version.encode())
    assert json.loads(opened) == {"e": EMAIL}
    # A wrong key version as associated data, or one flipped bit, is refused.
    for bad in (old.replace(f"{ring.current}.", "v9.", 1), old[:-2] + ("A" if old[-2] != "A" else "B") + old[-1]):
        with pytest.raises(ValidationFailed):
            unsubscribe.read(bad)


def test_aead_is_byte_for_byte_the_old_format() -> None:
    """chalicelib.aead seals exactly what cryptography's AESGCM sealed, and opens it."""
    import os

    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    from chalicelib import aead

    key, nonce = os.urandom(32), os.urandom(12)
    for plaintext, aad in ((b"", b""), (b'{"e":"a@b.fi"}', b"v1"), (os.urandom(1000), b"v12")):
        old = AESGCM(key).encrypt(nonce, plaintext, aad)
        assert aead.seal(key, nonce, plaintext, aad) == old
        assert aead.unseal(key, nonce, old, aad) == plaintext
        for wrong in ((os.urandom(32), nonce, old, aad), (key, nonce, old, aad + b"x"), (key, nonce, old[:-1], aad)):
            with pytest.raises(aead.InvalidSeal):
                aead.unseal(*wrong)
    with pytest.raises(aead.InvalidSeal):
        aead.unseal(key, nonce, b"short", b"")
