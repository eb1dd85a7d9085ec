"""Files no partner should send, and some will: each is refused or reported cleanly.

Nothing is half-imported, the raw upload is deleted, the run ends `failed` with a reason
code (or `done` with rejected rows), and the SQS batch reports no failure to retry.
"""

from __future__ import annotations

import io
import os
import zipfile

import boto3
import pytest

from tests.conftest import REGION, Stack
from tests.imports_helpers import (
    HEADER_FI,
    csv_bytes,
    drain,
    object_versions,
    prospect_items,
    runs_of,
    upload,
    xlsx_bytes,
)

GOOD_ROW = ["Hyvinvointialue Oy", "Veera Virta", "Johtaja", "veera.virta@hva.fi", "040 111 2222"]


def _only_run(stack: Stack) -> dict:
    [run] = runs_of(stack, "acme")
    return run


def _import(stack: Stack, name: str, body: bytes) -> dict:
    upload(stack, f"incoming/acme/{name}", body)
    responses = drain(stack)
    assert all(r["batchItemFailures"] == [] for r in responses), responses  # nothing left to retry
    assert object_versions(stack, "incoming/") == []  # the raw upload never lingers
    return _only_run(stack)


@pytest.mark.parametrize(
    ("name", "body"),
    [
        ("empty.csv", b""),
        ("blank.csv", b"\r\n\r\n  \r\n"),
        ("random.csv", os.urandom(4096)),
        ("nul.csv", b"\x00" * 2048),
        ("image.csv", b"\x89PNG\r\n\x1a\n" + os.urandom(512)),
    ],
)
def test_empty_or_binary_files_fail_without_importing(stack: Stack, name: str, body: bytes) -> None:
    run = _import(stack, name, body)
    assert run["state"] == "failed", run
    assert run["failure"]["code"]
    assert prospect_items(stack) == []


def test_truncated_csv_keeps_the_whole_rows_and_reports_the_cut_one(stack: Stack) -> None:
    whole = csv_bytes([GOOD_ROW])
    cut = b'Kunta Oy;"Matti Mei'  # the upload stopped mid-cell
    run = _import(stack, "cut.csv", whole + cut)
    assert run["state"] in ("done", "failed"), run
    emails = {i["email_norm"] for i in prospect_items(stack)}
    assert emails <= {"veera.virta@hva.fi"}
    if run["state"] == "done":
        assert emails == {"veera.virta@hva.fi"}
        assert sum(run["rejected_by_reason"].values()) == 1


def test_an_enormous_single_line_is_refused_not_read_into_memory(stack: Stack) -> None:
    header = ";".join(HEADER_FI).encode() + b"\r\n"
    run = _import(stack, "one-line.csv", header + b"x" * (8 * 1024 * 1024))
    assert run["state"] == "failed"
    assert run["failure"]["code"] == "line_too_long"
    assert prospect_items(stack) == []


def test_an_enormous_header_line_is_refused(stack: Stack) -> None:
    run = _import(stack, "wide.csv", b"a;" * (4 * 1024 * 1024))
    assert run["state"] == "failed" and run["failure"]["code"] == "line_too_long"
    assert prospect_items(stack) == []


def test_truncated_xlsx_fails_cleanly(stack: Stack) -> None:
    body = xlsx_bytes([GOOD_ROW])
    run = _import(stack, "cut.xlsx", body[: len(body) // 2])
    assert run["state"] == "failed" and run["failure"]["code"] == "unreadable_xlsx"


def _zip_bomb_xlsx() -> bytes:
    """A valid-looking workbook whose sheet inflates to ~200 MB from a few hundred kB."""
    good = zipfile.ZipFile(io.BytesIO(xlsx_bytes([GOOD_ROW])))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as bomb:
        for item in good.infolist():
            data = good.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                filler = b"<!--" + b" " * (200 * 1024 * 1024) + b"-->"
                data = data.replace(b"<sheetData>", filler + b"<sheetData>", 1)
            bomb.writestr(item, data)
    return out.getvalue()


def test_zip_bomb_xlsx_is_refused_before_inflating(stack: Stack) -> None:
    body = _zip_bomb_xlsx()
    assert len(body) < 2 * 1024 * 1024
    run = _import(stack, "bomb.xlsx", body)
    assert run["state"] == "failed" and run["failure"]["code"] == "unreadable_xlsx"
    assert prospect_items(stack) == []


@pytest.mark.parametrize("formula", ['=HYPERLINK("http://x")', "+358401112222", "@SUM(A1)", "-1+1"])
def test_formula_cells_never_come_back_unescaped(stack: Stack, formula: str) -> None:
    rows = [["Kunta Oy", formula, "Johtaja", "bad-email", "040 1"]]
    run = _import(stack, "formulas.csv", csv_bytes(rows))
    s3 = boto3.client("s3", region_name=REGION)
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=stack.info["upload_bucket"], Prefix="reports/")["Contents"]]
    for key in keys:
        text = s3.get_object(Bucket=stack.info["upload_bucket"], Key=key)["Body"].read().decode("utf-8-sig")
        for cell_start in ("\n" + formula[0], ";" + formula[0], "," + formula[0]):
            assert cell_start + formula[1:] not in text, (key, text)
    assert run["state"] == "done"
