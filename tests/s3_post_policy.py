"""S3's decision on a browser POST upload (a presigned POST), the part moto leaves out.

moto accepts any form posted to a bucket: it neither checks the signature nor evaluates
the policy's conditions (tests/test_partner_uploads.py shows it storing an object under
another partner's prefix). So what keeps a partner inside its prefix, S3's evaluation of
the POST policy, is done here, as S3 documents it ("Creating a POST policy" and
"Calculating a signature" in the Amazon S3 API reference, SigV4 POST):

* the form carries `policy` (base64 JSON) and `x-amz-signature`, the SigV4 HMAC of the
  base64 text with the signing key derived from the secret of the `x-amz-credential`'s
  access key, date, region and `s3`: any change to the policy breaks it;
* `expiration`: refused at or after it;
* every condition must hold: `{"field": "value"}` and `["eq", "$field", "value"]` exact
  (`bucket` against the bucket posted to), `["starts-with", "$field", "prefix"]`,
  `["content-length-range", min, max]` on the file's size; field names are
  case-insensitive;
* every form field but `policy`, `x-amz-signature`, `file` and `x-ignore-*` must be
  named by a condition (S3: "Extra input fields"); a condition on a field the form
  lacks fails;
* `${filename}` in the posted key is replaced with the uploaded file's name first.

Not modelled (our forms use none of it): `starts-with` on comma-separated Content-Type
lists, `success_action_*`, `x-amz-meta-*` semantics, SigV2. An unknown condition raises.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

UNSIGNED_FIELDS = {"policy", "x-amz-signature", "file"}


@dataclass(frozen=True)
class Post:
    """One multipart POST to a bucket: its form fields and the file part."""

    bucket: str
    fields: dict[str, str]
    file_name: str
    size: int


def signing_key(secret: str, date: str, region: str, service: str = "s3") -> bytes:
    key = hmac.new(f"AWS4{secret}".encode(), date.encode(), hashlib.sha256).digest()
    for part in (region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def signature(policy_b64: str, secret: str, credential: str) -> str:
    """The SigV4 signature of a POST policy for `credential` (`AKID/date/region/s3/aws4_request`)."""
    _, date, region, service, _ = credential.split("/")
    return hmac.new(signing_key(secret, date, region, service), policy_b64.encode(), hashlib.sha256).hexdigest()


def _lower(fields: dict[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in fields.items()}


def refusals(post: Post, secrets: dict[str, str], now: datetime) -> list[str]:
    """Why S3 would refuse `post` (empty: it is accepted). `secrets`: access key → secret key
    of the identities S3 knows; `now` an aware datetime."""
    form = _lower(post.fields)
    if "policy" not in form or "x-amz-signature" not in form or "x-amz-credential" not in form:
        return ["not a signed POST: policy, x-amz-signature and x-amz-credential are required"]
    access_key = form["x-amz-credential"].split("/", 1)[0]
    if access_key not in secrets:
        return ["InvalidAccessKeyId"]
    expected = signature(form["policy"], secrets[access_key], form["x-amz-credential"])
    if not hmac.compare_digest(expected, form["x-amz-signature"]):
        return ["SignatureDoesNotMatch"]
    policy: dict[str, Any] = json.loads(base64.b64decode(form["policy"]))
    reasons = []
    expires = datetime.strptime(policy["expiration"], "%Y-%m-%dT%H:%M:%S%z")
    if now >= expires:
        reasons.append("Invalid according to Policy: Policy expired")
    if "key" in form:
        form["key"] = form["key"].replace("${filename}", post.file_name)
    values = {**form, "bucket": post.bucket}
    named: set[str] = set()
    for condition in policy["conditions"]:
        reason = _check(condition, values, post.size, named)
        if reason:
            reasons.append(f"Invalid according to Policy: Policy Condition failed: {reason}")
    extra = sorted(f for f in form if f not in UNSIGNED_FIELDS and not f.startswith("x-ignore-") and f not in named)
    if extra:
        reasons.append(f"Invalid according to Policy: Extra input fields: {', '.join(extra)}")
    return reasons


def _check(condition: Any, values: dict[str, str], size: int, named: set[str]) -> str | None:
    if isinstance(condition, dict):
        ((field, expected),) = condition.items()
        return _check(["eq", f"${field}", expected], values, size, named)
    op, *args = condition
    op = str(op).lower()
    if op == "content-length-range":
        low, high = int(args[0]), int(args[1])
        return None if low <= size <= high else f'["content-length-range", {low}, {high}] (size {size})'
    if op in ("eq", "starts-with"):
        field = str(args[0]).lstrip("$").lower()
        named.add(field)
        if field not in values:
            return f'["{op}", "${field}", ...] (field missing)'
        value, expected = values[field], str(args[1])
        holds = value == expected if op == "eq" else value.startswith(expected)
        return None if holds else f'["{op}", "${field}", "{expected}"]'
    raise ValueError(f"the evaluator does not know the POST policy condition {condition!r}")
