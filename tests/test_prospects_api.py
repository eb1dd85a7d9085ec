"""The prospect register and import runs through the HTTP API, per principal kind."""

from __future__ import annotations

from typing import Any

from boto3.dynamodb.conditions import Key

from tests.conftest import Stack, Tokens, call, register_partner, setup_actor
from tests.imports_helpers import csv_bytes, drain, runs_of, upload

ACME_ROWS = [
    ["Kunta Oy", "Äijä Öhman", "Toimitusjohtaja", "aija@kunta.fi", "040 123 4567"],
    ["Sote Ky", "Sari Sote", "Sosiaalijohtaja", "sari@sote.fi", ""],
]
NEW = {
    "organization": "Hyvinvointialue",
    "contact_name": "Veera Virta",
    "title": "Johtaja",
    "email": "Veera.Virta@HVA.fi",
    "phone": "09 123 4567",
    "source_url": "https://hva.fi/yhteystiedot",
}


def _audit(stack: Stack, prospect_id: str) -> list[dict[str, Any]]:
    resp = stack.table("audit").query(KeyConditionExpression=Key("pk").eq(f"RECORD#prospects#{prospect_id}"))
    return list(resp["Items"])


def _import_acme(stack: Stack) -> None:
    upload(stack, "incoming/acme/lista.csv", csv_bytes(ACME_ROWS))
    drain(stack)


def test_staff_creates_reads_updates_verifies_and_deletes(client: Any, stack: Stack, tokens: Tokens) -> None:
    status, body = call(client, "POST", "/prospects", tokens.staff, NEW)
    assert status == 201, body
    pid = body["prospect_id"]
    assert body["email"] == "Veera.Virta@hva.fi" and body["phone"] == "+35891234567"
    assert body["source_url"].startswith("https://hva.fi/")
    assert body["sources"] == [{"source": "staff", "last_verified": body["last_verified"]}]
    assert body["retention_due_at"][:4] == str(int(body["last_verified"][:4]) + 2)

    status, again = call(client, "POST", "/prospects", tokens.staff, {**NEW, "email": "veera.virta@hva.fi"})
    assert status == 409 and again["error"]["code"] == "prospect_exists"

    status, got = call(client, "GET", f"/prospects/{pid}", tokens.staff)
    assert status == 200 and got["contact_name"] == "Veera Virta"
    status, found = call(client, "POST", "/prospects/search", tokens.staff, {"email": "Veera.Virta@hva.fi"})
    assert status == 200 and [p["prospect_id"] for p in found["items"]] == [pid]
    status, page = call(client, "GET", "/prospects?q=hyvinvointi", tokens.staff)
    assert [p["prospect_id"] for p in page["items"]] == [pid]
    for typed in ("virta", "Veera Virta", "veera"):
        status, named = call(client, "POST", "/prospects/search", tokens.staff, {"name": typed})
        assert status == 200 and [p["prospect_id"] for p in named["items"]] == [pid], named
    status, named = call(client, "POST", "/prospects/search", tokens.staff, {"name": "Aalto"})
    assert status == 200 and named["items"] == []

    status, upd = call(client, "PATCH", f"/prospects/{pid}", tokens.staff, {"title": "Hallintojohtaja"})
    assert status == 200 and upd["title"] == "Hallintojohtaja"
    status, bad = call(client, "PATCH", f"/prospects/{pid}", tokens.staff, {"email": "other@hva.fi"})
    assert status == 400 and bad["error"]["details"] == [{"field": "email", "reason": "immutable"}]
    status, ver = call(client, "POST", f"/prospects/{pid}/verification", tokens.staff)
    assert status == 200 and ver["last_verified"] >= upd["last_verified"]

    status, _ = call(client, "DELETE", f"/prospects/{pid}", tokens.staff)
    assert status == 200
    status, gone = call(client, "GET", f"/prospects/{pid}", tokens.staff)
    assert status == 404 and gone["error"]["code"] == "not_found"
    actions = {e["action"] for e in _audit(stack, pid)}
    assert actions == {"create", "read", "search", "list", "update", "verify", "delete"}
    assert all("Veera" not in str(e) for e in _audit(stack, pid))


def test_staff_cannot_add_a_suppressed_person(client: Any, stack: Stack, tokens: Tokens) -> None:
    from chalicelib import suppression

    suppression.suppress("veera.virta@hva.fi", "objection", setup_actor())
    status, body = call(client, "POST", "/prospects", tokens.staff, NEW)
    assert status == 409 and body["error"]["code"] == "suppressed"


def test_staff_cannot_add_a_private_person(client: Any, stack: Stack, tokens: Tokens) -> None:
    """The import's rule applies to staff too: only organisations' representatives."""
    status, body = call(client, "POST", "/prospects", tokens.staff, {**NEW, "email": "veera.virta@Gmail.com"})
    assert status == 400
    assert body["error"]["details"] == [{"field": "email", "reason": "free_mail_domain"}]
    status, body = call(client, "POST", "/prospects", tokens.staff, {**NEW, "organization": "   "})
    assert status == 400
    assert stack.table("prospects").scan()["Items"] == []
    assert "Gmail" not in str(body) and "veera" not in str(body)


def test_partner_sees_only_its_own_prospects_and_fields(client: Any, stack: Stack, tokens: Tokens) -> None:
    _import_acme(stack)
    register_partner(stack, "beta", "data_provider")
    other = stack.user("beta-data", ["partner"], partner_id="beta", partner_type="data_provider")
    status, mine = call(client, "GET", "/partner/prospects", tokens.partner)
    assert status == 200, mine
    assert sorted(p["email"] for p in mine["items"]) == ["aija@kunta.fi", "sari@sote.fi"]
    assert all("source_url" not in p for p in mine["items"])
    pid = mine["items"][0]["prospect_id"]
    status, one = call(client, "GET", f"/partner/prospects/{pid}", tokens.partner)
    assert status == 200 and one["prospect_id"] == pid
    status, theirs = call(client, "GET", "/partner/prospects", other)
    assert status == 200 and theirs["items"] == []
    status, body = call(client, "GET", f"/partner/prospects/{pid}", other)
    assert status == 404 and body["error"]["code"] == "not_found"
    assert any(e["principal_id"] != "system:partner_import" and e["action"] == "list" for e in _audit(stack, pid))


def test_partner_sees_only_its_own_runs_staff_all(client: Any, stack: Stack, tokens: Tokens) -> None:
    _import_acme(stack)
    upload(stack, "incoming/beta/b.csv", csv_bytes([ACME_ROWS[0]]))
    drain(stack)
    acme_run = runs_of(stack, "acme")[0]
    beta_run = runs_of(stack, "beta")[0]
    status, mine = call(client, "GET", "/partner/import-runs", tokens.partner)
    assert status == 200 and [r["run_id"] for r in mine["items"]] == [acme_run["run_id"]]
    assert mine["items"][0]["counts"]["inserted"] == 2 and mine["items"][0]["state"] == "done"
    status, _ = call(client, "GET", f"/partner/import-runs/{beta_run['run_id']}", tokens.partner)
    assert status == 404
    status, all_runs = call(client, "GET", "/import-runs", tokens.staff)
    assert status == 200 and {r["run_id"] for r in all_runs["items"]} == {acme_run["run_id"], beta_run["run_id"]}
    received = [r["received_at"] for r in all_runs["items"]]
    assert received == sorted(received, reverse=True)  # newest first, across partners
    status, first = call(client, "GET", "/import-runs?limit=1", tokens.staff)
    status, second = call(client, "GET", f"/import-runs?limit=1&cursor={first['next_cursor']}", tokens.staff)
    assert [r["run_id"] for r in first["items"] + second["items"]] == [r["run_id"] for r in all_runs["items"]]
    status, one = call(client, "GET", f"/import-runs/{beta_run['run_id']}", tokens.staff)
    assert status == 200 and one["partner_id"] == "beta" and "lease_owner" not in one
    status, filtered = call(client, "GET", "/import-runs?partner_id=beta", tokens.staff)
    assert [r["run_id"] for r in filtered["items"]] == [beta_run["run_id"]]


def test_a_partner_reads_its_own_runs_rejected_rows_page_by_page(client: Any, stack: Stack, tokens: Tokens) -> None:
    bad = [
        ["Ilman Sähköpostia Oy", "Eero Esimerkki", "Johtaja", "", ""],
        ["Väärä Oy", "Vilma Väärä", "Johtaja", "ei-osoite", ""],
        ["Yksityinen", "Pekka Posti", "Johtaja", "pekka@gmail.com", ""],
    ]
    upload(stack, "incoming/acme/virheet.csv", csv_bytes([ACME_ROWS[0], *bad]))
    upload(stack, "incoming/beta/b.csv", csv_bytes(bad[:1]))
    drain(stack)
    run_id = runs_of(stack, "acme")[0]["run_id"]
    status, run = call(client, "GET", f"/partner/import-runs/{run_id}", tokens.partner)
    assert status == 200 and run["counts"]["rejected"] == 3
    assert run["upload_key"] == "incoming/acme/virheet.csv"  # the portal finds its form's run by it
    status, first = call(client, "GET", f"/partner/import-runs/{run_id}/rejected-rows?limit=2", tokens.partner)
    assert status == 200 and [r["line"] for r in first["items"]] == [3, 4] and first["next_cursor"]
    assert all(r["reason"] for r in first["items"])
    path = f"/partner/import-runs/{run_id}/rejected-rows?limit=2&cursor={first['next_cursor']}"
    status, second = call(client, "GET", path, tokens.partner)
    assert status == 200 and [r["line"] for r in second["items"]] == [5] and second["next_cursor"] is None
    # Only the lines, reasons and fields: no value from the partner's file.
    assert {k for r in first["items"] + second["items"] for k in r} <= {"line", "reason", "field", "first_line"}
    beta_run = runs_of(stack, "beta")[0]["run_id"]
    status, body = call(client, "GET", f"/partner/import-runs/{beta_run}/rejected-rows", tokens.partner)
    assert status == 404 and body["error"]["code"] == "not_found"
    status, body = call(client, "GET", f"/partner/import-runs/{run_id}/rejected-rows?cursor=bm9wZQ", tokens.partner)
    assert status == 400 and body["error"]["code"] == "invalid_cursor"
    # Staff read any partner's run the same way (the API role reads reports/* only).
    status, staff_view = call(client, "GET", f"/import-runs/{run_id}/rejected-rows", tokens.staff)
    assert status == 200 and [r["line"] for r in staff_view["items"]] == [3, 4, 5]
    status, body = call(client, "GET", f"/import-runs/{run_id}/rejected-rows", tokens.partner)
    assert status == 403
    status, body = call(client, "GET", "/import-runs/not-a-run/rejected-rows", tokens.staff)
    assert 400 <= status < 500 and "error" in body


def test_customer_and_anonymous_are_refused(client: Any, stack: Stack, tokens: Tokens) -> None:
    for path in ("/prospects", "/import-runs", "/partner/prospects", "/partner/import-runs"):
        status, body = call(client, "GET", path, tokens.customer)
        assert status == 403 and body["error"]["code"] == "forbidden", path
        status, body = call(client, "GET", path)
        assert status == 401 and "error" in body, path
    status, _ = call(client, "GET", "/prospects", tokens.partner)
    assert status == 403
    status, _ = call(client, "GET", "/partner/prospects", tokens.staff)
    assert status == 403


def test_bad_ids_and_queries_are_4xx(client: Any, stack: Stack, tokens: Tokens) -> None:
    status, body = call(client, "GET", "/prospects/not-an-id", tokens.staff)
    assert status == 404
    status, body = call(client, "GET", "/prospects?email=a@b.fi", tokens.staff)
    assert status == 400  # look-ups by email go in a body, never in the URL
    status, body = call(client, "POST", "/prospects/search", tokens.staff, {"email": "nope"})
    assert status == 400 and body["error"]["details"] == [{"field": "email", "reason": "invalid"}]
    status, body = call(client, "GET", "/prospects?cursor=zzz", tokens.staff)
    assert status == 400
    status, body = call(client, "GET", "/import-runs?partner_id=BAD!", tokens.staff)
    assert status == 400
    status, body = call(client, "POST", "/prospects", tokens.staff, {**NEW, "organization": ""})
    assert status == 400 and body["error"]["details"][0]["field"] == "organization"
