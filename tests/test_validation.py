"""Field rules of chalicelib.validation."""

from __future__ import annotations

import pytest

from chalicelib import validation as v
from chalicelib.errors import ValidationFailed
from chalicelib.registers import CUSTOMER, RESELLER_END_USER


@pytest.mark.parametrize(("given", "expected"), [("0112038-9", "0112038-9"), (" 2617416-4 ", "2617416-4")])
def test_business_id_accepts_valid_check_digits(given: str, expected: str) -> None:
    assert v.check_business_id(given) == expected


@pytest.mark.parametrize("given", ["0112038-8", "112038-9", "01120389", "abcdefg-h"])
def test_business_id_refuses_wrong_ones(given: str) -> None:
    with pytest.raises(ValueError):
        v.check_business_id(given)


@pytest.mark.parametrize(
    ("given", "expected"),
    [("040 123 4567", "+358401234567"), ("+358 9 1234 567", "+35891234567"), ("+46 8 123 456 78", "+46812345678")],
)
def test_phone_is_normalised_to_e164_with_finland_as_default(given: str, expected: str) -> None:
    assert v.normalise_phone(given) == expected


@pytest.mark.parametrize("given", ["12", "not a phone", "+358 0"])
def test_phone_refuses_invalid_numbers(given: str) -> None:
    with pytest.raises(ValueError):
        v.normalise_phone(given)


def test_email_key_is_case_insensitive() -> None:
    assert v.email_key("Matti.Meikalainen@Example.FI") == "matti.meikalainen@example.fi"


@pytest.mark.parametrize("given", ["no-at-sign", "a@b", "two@@example.fi"])
def test_email_refuses_invalid_addresses(given: str) -> None:
    with pytest.raises(ValueError):
        v.normalise_email(given)


@pytest.mark.parametrize(("given", "expected"), [("12.5", "12.50"), (7, "7.00"), ("0", "0.00")])
def test_money_is_canonical(given: object, expected: str) -> None:
    assert v.money(given) == expected


@pytest.mark.parametrize("given", ["-1", "1.234", "NaN", "Infinity", True, "abc", None])
def test_money_refuses_bad_amounts(given: object) -> None:
    with pytest.raises(ValueError):
        v.money(given)


def test_unknown_fields_are_named_without_values() -> None:
    with pytest.raises(ValidationFailed) as caught:
        v.parse(v.schema(RESELLER_END_USER, "create"), {"name": "Liisa", "email": "l@x.fi", "phone": "040 1"})
    body = caught.value.to_body()
    assert body["error"]["message"] == "Unknown field(s): phone."
    assert "040" not in str(body)


def test_invalid_values_are_never_echoed() -> None:
    with pytest.raises(ValidationFailed) as caught:
        v.parse(v.schema(CUSTOMER, "update"), {"email": "secret-person-at-example"})
    assert "secret-person" not in str(caught.value.to_body())


def test_control_characters_are_refused() -> None:
    with pytest.raises(ValidationFailed):
        v.parse(v.schema(CUSTOMER, "update"), {"contact_name": "Matti\x00"})


def test_body_must_be_an_object() -> None:
    with pytest.raises(ValidationFailed):
        v.parse(v.schema(CUSTOMER, "update"), ["not", "an", "object"])


def test_dump_keeps_nested_defaults_but_only_sent_fields() -> None:
    model = v.parse(v.schema(CUSTOMER, "update"), {"active_services": [{"service": "Ilopiste", "price": 10}]})
    assert v.dump(model) == {
        "active_services": [{"service": "Ilopiste", "price": "10.00", "currency": "EUR", "period": "month"}]
    }
