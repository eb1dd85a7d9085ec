"""The OpenAPI 3.1 document of the whole API, generated from the route table.

Every route declared through `routing.route` appears with its roles (as security), path
and query parameters, request body model (pydantic's JSON Schema) and responses. The
same document is served at `GET /openapi.json` and kept in the repository as
`openapi.json` (a test keeps the two equal; `make openapi` rewrites the file).
"""

from __future__ import annotations

import re
from typing import Any

from chalice import Blueprint
from pydantic import TypeAdapter

from chalicelib.auth import ROUTES, RouteSpec

from .routing import Call, route

openapi_bp = Blueprint(__name__)

_ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "details": {"type": "array", "items": {"type": "object"}},
            },
        }
    },
}
_QUERY_SCHEMAS: dict[str, dict[str, Any]] = {
    "limit": {"type": "integer", "minimum": 1, "maximum": 100},
    "cursor": {"type": "string"},
    "email": {"type": "string", "format": "email"},
    "as_of": {"type": "string", "format": "date"},
    "lang": {"type": "string", "enum": ["fi", "en"]},
    "format": {"type": "string", "enum": ["xlsx", "csv"]},
}


def _error(description: str) -> dict[str, Any]:
    schema = {"$ref": "#/components/schemas/Error"}
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _operation(spec: RouteSpec, components: dict[str, Any]) -> dict[str, Any]:
    params: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string", "minLength": 1}}
        for name in re.findall(r"\{([^}]+)\}", spec.path)
    ]
    params += [
        {"name": name, "in": "query", "required": False, "schema": _QUERY_SCHEMAS.get(name, {"type": "string"})}
        for name in spec.query
    ]
    roles = ", ".join(sorted(r.value for r in spec.roles)) or "anyone"
    op: dict[str, Any] = {
        "operationId": f"{spec.tags[0]}_{spec.operation_id}" if spec.tags else spec.operation_id,
        "summary": spec.summary,
        "description": f"Who may call it: {roles}.",
        "tags": list(spec.tags),
        "parameters": params,
        "responses": {
            str(spec.status): {"description": "Success", "content": {"*/*": {"schema": {}}}},
            "400": _error("Invalid request: the fields and reasons are in `details`."),
            "404": _error("No such record or route."),
            "409": _error("Conflicts with the record's current state."),
            "default": _error("Any other error."),
        },
    }
    if spec.roles:
        op["security"] = [{"cognitoIdToken": []}]
        op["responses"]["401"] = _error("Missing, invalid or expired token.")
        op["responses"]["403"] = _error("The caller's role may not use this route.")
    else:
        op["security"] = []
    if spec.same_origin:
        op["responses"]["403"] = _error(
            "`cross_origin_request`: a browser sent it from another site's page (Sec-Fetch-Site, Origin)."
        )
    if spec.response is not None:
        name = spec.response.__name__
        schema = TypeAdapter(spec.response).json_schema(ref_template="#/components/schemas/{model}")
        for def_name, definition in schema.pop("$defs", {}).items():
            components[def_name] = definition
        components[name] = schema
        op["responses"][str(spec.status)] = {
            "description": "Success",
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}},
        }
    if spec.body is not None:
        name = spec.body.__name__
        schema = spec.body.model_json_schema(ref_template="#/components/schemas/{model}")
        for def_name, definition in schema.pop("$defs", {}).items():
            components[def_name] = definition
        components[name] = schema
        op["requestBody"] = {
            "required": True,
            "content": {t: {"schema": {"$ref": f"#/components/schemas/{name}"}} for t in spec.content_types},
        }
    elif "application/json" not in spec.content_types:
        # A file as the body (a call list sent back): its bytes, in any of the declared types.
        op["requestBody"] = {
            "required": True,
            "content": {t: {"schema": {"type": "string", "format": "binary"}} for t in spec.content_types},
        }
    return op


def document() -> dict[str, Any]:
    """The OpenAPI document of every declared route."""
    components: dict[str, Any] = {"Error": _ERROR}
    paths: dict[str, dict[str, Any]] = {}
    for spec in sorted(ROUTES, key=lambda s: (s.path, s.method)):
        paths.setdefault(spec.path, {})[spec.method.lower()] = _operation(spec, components)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Ilopiste registers",
            "version": "1.0.0",
            "description": "Customer and prospect registers of Ilopiste.fi (Wauranoja Oy). "
            "Send the Cognito ID token as `Authorization: Bearer <token>`.",
        },
        "paths": paths,
        "components": {
            "schemas": dict(sorted(components.items())),
            "securitySchemes": {
                "cognitoIdToken": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT (Cognito ID token)"}
            },
        },
    }


@route(openapi_bp, "/openapi.json", "GET", summary="This API's OpenAPI document", query=())
def openapi(call: Call) -> dict[str, Any]:
    return document()
