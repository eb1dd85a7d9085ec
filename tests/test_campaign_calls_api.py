"""Phone campaigns through the API: call lists, outcomes and their effects, marketing partners.

Every test goes through the HTTP API (Chalice's local gateway with the real authorizer);
the campaign's audience is formed by the materialisation job run in-process.
"""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from openpyxl import load_workbook

from chalicelib import call_lists, campaigns, suppression
from tests.conftest import Stack, Tokens, call, register_partner

XLSX = call_lists.XLSX_TYPE
PEOPLE = [
    {
        "organization": '=HYPERLINK("http://evil.example","Avaa")',
        "contact_name": "Jörö Äijälä",
        "title": "Hyvinvointijohtaja",
        "email": "joro.aijala@aanekoski.fi",
        "phone": "040 111 2222",
        "source_url": "https://www.aanekoski.fi/yhteystiedot",
    },
    {
        "organization": "Sotkamon kunta",
        "contact_name": "Märta Söderström",
        "title": "Sosiaalijohtaja",
        "email": "marta.soderstrom@sotkamo.fi",
        "phone": "+358 40 333 4444",
    },
    {
        "organization": "Öjan kaupunki",
        "contact_name": "Åke Öhman",
        "title": "Toimitusjohtaja",
        "email": "ake.ohman@oja.fi",
        "phone": "050 555 6666",
    },
]


def add_people(client: Any, tokens: Tokens, people: list[dict[str, Any]] = PEOPLE) -> list[str]:
    """Staff enter the prospects; their ids in the same order."""
    ids = []
    for person in people:
        status, body = call(client, "POST", "/prospects", tokens.staff, person)
        assert status == 201, body
        ids.append(body["prospect_id"])
    return ids


def phone_campaign(client: Any, tokens: Tokens, *, assign_to: str | None = "kampanja") -> str:
    """A phone campaign over every prospect, materialised (and assigned to `assign_to`)."""
    status, body = call(
        client,
        "POST",
        "/campaigns",
        tokens.staff,
        {"name": "Syksyn soitot – Äänekoski", "purpose": "Esittely hyvinvointialueille", "channel": "phone"},
    )
    assert status == 201, body
    campaign_id = str(body["campaign_id"])
    status, body = call(client, "POST", f"/campaigns/{campaign_id}/materialisation", tokens.staff)
    assert status == 202, body
    campaigns.materialise(campaign_id)
    if assign_to:
        status, body = call(
            client, "PUT", f"/campaigns/{campaign_id}/assignment", tokens.staff, {"partner_id": assign_to}
        )
        assert status == 200, body
    return campaign_id


def download(client: Any, path: str, token: str, fmt: str = "xlsx") -> tuple[int, bytes, dict[str, str]]:
    """GET a call list as a spreadsheet program's user would: raw bytes and headers."""
    accept = XLSX if fmt == "xlsx" else call_lists.CSV_TYPE
    resp = client.http.request(
        "GET", f"{path}?format={fmt}", headers={"Authorization": f"Bearer {token}", "Accept": accept}, body=b""
    )
    return resp.status_code, resp.body, {k.lower(): v for k, v in resp.headers.items()}


def list_rows(raw: bytes) -> list[dict[str, Any]]:
    """The call list sheet of an .xlsx as dicts by header, cells kept (to check their type)."""
    sheet = load_workbook(io.BytesIO(raw))[call_lists.LIST_SHEET]
    rows = list(sheet.iter_rows())
    header = [c.value for c in rows[0]]
    return [dict(zip(header, row, strict=True)) for row in rows[1:]]


def send_back(client: Any, path: str, token: str, raw: bytes, content_type: str = XLSX) -> tuple[int, Any]:
    """POST a filled list back as its file."""
    resp = client.http.request(
        "POST", path, headers={"Authorization": f"Bearer {token}", "Content-Type": content_type}, body=raw
    )
    import json

    return resp.status_code, json.loads(resp.body)


def filled(raw: bytes, outcomes: dict[str, str]) -> bytes:
    """The downloaded .xlsx with outcomes typed into its outcome column, saved again."""
    book = load_workbook(io.BytesIO(raw))
    sheet = book[call_lists.LIST_SHEET]
    header = [c.value for c in sheet[1]]
    id_col, outcome_col = header.index(call_lists.ID_COLUMN) + 1, header.index(call_lists.OUTCOME_COLUMN) + 1
    for row in range(2, sheet.max_row + 1):
        pid = sheet.cell(row, id_col).value
        if pid in outcomes:
            sheet.cell(row, outcome_col).value = outcomes[pid]
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def outcome(client: Any, campaign_id: str, prospect_id: str, token: str, code: str, marketing: bool = False) -> Any:
    prefix = "/marketing" if marketing else ""
    return call(
        client, "PUT", f"{prefix}/campaigns/{campaign_id}/members/{prospect_id}/outcome", token, {"outcome": code}
    )


# -- the list -------------------------------------------------------------------------------


def test_staff_list_is_the_audience_now_in_both_formats(client: Any, stack: Stack, tokens: Tokens) -> None:
    ids = add_people(client, tokens)
    campaign_id = phone_campaign(client, tokens, assign_to=None)
    # Objects after the audience was formed: absent from the next list all the same.
    status, body = call(
        client, "POST", "/subject-requests", tokens.staff, {"type": "objection", "email": PEOPLE[2]["email"]}
    )
    assert status == 200, body

    status, raw, headers = download(client, f"/campaigns/{campaign_id}/call-list", tokens.staff)
    assert status == 200, raw
    assert headers["content-type"] == XLSX
    assert headers["content-disposition"].startswith('attachment; filename="soittolista-')
    rows = {r[call_lists.ID_COLUMN].value: r for r in list_rows(raw)}
    assert set(rows) == set(ids[:2])
    joro = rows[ids[0]]
    assert joro["Yhteyshenkilön nimi"].value == "Jörö Äijälä"
    assert joro["Organisaation nimi"].value == '=HYPERLINK("http://evil.example","Avaa")'
    assert joro["Organisaation nimi"].data_type == "s" and joro["Organisaation nimi"].quotePrefix
    assert joro["Puhelinnumero"].value == "+358401112222" and joro["Puhelinnumero"].quotePrefix
    assert joro["Tietojen lähde"].value == call_lists.PUBLIC_SOURCES.fi  # staff entered it
    assert joro[call_lists.OUTCOME_COLUMN].value is None
    assert "Julkinen lähde" not in joro  # the staff-only source URL is never on a list

    status, raw, headers = download(client, f"/campaigns/{campaign_id}/call-list", tokens.staff, "csv")
    assert status == 200
    assert headers["content-type"] == "text/csv" and raw.startswith(b"\xef\xbb\xbf")
    table = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig")), delimiter=";"))
    assert {r[call_lists.ID_COLUMN] for r in table} == set(ids[:2])
    first = next(r for r in table if r[call_lists.ID_COLUMN] == ids[0])
    assert first["Organisaation nimi"].startswith("'=HYPERLINK")
    assert first["Yhteyshenkilön nimi"] == "Jörö Äijälä"

    status, body = call(client, "GET", f"/campaigns/{campaign_id}/call-list/script", tokens.staff)
    assert status == 200
    assert any("Wauranoja Oy" in line for line in body["fi"])
    assert any("object" in line for line in body["en"])

    # Staff are the register's named persons: their downloads are audited reads, not disclosures.
    from chalicelib import disclosures

    assert disclosures.recipients_of(ids[0]) == []
    status, events = call(client, "GET", f"/audit/records/prospects/{ids[0]}", tokens.dpo)
    assert status == 200
    assert any(e["action"] == "export" and "phone" in e["fields"] for e in events["items"])


def test_a_list_only_of_a_materialised_phone_campaign(client: Any, stack: Stack, tokens: Tokens) -> None:
    add_people(client, tokens)
    status, body = call(
        client, "POST", "/campaigns", tokens.staff, {"name": "Uutiskirje", "purpose": "Tiedote", "channel": "email"}
    )
    email_campaign = body["campaign_id"]
    status, body = call(
        client, "POST", "/campaigns", tokens.staff, {"name": "Luonnos", "purpose": "x", "channel": "phone"}
    )
    draft = body["campaign_id"]
    status, _, _ = download(client, f"/campaigns/{email_campaign}/call-list", tokens.staff)
    assert status == 409
    status, _, _ = download(client, f"/campaigns/{draft}/call-list", tokens.staff)
    assert status == 409
    status, body = call(client, "GET", f"/campaigns/{draft}/call-list?format=pdf", tokens.staff)
    assert status == 400 and body["error"]["code"] == "invalid_query"
    status, body = call(client, "GET", f"/campaigns/{'0' * 32}/call-list", tokens.staff)
    assert status == 404


# -- outcomes and their effects -----------------------------------------------------------------


def test_outcomes_and_their_effects(client: Any, stack: Stack, tokens: Tokens) -> None:
    more = [
        {
            "organization": "Kajaanin kaupunki",
            "contact_name": "Pia Pitkänen",
            "email": "pia@kajaani.fi",
            "phone": "044 777 8888",
        },
        {
            "organization": "Kuhmon kaupunki",
            "contact_name": "Olli Oikarinen",
            "email": "olli@kuhmo.fi",
            "phone": "044 999 0000",
        },
    ]
    joro, marta, ake, pia, olli = add_people(client, tokens, [*PEOPLE, *more])
    campaign_id = phone_campaign(client, tokens, assign_to=None)

    # reached: recorded, and the prospect's last contact stamped
    status, body = outcome(client, campaign_id, joro, tokens.staff, "reached")
    assert status == 200 and body == {"prospect_id": joro, "outcome": "reached", "changed": True}
    status, body = call(client, "GET", f"/prospects/{joro}", tokens.staff)
    assert body["last_contacted_at"]
    status, body = outcome(client, campaign_id, joro, tokens.staff, "reached")
    assert status == 200 and body["changed"] is False
    member = campaigns.member(campaign_id, joro)
    assert member["outcome"] == "reached" and member["outcome_at"] and member["outcome_by"]

    # no_answer: recorded only; the person may be called again and reached later
    assert outcome(client, campaign_id, marta, tokens.staff, "no_answer")[0] == 200
    status, body = call(client, "GET", f"/prospects/{marta}", tokens.staff)
    assert "last_contacted_at" not in body
    assert outcome(client, campaign_id, marta, tokens.staff, "reached")[0] == 200

    # do_not_call: the number blocked, the person kept, and gone from the next list
    assert outcome(client, campaign_id, ake, tokens.staff, "do_not_call")[0] == 200
    assert suppression.is_phone_suppressed("050 555 6666")
    assert call(client, "GET", f"/prospects/{ake}", tokens.staff)[0] == 200
    status, body = outcome(client, campaign_id, ake, tokens.staff, "reached")
    assert status == 409 and body["error"]["code"] == "outcome_final"

    # objected: email suppressed, number blocked, the person removed as an objection does
    status, body = outcome(client, campaign_id, pia, tokens.staff, "objected")
    assert status == 200 and body["removed"] is True
    assert suppression.is_suppressed("pia@kajaani.fi") and suppression.is_phone_suppressed("+358447778888")
    assert call(client, "GET", f"/prospects/{pia}", tokens.staff)[0] == 404
    # the same list line again changes nothing and recreates nothing
    status, body = outcome(client, campaign_id, pia, tokens.staff, "objected")
    assert status == 200 and body["changed"] is False
    assert call(client, "GET", f"/prospects/{pia}", tokens.staff)[0] == 404
    status, body = call(client, "POST", "/prospects", tokens.staff, {**more[0]})
    assert status == 409 and body["error"]["code"] == "suppressed"

    # left_organisation: the contact is outdated and removed; the number is not blocked
    status, body = outcome(client, campaign_id, olli, tokens.staff, "left_organisation")
    assert status == 200 and body["removed"] is True
    assert call(client, "GET", f"/prospects/{olli}", tokens.staff)[0] == 404
    assert not suppression.is_phone_suppressed("044 999 0000")

    status, raw, _ = download(client, f"/campaigns/{campaign_id}/call-list", tokens.staff)
    assert {r[call_lists.ID_COLUMN].value for r in list_rows(raw)} == {joro, marta}

    # every effect is audited
    status, events = call(client, "GET", f"/audit/records/prospects/{olli}", tokens.dpo)
    assert any(
        e["action"] == "delete" and e.get("reason") == "contact_outcome:left_organisation" for e in events["items"]
    )
    status, events = call(client, "GET", f"/audit/records/prospects/{joro}", tokens.dpo)
    assert any(e["action"] == "update" and "last_contacted_at" in e["fields"] for e in events["items"])


def test_an_outcome_for_someone_no_longer_in_the_audience_is_refused(client: Any, stack: Stack, tokens: Tokens) -> None:
    joro, marta, _ = add_people(client, tokens)
    campaign_id = phone_campaign(client, tokens, assign_to=None)
    assert call(client, "DELETE", f"/prospects/{joro}", tokens.staff)[0] == 200
    status, body = outcome(client, campaign_id, joro, tokens.staff, "reached")
    assert status == 409 and body["error"]["code"] == "not_in_audience"
    assert call(client, "GET", f"/prospects/{joro}", tokens.staff)[0] == 404  # nothing recreated
    suppression.suppress_phone("+358403334444", "do_not_call", _setup_actor())
    status, body = outcome(client, campaign_id, marta, tokens.staff, "no_answer")
    assert status == 409 and body["error"]["code"] == "not_in_audience"
    status, body = outcome(client, campaign_id, "a" * 32, tokens.staff, "reached")
    assert status == 404
    status, body = outcome(client, campaign_id, marta, tokens.staff, "called, nice chat")
    assert status == 400
    status, body = call(
        client,
        "PUT",
        f"/campaigns/{campaign_id}/members/{marta}/outcome",
        tokens.staff,
        {"outcome": "reached", "note": "free text"},
    )
    assert status == 400  # no free text about the person


def test_staff_read_the_outcomes_recorded_also_of_people_gone_from_the_audience(
    client: Any, stack: Stack, tokens: Tokens
) -> None:
    joro, marta, ake = add_people(client, tokens)
    campaign_id = phone_campaign(client, tokens)
    path = f"/campaigns/{campaign_id}"
    assert outcome(client, campaign_id, joro, tokens.marketing, "objected", marketing=True)[0] == 200
    assert outcome(client, campaign_id, marta, tokens.staff, "no_answer")[0] == 200

    # The audience shows each member's latest outcome; the objector is no longer in it.
    status, page = call(client, "GET", f"{path}/audience", tokens.staff)
    assert status == 200, page
    by_id = {m["prospect_id"]: m for m in page["items"]}
    assert set(by_id) == {marta, ake}
    assert by_id[marta]["outcome"] == "no_answer" and by_id[marta]["outcome_at"]
    assert "outcome" not in by_id[ake]

    # The outcomes: codes and times only, the objection recorded by the partner included,
    # paged (a page of one) and each one an audited read.
    seen: list[dict[str, Any]] = []
    cursor = ""
    while True:
        status, page = call(client, "GET", f"{path}/outcomes?limit=1{cursor}", tokens.staff)
        assert status == 200, page
        assert len(page["items"]) <= 1
        seen.extend(page["items"])
        if not page["next_cursor"]:
            break
        cursor = f"&cursor={page['next_cursor']}"
    assert {i["prospect_id"]: i["outcome"] for i in seen} == {joro: "objected", marta: "no_answer"}
    assert all(set(i) == {"prospect_id", "outcome", "outcome_at", "outcome_by"} for i in seen), seen
    status, events = call(client, "GET", f"/audit/records/prospects/{joro}", tokens.dpo)
    assert any(e["action"] == "read" and e["fields"] == ["contact_outcome"] for e in events["items"]), events

    # Still readable once the campaign is closed; an unknown campaign or a bad cursor is a 4xx.
    assert call(client, "POST", f"{path}/closure", tokens.staff)[0] == 200
    status, page = call(client, "GET", f"{path}/outcomes", tokens.staff)
    assert status == 200 and len(page["items"]) == 2, page
    assert call(client, "GET", f"/campaigns/{'b' * 32}/outcomes", tokens.staff)[0] == 404
    assert call(client, "GET", f"{path}/outcomes?cursor=nonsense", tokens.staff)[0] == 400
    assert call(client, "GET", f"{path}/outcomes", tokens.marketing)[0] == 403


def _setup_actor() -> Any:
    from tests.conftest import setup_actor

    return setup_actor()


# -- the list sent back ------------------------------------------------------------------------


def test_the_list_sent_back_applies_good_rows_reports_bad_ones_and_is_idempotent(
    client: Any, stack: Stack, tokens: Tokens
) -> None:
    joro, marta, ake = add_people(client, tokens)
    campaign_id = phone_campaign(client, tokens, assign_to=None)
    status, raw, _ = download(client, f"/campaigns/{campaign_id}/call-list", tokens.staff)
    order = [r[call_lists.ID_COLUMN].value for r in list_rows(raw)]
    book = filled(raw, {joro: "reached", marta: "do_not_call", ake: "soitti takaisin"})
    path = f"/campaigns/{campaign_id}/outcomes"
    status, body = send_back(client, path, tokens.staff, book)
    assert status == 200, body
    assert body["counts"] == {"applied": 2, "unchanged": 0, "blank": 0, "rejected": 1}
    assert body["rejected_rows"] == [{"line": order.index(ake) + 2, "reason": "unknown_outcome"}]
    assert campaigns.member(campaign_id, joro)["outcome"] == "reached"
    assert suppression.is_phone_suppressed("+358403334444")
    # Twice: nothing changes
    status, body = send_back(client, path, tokens.staff, book)
    assert body["counts"] == {"applied": 0, "unchanged": 2, "blank": 0, "rejected": 1}

    # The CSV goes back the same way (Excel's own ';' and BOM)
    status, raw, _ = download(client, f"/campaigns/{campaign_id}/call-list", tokens.staff, "csv")
    text = raw.decode("utf-8-sig").replace(f"{ake};", f"{ake};no_answer")
    status, body = send_back(client, path, tokens.staff, ("\ufeff" + text).encode(), "text/csv")
    assert status == 200, body
    assert body["counts"]["applied"] == 1 and campaigns.member(campaign_id, ake)["outcome"] == "no_answer"
    # ...also sent as application/octet-stream: the content tells a CSV from a workbook.
    status, body = send_back(client, path, tokens.staff, ("\ufeff" + text).encode(), "application/octet-stream")
    assert status == 200 and body["counts"]["unchanged"] == 1, body

    # A person not in this campaign is reported, not created
    stranger = "b" * 32
    status, body = send_back(
        client, path, tokens.staff, f"prospect_id;outcome\r\n{stranger};reached\r\n".encode(), "text/csv"
    )
    assert body["rejected_rows"] == [{"line": 2, "reason": "not_found"}]
    assert call(client, "GET", f"/prospects/{stranger}", tokens.staff)[0] == 404

    status, body = send_back(client, path, tokens.staff, b"PK\x03\x04 not really a workbook")
    assert status == 400 and body["error"]["code"] == "unreadable_xlsx"
    status, body = send_back(client, path, tokens.staff, b"nimi;puhelin\nx;y\n", "text/csv")
    assert status == 400 and body["error"]["code"] == "missing_columns"


# -- marketing partners --------------------------------------------------------------------------


def test_a_marketing_partner_sees_only_its_open_assignments(client: Any, stack: Stack, tokens: Tokens) -> None:
    ids = add_people(client, tokens)
    mine = phone_campaign(client, tokens)
    unassigned = phone_campaign(client, tokens, assign_to=None)
    register_partner(stack, "toinen", "marketing")
    theirs = phone_campaign(client, tokens, assign_to="toinen")
    other = stack.user("toinen-soittaja", ["partner"], partner_id="toinen", partner_type="marketing")

    status, body = call(client, "GET", "/marketing/campaigns", tokens.marketing)
    assert status == 200
    assert [c["campaign_id"] for c in body["items"]] == [mine]
    assert body["items"][0]["audience"] == 3 and "selection" not in body["items"][0]
    for campaign_id in (unassigned, theirs):
        for path in ("", "/audience", "/call-list", "/call-list/script"):
            status, body = call(client, "GET", f"/marketing/campaigns/{campaign_id}{path}", tokens.marketing)
            assert status == 404, (path, body)
        status, body = outcome(client, campaign_id, ids[0], tokens.marketing, "reached", marketing=True)
        assert status == 404
    status, body = call(client, "GET", f"/marketing/campaigns/{mine}", other)
    assert status == 404
    # The staff routes are not a marketing partner's, and its own are not staff's.
    assert call(client, "GET", f"/campaigns/{mine}", tokens.marketing)[0] == 403
    assert call(client, "GET", "/marketing/campaigns", tokens.staff)[0] == 403

    # Within its campaign: the audience with partner-visible fields only
    status, body = call(client, "GET", f"/marketing/campaigns/{mine}/audience", tokens.marketing)
    assert status == 200
    assert {i["prospect_id"] for i in body["items"]} == set(ids)
    assert all("source_url" not in i and "last_verified" not in i for i in body["items"])
    # A prospect outside its audience is simply not found
    outsider = add_people(
        client, tokens, [{"organization": "Muu Oy", "contact_name": "Ulla Ulkona", "email": "ulla@muu.fi"}]
    )[0]
    status, body = outcome(client, mine, outsider, tokens.marketing, "reached", marketing=True)
    assert status == 404

    status, raw, _ = download(client, f"/marketing/campaigns/{mine}/call-list", tokens.marketing)
    assert status == 200
    assert {r[call_lists.ID_COLUMN].value for r in list_rows(raw)} == set(ids)
    status, body = outcome(client, mine, ids[1], tokens.marketing, "reached", marketing=True)
    assert status == 200 and body["changed"] is True
    status, body = send_back(
        client, f"/marketing/campaigns/{mine}/outcomes", tokens.marketing, filled(raw, {ids[0]: "no_answer"})
    )
    assert status == 200 and body["counts"]["applied"] == 1

    # The assignment closed: the campaign is gone for the partner
    assert call(client, "DELETE", f"/campaigns/{mine}/assignment", tokens.staff)[0] == 200
    status, body = call(client, "GET", "/marketing/campaigns", tokens.marketing)
    assert body["items"] == []
    for path in ("", "/audience", "/call-list"):
        assert call(client, "GET", f"/marketing/campaigns/{mine}{path}", tokens.marketing)[0] == 404
    assert outcome(client, mine, ids[2], tokens.marketing, "reached", marketing=True)[0] == 404


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_a_marketing_partners_download_is_a_recorded_disclosure(
    client: Any, stack: Stack, tokens: Tokens, fmt: str
) -> None:
    from chalicelib import disclosures

    ids = add_people(client, tokens)
    campaign_id = phone_campaign(client, tokens)
    status, raw, _ = download(client, f"/marketing/campaigns/{campaign_id}/call-list", tokens.marketing, fmt)
    assert status == 200
    if fmt == "xlsx":
        listed = {r[call_lists.ID_COLUMN].value for r in list_rows(raw)}
    else:
        table = csv.DictReader(io.StringIO(raw.decode("utf-8-sig")), delimiter=";")
        listed = {r[call_lists.ID_COLUMN] for r in table}
    assert listed == set(ids)
    for pid in ids:
        recipients = disclosures.recipients_of(pid)
        assert [(r["recipient"], r["purpose"], r["campaign_id"]) for r in recipients] == [
            ("kampanja", "call_list", campaign_id)
        ]
    # Reading the audience is a handover too.
    status, body = call(client, "GET", f"/marketing/campaigns/{campaign_id}/audience?limit=2", tokens.marketing)
    assert status == 200 and len(body["items"]) <= 2
    for item in body["items"]:
        purposes = {r["purpose"] for r in disclosures.recipients_of(item["prospect_id"])}
        assert purposes == {"call_list", "campaign_audience"}


def test_a_do_not_call_outcome_keeps_the_number_out_of_the_next_import_and_list(
    client: Any, stack: Stack, tokens: Tokens
) -> None:
    from tests.imports_helpers import csv_bytes, drain, upload

    joro, marta, ake = add_people(client, tokens)
    campaign_id = phone_campaign(client, tokens, assign_to=None)
    assert outcome(client, campaign_id, marta, tokens.staff, "do_not_call")[0] == 200
    # The same number comes back from a data provider, under another address and spelling.
    upload(
        stack,
        "incoming/acme/paivitys.csv",
        csv_bytes([["Sotkamon kunta", "Märta Söderström", "Sosiaalijohtaja", "marta.s@sotkamo.fi", "040 3334444"]]),
    )
    drain(stack)
    status, body = call(client, "POST", "/prospects/search", tokens.staff, {"email": "marta.s@sotkamo.fi"})
    assert status == 200 and body["items"] == []
    status, raw, _ = download(client, f"/campaigns/{campaign_id}/call-list", tokens.staff)
    assert {r[call_lists.ID_COLUMN].value for r in list_rows(raw)} == {joro, ake}
    # A later phone campaign leaves the number out when its audience is formed.
    later = phone_campaign(client, tokens, assign_to=None)
    status, body = call(client, "GET", f"/campaigns/{later}", tokens.staff)
    assert body["counts"]["excluded"]["do_not_call"] == 1
    status, raw, _ = download(client, f"/campaigns/{later}/call-list", tokens.staff)
    assert {r[call_lists.ID_COLUMN].value for r in list_rows(raw)} == {joro, ake}


def test_an_outdated_contact_notifies_the_partner_that_got_it_but_not_the_one_reporting_it(
    client: Any, stack: Stack, tokens: Tokens
) -> None:
    joro, marta, _ = add_people(client, tokens)
    campaign_id = phone_campaign(client, tokens)
    status, _, _ = download(client, f"/marketing/campaigns/{campaign_id}/call-list", tokens.marketing)
    assert status == 200
    # The partner's own caller found Jörö gone: it knows, and gets no notice of it.
    status, body = outcome(client, campaign_id, joro, tokens.marketing, "left_organisation", marketing=True)
    assert status == 200 and body["removed"] is True
    # Staff learn that Märta's contact is wrong: the partner holding her row is told (Art. 19).
    status, body = outcome(client, campaign_id, marta, tokens.staff, "wrong_person")
    assert status == 200 and body["removed"] is True
    status, body = call(client, "GET", "/partner/notifications", tokens.marketing)
    assert status == 200
    assert [(n["prospect_id"], n["change"]) for n in body["items"]] == [(marta, "erased")]


def test_too_many_new_outcomes_at_once_are_refused_before_any_is_applied(
    client: Any, stack: Stack, tokens: Tokens, monkeypatch: pytest.MonkeyPatch
) -> None:
    joro, marta, _ = add_people(client, tokens)
    campaign_id = phone_campaign(client, tokens, assign_to=None)
    monkeypatch.setattr(call_lists, "MAX_UPLOAD_OUTCOMES", 1)
    status, raw, _ = download(client, f"/campaigns/{campaign_id}/call-list", tokens.staff)
    path = f"/campaigns/{campaign_id}/outcomes"
    status, body = send_back(client, path, tokens.staff, filled(raw, {joro: "reached", marta: "no_answer"}))
    assert status == 400 and body["error"]["code"] == "too_many_outcomes"
    assert "outcome" not in campaigns.member(campaign_id, joro)
    # In parts it goes; a row already recorded does not count against the limit.
    assert send_back(client, path, tokens.staff, filled(raw, {joro: "reached"}))[0] == 200
    status, body = send_back(client, path, tokens.staff, filled(raw, {joro: "reached", marta: "no_answer"}))
    assert status == 200 and body["counts"]["applied"] == 1 and body["counts"]["unchanged"] == 1


def test_the_list_names_the_partner_the_data_came_from(client: Any, stack: Stack, tokens: Tokens) -> None:
    from tests.imports_helpers import csv_bytes, drain, upload

    upload(
        stack,
        "incoming/acme/lista.csv",
        csv_bytes([["Kuopion kaupunki", "Kaisa Kärkkäinen", "Johtaja", "kaisa@kuopio.fi", "017 182 111"]]),
    )
    drain(stack)
    campaign_id = phone_campaign(client, tokens, assign_to=None)
    status, raw, _ = download(client, f"/campaigns/{campaign_id}/call-list", tokens.staff)
    assert status == 200
    (row,) = list_rows(raw)
    assert row["Tietojen lähde"].value == "acme Oy"  # the partner registry's name
    assert row["Yhteyshenkilön nimi"].value == "Kaisa Kärkkäinen"
