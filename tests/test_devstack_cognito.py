"""The local stack's Cognito checks an SRP sign-in's password proof (devstack/cognito.py).

moto alone accepts any PASSWORD_CLAIM_SIGNATURE. Here a client computes SRP-6a as Cognito's
clients do (the client half, written in this test) against the emulator with devstack's
server half installed: the right password signs in, a wrong one and a replayed secret block
are refused. The browser test signs in with amazon-cognito-identity-js against the same
server half, so the two implementations are checked against each other there.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from devstack import cognito
from devstack.cognito import G, K, N, claim_signature, hex_hash, pad_hex, pool_name, private_x, session_key

PASSWORD = "Oikea-Salasana-2026!"


@pytest.fixture
def idp() -> Iterator[tuple[Any, str, str]]:
    cognito.install()
    with mock_aws():
        client = boto3.client("cognito-idp", region_name="eu-north-1")
        pool = client.create_user_pool(PoolName="srp")["UserPool"]["Id"]
        app_client = client.create_user_pool_client(UserPoolId=pool, ClientName="c")["UserPoolClient"]["ClientId"]
        client.admin_create_user(UserPoolId=pool, Username="srp-user", MessageAction="SUPPRESS")
        client.admin_set_user_password(UserPoolId=pool, Username="srp-user", Password=PASSWORD, Permanent=True)
        yield client, pool, app_client


def _sign_in(client: Any, pool: str, app_client: str, password: str, replay: dict[str, str] | None = None) -> Any:
    a_small = secrets.randbits(1024)
    a_value = pow(G, a_small, N)
    started = client.initiate_auth(
        ClientId=app_client,
        AuthFlow="USER_SRP_AUTH",
        AuthParameters={"USERNAME": "srp-user", "SRP_A": format(a_value, "x")},
    )
    params = started["ChallengeParameters"]
    assert params["USER_ID_FOR_SRP"] == "srp-user"
    b_value, user = int(params["SRP_B"], 16), params["USER_ID_FOR_SRP"]
    u_value = int(hex_hash(pad_hex(a_value) + pad_hex(b_value)), 16)
    x_value = private_x(pool_name(pool), user, password, params["SALT"])
    s_value = pow(b_value - K * pow(G, x_value, N), a_small + u_value * x_value, N)
    timestamp = datetime.now(UTC).strftime("%a %b %-d %H:%M:%S UTC %Y")
    block = params["SECRET_BLOCK"]
    responses = {
        "USERNAME": user,
        "PASSWORD_CLAIM_SECRET_BLOCK": block,
        "TIMESTAMP": timestamp,
        "PASSWORD_CLAIM_SIGNATURE": claim_signature(
            session_key(s_value, u_value), pool_name(pool), user, block, timestamp
        ),
    }
    if replay is not None:
        replay.update(responses)
    return client.respond_to_auth_challenge(
        ClientId=app_client, ChallengeName="PASSWORD_VERIFIER", ChallengeResponses=responses
    )


def test_the_right_password_signs_in(idp: tuple[Any, str, str]) -> None:
    result = _sign_in(*idp, PASSWORD)
    assert result["AuthenticationResult"]["IdToken"]


def test_a_wrong_password_is_refused(idp: tuple[Any, str, str]) -> None:
    with pytest.raises(ClientError) as refused:
        _sign_in(*idp, PASSWORD + "x")
    assert refused.value.response["Error"]["Code"] == "NotAuthorizedException"


def test_a_secret_block_answers_once(idp: tuple[Any, str, str]) -> None:
    client, _pool, app_client = idp
    used: dict[str, str] = {}
    _sign_in(*idp, PASSWORD, replay=used)
    with pytest.raises(ClientError) as refused:
        client.respond_to_auth_challenge(
            ClientId=app_client, ChallengeName="PASSWORD_VERIFIER", ChallengeResponses=used
        )
    assert refused.value.response["Error"]["Code"] == "NotAuthorizedException"


def test_a_temporary_password_leads_to_a_new_password_challenge_clients_can_parse(
    idp: tuple[Any, str, str],
) -> None:
    client, pool, app_client = idp
    client.admin_create_user(
        UserPoolId=pool, Username="uusi", TemporaryPassword="Tilap-Salasana-1!", MessageAction="SUPPRESS"
    )
    started = client.initiate_auth(
        ClientId=app_client,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "uusi", "PASSWORD": "Tilap-Salasana-1!"},
    )
    assert started["ChallengeName"] == "NEW_PASSWORD_REQUIRED"
    assert started["ChallengeParameters"]["userAttributes"] == "{}"
    assert started["ChallengeParameters"]["requiredAttributes"] == "[]"
