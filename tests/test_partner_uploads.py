"""A partner's browser upload: `POST /partner/uploads` gives a presigned POST that can write one
file under the partner's own `incoming/<partner_id>/` prefix and nothing else.

moto stores whatever is posted (the first test shows it), so the refusals are decided by
tests/s3_post_policy.py, S3's evaluation of the form's signed policy; the genuine upload is
both accepted by it and posted to the emulator, where the import runs as for any upload.
"""

from __future__ import annotations

import base64
import json
import logging
import os
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from chalicelib import uploads
from chalicelib.config import settings
from tests import aws_calls
from tests.aws_calls import Recorder
from tests.conftest import Stack, Tokens, call, register_partner
from tests.imports_helpers import csv_bytes, drain, s3, xlsx_bytes
from tests.s3_post_policy import Post, refusals, signature
from tests.template import fake_arn

LIST = csv_bytes([["Kuntayhtymä Ääri", "Åsa Öberg", "Sosiaalijohtaja", "asa.oberg@aari.fi", "040 765 4321"]])
BUCKET_ARN = fake_arn("UploadBucket", {"Type": "AWS::S3::Bucket"})


def presign(client: Any, token: str, file_name: str = "Kevään lista.csv", **extra: Any) -> dict[str, Any]:
    status, form = call(client, "POST", "/partner/uploads", token, {"file_name": file_name, **extra})
    assert status == 201, form
    return form


def secrets() -> dict[str, str]:
    """The identities S3 knows: the API function's credentials (here, the emulator's)."""
    return {os.environ["AWS_ACCESS_KEY_ID"]: os.environ["AWS_SECRET_ACCESS_KEY"]}


def verdict(
    stack: Stack,
    form: dict[str, Any],
    *,
    size: int = len(LIST),
    at: datetime | None = None,
    file_name: str = "Kevään lista.csv",
    **changes: str,
) -> list[str]:
    fields = {**form["fields"], **changes}
    post = Post(stack.info["upload_bucket"], fields, file_name, size)
    return refusals(post, secrets(), at or datetime.now(UTC))


def post_form(form: dict[str, Any], body: bytes, file_name: str = "Kevään lista.csv", **changes: str) -> int:
    fields = {**form["fields"], **changes}
    resp = requests.post(form["url"], data=fields, files={"file": (file_name, body)}, timeout=30)
    return resp.status_code


def keys_under(stack: Stack, prefix: str) -> list[str]:
    listing = s3().list_objects_v2(Bucket=stack.info["upload_bucket"], Prefix=prefix)
    return [o["Key"] for o in listing.get("Contents", [])]


def test_the_emulator_does_not_evaluate_post_policies(stack: Stack, client: Any, tokens: Tokens) -> None:
    """Why the evaluator exists: moto stores a form posted under another partner's key."""
    form = presign(client, tokens.partner)
    assert post_form(form, LIST, key="incoming/other/forged.csv") in (200, 201, 204)
    assert keys_under(stack, "incoming/other/") == ["incoming/other/forged.csv"]
    assert verdict(stack, form, key="incoming/other/forged.csv")  # S3 would refuse it


def test_a_partner_gets_a_form_for_one_key_under_its_own_prefix(stack: Stack, client: Any, tokens: Tokens) -> None:
    form = presign(client, tokens.partner)
    assert set(form) == {"url", "fields", "key", "upload_id", "expires_at", "max_bytes"}
    prefix = f"incoming/acme/{form['upload_id']}/"
    assert form["key"] == prefix + "Kevään lista.csv" and len(form["upload_id"]) == 32
    assert form["max_bytes"] == uploads.MAX_BYTES == 50 * 1024 * 1024
    assert form["url"] == f"https://{stack.info['upload_bucket']}.s3.eu-north-1.amazonaws.com/"
    assert form["url"] == f"{settings().upload_origin}/"  # the one origin the console's CSP allows
    fields = form["fields"]
    assert fields["key"] == form["key"]
    assert fields["Content-Type"] == "text/csv" and fields["x-amz-server-side-encryption"] == "aws:kms"
    # Signed with SigV4 by the API function's own credentials, for S3 in the stack's region.
    assert fields["x-amz-algorithm"] == "AWS4-HMAC-SHA256" and fields["x-amz-signature"]
    access_key, _, region, service, end = fields["x-amz-credential"].split("/")
    assert (access_key, region, service, end) == (os.environ["AWS_ACCESS_KEY_ID"], "eu-north-1", "s3", "aws4_request")
    assert fields["x-amz-signature"] == signature(fields["policy"], secrets()[access_key], fields["x-amz-credential"])
    policy = json.loads(base64.b64decode(fields["policy"]))
    conditions = policy["conditions"]
    assert {"key": form["key"]} in conditions
    assert {"bucket": stack.info["upload_bucket"]} in conditions
    assert ["content-length-range", 1, uploads.MAX_BYTES] in conditions
    assert {"Content-Type": "text/csv"} in conditions
    assert {"x-amz-server-side-encryption": "aws:kms"} in conditions
    expires = datetime.strptime(policy["expiration"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert form["expires_at"] == expires.isoformat().replace("+00:00", "Z")
    signed = datetime.strptime(fields["x-amz-date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    assert expires - signed == timedelta(seconds=uploads.EXPIRES_IN) == timedelta(minutes=5)
    # Two forms for the same name are two keys: one upload never overwrites another.
    assert presign(client, tokens.partner)["key"] != form["key"]


def test_the_genuine_upload_is_accepted_and_imported(stack: Stack, client: Any, tokens: Tokens) -> None:
    form = presign(client, tokens.partner)
    assert verdict(stack, form) == []
    assert post_form(form, LIST) in (200, 201, 204)
    drain(stack)
    status, runs = call(client, "GET", "/partner/import-runs", tokens.partner)
    assert status == 200, runs
    [run] = [r for r in runs["items"] if r["file_name"] == "Kevään lista.csv"]
    assert run["state"] == "done" and run["counts"]["inserted"] == 1
    assert keys_under(stack, form["key"]) == []  # the raw upload is gone once imported


def test_the_file_name_stays_the_keys_last_part_so_a_full_refresh_is_one(
    stack: Stack, client: Any, tokens: Tokens
) -> None:
    from tests.imports_helpers import HEADER_FI

    form = presign(client, tokens.partner, "FULL lista.xlsx")
    assert form["key"].endswith("/FULL lista.xlsx") and form["fields"]["Content-Type"] == uploads.XLSX_TYPE
    body = xlsx_bytes([["Kunta", "Olli Ohto", "Johtaja", "olli@kunta.fi", ""]], header=HEADER_FI)
    assert verdict(stack, form, size=len(body)) == []
    assert post_form(form, body, "FULL lista.xlsx") in (200, 201, 204)
    drain(stack)
    _, runs = call(client, "GET", "/partner/import-runs", tokens.partner)
    [run] = [r for r in runs["items"] if r["file_name"] == "FULL lista.xlsx"]
    assert run["full_refresh"] is True and run["state"] == "done", run


@pytest.mark.parametrize(
    ("attempt", "changes"),
    [
        ("another partner's prefix", {"key": "incoming/resello/{id}/Kevään lista.csv"}),
        ("climbing out with ../", {"key": "incoming/acme/{id}/../../resello/x.csv"}),
        ("a sibling key in its own prefix", {"key": "incoming/acme/{id}/other.csv"}),
        ("its prefix without the upload id", {"key": "incoming/acme/Kevään lista.csv"}),
        ("a key without the prefix", {"key": "Kevään lista.csv"}),
        ("the reports prefix", {"key": "reports/acme/{id}.json"}),
        ("a changed content type", {"Content-Type": "text/html"}),
        ("another encryption", {"x-amz-server-side-encryption": "AES256"}),
        ("an extra field (a public ACL)", {"acl": "public-read"}),
        ("a tampered signature", {"x-amz-signature": "0" * 64}),
    ],
)
def test_a_form_cannot_write_anything_else(
    stack: Stack, client: Any, tokens: Tokens, attempt: str, changes: dict[str, str]
) -> None:
    form = presign(client, tokens.partner)
    changed = {k: v.replace("{id}", form["upload_id"]) for k, v in changes.items()}
    assert verdict(stack, form, **changed), attempt


def test_s3s_filename_substitution_gives_no_way_out(stack: Stack, client: Any, tokens: Tokens) -> None:
    form = presign(client, tokens.partner)
    posted = form["key"].rsplit("/", 1)[0] + "/${filename}"
    # S3 puts the file part's name in: only the name the form was made for is the signed key.
    assert verdict(stack, form, key=posted) == []
    assert verdict(stack, form, key=posted, file_name="../../resello/x.csv")
    assert verdict(stack, form, key=posted, file_name="muu.csv")


def test_too_big_empty_or_late_uploads_are_refused(stack: Stack, client: Any, tokens: Tokens) -> None:
    form = presign(client, tokens.partner)
    assert verdict(stack, form, size=uploads.MAX_BYTES) == []
    assert verdict(stack, form, size=uploads.MAX_BYTES + 1)
    assert verdict(stack, form, size=0)
    expires = datetime.fromisoformat(form["expires_at"].replace("Z", "+00:00"))
    assert verdict(stack, form, at=expires - timedelta(seconds=1)) == []
    assert verdict(stack, form, at=expires) == ["Invalid according to Policy: Policy expired"]


def test_a_widened_policy_breaks_the_signature(stack: Stack, client: Any, tokens: Tokens) -> None:
    form = presign(client, tokens.partner)
    policy = json.loads(base64.b64decode(form["fields"]["policy"]))
    policy["conditions"] = [
        ["starts-with", "$key", "incoming/"] if c == {"key": form["key"]} else c for c in policy["conditions"]
    ]
    widened = base64.b64encode(json.dumps(policy).encode()).decode()
    assert verdict(stack, form, policy=widened, key="incoming/resello/x.csv") == ["SignatureDoesNotMatch"]
    # Nor does another identity's signature do: S3 checks it with the named key's secret.
    other = "AKIAOTHERIDENTITY/" + form["fields"]["x-amz-credential"].split("/", 1)[1]
    assert verdict(stack, form, **{"x-amz-credential": other}) == ["InvalidAccessKeyId"]


def test_another_partners_token_gets_its_own_prefix_only(stack: Stack, client: Any, tokens: Tokens) -> None:
    """A reseller uploads too (it is an uploader in the registry); its form names its prefix."""
    form = presign(client, tokens.reseller)
    assert form["key"].startswith(f"incoming/resello/{form['upload_id']}/")
    assert verdict(stack, form, key=form["key"].replace("/resello/", "/acme/"))


@pytest.mark.parametrize(
    "name",
    [
        "",
        "   ",
        "lista",
        "lista.xls",
        "lista.ods",
        "lista.csv.exe",
        ".csv",
        "alikansio/lista.csv",
        "..\\lista.csv",
        "../lista.csv",
        "lista\n.csv",
        "lista\u200b.csv",
        "${filename}.csv",
        "a" * 197 + ".csv",
    ],
)
def test_file_names_the_import_would_not_take_are_refused(client: Any, tokens: Tokens, name: str) -> None:
    status, body = call(client, "POST", "/partner/uploads", tokens.partner, {"file_name": name})
    assert status == 400, body
    assert body["error"]["code"] in ("invalid_file_name", "validation_failed"), body


def test_names_are_normalised_and_the_browsers_type_must_fit(client: Any, tokens: Tokens) -> None:
    form = presign(client, tokens.partner, "  Lista 2026.CSV ", content_type="application/vnd.ms-excel")
    assert form["key"].endswith("/Lista 2026.CSV") and form["fields"]["Content-Type"] == "text/csv"
    assert presign(client, tokens.partner, "a" * 196 + ".csv")["key"].endswith(".csv")
    status, body = call(
        client, "POST", "/partner/uploads", tokens.partner, {"file_name": "lista.xlsx", "content_type": "text/csv"}
    )
    assert status == 400 and body["error"]["code"] == "invalid_content_type"
    status, body = call(client, "POST", "/partner/uploads", tokens.partner, {"file_name": "a.csv", "prefix": "x/"})
    assert status == 400, body  # nothing in the request chooses the prefix


def test_a_data_provider_without_the_notice_on_record_gets_no_form(stack: Stack, client: Any) -> None:
    register_partner(stack, "uusi", "data_provider", recorded=False)
    token = stack.user("uusi-user", ["partner"], partner_id="uusi", partner_type="data_provider")
    status, body = call(client, "POST", "/partner/uploads", token, {"file_name": "lista.csv"})
    assert status == 403 and body["error"]["code"] == "notice_not_delivered"


def test_the_form_is_a_put_by_the_api_role_and_the_log_names_no_file(
    stack: Stack, client: Any, tokens: Tokens, calls_against_roles: Recorder, caplog: pytest.LogCaptureFixture
) -> None:
    start = len(calls_against_roles.calls)
    caplog.set_level(logging.INFO)
    form = presign(client, tokens.partner, "Åsa Öberg yhteystiedot.csv")
    signed = [c for c in calls_against_roles.calls[start:] if c.operation == "s3:PresignedPost"]
    [request] = [r for c in signed for r in c.requests]
    assert signed[0].function == "api_handler"
    assert (request.action, request.resource) == ("s3:PutObject", f"{BUCKET_ARN}/{form['key']}")
    assert not any(c.operation == "s3:CreateBucket" for c in calls_against_roles.calls[start:])
    assert not calls_against_roles.denials(aws_calls.function_roles(), calls_against_roles.calls[start:])
    # Without the role's PutObject on incoming/*, the same form is a denial naming the policy file.
    roles = json.loads(json.dumps(aws_calls.function_roles()))
    roles["api_handler"]["Statement"] = [
        s for s in roles["api_handler"]["Statement"] if "s3:PutObject" not in json.dumps(s.get("Action"))
    ]
    denied = calls_against_roles.denials(roles, signed)
    assert denied and "policy-api-handler.json" in denied[0] and "s3:PutObject" in denied[0]
    # The log line names the partner and the upload id; never the file name (it may name a person).
    [line] = [r for r in caplog.records if r.getMessage() == "upload_presigned"]
    assert (line.__dict__["partner_id"], line.__dict__["upload_id"]) == ("acme", form["upload_id"])
    everything = caplog.text + "".join(json.dumps(r.__dict__, default=str) for r in caplog.records)
    assert "Öberg" not in everything and "yhteystiedot" not in everything
