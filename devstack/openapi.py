"""Write what is derived from the route table at build time (`make openapi`); tests keep both in sync.

openapi.json is the API's OpenAPI document; chalicelib/api/route_policy.json is the route
policy the authorizer's Lambda reads instead of importing the HTTP layer that declares it.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

OPENAPI_FILE = Path(__file__).resolve().parent.parent / "openapi.json"
ROUTE_POLICY_FILE = OPENAPI_FILE.parent / "chalicelib" / "api" / "route_policy.json"


def render() -> str:
    """The document as the repository keeps it: stable key order, trailing newline."""
    os.environ.setdefault("AWS_DEFAULT_REGION", "eu-north-1")
    import app  # noqa: F401  (declares every route)
    from chalicelib.api.openapi import document

    return json.dumps(document(), indent=2, ensure_ascii=False) + "\n"


def render_route_policy() -> str:
    """The authorizer's route policy as the package carries it: one route a line, sorted."""
    os.environ.setdefault("AWS_DEFAULT_REGION", "eu-north-1")
    import app  # noqa: F401  (declares every route)
    from chalicelib.auth import ROUTES, route_policy_document

    lines = ",\n".join("  " + json.dumps(entry) for entry in route_policy_document(ROUTES))
    return f"[\n{lines}\n]\n"


if __name__ == "__main__":
    OPENAPI_FILE.write_text(render())
    sys.stdout.write(f"wrote {OPENAPI_FILE.name}\n")
    ROUTE_POLICY_FILE.write_text(render_route_policy())
    sys.stdout.write(f"wrote {ROUTE_POLICY_FILE.relative_to(OPENAPI_FILE.parent)}\n")
