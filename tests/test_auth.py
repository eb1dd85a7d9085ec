"""Token verification against the emulated Cognito pool, and the group → role mapping."""

from __future__ import annotations

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
from tests.conftest import REGION, Stack


def _claims(stack: Stack, **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "iss": f"https://cognito-idp.{REGION}.amazonaws.com/{stack.info['user_pool_id']}",
        "sub": "sub-1",
        "aud": stack.info["user_pool_client_id"],
        "token_use": "id",
        "iat": now,
        "exp": now + 600,
        "cognito:groups": ["staff"],
    }
    claims.update(overrides)
    return claims


def _sign_with_emulator_key(claims: dict[str, Any]) -> str:
    """Sign as the emulator does: its private key, kid 'dummy'."""
    key = jwt.PyJWK(load_resource("cognitoidp/resources/jwks-private.json"))
    return jwt.encode(claims, key.key, algorithm="RS256", headers={"kid": "dummy"})


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


def test_expired_token_is_refused(stack: Stack) -> None:
    token = _sign_with_emulator_key(_claims(stack, iat=int(time.time()) - 7200, exp=int(time.time()) - 3600))
    with pytest.raises(Unauthenticated):
        auth.verify_token(token)


def test_token_signed_with_another_key_is_refused(stack: Stack) -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    token = jwt.encode(_claims(stack), other, algorithm="RS256", headers={"kid": "dummy"})
    with pytest.raises(Unauthenticated):
        auth.verify_token(token)


def test_token_of_another_pool_is_refused(stack: Stack) -> None:
    cognito = boto3.client("cognito-idp", region_name=REGION)
    pool = cognito.create_user_pool(PoolName="other")["UserPool"]["Id"]
    token = _sign_with_emulator_key(_claims(stack, iss=f"https://cognito-idp.{REGION}.amazonaws.com/{pool}"))
    with pytest.raises(Unauthenticated):
        auth.verify_token(token)


def test_token_for_another_client_is_refused(stack: Stack) -> None:
    with pytest.raises(Unauthenticated):
        auth.verify_token(_sign_with_emulator_key(_claims(stack, aud="someone-else")))


def test_access_token_is_refused(stack: Stack) -> None:
    claims = _claims(stack, token_use="access")
    with pytest.raises(Unauthenticated):
        auth.verify_token(_sign_with_emulator_key(claims))


def test_unsigned_token_is_refused(stack: Stack) -> None:
    token = jwt.encode(_claims(stack), None, algorithm="none")
    with pytest.raises(Unauthenticated):
        auth.verify_token(token)


@pytest.mark.parametrize("token", ["", "Bearer ", "garbage", "a.b.c"])
def test_garbage_is_refused(stack: Stack, token: str) -> None:
    with pytest.raises(Unauthenticated):
        auth.verify_token(token)


def test_token_without_a_known_group_has_no_role(stack: Stack) -> None:
    with pytest.raises(Forbidden):
        auth.verify_token(_sign_with_emulator_key(_claims(stack, **{"cognito:groups": ["admins"]})))


def test_partner_without_partner_id_is_not_a_partner() -> None:
    with pytest.raises(Forbidden):
        auth.principal_from_claims({"sub": "s", "cognito:groups": ["partner"]})


def test_route_policy_uses_wildcards_for_path_parameters() -> None:
    import app  # noqa: F401  (registers every route)

    staff = auth.Principal("s", frozenset({Role.STAFF}))
    routes = auth.allowed_routes(staff)
    assert ("/customers/*", "GET") in routes
    assert all(not path.startswith("/me") for path, _ in routes)
