"""The call list as a file in a browser test: downloaded through the page (the file the browser
saves), read, and filled as a spreadsheet program would save it (staff's and the marketing
partner's screens share the same file section, console-call-list-files.js)."""

from __future__ import annotations

import csv
import io
from typing import Any

from openpyxl import load_workbook
from playwright.sync_api import Page

from chalicelib import call_lists


def rows_of_xlsx(data: bytes) -> list[list[Any]]:
    sheet = load_workbook(io.BytesIO(data))[call_lists.LIST_SHEET]
    return [list(row) for row in sheet.iter_rows(values_only=True)]


def rows_of_csv(data: bytes) -> list[list[Any]]:
    return [list(row) for row in csv.reader(io.StringIO(data.decode("utf-8-sig")), delimiter=";")]


def download(page: Page, t: dict[str, str], button: str, fmt: str) -> bytes:
    """Click a download button; the browser saves the file the page names (and says so)."""
    with page.expect_download() as got:
        page.get_by_role("button", name=t[button], exact=True).click()
    download = got.value
    name = download.suggested_filename
    assert name.startswith("soittolista-") and name.endswith(f".{fmt}"), name
    page.get_by_role("status").filter(has_text=t["downloaded"].format(name=name)).wait_for()
    with open(download.path(), "rb") as saved:
        return saved.read()


def filled(fmt: str, data: bytes, outcomes: dict[str, str]) -> tuple[bytes, dict[str, int]]:
    """The downloaded file with its outcome column filled for the people in `outcomes` (by
    prospect id), as a spreadsheet program would save it; and each one's line in it."""
    lines: dict[str, int] = {}
    if fmt == "xlsx":
        book = load_workbook(io.BytesIO(data))
        sheet = book[call_lists.LIST_SHEET]
        header = [c.value for c in sheet[1]]
        id_col, outcome_col = header.index(call_lists.ID_COLUMN), header.index(call_lists.OUTCOME_COLUMN)
        for line in range(2, sheet.max_row + 1):
            pid = sheet.cell(line, id_col + 1).value
            if pid in outcomes:
                sheet.cell(line, outcome_col + 1).value = outcomes[pid]
                lines[pid] = line
        out = io.BytesIO()
        book.save(out)
        return out.getvalue(), lines
    rows = rows_of_csv(data)
    id_col, outcome_col = rows[0].index(call_lists.ID_COLUMN), rows[0].index(call_lists.OUTCOME_COLUMN)
    for line, row in enumerate(rows[1:], start=2):
        if row[id_col] in outcomes:
            row[outcome_col] = outcomes[row[id_col]]
            lines[row[id_col]] = line
    text = io.StringIO()
    csv.writer(text, delimiter=";", lineterminator="\r\n").writerows(rows)
    return ("\ufeff" + text.getvalue()).encode("utf-8"), lines


# A browser names a file's type by its extension as the machine knows it: Windows with Excel
# calls a .csv application/vnd.ms-excel. The page sends it as what its extension says.
MEDIA_TYPES = {"xlsx": call_lists.XLSX_TYPE, "csv": "application/vnd.ms-excel"}
