"""Schemathesis against the running local stack: bad input never gives a 5xx, and every
response matches the OpenAPI document the API serves at /openapi.json.

Each operation is called by a principal the route policy admits (so requests get past
the authorizer into the handlers, where bad input matters) and, for protected routes,
anonymously as well (the gateway's 401 must match the document too). Public routes are
called anonymously. Generation is bounded and derandomized so CI is fast and stable.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

import app  # noqa: F401  (declares every route)
from chalicelib.auth import ROUTES
from chalicelib.registers import Role
from tests.e2e.conftest import PROJECT_DIR, RunningStack

MAX_EXAMPLES = 25
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
# Which demo user (stack.json "users") calls a route, by the roles the route admits; the
# first match wins, so staff routes are exercised as staff, DPO-only ones as the DPO.
CALLER_BY_ROLE = (
    (Role.STAFF, "staff"),
    (Role.DPO, "dpo"),
    (Role.CUSTOMER, "customer"),
    (Role.RESELLER, "reseller"),
    (Role.PARTNER, "partner"),
    (Role.MARKETING, "marketing"),
)


def caller_for(path: str, method: str) -> str | None:
    """The demo user kind that may call `method path`, or None for a public route."""
    spec = next(s for s in ROUTES if s.path == path and s.method.upper() == method.upper())
    if spec.public:
        return None
    return next(kind for role, kind in CALLER_BY_ROLE if role in spec.roles)


@pytest.fixture(scope="session")
def stack_tokens(local_stack: RunningStack) -> dict[str, str]:
    """One ID token per demo user, through Cognito USER_PASSWORD_AUTH, reused by every case."""
    return {kind: local_stack.login(kind) for kind in local_stack.info["users"]}


# The repository's copy of the document: tests/test_openapi.py keeps it equal to what the
# API serves, and test_served_document_is_the_one_tested checks the live stack's copy.
# (Loaded at import, not through `schemathesis.pytest.from_fixture`, whose lazy loader
# does not work with this pytest version.)
schema = schemathesis.openapi.from_path(PROJECT_DIR / "openapi.json")


def test_served_document_is_the_one_tested(local_stack: RunningStack) -> None:
    status, served = local_stack.http("GET", "/openapi.json")
    assert status == 200
    assert served == json.loads((PROJECT_DIR / "openapi.json").read_text())


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_api_conforms_to_its_document(case: Any, local_stack: RunningStack, stack_tokens: dict[str, str]) -> None:
    base_url = local_stack.info["api_url"]
    kind = caller_for(case.operation.path, case.operation.method)
    headers = {"Authorization": f"Bearer {stack_tokens[kind]}"} if kind else {}
    case.call_and_validate(base_url=base_url, headers=headers, checks=CHECKS, timeout=30)
    if kind and case.method.upper() == case.operation.method.upper():
        anonymous = case.call_and_validate(base_url=base_url, checks=CHECKS, timeout=30)
        assert anonymous.status_code == 401, (case.method, case.path, anonymous.status_code)


@pytest.mark.parametrize("method", ["TRACE", "QUERY"])
def test_undeclared_method_is_a_json_4xx_not_a_501(local_stack: RunningStack, method: str) -> None:
    """The local server answers any method (as API Gateway does); the app refuses it in JSON."""
    resp = requests.request(method, local_stack.info["api_url"] + "/customers", timeout=30)
    assert resp.status_code == 405
    assert set(resp.json()["error"]) >= {"code", "message"}
