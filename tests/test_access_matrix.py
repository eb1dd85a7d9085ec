"""Every route × every principal kind, generated from the route policy table.

A new route is covered the moment it is declared: nothing here lists routes by hand.
Allowed callers must get past both the authorizer and the handler's own check (any
status but 401/403, and never a 5xx); everyone else gets 401 (no valid token) or 403.
A reseller's token for a partner the registry has suspended, or does not know at all, is
refused (403) everywhere but the public routes.
"""

from __future__ import annotations

import re
import time
from typing import Any

import pytest

import app  # noqa: F401  (declares every route)
from chalicelib.auth import ROUTES, RouteSpec
from chalicelib.registers import Role
from tests.conftest import Stack, Tokens, call, emulator_token, register_partner

KINDS = (
    "anonymous",
    "customer",
    "partner",
    "reseller",
    "marketing",
    "staff",
    "dpo",
    "forged",
    "expired",
    "suspended_partner",
    "unregistered_partner",
)
ROLES_OF = {
    "customer": {Role.CUSTOMER},
    "partner": {Role.PARTNER},
    "reseller": {Role.PARTNER, Role.RESELLER},
    "marketing": {Role.MARKETING},
    "staff": {Role.STAFF},
    "dpo": {Role.STAFF, Role.DPO},
}


@pytest.fixture(scope="module")
def registry_tokens(module_stack: Stack) -> dict[str, str]:
    """Partner principals the partner registry refuses: their partner is suspended, or unknown."""
    register_partner(module_stack, "tauko", "reseller", "suspended")
    return {
        "suspended_partner": module_stack.user("tauko-user", ["partner"], partner_id="tauko", partner_type="reseller"),
        "unregistered_partner": module_stack.user("ghost", ["partner"], partner_id="ghost", partner_type="reseller"),
    }


def _token(kind: str, tokens: Tokens, stack: Stack, registry: dict[str, str]) -> str | None:
    if kind in registry:
        return registry[kind]
    if kind == "anonymous":
        return None
    if kind == "forged":
        return tokens.dpo[:-6] + "AAAAAA"
    if kind == "expired":
        now = int(time.time())
        return emulator_token(stack, iat=now - 7200, exp=now - 3600, **{"cognito:groups": ["dpo"]})
    return str(getattr(tokens, kind))


def _expected_allowed(spec: RouteSpec, kind: str) -> bool:
    if spec.public:
        return True
    return bool(ROLES_OF.get(kind, set()) & spec.roles)


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "unknown-id", path)


CASES = [(spec, kind) for spec in ROUTES for kind in KINDS]


def test_every_route_is_declared_with_a_summary() -> None:
    assert ROUTES
    assert all(spec.summary for spec in ROUTES)


@pytest.mark.parametrize(("spec", "kind"), CASES, ids=[f"{s.method} {s.path} as {k}" for s, k in CASES])
def test_access(
    module_client: Any,
    module_stack: Stack,
    module_tokens: Tokens,
    registry_tokens: dict[str, str],
    spec: RouteSpec,
    kind: str,
) -> None:
    token = _token(kind, module_tokens, module_stack, registry_tokens)
    status, body = call(module_client, spec.method, _concrete(spec.path), token, {})
    assert status < 500, body
    if _expected_allowed(spec, kind):
        assert status not in (401, 403), body
    elif kind in ("anonymous", "forged", "expired"):
        assert status == 401, body
        assert body["error"]["code"] == "unauthorized"
    else:
        assert status == 403, body
        assert body["error"]["code"] == "forbidden"


def test_route_table_in_the_docs_lists_every_route() -> None:
    from pathlib import Path

    doc = (Path(__file__).resolve().parent.parent / "docs" / "api.md").read_text()
    missing = [f"{s.method} {s.path}" for s in ROUTES if f"`{s.method} {s.path}`" not in doc]
    assert not missing, f"add these routes to the route table in docs/api.md: {missing}"
