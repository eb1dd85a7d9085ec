"""The route wrapper: JSON bodies parsed safely on every route that takes one."""

from __future__ import annotations

import re
from typing import Any

import pytest

import app  # noqa: F401  (declares every route)
from chalicelib.api.routing import MAX_JSON_DEPTH, nesting_depth
from chalicelib.auth import ROUTES, RouteSpec
from chalicelib.registers import Role
from tests.conftest import Tokens, call

JSON_ROUTES = [s for s in ROUTES if s.body is not None and "application/json" in s.content_types]
# One principal each route admits (the DPO is also staff; a reseller is also a partner; a
# marketing partner is only itself).
_TOKEN_FOR = (
    (Role.DPO, "dpo"),
    (Role.STAFF, "staff"),
    (Role.RESELLER, "reseller"),
    (Role.PARTNER, "partner"),
    (Role.MARKETING, "marketing"),
)


def _token(spec: RouteSpec, tokens: Tokens) -> str | None:
    if not spec.roles:
        return None
    if Role.CUSTOMER in spec.roles:
        return tokens.customer
    return next(str(getattr(tokens, name)) for role, name in _TOKEN_FOR if role in spec.roles)


def test_there_are_anonymous_and_authenticated_json_routes() -> None:
    assert any(not s.roles for s in JSON_ROUTES) and any(s.roles for s in JSON_ROUTES)


@pytest.mark.parametrize("depth", [5000, MAX_JSON_DEPTH + 1])
@pytest.mark.parametrize("spec", JSON_ROUTES, ids=[f"{s.method} {s.path}" for s in JSON_ROUTES])
def test_deeply_nested_body_is_a_json_400(
    module_client: Any, module_tokens: Tokens, spec: RouteSpec, depth: int
) -> None:
    # Thousands of levels exhaust the JSON parser's recursion; a few dozen would reach
    # pydantic, DynamoDB's serializer or json.dumps. Both are the client's mistake.
    body = ('{"a":' * depth + "1" + "}" * depth).encode()
    path = re.sub(r"\{[^}]+\}", "0" * 32, spec.path)
    status, answer = call(module_client, spec.method, path, _token(spec, module_tokens), body)
    assert status == 400, answer
    assert answer["error"]["code"] == "invalid_json"
    assert str(MAX_JSON_DEPTH) in answer["error"]["message"]


def test_nesting_depth_counts_arrays_and_objects_without_recursion() -> None:
    assert nesting_depth(1) == 0
    assert nesting_depth({"a": [1, {"b": []}]}) == 4
    deep: Any = []
    for _ in range(100_000):
        deep = [deep]
    assert nesting_depth(deep) == 100_001
