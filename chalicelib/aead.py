"""AES-256-GCM sealing for the link tokens (unsubscribe links, privacy-center sessions).

The sealed form is `ciphertext || 16-byte tag`, exactly what `cryptography`'s `AESGCM`
produced before the Lambda dropped that library (issue 13): unsubscribe links never expire,
so every token already mailed must still open. pycryptodome does the work.
"""

from __future__ import annotations

from Crypto.Cipher import AES

TAG_BYTES = 16
NONCE_BYTES = 12


class InvalidSeal(ValueError):
    """The sealed bytes were altered, truncated, or sealed under another key or context."""


def seal(key: bytes, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """`plaintext` encrypted and authenticated with `aad`: ciphertext followed by the tag."""
    cipher = AES.new(key, AES.MODE_GCM, nonce=nonce, mac_len=TAG_BYTES)
    cipher.update(aad)
    ciphertext, tag = cipher.encrypt_and_digest(plaintext)
    return ciphertext + tag


def unseal(key: bytes, nonce: bytes, sealed: bytes, aad: bytes) -> bytes:
    """The plaintext of `sealed`; `InvalidSeal` unless the tag matches the key, nonce and aad."""
    if len(nonce) != NONCE_BYTES or len(sealed) < TAG_BYTES:
        raise InvalidSeal()
    cipher = AES.new(key, AES.MODE_GCM, nonce=nonce, mac_len=TAG_BYTES)
    cipher.update(aad)
    try:
        return cipher.decrypt_and_verify(sealed[:-TAG_BYTES], sealed[-TAG_BYTES:])
    except ValueError:
        raise InvalidSeal() from None
