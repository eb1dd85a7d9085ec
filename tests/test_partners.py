"""The partner registry through the API: staff keep it, every change is audited, and a
partner principal acts only while the registry has its partner active."""

from __future__ import annotations

from typing import Any

from boto3.dynamodb.conditions import Key

from chalicelib import clock
from tests.conftest import Stack, Tokens, call, register_partner

NEW = {"partner_id": "tietotalo", "name": "Tietotalo Oy", "kind": "data_provider"}


def _audit(stack: Stack, partner_id: str) -> list[dict[str, Any]]:
    resp = stack.table("audit").query(KeyConditionExpression=Key("pk").eq(f"RECORD#partners#{partner_id}"))
    return list(resp["Items"])


def test_staff_register_read_and_change_a_partner(client: Any, stack: Stack, tokens: Tokens) -> None:
    status, created = call(client, "POST", "/partners", tokens.staff, NEW)
    assert status == 201, created
    assert created["status"] == "active" and created["version"] == 1
    assert set(created) == {"partner_id", "name", "kind", "status", "created_at", "updated_at", "version"}
    assert call(client, "GET", "/partners/tietotalo", tokens.staff) == (200, created)
    status, changed = call(
        client, "PATCH", "/partners/tietotalo", tokens.dpo, {"name": "Tietotalo Group Oy", "status": "suspended"}
    )
    assert status == 200, changed
    assert changed["name"] == "Tietotalo Group Oy" and changed["status"] == "suspended"
    assert changed["kind"] == "data_provider" and changed["version"] == 2
    assert changed["created_at"] == created["created_at"]
    events = sorted(_audit(stack, "tietotalo"), key=lambda e: e["sk"])
    assert [(e["action"], e["fields"]) for e in events] == [
        ("create", ["kind", "name", "status"]),
        ("update", ["name", "status"]),
    ]
    assert events[1]["roles"] == ["dpo", "staff"]
    # The DPO reads them like any record's trail.
    status, trail = call(client, "GET", "/audit/records/partners/tietotalo", tokens.dpo)
    assert status == 200 and len(trail["items"]) == 2


def test_partners_are_listed_oldest_first_in_pages(client: Any, tokens: Tokens) -> None:
    for n in range(3):
        assert (
            call(client, "POST", "/partners", tokens.staff, {**NEW, "partner_id": f"p{n}", "name": f"P{n}"})[0] == 201
        )
    seen: list[str] = []
    cursor = ""
    while True:
        status, page = call(client, "GET", f"/partners?limit=2{cursor}", tokens.staff)
        assert status == 200 and len(page["items"]) <= 2
        seen += [p["partner_id"] for p in page["items"]]
        if not page["next_cursor"]:
            break
        cursor = f"&cursor={page['next_cursor']}"
    # The stack's own partners first (registered at set-up), then these in creation order.
    assert seen == ["acme", "resello", "p0", "p1", "p2"]


def test_bad_registry_requests_are_4xx_in_the_error_shape(client: Any, tokens: Tokens) -> None:
    cases = [
        ("POST", "/partners", {**NEW, "partner_id": "Bad_Id!"}, 400),
        ("POST", "/partners", {**NEW, "kind": "wholesaler"}, 400),
        ("POST", "/partners", {**NEW, "status": "paused"}, 400),
        ("POST", "/partners", {**NEW, "name": "  "}, 400),
        ("POST", "/partners", {**NEW, "country": "FI"}, 400),
        ("POST", "/partners", {"partner_id": "acme", "name": "Acme again", "kind": "reseller"}, 409),
        ("GET", "/partners/tuntematon", None, 404),
        ("GET", "/partners/" + "x" * 300, None, 404),
        ("PATCH", "/partners/tuntematon", {"status": "ended"}, 404),
        ("PATCH", "/partners/acme", {}, 400),
        ("PATCH", "/partners/acme", {"status": None}, 400),
        ("PATCH", "/partners/acme", {"partner_id": "other"}, 400),
        ("GET", "/partners?cursor=bm9wZQ", None, 400),
    ]
    for method, path, body, expected in cases:
        status, resp = call(client, method, path, tokens.staff, body)
        assert status == expected, (method, path, resp)
        assert set(resp) == {"error"} and resp["error"]["code"]
    # Nothing of the refused changes stuck.
    assert call(client, "GET", "/partners/acme", tokens.staff)[1]["kind"] == "data_provider"


def test_a_partner_acts_only_while_the_registry_has_it_active(client: Any, stack: Stack, tokens: Tokens) -> None:
    assert call(client, "GET", "/partner/import-runs", tokens.partner)[0] == 200
    assert call(client, "GET", "/partner/end-users", tokens.reseller)[0] == 200
    for status_value in ("suspended", "ended"):
        assert call(client, "PATCH", "/partners/acme", tokens.staff, {"status": status_value})[0] == 200
        status, body = call(client, "GET", "/partner/import-runs", tokens.partner)
        assert status == 403 and body["error"]["code"] == "forbidden"
    assert call(client, "PATCH", "/partners/acme", tokens.staff, {"status": "active"})[0] == 200
    assert call(client, "GET", "/partner/import-runs", tokens.partner)[0] == 200
    # A token for a partner the registry does not know is refused, whatever it claims.
    ghost = stack.user("ghost", ["partner"], partner_id="ghost", partner_type="reseller")
    assert call(client, "GET", "/partner/import-runs", ghost)[0] == 403
    assert call(client, "POST", "/partner/end-users", ghost, {"name": "N", "email": "n@a.fi"})[0] == 403


def test_a_reseller_claim_needs_a_reseller_in_the_registry(client: Any, stack: Stack, tokens: Tokens) -> None:
    register_partner(stack, "kauppa", "data_provider")
    claims_reseller = stack.user("kauppa-user", ["partner"], partner_id="kauppa", partner_type="reseller")
    assert call(client, "GET", "/partner/import-runs", claims_reseller)[0] == 200
    status, body = call(client, "POST", "/partner/end-users", claims_reseller, {"name": "N", "email": "n@a.fi"})
    assert status == 403, body
    # Once staff make it a reseller, it is one.
    assert call(client, "PATCH", "/partners/kauppa", tokens.staff, {"kind": "reseller"})[0] == 200
    assert call(client, "POST", "/partner/end-users", claims_reseller, {"name": "N", "email": "n@a.fi"})[0] == 201


def test_the_registry_is_dated_by_the_clock(client: Any, tokens: Tokens) -> None:
    from datetime import UTC, datetime

    with clock.frozen(datetime(2026, 3, 1, 9, 30, tzinfo=UTC)):
        created = call(client, "POST", "/partners", tokens.staff, NEW)[1]
    with clock.frozen(datetime(2026, 4, 2, 10, 0, tzinfo=UTC)):
        changed = call(client, "PATCH", "/partners/tietotalo", tokens.staff, {"kind": "marketing"})[1]
    assert (created["created_at"], created["updated_at"]) == ("2026-03-01T09:30:00Z", "2026-03-01T09:30:00Z")
    assert (changed["created_at"], changed["updated_at"]) == ("2026-03-01T09:30:00Z", "2026-04-02T10:00:00Z")
