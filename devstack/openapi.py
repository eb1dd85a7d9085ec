"""Write the API's OpenAPI document to openapi.json (`make openapi`); a test keeps it in sync."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

OPENAPI_FILE = Path(__file__).resolve().parent.parent / "openapi.json"


def render() -> str:
    """The document as the repository keeps it: stable key order, trailing newline."""
    os.environ.setdefault("AWS_DEFAULT_REGION", "eu-north-1")
    import app  # noqa: F401  (declares every route)
    from chalicelib.api.openapi import document

    return json.dumps(document(), indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    OPENAPI_FILE.write_text(render())
    sys.stdout.write(f"wrote {OPENAPI_FILE.name}\n")
