"""Partner uploads end to end under mock_aws: S3 → notification → SQS → partner_import."""

from __future__ import annotations

from tests.conftest import Stack
from tests.imports_helpers import csv_bytes, drain, object_versions, prospect_items, report, runs_of, upload

ROWS = [
    ["Kunta Oy", "Äijä Öhman", "Toimitusjohtaja", "aija.ohman@kunta.fi", "040 123 4567"],
    ["Sote Ky", "Sari Sote", "Sosiaalijohtaja", "sari@sote.fi", ""],
]


def test_upload_with_spaces_and_umlauts_in_key_is_imported_reported_and_deleted(stack: Stack) -> None:
    key = "incoming/acme/Lista ä ö.csv"
    upload(stack, key, csv_bytes(ROWS))
    responses = drain(stack)
    assert all(r["batchItemFailures"] == [] for r in responses)
    [run] = runs_of(stack, "acme")
    assert run["state"] == "done"
    assert run["object_key"] == key
    assert run["counts"]["inserted"] == 2 and run["counts"]["rows"] == 2
    items = prospect_items(stack)
    assert {i["email"] for i in items} == {"aija.ohman@kunta.fi", "sari@sote.fi"}
    first = next(i for i in items if i["email"] == "aija.ohman@kunta.fi")
    assert first["contact_name"] == "Äijä Öhman" and first["phone"] == "+358401234567"
    assert first["source_partner"] == "acme" and first["sk"] == "PROFILE"
    assert run["report_key"].startswith("reports/acme/")
    assert report(stack, run)["counts"]["inserted"] == 2
    assert object_versions(stack, "incoming/") == []
    assert object_versions(stack, "work/") == []
