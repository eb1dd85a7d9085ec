"""Files no partner should send, and some will: each is refused or reported cleanly.

Nothing is half-imported, the raw upload is deleted, the run ends `failed` with a reason
code (or `done` with rejected rows), and the SQS batch reports no failure to retry.
"""

from __future__ import annotations

import io
import os
import random
import string
import zipfile
from collections.abc import Iterable

import pytest

from chalicelib.imports import xlsx
from tests.conftest import Stack, register_partner
from tests.imports_helpers import (
    HEADER_FI,
    TickingContext,
    csv_bytes,
    drain,
    invoke,
    object_versions,
    prospect_items,
    receive,
    report,
    runs_of,
    s3,
    upload,
    xlsx_bytes,
)

GOOD_ROW = ["Hyvinvointialue Oy", "Veera Virta", "Johtaja", "veera.virta@hva.fi", "040 111 2222"]


def _only_run(stack: Stack) -> dict:
    [run] = runs_of(stack, "acme")
    return run


def _import(stack: Stack, name: str, body: bytes, context: TickingContext | None = None) -> dict:
    upload(stack, f"incoming/acme/{name}", body)
    responses = drain(stack, context=lambda: context)
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
    emails = {i["email"].lower() for i in prospect_items(stack)}
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
    keys = [o["Key"] for o in s3().list_objects_v2(Bucket=stack.info["upload_bucket"], Prefix="reports/")["Contents"]]
    for key in keys:
        text = s3().get_object(Bucket=stack.info["upload_bucket"], Key=key)["Body"].read().decode("utf-8-sig")
        for cell_start in ("\n" + formula[0], ";" + formula[0], "," + formula[0]):
            assert cell_start + formula[1:] not in text, (key, text)
    assert run["state"] == "done"


# -- hand-written workbooks: the sheet XML says whatever the test wants it to say ---------

_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_RELS = "http://schemas.openxmlformats.org/package/2006/relationships"
_DOC_RELS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"


def _cell(reference: str, text: str) -> bytes:
    return f'<c r="{reference}" t="inlineStr"><is><t>{text}</t></is></c>'.encode()


def _row(number: int, values: list[str]) -> bytes:
    cells = b"".join(_cell(f"{chr(65 + i)}{number}", v) for i, v in enumerate(values) if v)
    return f'<row r="{number}">'.encode() + cells + b"</row>"


HEADER_ROW = _row(1, HEADER_FI)


_TYPES = "http://schemas.openxmlformats.org/package/2006/content-types"
_SHEET_TYPES = "application/vnd.openxmlformats-officedocument.spreadsheetml"


def _content_types(shared_strings: bool) -> bytes:
    """The package's content types: how a reader (and Excel) finds the workbook and its strings."""
    overrides = {
        "/xl/workbook.xml": f"{_SHEET_TYPES}.sheet.main+xml",
        "/xl/worksheets/sheet1.xml": f"{_SHEET_TYPES}.worksheet+xml",
    }
    if shared_strings:
        overrides["/xl/sharedStrings.xml"] = f"{_SHEET_TYPES}.sharedStrings+xml"
    return (
        f'<?xml version="1.0"?><Types xmlns="{_TYPES}">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        + "".join(f'<Override PartName="{name}" ContentType="{kind}"/>' for name, kind in overrides.items())
        + "</Types>"
    ).encode()


def workbook(
    rows: Iterable[bytes],
    *,
    dimension: str = "A1:E2",
    shared_strings: bytes | None = None,
    prolog: bytes = b"",
) -> bytes:
    """A minimal .xlsx whose first sheet's <sheetData> holds `rows` as given."""
    sheet = (
        prolog
        + f'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="{_MAIN}"><dimension ref="{dimension}"/>'.encode()
        + b"<sheetData>"
        + b"".join(rows)
        + b"</sheetData></worksheet>"
    )
    rels = f'<Relationship Id="rId1" Type="{_DOC_RELS}/worksheet" Target="worksheets/sheet1.xml"/>'
    if shared_strings is not None:
        rels += f'<Relationship Id="rId2" Type="{_DOC_RELS}/sharedStrings" Target="sharedStrings.xml"/>'
    parts = {
        "[Content_Types].xml": _content_types(shared_strings is not None),
        "_rels/.rels": (
            f'<Relationships xmlns="{_RELS}"><Relationship Id="rId1" Type="{_DOC_RELS}/officeDocument"'
            ' Target="xl/workbook.xml"/></Relationships>'
        ).encode(),
        "xl/workbook.xml": (
            f'<workbook xmlns="{_MAIN}" xmlns:r="{_DOC_RELS}"><sheets>'
            '<sheet name="Kontaktit" sheetId="1" r:id="rId1"/></sheets></workbook>'
        ).encode(),
        "xl/_rels/workbook.xml.rels": f'<Relationships xmlns="{_RELS}">{rels}</Relationships>'.encode(),
        "xl/worksheets/sheet1.xml": sheet,
    }
    if shared_strings is not None:
        parts["xl/sharedStrings.xml"] = f'<sst xmlns="{_MAIN}">'.encode() + shared_strings + b"</sst>"
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in parts.items():
            archive.writestr(name, data)
    return out.getvalue()


def test_the_reported_file_declaring_a_whole_sheet_visits_only_its_rows(stack: Stack) -> None:
    """The 5 KB file of the incident: <dimension> A1:XFD1048576, one cell in the very last row."""
    body = workbook(
        [HEADER_ROW, _cell("XFD1048576", "x").join([b'<row r="1048576">', b"</row>"])], dimension="A1:XFD1048576"
    )
    assert len(body) < 5 * 1024
    context = TickingContext(budget_ms=150_000)
    run = _import(stack, "koko-arkki.xlsx", body, context)
    # Its one cell lies outside the header's columns, so nothing is there to import.
    assert run["state"] == "done" and run["counts"]["rows"] == 0
    assert prospect_items(stack) == []
    assert context.calls < 20  # two rows visited, not a million padded ones


@pytest.mark.parametrize("dimension", ["A1:XFD1048576", "A1:A1", "ZZZ"])
def test_a_declared_dimension_neither_pads_nor_limits_the_rows(stack: Stack, dimension: str) -> None:
    run = _import(stack, "mitat.xlsx", workbook([HEADER_ROW, _row(2, GOOD_ROW)], dimension=dimension))
    assert run["state"] == "done" and run["counts"]["rows"] == 1 and run["counts"]["inserted"] == 1


def test_thousands_of_empty_rows_are_visited_cheaply_and_lines_stay_true(stack: Stack) -> None:
    empty = (
        f'<row r="{n}"><c r="B{n}" s="1"/><c r="C{n}" t="inlineStr"><is><t> </t></is></c></row>'.encode()
        for n in range(2, 20_002)
    )
    bad = ["Kunta Oy", "Nimi Puuttuu", "", "", ""]
    body = workbook([HEADER_ROW, *empty, _row(20_002, GOOD_ROW), _row(20_003, bad)])
    context = TickingContext(budget_ms=10_000_000, tick_ms=1)
    run = _import(stack, "tyhjia.xlsx", body, context)
    assert run["state"] == "done" and run["counts"]["inserted"] == 1 and run["counts"]["rows"] == 2
    assert run["rejected_by_reason"] == {"missing_email": 1}
    [rejected] = report(stack, run)["rejected_rows"]
    assert rejected["line"] == 20_003  # the line a spreadsheet shows
    assert 20_003 <= context.calls < 20_100  # every row asked the clock once, empty ones included


def test_cells_right_of_the_header_are_never_read(stack: Stack) -> None:
    # 10,000 cells beyond the header's five, one of them pointing at a shared string that
    # does not exist: none is read, so none can fail or cost more than a count.
    far = b"".join(_cell(f"{_letters(col)}2", "x") for col in range(6, 10_006)) + b'<c r="XFD2" t="s"><v>999</v></c>'
    body = workbook([HEADER_ROW, _row(2, GOOD_ROW)[:-6] + far + b"</row>"], shared_strings=b"")
    run = _import(stack, "leveä.xlsx", body)
    assert run["state"] == "done" and run["counts"]["inserted"] == 1
    assert run["format"]["ignored_columns"] == []


def _letters(column: int) -> str:
    name = ""
    while column:
        column, rest = divmod(column - 1, 26)
        name = chr(65 + rest) + name
    return name


def test_a_row_wider_than_excel_allows_is_refused(stack: Stack) -> None:
    wide = b'<row r="2">' + b'<c t="inlineStr"><is><t>x</t></is></c>' * (xlsx.MAX_ROW_CELLS + 1) + b"</row>"
    run = _import(stack, "liian-leveä.xlsx", workbook([HEADER_ROW, wide]))
    assert run["state"] == "failed" and run["failure"]["code"] == "too_many_columns"
    assert prospect_items(stack) == []


@pytest.mark.parametrize(
    "rows",
    [
        [HEADER_ROW, _row(3, GOOD_ROW), _row(2, GOOD_ROW)],  # out of order
        [HEADER_ROW, _row(1_048_577, GOOD_ROW)],  # beyond Excel's last row
        [HEADER_ROW, b'<row r="x">' + _cell("A2", "x") + b"</row>"],
    ],
    ids=["out_of_order", "beyond_last_row", "not_a_number"],
)
def test_impossible_row_numbers_are_refused(stack: Stack, rows: list[bytes]) -> None:
    run = _import(stack, "rivit.xlsx", workbook(rows))
    assert run["state"] == "failed" and run["failure"]["code"] == "unreadable_xlsx"


def _text(length: int) -> str:
    rng = random.Random(length)  # letters a deflater cannot squeeze 200-fold
    return "".join(rng.choice(string.ascii_letters) for _ in range(length))


def test_a_shared_string_longer_than_a_cell_can_hold_is_refused(stack: Stack) -> None:
    strings = f"<si><t>{_text(xlsx.MAX_CELL_CHARS + 1)}</t></si>".encode()
    run = _import(stack, "pitka.xlsx", workbook([HEADER_ROW], shared_strings=strings))
    assert run["state"] == "failed" and run["failure"]["code"] == "cell_too_long"


def test_a_shared_strings_bomb_is_refused_by_count(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(xlsx, "MAX_SHARED_STRINGS", 1_000)
    strings = b"".join(f"<si><t>{n}</t></si>".encode() for n in range(1_001))
    run = _import(stack, "jonot.xlsx", workbook([HEADER_ROW], shared_strings=strings))
    assert run["state"] == "failed" and run["failure"]["code"] == "too_many_strings"


def test_a_shared_strings_part_too_large_is_refused_before_it_is_loaded(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Few strings, but a part larger than the bound: only the zip directory can refuse it.
    monkeypatch.setattr(xlsx, "MAX_SHARED_STRINGS_BYTES", 64 * 1024)
    strings = f"<si><t>{_text(20_000)}</t></si>".encode() * 4
    run = _import(stack, "jonot-iso.xlsx", workbook([HEADER_ROW], shared_strings=strings))
    assert run["state"] == "failed" and run["failure"]["code"] == "too_many_strings"


def test_a_part_parsed_whole_that_is_far_too_large_is_refused(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(xlsx, "MAX_PART_BYTES", 64 * 1024)
    body = _with_member(workbook([HEADER_ROW, _row(2, GOOD_ROW)]), "xl/styles.xml", _text(100 * 1024).encode())
    run = _import(stack, "tyylit.xlsx", body)
    assert run["state"] == "failed" and run["failure"]["code"] == "unreadable_xlsx"
    assert prospect_items(stack) == []


def _with_member(body: bytes, name: str, data: bytes) -> bytes:
    out = io.BytesIO(body)
    with zipfile.ZipFile(out, "a", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(name, data)
    return out.getvalue()


def test_a_shared_strings_table_too_slow_to_load_fails_as_too_slow(stack: Stack) -> None:
    # Within every size bound, but this invocation's time runs out while openpyxl loads the
    # strings: the reads beneath it ask the clock, and the run fails instead of hanging.
    strings = b"".join(f"<si><t>{_text(12)}{n}</t></si>".encode() for n in range(50_000))
    context = TickingContext(budget_ms=30_100, tick_ms=10)  # 30 s is the reserve: ~10 asks
    run = _import(stack, "hidas.xlsx", workbook([HEADER_ROW, _row(2, GOOD_ROW)], shared_strings=strings), context)
    assert run["state"] == "failed" and run["failure"]["code"] == "too_slow_to_read"
    assert prospect_items(stack) == []


def test_openpyxl_parses_with_defusedxml() -> None:
    import openpyxl

    assert openpyxl.DEFUSEDXML  # entity declarations are refused in every part it parses


def test_a_file_with_more_cells_than_any_contact_list_is_refused(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(xlsx, "MAX_CELLS", 1_000)
    rows = [_row(n, ["Kunta Oy", "", "", "", ""]) for n in range(2, 1_002)]
    run = _import(stack, "solut.xlsx", workbook([HEADER_ROW, *rows]))
    assert run["state"] == "failed" and run["failure"]["code"] == "too_many_cells"
    assert prospect_items(stack) == []


def test_entity_expansion_is_refused(stack: Stack) -> None:
    laughs = (
        b'<?xml version="1.0"?><!DOCTYPE worksheet [<!ENTITY a "aaaaaaaaaa">'
        + b"".join(f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">'.encode() for i in range(8))
        + b"]>"
    )
    body = workbook([HEADER_ROW, b'<row r="2"><c r="A2" t="inlineStr"><is><t>&i;</t></is></c></row>'])
    run = _import(stack, "nauru.xlsx", _with_sheet_prefix(body, laughs))
    assert run["state"] == "failed" and run["failure"]["code"] == "unreadable_xlsx"


def _with_sheet_prefix(body: bytes, prefix: bytes) -> bytes:
    source = zipfile.ZipFile(io.BytesIO(body))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = prefix + data.split(b"?>", 1)[1]
            archive.writestr(item.filename, data)
    return out.getvalue()


def test_an_xml_token_larger_than_any_cell_is_refused(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(xlsx, "MAX_TOKEN_BYTES", 256 * 1024)
    comment = b"<!--" + _text(600 * 1024).encode() + b"-->"  # expat would hold it all
    run = _import(stack, "kommentti.xlsx", workbook([HEADER_ROW, comment, _row(2, GOOD_ROW)]))
    assert run["state"] == "failed" and run["failure"]["code"] == "unreadable_xlsx"


# -- one hostile upload in a batch with other partners' uploads ----------------------------


@pytest.mark.parametrize("hostile", ["empty-rows.xlsx", "blank-lines.csv"])
def test_a_file_too_slow_to_read_fails_alone_and_the_rest_of_its_batch_imports(stack: Stack, hostile: str) -> None:
    if hostile.endswith(".xlsx"):
        body = workbook([HEADER_ROW, *(f'<row r="{n}"/>'.encode() for n in range(2, 200_002)), _row(200_002, GOOD_ROW)])
    else:
        body = csv_bytes([]) + b";;;;\r\n" * 200_000 + csv_bytes([GOOD_ROW], header=[])[2:]
    for partner in ("beta", "gamma"):
        register_partner(stack, partner, "data_provider")
    upload(stack, f"incoming/acme/{hostile}", body)
    upload(stack, "incoming/beta/lista.csv", csv_bytes([["Beta Oy", "Bea Beta", "", "bea@beta.fi", ""]]))
    upload(stack, "incoming/gamma/lista.xlsx", xlsx_bytes([["Gamma Oy", "Gia Gamma", "", "gia@gamma.fi", ""]]))
    messages = receive(stack)
    assert sum("ObjectCreated" in m["Body"] for m in messages) == 3  # one batch, as Lambda delivers it
    context = TickingContext(budget_ms=150_000, tick_ms=10)  # partner_import's 150 s timeout

    assert invoke(stack, messages, context)["batchItemFailures"] == []

    [bad] = runs_of(stack, "acme")
    assert bad["state"] == "failed" and bad["failure"]["code"] == "too_slow_to_read"
    assert not bad["failure"]["retryable"]
    assert [r["state"] for r in runs_of(stack, "beta") + runs_of(stack, "gamma")] == ["done", "done"]
    assert {i["email"].lower() for i in prospect_items(stack)} == {"bea@beta.fi", "gia@gamma.fi"}
    # Bounded by counting: the whole batch asked the clock less often than its 15,000 ticks,
    # and the hostile file's 200,000 rows were never all visited.
    assert context.calls <= 15_000
    assert object_versions(stack, "incoming/") == []
