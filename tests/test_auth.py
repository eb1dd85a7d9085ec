"""Token verification against the emulated Cognito pool, and the group → role mapping."""

from __future__ import annotations

import json
import time

import boto3
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

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
