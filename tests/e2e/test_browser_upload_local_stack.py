"""A partner's browser upload over the running local stack, as the partner portal makes it:
the API gives a presigned POST, the file is posted straight to the bucket (multipart form,
`requests.post(url, data=fields, files=...)`), the emulator notifies the import queue, the
worker runs `partner_import`, and the run with its report shows under /partner/import-runs.

The emulator does not evaluate the form's policy (tests/test_partner_uploads.py covers what
S3 refuses, with tests/s3_post_policy.py); here the path itself is proven end to end.
"""

from __future__ import annotations

import time
from typing import Any

import requests

from tests.e2e.conftest import RunningStack

LIST = (
    "Organisaatio;Nimi;Titteli;Sähköposti;Puhelin\r\n"
    "Hyvinvointialue Ylä;Ilmari Ylänne;Hallintojohtaja;ilmari.ylanne@yla.fi;040 111 2233\r\n"
    ";Yksityinen Henkilö;;yksityinen@yla.fi;\r\n"
).encode()
NAME = "Selaimen lista.csv"


def _run_named(local_stack: RunningStack, token: str, name: str) -> dict[str, Any] | None:
    status, runs = local_stack.http("GET", "/partner/import-runs", token)
    assert status == 200, runs
    done = [r for r in runs["items"] if r["file_name"] == name and r["state"] in ("done", "failed")]
    return done[0] if done else None


def test_a_partner_uploads_through_a_presigned_post_and_sees_its_run(local_stack: RunningStack) -> None:
    token = local_stack.login("partner")
    status, form = local_stack.http("POST", "/partner/uploads", token, {"file_name": NAME})
    assert status == 201, form
    assert form["key"].startswith("incoming/acme/") and form["key"].endswith("/" + NAME)
    # The emulator's endpoint (path style); in AWS the bucket's regional virtual-hosted address.
    assert form["url"].startswith(local_stack.info["aws_endpoint_url"])
    assert form["fields"]["x-amz-credential"].split("/")[2:] == [local_stack.info["region"], "s3", "aws4_request"]

    resp = requests.post(form["url"], data=form["fields"], files={"file": (NAME, LIST, "text/csv")}, timeout=30)
    assert resp.status_code in (200, 201, 204), resp.text

    run = None
    for _ in range(120):  # a bound on waiting, not a speed claim
        run = _run_named(local_stack, token, NAME)
        if run:
            break
        time.sleep(0.25)
    assert run is not None, "the upload was not imported"
    assert run["state"] == "done", run
    assert run["counts"]["inserted"] == 1 and run["counts"]["rejected"] == 1
    status, detail = local_stack.http("GET", f"/partner/import-runs/{run['run_id']}", token)
    assert status == 200 and detail["file_name"] == NAME
    assert detail["report_key"].startswith("reports/acme/") and detail["rejected_by_reason"] == {"no_organisation": 1}
    # The object was stored where the form said, with the type and encryption it named, and
    # the import removed it afterwards.
    s3 = local_stack.client("s3")
    assert s3.list_objects_v2(Bucket=local_stack.info["upload_bucket"], Prefix=form["key"]).get("KeyCount", 0) == 0
    status, mine = local_stack.http("GET", "/partner/prospects", token)
    assert status == 200 and "ilmari.ylanne@yla.fi" in [p["email"] for p in mine["items"]]


def test_only_uploaders_get_a_form(local_stack: RunningStack) -> None:
    for kind, expected in (("marketing", 403), ("staff", 403), ("customer", 403)):
        status, body = local_stack.http("POST", "/partner/uploads", local_stack.login(kind), {"file_name": NAME})
        assert status == expected, (kind, body)
    status, body = local_stack.http("POST", "/partner/uploads", None, {"file_name": NAME})
    assert status == 401, body
