"""Data subject rights end to end through the API: access, rectification, erasure, objection."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from chalicelib import clock, prospects, retention, store, suppression
from tests.conftest import Stack, Tokens, call
from tests.imports_helpers import csv_bytes, drain, prospect_items, runs_of, upload

EMAIL = "asiakas@yritys.fi"  # the customer the `tokens` fixture registers
PROSPECT_ROW = ["Esimerkki Oy", "Maija Meikäläinen", "Toimitusjohtaja", EMAIL, "040 765 4321"]


def import_rows(stack: Stack, rows: list[list[str]], name: str = "lista.csv") -> None:
    upload(stack, f"incoming/acme/{name}", csv_bytes(rows))
    responses = drain(stack)
    assert all(r["batchItemFailures"] == [] for r in responses)


def request(client: Any, token: str, body: dict[str, Any]) -> tuple[int, Any]:
    return call(client, "POST", "/subject-requests", token, body)


def setup_person(client: Any, stack: Stack, tokens: Tokens) -> dict[str, Any]:
    """The customer also is a prospect (imported by a partner) and a reseller's end user."""
    services = {"active_services": [{"service": "Kunto", "price": "9.90"}]}
    assert call(client, "PUT", f"/customers/{tokens.customer_id}/services", tokens.staff, services)[0] == 200
    status, order = call(
        client, "POST", "/me/orders", tokens.customer, {"items": [{"service": "Kunto", "quantity": 1}]}
    )
    assert status == 201, order
    import_rows(stack, [PROSPECT_ROW])
    status, end_user = call(client, "POST", "/partner/end-users", tokens.reseller, {"name": "Maija M", "email": EMAIL})
    assert status == 201, end_user
    return {"order": order, "end_user": end_user}


def test_access_exports_everything_with_purpose_source_and_retention(client: Any, stack: Stack, tokens: Tokens) -> None:
    setup_person(client, stack, tokens)
    status, body = request(client, tokens.staff, {"type": "access", "email": "Asiakas@Yritys.fi"})
    assert status == 200, body
    parts = body["answer"]["parts"]
    kinds = sorted((p["register"], p["record_type"]) for p in parts)
    assert kinds == [
        ("customers", "customer"),
        ("customers", "order"),
        ("customers", "reseller_end_user"),
        ("prospects", "prospect"),
    ]
    customer = next(p for p in parts if p["record_type"] == "customer")
    assert customer["data"]["email"] == EMAIL and customer["data"]["contact_name"] == "Maija Meikäläinen"
    assert customer["purpose"]["en"].startswith("The customer register is used only")
    assert {r["rule"] for r in customer["retention"]} >= {"customer_grace", "customer_bookkeeping"}
    prospect = next(p for p in parts if p["record_type"] == "prospect")
    assert prospect["data"]["title"] == "Toimitusjohtaja"
    assert prospect["source"]["en"].startswith("Public sources")
    assert [r["rule"] for r in prospect["retention"]] == [
        "prospect_refresh",
        "prospect_bounced",
        "prospect_unverified",
        "prospect_objection",
    ]
    assert body["answer"]["suppression"]["on_list"] is False
    assert body["request"]["type"] == "access" and body["request"]["outcome"] == "found"

    # The request is recorded without the person's data.
    status, recorded = call(client, "GET", "/subject-requests", tokens.dpo)
    assert status == 200
    [entry] = recorded["items"]
    assert set(entry) == {"request_ref", "type", "outcome", "channel", "records_touched", "handled_at", "handled_by"}
    assert (entry["type"], entry["outcome"], entry["channel"]) == ("access", "found", "staff")
    assert entry["request_ref"] == body["request"]["request_ref"] and entry["handled_by"] != "anonymous"
    text = json.dumps(entry, ensure_ascii=False).lower()
    assert "asiakas" not in text and "maija" not in text and suppression.current_key(EMAIL).split(":")[1] not in text


def test_rectification_corrects_both_registers(client: Any, stack: Stack, tokens: Tokens) -> None:
    setup_person(client, stack, tokens)
    status, body = request(
        client,
        tokens.staff,
        {"type": "rectification", "email": EMAIL, "changes": {"phone": "050 111 2222", "title": "Hallituksen pj"}},
    )
    assert status == 200, body
    updated = {(u["register"], tuple(u["fields"])) for u in body["answer"]["updated"]}
    assert ("customers", ("phone",)) in updated and ("prospects", ("phone", "title")) in updated
    status, me = call(client, "GET", "/me", tokens.customer)
    assert me["customer"]["phone"] == "+358501112222"
    [profile] = [i for i in prospect_items(stack) if i["sk"] == "PROFILE"]
    assert profile["phone"] == "+358501112222" and profile["title"] == "Hallituksen pj"

    status, body = request(
        client, tokens.staff, {"type": "rectification", "email": EMAIL, "changes": {"phone": "nope"}}
    )
    assert status == 400 and "nope" not in json.dumps(body)
    status, body = request(
        client, tokens.staff, {"type": "rectification", "email": EMAIL, "changes": {"shoe_size": 42}}
    )
    assert status == 400


def test_erasure_keeps_only_bookkeeping_and_says_until_when(client: Any, stack: Stack, tokens: Tokens) -> None:
    with clock.frozen(datetime(2026, 3, 10, 10, tzinfo=UTC)):
        made = setup_person(client, stack, tokens)
        status, body = request(client, tokens.staff, {"type": "erasure", "email": EMAIL})
    assert status == 200, body
    answer = body["answer"]
    erased = {(e["register"], e["record_id"]) for e in answer["erased"]}
    assert ("customers", tokens.customer_id) in erased
    assert ("customers", made["end_user"]["end_user_id"]) in erased
    assert any(r == "prospects" for r, _ in erased)
    kept = {k.get("record_type", k["register"]): k for k in answer["kept"]}
    assert kept["customers"]["fields"] == ["active_services", "business_id", "organization"]
    assert kept["customers"]["kept_until"] == "2033-01-01"  # end of 2026 + 6 years
    assert kept["order"]["record_id"] == made["order"]["order_id"]
    assert kept["order"]["kept_until"] == "2033-01-01"
    assert "Accounting Act" in kept["order"]["basis"]

    profile = store.customers().get_item(Key={"pk": f"CUSTOMER#{tokens.customer_id}", "sk": "PROFILE"})["Item"]
    assert profile["status"] == "erased" and "email" not in profile and "contact_name" not in profile
    assert not stack.customer_login_exists("asiakas")
    assert prospect_items(stack) == []
    status, found = call(client, "POST", "/customers/search", tokens.staff, {"email": EMAIL})
    assert found["items"] == []
    # The end user went with its address's uniqueness guard: nothing of it is left.
    assert store.customers().query(KeyConditionExpression=Key("pk").eq("RESELLER#resello"))["Items"] == []
    # ... and its deletion's one audit event, written in the same transaction.
    assert sorted(audit_actions(stack, "customers", made["end_user"]["end_user_id"])) == [
        ("create", ["email", "name"]),
        ("delete", ["email", "name"]),
    ]
    # A second request finds only what is kept: the prospect's do-not-re-add entry.
    status, again = request(client, tokens.staff, {"type": "erasure", "email": EMAIL})
    assert again["answer"]["erased"] == [] and again["request"]["outcome"] == "kept_only"
    assert [k.get("record_type") for k in again["answer"]["kept"]] == ["do_not_re_add"]


def test_rectified_end_user_address_moves_its_uniqueness_guard(client: Any, stack: Stack, tokens: Tokens) -> None:
    made = setup_person(client, stack, tokens)
    end_user_id = made["end_user"]["end_user_id"]
    status, other = call(client, "POST", "/partner/end-users", tokens.reseller, {"name": "Toinen", "email": "t@a.fi"})
    assert status == 201
    changes = {"email": "Maija.Uusi@Yritys.fi"}
    status, body = request(client, tokens.staff, {"type": "rectification", "email": EMAIL, "changes": changes})
    assert status == 200, body
    add = {"name": "Maija", "email": "maija.uusi@yritys.fi"}
    assert call(client, "POST", "/partner/end-users", tokens.reseller, add)[0] == 409
    assert call(client, "POST", "/partner/end-users", tokens.reseller, {**add, "email": EMAIL.upper()})[0] == 201
    # An address another end user of the reseller holds is not taken over.
    status, body = request(
        client, tokens.staff, {"type": "rectification", "email": "maija.uusi@yritys.fi", "changes": {"email": "T@a.fi"}}
    )
    assert status == 409, body
    # One event for the rectification that moved the guard, none for the refused one.
    assert sorted(audit_actions(stack, "customers", end_user_id)) == [
        ("create", ["email", "name"]),
        ("update", ["email"]),
    ]
    page = call(client, "GET", "/partner/end-users", tokens.reseller)[1]["items"]
    assert sorted(u["email"].lower() for u in page) == sorted(["t@a.fi", "maija.uusi@yritys.fi", EMAIL])
    assert other["end_user_id"] in {u["end_user_id"] for u in page}


def test_erasure_respects_a_legal_hold(client: Any, stack: Stack, tokens: Tokens) -> None:
    status, _ = call(
        client, "PUT", f"/legal-holds/customer/{tokens.customer_id}", tokens.dpo, {"reason": "Riita 4/2026"}
    )
    assert status == 200
    status, body = request(client, tokens.staff, {"type": "erasure", "email": EMAIL})
    assert status == 200
    assert body["answer"]["held"] == [{"register": "customers", "record_id": tokens.customer_id}]
    assert stack.customer_login_exists("asiakas")


def test_objection_removes_prospect_suppresses_blocks_reimport_and_keeps_service_consent(
    client: Any, stack: Stack, tokens: Tokens
) -> None:
    setup_person(client, stack, tokens)
    assert len(prospect_items(stack)) == 1
    status, body = request(client, tokens.staff, {"type": "objection", "email": EMAIL})
    assert status == 200, body
    assert body["answer"] == {
        "prospects_removed": 1,
        "prospects_held": 0,
        "suppressed": True,
        "numbers_do_not_call": 1,
    }
    assert prospect_items(stack) == []
    # The objection covers calls: the prospect's number is on the do-not-call list.
    assert suppression.is_phone_suppressed(PROSPECT_ROW[4])
    # Service messages are a separate purpose: the objection leaves their consent as it was.
    status, me = call(client, "GET", "/me", tokens.customer)
    assert me["customer"]["consent_service_messages"]["given"] is True
    assert len(me["customer"]["consent_history"]) == 1
    assert suppression.is_suppressed(" ASIAKAS@yritys.fi ")
    entry = store.suppression().get_item(Key={"suppression_key": suppression.current_key(EMAIL)})["Item"]
    assert EMAIL not in json.dumps(entry)

    # The same partner (or another) uploads the person again: the import skips them.
    import_rows(stack, [PROSPECT_ROW, ["Toinen Oy", "Olli Muu", "Johtaja", "olli@toinen.fi", ""]], "uusi.csv")
    assert [i["email"] for i in prospect_items(stack)] == ["olli@toinen.fi"]
    [latest] = [r for r in runs_of(stack, "acme") if r["object_key"].endswith("uusi.csv")]
    assert latest["counts"]["rows"] == 2 and latest["counts"]["inserted"] == 1
    assert latest["counts"].get("rejected", 0) + latest["counts"].get("suppressed", 0) >= 1


def test_bad_requests_are_4xx_without_echoing_the_address(client: Any, tokens: Tokens) -> None:
    status, body = request(client, tokens.staff, {"type": "forget", "email": EMAIL})
    assert status == 400
    status, body = request(client, tokens.staff, {"type": "access", "email": "not an address"})
    assert status == 400 and "not an address" not in json.dumps(body)
    status, body = request(client, tokens.staff, {"type": "access"})
    assert status == 400
    status, _ = request(client, tokens.partner, {"type": "access", "email": EMAIL})
    assert status == 403


def audit_actions(stack: Stack, register: str, record_id: str) -> list[tuple[str, list[str]]]:
    resp = store.audit().query(KeyConditionExpression=Key("pk").eq(f"RECORD#{register}#{record_id}"))
    return [(i["action"], list(i.get("fields") or [])) for i in resp["Items"]]


def throttled(*args: Any, **kwargs: Any) -> Any:
    raise ClientError({"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "x"}}, "UpdateItem")


def staff_prospect(client: Any, tokens: Tokens) -> str:
    status, body = call(
        client,
        "POST",
        "/prospects",
        tokens.staff,
        {"organization": "Esimerkki Oy", "contact_name": "Maija M", "email": EMAIL},
    )
    assert status == 201, body
    return str(body["prospect_id"])


def test_rectification_cannot_set_consent_services_or_username(client: Any, tokens: Tokens) -> None:
    assert call(client, "PUT", "/me/consent", tokens.customer, {"consent_service_messages": False})[0] == 200
    for changes in (
        {"consent_service_messages": True},
        {"active_services": [{"service": "Pro", "price": "0"}]},
        {"username": "toinen"},
    ):
        status, body = request(client, tokens.staff, {"type": "rectification", "email": EMAIL, "changes": changes})
        assert status == 400, body
        assert body["error"]["details"][0]["reason"] == "not rectifiable"
    status, me = call(client, "GET", "/me", tokens.customer)
    assert me["customer"]["consent_service_messages"]["given"] is False
    assert me["customer"]["active_services"] == []


def test_rectification_validates_every_register_before_writing(client: Any, stack: Stack, tokens: Tokens) -> None:
    staff_prospect(client, tokens)
    for changes in ({"phone": "0509998877", "title": "x" * 200}, {"phone": "0509998877", "organization": None}):
        status, body = request(client, tokens.staff, {"type": "rectification", "email": EMAIL, "changes": changes})
        assert status == 400, body
    status, me = call(client, "GET", "/me", tokens.customer)
    assert me["customer"]["phone"] != "+358509998877"
    # The one update is the registration's confirmation (its consent), none of this request's
    # (GET /me's record of the day's sign-in, `last_seen_at`, is the person's own).
    updates = [
        f for a, f in audit_actions(stack, "customers", tokens.customer_id) if a == "update" and f != ["last_seen_at"]
    ]
    assert updates == [["consent_history", "consent_service_messages"]]


def test_rectification_failing_half_way_audits_what_it_wrote(
    client: Any, stack: Stack, tokens: Tokens, monkeypatch: Any
) -> None:
    staff_prospect(client, tokens)
    monkeypatch.setattr(prospects, "update", throttled)
    status, _ = request(
        client, tokens.staff, {"type": "rectification", "email": EMAIL, "changes": {"phone": "0509998877"}}
    )
    assert status == 503
    status, me = call(client, "GET", "/me", tokens.customer)
    assert me["customer"]["phone"] == "+358509998877"
    assert ("update", ["phone"]) in audit_actions(stack, "customers", tokens.customer_id)


def test_objection_failing_half_way_is_already_suppressed_and_audited(
    client: Any, stack: Stack, tokens: Tokens, monkeypatch: Any
) -> None:
    pid = staff_prospect(client, tokens)
    monkeypatch.setattr(retention, "delete_prospect", throttled)
    status, _ = request(client, tokens.staff, {"type": "objection", "email": EMAIL})
    assert status == 503
    assert suppression.is_suppressed(EMAIL)
    assert audit_actions(stack, "suppression", suppression.current_key(EMAIL))[0][0] == "create"
    assert len(prospect_items(stack)) == 1

    monkeypatch.undo()  # repeating the request finishes it
    status, body = request(client, tokens.staff, {"type": "objection", "email": EMAIL})
    assert status == 200 and body["answer"]["prospects_removed"] == 1
    assert audit_actions(stack, "prospects", pid)[-1][0] == "delete"
    assert prospect_items(stack) == []


def test_access_export_has_prospect_provenance_but_no_internal_attributes(
    client: Any, stack: Stack, tokens: Tokens
) -> None:
    pid = staff_prospect(client, tokens)
    fields = {"organization": "Muu Oy", "contact_name": "Maija M", "email": EMAIL}
    store.prospects().put_item(Item=prospects.source_item(pid, "acme", fields, clock.iso()))
    assert call(client, "PUT", f"/legal-holds/prospect/{pid}", tokens.dpo, {"reason": "Riita 9/2026"})[0] == 200
    status, body = request(client, tokens.staff, {"type": "access", "email": EMAIL})
    assert status == 200, body
    [part] = [p for p in body["answer"]["parts"] if p["record_type"] == "prospect"]
    assert {"first_seen", "last_verified", "retention_due_at"} <= set(part["record"])
    [source] = part["sources"]
    assert source["source_partner"] == "acme" and source["organization"] == "Muu Oy"
    assert "first_seen" in source and "last_verified" in source
    assert not {"legal_hold", "entity", "retention_rule", "prospect_id"} & set(source)
