"""The first sheet of an .xlsx, read within fixed bounds whatever the file declares.

Why not openpyxl's read-only mode: it pads every row to the sheet's declared
``<dimension>`` and fills every gap between row numbers with empty rows (a 5 KB file
claiming ``A1:XFD1048576`` with one cell in the last row made it produce ~17 billion
empty cells), it builds each ``<row>`` whole before its cells can be looked at, and it
loads every shared string up front (~12 µs each, without limit). None of that can be
bounded from outside, so the parts are streamed here through expat (stdlib) in 64 KiB
pieces, without building a tree:

* the declared dimension is never read; rows are the ``<row>`` elements that exist,
  numbered by their ``r`` (which must increase and stay within Excel's 1,048,576);
* only the header's columns are read (at most ``MAX_COLUMNS``); a cell to the right of
  them is counted and skipped, a row with more cells than Excel allows (16,384) is refused;
* every cell element visited counts towards ``MAX_CELLS`` per file, every shared string
  towards ``MAX_SHARED_STRINGS`` and ``MAX_SHARED_CHARS``, and no cell or string may be
  longer than Excel's 32,767 characters;
* no document type declarations (so no entity expansion), and no single XML token may
  hold more than ``MAX_TOKEN_BYTES`` (expat buffers an unfinished token whole);
* ``out_of_time()`` is asked after every row element (empty ones included) and every
  piece fed to the parser; when it says so, reading stops with `OutOfTime`.

Cell values are the stored ones (a formula's last result, as openpyxl's ``data_only``):
shared and inline strings as text, numbers as int or float, booleans as bool; dates stay
the serial number (no contact field is a date).
"""

from __future__ import annotations

import posixpath
import zipfile
import zlib
from collections.abc import Callable, Iterator
from typing import IO, Any
from xml.parsers import expat

from chalicelib.imports.errors import OutOfTime, UnreadableFile

MAX_COLUMNS = 512  # columns read from the header on; a contact list has a few dozen
MAX_ROW_CELLS = 16_384  # Excel's column limit (XFD)
MAX_ROW_NUMBER = 1_048_576  # Excel's row limit
MAX_CELLS = 20_000_000  # cell elements visited per file
MAX_CELL_CHARS = 32_767  # Excel's limit for one cell's text
MAX_SHARED_STRINGS = 2_000_000
MAX_SHARED_CHARS = 64_000_000
MAX_TOKEN_BYTES = 1024 * 1024  # bytes fed without any parser event (one unfinished token)
PIECE_BYTES = 64 * 1024

_REL_WORKSHEET = "/worksheet"
_REL_SHARED_STRINGS = "/sharedStrings"
_REL_OFFICE_DOCUMENT = "/officeDocument"
_R_ID = "http://schemas.openxmlformats.org/officeDocument/2006/relationships id"
_R_ID_STRICT = "http://purl.oclc.org/ooxml/officeDocument/relationships id"


class _Done(Exception):
    """Raised from a handler to stop parsing a part early (we found what we needed)."""


def _local(name: str) -> str:
    return name.rpartition(" ")[2]


def _refuse_dtd(*_args: Any) -> None:
    raise UnreadableFile("unreadable_xlsx", "The .xlsx file declares a document type, which a workbook never does.")


def _stream(
    archive: zipfile.ZipFile,
    part: str,
    start: Callable[[str, dict[str, str]], None],
    end: Callable[[str], None] = lambda tag: None,
    text: Callable[[str], None] = lambda data: None,
    out_of_time: Callable[[], bool] = lambda: False,
) -> None:
    """Feed one whole part through expat (a handler may stop it early with `_Done`)."""
    try:
        for _ in _pieces(archive, part, start, end, text, out_of_time):
            pass
    except _Done:
        return


def _relationships(archive: zipfile.ZipFile, part: str) -> list[tuple[str, str, str]]:
    """(id, type, target part) of `part`'s relationships; targets resolved against its folder."""
    folder, name = posixpath.split(part)
    rels_part = posixpath.join(folder, "_rels", name + ".rels")
    if rels_part not in archive.NameToInfo:
        return []
    found: list[tuple[str, str, str]] = []

    def start(tag: str, attrs: dict[str, str]) -> None:
        if tag == "Relationship" and attrs.get("TargetMode") != "External":
            target = attrs.get("Target", "")
            resolved = target.lstrip("/") if target.startswith("/") else posixpath.join(folder, target)
            found.append((attrs.get("Id", ""), attrs.get("Type", ""), posixpath.normpath(resolved)))

    _stream(archive, rels_part, start)
    return found


def locate_parts(archive: zipfile.ZipFile) -> tuple[str, str | None]:
    """The first worksheet's part name and the shared strings' part name (None if none)."""
    workbook = next(
        (t for _, kind, t in _relationships(archive, "") if kind.endswith(_REL_OFFICE_DOCUMENT)), "xl/workbook.xml"
    )
    rels = _relationships(archive, workbook)
    worksheets = {rid: target for rid, kind, target in rels if kind.endswith(_REL_WORKSHEET)}
    strings = next((t for _, kind, t in rels if kind.endswith(_REL_SHARED_STRINGS)), None)
    first: list[str] = []

    def start(tag: str, attrs: dict[str, str]) -> None:
        if tag == "sheet":
            rid = attrs.get(_R_ID) or attrs.get(_R_ID_STRICT) or ""
            if rid in worksheets:
                first.append(worksheets[rid])
                raise _Done

    _stream(archive, workbook, start)
    if not first or first[0] not in archive.NameToInfo:
        raise UnreadableFile("unreadable_xlsx", "The .xlsx file has no worksheet.")
    return first[0], strings if strings in archive.NameToInfo else None


def shared_strings(archive: zipfile.ZipFile, part: str | None, out_of_time: Callable[[], bool]) -> list[str]:
    """The shared string table, refusing one beyond the counts a contact list could need."""
    strings: list[str] = []
    if part is None:
        return strings
    pieces: list[str] = []
    length = 0
    total = 0
    phonetic = 0  # inside <rPh>: a reading aid, not part of the text
    in_t = False

    def start(tag: str, _attrs: dict[str, str]) -> None:
        nonlocal length, phonetic, in_t
        if tag == "si":
            pieces.clear()
            length = 0
            if len(strings) >= MAX_SHARED_STRINGS:
                raise UnreadableFile("too_many_strings", f"The .xlsx file has over {MAX_SHARED_STRINGS:,} strings.")
        elif tag == "rPh":
            phonetic += 1
        elif tag == "t":
            in_t = not phonetic

    def end(tag: str) -> None:
        nonlocal phonetic, in_t
        if tag == "si":
            strings.append("".join(pieces))
        elif tag == "rPh":
            phonetic -= 1
        elif tag == "t":
            in_t = False

    def text(data: str) -> None:
        nonlocal length, total
        if not in_t:
            return
        length += len(data)
        total += len(data)
        if length > MAX_CELL_CHARS:
            raise UnreadableFile("cell_too_long", f"A text in the .xlsx file is over {MAX_CELL_CHARS:,} characters.")
        if total > MAX_SHARED_CHARS:
            raise UnreadableFile("too_many_strings", "The .xlsx file's strings are far longer than a contact list's.")
        pieces.append(data)

    _stream(archive, part, start, end, text, out_of_time)
    return strings


def _column(reference: str) -> int:
    """1-based column of a cell reference such as "XFD1048576" (0 when there are no letters)."""
    column = 0
    for char in reference:
        if "A" <= char <= "Z":
            column = column * 26 + ord(char) - 64
        elif "a" <= char <= "z":
            column = column * 26 + ord(char) - 96
        else:
            break
        if column > MAX_ROW_CELLS:
            raise UnreadableFile("too_many_columns", "A cell lies beyond Excel's last column.")
    return column


def _number(text: str) -> Any:
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


class SheetRows:
    """A worksheet's rows: first its header, then ``(row number, values)`` of non-empty rows.

    The header is row 1 (empty when the sheet has no row 1), trimmed after its last
    non-blank cell and cut at `MAX_COLUMNS`; every later row is read for the header's
    columns only, as a list of that width. `rows_visited` and `cells_visited` count every
    element seen, empty ones included.
    """

    def __init__(
        self, archive: zipfile.ZipFile, part: str, strings: list[str], out_of_time: Callable[[], bool]
    ) -> None:
        self.archive = archive
        self.part = part
        self.strings = strings
        self.out_of_time = out_of_time
        self.rows_visited = 0
        self.cells_visited = 0

    def __iter__(self) -> Iterator[tuple[int, list[Any]]]:
        ready: list[tuple[int, list[Any]]] = []
        width = MAX_COLUMNS  # the header's own width once it is read
        header_pending = True
        row_number = 0
        values: list[Any] = []
        row_cells = column = length = phonetic = 0
        kind = ""
        wanted = reading = False  # a cell within the columns read; inside its <v> or inline <t>
        pieces: list[str] = []

        def start(tag: str, attrs: dict[str, str]) -> None:
            nonlocal row_number, values, row_cells, column, kind, reading, phonetic, length, wanted
            if tag == "c":
                row_cells += 1
                self.cells_visited += 1
                if row_cells > MAX_ROW_CELLS:
                    raise UnreadableFile("too_many_columns", f"A row has over {MAX_ROW_CELLS:,} cells.")
                if self.cells_visited > MAX_CELLS:
                    raise UnreadableFile("too_many_cells", f"The .xlsx file has over {MAX_CELLS:,} cells.")
                reference = attrs.get("r")
                column = _column(reference) if reference else column + 1
                if column > MAX_ROW_CELLS:
                    raise UnreadableFile("too_many_columns", "A cell lies beyond Excel's last column.")
                kind = attrs.get("t", "n")
                wanted = 0 < column <= width
                pieces.clear()
                length = phonetic = 0
            elif tag == "row":
                self.rows_visited += 1
                number = row_number + 1
                if "r" in attrs:
                    try:
                        number = int(attrs["r"])
                    except ValueError:
                        raise UnreadableFile(
                            "unreadable_xlsx", "A row number in the .xlsx file is not a number."
                        ) from None
                if number <= row_number or number > MAX_ROW_NUMBER:
                    raise UnreadableFile("unreadable_xlsx", "The .xlsx file's row numbers are out of order or range.")
                row_number = number
                values = [None] * width
                row_cells = column = 0
            elif wanted and tag == "v":
                reading = kind != "inlineStr"
            elif wanted and tag == "rPh":
                phonetic += 1
            elif wanted and tag == "t":
                reading = kind == "inlineStr" and not phonetic

        def end(tag: str) -> None:
            nonlocal reading, phonetic, wanted, width, header_pending
            if tag == "c":
                if wanted and pieces:
                    values[column - 1] = self._value(kind, "".join(pieces))
                wanted = reading = False
            elif tag == "row":
                if header_pending:
                    header_pending = False
                    header = values if row_number == 1 else []
                    while header and (header[-1] is None or not str(header[-1]).strip()):
                        header.pop()
                    width = len(header)
                    ready.append((1, header))
                elif any(v is not None and str(v).strip() for v in values):
                    ready.append((row_number, values))
                if self.out_of_time():
                    raise OutOfTime()
            elif tag in ("v", "t"):
                reading = False
            elif tag == "rPh" and phonetic:
                phonetic -= 1

        def text(data: str) -> None:
            nonlocal length
            if reading:
                length += len(data)
                if length > MAX_CELL_CHARS:
                    raise UnreadableFile("cell_too_long", f"A cell holds over {MAX_CELL_CHARS:,} characters.")
                pieces.append(data)

        for _ in _pieces(self.archive, self.part, start, end, text, self.out_of_time):
            yield from ready  # the rows of the piece just parsed
            ready.clear()
        if header_pending:
            yield 1, []  # a sheet without rows

    def _value(self, kind: str, text: str) -> Any:
        if kind == "s":
            try:
                return self.strings[int(text)]
            except (ValueError, IndexError):
                raise UnreadableFile("unreadable_xlsx", "A cell refers to a string the file does not have.") from None
        if kind == "b":
            return text.strip() in ("1", "true")
        if kind in ("inlineStr", "str", "e", "d"):
            return text
        return _number(text.strip())


def _pieces(
    archive: zipfile.ZipFile,
    part: str,
    start: Callable[[str, dict[str, str]], None],
    end: Callable[[str], None],
    text: Callable[[str], None],
    out_of_time: Callable[[], bool],
) -> Iterator[None]:
    """Like `_stream`, but pauses after every piece so the caller can hand rows out."""
    parser = expat.ParserCreate(namespace_separator=" ")
    parser.buffer_text = True
    fed = 0
    last_event = 0

    def on_start(name: str, attrs: dict[str, str]) -> None:
        nonlocal last_event
        last_event = fed
        start(_local(name), attrs)

    def on_end(name: str) -> None:
        nonlocal last_event
        last_event = fed
        end(_local(name))

    def on_text(data: str) -> None:
        nonlocal last_event
        last_event = fed
        text(data)

    parser.StartElementHandler = on_start
    parser.EndElementHandler = on_end
    parser.CharacterDataHandler = on_text
    parser.StartDoctypeDeclHandler = _refuse_dtd
    parser.EntityDeclHandler = _refuse_dtd
    try:
        with archive.open(part) as source:
            while piece := source.read(PIECE_BYTES):
                fed += len(piece)
                parser.Parse(piece, False)
                if fed - last_event > MAX_TOKEN_BYTES:
                    raise UnreadableFile("unreadable_xlsx", "The .xlsx file holds an XML token far larger than a cell.")
                yield
                if out_of_time():
                    raise OutOfTime()
            parser.Parse(b"", True)
    except (
        expat.ExpatError,
        zipfile.BadZipFile,
        zlib.error,
        KeyError,
        EOFError,
        OSError,
        RuntimeError,
        NotImplementedError,
    ):
        # RuntimeError: an encrypted member; NotImplementedError: an unknown compression method.
        raise UnreadableFile("unreadable_xlsx", "The .xlsx file could not be read.") from None


def open_sheet(spool: IO[bytes], out_of_time: Callable[[], bool]) -> tuple[zipfile.ZipFile, SheetRows]:
    """Open the workbook in `spool`: its first worksheet's rows (shared strings loaded, bounded)."""
    try:
        archive = zipfile.ZipFile(spool)
    except (zipfile.BadZipFile, OSError, ValueError):
        raise UnreadableFile("unreadable_xlsx", "The .xlsx file could not be opened.") from None
    try:
        sheet, strings_part = locate_parts(archive)
        strings = shared_strings(archive, strings_part, out_of_time)
    except BaseException:
        archive.close()
        raise
    return archive, SheetRows(archive, sheet, strings, out_of_time)
