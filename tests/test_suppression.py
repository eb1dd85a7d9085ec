"""The suppression list's phone numbers (do not call): keyed hashes apart from emails,
found in any spelling and under every key version of the ring."""

from __future__ import annotations

import json

import boto3
import pytest

from chalicelib import secrets, suppression
from tests.conftest import REGION, Stack, setup_actor

NUMBER = "+358401234567"
SPELLINGS = ("040 123 4567", "+358 40 1234567", "0401234567", NUMBER)


def _events(stack: Stack, key: str) -> list[str]:
    items = stack.table("audit").scan(ConsistentRead=True)["Items"]
    return [i["action"] for i in items if i["pk"] == f"RECORD#suppression#{key}"]


def test_a_phone_key_is_a_prefixed_keyed_hash_without_the_number(stack: Stack) -> None:
    key = suppression.phone_key("040 123 4567")
    prefix, version, mac = key.split(":")
    assert (prefix, version, len(mac)) == ("phone", "v1", 64)
    assert "401234567" not in key
    # Every spelling is one number, and a number's key can never be an email's key form.
    assert {suppression.phone_key(s) for s in SPELLINGS} == {key}
    assert not suppression.current_key("matti@kunta.fi").startswith("phone:")


def test_suppress_phone_is_idempotent_audited_and_found_in_any_spelling(stack: Stack) -> None:
    assert not suppression.is_phone_suppressed(NUMBER)
    key = suppression.suppress_phone("040 123 4567", "do_not_call", setup_actor())
    assert suppression.suppress_phone(NUMBER, "do_not_call", setup_actor()) == key
    items = stack.table("suppression").scan(ConsistentRead=True)["Items"]
    assert [(i["suppression_key"], i["reason"]) for i in items] == [(key, "do_not_call")]
    assert all("401234567" not in json.dumps(i) for i in items)
    assert _events(stack, key) == ["create", "create"]
    for spelling in SPELLINGS:
        assert suppression.is_phone_suppressed(spelling)
    assert not suppression.is_phone_suppressed("+358501234567")


def test_a_number_that_is_not_valid_is_refused_without_its_value(stack: Stack) -> None:
    with pytest.raises(ValueError) as raised:
        suppression.suppress_phone("12", "do_not_call", setup_actor())
    assert "12" not in str(raised.value)
    assert stack.table("suppression").scan()["Items"] == []


def test_an_email_entry_and_a_phone_entry_never_meet(stack: Stack) -> None:
    suppression.suppress("matti@kunta.fi", "objection", setup_actor())
    assert not suppression.is_phone_suppressed(NUMBER)
    suppression.suppress_phone(NUMBER, "objection", setup_actor())
    assert suppression.suppressed_keys(["matti@kunta.fi", "muu@kunta.fi"]) == {"matti@kunta.fi"}


def test_suppressed_phones_batches_and_returns_the_numbers_as_given(stack: Stack) -> None:
    numbers = [f"+35840{n:07d}" for n in range(1, 251)]
    listed = {numbers[0], numbers[120], numbers[249]}
    for number in listed:
        suppression.suppress_phone(number, "do_not_call", setup_actor())
    national = "040 " + numbers[120].removeprefix("+35840")  # the same number spelled another way
    given = [*numbers, national, "0401234567", "not a number"]
    assert suppression.suppressed_phones(given) == listed | {national}
    assert suppression.suppressed_phones([]) == set()


def test_numbers_listed_under_an_old_key_version_stay_listed_after_a_rotation(stack: Stack) -> None:
    old_key = suppression.suppress_phone(NUMBER, "objection", setup_actor())
    sm = boto3.client("secretsmanager", region_name=REGION)
    old = sm.get_secret_value(SecretId=stack.env["PSEUDONYM_KEY_SECRET"])["SecretString"]
    sm.put_secret_value(
        SecretId=stack.env["PSEUDONYM_KEY_SECRET"],
        SecretString=json.dumps({"current": "v2", "keys": {"v1": old, "v2": "r" * 48}}),
    )
    secrets.clear_cache()
    assert suppression.phone_key(NUMBER).startswith("phone:v2:") and suppression.phone_key(NUMBER) != old_key
    assert suppression.is_phone_suppressed("040 123 4567")
    assert suppression.suppressed_phones([NUMBER, "+358501234567"]) == {NUMBER}
