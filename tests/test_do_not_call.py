"""Phone do-not-call through the API: staff put a number on the list, staff entry and imports
skip it, the access answer says whether a person's numbers are on it; the number is never
in a key, a report, an error or a log line."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from chalicelib import suppression
from tests.conftest import Stack, Tokens, call, setup_actor
from tests.imports_helpers import csv_bytes, drain, prospect_items, report, runs_of, source_items, upload

NUMBER = "040 765 4321"
E164 = "+358407654321"
NEW = {
    "organization": "Hyvinvointialue",
    "contact_name": "Veera Virta",
    "title": "Johtaja",
    "email": "veera.virta@hva.fi",
    "phone": "+358 40 765 4321",
}
ROWS = [
    ["Kunta Oy", "Äijä Öhman", "Toimitusjohtaja", "aija@kunta.fi", NUMBER],
    ["Sote Ky", "Sari Sote", "Sosiaalijohtaja", "sari@sote.fi", "050 111 2222"],
]


def _no_number(text: str) -> None:
    assert "7654321" not in text and "765 4321" not in text


def test_staff_put_a_number_on_the_list_audited_and_without_the_number_in_keys_or_logs(
    client: Any, stack: Stack, tokens: Tokens, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    status, body = call(client, "POST", "/suppression/phones", tokens.staff, {"phone": NUMBER})
    assert status == 201, body
    assert body == {"suppression_key": suppression.phone_key(E164), "on_list": True, "reason": "do_not_call"}
    assert call(client, "POST", "/suppression/phones", tokens.staff, {"phone": E164})[0] == 201  # idempotent
    [entry] = stack.table("suppression").scan()["Items"]
    assert entry["reason"] == "do_not_call"
    status, trail = call(client, "GET", f"/audit/records/suppression/{body['suppression_key']}", tokens.dpo)
    assert status == 200 and {e["action"] for e in trail["items"]} == {"create"}
    _no_number(json.dumps(entry) + json.dumps(trail) + caplog.text)
    assert suppression.is_phone_suppressed("+358407654321")


def test_a_bad_number_is_a_400_that_does_not_echo_it(client: Any, stack: Stack, tokens: Tokens) -> None:
    status, body = call(client, "POST", "/suppression/phones", tokens.staff, {"phone": "040 76"})
    assert status == 400 and body["error"]["details"] == [{"field": "phone", "reason": "invalid"}]
    assert "040 76" not in json.dumps(body)
    status, body = call(client, "POST", "/suppression/phones", tokens.staff, {"phone": NUMBER, "note": "x"})
    assert status == 400
    assert stack.table("suppression").scan()["Items"] == []
    assert call(client, "POST", "/suppression/phones", tokens.partner, {"phone": NUMBER})[0] == 403


def test_staff_entry_refuses_a_number_on_the_list(client: Any, stack: Stack, tokens: Tokens) -> None:
    suppression.suppress_phone(NUMBER, "do_not_call", setup_actor())
    status, body = call(client, "POST", "/prospects", tokens.staff, NEW)
    assert status == 409 and body["error"]["code"] == "do_not_call"
    _no_number(json.dumps(body))
    assert prospect_items(stack) == []
    status, created = call(client, "POST", "/prospects", tokens.staff, {**NEW, "phone": "050 111 2222"})
    assert status == 201, created
    pid = created["prospect_id"]
    status, body = call(client, "PATCH", f"/prospects/{pid}", tokens.staff, {"phone": "+358407654321"})
    assert status == 409 and body["error"]["code"] == "do_not_call"
    status, got = call(client, "GET", f"/prospects/{pid}", tokens.staff)
    assert got["phone"] == "+358501112222"
    assert call(client, "PATCH", f"/prospects/{pid}", tokens.staff, {"title": "Johtaja II"})[0] == 200


def test_an_import_skips_a_row_whose_number_is_on_the_list_and_keeps_the_person(
    client: Any, stack: Stack, tokens: Tokens
) -> None:
    upload(stack, "incoming/acme/lista.csv", csv_bytes(ROWS))
    drain(stack)
    assert len(prospect_items(stack)) == 2
    assert call(client, "POST", "/suppression/phones", tokens.staff, {"phone": NUMBER})[0] == 201
    changed = [[*ROWS[0][:2], "Johtaja", *ROWS[0][3:]], ROWS[1], ["Uusi Oy", "Uuno", "", "uuno@uusi.fi", NUMBER]]
    upload(stack, "incoming/acme/full-2026-12.csv", csv_bytes(changed))
    drain(stack)
    [run] = [r for r in runs_of(stack, "acme") if r["full_refresh"]]
    assert run["counts"]["inserted"] == 0 and run["counts"]["removed"] == 0
    assert run["rejected_by_reason"] == {"not_imported": 2}
    rejected = report(stack, run)
    lines = json.dumps(rejected, ensure_ascii=False)
    assert '"not_imported"' in lines
    _no_number(lines)
    # Skipped, not erased: the person stays as the register had them (the title unchanged),
    # and the new person with the listed number was not added.
    emails = sorted(i["email"] for i in source_items(stack, "acme"))
    assert emails == ["aija@kunta.fi", "sari@sote.fi"]
    assert next(i for i in prospect_items(stack) if i["email"] == "aija@kunta.fi")["title"] == "Toimitusjohtaja"


def test_the_access_answer_says_which_numbers_are_on_the_list(client: Any, stack: Stack, tokens: Tokens) -> None:
    upload(stack, "incoming/acme/lista.csv", csv_bytes(ROWS))
    drain(stack)
    body = {"type": "access", "email": "aija@kunta.fi"}
    status, answer = call(client, "POST", "/subject-requests", tokens.staff, body)
    assert status == 200
    assert answer["answer"]["do_not_call"]["numbers"] == [{"phone": E164, "on_list": False}]
    suppression.suppress_phone(NUMBER, "do_not_call", setup_actor())
    status, answer = call(client, "POST", "/subject-requests", tokens.staff, body)
    dnc = answer["answer"]["do_not_call"]
    assert dnc["numbers"] == [{"phone": E164, "on_list": True}]
    assert dnc["retention"]["en"] == "As long as the register is kept"
    # The customer's own number counts too.
    status, answer = call(client, "POST", "/subject-requests", tokens.staff, {**body, "email": "asiakas@yritys.fi"})
    assert answer["answer"]["do_not_call"]["numbers"] == [{"phone": "+358401234567", "on_list": False}]
