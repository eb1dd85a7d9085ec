"""The OpenAPI document: complete, served by the API, and the repository's copy in sync."""

from __future__ import annotations

import json
from typing import Any

from chalicelib.auth import ROUTES
from devstack.openapi import OPENAPI_FILE, render
from tests.conftest import call


def test_repository_copy_is_in_sync() -> None:
    assert OPENAPI_FILE.read_text() == render(), "run `make openapi` and commit openapi.json"


def test_every_route_is_documented_with_its_security() -> None:
    doc = json.loads(render())
    for spec in ROUTES:
        op = doc["paths"][spec.path][spec.method.lower()]
        assert op["summary"] == spec.summary
        assert (op["security"] == []) == spec.public
        if spec.body is not None:
            assert "requestBody" in op


def test_request_bodies_refuse_unknown_fields_in_the_schema_too() -> None:
    doc = json.loads(render())
    registration = doc["components"]["schemas"]["Registration"]
    assert registration["additionalProperties"] is False
    assert "consent_service_messages" in registration["required"]


def test_the_api_serves_the_same_document(module_client: Any) -> None:
    status, body = call(module_client, "GET", "/openapi.json")
    assert status == 200
    assert body == json.loads(render())
