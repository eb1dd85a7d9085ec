"""A partner's upload from the browser: a short-lived presigned POST to its own prefix.

A data provider or reseller with no IAM role of its own (the partner portal) asks the API
for a form (`POST /partner/uploads`) and the browser posts the file straight to the upload
bucket; the bucket's notification then imports it exactly as an upload through the
partner's role (`docs/imports.md`). The form is S3's POST policy, signed with the API
function's credentials, and S3 refuses any upload that breaks one of its conditions:

- `key` equals `incoming/<partner_id>/<upload_id>/<file name>`: one object, under the
  partner's own prefix only (the partner id comes from the token, checked against the
  registry; nothing in the request chooses it). The upload id is a fresh UUID, so two
  uploads of `lista.csv` never overwrite each other, and the file name stays the last
  part of the key unchanged: the import reads the run's `file_name` and the full-refresh
  convention (`full-…`) from it, and the partner sees its own name in its report;
- `content-length-range` 1..`MAX_BYTES`;
- `Content-Type` equals the file's type (`text/csv` or the .xlsx type);
- `x-amz-server-side-encryption` equals `aws:kms`: the bucket's policy refuses any other
  algorithm; the key is the bucket's default (the uploads key) since the form names none;
- `bucket`, and the signature's own fields, which botocore adds;
- `expiration`: `EXPIRES_IN` seconds after signing.

The API function's role may put objects under `incoming/*` and nowhere else, and use the
uploads key through S3 for objects there only (`.chalice/policy-api-handler.json`, the key
policy in `infra/resources.json`): a form can never be broader than that.

Logs carry the partner id and the upload id, never the file name (a partner's file name
may name a person; the run record keeps it, with its 90-day expiry).
"""

from __future__ import annotations

import base64
import json
import unicodedata
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import Field
from typing_extensions import TypedDict  # pydantic reads TypedDicts from here before Python 3.12

from chalicelib import store
from chalicelib.config import settings
from chalicelib.errors import ValidationFailed
from chalicelib.imports.runs import INCOMING
from chalicelib.logs import logger
from chalicelib.validation import StrictModel

# No file-size limit existed before the browser upload: the import streams a CSV and checks
# an .xlsx's inflation, whatever its size. 50 MiB is about 500,000 CSV rows (the 100,000-row
# benchmark file is 9.8 MB): far beyond a real contact list, small enough for a browser.
MAX_BYTES = 50 * 1024 * 1024
EXPIRES_IN = 300  # seconds: the portal asks for a form when the partner presses "upload"
MAX_NAME_CHARS = 200
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# What S3 stores as the object's type, by extension; the names browsers give a file of
# that extension are accepted and mapped to it (Windows reports a .csv as Excel's type).
CONTENT_TYPES: dict[str, tuple[str, frozenset[str]]] = {
    ".csv": ("text/csv", frozenset({"text/csv", "application/vnd.ms-excel", "text/plain", "application/csv"})),
    ".xlsx": (XLSX_TYPE, frozenset({XLSX_TYPE})),
}
SSE = "aws:kms"


class UploadRequest(StrictModel):
    """The file the partner is about to upload: its name and, optionally, the browser's type."""

    file_name: Annotated[str, Field(min_length=1, max_length=1000)]
    content_type: Annotated[str, Field(max_length=200)] | None = None


class PresignedUpload(TypedDict):
    """A form to post the file with: `fields` first, then the file as the form's `file`."""

    url: str
    fields: dict[str, str]
    key: str
    upload_id: str
    expires_at: str
    max_bytes: int


def _refuse(reason: str) -> ValidationFailed:
    return ValidationFailed(
        f"file_name {reason}.", code="invalid_file_name", details=[{"field": "file_name", "reason": reason}]
    )


def safe_name(raw: str) -> str:
    """The file name as it will be the last part of the key; refuses (400) what may not be.

    The same name the import then reads: `.csv` or `.xlsx` (the formats the import reads;
    `.xls`, `.ods` and the like it refuses), no path separator, no control character, no
    `${` (S3 would substitute `${filename}` in a posted key), at most 200 characters.
    Unicode is normalised (NFC) and surrounding spaces dropped; spaces and non-ASCII
    letters inside are kept, as the import keeps them.
    """
    name = unicodedata.normalize("NFC", raw).strip()
    if not name:
        raise _refuse("is empty")
    if len(name) > MAX_NAME_CHARS:
        raise _refuse(f"is longer than {MAX_NAME_CHARS} characters")
    if "/" in name or "\\" in name:
        raise _refuse("may not contain a path separator")
    if any(unicodedata.category(c) in ("Cc", "Cf", "Cs", "Co", "Zl", "Zp") for c in name):
        raise _refuse("may not contain control or invisible characters")
    if "${" in name:
        raise _refuse("may not contain '${'")
    if name.startswith("."):
        raise _refuse("may not start with a dot")
    if _extension(name) not in CONTENT_TYPES:
        raise _refuse("must end in .csv or .xlsx")
    return name


def _extension(name: str) -> str:
    dot = name.rfind(".")
    return name[dot:].lower() if dot > 0 else ""


def content_type_for(name: str, given: str | None) -> str:
    """The object's Content-Type for `name`; a type the browser gave must fit the extension."""
    canonical, accepted = CONTENT_TYPES[_extension(name)]
    if given is not None and given.split(";", 1)[0].strip().lower() not in accepted:
        raise ValidationFailed(
            "content_type does not fit the file's extension.",
            code="invalid_content_type",
            details=[{"field": "content_type", "reason": f"expected {canonical}"}],
        )
    return canonical


def presign(partner_id: str, request: UploadRequest) -> PresignedUpload:
    """A presigned POST for one file under `incoming/<partner_id>/` (the caller checked the partner)."""
    name = safe_name(request.file_name)
    content_type = content_type_for(name, request.content_type)
    upload_id = uuid.uuid4().hex
    key = f"{INCOMING}{partner_id}/{upload_id}/{name}"
    post = store.s3_signer().generate_presigned_post(
        Bucket=settings().upload_bucket,
        Key=key,
        Fields={"Content-Type": content_type, "x-amz-server-side-encryption": SSE},
        Conditions=[
            ["content-length-range", 1, MAX_BYTES],
            {"Content-Type": content_type},
            {"x-amz-server-side-encryption": SSE},
        ],
        ExpiresIn=EXPIRES_IN,
    )
    fields = {str(k): str(v) for k, v in post["fields"].items()}
    logger.info("upload_presigned", partner_id=partner_id, upload_id=upload_id)
    return {
        "url": str(post["url"]),
        "fields": fields,
        "key": key,
        "upload_id": upload_id,
        "expires_at": policy_expiration(fields).isoformat().replace("+00:00", "Z"),
        "max_bytes": MAX_BYTES,
    }


def policy_of(fields: dict[str, str]) -> dict[str, Any]:
    """The POST policy document a form carries (base64 JSON in its `policy` field)."""
    doc: dict[str, Any] = json.loads(base64.b64decode(fields["policy"]))
    return doc


def policy_expiration(fields: dict[str, str]) -> datetime:
    """When S3 stops accepting the form: the policy's own `expiration` (botocore signs with
    the machine's clock, so this is read back rather than computed beside it)."""
    raw = str(policy_of(fields)["expiration"])
    return datetime.strptime(raw, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
