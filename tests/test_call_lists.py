"""The call list's formats and the reading of a list sent back, without the API.

The API-level behaviour (who gets which list, outcomes and their effects) is in
tests/test_campaign_calls_api.py.
"""

from __future__ import annotations

import csv
import io

import pytest
from openpyxl import Workbook, load_workbook

from chalicelib import call_lists
from chalicelib.call_lists import ID_COLUMN, OUTCOME_COLUMN, Row
from chalicelib.imports.errors import UnreadableFile

CAMPAIGN = {"campaign_id": "c" * 32, "name": "Syksyn soitot – Äänekoski"}
PID = "0123456789abcdef0123456789abcdef"
HOSTILE = Row(
    prospect_id=PID,
    values={
        "organization": '=HYPERLINK("http://evil.example","Klikkaa")',
        "contact_name": "Jörö Äijälä",
        "title": "@SUM(1+1)",
        "email": "joro@aanekoski.fi",
        "phone": "+358401234567",
    },
    source="Tietopalvelu Öljy Oy",
)
PLAIN = Row(
    prospect_id="f" * 32,
    values={"organization": "Åbo Kommun", "contact_name": "Märta Söderström", "email": "marta@abo.fi"},
    source=call_lists.PUBLIC_SOURCES.fi,
)


def test_xlsx_keeps_finnish_text_and_escapes_formula_looking_cells() -> None:
    book = load_workbook(io.BytesIO(call_lists.render_xlsx(CAMPAIGN, [HOSTILE, PLAIN])))
    assert book.sheetnames == [call_lists.LIST_SHEET, call_lists.SCRIPT_SHEET]
    sheet = book[call_lists.LIST_SHEET]
    rows = [[c for c in r] for r in sheet.iter_rows()]
    header = [c.value for c in rows[0]]
    assert header == call_lists.header()
    assert header[-2:] == [ID_COLUMN, OUTCOME_COLUMN]
    # Only the partner-visible fields: never the staff-only public source URL.
    assert "Julkinen lähde" not in header
    first = {h: c for h, c in zip(header, rows[1], strict=True)}
    assert first["Yhteyshenkilön nimi"].value == "Jörö Äijälä"
    assert first["Tietojen lähde"].value == "Tietopalvelu Öljy Oy"
    for label, text in (
        ("Organisaation nimi", '=HYPERLINK("http://evil.example","Klikkaa")'),
        ("Titteli", "@SUM(1+1)"),
        ("Puhelinnumero", "+358401234567"),
    ):
        cell = first[label]
        # Text as sent, stored as a string (never a formula) with Excel's quote prefix.
        assert cell.value == text
        assert cell.data_type == "s"
        assert cell.quotePrefix is True
    assert first["Sähköpostiosoite"].quotePrefix is not True
    assert first[OUTCOME_COLUMN].value in (None, "")
    assert [c.value for c in rows[2]][:2] == ["Åbo Kommun", "Märta Söderström"]
    # The outcome column offers exactly the six codes.
    (choices,) = sheet.data_validations.dataValidation
    assert choices.formula1 == '"' + ",".join(call_lists.OUTCOMES) + '"'
    assert str(choices.sqref) == "H2:H3"


def test_xlsx_carries_the_first_contact_script() -> None:
    book = load_workbook(io.BytesIO(call_lists.render_xlsx(CAMPAIGN, [PLAIN])))
    text = "\n".join(str(c.value) for row in book[call_lists.SCRIPT_SHEET].iter_rows() for c in row)
    assert "Syksyn soitot – Äänekoski" in text
    assert "Wauranoja Oy" in text and "Kuntotimpurit" in text  # who we are
    assert "Tietojen lähde" in text  # where the data came from: the row's source column
    assert "kieltää suoramarkkinoinnin" in text and "right to object" in text
    assert "ilopiste@kuntotimpurit.fi" in text
    for code in call_lists.OUTCOMES:
        assert f"{code}:" in text


def test_csv_is_utf8_with_bom_semicolons_and_formula_safe() -> None:
    raw = call_lists.render_csv([HOSTILE, PLAIN])
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig")), delimiter=";"))
    assert rows[0] == call_lists.header()
    first = dict(zip(rows[0], rows[1], strict=True))
    assert first["Organisaation nimi"] == '\'=HYPERLINK("http://evil.example","Klikkaa")'
    assert first["Puhelinnumero"] == "'+358401234567"
    assert first["Titteli"] == "'@SUM(1+1)"
    assert first["Yhteyshenkilön nimi"] == "Jörö Äijälä"
    assert first[ID_COLUMN] == PID
    assert first[OUTCOME_COLUMN] == ""


def _filled_csv(outcomes: dict[str, str], extra: list[list[str]] | None = None) -> bytes:
    """A list as a caller sends it back: the downloaded CSV with outcomes typed in."""
    rows = list(csv.reader(io.StringIO(call_lists.render_csv([HOSTILE, PLAIN]).decode("utf-8-sig")), delimiter=";"))
    for row in rows[1:]:
        row[-1] = outcomes.get(row[-2], "")
    rows += extra or []
    out = io.StringIO()
    csv.writer(out, delimiter=";").writerows(rows)
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def test_a_list_sent_back_as_csv_yields_its_outcomes_and_its_bad_lines() -> None:
    body = _filled_csv(
        {PID: "reached", "f" * 32: ""},
        extra=[
            ["x", "y", "", "", "", "", "e" * 32, "called twice"],
            ["x", "y", "", "", "", "", "not-an-id", "no_answer"],
        ],
    )
    parsed = call_lists.parse_outcomes(io.BytesIO(body), "list.csv")
    assert parsed.outcomes == [(2, PID, "reached")]
    assert parsed.blank == 1
    assert parsed.rejected == [{"line": 4, "reason": "unknown_outcome"}, {"line": 5, "reason": "invalid_prospect_id"}]


def test_a_person_listed_twice_with_different_outcomes_is_applied_neither_way() -> None:
    body = _filled_csv({PID: "no_answer"}, extra=[["", "", "", "", "", "", PID, "Reached"]])
    parsed = call_lists.parse_outcomes(io.BytesIO(body), "list.csv")
    assert parsed.outcomes == []
    assert parsed.rejected == [{"line": 2, "reason": "conflicting_rows"}, {"line": 4, "reason": "conflicting_rows"}]


def test_the_downloaded_xlsx_filled_in_a_spreadsheet_goes_back_in() -> None:
    book = load_workbook(io.BytesIO(call_lists.render_xlsx(CAMPAIGN, [HOSTILE, PLAIN])))
    sheet = book[call_lists.LIST_SHEET]
    sheet["H2"] = "do_not_call"
    sheet["H3"] = " Wrong_Person "
    out = io.BytesIO()
    book.save(out)
    parsed = call_lists.parse_outcomes(io.BytesIO(out.getvalue()), "soittolista.xlsx")
    assert parsed.outcomes == [(2, PID, "do_not_call"), (3, "f" * 32, "wrong_person")]
    assert parsed.rejected == []


def test_a_list_without_the_id_and_outcome_columns_is_refused() -> None:
    book = Workbook()
    book.active.append(["Organisaatio", "Nimi"])
    book.active.append(["Oy Ab", "Matti"])
    out = io.BytesIO()
    book.save(out)
    with pytest.raises(UnreadableFile) as refused:
        call_lists.parse_outcomes(io.BytesIO(out.getvalue()), "x.xlsx")
    assert refused.value.code == "missing_columns"


def test_a_list_longer_than_any_call_list_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(call_lists, "MAX_ROWS", 3)
    body = "prospect_id;outcome\n" + "".join(f"{i:032x};no_answer\n" for i in range(4))
    with pytest.raises(UnreadableFile) as refused:
        call_lists.parse_outcomes(io.BytesIO(body.encode()), "x.csv")
    assert refused.value.code == "too_many_rows"
