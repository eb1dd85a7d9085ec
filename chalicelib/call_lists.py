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
from typing import IO, TYPE_CHECKING, Any, Literal, get_args

from botocore.exceptions import ClientError

from chalicelib import art14, campaigns, clock, disclosures, prospects, retention, store, subjects, suppression
from chalicelib.audit import Access, Actor
from chalicelib.errors import Conflict, DomainError, NotFound, ValidationFailed
from chalicelib.imports.errors import UnreadableFile
from chalicelib.imports.runs import csv_cell
from chalicelib.registers import CONTROLLER, PROSPECT, Role, Text

if TYPE_CHECKING:
    from chalicelib.imports.read import Columns

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_TYPE = "text/csv"
FORMATS = {"xlsx": XLSX_TYPE, "csv": CSV_TYPE}
CSV_DELIMITER = ";"

Outcome = Literal["reached", "no_answer", "objected", "wrong_person", "left_organisation", "do_not_call"]
OUTCOMES: tuple[str, ...] = get_args(Outcome)
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
# Where the data came from, as the list and the Art. 14 notice name it (chalicelib/prospects.py).
PUBLIC_SOURCES = prospects.PUBLIC_SOURCES
source_name = prospects.source_name

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
            f"1. Kuka soittaa: kerro nimesi ja että soitat yrityksen {who} puolesta.",
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


def _safe_cell(sheet: Any, value: str) -> Any:
    """A text cell that never runs: openpyxl would store `=…` as a formula, Excel would
    read `+358…` as a number; both become text with Excel's quote prefix."""
    from openpyxl.cell import WriteOnlyCell

    cell = WriteOnlyCell(sheet, value)
    cell.data_type = "s"
    if csv_cell(value) != value:
        cell.quotePrefix = True
    return cell


def render_xlsx(campaign: dict[str, Any], rows: Iterable[Row]) -> bytes:
    """The call list as an .xlsx workbook (streamed rows: memory does not grow with the list)."""
    # Loaded here: the API's cold start does not pay for openpyxl (tests/test_cold_imports.py).
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

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


def outcome_columns(header: list[Any]) -> Columns:
    """The header rule of a list sent back: the two columns it must keep, `prospect_id` and
    `outcome`; the rest (the person's values) is not read at all."""
    from chalicelib.imports import read

    index: dict[str, int] = {}
    for position, raw in enumerate(header):
        name = _OUTCOME_HEADERS.get(read.header_key(str(raw or "")))
        if name and name not in index:
            index[name] = position
    missing = [c for c in (ID_COLUMN, OUTCOME_COLUMN) if c not in index]
    if missing:
        raise UnreadableFile("missing_columns", f"Required column(s) not found: {', '.join(missing)}.")
    return read.Columns(index=index)


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
    read raises `UnreadableFile` (its code and message are safe to show).
    """
    from chalicelib.imports import read  # the import reader: loaded by the routes that read files

    upload = read.open_upload(body, name, header_rule=outcome_columns)
    parsed = Parsed()
    lines: dict[str, list[tuple[int, str]]] = {}
    rows: Iterator[tuple[int, dict[str, str]]] = upload.rows
    for count, (line, values) in enumerate(rows, start=1):
        if count > MAX_ROWS:
            raise UnreadableFile("too_many_rows", f"A call list has at most {MAX_ROWS:,} rows.")
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


# -- handing the list out ------------------------------------------------------------------


def check_callable(campaign: dict[str, Any]) -> None:
    """A call list exists for a materialised phone campaign that is not closed (409 otherwise)."""
    if campaign.get("channel") != "phone":
        raise Conflict("Call lists are for phone campaigns.", code="not_a_phone_campaign")
    if campaign.get("status") == "closed":
        raise Conflict("The campaign is closed.", code="campaign_closed")
    if campaign.get("status") != "ready":
        raise Conflict("The campaign has no audience yet: materialise it first.", code="campaign_not_ready")


def hand_out(
    campaign: dict[str, Any], actor: Actor, *, recipient: str | None, purpose: str, limit: int, cursor: str | None
) -> dict[str, Any]:
    """One page of the campaign's current audience as list rows: `{"rows", "next_cursor"}`.

    `recipient`: the marketing partner that receives the data; each person is recorded in
    the disclosure log (`purpose`) first and only the recorded ones are returned, so a
    person erased meanwhile is not handed out. Staff (`recipient` None) are the named
    persons of the register: their reads are audited by the caller, not disclosed.
    """
    page = campaigns.current_audience(str(campaign["campaign_id"]), limit, cursor)
    profiles = [profile for _, profile in page["items"]]
    ids = [str(p["prospect_id"]) for p in profiles]
    if recipient is not None and ids:
        recorded = disclosures.record(ids, recipient, purpose, actor, campaign_id=str(campaign["campaign_id"]))
        profiles = [p for p in profiles if str(p["prospect_id"]) in recorded]
    names: dict[str, str] = {}
    rows = [row_of(p, source_name(p, prospects.source_partners(p), names)) for p in profiles]
    return {"rows": rows, "next_cursor": page["next_cursor"], "excluded": page.get("excluded", {})}


def call_list(campaign: dict[str, Any], actor: Actor, *, recipient: str | None) -> list[Row]:
    """Every row of the campaign's call list now (see `hand_out`), at most `MAX_ROWS`."""
    check_callable(campaign)
    audience = int((campaign.get("counts") or {}).get("audience", 0))
    if audience > MAX_ROWS:
        raise Conflict(
            f"The audience ({audience:,}) is larger than one call list ({MAX_ROWS:,}): narrow the selection.",
            code="call_list_too_large",
        )
    rows: list[Row] = []
    cursor: str | None = None
    while True:
        page = hand_out(campaign, actor, recipient=recipient, purpose="call_list", limit=100, cursor=cursor)
        rows.extend(page["rows"])
        cursor = page["next_cursor"]
        if not cursor:
            return rows


# -- outcomes ----------------------------------------------------------------------------------


def _profile(prospect_id: str) -> dict[str, Any] | None:
    item: dict[str, Any] | None = (
        store.prospects()
        .get_item(Key={"pk": prospects.pk(prospect_id), "sk": prospects.PROFILE}, ConsistentRead=True)
        .get("Item")
    )
    return item


def _not_in_audience() -> Conflict:
    return Conflict("This person is no longer in the campaign's audience.", code="not_in_audience")


def _check_still_in_audience(campaign: dict[str, Any], profile: dict[str, Any] | None) -> dict[str, Any]:
    """The PROFILE if the person is in the campaign's audience now (409 otherwise)."""
    if profile is None or not campaigns.screen(str(campaign["channel"]), [profile])[0]:
        raise _not_in_audience()
    return profile


def _member_update(
    campaign_id: str, prospect_id: str, outcome: str, previous: str | None, actor: Actor
) -> dict[str, Any]:
    """The member's outcome as a transaction write, on the condition that it is still the
    one read (a concurrent outcome makes this a 409, not a lost update)."""
    values: dict[str, Any] = {":o": outcome, ":at": clock.iso(), ":by": actor.principal.principal_id}
    condition = "attribute_exists(pk) AND "
    if previous is None:
        condition += "attribute_not_exists(outcome)"
    else:
        condition += "outcome = :prev"
        values[":prev"] = previous
    return {
        "Update": {
            "TableName": store.campaigns().name,
            "Key": store.typed({"pk": campaigns.pk(campaign_id), "sk": campaigns.member_sk(prospect_id)}),
            "UpdateExpression": "SET outcome = :o, outcome_at = :at, outcome_by = :by",
            "ConditionExpression": condition,
            "ExpressionAttributeValues": store.typed(values),
        }
    }


def _contacted(prospect_id: str, now: str) -> dict[str, Any]:
    """`last_contacted_at` on the PROFILE, only while it exists (never recreates a record).

    A conversation is also the first contact the caller's script informs (GDPR Art. 14: who
    we are, the source, the right to object): a person not yet informed is now, by
    `phone_call` (`art14.informed`; the first time only)."""
    sets, removes, values = art14.informed("phone_call", now)
    return {
        "Update": {
            "TableName": store.prospects().name,
            "Key": store.typed({"pk": prospects.pk(prospect_id), "sk": prospects.PROFILE}),
            "UpdateExpression": f"SET last_contacted_at = :now, {sets} REMOVE {removes}",
            "ConditionExpression": "attribute_exists(pk)",
            "ExpressionAttributeValues": store.typed({":now": now, **values}),
        }
    }


def _exists(prospect_id: str) -> dict[str, Any]:
    return {
        "ConditionCheck": {
            "TableName": store.prospects().name,
            "Key": store.typed({"pk": prospects.pk(prospect_id), "sk": prospects.PROFILE}),
            "ConditionExpression": "attribute_exists(pk)",
        }
    }


def apply_outcome(campaign: dict[str, Any], prospect_id: str, outcome: str, actor: Actor) -> dict[str, Any]:
    """Record one caller's outcome for a member of the campaign's audience, with its effects.

    `campaign` is the META the caller may act on (staff: any; a marketing partner: one
    assigned to it and open). Refused: a person not in the campaign (404), or no longer
    in its audience (409 `not_in_audience`: erased, objected, restricted, number blocked),
    a different outcome after a final one (409 `outcome_final`). The same outcome again
    changes nothing (`changed: false`), so a list sent back twice is harmless.

    Effects, each audited in its own transaction, the outcome written last so that a
    failure half-way is finished by simply recording the outcome again:
    * `objected`: exactly what an objection does (`subjects.object_to_marketing`): the
      email suppressed, the person's numbers on the do-not-call list, the prospect removed
      and every recipient of its data notified (Art. 19);
    * `wrong_person`, `left_organisation`: the contact is outdated and removed as a full
      refresh removes one (`retention.delete_prospect`; a legal hold keeps it), every
      recipient of its data but the reporting partner notified of the erasure (Art. 19);
    * `do_not_call`: the number on the do-not-call list; the person stays in the register;
    * `reached`, `no_answer`: recorded; `reached` (and `objected`, while the record
      exists) stamps the prospect's `last_contacted_at`.
    """
    if outcome not in OUTCOMES:
        raise ValidationFailed(
            f"outcome must be one of {', '.join(OUTCOMES)}.", details=[{"field": "outcome", "reason": "invalid"}]
        )
    check_callable(campaign)
    campaign_id = str(campaign["campaign_id"])
    member = campaigns.member(campaign_id, prospect_id)
    previous = member.get("outcome")
    if previous == outcome:
        return {"prospect_id": prospect_id, "outcome": outcome, "changed": False}
    if previous in FINAL_OUTCOMES:
        raise Conflict("A final outcome is already recorded for this person.", code="outcome_final")
    profile = _check_still_in_audience(campaign, _profile(prospect_id))
    now = clock.iso()
    fields = ["contact_outcome"]
    writes: list[dict[str, Any]] = []
    result: dict[str, Any] = {"prospect_id": prospect_id, "outcome": outcome, "changed": True}
    if outcome == "objected":
        # An objection like any other (Art. 21): the email suppressed, every number of the
        # record on the do-not-call list, the prospect removed, its recipients notified.
        answer = subjects.object_to_marketing(str(profile["email"]), actor)
        result["removed"] = bool(answer.body["prospects_removed"])
        if answer.body["prospects_held"]:
            writes.append(_contacted(prospect_id, now))  # kept under a legal hold: stamp it
            fields += ["last_contacted_at", "informed_at"]
    elif outcome in ("wrong_person", "left_organisation"):
        access = Access("delete", prospects.REGISTER, prospect_id, prospects.personal_fields(profile))
        # Its recipients hear of the erasure (Art. 19), but not the partner reporting it.
        reporter = frozenset({actor.principal.partner_id} - {""})
        try:
            retention.delete_prospect(
                profile,
                actor.put(access, reason=f"contact_outcome:{outcome}"),
                actor=actor,
                change=disclosures.Change("erased", spare=reporter),
            )
            result["removed"] = True
        except retention.RecordHeld:
            result["removed"] = False
    elif outcome == "do_not_call":
        if not profile.get("phone"):
            raise Conflict("This person has no phone number to block.", code="no_phone")
        suppression.suppress_phone(str(profile["phone"]), "do_not_call", actor)
        writes.append(_exists(prospect_id))
    elif outcome == "reached":
        writes.append(_contacted(prospect_id, now))
        fields += ["last_contacted_at", "informed_at"]
    else:
        writes.append(_exists(prospect_id))
    writes.append(_member_update(campaign_id, prospect_id, outcome, previous, actor))
    writes.append(actor.put(Access("update", prospects.REGISTER, prospect_id, tuple(fields))))
    try:
        store.client("dynamodb").transact_write_items(TransactItems=writes)
    except ClientError as exc:
        if store.condition_failed(exc):
            raise Conflict("The person or their outcome changed meanwhile; try again.") from None
        raise
    return result


# New outcomes applied per list sent back: each is a few reads and a transaction, and the
# whole request must end well within API Gateway's 29 seconds. Rows already recorded cost
# one batched read per 100 and do not count.
MAX_UPLOAD_OUTCOMES = 300


def _members(campaign_id: str, prospect_ids: list[str]) -> dict[str, dict[str, Any]]:
    """The campaign's member items of these prospects (100 keys a request), by prospect id."""
    found: dict[str, dict[str, Any]] = {}
    table = store.campaigns().name
    for start in range(0, len(prospect_ids), 100):
        keys = [
            {"pk": campaigns.pk(campaign_id), "sk": campaigns.member_sk(p)} for p in prospect_ids[start : start + 100]
        ]
        request: dict[str, Any] = {table: {"Keys": keys, "ConsistentRead": True}}
        while request:
            resp = store.resource("dynamodb").batch_get_item(RequestItems=request)
            for item in resp["Responses"].get(table, []):
                found[str(item["prospect_id"])] = item
            request = resp.get("UnprocessedKeys") or {}
    return found


def apply_upload(campaign: dict[str, Any], body: bytes, name: str, actor: Actor) -> dict[str, Any]:
    """Apply the outcomes of a call list sent back (.xlsx or CSV).

    Good rows are applied, each on its own (`apply_outcome`); bad ones are reported by
    line and reason (`unknown_outcome`, `invalid_prospect_id`, `conflicting_rows`,
    `not_found`: not in this campaign, `not_in_audience`, `outcome_final`). Rows whose
    outcome is already recorded count as `unchanged`: sending a list twice is harmless.
    More than `MAX_UPLOAD_OUTCOMES` new outcomes at once are refused before any is applied.
    """
    check_callable(campaign)
    try:
        parsed = parse_outcomes(io.BytesIO(body), name)
    except UnreadableFile as exc:
        raise ValidationFailed(exc.message, code=exc.code) from None
    counts = dict.fromkeys(("applied", "unchanged", "blank", "rejected"), 0)
    counts["blank"] = parsed.blank
    rejected = list(parsed.rejected)
    members = _members(str(campaign["campaign_id"]), [pid for _, pid, _ in parsed.outcomes])
    todo: list[tuple[int, str, str]] = []
    for line, prospect_id, outcome in parsed.outcomes:
        member = members.get(prospect_id)
        if member is None:
            rejected.append({"line": line, "reason": NotFound.code})
        elif member.get("outcome") == outcome:
            counts["unchanged"] += 1
        else:
            todo.append((line, prospect_id, outcome))
    if len(todo) > MAX_UPLOAD_OUTCOMES:
        raise ValidationFailed(
            f"At most {MAX_UPLOAD_OUTCOMES:,} new outcomes per upload: send the list in parts.",
            code="too_many_outcomes",
        )
    for line, prospect_id, outcome in todo:
        try:
            result = apply_outcome(campaign, prospect_id, outcome, actor)
        except DomainError as exc:
            rejected.append({"line": line, "reason": exc.code})
            continue
        counts["applied" if result["changed"] else "unchanged"] += 1
    counts["rejected"] = len(rejected)
    rejected.sort(key=lambda r: int(r["line"]))
    return {"campaign_id": campaign["campaign_id"], "counts": counts, "rejected_rows": rejected}
