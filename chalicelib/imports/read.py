"""Reading partner files as they are really sent: CSV or .xlsx, any common encoding.

Everything here streams: a CSV is decoded incrementally from the S3 body (``csv`` over a
text wrapper), an .xlsx is spooled to a temporary file (a zip needs seeking) and its first
sheet read with openpyxl within fixed bounds (`chalicelib.imports.xlsx`), so memory does not grow
with the file. Every row the file holds, empty ones included, asks `out_of_time()`
first; when this invocation's share of time is used up, reading stops with `OutOfTime`
and the run continues from its checkpoint. Rows come out as
``(line, {field: text})`` with the register's field names; ``line`` is the row's line
number in the file as a spreadsheet shows it (the header is line 1).
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import tempfile
import unicodedata
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from charset_normalizer import from_bytes

# Re-exported: callers catch them as read.OutOfTime / read.UnreadableFile.
from chalicelib.imports.errors import OutOfTime as OutOfTime
from chalicelib.imports.errors import UnreadableFile as UnreadableFile

# Header aliases (Finnish and English), compared after `header_key`.
HEADER_ALIASES: dict[str, str] = {
    **dict.fromkeys(
        [
            "organisaatio",
            "organisaationnimi",
            "organization",
            "organisation",
            "organizationname",
            "organisationname",
            "yritys",
            "company",
            "companyname",
            "yhteisö",
        ],
        "organization",
    ),
    **dict.fromkeys(
        [
            "nimi",
            "name",
            "yhteyshenkilö",
            "yhteyshenkilönnimi",
            "contact",
            "contactname",
            "contactperson",
            "fullname",
            "henkilö",
        ],
        "contact_name",
    ),
    **dict.fromkeys(["etunimi", "firstname", "givenname"], "first_name"),
    **dict.fromkeys(["sukunimi", "lastname", "surname", "familyname"], "last_name"),
    **dict.fromkeys(["titteli", "title", "nimike", "tehtävänimike", "asema", "jobtitle", "position", "role"], "title"),
    **dict.fromkeys(["sähköposti", "sähköpostiosoite", "sposti", "email", "emailaddress", "mail"], "email"),
    **dict.fromkeys(
        ["puhelin", "puhelinnumero", "puh", "phone", "phonenumber", "telephone", "tel", "mobile", "matkapuhelin"],
        "phone",
    ),
    **dict.fromkeys(["lähde", "lähdeurl", "source", "sourceurl", "url", "www", "website", "verkkosivu"], "source_url"),
}
REQUIRED_COLUMNS = ("organization", "email")
SAMPLE_BYTES = 64 * 1024
_XLSX_MAGIC = b"PK\x03\x04"


def header_key(header: str) -> str:
    """Case-, accent-composition- and spacing-insensitive form of a column header."""
    text = unicodedata.normalize("NFC", str(header or "")).strip().lower()
    return re.sub(r"[\s_\-./:]+", "", text)


@dataclass
class Columns:
    """Which column index holds which register field, and which columns were ignored."""

    index: dict[str, int]
    ignored: list[str] = field(default_factory=list)

    @classmethod
    def from_header(cls, header: list[Any]) -> Columns:
        index: dict[str, int] = {}
        ignored: list[str] = []
        for position, raw in enumerate(header):
            name = HEADER_ALIASES.get(header_key(str(raw or "")))
            if name and name not in index:
                index[name] = position
            elif str(raw or "").strip():
                ignored.append(str(raw).strip()[:60])
        if "contact_name" not in index and not {"first_name", "last_name"} <= set(index):
            missing = ["contact_name"]
        else:
            missing = []
        missing = [c for c in REQUIRED_COLUMNS if c not in index] + missing
        if missing:
            raise UnreadableFile("missing_columns", f"Required column(s) not found: {', '.join(missing)}.")
        return cls(index=index, ignored=ignored)

    def row(self, cells: list[Any]) -> dict[str, str]:
        """The row's values by field name, as trimmed text ("" when empty)."""
        out: dict[str, str] = {}
        for name, position in self.index.items():
            value = cells[position] if position < len(cells) else None
            if isinstance(value, float) and value.is_integer():
                value = int(value)  # a spreadsheet's number cell (a phone without its leading 0)
            out[name] = "" if value is None else str(value).strip()
        first, last = out.pop("first_name", ""), out.pop("last_name", "")
        if not out.get("contact_name"):
            out["contact_name"] = " ".join(p for p in (first, last) if p)
        return out


def _windows_fallback(exc: UnicodeError) -> tuple[str, int]:
    """Decode bytes that are not valid UTF-8 as Windows-1252 (Latin-1 for its 5 holes).

    A file whose first 64 KiB are plain ASCII is read as UTF-8; if a spreadsheet saved it
    as Windows-1252 after all, its later "ä" (0xE4) would otherwise stop the import.
    """
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    raw = exc.object[exc.start : exc.end]
    return "".join(
        bytes([b]).decode("cp1252", errors="strict") if b not in _CP1252_HOLES else chr(b) for b in raw
    ), exc.end


_CP1252_HOLES = frozenset({0x81, 0x8D, 0x8F, 0x90, 0x9D})
codecs.register_error("ilopiste_cp1252_fallback", _windows_fallback)


def detect_encoding(sample: bytes) -> str:
    """BOM → utf-8-sig; valid UTF-8 → utf-8; otherwise the best single-byte guess (cp1252).

    Spreadsheet programs on Windows save "CSV" as Windows-1252, which is a superset of
    Latin-1's printable range, so cp1252 is the fallback for Finnish text.
    """
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    try:
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
        return "utf-8"
    except UnicodeDecodeError:
        pass
    best = from_bytes(sample[:SAMPLE_BYTES], cp_isolation=["cp1252", "latin_1", "iso8859_15"]).best()
    if best is not None and best.encoding in ("latin_1", "iso8859_15"):
        return "iso8859_15" if best.encoding == "iso8859_15" else "cp1252"
    return "cp1252"


def detect_delimiter(header_line: str) -> str:
    """Semicolon (Finnish-locale Excel), tab or comma: whichever the header uses most."""
    counts = {d: header_line.count(d) for d in (";", "\t", ",")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


class _Prefixed(io.RawIOBase):
    """A binary stream that first replays `head` bytes, then continues with `rest`."""

    def __init__(self, head: bytes, rest: IO[bytes]):
        self._head = head
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._head:
            n = min(len(buffer), len(self._head))
            buffer[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        data = self._rest.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        return n


@dataclass
class Upload:
    """An opened upload: its format, encoding, columns and a row iterator."""

    format: str
    encoding: str
    delimiter: str
    columns: Columns
    rows: Iterator[tuple[int, dict[str, str]]]


# No line of a contact list is this long; reading one whole would let a file without
# newlines take all of the function's memory.
MAX_LINE_CHARS = 1_000_000


def _bounded_line(text: IO[str]) -> str:
    """The next physical line, refusing one longer than MAX_LINE_CHARS before it is all read."""
    line = text.readline(MAX_LINE_CHARS + 1)
    if len(line) > MAX_LINE_CHARS:
        raise UnreadableFile("line_too_long", f"A line is longer than {MAX_LINE_CHARS:,} characters.")
    return line


# How a header row becomes `Columns` (raises `UnreadableFile` for a header it cannot use).
HeaderRule = Callable[[list[Any]], Columns]


def _csv_rows(body: IO[bytes], out_of_time: Callable[[], bool], header_rule: HeaderRule) -> Upload:
    sample = body.read(SAMPLE_BYTES)
    encoding = detect_encoding(sample)
    stream = io.BufferedReader(_Prefixed(sample, body), buffer_size=SAMPLE_BYTES)
    errors = "ilopiste_cp1252_fallback" if encoding.startswith("utf-8") else "strict"
    text = io.TextIOWrapper(stream, encoding=encoding, newline="", errors=errors)
    try:
        header_line = _bounded_line(text)
    except UnicodeDecodeError:
        raise UnreadableFile("invalid_encoding", "The file's text encoding could not be read.") from None
    delimiter = detect_delimiter(header_line)
    header = next(csv.reader([header_line], delimiter=delimiter), [])
    columns = header_rule(header)
    reader = csv.reader(iter(lambda: _bounded_line(text), ""), delimiter=delimiter)

    def rows() -> Iterator[tuple[int, dict[str, str]]]:
        consumed = 0  # physical lines the csv reader has read (a quoted cell may span lines)
        try:
            for cells in reader:
                # The record starts on the line after the previous one; +1 for the header line.
                line = consumed + 2
                consumed = reader.line_num
                if out_of_time():
                    raise OutOfTime()
                if not any(c.strip() for c in cells):
                    continue
                yield line, columns.row(cells)
        except UnicodeDecodeError:
            raise UnreadableFile("invalid_encoding", "The file's text encoding changes mid-file.") from None
        except csv.Error:
            raise UnreadableFile("malformed_csv", f"Malformed CSV near line {reader.line_num + 1}.") from None

    return Upload("csv", encoding, delimiter, columns, rows())


# An .xlsx is a zip of XML: real sheets deflate 5-30x. A member inflating far more, or a
# workbook larger than any real contact list, is refused before a byte is parsed.
MAX_INFLATION_RATIO = 200
MAX_XLSX_UNCOMPRESSED = 1024 * 1024 * 1024
_RATIO_CHECKED_FROM = 1024 * 1024


def check_inflation(archive_file: IO[bytes]) -> None:
    """Refuse a zip bomb by the sizes its directory declares (raises `UnreadableFile`)."""
    try:
        with zipfile.ZipFile(archive_file) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        raise UnreadableFile("unreadable_xlsx", "The .xlsx file could not be opened.") from None
    total = sum(m.file_size for m in members)
    bomb = total > MAX_XLSX_UNCOMPRESSED or any(
        m.file_size > _RATIO_CHECKED_FROM and m.file_size > MAX_INFLATION_RATIO * max(m.compress_size, 1)
        for m in members
    )
    if bomb:
        raise UnreadableFile("unreadable_xlsx", "The .xlsx file inflates far beyond any real contact list.")


def _xlsx_rows(body: IO[bytes], out_of_time: Callable[[], bool], header_rule: HeaderRule) -> Upload:
    spool = tempfile.TemporaryFile()  # noqa: SIM115 (closed when the iterator ends)
    try:
        while chunk := body.read(1024 * 1024):
            spool.write(chunk)
        spool.seek(0)
        check_inflation(spool)
        spool.seek(0)
        # openpyxl loads with the first workbook: a CSV upload's cold start does without it.
        from chalicelib.imports import xlsx

        sheet = xlsx.open_sheet(spool, out_of_time)
    except BaseException:
        spool.close()
        raise
    values = iter(sheet)
    try:
        _, header = next(values)
        columns = header_rule(header)
    except BaseException:
        sheet.close()
        spool.close()
        raise

    def rows() -> Iterator[tuple[int, dict[str, str]]]:
        try:
            for line, cells in values:
                yield line, columns.row(cells)
        finally:
            sheet.close()
            spool.close()

    return Upload("xlsx", "xlsx", "", columns, rows())


def open_upload(
    body: IO[bytes],
    key: str,
    out_of_time: Callable[[], bool] = lambda: False,
    header_rule: HeaderRule = Columns.from_header,
) -> Upload:
    """Open an upload stream by content (zip magic → xlsx) and name, else read it as CSV.

    `out_of_time` is asked for every row the file holds (and while an .xlsx is opened).
    `header_rule` maps the header to columns: a partner's contact list by default; a call
    list sent back with its outcomes has its own (`chalicelib.call_lists`), with the same
    encodings, delimiters and hostile-file bounds.
    """
    name = key.rsplit("/", 1)[-1].lower()
    if name.endswith((".xls", ".ods", ".numbers")):
        raise UnreadableFile("unsupported_format", "Only CSV and .xlsx files are accepted.")
    head = body.read(4)
    stream: IO[bytes] = io.BufferedReader(_Prefixed(head, body))
    if head == _XLSX_MAGIC or name.endswith(".xlsx"):
        return _xlsx_rows(stream, out_of_time, header_rule)
    return _csv_rows(stream, out_of_time, header_rule)
