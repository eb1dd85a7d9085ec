"""Shared fixtures: an in-process moto stack provisioned from infra/resources.json,
Cognito users per principal kind with real ID tokens, and Chalice's test client."""

from __future__ import annotations

import email
import email.policy
import http.server
import io
import json
import logging
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any, cast

import boto3
import jwt
import pytest
from moto import mock_aws
from moto.utilities.utils import load_resource

from devstack import gateway, provision
from devstack.outbox import CONFIRMATION_CODE
from tests.aws_calls import _record_aws_calls, calls_against_roles  # noqa: F401 (fixtures for every test)
from tests.e2e.conftest import RunningStack, running_stack

REGION = "eu-north-1"
# Test modules import `app` at collection time, and the app refuses to start without an EU region.
os.environ.setdefault("AWS_DEFAULT_REGION", REGION)
PASSWORD = "Correct-Horse-9-Battery"


def setup_actor() -> Any:
    """The author of the changes a test makes directly through the domain (set-up data)."""
    from chalicelib.audit import Actor
    from chalicelib.auth import Principal

    return Actor(Principal(principal_id="test:setup", roles=frozenset()), "test-setup")


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    """What the app logs, formatted exactly as Powertools writes it to CloudWatch."""
    from chalicelib.logs import logger

    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logger.registered_formatter)
    logger.addHandler(handler)
    try:
        yield out
    finally:
        logger.removeHandler(handler)


@pytest.fixture(scope="session")
def jwks_url() -> Iterator[str]:
    """Serve moto's Cognito JWKS over loopback HTTP, as the emulator's server would."""
    keys = json.dumps(load_resource("cognitoidp/resources/jwks-public.json")).encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(keys)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/.well-known/jwks.json"
    server.shutdown()


@dataclass
class Stack:
    """The provisioned emulator, its environment and helpers to make principals."""

    info: dict[str, Any]
    env: dict[str, str]

    @property
    def cognito(self) -> Any:
        return boto3.client("cognito-idp", region_name=REGION)

    def user(self, username: str, groups: list[str], **attributes: str) -> str:
        """Create a confirmed user in `groups`; return a real ID token for it."""
        pool = self.info["user_pool_id"]
        attrs = [{"Name": f"custom:{k}", "Value": v} for k, v in attributes.items()]
        self.cognito.admin_create_user(
            UserPoolId=pool, Username=username, UserAttributes=attrs, MessageAction="SUPPRESS"
        )
        self.cognito.admin_set_user_password(UserPoolId=pool, Username=username, Password=PASSWORD, Permanent=True)
        for group in groups:
            self.cognito.admin_add_user_to_group(UserPoolId=pool, Username=username, GroupName=group)
        return self.login(username)

    def login(self, username: str, password: str = PASSWORD) -> str:
        """Sign a staff or partner user in (the staff pool)."""
        return self._login(self.info["user_pool_client_id"], username, password)

    def customer_login(self, username: str, password: str = PASSWORD) -> str:
        """Sign a customer in (the customer pool: usernames apart from staff)."""
        return self._login(self.info["customer_user_pool_client_id"], username, password)

    def _login(self, client_id: str, username: str, password: str) -> str:
        resp = self.cognito.initiate_auth(
            ClientId=client_id,
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": username, "PASSWORD": password},
        )
        return str(resp["AuthenticationResult"]["IdToken"])

    def customer_user(self, username: str) -> dict[str, Any]:
        """The customer pool's view of a login (AdminGetUser)."""
        return dict(self.cognito.admin_get_user(UserPoolId=self.info["customer_user_pool_id"], Username=username))

    def customer_login_exists(self, username: str) -> bool:
        """True while the customer pool holds a login of this name."""
        try:
            self.customer_user(username)
        except self.cognito.exceptions.UserNotFoundException:
            return False
        return True

    def table(self, key: str) -> Any:
        return boto3.resource("dynamodb", region_name=REGION).Table(self.info["tables"][key])


_FAKE_AWS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
}


@contextmanager
def _emulated_stack(jwks_url: str) -> Iterator[Stack]:
    """Provision a fresh in-process emulator and point the app's settings at it."""
    from chalicelib import store

    with pytest.MonkeyPatch.context() as mp:
        # Never reach a real account from the tests, whatever the developer's shell has.
        for var in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN"):
            mp.delenv(var, raising=False)
        for key, value in _FAKE_AWS.items():
            mp.setenv(key, value)
        with mock_aws():
            info = provision.provision(boto3.session.Session(), "test", REGION)
            env = provision.app_environment(info, stage="test")
            env["COGNITO_JWKS_URL"] = jwks_url
            env["CUSTOMER_COGNITO_JWKS_URL"] = jwks_url
            for key, value in env.items():
                mp.setenv(key, value)
            store.reset()
            stack = Stack(info=info, env=env)
            # The partners the principals below act for (the local stack registers the same).
            register_partner(stack, "acme", "data_provider")
            register_partner(stack, "resello", "reseller")
            register_partner(stack, "kampanja", "marketing")
            try:
                yield stack
            finally:
                store.reset()


def register_partner(
    stack: Stack, partner_id: str, kind: str, status: str = "active", *, recorded: bool = True
) -> None:
    """Put a partner in the stack's partner registry (as staff's POST /partners would).

    `recorded`: what its kind needs on file is there (a data provider's delivery of the
    current privacy notice, a marketing partner's processing agreement); without it a data
    provider's uploads and a marketing partner's users are refused.
    """
    from chalicelib import clock, notice

    today = clock.local_date().isoformat()
    data: dict[str, Any] = {
        "partner_id": partner_id,
        "name": f"{partner_id} Oy",
        "kind": kind,
        "status": status,
        "contact": {"email": f"info@{partner_id}.example.com"},
        "country": "FI",
    }
    if recorded and kind == "data_provider":
        data.update(notice_delivered_at=today, notice_version=notice.version())
    if recorded and kind == "marketing":
        data.update(processing_agreement_at=today)
    provision.register_partners(boto3.client("dynamodb", region_name=REGION), stack.info["tables"]["partners"], [data])


@contextmanager
def _test_client() -> Iterator[Any]:
    from chalice.test import Client

    gateway.install()
    from app import app

    with Client(app, stage_name="dev") as c:
        yield c


def sent_mail(to: str | None = None) -> list[EmailMessage]:
    """Messages the emulated SES accepted, oldest first (only those to `to` when given)."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ses.models import ses_backends

    backend = ses_backends[DEFAULT_ACCOUNT_ID][REGION]
    messages = [
        cast(EmailMessage, email.message_from_string(m.raw_data, policy=email.policy.default))
        for m in backend.sent_messages
        if hasattr(m, "raw_data")
    ]
    return [m for m in messages if to is None or str(m["To"]).lower() == to.lower()]


def mailed_code(to: str) -> str:
    """The confirmation code in the latest message to `to`, as its owner reads it."""
    body = sent_mail(to)[-1].get_body(preferencelist=("plain",))
    assert body is not None
    match = CONFIRMATION_CODE.search(body.get_content())
    assert match, "no confirmation code in the message"
    return match.group(0)


def register_customer(client: Any, username: str, email_address: str, **overrides: Any) -> str:
    """Register through the API and confirm with the code mailed to the address; returns the customer id."""
    status, body = call(client, "POST", "/registrations", None, registration_body(username, email_address, **overrides))
    assert status == 202, body
    status, body = call(client, "POST", "/registrations/confirm", None, {"token": mailed_code(email_address)})
    assert status == 200, body
    return str(body["customer"]["customer_id"])


def _principals(stack: Stack, client: Any) -> Tokens:
    """One user per principal kind; the customer registers itself through the API and confirms."""
    customer_id = register_customer(client, "asiakas", "asiakas@yritys.fi")
    return Tokens(
        staff=stack.user("sari.staff", ["staff"]),
        dpo=stack.user("dora.dpo", ["dpo"]),
        partner=stack.user("acme-data", ["partner"], partner_id="acme", partner_type="data_provider"),
        reseller=stack.user("resello", ["partner"], partner_id="resello", partner_type="reseller"),
        marketing=stack.user("kampanja-soittaja", ["partner"], partner_id="kampanja", partner_type="marketing"),
        customer=stack.customer_login("asiakas"),
        customer_id=customer_id,
    )


@dataclass
class Tokens:
    staff: str
    dpo: str
    partner: str
    reseller: str
    marketing: str
    customer: str
    customer_id: str


@pytest.fixture(autouse=True)
def _aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    for key, value in _FAKE_AWS.items():
        monkeypatch.setenv(key, value)


@pytest.fixture
def stack(jwks_url: str) -> Iterator[Stack]:
    """A fresh emulated stack per test."""
    with _emulated_stack(jwks_url) as s:
        yield s


@pytest.fixture
def client(stack: Stack) -> Iterator[Any]:
    """Chalice's test client with API Gateway's authorizer semantics."""
    with _test_client() as c:
        yield c


@pytest.fixture
def tokens(stack: Stack, client: Any) -> Tokens:
    return _principals(stack, client)


@pytest.fixture(scope="module")
def module_stack(jwks_url: str) -> Iterator[Stack]:
    """One emulated stack for a whole module, for read-mostly tests such as the access matrix."""
    with _emulated_stack(jwks_url) as s:
        yield s


@pytest.fixture(scope="module")
def module_client(module_stack: Stack) -> Iterator[Any]:
    with _test_client() as c:
        yield c


@pytest.fixture(scope="module")
def module_tokens(module_stack: Stack, module_client: Any) -> Tokens:
    return _principals(module_stack, module_client)


def emulator_claims(stack: Stack, **claims: Any) -> dict[str, Any]:
    """Valid ID-token claims for the stack's pool and client, with `claims` overriding."""
    now = int(time.time())
    return {
        "iss": f"https://cognito-idp.{REGION}.amazonaws.com/{stack.info['user_pool_id']}",
        "sub": "sub-1",
        "aud": stack.info["user_pool_client_id"],
        "token_use": "id",
        "iat": now,
        "exp": now + 600,
        "cognito:groups": ["staff"],
        **claims,
    }


def emulator_token(stack: Stack, **claims: Any) -> str:
    """An ID token signed as the emulator signs (its key, kid 'dummy'), with chosen claims.

    For cases a real login cannot produce, such as an expired token.
    """
    key = jwt.PyJWK(load_resource("cognitoidp/resources/jwks-private.json"))
    return jwt.encode(emulator_claims(stack, **claims), key.key, algorithm="RS256", headers={"kid": "dummy"})


def registration_body(username: str, email: str, **overrides: Any) -> dict[str, Any]:
    body = {
        "organization": "Esimerkki Oy",
        "business_id": "0112038-9",
        "contact_name": "Maija Meikäläinen",
        "email": email,
        "phone": "040 123 4567",
        "address": {"street": "Katu 1", "postal_code": "00100", "city": "Helsinki"},
        "username": username,
        "password": PASSWORD,
        "consent_service_messages": True,
    }
    body.update(overrides)
    return body


def call(client: Any, method: str, path: str, token: str | None = None, body: Any = None) -> tuple[int, Any]:
    """One HTTP call through the local gateway; returns (status, parsed JSON body)."""
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    raw = b"" if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    resp = client.http.request(method, path, headers=headers, body=raw)
    return resp.status_code, json.loads(resp.body) if resp.body else None


@pytest.fixture(scope="session")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    """The local stack (`python -m devstack`) as a subprocess, once per session: one fixture
    for tests/e2e and tests/browser, so a session that runs both starts one stack."""
    yield from running_stack(tmp_path_factory)
