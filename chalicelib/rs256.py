"""RS256 verification for PyJWT backed by pycryptodome, and RSA keys from a JWKS.

The Lambda package carries PyJWT without its `cryptography` extra (issue 13: that library
was half the package), so PyJWT knows no RSA algorithm there. This module gives it one,
verify-only, on a decoder of our own that knows RS256 and nothing else: `none` and the HMAC
algorithms are not registered on it at all, so a token naming them cannot be checked with
an RSA public key used as an HMAC secret, whatever `algorithms=` says.
"""

from __future__ import annotations

import base64
from typing import Any, NoReturn

from Crypto.Hash import SHA256
from Crypto.PublicKey import RSA
from Crypto.Signature import pkcs1_15
from jwt.algorithms import Algorithm
from jwt.api_jws import PyJWS
from jwt.api_jwt import PyJWT
from jwt.exceptions import InvalidKeyError

ALGORITHM = "RS256"
_MIN_KEY_BITS = 2048  # as PyJWT's own RSAAlgorithm warns below (NIST SP 800-131A)


class PycryptodomeRS256(Algorithm):
    """RSASSA-PKCS1-v1_5 with SHA-256, verification only, keys as pycryptodome `RsaKey`."""

    def prepare_key(self, key: Any) -> RSA.RsaKey:
        """Only an RSA public key object: never a string or bytes that could be a secret."""
        if not isinstance(key, RSA.RsaKey):
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
        try:
            pkcs1_15.new(key).verify(SHA256.new(msg), sig)
        except (ValueError, TypeError):
            return False
        return True

    @staticmethod
    def to_jwk(key_obj: Any, as_dict: bool = False) -> NoReturn:
        """Not offered: keys come from the pool's JWKS, never go to one."""
        raise NotImplementedError("RS256 keys are not exported here.")

    @staticmethod
    def from_jwk(jwk: Any) -> RSA.RsaKey:
        """The public key of an RSA JWK (a dict with `n` and `e`)."""
        return public_key(jwk)


def _b64_int(value: Any) -> int:
    if not isinstance(value, str) or not value:
        raise InvalidKeyError("An RSA JWK needs base64url 'n' and 'e'.")
    try:
        return int.from_bytes(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)), "big")
    except ValueError:
        raise InvalidKeyError("An RSA JWK needs base64url 'n' and 'e'.") from None


def public_key(jwk: Any) -> RSA.RsaKey:
    """An RSA public key from a JWK's modulus and exponent; `InvalidKeyError` if it is not one."""
    if not isinstance(jwk, dict) or jwk.get("kty") != "RSA":
        raise InvalidKeyError("Not an RSA JWK.")
    try:
        return RSA.construct((_b64_int(jwk.get("n")), _b64_int(jwk.get("e"))))
    except ValueError:
        raise InvalidKeyError("Not a valid RSA public key.") from None


class RS256Decoder(PyJWT):
    """PyJWT's claim checks over a signature layer that knows RS256 alone."""

    def __init__(self) -> None:
        super().__init__()
        # PyJWT wires its own global decoder the same way (`_jwt_global_obj._jws = ...`);
        # `algorithms=[]` drops none/HS*/(and any cryptography-backed RS256 in a dev venv).
        self._jws = PyJWS(algorithms=[], options=self._get_sig_options())
        self._jws.register_algorithm(ALGORITHM, PycryptodomeRS256())


DECODER = RS256Decoder()
