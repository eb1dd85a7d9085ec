"""Keyed-hash keys (chalicelib/pseudonyms) and moving them to a new key (chalicelib/rekeying).

No key or index key of either register is an address or a username; during a rotation,
look-ups and uniqueness hold across key versions; `pseudonym_rekey` moves every stored hash
to the current key, resumably, audited, and a second run has nothing left to do.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from boto3.dynamodb.conditions import Key

from chalicelib import pseudonyms, rekeying, secrets
from chalicelib.audit import Actor
from chalicelib.auth import SYSTEM_REKEY
from tests.conftest import REGION, Stack, Tokens, call
from tests.imports_helpers import csv_bytes, drain, upload

CUSTOMER = {
    "organization": "Kuntoyhtymä Oy",
    "business_id": "2617416-4",
    "contact_name": "Pekka Puuronen",
    "email": "Pekka.Puuronen@Kuntoyhtyma.FI",
    "username": "pekka.p",
    "billing_address": {"street": "Laskutie 5", "postal_code": "33100", "city": "Tampere"},
}
END_USER = {"name": "Liisa Loppu", "email": "liisa@asiakas.fi"}
PROSPECT_ROWS = [
    ["Kunta", "Olli Ohto", "Johtaja", "olli@kunta.fi", ""],
    ["Sote", "Sari Salo", "Ylilääkäri", "sari@sote.fi", ""],
]
PLAIN = ("pekka.puuronen@kuntoyhtyma.fi", "pekka.p", "liisa@asiakas.fi", "olli@kunta.fi", "sari@sote.fi")


class _Context:
    """A Lambda context with the function's configured 15 minutes ahead of it."""

    aws_request_id = "rekey-request"

    def get_remaining_time_in_millis(self) -> int:
        return 900_000


def _invoke(event: dict[str, Any]) -> dict[str, Any]:
    """Invoke `pseudonym_rekey` as Lambda does: the handler with an event and a context."""
    from chalicelib.events import pseudonym_rekey

    return pseudonym_rekey(event, _Context())


def _fill(stack: Stack, client: Any, tokens: Tokens) -> str:
    status, customer = call(client, "POST", "/customers", tokens.staff, CUSTOMER)
    assert status == 201, customer
    assert call(client, "POST", "/partner/end-users", tokens.reseller, END_USER)[0] == 201
    upload(stack, "incoming/acme/lista.csv", csv_bytes(PROSPECT_ROWS))
    drain(stack)
    return str(customer["customer_id"])


def _keys(stack: Stack, table: str) -> list[str]:
    """Every key and index-key value of the table: what exports and CloudTrail show."""
    items = stack.table(table).scan(ConsistentRead=True)["Items"]
    return [str(i.get(a, "")) for i in items for a in ("pk", "sk", "email_hash", "list_sk")]


def _rotate(stack: Stack) -> None:
    sm = boto3.client("secretsmanager", region_name=REGION)
    old = sm.get_secret_value(SecretId=stack.env["PSEUDONYM_KEY_SECRET"])["SecretString"]
    ring = {"current": "v2", "keys": {"v1": old, "v2": "r" * 48}}
    sm.put_secret_value(SecretId=stack.env["PSEUDONYM_KEY_SECRET"], SecretString=json.dumps(ring))
    secrets.clear_cache()


def _versions(stack: Stack) -> dict[str, set[str]]:
    """Key versions of every stored hash, per table (guards by their key, records by attribute)."""
    out: dict[str, set[str]] = {}
    for table in ("customers", "prospects"):
        found: set[str] = set()
        for item in stack.table(table).scan(ConsistentRead=True)["Items"]:
            for attr in ("email_hash", "username_hash"):
                if attr in item:
                    found.add(pseudonyms.version_of(item[attr]))
            for key in (item["pk"], item["sk"]):
                if key.startswith(("EMAIL#", "USERNAME#")):
                    found.add(pseudonyms.version_of(key.split("#", 1)[1]))
        out[table] = found
    return out


def test_no_key_holds_an_address_or_a_username(stack: Stack, client: Any, tokens: Tokens) -> None:
    _fill(stack, client, tokens)
    for table in ("customers", "prospects"):
        keys = " ".join(_keys(stack, table)).lower()
        for plain in PLAIN:
            assert plain not in keys, (table, plain)
    guards = [k for k in _keys(stack, "customers") if k.startswith(("EMAIL#", "USERNAME#"))]
    assert guards and all(k.split("#", 1)[1].startswith("v1:") for k in guards)


def test_during_a_rotation_lookups_and_uniqueness_hold_across_versions(
    stack: Stack, client: Any, tokens: Tokens
) -> None:
    _fill(stack, client, tokens)
    _rotate(stack)
    # The same address in another spelling is still taken, though its guard is under v1.
    status, err = call(
        client,
        "POST",
        "/customers",
        tokens.staff,
        {**CUSTOMER, "email": "pekka.puuronen@kuntoyhtyma.fi", "username": "toinen"},
    )
    assert status == 409, err
    status, err = call(client, "POST", "/customers", tokens.staff, {**CUSTOMER, "email": "uusi@kuntoyhtyma.fi"})
    assert status == 409, err  # the username
    assert call(client, "POST", "/partner/end-users", tokens.reseller, END_USER)[0] == 409
    status, found = call(client, "POST", "/customers/search", tokens.staff, {"email": CUSTOMER["email"]})
    assert status == 200 and [c["username"] for c in found["items"]] == ["pekka.p"]
    status, found = call(client, "POST", "/prospects/search", tokens.staff, {"email": "olli@kunta.fi"})
    assert status == 200 and len(found["items"]) == 1, found
    # A new customer made now is hashed with the new key.
    status, new = call(
        client, "POST", "/customers", tokens.staff, {**CUSTOMER, "email": "uusi@kuntoyhtyma.fi", "username": "uusi"}
    )
    assert status == 201, new
    assert _versions(stack)["customers"] == {"v1", "v2"}


def test_rekey_moves_every_hash_and_guard_to_the_current_key(stack: Stack, client: Any, tokens: Tokens) -> None:
    customer_id = _fill(stack, client, tokens)
    _rotate(stack)
    result = _invoke({})
    assert result["done"] is True, result
    assert result["cursor"] is None and result["key_version"] == "v2"
    # Two customers (the fixtures' own and this one), the end user; two prospects, each a PROFILE
    # and the partner's own SOURCE item.
    assert result["rekeyed"] == {"customers": 3, "prospects": 4}
    assert _versions(stack) == {"customers": {"v2"}, "prospects": {"v2"}}
    guards = [k for k in _keys(stack, "customers") if k.startswith(("EMAIL#", "USERNAME#"))]
    assert len(guards) == 5  # each customer's email and username, the end user's address
    # The address was read to hash it: audited on the record.
    events = stack.table("audit").query(KeyConditionExpression=Key("pk").eq(f"RECORD#customers#{customer_id}"))
    assert [e["fields"] for e in events["Items"] if e["action"] == "rekey"] == [["email", "username"]]
    # Uniqueness and look-ups work under the new key alone: the old key can go.
    sm = boto3.client("secretsmanager", region_name=REGION)
    ring = json.loads(sm.get_secret_value(SecretId=stack.env["PSEUDONYM_KEY_SECRET"])["SecretString"])
    sm.put_secret_value(
        SecretId=stack.env["PSEUDONYM_KEY_SECRET"],
        SecretString=json.dumps({"current": "v2", "keys": {"v2": ring["keys"]["v2"]}}),
    )
    secrets.clear_cache()
    assert call(client, "POST", "/customers", tokens.staff, {**CUSTOMER, "username": "toinen"})[0] == 409
    assert call(client, "POST", "/partner/end-users", tokens.reseller, END_USER)[0] == 409
    status, found = call(client, "POST", "/customers/search", tokens.staff, {"email": CUSTOMER["email"]})
    assert status == 200 and [c["customer_id"] for c in found["items"]] == [customer_id]
    # Nothing is left for a second run.
    again = _invoke({})
    assert again["rekeyed"] == {"customers": 0, "prospects": 0} and again["done"] is True


def _two_pages() -> Callable[[], float]:
    """A time budget that lasts for two pages, then runs out."""
    budget = iter([100.0, 100.0])
    return lambda: next(budget, 0.0)


def test_rekey_continues_from_its_cursor(stack: Stack, client: Any, tokens: Tokens, monkeypatch: Any) -> None:
    _fill(stack, client, tokens)
    _rotate(stack)
    monkeypatch.setattr(rekeying, "_PAGE", 1)
    first = rekeying.run(None, _two_pages(), "run-1")
    assert first["done"] is False and first["cursor"] is not None
    moved = dict(first["rekeyed"])
    cursor = first["cursor"]
    for _ in range(20):
        result = rekeying.run(json.loads(json.dumps(cursor)), _two_pages(), "run-n")
        moved = {t: moved[t] + result["rekeyed"][t] for t in moved}
        cursor = result["cursor"]
        if result["done"]:
            break
    assert moved == {"customers": 3, "prospects": 4}
    assert _versions(stack) == {"customers": {"v2"}, "prospects": {"v2"}}


def test_a_record_changed_meanwhile_is_left_for_the_next_run(stack: Stack, client: Any, tokens: Tokens) -> None:
    customer_id = _fill(stack, client, tokens)
    _rotate(stack)
    [profile] = [
        i
        for i in stack.table("customers").scan()["Items"]
        if i.get("customer_id") == customer_id and i["sk"] == "PROFILE"
    ]
    planned = rekeying.customer_steps(profile, "v2")
    assert planned is not None
    # Staff change the address after the run read the record: its transaction must not apply.
    status, _ = call(client, "PATCH", f"/customers/{customer_id}", tokens.staff, {"email": "vaihdettu@kuntoyhtyma.fi"})
    assert status == 200
    assert rekeying.apply(*planned, Actor(SYSTEM_REKEY, "run")) is False
    status, found = call(client, "POST", "/customers/search", tokens.staff, {"email": "vaihdettu@kuntoyhtyma.fi"})
    assert status == 200 and [c["customer_id"] for c in found["items"]] == [customer_id]


def test_a_bad_cursor_is_refused(stack: Stack) -> None:
    with pytest.raises(ValueError):
        _invoke({"cursor": "x"})
    with pytest.raises(ValueError):
        rekeying.run({"table": "audit", "start": None}, lambda: 900.0, "run")
