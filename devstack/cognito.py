"""The emulator's Cognito, made to answer a browser's SRP sign-in as Cognito does.

moto (5.2) accepts USER_SRP_AUTH but checks no password: its PASSWORD_VERIFIER challenge has a
random SRP_B and SALT, accepts any PASSWORD_CLAIM_SIGNATURE, names the user by its `sub` in
USER_ID_FOR_SRP (which it then cannot find), and its NEW_PASSWORD_REQUIRED challenge lacks the
`userAttributes`/`requiredAttributes` parameters that clients parse. `install()` wraps moto's
backend so that, in the local stack only:

- InitiateAuth(USER_SRP_AUTH) answers with a real SRP-6a server value B = k·v + g^b (v the
  verifier of the user's password under a fresh salt), USER_ID_FOR_SRP = the username and a
  base64 SECRET_BLOCK, as Cognito does;
- RespondToAuthChallenge(PASSWORD_VERIFIER) recomputes the session key from A, b and v and
  refuses a PASSWORD_CLAIM_SIGNATURE that does not match (NotAuthorizedException: the password
  was wrong), each secret block once;
- NEW_PASSWORD_REQUIRED carries `userAttributes` and `requiredAttributes`.

The server side follows Cognito's SRP as its clients compute it (amazon-cognito-identity-js's
AuthenticationHelper, the 3072-bit group of RFC 5054, k = H(N | g), x = H(salt | H(pool | user
| ":" | password)), HKDF "Caldera Derived Key"), written here independently of the client, so
the console's sign-in is checked against it. TOTP codes are checked by moto itself when
MOTO_COGNITO_IDP_USER_POOL_ENABLE_TOTP is true (the stack sets it).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
from dataclasses import dataclass
from typing import Any

N = int(
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DD"
    "EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED"
    "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F"
    "83655D23DCA3AD961C62F356208552BB9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B"
    "E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF6955817183995497CEA956AE515D2261898FA0510"
    "15728E5A8AAAC42DAD33170D04507A33A85521ABDF1CBA64ECFB850458DBEF0A8AEA71575D060C7DB3970F85A6E1E4C7"
    "ABF5AE8CDB0933D71E8C94E04A25619DCEE3D2261AD2EE6BF12FFA06D98A0864D87602733EC86A64521F2B18177B200C"
    "BBE117577A615D6C770988C0BAD946E208E24FA074E5AB3143DB5BFCE0FD108E4B82D120A93AD2CAFFFFFFFFFFFFFFFF",
    16,
)
G = 2
INFO = b"Caldera Derived Key"


def pad_hex(value: int) -> str:
    """The hex of a positive integer as Cognito hashes it: even length, and a leading 00 when
    the first nibble has its top bit set (so it reads as positive)."""
    text = format(value, "x")
    if len(text) % 2:
        text = "0" + text
    return "00" + text if text[0] in "89abcdef" else text


def hex_hash(hex_text: str) -> str:
    return hashlib.sha256(bytes.fromhex(hex_text)).hexdigest()


K = int(hex_hash(pad_hex(N) + pad_hex(G)), 16)


def pool_name(pool_id: str) -> str:
    """The part of a pool id after the region (`eu-north-1_AbC` → `AbC`)."""
    return pool_id.split("_", 1)[1]


def private_x(pool: str, username: str, password: str, salt_hex: str) -> int:
    inner = hashlib.sha256(f"{pool}{username}:{password}".encode()).hexdigest()
    return int(hex_hash(pad_hex(int(salt_hex, 16)) + inner), 16)


def session_key(s_value: int, u_value: int) -> bytes:
    """HKDF-SHA256 (one block, 16 bytes) of S salted with u, as Cognito derives it."""
    prk = hmac.new(bytes.fromhex(pad_hex(u_value)), bytes.fromhex(pad_hex(s_value)), hashlib.sha256).digest()
    return hmac.new(prk, INFO + b"\x01", hashlib.sha256).digest()[:16]


def claim_signature(key: bytes, pool: str, username: str, secret_block: str, timestamp: str) -> str:
    message = pool.encode() + username.encode() + base64.b64decode(secret_block) + timestamp.encode()
    return base64.b64encode(hmac.new(key, message, hashlib.sha256).digest()).decode()


@dataclass
class Challenge:
    """One PASSWORD_VERIFIER challenge's server secrets."""

    pool: str
    username: str
    a_value: int
    b_small: int
    b_value: int
    verifier: int


def start(pool: str, username: str, password: str, a_value: int) -> tuple[Challenge, str, str]:
    """The server's half: (challenge, SALT hex, SRP_B hex) for the client's A."""
    if a_value % N == 0:
        raise ValueError("SRP_A must not be zero modulo N.")
    salt = secrets.token_hex(16)
    verifier = pow(G, private_x(pool, username, password, salt), N)
    b_small = secrets.randbits(1024)
    b_value = (K * verifier + pow(G, b_small, N)) % N
    return Challenge(pool, username, a_value, b_small, b_value, verifier), salt, format(b_value, "x")


def expected_signature(challenge: Challenge, secret_block: str, timestamp: str) -> str:
    """The PASSWORD_CLAIM_SIGNATURE a client that knows the password computes."""
    u_value = int(hex_hash(pad_hex(challenge.a_value) + pad_hex(challenge.b_value)), 16)
    s_value = pow(challenge.a_value * pow(challenge.verifier, u_value, N), challenge.b_small, N)
    return claim_signature(session_key(s_value, u_value), challenge.pool, challenge.username, secret_block, timestamp)


_CHALLENGES: dict[str, Challenge] = {}
_LOCK = threading.Lock()
_installed = False


def _new_password_parameters(result: dict[str, Any]) -> dict[str, Any]:
    if result.get("ChallengeName") == "NEW_PASSWORD_REQUIRED":
        params = result.setdefault("ChallengeParameters", {})
        params.setdefault("userAttributes", json.dumps({}))
        params.setdefault("requiredAttributes", json.dumps([]))
    return result


def install() -> None:
    """Patch moto's Cognito backend in this process (the local stack's emulator) once."""
    global _installed
    if _installed:
        return
    from moto.cognitoidp.exceptions import NotAuthorizedError
    from moto.cognitoidp.models import CognitoIdpBackend

    original_initiate = CognitoIdpBackend.initiate_auth
    original_respond = CognitoIdpBackend.respond_to_auth_challenge

    def initiate_auth(self: Any, client_id: str, auth_flow: str, auth_parameters: dict[str, str]) -> Any:
        result = original_initiate(self, client_id, auth_flow, auth_parameters)
        if auth_flow != "USER_SRP_AUTH" or result.get("ChallengeName") != "PASSWORD_VERIFIER":
            return _new_password_parameters(result)
        username, user_pool = self.sessions.pop(result["Session"])
        user = user_pool._get_user(username)
        try:
            challenge, salt, b_hex = start(
                pool_name(user_pool.id), user.username, user.password or "", int(auth_parameters["SRP_A"], 16)
            )
        except ValueError:
            raise NotAuthorizedError("Incorrect username or password.") from None
        secret_block = base64.b64encode(secrets.token_bytes(64)).decode()
        with _LOCK:
            _CHALLENGES[secret_block] = challenge
        # moto finds the challenge's session by the secret block the client sends back.
        self.sessions[secret_block] = (user.username, user_pool)
        result["Session"] = secret_block
        result["ChallengeParameters"].update(
            SALT=salt, SRP_B=b_hex, USERNAME=user.username, USER_ID_FOR_SRP=user.username, SECRET_BLOCK=secret_block
        )
        return result

    def respond_to_auth_challenge(
        self: Any, session: str, client_id: str, challenge_name: str, challenge_responses: dict[str, str]
    ) -> Any:
        if challenge_name == "PASSWORD_VERIFIER":
            block = challenge_responses.get("PASSWORD_CLAIM_SECRET_BLOCK", "")
            with _LOCK:
                challenge = _CHALLENGES.pop(block, None)  # each secret block answers once
            if challenge is None:
                self.sessions.pop(block, None)
                raise NotAuthorizedError("Incorrect username or password.")
            expected = expected_signature(challenge, block, challenge_responses.get("TIMESTAMP", ""))
            claimed = challenge_responses.get("PASSWORD_CLAIM_SIGNATURE", "")
            if challenge_responses.get("USERNAME") != challenge.username or not hmac.compare_digest(expected, claimed):
                self.sessions.pop(block, None)
                raise NotAuthorizedError("Incorrect username or password.")
        return _new_password_parameters(original_respond(self, session, client_id, challenge_name, challenge_responses))

    CognitoIdpBackend.initiate_auth = initiate_auth  # type: ignore[method-assign]
    CognitoIdpBackend.respond_to_auth_challenge = respond_to_auth_challenge  # type: ignore[method-assign]
    _installed = True
