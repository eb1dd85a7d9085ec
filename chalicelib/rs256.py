"""RS256 verification for PyJWT, and RSA public keys from a JWKS.

The Lambda package carries PyJWT without its `cryptography` extra (issue 13: that library
was half the package), so PyJWT knows no RSA algorithm there. This module gives it one,
verify-only, on a decoder of our own that knows RS256 and nothing else: `none` and the HMAC
algorithms are not registered on it at all, so a token naming them cannot be checked with
an RSA public key used as an HMAC secret, whatever `algorithms=` says.

Verifying RSASSA-PKCS1-v1_5 needs one modular exponentiation with the public key and
SHA-256, so it is done with Python's own `pow` and `hashlib`, as RFC 8017 §8.2.2 specifies:
the expected encoded message is built from the hash and compared whole with the one the
signature opens to (no parsing of the opened block, which is what signature-forgery attacks
on PKCS#1 v1.5 verifiers exploit). A library's RSA key machinery (pycryptodome's
`Crypto.PublicKey.RSA` with its number theory and ASN.1 modules) cost the authorizer's cold
start about 35 ms for this; the tests check it against `cryptography`'s signatures.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from typing import Any, NoReturn

from jwt.algorithms import Algorithm
from jwt.api_jws import PyJWS
from jwt.api_jwt import PyJWT
from jwt.exceptions import InvalidKeyError

ALGORITHM = "RS256"
_MIN_KEY_BITS = 2048  # as PyJWT's own RSAAlgorithm warns below (NIST SP 800-131A)
# DER of the DigestInfo header for SHA-256 (RFC 8017 §9.2, note 1), the hash follows it.
_SHA256_DIGEST_INFO = bytes.fromhex("3031300d060960864801650304020105000420")


@dataclass(frozen=True)
class RsaPublicKey:
    """An RSA public key: modulus `n`, public exponent `e`."""

    n: int
    e: int

    def size_in_bits(self) -> int:
        return self.n.bit_length()

    def verifies(self, message: bytes, signature: bytes) -> bool:
        """RSASSA-PKCS1-V1_5-VERIFY with SHA-256 (RFC 8017 §8.2.2): open, encode, compare."""
        k = (self.n.bit_length() + 7) // 8
        if len(signature) != k:
            return False
        s = int.from_bytes(signature, "big")
        if s >= self.n:
            return False
        opened = pow(s, self.e, self.n).to_bytes(k, "big")
        t = _SHA256_DIGEST_INFO + hashlib.sha256(message).digest()
        if k < len(t) + 11:
            return False
        expected = b"\x00\x01" + b"\xff" * (k - len(t) - 3) + b"\x00" + t
        return hmac.compare_digest(opened, expected)


class RS256(Algorithm):
    """RSASSA-PKCS1-v1_5 with SHA-256, verification only, keys as `RsaPublicKey`."""

    def prepare_key(self, key: Any) -> RsaPublicKey:
        """Only an RSA public key object: never a string or bytes that could be a secret."""
        if not isinstance(key, RsaPublicKey):
            raise InvalidKeyError("RS256 needs an RSA public key object.")
        return key

    def check_key_length(self, key: Any) -> str | None:
        """A warning text for a key shorter than 2048 bits, as PyJWT's own RSA algorithm gives."""
        bits = int(key.size_in_bits())
        if bits < _MIN_KEY_BITS:
            return f"The RSA key is {bits} bits long, below the minimum of {_MIN_KEY_BITS} bits."
        return None

    def sign(self, msg: bytes, key: Any) -> NoReturn:
        """Not offered: the Lambda only verifies tokens Cognito signed."""
        raise NotImplementedError("RS256 signing is not available here.")

    def verify(self, msg: bytes, key: Any, sig: bytes) -> bool:
        """True if `sig` is the key's PKCS#1 v1.5 signature of SHA-256(`msg`)."""
        return bool(isinstance(key, RsaPublicKey) and key.verifies(msg, sig))

    @staticmethod
    def to_jwk(key_obj: Any, as_dict: bool = False) -> NoReturn:
        """Not offered: keys come from the pool's JWKS, never go to one."""
        raise NotImplementedError("RS256 keys are not exported here.")

    @staticmethod
    def from_jwk(jwk: Any) -> RsaPublicKey:
        """The public key of an RSA JWK (a dict with `n` and `e`)."""
        return public_key(jwk)


def _b64_int(value: Any) -> int:
    if not isinstance(value, str) or not value:
        raise InvalidKeyError("An RSA JWK needs base64url 'n' and 'e'.")
    try:
        return int.from_bytes(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)), "big")
    except ValueError:
        raise InvalidKeyError("An RSA JWK needs base64url 'n' and 'e'.") from None


def public_key(jwk: Any) -> RsaPublicKey:
    """An RSA public key from a JWK's modulus and exponent; `InvalidKeyError` if it is not one
    (the checks RFC 8017 §3.1 puts on a public key: e odd, 3 ≤ e < n, n odd)."""
    if not isinstance(jwk, dict) or jwk.get("kty") != "RSA":
        raise InvalidKeyError("Not an RSA JWK.")
    n, e = _b64_int(jwk.get("n")), _b64_int(jwk.get("e"))
    if n % 2 == 0 or e % 2 == 0 or not 3 <= e < n or n.bit_length() < 512:
        raise InvalidKeyError("Not a valid RSA public key.")
    return RsaPublicKey(n, e)


class RS256Decoder(PyJWT):
    """PyJWT's claim checks over a signature layer that knows RS256 alone."""

    def __init__(self) -> None:
        super().__init__()
        # PyJWT wires its own global decoder the same way (`_jwt_global_obj._jws = ...`);
        # `algorithms=[]` drops none/HS*/(and any cryptography-backed RS256 in a dev venv).
        self._jws = PyJWS(algorithms=[], options=self._get_sig_options())
        self._jws.register_algorithm(ALGORITHM, RS256())


DECODER = RS256Decoder()
