"""The partner registry through the API: staff keep it, every change is audited, and a
partner principal acts only while the registry has its partner active."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest
from boto3.dynamodb.conditions import Key

from chalicelib import clock, notice, partners
from chalicelib.errors import Forbidden
from tests import faults as f
from tests.conftest import Stack, Tokens, call, register_partner, setup_actor

CONTACT = {"email": "tietosuoja@tietotalo.example.com", "phone": "09 4242 4242"}
NEW = {
    "partner_id": "tietotalo",
    "name": "Tietotalo Oy",
    "kind": "data_provider",
    "contact": CONTACT,
    "country": "FI",
}
DELIVERY = {"notice_delivered_at": "2026-02-16", "notice_version": notice.version()}


def _audit(stack: Stack, partner_id: str) -> list[dict[str, Any]]:
    resp = stack.table("audit").query(KeyConditionExpression=Key("pk").eq(f"RECORD#partners#{partner_id}"))
    return list(resp["Items"])


def test_staff_register_read_and_change_a_partner(client: Any, stack: Stack, tokens: Tokens) -> None:
    status, created = call(client, "POST", "/partners", tokens.staff, NEW)
    assert status == 201, created
    assert created["status"] == "active" and created["version"] == 1
    assert set(created) == {
        *("partner_id", "name", "kind", "status", "contact", "country"),
        *("created_at", "updated_at", "version"),
    }
    assert created["contact"] == {"email": CONTACT["email"], "phone": "+358942424242"}
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
        ("create", ["contact", "country", "kind", "name", "status"]),
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
    assert seen == ["acme", "resello", "kampanja", "p0", "p1", "p2"]


def test_bad_registry_requests_are_4xx_in_the_error_shape(client: Any, tokens: Tokens) -> None:
    cases = [
        ("POST", "/partners", {**NEW, "partner_id": "Bad_Id!"}, 400),
        ("POST", "/partners", {**NEW, "kind": "wholesaler"}, 400),
        ("POST", "/partners", {**NEW, "status": "paused"}, 400),
        ("POST", "/partners", {**NEW, "name": "  "}, 400),
        ("POST", "/partners", {**NEW, "region": "FI"}, 400),
        ("POST", "/partners", {k: v for k, v in NEW.items() if k != "country"}, 400),
        ("POST", "/partners", {k: v for k, v in NEW.items() if k != "contact"}, 400),
        ("POST", "/partners", {**NEW, "partner_id": "acme", "name": "Acme again", "kind": "reseller"}, 409),
        ("GET", "/partners/tuntematon", None, 404),
        ("GET", "/partners/" + "x" * 300, None, 404),
        ("PATCH", "/partners/tuntematon", {"status": "ended"}, 404),
        ("PATCH", "/partners/acme", {}, 400),
        ("PATCH", "/partners/acme", {"status": None}, 400),
        ("PATCH", "/partners/acme", {"partner_id": "other"}, 400),
        ("PATCH", "/partners/acme", {"contact": None}, 400),
        ("PATCH", "/partners/acme", {"version": 1}, 400),
        ("PATCH", "/partners/acme", {"name": "X", "version": "1"}, 400),
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
    with clock.frozen(datetime(2026, 3, 1, 9, 30, tzinfo=UTC)):
        created = call(client, "POST", "/partners", tokens.staff, NEW)[1]
    with clock.frozen(datetime(2026, 4, 2, 10, 0, tzinfo=UTC)):
        changed = call(client, "PATCH", "/partners/tietotalo", tokens.staff, {"kind": "marketing"})[1]
    assert (created["created_at"], created["updated_at"]) == ("2026-03-01T09:30:00Z", "2026-03-01T09:30:00Z")
    assert (changed["created_at"], changed["updated_at"]) == ("2026-03-01T09:30:00Z", "2026-04-02T10:00:00Z")


# -- what the registry holds of each kind ---------------------------------------------------


def test_each_kind_is_registered_with_its_own_fields(client: Any, tokens: Tokens) -> None:
    provider = {**NEW, **DELIVERY, "country": "ee"}
    reseller = {**NEW, "partner_id": "myyja", "kind": "reseller", "contact": {"email": "Myynti@Myyja.example.com"}}
    marketing = {**NEW, "partner_id": "soittajat", "kind": "marketing", "country": "NO"}
    marketing["processing_agreement_at"] = "2026-01-31"
    shown = {}
    for body in (provider, reseller, marketing):
        status, shown[body["kind"]] = call(client, "POST", "/partners", tokens.staff, body)
        assert status == 201, shown[body["kind"]]
    assert shown["data_provider"]["country"] == "EE"  # ISO 3166-1 alpha-2, upper case
    assert {k: shown["data_provider"][k] for k in DELIVERY} == DELIVERY
    assert shown["reseller"]["contact"] == {"email": "Myynti@myyja.example.com"}  # no phone given, none kept
    assert not set(DELIVERY) & set(shown["reseller"]) and "processing_agreement_at" not in shown["reseller"]
    assert shown["marketing"]["processing_agreement_at"] == "2026-01-31" and shown["marketing"]["country"] == "NO"
    for partner in shown.values():
        assert call(client, "GET", f"/partners/{partner['partner_id']}", tokens.staff) == (200, partner)


@pytest.mark.parametrize("country", ["US", "GB", "CH", "RU", "EL", "XX", "FIN", "", 246])
def test_a_partner_outside_the_eu_eea_is_refused_naming_the_field(client: Any, tokens: Tokens, country: Any) -> None:
    status, body = call(client, "POST", "/partners", tokens.staff, {**NEW, "country": country})
    assert status == 400, body
    assert [d["field"] for d in body["error"]["details"]] == ["country"]
    # Nor can a registered partner be moved outside it.
    status, body = call(client, "PATCH", "/partners/acme", tokens.staff, {"country": country})
    assert status == 400 and [d["field"] for d in body["error"]["details"]] == ["country"]
    assert call(client, "GET", "/partners/tietotalo", tokens.staff)[0] == 404
    assert call(client, "GET", "/partners/acme", tokens.staff)[1]["country"] == "FI"


def test_bad_contact_dates_and_notice_versions_are_400_naming_the_field(client: Any, tokens: Tokens) -> None:
    cases = [
        ({**NEW, "contact": {"email": "not an address"}}, "contact.email"),
        ({**NEW, "contact": {"email": CONTACT["email"], "phone": "123"}}, "contact.phone"),
        ({**NEW, "contact": {**CONTACT, "name": "Liisa Lähde"}}, "contact.name"),  # an organisation's, not a person's
        ({**NEW, **DELIVERY, "notice_version": "2021-04-15"}, "notice_version"),
        ({**NEW, **DELIVERY, "notice_delivered_at": "2026-13-01"}, "notice_delivered_at"),
        ({**NEW, "notice_delivered_at": "2026-02-16"}, "notice_version"),  # a delivery needs both
        ({**NEW, "notice_version": notice.version()}, "notice_delivered_at"),
    ]
    with clock.frozen(datetime(2026, 3, 1, 12, 0, tzinfo=UTC)):
        cases.append(({**NEW, **DELIVERY, "notice_delivered_at": "2026-03-02"}, "notice_delivered_at"))  # future
        for body, field in cases:
            status, resp = call(client, "POST", "/partners", tokens.staff, body)
            assert status == 400, (field, resp)
            assert field in [d["field"] for d in resp["error"]["details"]], resp
            assert "Lähde" not in resp["error"]["message"] and "not an address" not in str(resp)
    assert call(client, "GET", "/partners/tietotalo", tokens.staff)[0] == 404


def test_kind_specific_fields_are_refused_on_other_kinds(client: Any, stack: Stack, tokens: Tokens) -> None:
    agreement = {"processing_agreement_at": "2026-01-31"}
    refused = [
        ("POST", "/partners", {**NEW, "kind": "reseller", **DELIVERY}, ["notice_delivered_at", "notice_version"]),
        ("POST", "/partners", {**NEW, "kind": "marketing", **DELIVERY}, ["notice_delivered_at", "notice_version"]),
        ("POST", "/partners", {**NEW, **agreement}, ["processing_agreement_at"]),
        ("PATCH", "/partners/acme", agreement, ["processing_agreement_at"]),
        ("PATCH", "/partners/resello", DELIVERY, ["notice_delivered_at", "notice_version"]),
        # Checked against the kind the partner will have.
        ("PATCH", "/partners/acme", {"kind": "marketing", **DELIVERY}, ["notice_delivered_at", "notice_version"]),
        ("PATCH", "/partners/resello", {"kind": "data_provider", **agreement}, ["processing_agreement_at"]),
    ]
    before = {p: call(client, "GET", f"/partners/{p}", tokens.staff)[1] for p in ("acme", "resello")}
    for method, path, body, fields in refused:
        status, resp = call(client, method, path, tokens.staff, body)
        assert status == 400, (path, body, resp)
        assert [d["field"] for d in resp["error"]["details"]] == fields
    assert call(client, "GET", "/partners/tietotalo", tokens.staff)[0] == 404
    assert {p: call(client, "GET", f"/partners/{p}", tokens.staff)[1] for p in before} == before
    # A change of kind drops the previous kind's fields (a marketing partner has no notice delivery).
    status, changed = call(client, "PATCH", "/partners/acme", tokens.staff, {"kind": "marketing", **agreement})
    assert status == 200, changed
    assert not set(DELIVERY) & set(changed) and changed["processing_agreement_at"] == "2026-01-31"
    [event] = [e for e in _audit(stack, "acme") if e["action"] == "update"]
    assert event["fields"] == ["kind", "notice_delivered_at", "notice_version", "processing_agreement_at"]


# -- what the registry's records allow ------------------------------------------------------


def test_a_data_provider_uploads_only_once_the_notice_delivery_is_recorded(
    client: Any, stack: Stack, tokens: Tokens
) -> None:
    from tests.imports_helpers import csv_bytes, drain, object_versions, report, runs_of, upload

    rows = [["Kunta Oy", "Äijä Öhman", "Toimitusjohtaja", "aija.ohman@kunta.fi", "040 123 4567"]]
    assert call(client, "POST", "/partners", tokens.staff, NEW)[0] == 201
    upload(stack, "incoming/tietotalo/lista.csv", csv_bytes(rows))
    drain(stack)
    [refused] = runs_of(stack, "tietotalo")
    assert refused["state"] == "failed" and refused["failure"]["code"] == "notice_not_delivered"
    assert refused["counts"]["rows"] == 0
    assert report(stack, refused)["failure"] == {
        "code": "notice_not_delivered",
        "message": "The partner registry has no record of our privacy notice being given to this partner.",
        "retryable": False,
    }
    assert object_versions(stack, "incoming/tietotalo/") == []
    status, run = call(client, "GET", f"/import-runs/{refused['run_id']}", tokens.staff)
    assert status == 200 and run["failure"]["code"] == "notice_not_delivered"
    # Staff record the delivery: the next upload is imported.
    assert call(client, "PATCH", "/partners/tietotalo", tokens.staff, DELIVERY)[0] == 200
    upload(stack, "incoming/tietotalo/lista2.csv", csv_bytes(rows))
    drain(stack)
    assert sorted(r["state"] for r in runs_of(stack, "tietotalo")) == ["done", "failed"]


def test_a_marketing_partner_is_admitted_only_with_its_processing_agreement(
    client: Any, stack: Stack, tokens: Tokens
) -> None:
    marketing = {**NEW, "partner_id": "soittajat", "kind": "marketing"}
    assert call(client, "POST", "/partners", tokens.staff, marketing)[0] == 201
    user = stack.user("soittaja", ["partner"], partner_id="soittajat", partner_type="marketing")
    with pytest.raises(Forbidden, match="processing agreement"):
        partners.admit("soittajat", kinds=frozenset({"marketing"}))
    agreement = {"processing_agreement_at": "2026-01-31"}
    assert call(client, "PATCH", "/partners/soittajat", tokens.staff, agreement)[0] == 200
    assert partners.admit("soittajat", kinds=frozenset({"marketing"}))["partner_id"] == "soittajat"
    # A marketing partner is no uploader: the partners' own import routes stay closed to it,
    # agreement or not (its routes are its assigned campaigns').
    status, body = call(client, "GET", "/partner/import-runs", user)
    assert status == 403 and body["error"]["code"] == "forbidden"


def test_a_partner_route_needs_an_uploader_in_the_registry(client: Any, stack: Stack, tokens: Tokens) -> None:
    # A token claiming to be a data provider for a partner the registry has as a marketing
    # partner is still refused the uploaders' routes: the registry's kind decides.
    register_partner(stack, "markkinoija", "marketing")
    claims_provider = stack.user("mk-user", ["partner"], partner_id="markkinoija", partner_type="data_provider")
    status, body = call(client, "GET", "/partner/import-runs", claims_provider)
    assert status == 403 and body["error"]["code"] == "forbidden"


# -- every change audited with the write; optimistic concurrency -----------------------------


@pytest.fixture
def faults(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> f.FaultInjector:
    return f.install(monkeypatch)


def _partner_items(stack: Stack) -> list[dict[str, Any]]:
    return sorted(stack.table("partners").scan(ConsistentRead=True)["Items"], key=lambda i: i["partner_id"])


def _changes(stack: Stack, partner_id: str) -> Counter[str]:
    return Counter(e["action"] for e in _audit(stack, partner_id))


@pytest.mark.parametrize("fault", [f.LOST_REPLY, f.CONNECTION_RESET, f.INTERNAL_SERVER_ERROR], ids=lambda x: x.kind)
def test_each_change_and_its_audit_event_commit_together_once(
    client: Any, stack: Stack, tokens: Tokens, faults: f.FaultInjector, fault: f.Fault
) -> None:
    faults.inject("dynamodb", "TransactWriteItems", fault, times=2)
    status, created = call(client, "POST", "/partners", tokens.staff, NEW)
    assert status == 201, created
    status, changed = call(client, "PATCH", "/partners/tietotalo", tokens.staff, {"status": "suspended", **DELIVERY})
    assert status == 200, changed
    assert faults.injected[("dynamodb", "TransactWriteItems")] == 2
    # The registry is written only in transactions with the event, never on its own.
    assert not faults.calls[("dynamodb", "PutItem")] and not faults.calls[("dynamodb", "UpdateItem")]
    assert _changes(stack, "tietotalo") == Counter(create=1, update=1)
    assert changed["version"] == 2 and changed["status"] == "suspended"
    event = next(e for e in _audit(stack, "tietotalo") if e["action"] == "update")
    assert event["fields"] == ["notice_delivered_at", "notice_version", "status"]
    assert CONTACT["email"] not in str(_audit(stack, "tietotalo"))  # names, never values


def test_a_change_past_the_retry_budget_writes_neither_record_nor_event(
    client: Any, stack: Stack, tokens: Tokens, faults: f.FaultInjector
) -> None:
    partners_before, audit_before = _partner_items(stack), stack.table("audit").scan(ConsistentRead=True)["Items"]
    faults.inject("dynamodb", "TransactWriteItems", f.INTERNAL_SERVER_ERROR, times=2 * f.RETRY_BUDGET)
    status, body = call(client, "POST", "/partners", tokens.staff, NEW)
    assert status == 503 and body["error"]["code"] == "service_unavailable"
    status, body = call(client, "PATCH", "/partners/acme", tokens.staff, {"status": "ended"})
    assert status == 503 and body["error"]["code"] == "service_unavailable"
    assert _partner_items(stack) == partners_before
    assert stack.table("audit").scan(ConsistentRead=True)["Items"] == audit_before


def test_a_change_against_an_old_version_is_a_conflict(client: Any, stack: Stack, tokens: Tokens) -> None:
    version = call(client, "GET", "/partners/acme", tokens.staff)[1]["version"]
    assert call(client, "PATCH", "/partners/acme", tokens.staff, {"name": "Acme Oyj", "version": version})[0] == 200
    # Another staff member's edit, made against what they read before that change.
    status, body = call(client, "PATCH", "/partners/acme", tokens.dpo, {"status": "ended", "version": version})
    assert status == 409 and body["error"]["code"] == "conflict", body
    current = call(client, "GET", "/partners/acme", tokens.staff)[1]
    assert current["status"] == "active" and current["version"] == version + 1
    assert _changes(stack, "acme") == Counter(update=1)


def test_a_change_racing_another_is_a_conflict_not_a_lost_update(
    client: Any, stack: Stack, tokens: Tokens, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without a version from the client, the change is conditional on the version it read."""
    from chalicelib import partners

    read = partners.get

    def read_then_changed_meanwhile(partner_id: str) -> dict[str, Any]:
        item = read(partner_id)
        monkeypatch.setattr(partners, "get", read)
        partners.update(partner_id, {"name": "Acme Meanwhile Oy"}, setup_actor())
        return item

    monkeypatch.setattr(partners, "get", read_then_changed_meanwhile)
    status, body = call(client, "PATCH", "/partners/acme", tokens.staff, {"status": "suspended"})
    assert status == 409 and body["error"]["code"] == "conflict", body
    current = call(client, "GET", "/partners/acme", tokens.staff)[1]
    assert (current["name"], current["status"]) == ("Acme Meanwhile Oy", "active")
    assert _changes(stack, "acme") == Counter(update=1)  # the other change's event only
