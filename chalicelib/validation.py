"""Field rules, and request schemas built from the register definitions.

Each `Kind` of `registers` has exactly one rule here; the pydantic models for create,
update and self-service update are derived from a `RecordType`, so a field added to a
register is validated without restating it.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    HttpUrl,
    StrictBool,
    StringConstraints,
    ValidationError,
    create_model,
    model_validator,
)

from chalicelib.errors import ValidationFailed
from chalicelib.registers import Kind, RecordType

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{2,63}$")
_BUSINESS_ID = re.compile(r"^(\d{7})-(\d)$")
_BUSINESS_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2)


def clean_text(value: str) -> str:
    """Trim and refuse control characters (they break CSV exports and logs)."""
    value = value.strip()
    if _CONTROL.search(value):
        raise ValueError("contains control characters")
    if not value:
        raise ValueError("must not be empty")
    return value


def normalise_email(value: str) -> str:
    """Return the syntactically valid, normalised address (no DNS look-up)."""
    # Loaded on first use (its rule tables take a while to build): reads never need it.
    from email_validator import EmailNotValidError, validate_email

    try:
        result = validate_email(value.strip(), check_deliverability=False)
    except EmailNotValidError:
        raise ValueError("is not a valid email address") from None
    return str(result.normalized)


def email_key(email: str) -> str:
    """The form under which an address is unique and looked up: normalised, lower case."""
    return normalise_email(email).lower()


def ascii_address(email: str) -> str | None:
    """The address as mail systems without SMTPUTF8 (Amazon SES) take it: an internationalised
    domain in IDNA (punycode); None when the local part itself is not ASCII, which they cannot
    deliver to at all."""
    from email_validator import EmailNotValidError, validate_email

    try:
        return validate_email(email, check_deliverability=False).ascii_email
    except EmailNotValidError:
        return None


def checked_email(value: Any) -> str:
    """The normalised address of a request field, or a 400 naming the field but not the value."""
    if not isinstance(value, str):
        raise ValidationFailed("email is required.", details=[{"field": "email", "reason": "required"}])
    try:
        return email_key(value)
    except ValueError:
        raise ValidationFailed(
            "email is not a valid address.", details=[{"field": "email", "reason": "invalid"}]
        ) from None


def normalise_phone(value: str, default_region: str = "FI") -> str:
    """Return the number in E.164, reading national numbers as Finnish by default."""
    import phonenumbers  # loaded on first use (its metadata is large): only writes with a phone need it

    try:
        number = phonenumbers.parse(value, default_region)
    except phonenumbers.NumberParseException:
        raise ValueError("is not a phone number") from None
    if not phonenumbers.is_valid_number(number):
        raise ValueError("is not a valid phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def check_business_id(value: str) -> str:
    """Validate a Finnish business ID (Y-tunnus) including its check digit."""
    value = value.strip()
    match = _BUSINESS_ID.match(value)
    if not match:
        raise ValueError("must look like 1234567-8")
    digits, check = match.group(1), int(match.group(2))
    remainder = sum(int(d) * w for d, w in zip(digits, _BUSINESS_ID_WEIGHTS, strict=True)) % 11
    if remainder == 1 or (0 if remainder == 0 else 11 - remainder) != check:
        raise ValueError("has a wrong check digit")
    return value


def check_username(value: str) -> str:
    value = value.strip().lower()
    if not _USERNAME.match(value):
        raise ValueError("must be 3-64 characters of a-z, 0-9, '.', '_' or '-'")
    return value


def money(value: Any) -> str:
    """A non-negative euro amount with at most two decimals, as a canonical string."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str, Decimal)):
        raise ValueError("must be a number or a decimal string")
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError("must be a decimal amount") from None
    if not amount.is_finite() or amount < 0 or amount > Decimal("1000000"):
        raise ValueError("must be between 0 and 1000000")
    if amount != amount.quantize(Decimal("0.01")):
        raise ValueError("must have at most two decimals")
    return str(amount.quantize(Decimal("0.01")))


def _text(max_length: int) -> Any:
    return Annotated[str, Field(max_length=max_length), AfterValidator(clean_text)]


Money = Annotated[str, BeforeValidator(money)]


def iso_date(value: Any) -> Any:
    """Only a `YYYY-MM-DD` string is a date here: no numbers (0 would read as 1970-01-01)."""
    if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise ValueError("must be a date as YYYY-MM-DD")
    return value


IsoDate = Annotated[date, BeforeValidator(iso_date)]


class StrictModel(BaseModel):
    """Refuses unknown fields: a typo or an extra field is an error, not silently dropped."""

    # Each model builds its validator on first use, not at import: a cold start pays only for
    # the models of the route it serves (docs/architecture.md).
    model_config = ConfigDict(extra="forbid", str_max_length=1000, defer_build=True)


class RecordSearch(StrictModel):
    """A look-up by email address or by a part of the contact person's name, sent in a body so
    neither appears in URLs or logs: exactly one of them. A name search pages with `cursor`."""

    email: Annotated[str, Field(max_length=254)] | None = None
    # Stripped before its length is checked: a blank name would match every record.
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=100)] | None = None
    cursor: Annotated[str, Field(max_length=2048)] | None = None

    @model_validator(mode="after")
    def _one_of(self) -> RecordSearch:
        if (self.email is None) == (self.name is None):
            raise ValueError("Give either email or name.")
        if self.cursor is not None and self.name is None:
            raise ValueError("A cursor pages a name search only.")
        return self


class Address(StrictModel):
    street: _text(200)  # type: ignore[valid-type]
    postal_code: Annotated[str, Field(pattern=r"^[0-9A-Za-z -]{2,12}$")]
    city: _text(100)  # type: ignore[valid-type]
    country: Annotated[str, Field(pattern=r"^[A-Z]{2}$")] = "FI"


class Service(StrictModel):
    service: _text(100)  # type: ignore[valid-type]
    price: Money
    currency: Literal["EUR"] = "EUR"
    period: Literal["month", "year", "once"] = "month"


def _unique_services(services: list[Service]) -> list[Service]:
    """An order names a service by its name, so one name may be on the list only once."""
    names = [s.service for s in services]
    if len(set(names)) != len(names):
        raise ValueError("each service may be listed only once")
    return services


ActiveServices = Annotated[list[Service], Field(max_length=50), AfterValidator(_unique_services)]


class OrderItem(StrictModel):
    """An order line names one of the customer's active services; its price comes from there."""

    service: _text(100)  # type: ignore[valid-type]
    quantity: Annotated[int, Field(ge=1, le=10000, strict=True)]


def _field_type(kind: Kind, max_length: int) -> Any:
    """One rule per value kind."""
    if kind is Kind.TEXT:
        return _text(max_length)
    if kind is Kind.EMAIL:
        return Annotated[str, Field(max_length=max_length), AfterValidator(normalise_email)]
    if kind is Kind.PHONE:
        return Annotated[str, Field(max_length=max_length), AfterValidator(normalise_phone)]
    if kind is Kind.BUSINESS_ID:
        return Annotated[str, Field(max_length=max_length), AfterValidator(check_business_id)]
    if kind is Kind.USERNAME:
        return Annotated[str, Field(max_length=max_length), AfterValidator(check_username)]
    if kind is Kind.ADDRESS:
        return Address
    if kind is Kind.SERVICES:
        return ActiveServices
    if kind is Kind.ORDER_ITEMS:
        return Annotated[list[OrderItem], Field(min_length=1, max_length=100)]
    if kind is Kind.CONSENT:
        return StrictBool
    if kind is Kind.URL:
        return Annotated[HttpUrl, Field()]
    raise AssertionError(f"no rule for {kind}")


@cache
def schema(record_type: RecordType, mode: str, only: frozenset[str] | None = None) -> type[BaseModel]:
    """The request model for `record_type`.

    mode "create": required fields are required; "update": every field optional.
    `only` limits the accepted fields (e.g. what a person may edit about themself).
    """
    fields: dict[str, Any] = {}
    for f in record_type.fields:
        if (only is not None and f.name not in only) or f.kind is Kind.RECORD:
            continue  # RECORD fields are kept by the system: no request writes them
        typ = _field_type(f.kind, f.max_length)
        if mode == "create" and f.required:
            fields[f.name] = (typ, ...)
        else:
            fields[f.name] = (typ | None, None)
    return create_model(f"{record_type.name}_{mode}", __base__=StrictModel, **fields)


def _reason(error: dict[str, Any]) -> str:
    # pydantic's messages describe the rule, not the input; the input itself is dropped.
    if error["type"] == "extra_forbidden":
        return "unknown field"
    if error["type"] == "missing":
        return "required"
    msg = str(error.get("msg", "invalid"))
    return msg.removeprefix("Value error, ")


def parse(model: type[BaseModel], body: Any) -> BaseModel:
    """Validate a JSON body against `model`, or raise `ValidationFailed` naming the fields."""
    if not isinstance(body, dict):
        raise ValidationFailed("The request body must be a JSON object.")
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        details = [
            {"field": ".".join(str(p) for p in e["loc"]) or "(body)", "reason": _reason(dict(e))}
            for e in exc.errors(include_input=False, include_url=False)
        ]
        unknown = [d["field"] for d in details if d["reason"] == "unknown field"]
        message = f"Unknown field(s): {', '.join(unknown)}." if unknown else "Some fields are invalid."
        raise ValidationFailed(message, details=details) from None


def dump(model: BaseModel) -> dict[str, Any]:
    """The fields the client actually sent, in storable JSON types."""
    full = model.model_dump(mode="json")
    return {name: full[name] for name in model.model_fields_set}
