"""Sessions end when access ends: short tokens, a shorter authorizer cache, sign-out before deletion.

A login is deleted in three places (a customer's erasure by the sweeper, by a subject request
through the API, and a failed registration's rollback), all through `accounts.delete_login`.
The tests open real Cognito sessions (refresh tokens) and check, at the moment the login is
deleted, that those sessions are already revoked.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import botocore.client
import pytest
from botocore.exceptions import ClientError

from chalicelib import accounts, clock, customers, retention
from devstack import provision
from tests import faults as f
from tests.conftest import PASSWORD, Stack, Tokens, call, setup_actor
from tests.template import packaged
from tests.test_retention import new_customer

SECONDS = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400}


# --- lifetimes in the template ------------------------------------------------------------


APP_CLIENTS = ("UserPoolClient", "CustomerUserPoolClient")  # staff and partners; customers


def client_lifetimes(template: dict[str, Any], client: str) -> dict[str, int]:
    """{IdToken, AccessToken, RefreshToken: lifetime in seconds} of an app client."""
    props = template["Resources"][client]["Properties"]
    units = props["TokenValidityUnits"]
    return {
        kind: props[f"{kind}Validity"] * SECONDS[units[kind]] for kind in ("IdToken", "AccessToken", "RefreshToken")
    }


@pytest.mark.parametrize("client", APP_CLIENTS)
def test_tokens_live_at_most_15_minutes_and_refresh_tokens_a_working_day(client: str) -> None:
    sam = packaged()
    lifetimes = client_lifetimes(sam, client)
    assert lifetimes["IdToken"] <= 15 * 60 and lifetimes["AccessToken"] <= 15 * 60
    assert lifetimes["IdToken"] < lifetimes["RefreshToken"] <= 12 * 3600
    props = sam["Resources"][client]["Properties"]
    assert props["EnableTokenRevocation"] is True
    assert "ALLOW_REFRESH_TOKEN_AUTH" in props["ExplicitAuthFlows"]


def test_the_authorizer_cache_is_no_longer_than_a_token_lives() -> None:
    # A cached Allow outlives a revoked session by at most the cache's lifetime.
    sam = packaged()
    definitions = sam["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]["securityDefinitions"]
    ttls = [d["x-amazon-apigateway-authorizer"]["authorizerResultTtlInSeconds"] for d in definitions.values()]
    assert ttls
    shortest = min(client_lifetimes(sam, c)["IdToken"] for c in APP_CLIENTS)
    assert all(0 <= ttl <= shortest for ttl in ttls)


@pytest.mark.parametrize(
    ("client", "pool_key", "client_key"),
    [
        ("UserPoolClient", "user_pool_id", "user_pool_client_id"),
        ("CustomerUserPoolClient", "customer_user_pool_id", "customer_user_pool_client_id"),
    ],
)
def test_the_local_stack_provisions_the_templates_session_settings(
    stack: Stack, client: str, pool_key: str, client_key: str
) -> None:
    described = stack.cognito.describe_user_pool_client(
        UserPoolId=stack.info[pool_key], ClientId=stack.info[client_key]
    )["UserPoolClient"]
    template = provision.load_template()["Resources"][client]["Properties"]
    assert {k: described[k] for k in provision.CLIENT_SESSION_SETTINGS} == {
        k: template[k] for k in provision.CLIENT_SESSION_SETTINGS
    }
    assert client_lifetimes({"Resources": {client: {"Properties": described}}}, client)["IdToken"] == 15 * 60


# --- sign-out before deletion -------------------------------------------------------------


@dataclass
class Sessions:
    """Real sessions (refresh tokens) per username, and whether they lived when the login was deleted."""

    stack: Stack
    refresh_tokens: dict[str, list[str]] = field(default_factory=dict)
    alive_at_deletion: dict[str, list[bool]] = field(default_factory=dict)
    cognito_calls: list[tuple[str, str]] = field(default_factory=list)

    def open(self, username: str, password: str = PASSWORD) -> None:
        accounts.enable_customer_login(username)  # as a confirmed registration's login is
        result = self.stack.cognito.initiate_auth(
            ClientId=self.stack.info["customer_user_pool_client_id"],  # customers' own pool
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": username, "PASSWORD": password},
        )["AuthenticationResult"]
        self.refresh_tokens.setdefault(username, []).append(result["RefreshToken"])

    def alive(self, refresh_token: str) -> bool:
        try:
            self.stack.cognito.initiate_auth(
                ClientId=self.stack.info["customer_user_pool_client_id"],
                AuthFlow="REFRESH_TOKEN_AUTH",
                AuthParameters={"REFRESH_TOKEN": refresh_token},
            )
        except self.stack.cognito.exceptions.NotAuthorizedException:
            return False
        return True


@pytest.fixture
def sessions(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Iterator[Sessions]:
    """Check every session of a login just before AdminDeleteUser reaches Cognito."""
    watched = Sessions(stack)
    original = botocore.client.BaseClient._make_api_call

    def spy(self: Any, operation: str, params: dict[str, Any]) -> Any:
        if operation.startswith("Admin") and "Username" in params:
            watched.cognito_calls.append((operation, params["Username"]))
        if operation == "AdminDeleteUser":
            tokens = watched.refresh_tokens.get(params["Username"], [])
            watched.alive_at_deletion[params["Username"]] = [watched.alive(t) for t in tokens]
        return original(self, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", spy)
    yield watched


def test_deleting_a_login_signs_out_every_session_first(stack: Stack, sessions: Sessions) -> None:
    new_customer()
    sessions.open("maija1")
    sessions.open("maija1")  # a second device
    assert all(sessions.alive(t) for t in sessions.refresh_tokens["maija1"])

    accounts.delete_login("maija1")

    assert sessions.alive_at_deletion == {"maija1": [False, False]}
    assert not stack.customer_login_exists("maija1")


def test_a_failed_deletion_leaves_the_login_signed_out_and_a_retry_finishes(
    stack: Stack, sessions: Sessions, monkeypatch: pytest.MonkeyPatch
) -> None:
    new_customer()
    sessions.open("maija1")
    injector = f.install(monkeypatch)
    injector.inject("cognito-identity-provider", "AdminDeleteUser", f.TOO_MANY_REQUESTS, times=f.RETRY_BUDGET)
    with pytest.raises(ClientError):
        accounts.delete_login("maija1")
    assert stack.customer_login_exists("maija1")
    assert not sessions.alive(sessions.refresh_tokens["maija1"][0])  # access already ended

    accounts.delete_login("maija1")  # the retry (the sweeper's next run, or the API's retry)
    assert not stack.customer_login_exists("maija1")


def test_deleting_a_login_that_is_gone_is_fine(stack: Stack, sessions: Sessions) -> None:
    accounts.delete_login("nobody")
    new_customer()
    accounts.delete_login("maija1")
    accounts.delete_login("maija1")
    assert not stack.customer_login_exists("maija1")
    # Once the login is gone there is nothing to delete: no AdminDeleteUser after a failed sign-out.
    assert sessions.cognito_calls.count(("AdminDeleteUser", "maija1")) == 1


def test_the_sweepers_erasure_signs_the_customer_out_everywhere(stack: Stack, sessions: Sessions) -> None:
    with clock.frozen(datetime(2024, 1, 2, 9, tzinfo=UTC)):
        item = new_customer()
        customers.end_contract(item["customer_id"], date(2024, 1, 15), setup_actor())
    sessions.open("maija1")

    run = retention.sweep(date(2026, 1, 1))

    assert run["rules"]["customer_grace"]["done"] == 1
    assert sessions.alive_at_deletion == {"maija1": [False]}
    calls = [op for op, user in sessions.cognito_calls if user == "maija1"]
    assert calls[-2:] == ["AdminUserGlobalSignOut", "AdminDeleteUser"]
    assert not stack.customer_login_exists("maija1")


def test_an_erasure_request_signs_the_customer_out_everywhere(
    client: Any, stack: Stack, tokens: Tokens, sessions: Sessions
) -> None:
    sessions.open("asiakas")  # the customer the `tokens` fixture registered

    status, body = call(
        client, "POST", "/subject-requests", tokens.staff, {"type": "erasure", "email": "asiakas@yritys.fi"}
    )

    assert status == 200, body
    assert sessions.alive_at_deletion == {"asiakas": [False]}
    assert not stack.customer_login_exists("asiakas")
