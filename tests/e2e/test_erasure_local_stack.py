"""Erasure that sticks over the running local stack: a partner's file brings a person, staff
erase them at their request, and the partner's next upload skips them under
`erased_on_request` (counted, the line only) while a new person in the same file imports;
staff cannot enter them again, and the stack's logs never name them."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from tests.e2e.conftest import RunningStack

pytestmark = pytest.mark.e2e

EMAIL = "eero.erasmus@poistokunta.fi"
HEADER = "\ufeffOrganisaatio;Nimi;Titteli;Sähköposti;Puhelin\r\n"
FIRST = HEADER + f"Poistokunta;Eero Erasmus;Hallintojohtaja;{EMAIL};040 555 0101\r\n"
SECOND = (
    HEADER
    + f"Poistokunta;Eero Erasmus;Kunnanjohtaja;{EMAIL.upper()};040 555 0101\r\n"
    + "Poistokunta;Pirjo Pysyvä;Talousjohtaja;pirjo.pysyva@poistokunta.fi;\r\n"
)


def _upload_and_report(stack: RunningStack, name: str, body: str) -> dict[str, Any]:
    """Put the file where a partner's upload lands; wait (bounded) for its run's report."""
    s3 = stack.client("s3")
    bucket = stack.info["upload_bucket"]
    s3.put_object(Bucket=bucket, Key=f"incoming/acme/{name}", Body=body.encode())
    for _ in range(240):  # a bound on waiting, not a speed claim
        listing = s3.list_objects_v2(Bucket=bucket, Prefix="reports/acme/")
        for obj in listing.get("Contents", []):
            if obj["Key"].endswith(".json"):
                report = json.loads(s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read())
                if report.get("file_name") == name and report.get("state") in ("done", "failed"):
                    return dict(report)
        time.sleep(0.25)
    raise AssertionError(f"no report for {name}")


def test_an_erased_prospect_in_the_partners_next_upload_is_skipped_and_counted(local_stack: RunningStack) -> None:
    staff = local_stack.login("staff")
    first = _upload_and_report(local_stack, "poisto-1.csv", FIRST)
    assert first["state"] == "done" and first["counts"]["inserted"] == 1, first

    status, body = local_stack.http("POST", "/subject-requests", staff, {"type": "erasure", "email": EMAIL})
    assert status == 200, body
    assert [e["register"] for e in body["answer"]["erased"]] == ["prospects"]

    second = _upload_and_report(local_stack, "poisto-2.csv", SECOND)
    assert second["state"] == "done", second
    assert second["counts"]["inserted"] == 1 and second["counts"]["rejected"] == 1
    assert second["rejected_by_reason"] == {"erased_on_request": 1}
    assert [(r["line"], r["reason"]) for r in second["rejected_rows"]] == [(2, "erased_on_request")]
    assert "eero" not in json.dumps(second, ensure_ascii=False).lower()

    status, mine = local_stack.http("GET", "/partner/prospects?limit=100", local_stack.login("partner"))
    assert status == 200, mine
    emails = [p["email"].lower() for p in mine["items"]]
    assert "pirjo.pysyva@poistokunta.fi" in emails and EMAIL not in emails

    new = {"organization": "Poistokunta", "contact_name": "Eero Erasmus", "email": EMAIL}
    status, refused = local_stack.http("POST", "/prospects", staff, new)
    assert status == 409 and refused["error"]["code"] == "erased_on_request"

    status, answer = local_stack.http("POST", "/subject-requests", staff, {"type": "access", "email": EMAIL})
    assert status == 200 and answer["answer"]["do_not_re_add"]["on_list"] is True

    if local_stack.log_path is not None:
        assert "eero" not in local_stack.log_path.read_text(errors="replace").lower()
