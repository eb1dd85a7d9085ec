"""Each Lambda function's cold import loads only what that function needs.

Every function's handler string in the package names the module its Lambda imports
(`app.app`, `chalicelib.api.authorizer.jwt_authorizer`, `chalicelib.events.*`). Each is
imported here in a fresh interpreter, as a new Lambda container would, and the modules it
loaded are checked against what that function must not load. A module-level import of a
heavy library in the wrong place fails here, not silently in the next cold start.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from functools import cache

import pytest

from tests.template import FUNCTION_HANDLERS, ROOT

# Heavy for a cold start and needed only by some routes or functions.
SPREADSHEETS = ("openpyxl", "et_xmlfile", "charset_normalizer", "chalicelib.imports.read", "chalicelib.imports.xlsx")
IMPORT_PIPELINE = (
    "chalicelib.imports.pipeline",
    "chalicelib.imports.messages",
    "aws_lambda_powertools.utilities.batch",
)
VALIDATION = ("pydantic", "pydantic_core", "phonenumbers", "email_validator", "dns", "chalicelib.validation")
DOMAIN = (
    "boto3",
    "chalicelib.customers",
    "chalicelib.prospects",
    "chalicelib.partners",
    "chalicelib.retention",
    "chalicelib.subjects",
    "chalicelib.audit",
    "chalicelib.store",
    "chalicelib.notice",
    "chalicelib.imports",
)
HTTP_LAYER = ("chalicelib.api",)
TOKEN_CHECK = ("jwt", "Crypto", "cryptography")

# What each function's cold import must not load.
MUST_NOT_LOAD = {
    # The route policy (route_policy.json) and the JWT check only; PyJWT itself loads on the
    # first token, as it would at import: that cost is the authorizer's own. Powertools'
    # logger loads with the first refused token only.
    "jwt_authorizer": (
        *SPREADSHEETS,
        *IMPORT_PIPELINE,
        *VALIDATION,
        *DOMAIN,
        "chalicelib.api.routing",
        "aws_lambda_powertools",
        "chalicelib.registers",  # builds every register's definition: roles are in chalicelib.roles
    ),
    "partner_import": (*HTTP_LAYER, *TOKEN_CHECK, *SPREADSHEETS, *IMPORT_PIPELINE, *VALIDATION, *DOMAIN),
    "retention_sweeper": (*HTTP_LAYER, *TOKEN_CHECK, *SPREADSHEETS, *IMPORT_PIPELINE, *VALIDATION, *DOMAIN),
    "art14_notices": (*HTTP_LAYER, *TOKEN_CHECK, *SPREADSHEETS, *IMPORT_PIPELINE, *VALIDATION, *DOMAIN),
    "register_backfill": (*HTTP_LAYER, *TOKEN_CHECK, *SPREADSHEETS, *IMPORT_PIPELINE, *VALIDATION, *DOMAIN),
    "pseudonym_rekey": (*HTTP_LAYER, *TOKEN_CHECK, *SPREADSHEETS, *IMPORT_PIPELINE, *VALIDATION, *DOMAIN),
    "campaign_materialiser": (*HTTP_LAYER, *TOKEN_CHECK, *SPREADSHEETS, *IMPORT_PIPELINE, *VALIDATION, *DOMAIN),
    "mail_sender": (*HTTP_LAYER, *TOKEN_CHECK, *SPREADSHEETS, *IMPORT_PIPELINE, *VALIDATION, *DOMAIN),
    "mail_events": (*HTTP_LAYER, *TOKEN_CHECK, *SPREADSHEETS, *IMPORT_PIPELINE, *VALIDATION, *DOMAIN),
    # The API defers what only some routes use: spreadsheets, the import pipeline, phone and
    # email parsing (writes only), and the token check (API Gateway ran the authorizer).
    "api_handler": (*SPREADSHEETS, *IMPORT_PIPELINE, "jwt", "phonenumbers", "email_validator", "dns"),
}

# What each function's domain loads on its first event must still leave out the others' parts.
FIRST_EVENT_MUST_NOT_LOAD = {
    "chalicelib.retention": (*HTTP_LAYER, *TOKEN_CHECK, *SPREADSHEETS, *IMPORT_PIPELINE),
    # The sweep's request case step (imported on its first event): no AES code (TOKEN_CHECK's Crypto).
    "chalicelib.cases": (*HTTP_LAYER, *TOKEN_CHECK, *SPREADSHEETS, *IMPORT_PIPELINE),
    # A CSV upload reads no workbook: openpyxl loads with the first .xlsx.
    "chalicelib.imports.messages": (
        *HTTP_LAYER,
        *TOKEN_CHECK,
        "chalicelib.retention",
        "chalicelib.notice",
        "openpyxl",
        "et_xmlfile",
        "chalicelib.imports.xlsx",
    ),
    "chalicelib.rekeying": (*HTTP_LAYER, *TOKEN_CHECK, *SPREADSHEETS, *IMPORT_PIPELINE, "chalicelib.retention"),
    "chalicelib.campaigns": (*HTTP_LAYER, *TOKEN_CHECK, *SPREADSHEETS, *IMPORT_PIPELINE, "chalicelib.retention"),
    "chalicelib.mail.jobs": (*HTTP_LAYER, *TOKEN_CHECK, *SPREADSHEETS, *IMPORT_PIPELINE, "chalicelib.retention"),
    "chalicelib.mail.feedback": (*HTTP_LAYER, *TOKEN_CHECK, *SPREADSHEETS, *IMPORT_PIPELINE),
}


def run_fresh(script: str) -> str:
    """Run `script` in a fresh interpreter, as a new Lambda container would; its stdout."""
    env = {**os.environ, "AWS_DEFAULT_REGION": "eu-north-1", "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("AWS_REGION", None)
    result = subprocess.run(  # noqa: S603 (our own interpreter, a fixed script)
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


@cache
def modules_loaded_by(module: str) -> frozenset[str]:
    """The modules a fresh interpreter holds after importing `module` (nothing else run)."""
    script = f"import importlib, json, sys; importlib.import_module({module!r}); print(json.dumps(sorted(sys.modules)))"
    return frozenset(json.loads(run_fresh(script)))


def loaded_from(modules: frozenset[str], prefixes: tuple[str, ...]) -> list[str]:
    """Which of `prefixes` (a package or module, with its submodules) `modules` holds."""
    return sorted(p for p in prefixes if any(m == p or m.startswith(p + ".") for m in modules))


ENTRIES = {name: handler.rsplit(".", 1)[0] for handler, name in FUNCTION_HANDLERS.items()}


def test_every_function_has_its_rule() -> None:
    assert set(MUST_NOT_LOAD) == set(ENTRIES)


@pytest.mark.parametrize("function", sorted(MUST_NOT_LOAD))
def test_cold_import_loads_only_what_the_function_needs(function: str) -> None:
    loaded = modules_loaded_by(ENTRIES[function])
    assert "chalice" in loaded  # the import did happen
    assert loaded_from(loaded, MUST_NOT_LOAD[function]) == []


@pytest.mark.parametrize("domain", sorted(FIRST_EVENT_MUST_NOT_LOAD))
def test_a_functions_first_event_loads_its_own_domain_only(domain: str) -> None:
    assert loaded_from(modules_loaded_by(domain), FIRST_EVENT_MUST_NOT_LOAD[domain]) == []


def test_the_guard_sees_a_heavy_import() -> None:
    """The check itself can fail: the full app does load pydantic and boto3."""
    assert loaded_from(modules_loaded_by("app"), ("pydantic", "boto3")) == ["boto3", "pydantic"]


def test_the_authorizer_alone_knows_the_route_policy() -> None:
    """Its Lambda imports only its own module, not the blueprints that declare the routes."""
    script = (
        "import json; from chalicelib.api import authorizer; from chalicelib.auth import Principal, allowed_routes;"
        "from chalicelib.registers import Role;"
        "print(json.dumps(allowed_routes(Principal('s', frozenset({Role.STAFF})))))"
    )
    routes = [tuple(r) for r in json.loads(run_fresh(script))]
    assert ("/customers/*", "GET") in routes
    assert all(not path.startswith("/me") for path, _ in routes)


def test_the_api_builds_no_request_validator_at_import() -> None:
    """Each route's body model builds its validator when a request first needs it
    (`defer_build` on StrictModel), so a cold start pays only for the route it serves."""
    script = (
        "import json, app; from chalicelib.api.routing import ROUTES;"
        "bodies = [r.body for r in ROUTES if r.body is not None];"
        "print(json.dumps([len(bodies), sorted(b.__name__ for b in bodies if b.__pydantic_complete__)]))"
    )
    declared, built = json.loads(run_fresh(script))
    assert declared > 20  # the check sees the routes' models
    assert built == []


def test_a_deferred_validator_still_refuses_bad_input() -> None:
    script = (
        "import json, app; from chalicelib.campaigns import NewCampaign; from pydantic import ValidationError\n"
        "try:\n    NewCampaign.model_validate({'name': 'x', 'purpose': 'y', 'channel': 'fax'})\n"
        "except ValidationError as exc:\n    print(json.dumps([e['loc'][0] for e in exc.errors()]))"
    )
    assert json.loads(run_fresh(script)) == ["channel"]


def test_the_api_import_leaves_garbage_collection_on() -> None:
    """app.py turns collection off while its modules load; it must be back on afterwards,
    with what the import built frozen (never scanned again)."""
    script = "import gc, app; print(gc.isenabled(), gc.get_freeze_count() > 0)"
    assert run_fresh(script).split() == ["True", "True"]
