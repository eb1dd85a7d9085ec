"""Customer register through the HTTP API: what each principal can do, and what is audited."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from boto3.dynamodb.conditions import Key

from chalicelib import clock, customers, pseudonyms, store
from tests.conftest import REGION, Stack, Tokens, call, register_partner, registration_body, sent_mail

NEW_CUSTOMER = {
    "organization": "Kuntoyhtymä Oy",
    "business_id": "2617416-4",
    "contact_name": "Pekka Puuronen",
    "email": "Pekka.Puuronen@Kuntoyhtyma.FI",
    "phone": "+358 50 765 4321",
    "username": "pekka.p",
    "billing_address": {"street": "Laskutie 5", "postal_code": "33100", "city": "Tampere"},
    "active_services": [{"service": "Ilopiste Pro", "price": "49.90", "period": "month"}],
}


def _create(client: Any, tokens: Tokens, **overrides: Any) -> dict[str, Any]:
    status, body = call(client, "POST", "/customers", tokens.staff, {**NEW_CUSTOMER, **overrides})
    assert status == 201, body
    return dict(body)


def _audit(stack: Stack, record_id: str) -> list[dict[str, Any]]:
    resp = stack.table("audit").query(KeyConditionExpression=Key("pk").eq(f"RECORD#customers#{record_id}"))
    return list(resp["Items"])


def test_registration_creates_customer_login_and_consent(client: Any, tokens: Tokens) -> None:
    status, body = call(client, "GET", "/me", tokens.customer)
    assert status == 200, body
    customer = body["customer"]
    assert customer["email"] == "asiakas@yritys.fi"
    assert customer["phone"] == "+358401234567"
    assert customer["consent_service_messages"]["given"] is True
    assert customer["consent_service_messages"]["at"].endswith("Z")
    assert body["orders"] == []
    assert "password" not in str(body)


def test_registration_requires_an_explicit_consent_answer(client: Any, stack: Stack) -> None:
    body = registration_body("nelli", "nelli@firma.fi")
    del body["consent_service_messages"]
    status, resp = call(client, "POST", "/registrations", None, body)
    assert status == 400
    assert {"field": "consent_service_messages", "reason": "required"} in resp["error"]["details"]
    status, resp = call(client, "POST", "/registrations", None, {**body, "consent_service_messages": "yes"})
    assert status == 400


def test_registration_with_weak_password_leaves_nothing_behind(client: Any, stack: Stack, tokens: Tokens) -> None:
    mails = len(sent_mail())
    for weak in ("short", "alllowercase-no-digits", "NoSymbolsHere12345"):
        # A taken address with a weak password is the same 400: the policy comes before any look-up.
        for email in ("h@firma.fi", "asiakas@yritys.fi"):
            status, resp = call(
                client, "POST", "/registrations", None, registration_body("heikki", email, password=weak)
            )
            assert status == 400, resp
            assert resp["error"]["details"][0]["field"] == "password"
    assert len(sent_mail()) == mails
    assert (
        stack.table("customers").get_item(Key=customers.username_guard(pseudonyms.username_hash("heikki"))).get("Item")
        is None
    )
    # Nothing was reserved: a compliant registration of the same address and username goes through.
    status, resp = call(client, "POST", "/registrations", None, registration_body("heikki", "h@firma.fi"))
    assert status == 202, resp


def test_registration_answers_alike_for_new_and_taken_addresses_and_usernames(
    client: Any, stack: Stack, tokens: Tokens
) -> None:
    """The probe: a taken address, a taken username and a free pair get identical answers."""
    answers = [
        call(client, "POST", "/registrations", None, registration_body(username, email))
        for username, email in (
            ("toinen", "ASIAKAS@yritys.fi"),  # the address is registered (another case)
            ("asiakas", "vapaa@firma.fi"),  # the username is taken
            ("sari.staff", "sari@firma.fi"),  # a staff username: another pool, so simply free
            ("uusi", "uusi@firma.fi"),  # both free
        )
    ]
    assert len({json.dumps(a, sort_keys=True) for a in answers}) == 1
    assert answers[0][0] == 202
    # The owner of the registered address is told by email, and nothing of theirs changed.
    _own_confirmation, notice = sent_mail("ASIAKAS@yritys.fi")  # the owner's own confirmation, then the notice
    assert "rekisteröityä" in notice["Subject"]
    assert "salasanasi" in notice.get_body().get_content()
    # The taken username is reported to the address that asked for it; no record was made.
    (note,) = sent_mail("vapaa@firma.fi")
    assert "käyttäjätunnus" in note.get_body().get_content()
    assert (
        stack.table("customers")
        .get_item(Key=customers.email_guard(pseudonyms.email_hash("vapaa@firma.fi")))
        .get("Item")
        is None
    )
    # The staff user is untouched, and the customer of that name lives in the customer pool.
    assert stack.cognito.admin_get_user(UserPoolId=stack.info["user_pool_id"], Username="sari.staff")["Enabled"]
    assert stack.customer_user("sari.staff")["Enabled"] is False
    # Staff cannot create a second customer with a taken username either.
    status, _ = call(client, "POST", "/customers", tokens.staff, {**NEW_CUSTOMER, "username": "asiakas"})
    assert status == 409


def test_staff_creates_reads_and_rectifies_a_customer(client: Any, stack: Stack, tokens: Tokens) -> None:
    created = _create(client, tokens)
    cid = created["customer_id"]
    assert created["email"] == "Pekka.Puuronen@kuntoyhtyma.fi"
    assert created["phone"] == "+358507654321"
    assert created["active_services"][0]["price"] == "49.90"
    cognito = boto3.client("cognito-idp", region_name=REGION)
    user = cognito.admin_get_user(UserPoolId=stack.info["customer_user_pool_id"], Username="pekka.p")
    assert {"Name": "custom:customer_id", "Value": cid} in user["UserAttributes"]

    status, body = call(client, "GET", f"/customers/{cid}", tokens.staff)
    assert status == 200 and body["contact_name"] == "Pekka Puuronen"

    status, body = call(client, "PATCH", f"/customers/{cid}", tokens.staff, {"email": "pekka@uusi.fi", "phone": None})
    assert status == 200, body
    assert body["email"] == "pekka@uusi.fi"
    assert "phone" not in body
    user = cognito.admin_get_user(UserPoolId=stack.info["customer_user_pool_id"], Username="pekka.p")
    assert {"Name": "email", "Value": "pekka@uusi.fi"} in user["UserAttributes"]
    # The old address is free for someone else now; the new one is taken.
    assert call(client, "POST", "/customers", tokens.staff, {**NEW_CUSTOMER, "username": "other1"})[0] == 201
    status, _ = call(
        client, "POST", "/customers", tokens.staff, {**NEW_CUSTOMER, "email": "pekka@uusi.fi", "username": "other2"}
    )
    assert status == 409


def test_rectification_refuses_username_required_removal_and_unknown_fields(client: Any, tokens: Tokens) -> None:
    cid = _create(client, tokens)["customer_id"]
    assert call(client, "PATCH", f"/customers/{cid}", tokens.staff, {"username": "newname"})[0] == 400
    assert call(client, "PATCH", f"/customers/{cid}", tokens.staff, {"contact_name": None})[0] == 400
    status, body = call(client, "PATCH", f"/customers/{cid}", tokens.staff, {"favourite_colour": "red"})
    assert status == 400 and "favourite_colour" in body["error"]["message"]
    assert call(client, "PATCH", f"/customers/{cid}", tokens.staff, {})[0] == 400


def test_contract_end_and_reactivation(client: Any, stack: Stack, tokens: Tokens) -> None:
    cid = _create(client, tokens)["customer_id"]
    status, body = call(client, "POST", f"/customers/{cid}/contract-end", tokens.staff, {"end_date": "2026-03-31"})
    assert status == 200, body
    assert body["status"] == "ended" and body["contract_end"] == "2026-03-31"
    item = stack.table("customers").get_item(Key={"pk": f"CUSTOMER#{cid}", "sk": "PROFILE"})["Item"]
    assert (item["retention_rule"], item["retention_due_at"]) == ("customer_grace", "2027-03-31")
    # An ended customer cannot order and cannot be ended twice.
    assert call(client, "POST", f"/customers/{cid}/orders", tokens.staff, {"items": [_line()]})[0] == 409
    assert call(client, "POST", f"/customers/{cid}/contract-end", tokens.staff, {"end_date": "2026-04-01"})[0] == 409
    status, body = call(client, "POST", f"/customers/{cid}/reactivation", tokens.staff, None)
    assert status == 200 and body["status"] == "active"
    item = stack.table("customers").get_item(Key={"pk": f"CUSTOMER#{cid}", "sk": "PROFILE"})["Item"]
    # Kept while used again: the dormancy period counts from the reactivation (issue 11).
    assert (item["retention_rule"], item["retention_due_at"]) == (
        "customer_dormant",
        customers.dormant_due(clock.local_date()),
    )
    assert call(client, "POST", f"/customers/{cid}/reactivation", tokens.staff, None)[0] == 409


def test_a_contract_end_in_the_future_takes_effect_on_that_date(client: Any, stack: Stack, tokens: Tokens) -> None:
    cid, path = tokens.customer_id, f"/customers/{tokens.customer_id}"
    _offer(client, tokens, ("Ilopiste Pro", "49.90"))

    def stamp() -> tuple[Any, Any]:
        item = stack.table("customers").get_item(Key={"pk": f"CUSTOMER#{cid}", "sk": "PROFILE"})["Item"]
        return item.get("retention_rule"), item.get("retention_due_at")

    def listed(status: str) -> bool:
        answer = call(client, "GET", f"/customers?status={status}", tokens.staff)[1]
        return cid in {c["customer_id"] for c in answer["items"]}

    with clock.frozen(datetime(2026, 6, 10, 9, tzinfo=UTC)):
        status, body = call(client, "POST", f"{path}/contract-end", tokens.staff, {"end_date": "2026-06-30"})
        assert status == 200, body
        assert (body["status"], body["contract_end"]) == ("active", "2026-06-30")
        assert stamp() == ("customer_grace", "2027-06-30")
        assert call(client, "POST", "/me/orders", tokens.customer, {"items": [_line()]})[0] == 201
        assert listed("active") and not listed("ended")
        # Until it takes effect, staff may move the date, or cancel it by reactivation.
        status, body = call(client, "POST", f"{path}/contract-end", tokens.staff, {"end_date": "2026-07-31"})
        assert status == 200 and body["status"] == "active" and stamp() == ("customer_grace", "2027-07-31")
    with clock.frozen(datetime(2026, 7, 30, 20, 59, tzinfo=UTC)):  # 23:59 on 30 July in Helsinki
        assert call(client, "GET", path, tokens.staff)[1]["status"] == "active"
        assert call(client, "POST", "/me/orders", tokens.customer, {"items": [_line()]})[0] == 201
    with clock.frozen(datetime(2026, 7, 30, 21, 0, tzinfo=UTC)):  # 00:00 on 31 July in Helsinki
        assert call(client, "GET", path, tokens.staff)[1]["status"] == "ended"
        assert call(client, "GET", "/me", tokens.customer)[1]["customer"]["status"] == "ended"
        assert call(client, "POST", "/me/orders", tokens.customer, {"items": [_line()]})[0] == 409
        assert listed("ended") and not listed("active")
        assert call(client, "POST", f"{path}/contract-end", tokens.staff, {"end_date": "2026-08-31"})[0] == 409
        assert stamp() == ("customer_grace", "2027-07-31")
        status, body = call(client, "POST", f"{path}/reactivation", tokens.staff, None)
        assert status == 200 and body["status"] == "active" and "contract_end" not in body
        assert stamp() == ("customer_dormant", "2028-07-31")
        # A scheduled end is cancelled by reactivation before it takes effect.
        call(client, "POST", f"{path}/contract-end", tokens.staff, {"end_date": "2026-12-31"})
        status, body = call(client, "POST", f"{path}/reactivation", tokens.staff, None)
        assert status == 200 and "contract_end" not in body and stamp() == ("customer_dormant", "2028-07-31")
        assert call(client, "POST", f"{path}/reactivation", tokens.staff, None)[0] == 409


def test_every_change_moves_the_version(client: Any, tokens: Tokens) -> None:
    """Services, contract end, reactivation, consent and PATCH each move `version` by one."""
    cid = tokens.customer_id
    services = {"active_services": [{"service": "Ilopiste", "price": 19, "period": "year"}]}
    yesterday = (clock.local_date() - timedelta(days=1)).isoformat()
    status, body = call(client, "GET", f"/customers/{cid}", tokens.staff)
    versions = [body["version"]]
    for method, path, token, payload in [
        ("PUT", f"/customers/{cid}/services", tokens.staff, services),
        ("POST", f"/customers/{cid}/contract-end", tokens.staff, {"end_date": yesterday}),
        ("POST", f"/customers/{cid}/reactivation", tokens.staff, None),
        ("PUT", "/me/consent", tokens.customer, {"consent_service_messages": False}),
        ("PATCH", f"/customers/{cid}", tokens.staff, {"phone": "+358401234567"}),
    ]:
        status, body = call(client, method, path, token, payload)
        assert status == 200, (path, body)
        versions.append(body["version"])
    assert versions == list(range(versions[0], versions[0] + 6))
    assert call(client, "GET", "/me", tokens.customer)[1]["customer"]["version"] == versions[-1]


def test_contract_end_needs_a_real_date(client: Any, tokens: Tokens) -> None:
    cid = _create(client, tokens)["customer_id"]
    for bad in ({"end_date": "2026-02-30"}, {"end_date": "tomorrow"}, {}, {"end_date": "2026-01-01", "x": 1}):
        assert call(client, "POST", f"/customers/{cid}/contract-end", tokens.staff, bad)[0] == 400


def _line(**overrides: Any) -> dict[str, Any]:
    return {"service": "Ilopiste Pro", "quantity": 2, **overrides}


def _offer(client: Any, tokens: Tokens, *services: tuple[str, str]) -> None:
    """Staff set the customer's active services: what it may order, at these prices."""
    body = {"active_services": [{"service": name, "price": price} for name, price in services]}
    status, answer = call(client, "PUT", f"/customers/{tokens.customer_id}/services", tokens.staff, body)
    assert status == 200, answer


def test_orders_by_staff_and_by_the_customer(client: Any, stack: Stack, tokens: Tokens) -> None:
    _offer(client, tokens, ("Ilopiste Pro", "49.90"))
    status, order = call(client, "POST", "/me/orders", tokens.customer, {"items": [_line()], "reference": "PO-1"})
    assert status == 201, order
    assert order["total"] == "99.80"
    assert order["items"] == [
        {"service": "Ilopiste Pro", "quantity": 2, "unit_price": "49.90", "currency": "EUR", "period": "month"}
    ]
    assert order["retention_due_at"] > "2032-12-31"
    status, _ = call(
        client, "POST", f"/customers/{tokens.customer_id}/orders", tokens.staff, {"items": [_line(quantity=1)]}
    )
    assert status == 201
    status, mine = call(client, "GET", "/me/orders", tokens.customer)
    assert status == 200 and len(mine["items"]) == 2
    status, theirs = call(client, "GET", f"/customers/{tokens.customer_id}/orders", tokens.staff)
    assert status == 200 and {o["order_id"] for o in theirs["items"]} == {o["order_id"] for o in mine["items"]}
    for bad in ({"items": []}, {"items": [_line(quantity=0)]}, {"items": [_line(unit_price="-1")]}, {}):
        assert call(client, "POST", "/me/orders", tokens.customer, bad)[0] == 400


def test_orders_take_services_and_prices_from_the_active_services(client: Any, stack: Stack, tokens: Tokens) -> None:
    _offer(client, tokens, ("Ilopiste Pro", "49.90"), ("Kuntokartoitus", "120.00"))
    # The client names no price: sending one is refused, whatever service it names.
    for line in ({"service": "anything", "unit_price": "0.00"}, _line(unit_price="0.00")):
        status, body = call(client, "POST", "/me/orders", tokens.customer, {"items": [{"quantity": 1, **line}]})
        assert status == 400 and body["error"]["details"][0]["reason"] == "unknown field", body
    # A service the customer does not have cannot be ordered, by the customer or by staff.
    lines = {"items": [_line(), {"service": "anything", "quantity": 1}]}
    for path, token in (("/me/orders", tokens.customer), (f"/customers/{tokens.customer_id}/orders", tokens.staff)):
        status, body = call(client, "POST", path, token, lines)
        assert status == 400, body
        assert body["error"]["details"] == [{"field": "items.1.service", "reason": "not an active service"}]
    assert not [i for i in stack.table("customers").scan()["Items"] if i.get("entity") == "order"]
    status, order = call(
        client,
        "POST",
        "/me/orders",
        tokens.customer,
        {"items": [_line(quantity=1), {"service": "Kuntokartoitus", "quantity": 2}]},
    )
    assert status == 201 and order["total"] == "289.90", order
    # A later price change is not a change of an order already placed.
    _offer(client, tokens, ("Ilopiste Pro", "59.90"))
    status, mine = call(client, "GET", "/me/orders", tokens.customer)
    assert [o["total"] for o in mine["items"]] == ["289.90"]
    # Without active services there is nothing to order.
    _offer(client, tokens)
    assert call(client, "POST", "/me/orders", tokens.customer, {"items": [_line()]})[0] == 400


def test_a_service_is_listed_only_once(client: Any, tokens: Tokens) -> None:
    body = {"active_services": [{"service": "Ilopiste", "price": "1.00"}, {"service": "Ilopiste", "price": "0.00"}]}
    status, answer = call(client, "PUT", f"/customers/{tokens.customer_id}/services", tokens.staff, body)
    assert status == 400 and answer["error"]["details"][0]["reason"] == "each service may be listed only once"


def test_services_and_prices(client: Any, tokens: Tokens) -> None:
    cid = tokens.customer_id
    services = {"active_services": [{"service": "Ilopiste", "price": 19, "period": "year"}]}
    status, body = call(client, "PUT", f"/customers/{cid}/services", tokens.staff, services)
    assert status == 200
    assert body["active_services"] == [{"service": "Ilopiste", "price": "19.00", "currency": "EUR", "period": "year"}]
    bad = {"active_services": [{"service": "Ilopiste", "price": 19, "currency": "USD"}]}
    assert call(client, "PUT", f"/customers/{cid}/services", tokens.staff, bad)[0] == 400


def test_customer_corrects_own_data_but_not_services_or_username(client: Any, tokens: Tokens) -> None:
    status, body = call(client, "PATCH", "/me", tokens.customer, {"contact_name": "Maija Virtanen"})
    assert status == 200 and body["contact_name"] == "Maija Virtanen"
    assert call(client, "PATCH", "/me", tokens.customer, {"active_services": []})[0] == 400
    assert call(client, "PATCH", "/me", tokens.customer, {"username": "x"})[0] == 400
    status, body = call(client, "PUT", "/me/consent", tokens.customer, {"consent_service_messages": False})
    assert status == 200 and body["consent_service_messages"]["given"] is False


def test_list_search_and_stable_cursor(client: Any, tokens: Tokens) -> None:
    ids = [tokens.customer_id]
    for n in range(4):
        ids.append(
            _create(client, tokens, email=f"p{n}@kunta{n}.fi", username=f"user{n}", organization=f"Kunta {n}")[
                "customer_id"
            ]
        )
    seen: list[str] = []
    cursor = None
    while True:
        path = "/customers?limit=2" + (f"&cursor={cursor}" if cursor else "")
        status, page = call(client, "GET", path, tokens.staff)
        assert status == 200, page
        seen += [c["customer_id"] for c in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == ids
    status, found = call(client, "GET", "/customers?q=kunta%203", tokens.staff)
    assert [c["organization"] for c in found["items"]] == ["Kunta 3"]
    status, found = call(client, "POST", "/customers/search", tokens.staff, {"email": "P2@KUNTA2.FI"})
    assert [c["customer_id"] for c in found["items"]] == [ids[3]]


def test_search_by_name_in_the_body_pages_and_is_audited(client: Any, tokens: Tokens, stack: Stack) -> None:
    made = [
        _create(
            client, tokens, email=f"n{n}@nimi{n}.fi", username=f"nimi{n}", organization=f"Nimi {n}", contact_name=name
        )
        for n, name in enumerate(["Aino Kivimäki", "Eero Kivi", "Liisa Laine"])
    ]
    for typed in ("kivi", "Kivi", " kivi "):
        status, found = call(client, "POST", "/customers/search", tokens.staff, {"name": typed})
        assert status == 200, found
        assert sorted(c["contact_name"] for c in found["items"]) == ["Aino Kivimäki", "Eero Kivi"]
    # A name search reads the list a page at a time; the cursor goes on in the body.
    status, found = call(client, "POST", "/customers/search", tokens.staff, {"name": "Liisa"})
    assert [c["customer_id"] for c in found["items"]] == [made[2]["customer_id"]]
    assert found["next_cursor"] is None
    assert any(e["action"] == "search" for e in _audit(stack, made[2]["customer_id"]))
    bad_bodies = (
        {},
        {"email": "a@b.fi", "name": "Liisa"},
        {"name": "L"},
        {"name": "   "},  # blank would match everyone
        {"name": " a "},
        {"email": "a@b.fi", "cursor": "x"},
    )
    for body in bad_bodies:
        status, bad = call(client, "POST", "/customers/search", tokens.staff, body)
        assert status == 400 and bad["error"]["code"] == "validation_failed", (body, bad)
        assert "Liisa" not in str(bad)


def test_a_broad_name_search_answers_a_bounded_page_and_a_cursor(
    client: Any, tokens: Tokens, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store, "NAME_SEARCH_PAGE", 2)
    monkeypatch.setattr(store, "NAME_SEARCH_MATCHES", 3)
    monkeypatch.setattr(store, "NAME_SEARCH_READ", 6)
    for n in range(5):
        _create(
            client,
            tokens,
            email=f"v{n}@virta{n}.fi",
            username=f"virta{n}",
            organization=f"V {n}",
            contact_name="Ville Virta",
        )
    for n in range(7):
        _create(
            client, tokens, email=f"m{n}@muu{n}.fi", username=f"muu{n}", organization=f"M {n}", contact_name="Muu Nimi"
        )
    found: list[str] = []
    cursor = None
    sizes = []
    while True:
        status, page = call(
            client,
            "POST",
            "/customers/search",
            tokens.staff,
            {"name": "virta", "cursor": cursor} if cursor else {"name": "virta"},
        )
        assert status == 200, page
        sizes.append(len(page["items"]))
        found += [c["customer_id"] for c in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert len(found) == len(set(found)) == 5
    # At most MATCHES + PAGE - 1 per answer; a page of "Muu Nimi" rows only answers none.
    assert max(sizes) <= 4 and len(sizes) >= 2, sizes


def test_bad_queries_are_400(client: Any, tokens: Tokens) -> None:
    for query in (
        "limit=0",
        "limit=abc",
        "limit=101",
        "cursor=%%%",
        "cursor=eyJ4Ijp7fX0",
        "status=gone",
        "sort=x",
        "email=nope",
    ):
        status, body = call(client, "GET", f"/customers?{query}", tokens.staff)
        assert status == 400, (query, body)
        assert body["error"]["code"]


def test_unknown_customer_is_404(client: Any, tokens: Tokens) -> None:
    status, body = call(client, "GET", "/customers/does-not-exist", tokens.staff)
    assert status == 404 and body == {"error": {"code": "not_found", "message": "No such customer."}}


def test_malformed_bodies_are_json_400s(client: Any, tokens: Tokens) -> None:
    for raw in (b"{", b"null", b"[]", b'"text"', b"\xff\xfe", b"1e999999"):
        status, body = call(client, "POST", "/customers", tokens.staff, raw)
        assert status == 400, (raw, body)
        assert set(body["error"]) >= {"code", "message"}


def test_wrong_content_type_is_a_json_415(client: Any, tokens: Tokens) -> None:
    resp = client.http.post(
        "/customers", headers={"Content-Type": "text/plain", "Authorization": f"Bearer {tokens.staff}"}, body=b"x"
    )
    assert resp.status_code == 415
    assert resp.json_body["error"]["code"] == "unsupported_media_type"


def test_reseller_manages_only_its_own_end_users(client: Any, stack: Stack, tokens: Tokens) -> None:
    status, user = call(
        client, "POST", "/partner/end-users", tokens.reseller, {"name": "Liisa Loppu", "email": "liisa@asiakas.fi"}
    )
    assert status == 201, user
    assert set(user) == {"end_user_id", "partner_id", "created_at", "name", "email"}
    # Only name and email: anything else is refused, nothing is stored.
    status, body = call(
        client, "POST", "/partner/end-users", tokens.reseller, {"name": "X", "email": "x@y.fi", "phone": "0401234567"}
    )
    assert status == 400 and "phone" in body["error"]["message"]
    status, page = call(client, "GET", "/partner/end-users", tokens.reseller)
    assert [u["end_user_id"] for u in page["items"]] == [user["end_user_id"]]
    # Staff see them under the reseller; another reseller cannot delete them.
    status, page = call(client, "GET", "/resellers/resello/end-users", tokens.staff)
    assert [u["end_user_id"] for u in page["items"]] == [user["end_user_id"]]
    register_partner(stack, "other", "reseller")
    other = stack.user("other-reseller", ["partner"], partner_id="other", partner_type="reseller")
    assert call(client, "DELETE", f"/partner/end-users/{user['end_user_id']}", other)[0] == 404
    assert call(client, "DELETE", f"/partner/end-users/{user['end_user_id']}", tokens.reseller)[0] == 200
    assert call(client, "GET", "/partner/end-users", tokens.reseller)[1]["items"] == []
    assert call(client, "DELETE", f"/partner/end-users/{user['end_user_id']}", tokens.reseller)[0] == 404


def test_staff_manage_end_users_of_any_reseller(client: Any, tokens: Tokens) -> None:
    status, user = call(
        client, "POST", "/resellers/resello/end-users", tokens.staff, {"name": "Olli", "email": "o@a.fi"}
    )
    assert status == 201
    assert call(client, "DELETE", f"/resellers/resello/end-users/{user['end_user_id']}", tokens.staff)[0] == 200
    assert call(client, "GET", "/resellers/Bad_Id!/end-users", tokens.staff)[0] == 400


def test_an_address_is_one_end_user_per_reseller_whatever_its_case(client: Any, stack: Stack, tokens: Tokens) -> None:
    status, first = call(
        client, "POST", "/partner/end-users", tokens.reseller, {"name": "Liisa Loppu", "email": "liisa@asiakas.fi"}
    )
    assert status == 201, first
    for path, token in (("/partner/end-users", tokens.reseller), ("/resellers/resello/end-users", tokens.staff)):
        status, body = call(client, "POST", path, token, {"name": "Liisa L", "email": " Liisa@ASIAKAS.fi "})
        assert status == 409, body
        assert body["error"]["code"] == "conflict" and "asiakas" not in body["error"]["message"].lower()
    assert len(call(client, "GET", "/partner/end-users", tokens.reseller)[1]["items"]) == 1
    # Another reseller's customer may well use the same address.
    register_partner(stack, "toinen", "reseller")
    assert (
        call(client, "POST", "/resellers/toinen/end-users", tokens.staff, {"name": "L", "email": "LIISA@asiakas.fi"})[0]
        == 201
    )
    # Removing the end user frees the address for this reseller again.
    assert call(client, "DELETE", f"/partner/end-users/{first['end_user_id']}", tokens.reseller)[0] == 200
    status, again = call(
        client, "POST", "/partner/end-users", tokens.reseller, {"name": "L", "email": "Liisa@Asiakas.fi"}
    )
    assert status == 201, again
    guards = [i for i in stack.table("customers").scan()["Items"] if i.get("entity") == "guard" and "end_user_id" in i]
    assert sorted(g["end_user_id"] for g in guards if g["pk"] == "RESELLER#resello") == [again["end_user_id"]]


def test_resellers_routes_take_only_registered_resellers(client: Any, stack: Stack, tokens: Tokens) -> None:
    user = {"name": "Olli", "email": "o@a.fi"}
    # Unknown partners, and partners of another kind, are no resellers.
    for partner_id in ("tuntematon", "acme"):
        assert call(client, "GET", f"/resellers/{partner_id}/end-users", tokens.staff)[0] == 404
        assert call(client, "POST", f"/resellers/{partner_id}/end-users", tokens.staff, user)[0] == 404
        assert call(client, "DELETE", f"/resellers/{partner_id}/end-users/{'0' * 32}", tokens.staff)[0] == 404
        status, body = call(
            client, "POST", f"/resellers/{partner_id}/contract-end", tokens.staff, {"end_date": "2026-01-31"}
        )
        assert status == 404 and body["error"]["code"] == "not_found"
    # A suspended reseller's end users stay readable to staff, but none are added.
    status, kept = call(client, "POST", "/resellers/resello/end-users", tokens.staff, user)
    assert status == 201
    assert call(client, "PATCH", "/partners/resello", tokens.staff, {"status": "suspended"})[0] == 200
    status, body = call(client, "POST", "/resellers/resello/end-users", tokens.staff, {"name": "U", "email": "u@a.fi"})
    assert status == 409, body
    page = call(client, "GET", "/resellers/resello/end-users", tokens.staff)[1]
    assert [u["end_user_id"] for u in page["items"]] == [kept["end_user_id"]]


def test_every_access_is_audited_with_field_names_only(client: Any, stack: Stack, tokens: Tokens) -> None:
    cid = _create(client, tokens)["customer_id"]
    call(client, "GET", f"/customers/{cid}", tokens.staff)
    call(client, "PATCH", f"/customers/{cid}", tokens.staff, {"phone": "0409999999"})
    call(client, "GET", "/customers", tokens.staff)
    events = _audit(stack, cid)
    assert [e["action"] for e in sorted(events, key=lambda e: e["sk"])] == ["create", "read", "update", "list"]
    update = next(e for e in events if e["action"] == "update")
    assert update["fields"] == ["phone"]
    assert all(e["principal_id"] and e["request_id"] is not None and e["expires_at"] > 0 for e in events)
    flat = str(events)
    for value in ("Pekka", "Puuronen", "kuntoyhtyma", "+358", "0409999999"):
        assert value not in flat


def test_dpo_reads_the_audit_trail_staff_cannot(client: Any, stack: Stack, tokens: Tokens) -> None:
    call(client, "GET", f"/customers/{tokens.customer_id}", tokens.staff)
    status, page = call(client, "GET", f"/audit/records/customers/{tokens.customer_id}", tokens.dpo)
    assert status == 200
    # Newest first: staff's read, the confirmation (consent now counts), the registration.
    assert [e["action"] for e in page["items"]][:3] == ["read", "update", "create"]
    staff_sub = page["items"][0]["principal_id"]
    status, by_principal = call(client, "GET", f"/audit/principals/{staff_sub}", tokens.dpo)
    assert status == 200 and by_principal["items"][0]["record_id"] == tokens.customer_id
    assert call(client, "GET", f"/audit/records/customers/{tokens.customer_id}", tokens.staff)[0] == 403
    assert call(client, "GET", "/audit/records/nonsense/x", tokens.dpo)[0] == 400


def test_audit_answers_have_their_documented_shape(client: Any, stack: Stack, tokens: Tokens) -> None:
    """No storage keys or TTLs; an event id to refer to; empty values left out."""
    from chalicelib import audit
    from chalicelib.api.openapi import document
    from chalicelib.auth import Principal

    call(client, "GET", f"/customers/{tokens.customer_id}", tokens.staff)
    # An event written outside an HTTP request (a job) has no request id.
    audit.record(
        Principal(principal_id="system:test", roles=frozenset()),
        [audit.Access("read", "customers", tokens.customer_id)],
        "",
    )
    schema = document()["components"]["schemas"]["AuditEvent"]
    documented, required = set(schema["properties"]), set(schema["required"])
    status, page = call(client, "GET", f"/audit/records/customers/{tokens.customer_id}", tokens.dpo)
    assert status == 200 and set(page) == {"items", "next_cursor"}
    stored = {e["sk"].rsplit("#", 1)[-1]: e for e in _audit(stack, tokens.customer_id)}
    for event in page["items"]:
        assert required <= set(event) <= documented, event
        assert event["event_id"] in stored
        assert "sk" not in event and "pk" not in event and "expires_at" not in event
        assert event.get("request_id", "x") != ""
    job = next(e for e in page["items"] if e["principal_id"] == "system:test")
    assert "request_id" not in job
    status, by_principal = call(client, "GET", "/audit/principals/system:test", tokens.dpo)
    assert [e["event_id"] for e in by_principal["items"]] == [job["event_id"]]
    assert set(by_principal["items"][0]) <= documented


def test_customer_sees_only_itself(client: Any, tokens: Tokens) -> None:
    other = _create(client, tokens)
    status, me = call(client, "GET", "/me", tokens.customer)
    assert status == 200
    assert me["customer"]["customer_id"] == tokens.customer_id != other["customer_id"]
    assert call(client, "GET", f"/customers/{other['customer_id']}", tokens.customer)[0] == 403


def test_unknown_route_is_a_json_404(client: Any, tokens: Tokens) -> None:
    for token in (None, tokens.staff):
        status, body = call(client, "GET", "/no-such-route", token)
        assert status == 404
        assert body["error"]["code"] == "not_found"


def test_unsupported_method_is_a_json_405(client: Any, tokens: Tokens) -> None:
    status, body = call(client, "DELETE", "/customers", tokens.staff)
    assert status == 405
    assert body["error"]["code"] == "method_not_allowed"


def test_staff_cannot_set_a_persons_consent(client: Any, tokens: Tokens) -> None:
    body = {"consent_service_messages": True}
    status, resp = call(client, "PATCH", f"/customers/{tokens.customer_id}", tokens.staff, body)
    assert status == 400 and "consent_service_messages" in resp["error"]["message"]
    assert call(client, "POST", "/customers", tokens.staff, {**NEW_CUSTOMER, **body})[0] == 400


def test_order_dates_are_finnish_dates(client: Any, tokens: Tokens) -> None:
    """An order at 00:30 on 1 January in Helsinki belongs to the new year (UTC still says 31 Dec)."""
    from datetime import UTC, datetime

    from chalicelib import clock

    _offer(client, tokens, ("Ilopiste Pro", "49.90"))
    with clock.frozen(datetime(2026, 12, 31, 22, 30, tzinfo=UTC)):
        status, order = call(client, "POST", "/me/orders", tokens.customer, {"items": [_line()]})
    assert status == 201, order
    # Fiscal year 2027 ends 2027-12-31; six years on from that year's end.
    assert order["retention_due_at"] == "2034-01-01"


def test_login_email_is_verified_only_when_its_owner_proved_it(client: Any, stack: Stack, tokens: Tokens) -> None:
    # Self-registered: the address was proven with the mailed code.
    assert {"Name": "email_verified", "Value": "true"} in stack.customer_user("asiakas")["UserAttributes"]
    # Created by staff: the address is what staff typed, unproven.
    _create(client, tokens)
    assert {"Name": "email_verified", "Value": "true"} not in stack.customer_user("pekka.p")["UserAttributes"]


def test_odd_input_is_a_4xx_never_a_5xx(client: Any, tokens: Tokens) -> None:
    cid = tokens.customer_id
    cases = [
        ("GET", "/customers?limit=²", None, 400),
        ("GET", "/customers?cursor=eyJwayI6IngifQ", None, 400),  # {"pk": "x"}: not a whole start key
        ("GET", "/customers/" + "a" * 3000, None, 404),
        ("GET", "/customers/ÄÖ%20x", None, 404),
        ("POST", f"/customers/{cid}/contract-end", {"end_date": "9999-12-31"}, 400),
        ("POST", f"/customers/{cid}/contract-end", {"end_date": 0}, 400),
        ("POST", f"/customers/{cid}/contract-end", {"end_date": "1970-01-01"}, 400),
        ("DELETE", "/partner/end-users/not-an-id", None, 404),
    ]
    for method, path, body, expected in cases:
        token = tokens.reseller if path.startswith("/partner") else tokens.staff
        status, resp = call(client, method, path, token, body)
        assert status == expected, (method, path, resp)
        assert resp["error"]["code"]


def test_consent_must_be_a_real_boolean(client: Any, tokens: Tokens) -> None:
    for value in ("yes", 1, None):
        status, _ = call(client, "PUT", "/me/consent", tokens.customer, {"consent_service_messages": value})
        assert status == 400


def test_numbers_read_back_from_the_table_are_json_numbers(client: Any, tokens: Tokens) -> None:
    status, page = call(client, "GET", "/customers", tokens.staff)
    assert status == 200
    assert page["items"][0]["version"] == 2  # registered, then confirmed
