"""Token verification against the emulated Cognito pool, and the group → role mapping."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import boto3
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from moto.utilities.utils import load_resource

from chalicelib import auth
from chalicelib.errors import Forbidden, Unauthenticated
from chalicelib.registers import Role
from tests.conftest import REGION, Stack, emulator_claims, emulator_token


def test_real_login_token_gives_the_principal(stack: Stack) -> None:
    token = stack.user("sari", ["staff"])
    principal = auth.verify_token(f"Bearer {token}")
    assert principal.roles == {Role.STAFF}
    assert principal.username == "sari"


def test_dpo_includes_staff_and_reseller_includes_partner(stack: Stack) -> None:
    dpo = auth.verify_token(stack.user("dora", ["dpo"]))
    reseller = auth.verify_token(stack.user("r1", ["partner"], partner_id="resello", partner_type="reseller"))
    assert dpo.roles == {Role.DPO, Role.STAFF}
    assert reseller.roles == {Role.PARTNER, Role.RESELLER}
    assert reseller.partner_id == "resello"


def test_a_marketing_partner_is_only_a_marketing_principal(stack: Stack) -> None:
    marketing = auth.verify_token(stack.user("m1", ["partner"], partner_id="kampanja", partner_type="marketing"))
    assert marketing.roles == {Role.MARKETING}
    assert marketing.partner_id == "kampanja"


def test_expired_token_is_refused(stack: Stack) -> None:
    token = emulator_token(stack, iat=int(time.time()) - 7200, exp=int(time.time()) - 3600)
    with pytest.raises(Unauthenticated):
        auth.verify_token(token)


def test_token_signed_with_another_key_is_refused(stack: Stack) -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    token = jwt.encode(emulator_claims(stack), other, algorithm="RS256", headers={"kid": "dummy"})
    with pytest.raises(Unauthenticated):
        auth.verify_token(token)


def test_token_of_another_pool_is_refused(stack: Stack) -> None:
    cognito = boto3.client("cognito-idp", region_name=REGION)
    pool = cognito.create_user_pool(PoolName="other")["UserPool"]["Id"]
    token = emulator_token(stack, iss=f"https://cognito-idp.{REGION}.amazonaws.com/{pool}")
    with pytest.raises(Unauthenticated):
        auth.verify_token(token)


def test_token_for_another_client_is_refused(stack: Stack) -> None:
    with pytest.raises(Unauthenticated):
        auth.verify_token(emulator_token(stack, aud="someone-else"))


def test_access_token_is_refused(stack: Stack) -> None:
    with pytest.raises(Unauthenticated):
        auth.verify_token(emulator_token(stack, token_use="access"))


def test_unsigned_token_is_refused(stack: Stack) -> None:
    token = jwt.encode(emulator_claims(stack), None, algorithm="none")
    with pytest.raises(Unauthenticated):
        auth.verify_token(token)


@pytest.mark.parametrize("token", ["", "Bearer ", "garbage", "a.b.c"])
def test_garbage_is_refused(stack: Stack, token: str) -> None:
    with pytest.raises(Unauthenticated):
        auth.verify_token(token)


def test_token_without_a_known_group_has_no_role(stack: Stack) -> None:
    with pytest.raises(Forbidden):
        auth.verify_token(emulator_token(stack, **{"cognito:groups": ["admins"]}))


def test_partner_without_partner_id_is_not_a_partner() -> None:
    with pytest.raises(Forbidden):
        auth.principal_from_claims({"sub": "s", "cognito:groups": ["partner"]})


def test_route_policy_uses_wildcards_for_path_parameters() -> None:
    import app  # noqa: F401  (registers every route)

    staff = auth.Principal("s", frozenset({Role.STAFF}))
    routes = auth.allowed_routes(staff)
    assert ("/customers/*", "GET") in routes
    assert all(not path.startswith("/me") for path, _ in routes)


def test_route_policy_file_is_the_declared_route_table() -> None:
    """The authorizer reads route_policy.json; it must say what the blueprints declare."""
    import app  # noqa: F401  (registers every route)

    kept = json.loads(auth.ROUTE_POLICY_FILE.read_text())
    assert kept == auth.route_policy_document(auth.ROUTES), "run `make openapi` and commit route_policy.json"
    assert len(kept) == sum(1 for spec in auth.ROUTES if spec.roles)


def test_each_pool_grants_only_its_own_kinds_of_principal(stack: Stack) -> None:
    """Customers have a pool of their own: its tokens never carry staff roles, nor the staff pool's a customer."""
    customer_pool = {
        "iss": f"https://cognito-idp.{REGION}.amazonaws.com/{stack.info['customer_user_pool_id']}",
        "aud": stack.info["customer_user_pool_client_id"],
    }
    customer = auth.verify_token(
        emulator_token(stack, **customer_pool, **{"cognito:groups": ["customer"], "custom:customer_id": "c" * 32})
    )
    assert customer.roles == {Role.CUSTOMER} and customer.customer_id == "c" * 32
    with pytest.raises(Forbidden):
        auth.verify_token(emulator_token(stack, **customer_pool, **{"cognito:groups": ["staff", "dpo"]}))
    with pytest.raises(Forbidden):
        auth.verify_token(emulator_token(stack, **{"cognito:groups": ["customer"], "custom:customer_id": "c" * 32}))
    # A customer-pool token must name the customer client, not the staff one.
    with pytest.raises(Unauthenticated):
        auth.verify_token(emulator_token(stack, iss=customer_pool["iss"], **{"cognito:groups": ["customer"]}))


# -- RS256 on pycryptodome and the JWKS key cache (issue 13: no `cryptography` in the Lambda) --


def _b64(data: bytes) -> str:
    import base64

    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _hand_signed(claims: dict[str, Any], alg: str, secret: bytes, kid: str = "dummy") -> str:
    """A token under `alg`, signed by hand with `secret` (PyJWT refuses to make these)."""
    import hashlib
    import hmac

    signing_input = f"{_b64(json.dumps({'alg': alg, 'kid': kid}).encode())}.{_b64(json.dumps(claims).encode())}"
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest() if secret else b""
    return f"{signing_input}.{_b64(signature)}"


def _emulator_public_pem() -> bytes:
    from cryptography.hazmat.primitives import serialization

    key = jwt.PyJWK(load_resource("cognitoidp/resources/jwks-private.json")).key
    return bytes(
        key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )


@pytest.mark.parametrize("alg", ["none", "HS256"])
def test_a_token_of_another_algorithm_is_refused_with_a_known_kid(stack: Stack, alg: str) -> None:
    """Every claim valid and the pool's kid named: refused for the algorithm alone. HS256 is
    signed with the pool's public key as the HMAC secret (the classic confusion)."""
    from chalicelib.rs256 import DECODER, public_key

    secret = b"" if alg == "none" else _emulator_public_pem()
    token = _hand_signed(emulator_claims(stack), alg, secret)
    with pytest.raises(Unauthenticated):
        auth.verify_token(token)
    jwk = load_resource("cognitoidp/resources/jwks-public.json")["keys"][0]
    for algorithms in (["RS256"], [alg]):  # even a caller's mistaken allow-list does not enable it
        with pytest.raises(jwt.InvalidAlgorithmError):
            DECODER.decode(token, public_key(jwk), algorithms=algorithms, audience=stack.info["user_pool_client_id"])


def test_the_rs256_algorithm_takes_only_an_rsa_key_object() -> None:
    from chalicelib.rs256 import RS256

    for key in ("secret", b"secret", _emulator_public_pem()):
        with pytest.raises(jwt.InvalidKeyError):
            RS256().prepare_key(key)


@pytest.mark.parametrize("bits", [2048, 3072, 4096])
def test_rs256_verification_agrees_with_cryptography(bits: int) -> None:
    """The verifier (pow + hashlib, RFC 8017 §8.2.2) against signatures `cryptography` makes:
    a good one verifies; a changed message, a changed signature, another key, PSS padding, a
    SHA-512 signature, a signature of the wrong length or not below the modulus do not."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    from chalicelib.rs256 import RsaPublicKey, public_key

    private = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    numbers = private.public_key().public_numbers()
    key = RsaPublicKey(numbers.n, numbers.e)
    other = rsa.generate_private_key(public_exponent=65537, key_size=bits).public_key().public_numbers()
    message = b"header.payload"
    good = private.sign(message, padding.PKCS1v15(), hashes.SHA256())
    assert key.verifies(message, good)
    assert not key.verifies(message + b"x", good)
    assert not key.verifies(message, good[:-1] + bytes([good[-1] ^ 1]))
    assert not RsaPublicKey(other.n, other.e).verifies(message, good)
    pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
    assert not key.verifies(message, private.sign(message, pss, hashes.SHA256()))
    assert not key.verifies(message, private.sign(message, padding.PKCS1v15(), hashes.SHA512()))
    assert not key.verifies(message, good[1:])
    assert not key.verifies(message, numbers.n.to_bytes(len(good), "big"))
    # A JWK's n and e make the same key; an even modulus, an even or too small exponent do not.
    b64 = lambda v: base64.urlsafe_b64encode(v.to_bytes((v.bit_length() + 7) // 8, "big")).rstrip(b"=").decode()  # noqa: E731
    assert public_key({"kty": "RSA", "n": b64(numbers.n), "e": b64(numbers.e)}) == key
    for n, e in ((numbers.n + 1, numbers.e), (numbers.n, 65536), (numbers.n, 1)):
        with pytest.raises(jwt.InvalidKeyError):
            public_key({"kty": "RSA", "n": b64(n), "e": b64(e)})


class _JwksServer:
    """A JWKS endpoint whose keys can change, counting its fetches; `down` makes it fail."""

    def __init__(self, keys: list[dict[str, Any]]) -> None:
        import http.server
        import threading

        self.keys, self.fetches, self.down = keys, 0, False
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.fetches += 1
                if outer.down:
                    self.send_response(503)
                    self.end_headers()
                    return
                self.send_response(200)
                self.end_headers()
                self.wfile.write(json.dumps({"keys": outer.keys}).encode())

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/jwks.json"


@pytest.fixture
def jwks_server() -> Any:
    public = load_resource("cognitoidp/resources/jwks-public.json")["keys"][0]
    server = _JwksServer([{**public, "kid": "a"}])
    yield server
    server.server.shutdown()


def test_jwks_keys_are_cached_and_an_unknown_kid_costs_one_refetch(jwks_server: _JwksServer) -> None:
    from jwt.exceptions import PyJWKClientError

    keys = auth.JwksKeys(jwks_server.url)
    first = keys.key("a")
    assert keys.key("a") is first and jwks_server.fetches == 1  # kept: no second fetch
    with pytest.raises(PyJWKClientError):
        keys.key("b")
    assert jwks_server.fetches == 2  # exactly one refetch for the unknown kid
    jwks_server.keys.append({**jwks_server.keys[0], "kid": "b"})  # the pool rotates a key in
    assert keys.key("b") is not None and jwks_server.fetches == 3
    for kid in ("", None, 5):
        with pytest.raises(PyJWKClientError):
            keys.key(kid)
    assert jwks_server.fetches == 3  # a token naming no key fetches nothing


def test_a_stale_jwks_is_refetched_and_an_unreachable_pool_keeps_the_held_keys(jwks_server: _JwksServer) -> None:
    from jwt.exceptions import PyJWKClientConnectionError, PyJWKClientError

    keys = auth.JwksKeys(jwks_server.url)
    keys.key("a")

    def age_the_set() -> None:
        keys._fetched_at = time.monotonic() - auth.JWKS_LIFESPAN - 1

    age_the_set()
    jwks_server.down = True
    assert keys.key("a") is not None and jwks_server.fetches == 2  # tried, failed, kept
    with pytest.raises(PyJWKClientConnectionError):
        keys.key("new")  # an unknown kid while the pool is down: refused
    assert jwks_server.fetches == 3
    assert keys.key("a") is not None and jwks_server.fetches == 3  # the failed refresh waits a minute
    jwks_server.down = False
    age_the_set()  # the minute has passed
    assert keys.key("a") is not None and jwks_server.fetches == 4  # retried, fresh again
    assert keys.key("a") is not None and jwks_server.fetches == 4
    jwks_server.keys = [{**jwks_server.keys[0], "kid": "c"}]  # the pool dropped "a"
    age_the_set()
    with pytest.raises(PyJWKClientError):  # no longer the pool's: no longer trusted
        keys.key("a")


def test_only_rsa_signing_keys_for_rs256_are_taken(jwks_server: _JwksServer) -> None:
    from jwt.exceptions import PyJWKClientError

    good = jwks_server.keys[0]
    jwks_server.keys = [
        {**good, "kid": "enc", "use": "enc"},
        {**good, "kid": "rs512", "alg": "RS512"},
        {"kty": "EC", "kid": "ec", "crv": "P-256", "x": "AA", "y": "AA"},
        {**good, "kid": "broken", "n": "!!"},
        {k: v for k, v in good.items() if k != "kid"},
        {**good, "kid": "sig", "use": "sig"},
        {**good, "kid": "bare"},  # no `use` (as the emulator sends): a signing key
    ]
    keys = auth.JwksKeys(jwks_server.url)
    assert keys.key("sig") is not None and keys.key("bare") is not None
    for kid in ("enc", "rs512", "ec", "broken"):
        with pytest.raises(PyJWKClientError):
            keys.key(kid)


def test_an_unreachable_jwks_refuses_the_token(stack: Stack) -> None:
    from chalicelib.config import settings

    # Its own MonkeyPatch, undone before the stack's: the `monkeypatch` fixture may be set up
    # before `stack` (an autouse fixture uses it) and would then put the URL back after it.
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("COGNITO_JWKS_URL", "http://127.0.0.1:9/jwks.json")
        settings.cache_clear()
        auth._jwks.cache_clear()
        with pytest.raises(Unauthenticated):
            auth.verify_token(emulator_token(stack))
    settings.cache_clear()
    auth._jwks.cache_clear()
