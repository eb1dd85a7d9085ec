"""Call lists of phone campaigns and the outcomes callers record on them.

The list
    A phone campaign's call list holds, per person still in its audience at the moment of
    the download (`campaigns.current_audience`: objections, do-not-call numbers,
    restrictions and erasures re-checked then), the fields the register lets partners see
    (`PROSPECT.visible_fields(Role.PARTNER)`), where the data came from (the source
    partner's name in the partner registry, or public sources), the `prospect_id` and an
    empty `outcome` column. When the recipient is a marketing partner, every person is
    first recorded in the disclosure log (`disclosures.record`, purpose `call_list`) and
    only the recorded ones are rendered: a person erased meanwhile is not handed out.

    Two formats, both opening in a spreadsheet program with Finnish characters intact:
    * `.xlsx` (openpyxl, write-only): sheet "Soittolista" is the list (row 1 the header,
      the outcome column with a drop-down of the six outcomes), sheet "Soittajan ohje /
      Caller script" the script below;
    * CSV: UTF-8 with a byte-order mark (Excel reads ä/ö only with it) and `;` as the
      separator, which Finnish-locale Excel expects (its list separator; `,` is the
      decimal comma). The CSV is the list alone, header on line 1, so it goes back in as
      it came out; its script is `GET …/call-list/script` (the same text as the sheet).
    Every text cell is formula-safe: in CSV with the import reports' escaping
    (`runs.csv_cell`: a leading `=`, `+`, `-`, `@`, tab or CR gets an apostrophe); in
    .xlsx such a cell is written as a string with Excel's own quote prefix, so
    `=HYPERLINK(...)` or a `+358…` number shows as the text it is and never runs.

The script (`script`)
    What the caller tells the person on first contact: who we are (`registers.CONTROLLER`),
    where we got the data (the row's source), and the right to object at any time, which
    the caller records at once as the outcome `objected`.

Outcomes
    `reached`, `no_answer`, `objected`, `wrong_person`, `left_organisation`,
    `do_not_call`; a code, never free text about the person. Recorded per row through the
    API or by sending the list back with the outcome column filled (`parse_outcomes`:
    the import reader's formats and hostile-file bounds; bad rows reported by line and
    reason, good rows applied; sending the same file twice changes nothing the second
    time). Their effects are in `apply_outcome`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from chalicelib import partners
from chalicelib.imports import read
from chalicelib.imports.runs import csv_cell
from chalicelib.registers import CONTROLLER, PROSPECT, Role, Text

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_TYPE = "text/csv"
FORMATS = {"xlsx": XLSX_TYPE, "csv": CSV_TYPE}
CSV_DELIMITER = ";"

OUTCOMES = ("reached", "no_answer", "objected", "wrong_person", "left_organisation", "do_not_call")
# Outcomes after which the person is out of the audience for good: another outcome for
# them is refused; the same one again (a list sent back twice) changes nothing.
FINAL_OUTCOMES = frozenset({"objected", "wrong_person", "left_organisation", "do_not_call"})
# Outcomes that stamp `last_contacted_at` on the prospect (a conversation took place).
CONTACTED = frozenset({"reached", "objected"})
OUTCOME_TEXT: dict[str, Text] = {
    "reached": Text("tavoitettu, keskusteltu", "reached, talked"),
    "no_answer": Text("ei vastannut", "no answer"),
    "objected": Text(
        "kielsi suoramarkkinoinnin: ei enää yhteydenottoja, tiedot poistetaan",
        "objected to direct marketing: no more contacts, the data is removed",
    ),
    "wrong_person": Text("väärä henkilö: yhteystieto poistetaan", "wrong person: the contact is removed"),
    "left_organisation": Text(
        "ei enää organisaatiossa: yhteystieto poistetaan", "left the organisation: the contact is removed"
    ),
    "do_not_call": Text(
        "ei puheluita tähän numeroon: numero estolistalle", "no calls to this number: the number is blocked"
    ),
}
PUBLIC_SOURCES = Text(
    "julkiset lähteet (esim. organisaation verkkosivut)", "public sources (e.g. the organisation's web site)"
)

ID_COLUMN = "prospect_id"
OUTCOME_COLUMN = "outcome"
SOURCE_LABEL = Text("Tietojen lähde", "Source of the data")
LIST_SHEET = "Soittolista"
SCRIPT_SHEET = "Soittajan ohje - Caller script"  # a sheet title may not hold "/"
FIELDS = PROSPECT.visible_fields(Role.PARTNER)
# Every list row read back: at most this many rows (no list is longer, see MAX_ROWS).
MAX_ROWS = 10_000


@dataclass(frozen=True)
class Row:
    """One person on the list: the partner-visible values, the data's source, the id."""

    prospect_id: str
    values: dict[str, str]
    source: str


def source_name(profile: dict[str, Any], source_partners: Iterable[str], names: dict[str, str]) -> str:
    """Where the data came from, as the caller says it: the partners' registered names,
    or public sources (staff entered the person from an organisation's web site).

    `source_partners` are the partners whose SOURCE items support the person (the
    PROFILE's `values_from` first); `names` caches registry look-ups across a list.
    """
    shown: list[str] = []
    for partner_id in source_partners:
        if partner_id not in names:
            item = partners.find(partner_id)
            names[partner_id] = str(item["name"]) if item else ""
        if names[partner_id] and names[partner_id] not in shown:
            shown.append(names[partner_id])
    if profile.get("created_by") == "staff" or not shown:
        shown.append(PUBLIC_SOURCES.fi)
    return ", ".join(shown)


def row_of(profile: dict[str, Any], source: str) -> Row:
    """The list row of one audience member's PROFILE."""
    values = {name: str(profile[name]) for name in FIELDS if profile.get(name) not in (None, "")}
    return Row(prospect_id=str(profile["prospect_id"]), values=values, source=source)


def header() -> list[str]:
    """The list's header: the partner-visible fields (Finnish labels), source, id, outcome."""
    return [*(PROSPECT.field(name).label.fi for name in FIELDS), SOURCE_LABEL.fi, ID_COLUMN, OUTCOME_COLUMN]


def _cells(row: Row) -> list[str]:
    return [*(row.values.get(name, "") for name in FIELDS), row.source, row.prospect_id, ""]


# -- the script -----------------------------------------------------------------------------


def script(campaign: dict[str, Any]) -> list[Text]:
    """The first-contact script: who we are, where we got the data, the right to object,
    and what each outcome code means. The same text in the .xlsx and through the API."""
    who = f"{CONTROLLER.trade_name} ({CONTROLLER.name})"
    return [
        Text(f"Kampanja: {campaign.get('name', '')}", f"Campaign: {campaign.get('name', '')}"),
        Text(
            f"1. Kuka soittaa: kerro nimesi ja että soitat {who}:n puolesta.",
            f"1. Who we are: say your name and that you are calling on behalf of {who}.",
        ),
        Text(
            f"2. Mistä tiedot ovat: yhteystietonne ovat {CONTROLLER.name}:n prospektirekisterissä; "
            f"kerro rivin sarakkeen \u201d{SOURCE_LABEL.fi}\u201d lähde (kumppani tai julkiset lähteet).",
            f"2. Where we got the data: their contact details are in {CONTROLLER.name}'s prospect "
            f"register; name the source in the row's \u201c{SOURCE_LABEL.fi}\u201d column "
            "(a partner or public sources).",
        ),
        Text(
            "3. Oikeus vastustaa: henkilö voi milloin tahansa kieltää suoramarkkinoinnin. Jos hän kieltää, "
            "kirjaa tulos objected heti: häneen ei oteta enää yhteyttä ja hänen tietonsa poistetaan. "
            f"Tietosuojaseloste ja yhteystiedot: {CONTROLLER.contact_email}.",
            "3. The right to object: the person may object to direct marketing at any time. If they do, "
            "record the outcome objected at once: they are not contacted again and their data is removed. "
            f"Privacy notice and contact: {CONTROLLER.contact_email}.",
        ),
        Text(
            f"4. Kirjaa jokaiselle riville sarakkeeseen {OUTCOME_COLUMN} yksi koodi, ei muuta tekstiä henkilöstä:",
            f"4. Record one code per row in the {OUTCOME_COLUMN} column, no other text about the person:",
        ),
        *(Text(f"{code}: {text.fi}", f"{code}: {text.en}") for code, text in OUTCOME_TEXT.items()),
    ]


def script_document(campaign: dict[str, Any]) -> dict[str, Any]:
    """The script as the API answers it: the lines in Finnish and in English."""
    lines = script(campaign)
    return {
        "campaign_id": campaign["campaign_id"],
        "fi": [t.fi for t in lines],
        "en": [t.en for t in lines],
        "outcomes": list(OUTCOMES),
    }


# -- rendering -------------------------------------------------------------------------------


def _safe_cell(sheet: Any, value: str) -> WriteOnlyCell:
    """A text cell that never runs: openpyxl would store `=…` as a formula, Excel would
    read `+358…` as a number; both become text with Excel's quote prefix."""
    cell = WriteOnlyCell(sheet, value)
    cell.data_type = "s"
    if csv_cell(value) != value:
        cell.quotePrefix = True
    return cell


def render_xlsx(campaign: dict[str, Any], rows: Iterable[Row]) -> bytes:
    """The call list as an .xlsx workbook (streamed rows: memory does not grow with the list)."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet(LIST_SHEET)
    columns = header()
    for position, name in enumerate(columns, start=1):
        width = 16 if name in (ID_COLUMN, OUTCOME_COLUMN) else 28
        sheet.column_dimensions[get_column_letter(position)].width = width
    sheet.freeze_panes = "A2"
    outcome_column = get_column_letter(len(columns))
    choices = DataValidation(
        type="list",
        formula1='"' + ",".join(OUTCOMES) + '"',
        allow_blank=True,
        showErrorMessage=True,
        errorTitle="outcome",
        error=", ".join(OUTCOMES),
    )
    sheet.data_validations.append(choices)
    bold = Font(bold=True)
    heading = []
    for name in columns:
        cell = _safe_cell(sheet, name)
        cell.font = bold
        heading.append(cell)
    sheet.append(heading)
    count = 0
    for row in rows:
        sheet.append([_safe_cell(sheet, value) for value in _cells(row)])
        count += 1
    choices.add(f"{outcome_column}2:{outcome_column}{max(count, 1) + 1}")
    guide = book.create_sheet(SCRIPT_SHEET)
    guide.column_dimensions["A"].width = 100
    guide.column_dimensions["B"].width = 100
    wrap = Alignment(wrap_text=True, vertical="top")
    titles = []
    for title in ("Suomeksi", "In English"):
        cell = _safe_cell(guide, title)
        cell.font = bold
        titles.append(cell)
    guide.append(titles)
    for line in script(campaign):
        cells = [_safe_cell(guide, line.fi), _safe_cell(guide, line.en)]
        for cell in cells:
            cell.alignment = wrap
        guide.append(cells)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def render_csv(rows: Iterable[Row]) -> bytes:
    """The call list as CSV: UTF-8 with a BOM, `;`-separated, every cell formula-safe."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=CSV_DELIMITER, lineterminator="\r\n")
    writer.writerow([csv_cell(name) for name in header()])
    for row in rows:
        writer.writerow([csv_cell(value) for value in _cells(row)])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def render(fmt: str, campaign: dict[str, Any], rows: Iterable[Row]) -> bytes:
    """The list in `fmt` (`xlsx` or `csv`)."""
    return render_xlsx(campaign, rows) if fmt == "xlsx" else render_csv(rows)


# -- reading a list sent back -----------------------------------------------------------------


_OUTCOME_HEADERS = {"prospectid": ID_COLUMN, "id": ID_COLUMN, "outcome": OUTCOME_COLUMN, "tulos": OUTCOME_COLUMN}


class OutcomeColumns(read.Columns):
    """The two columns a list sent back must keep: `prospect_id` and `outcome` (the rest,
    the person's values, are not read at all)."""

    @classmethod
    def from_header(cls, header: list[Any]) -> OutcomeColumns:
        index: dict[str, int] = {}
        for position, raw in enumerate(header):
            name = _OUTCOME_HEADERS.get(read.header_key(str(raw or "")))
            if name and name not in index:
                index[name] = position
        missing = [c for c in (ID_COLUMN, OUTCOME_COLUMN) if c not in index]
        if missing:
            raise read.UnreadableFile("missing_columns", f"Required column(s) not found: {', '.join(missing)}.")
        return cls(index=index)

    def row(self, cells: list[Any]) -> dict[str, str]:
        out: dict[str, str] = {}
        for name, position in self.index.items():
            value = cells[position] if position < len(cells) else None
            out[name] = "" if value is None else str(value).strip()
        return out


@dataclass
class Parsed:
    """A list sent back: the outcomes to apply (by line) and the lines refused, with why."""

    outcomes: list[tuple[int, str, str]] = field(default_factory=list)  # (line, prospect_id, outcome)
    rejected: list[dict[str, Any]] = field(default_factory=list)
    blank: int = 0


def _outcome_code(raw: str) -> str:
    # A spreadsheet may keep the quote prefix as text ('reached): codes never start with one.
    return raw.strip().lstrip("'").strip().lower()


def parse_outcomes(body: IO[bytes], name: str) -> Parsed:
    """Read a call list sent back (.xlsx or CSV, told apart by content) into outcomes.

    A row with an empty outcome (not called yet) is counted as blank; a code not in
    `OUTCOMES` is `unknown_outcome`, an id that is no prospect id `invalid_prospect_id`,
    a person listed again with another outcome `conflicting_rows`. A file that cannot be
    read raises `read.UnreadableFile` (its code and message are safe to show).
    """
    upload = read.open_upload(body, name, header_rule=OutcomeColumns.from_header)
    parsed = Parsed()
    lines: dict[str, list[tuple[int, str]]] = {}
    rows: Iterator[tuple[int, dict[str, str]]] = upload.rows
    for count, (line, values) in enumerate(rows, start=1):
        if count > MAX_ROWS:
            raise read.UnreadableFile("too_many_rows", f"A call list has at most {MAX_ROWS:,} rows.")
        pid = _outcome_code(values.get(ID_COLUMN, ""))
        code = _outcome_code(values.get(OUTCOME_COLUMN, ""))
        if not code:
            parsed.blank += 1
        elif code not in OUTCOMES:
            parsed.rejected.append({"line": line, "reason": "unknown_outcome"})
        elif not is_prospect_id(pid):
            parsed.rejected.append({"line": line, "reason": "invalid_prospect_id"})
        else:
            lines.setdefault(pid, []).append((line, code))
    for pid, found in lines.items():
        if len({code for _, code in found}) > 1:
            # Which one is right is the caller's to say: none is applied.
            parsed.rejected.extend({"line": line, "reason": "conflicting_rows"} for line, _ in found)
        else:
            parsed.outcomes.append((found[0][0], pid, found[0][1]))
    parsed.outcomes.sort()
    parsed.rejected.sort(key=lambda r: int(r["line"]))
    return parsed


def is_prospect_id(value: str) -> bool:
    """32 lower-case hex digits, as every prospect id is."""
    return len(value) == 32 and all(c in "0123456789abcdef" for c in value)
