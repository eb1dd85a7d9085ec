"""The first sheet of an .xlsx, read with openpyxl within fixed bounds whatever the file declares.

openpyxl (read-only mode) opens the package, loads the shared strings and decodes every
cell (shared and inline strings, numbers, booleans, dates, a formula's cached value), and
with ``defusedxml`` installed it refuses entity declarations in every part it parses.
What it cannot bound is how its read-only worksheet turns the sheet into rows
(``ReadOnlyWorksheet._cells_by_row``, openpyxl 3.1.5): it pads to the declared
``<dimension>`` (``reset_dimensions()`` stops that), but it also yields one empty row for
every missing row number (``<row r="1000000000">`` alone is a billion rows), silently
drops a row whose number is out of order, and builds each ``<row>`` element whole and
decodes every cell in it, shared-string look-ups included, before the columns asked for
are cut out. So the rows are taken here from openpyxl's own XML stream
(``openpyxl.xml.functions.iterparse``) and decoded by its own ``WorkSheetParser.parse_cell``,
with these bounds:

* before openpyxl opens anything, the zip's directory is checked: the shared strings part
  may inflate to at most ``MAX_SHARED_STRINGS_BYTES`` (``too_many_strings``), and every
  other part that is parsed whole to at most ``MAX_PART_BYTES``; only the worksheets,
  which are streamed, may be larger (the whole file's inflation is checked by the caller);
* ``out_of_time()`` is asked every ``CLOCKED_BYTES`` read from the file while openpyxl opens it, after
  every ``<row>`` element (empty ones included) and every ``PIECE_BYTES`` of sheet XML;
* once loaded, the shared strings are counted (``MAX_SHARED_STRINGS``, ``MAX_SHARED_CHARS``:
  ``too_many_strings``) and none may be longer than a cell (``cell_too_long``);
* the declared dimension is never used and rows are the ``<row>`` elements that exist,
  numbered by their ``r``, which must increase and stay within Excel's 1,048,576
  (``unreadable_xlsx``);
* only the header's columns are decoded (at most ``MAX_COLUMNS``); a cell right of them is
  counted and dropped unread. A row of more cells than Excel allows is ``too_many_columns``,
  a file of more than ``MAX_CELLS`` cells ``too_many_cells``, a cell of more than 32,767
  characters ``cell_too_long``;
* ended elements are dropped from the tree as the stream goes, a row may hold at most
  ``MAX_ROW_ELEMENTS`` elements, and no stretch of ``MAX_TOKEN_BYTES`` may pass without an
  element starting or ending (one text or comment that large), so memory stays bounded.
"""

from __future__ import annotations

import zipfile
import zlib
from collections.abc import Callable, Iterator
from typing import IO, Any
from xml.etree.ElementTree import ParseError

from openpyxl.packaging.manifest import Manifest
from openpyxl.packaging.relationship import get_dependents, get_rels_path
from openpyxl.reader.excel import ExcelReader, _find_workbook_part
from openpyxl.utils.cell import coordinate_to_tuple
from openpyxl.worksheet._reader import CELL_TAG, ROW_TAG, WorkSheetParser
from openpyxl.xml.constants import ARC_CONTENT_TYPES, SHARED_STRINGS
from openpyxl.xml.functions import fromstring, iterparse

from chalicelib.imports.errors import OutOfTime, UnreadableFile

MAX_COLUMNS = 512  # columns read from the header on; a contact list has a few dozen
MAX_ROW_CELLS = 16_384  # Excel's column limit (XFD)
MAX_ROW_NUMBER = 1_048_576  # Excel's row limit
MAX_ROW_ELEMENTS = 8 * MAX_ROW_CELLS  # cells and what they hold (<v>, <is>, rich text runs)
MAX_CELLS = 20_000_000  # cell elements visited per file
MAX_CELL_CHARS = 32_767  # Excel's limit for one cell's text
MAX_SHARED_STRINGS = 2_000_000
MAX_SHARED_CHARS = 64_000_000
MAX_SHARED_STRINGS_BYTES = 64 * 1024 * 1024  # the shared strings part, inflated
MAX_PART_BYTES = 8 * 1024 * 1024  # any other part openpyxl parses whole (styles, workbook …)
MAX_TOKEN_BYTES = 1024 * 1024  # sheet XML read without any element starting or ending
PIECE_BYTES = 64 * 1024  # sheet XML between two clock checks at most
CLOCKED_BYTES = 4 * 1024  # compressed bytes read between two clock checks while opening

_WORKSHEET_REL = "/worksheet"
# What openpyxl raises for a broken package or part (defusedxml's refusals are ValueErrors).
_BROKEN = (
    ValueError,
    KeyError,
    IndexError,
    TypeError,
    AttributeError,
    ParseError,
    OSError,  # openpyxl's "File contains no valid workbook part" is an IOError
    EOFError,
    zipfile.BadZipFile,
    zlib.error,
    RuntimeError,  # an encrypted member
    NotImplementedError,  # an unknown compression method
)


def _unreadable(message: str = "The .xlsx file could not be read.") -> UnreadableFile:
    return UnreadableFile("unreadable_xlsx", message)


class _ClockedFile:
    """The spooled upload as openpyxl's zip reads it: asks the clock every `CLOCKED_BYTES`.

    Opening a workbook (shared strings, styles, each sheet's declared size) is one call
    into openpyxl; the reads beneath it are where a slow file can be stopped. Compressed
    bytes inflate at most 200-fold here (the caller's check), so this is a few MiB of XML.
    """

    def __init__(self, spool: IO[bytes], out_of_time: Callable[[], bool]) -> None:
        self.spool = spool
        self.out_of_time = out_of_time
        self.clocked = True
        self.unclocked = 0  # bytes read since the clock was last asked

    def read(self, size: int = -1) -> bytes:
        if self.clocked and self.unclocked >= CLOCKED_BYTES:
            self.unclocked = 0
            if self.out_of_time():
                raise OutOfTime()
        data = self.spool.read(size)
        self.unclocked += len(data)
        return data

    def __getattr__(self, name: str) -> Any:
        return getattr(self.spool, name)


class _MeteredPart:
    """A sheet part as the XML parser reads it: counts bytes, asks the clock, bounds tokens."""

    def __init__(self, source: IO[bytes], out_of_time: Callable[[], bool]) -> None:
        self.source = source
        self.out_of_time = out_of_time
        self.fed = 0
        self.clocked_at = 0
        self.last_event = 0  # `fed` when the parser last started or ended an element

    def read(self, size: int = -1) -> bytes:
        if self.fed - self.last_event > MAX_TOKEN_BYTES:
            raise _unreadable("The .xlsx file holds an XML token far larger than a cell.")
        if self.fed - self.clocked_at >= PIECE_BYTES:
            self.clocked_at = self.fed
            if self.out_of_time():
                raise OutOfTime()
        data = self.source.read(size)
        self.fed += len(data)
        return data

    def close(self) -> None:
        self.source.close()


def check_parts(archive: zipfile.ZipFile) -> None:
    """Refuse, by the zip's directory, parts that openpyxl would parse whole and that no
    contact list needs so large (raises `UnreadableFile`).

    The package's indexes are read with openpyxl's own readers (after their own size check)
    to find the shared strings and the worksheets, exactly as `load_workbook` will.
    """
    sizes = {member.filename: member.file_size for member in archive.infolist()}
    for name, size in sizes.items():
        if (name == ARC_CONTENT_TYPES or name.endswith(".rels")) and size > MAX_PART_BYTES:
            raise _unreadable("The .xlsx file's package index is far larger than a workbook's.")
    try:
        package = Manifest.from_tree(fromstring(archive.read(ARC_CONTENT_TYPES)))
        workbook = _find_workbook_part(package).PartName[1:]
        rels = get_rels_path(workbook)
        listed = get_dependents(archive, rels) if rels in sizes else []
        sheets = {r.target for r in listed if r.Type.endswith(_WORKSHEET_REL)}
        strings = package.find(SHARED_STRINGS)
    except _BROKEN:
        raise _unreadable("The .xlsx file could not be opened.") from None
    strings_part = strings.PartName[1:] if strings is not None else None
    if strings_part is not None and sizes.get(strings_part, 0) > MAX_SHARED_STRINGS_BYTES:
        raise UnreadableFile("too_many_strings", "The .xlsx file's strings are far longer than a contact list's.")
    # Worksheets are streamed; every other XML part (and the workbook, whatever its name) is parsed whole.
    parsed_whole = [
        size
        for name, size in sizes.items()
        if name == workbook
        or (name not in sheets and name != strings_part and name.lower().endswith((".xml", ".rels", ".vml")))
    ]
    if any(size > MAX_PART_BYTES for size in parsed_whole):
        raise _unreadable("A part of the .xlsx file is far larger than a workbook needs.")


def check_strings(strings: list[Any]) -> None:
    """Refuse a shared string table beyond what a contact list could need."""
    if len(strings) > MAX_SHARED_STRINGS:
        raise UnreadableFile("too_many_strings", f"The .xlsx file has over {MAX_SHARED_STRINGS:,} strings.")
    lengths = [len(s) for s in strings]
    if lengths and max(lengths) > MAX_CELL_CHARS:
        raise UnreadableFile("cell_too_long", f"A text in the .xlsx file is over {MAX_CELL_CHARS:,} characters.")
    if sum(lengths) > MAX_SHARED_CHARS:
        raise UnreadableFile("too_many_strings", "The .xlsx file's strings are far longer than a contact list's.")


class SheetRows:
    """The first worksheet's rows: first its header, then ``(row number, values)`` of non-empty rows.

    The header is row 1 (empty when the sheet has no row 1), trimmed after its last
    non-blank cell and cut at `MAX_COLUMNS`; every later row is read for the header's
    columns only, as a list of that width.
    """

    def __init__(self, reader: ExcelReader, clocked: _ClockedFile, out_of_time: Callable[[], bool]) -> None:
        self.reader = reader
        self.clocked = clocked
        self.out_of_time = out_of_time
        worksheets = reader.wb.worksheets
        if not worksheets:
            raise _unreadable("The .xlsx file has no worksheet.")
        self.sheet = worksheets[0]

    def close(self) -> None:
        """Close the workbook's zip (the spool is the caller's)."""
        self.reader.archive.close()

    def __iter__(self) -> Iterator[tuple[int, list[Any]]]:
        self.clocked.clocked = False  # from here the sheet's own meter asks the clock
        part = _MeteredPart(self.sheet._get_source(), self.out_of_time)
        book = self.reader.wb
        cells = WorkSheetParser(
            part,
            self.reader.shared_strings,
            data_only=True,
            epoch=book.epoch,
            date_formats=book._date_formats,
            timedelta_formats=book._timedelta_formats,
        )
        try:
            yield from self._rows(part, cells)
        except (UnreadableFile, OutOfTime):
            raise
        except _BROKEN:
            raise _unreadable() from None
        finally:
            part.close()

    def _rows(self, part: _MeteredPart, cells: WorkSheetParser) -> Iterator[tuple[int, list[Any]]]:
        width = MAX_COLUMNS  # the header's own width once it is read
        header_pending = True
        open_elements: list[Any] = []
        row: Any = None  # the <row> being read
        row_number = row_depth = row_elements = row_cells = column = visited = 0
        values: list[Any] = []
        for event, element in iterparse(part, events=("start", "end")):
            part.last_event = part.fed
            if event == "start":
                open_elements.append(element)
                if row is None:
                    if element.tag == ROW_TAG:
                        row, row_depth, row_elements, row_cells, column = element, len(open_elements), 0, 0, 0
                        row_number = self._row_number(element.get("r"), row_number)
                        values = [None] * width
                    continue
                row_elements += 1
                if row_elements > MAX_ROW_ELEMENTS:
                    raise _unreadable("A row of the .xlsx file holds far more than cells.")
                if element.tag == CELL_TAG and len(open_elements) == row_depth + 1:
                    row_cells += 1
                    visited += 1
                    if row_cells > MAX_ROW_CELLS:
                        raise UnreadableFile("too_many_columns", f"A row has over {MAX_ROW_CELLS:,} cells.")
                    if visited > MAX_CELLS:
                        raise UnreadableFile("too_many_cells", f"The .xlsx file has over {MAX_CELLS:,} cells.")
                continue
            open_elements.pop()
            parent = open_elements[-1] if open_elements else None
            if element is row:
                row = None
                element.clear()
                if parent is not None:
                    parent.remove(element)
                if header_pending:
                    header_pending = False
                    header = values if row_number == 1 else []
                    while header and (header[-1] is None or not str(header[-1]).strip()):
                        header.pop()
                    width = len(header)
                    yield 1, header
                elif any(v is not None and str(v).strip() for v in values):
                    yield row_number, values
                if self.out_of_time():
                    raise OutOfTime()
            elif row is None:
                element.clear()  # outside the rows: nothing of it is kept
                if parent is not None:
                    parent.remove(element)
            elif element.tag == CELL_TAG and parent is row:
                column = self._column(element.get("r"), column)
                if column <= width:
                    cells.row_counter, cells.col_counter = row_number, column - 1
                    value = cells.parse_cell(element)["value"]
                    if isinstance(value, str) and len(value) > MAX_CELL_CHARS:
                        raise UnreadableFile("cell_too_long", f"A cell holds over {MAX_CELL_CHARS:,} characters.")
                    values[column - 1] = value
                element.clear()  # its row keeps an empty shell until the row ends
        if header_pending:
            yield 1, []  # a sheet without rows

    @staticmethod
    def _row_number(reference: str | None, previous: int) -> int:
        if reference is None:
            number = previous + 1
        else:
            try:
                number = int(reference)
            except ValueError:
                raise _unreadable("A row number in the .xlsx file is not a number.") from None
        if number <= previous or number > MAX_ROW_NUMBER:
            raise _unreadable("The .xlsx file's row numbers are out of order or range.")
        return number

    @staticmethod
    def _column(reference: str | None, previous: int) -> int:
        if reference is None:
            column = previous + 1
        else:
            try:
                column = coordinate_to_tuple(reference)[1]
            except _BROKEN:
                raise _unreadable("A cell reference in the .xlsx file is not one.") from None
        if column > MAX_ROW_CELLS:
            raise UnreadableFile("too_many_columns", "A cell lies beyond Excel's last column.")
        return column


def open_sheet(spool: IO[bytes], out_of_time: Callable[[], bool]) -> SheetRows:
    """Open the workbook in `spool` with openpyxl (read-only, cached values): its first
    worksheet's rows, after the checks above. Raises `UnreadableFile` or `OutOfTime`."""
    try:
        with zipfile.ZipFile(spool) as archive:
            check_parts(archive)
    except UnreadableFile:
        raise
    except _BROKEN:
        raise _unreadable("The .xlsx file could not be opened.") from None
    spool.seek(0)
    clocked = _ClockedFile(spool, out_of_time)
    try:
        reader = ExcelReader(clocked, read_only=True, data_only=True, keep_links=False)
    except _BROKEN:
        raise _unreadable("The .xlsx file could not be opened.") from None
    try:
        reader.read()
        check_strings(reader.shared_strings)
        return SheetRows(reader, clocked, out_of_time)
    except BaseException as error:
        reader.archive.close()
        if isinstance(error, (UnreadableFile, OutOfTime)):
            raise
        if isinstance(error, _BROKEN):
            raise _unreadable("The .xlsx file could not be opened.") from None
        raise
