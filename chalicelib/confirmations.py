"""Proving an address before it counts: self-registration and a customer's new email.

A registration writes the customer record `unconfirmed` (with its guards, so the address
and username stay reserved while the code is valid), a disabled login, and mails a
confirmation code to the address. Only the code's owner can then open the login, make the
record a customer and record the consent answer. The code is random and kept only as a
keyed hash (HMAC under the pseudonym keyring, like the suppression list), valid for
`VALID_HOURS` and for `MAX_ATTEMPTS` wrong guesses; every invalid code (unknown, wrong,
expired, used, exhausted) gets one and the same answer.

`POST /registrations` answers the same whether the address or username is new or taken:
the owner of a registered address is told by email instead, and a taken username is
reported to the address that asked for it, never in the HTTP answer.

An unconfirmed registration is due under the `customer_unconfirmed` retention rule and is
deleted (record, guards, login) by the nightly sweep after it expires.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import timedelta
from typing import Any

from botocore.exceptions import ClientError

from chalicelib import accounts, clock, customers, notice, pseudonyms, store
from chalicelib.audit import Access, Actor
from chalicelib.errors import Conflict, ValidationFailed
from chalicelib.logs import logger
from chalicelib.mail import compose, customer_texts
from chalicelib.mail.send import send
from chalicelib.registers import CUSTOMER_REGISTER

VALID_HOURS = 24
CONSENT_LINK_DAYS = 14
MAX_ATTEMPTS = 5
UNCONFIRMED_RULE = CUSTOMER_REGISTER.rule("customer_unconfirmed")
_TOKEN = re.compile(r"^([0-9a-f]{32})\.([A-Za-z0-9_-]{20,100})$")


class InvalidCode(ValidationFailed):
    """Any code that does not confirm: one answer, whatever the reason."""

    code = "invalid_confirmation"

    def __init__(self) -> None:
        super().__init__("The confirmation code is not valid, or it has expired or been used.")


def _digest(secret: str, version: str, key: bytes) -> str:
    return f"{version}:{hmac.new(key, secret.encode(), hashlib.sha256).hexdigest()}"


def _new_code(customer_id: str, hours: int = VALID_HOURS) -> tuple[str, dict[str, Any]]:
    """A fresh code for the record `customer_id`, and what the record keeps of it."""
    ring = pseudonyms.ring()
    secret = secrets.token_urlsafe(32)
    expires = clock.now() + timedelta(hours=hours)
    kept = {
        "code_hash": _digest(secret, ring.current, ring.current_key),
        "expires_at": clock.iso(expires),
        "attempts": 0,
    }
    return f"{customer_id}.{secret}", kept


def _matches(secret: str, kept: dict[str, Any]) -> bool:
    version = str(kept.get("code_hash", "")).split(":", 1)[0]
    key = pseudonyms.ring().keys.get(version)
    return key is not None and hmac.compare_digest(_digest(secret, version, key), str(kept["code_hash"]))


def _parse(token: Any) -> tuple[str, str]:
    match = _TOKEN.match(token) if isinstance(token, str) else None
    if not match:
        raise InvalidCode()
    return match.group(1), match.group(2)


def _usable(kept: Any) -> bool:
    return (
        isinstance(kept, dict)
        and int(kept.get("attempts", MAX_ATTEMPTS)) < MAX_ATTEMPTS
        and str(kept.get("expires_at", "")) > clock.iso()
    )


def _count_miss(customer_id: str, attribute: str, kept: dict[str, Any]) -> None:
    """One more wrong guess against the code in `attribute` (conditional: no lost counts)."""
    try:
        store.customers().update_item(
            Key={"pk": f"CUSTOMER#{customer_id}", "sk": customers.PROFILE},
            UpdateExpression="SET #c.attempts = #c.attempts + :one",
            ConditionExpression="#c.code_hash = :hash",
            ExpressionAttributeNames={"#c": attribute},
            ExpressionAttributeValues={":one": 1, ":hash": kept["code_hash"]},
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise


def _profile(customer_id: str) -> dict[str, Any] | None:
    item: dict[str, Any] | None = (
        store.customers()
        .get_item(Key={"pk": f"CUSTOMER#{customer_id}", "sk": customers.PROFILE}, ConsistentRead=True)
        .get("Item")
    )
    return item


def _checked(customer_id: str, secret: str, attribute: str) -> dict[str, Any]:
    """The profile whose pending code in `attribute` is `secret`; anything else is `InvalidCode`."""
    item = _profile(customer_id)
    kept = item.get(attribute) if item else None
    if item is None or not isinstance(kept, dict) or not _usable(kept):
        raise InvalidCode()
    if not _matches(secret, kept):
        _count_miss(customer_id, attribute, kept)
        raise InvalidCode()
    return item


def issue_code(customer_id: str, hours: int) -> tuple[str, dict[str, Any]]:
    """A fresh code for another module's mailed link (`dormancy`'s keep-account link): the
    token to mail and what the record keeps of it, valid `hours`."""
    return _new_code(customer_id, hours)


def checked_code(token: Any, attribute: str) -> dict[str, Any]:
    """The profile whose pending code in `attribute` is `token`'s; anything else is `InvalidCode`
    (a wrong guess counts against the code)."""
    customer_id, secret = _parse(token)
    return _checked(customer_id, secret, attribute)


# -- registration -------------------------------------------------------------------------


def _unconfirmed_due() -> str:
    """The day after the code expires: the first nightly sweep after it deletes the record."""
    expires = clock.now() + timedelta(hours=VALID_HOURS)
    return (clock.local_date(expires) + timedelta(days=UNCONFIRMED_RULE.after.days)).isoformat()


def register(data: dict[str, Any], password: str, lang: str | None, actor: Actor) -> dict[str, Any] | None:
    """Register a customer pending confirmation; returns the new record, or None if taken.

    The password policy is checked before anything is looked up. When the address is
    registered already its owner gets a notice; when only the username is taken the
    address gets a note. Neither shows in the return value the API turns into its answer.
    """
    accounts.check_password(password)
    lang = compose.lang_or_default(lang)
    customer_id = customers.new_id()
    token, kept = _new_code(customer_id)
    # The answer and the words the form showed; it counts (and is recorded) once confirmed.
    consent = customers.consent_answer(
        bool(data.pop("consent_service_messages")), "registration", lang, data.pop("consent_wording_version", None)
    )
    pending = {
        "customer_id": customer_id,
        "confirmation": {**kept, "consent": consent, "lang": lang},
        "retention_rule": UNCONFIRMED_RULE.name,
        "retention_due_at": _unconfirmed_due(),
    }
    try:
        item = customers.create_customer(data, actor, unconfirmed=pending)
    except Conflict:
        _tell_taken(data["email"], lang)
        return None
    try:
        accounts.create_customer_login(item["username"], item["email"], customer_id, password)
        send(
            compose.message(item["email"], compose.CONFIRM_REGISTRATION, lang, token=token, hours=str(VALID_HOURS)),
            "confirm_registration",
        )
    except Exception:
        accounts.delete_login(item["username"])
        customers.delete_new_customer(item, actor)
        raise
    logger.info("registration pending confirmation", extra={"customer_id": customer_id})
    return item


def _tell_taken(email: str, lang: str) -> None:
    """Mail the address: its owner is registered already, or the username was taken."""
    template = compose.ALREADY_REGISTERED if customers.email_registered(email) else compose.USERNAME_TAKEN
    send(compose.message(email, template, lang), "registration_taken")


def confirm_registration(token: Any, actor: Actor) -> dict[str, Any]:
    """Confirm a registration with its code: the login opens and the record becomes a customer."""
    customer_id, secret = _parse(token)
    item = _checked(customer_id, secret, "confirmation")
    if item.get("status") != "unconfirmed":
        raise InvalidCode()
    kept = item["confirmation"]
    accounts.enable_customer_login(item["username"])
    now = clock.iso()
    values = {
        ":active": "active",
        ":unconfirmed": "unconfirmed",
        **customers.consent_values(kept["consent"], now),
        ":lang": kept.get("lang") or "fi",
        ":list_pk": "CUSTOMER",
        ":list_sk": f"{clock.sortable()}#{customer_id}",
        ":now": now,
        ":one": 1,
        ":hash": kept["code_hash"],
        # From now on the account is kept while it is used (`customer_dormant`).
        ":dormant": customers.DORMANT.name,
        ":due": customers.dormant_due(clock.local_date()),
    }
    update = {
        "TableName": store.customers().name,
        "Key": {"pk": {"S": item["pk"]}, "sk": {"S": customers.PROFILE}},
        "UpdateExpression": (
            f"SET #s = :active, {customers.CONSENT_UPDATE}, lang = :lang, list_pk = :list_pk, list_sk = :list_sk, "
            "updated_at = :now, version = version + :one, retention_rule = :dormant, retention_due_at = :due "
            "REMOVE confirmation"
        ),
        "ConditionExpression": "#s = :unconfirmed AND confirmation.code_hash = :hash",
        "ExpressionAttributeNames": {"#s": "status"},
        "ExpressionAttributeValues": store.typed(values),
    }
    access = Access("update", customers.REGISTER, customer_id, ("consent_service_messages", "consent_history"))
    try:
        store.client("dynamodb").transact_write_items(TransactItems=[{"Update": update}, actor.put(access)])
    except ClientError as exc:
        if store.condition_failed(exc):
            raise InvalidCode() from None
        raise
    logger.info("registration confirmed", extra={"customer_id": customer_id})
    return customers.get_customer(customer_id)


def delete_unconfirmed(item: dict[str, Any], *, rule: str, cutoff: str, event: dict[str, Any]) -> None:
    """Delete an expired unconfirmed registration: record and guards together, then its login.

    The transaction re-checks that the record is still unconfirmed and due (no legal hold),
    so a registration confirmed meanwhile is never touched. A login left behind by a run
    killed between the two steps is disabled and replaced by the next registration of the
    name (`accounts.create_customer_login`).
    """
    table = store.customers().name
    values: dict[str, Any] = {
        ":rule": {"S": rule},
        ":cutoff": {"S": cutoff},
        ":unconfirmed": {"S": "unconfirmed"},
    }
    try:
        store.client("dynamodb").transact_write_items(
            TransactItems=[
                {
                    "Delete": {
                        "TableName": table,
                        "Key": {"pk": {"S": item["pk"]}, "sk": {"S": item["sk"]}},
                        "ConditionExpression": "retention_rule = :rule AND retention_due_at < :cutoff "
                        "AND attribute_not_exists(legal_hold) AND #s = :unconfirmed",
                        "ExpressionAttributeNames": {"#s": "status"},
                        "ExpressionAttributeValues": values,
                    }
                },
                {"Delete": {"TableName": table, "Key": store.typed(customers.email_guard(item["email_hash"]))}},
                {"Delete": {"TableName": table, "Key": store.typed(customers.username_guard(item["username_hash"]))}},
                event,
            ]
        )
    except ClientError as exc:
        if store.condition_failed(exc):
            raise Conflict("The record changed meanwhile; nothing was deleted.") from None
        raise
    accounts.delete_login(item["username"])


# -- a signed-in customer's new email --------------------------------------------------------


def request_email_change(customer_id: str, new_email: str, actor: Actor, lang: str | None = None) -> None:
    """Mail a code to `new_email`; the register keeps the old address until it is confirmed.

    Whether another customer has the address is not checked here (that would tell the
    caller who is registered): it is checked once the new address's owner confirms.
    """
    item = customers.get_customer(customer_id)
    if item["status"] == "erased":
        raise Conflict("This customer's contact data has been erased.")
    token, kept = _new_code(customer_id)
    # The pending address is personal data held on the record: its write is audited with it.
    update = {
        "TableName": store.customers().name,
        "Key": {"pk": {"S": item["pk"]}, "sk": {"S": customers.PROFILE}},
        "UpdateExpression": "SET email_change = :change",
        "ConditionExpression": "attribute_exists(pk)",
        "ExpressionAttributeValues": store.typed({":change": {**kept, "email": new_email}}),
    }
    access = Access("update", customers.REGISTER, customer_id, ("email_change",))
    store.client("dynamodb").transact_write_items(TransactItems=[{"Update": update}, actor.put(access)])
    send(
        compose.message(new_email, compose.CONFIRM_EMAIL_CHANGE, lang, token=token, hours=str(VALID_HOURS)),
        "confirm_email_change",
    )


def confirm_email_change(customer_id: str, token: Any, actor: Actor) -> dict[str, Any]:
    """Make the proven new address the contact email (register and login together)."""
    token_customer, secret = _parse(token)
    if token_customer != customer_id:
        raise InvalidCode()
    item = _checked(customer_id, secret, "email_change")
    new_email = str(item["email_change"]["email"])
    try:
        updated = customers.update_customer(customer_id, {"email": new_email}, actor)
    except Conflict:
        raise Conflict("Another customer account uses this email address.", code="email_taken") from None
    try:
        # The used code goes; a newer request made meanwhile keeps its own code.
        store.customers().update_item(
            Key={"pk": item["pk"], "sk": customers.PROFILE},
            UpdateExpression="REMOVE email_change",
            ConditionExpression="email_change.code_hash = :hash",
            ExpressionAttributeValues={":hash": item["email_change"]["code_hash"]},
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
    accounts.update_login_email(updated["username"], new_email, verified=True)
    return customers.get_customer(customer_id)


# -- a consent link ------------------------------------------------------------------------


def request_consent(customer_id: str, actor: Actor) -> None:
    """Mail a customer a code to answer the service-message consent themself (`answer_consent`).

    For a customer staff created, who has no consent until they answer: the message shows
    the wording word for word. A newer request replaces the older code.
    """
    item = customers.get_customer(customer_id)
    if item["status"] not in ("active", "ended"):
        raise Conflict("Only a customer with contact data can be asked for consent.")
    lang = compose.lang_or_default(item.get("lang"))
    token, kept = _new_code(customer_id, hours=CONSENT_LINK_DAYS * 24)
    update = {
        "TableName": store.customers().name,
        "Key": {"pk": {"S": item["pk"]}, "sk": {"S": customers.PROFILE}},
        "UpdateExpression": "SET consent_link = :link",
        "ConditionExpression": "attribute_exists(pk)",
        "ExpressionAttributeValues": store.typed({":link": kept}),
    }
    access = Access("consent_request", customers.REGISTER, customer_id, ("email",))
    store.client("dynamodb").transact_write_items(TransactItems=[{"Update": update}, actor.put(access)])
    wording = notice.consent_wording(lang)["text"]
    send(
        compose.message(
            item["email"],
            customer_texts.CONSENT_REQUEST,
            lang,
            token=token,
            days=str(CONSENT_LINK_DAYS),
            wording=wording,
        ),
        "consent_request",
    )


def answer_consent(token: Any, given: bool, lang: str | None, shown_version: str | None, actor: Actor) -> str:
    """The customer's answer through its consent link; the code is used up. Returns the customer id."""
    customer_id, secret = _parse(token)
    item = _checked(customer_id, secret, "consent_link")
    answer = customers.consent_answer(given, "consent_link", lang or item.get("lang"), shown_version)
    now = clock.iso()
    update = {
        "TableName": store.customers().name,
        "Key": {"pk": {"S": item["pk"]}, "sk": {"S": customers.PROFILE}},
        "UpdateExpression": f"SET {customers.CONSENT_UPDATE}, updated_at = :now, version = version + :one "
        "REMOVE consent_link",
        "ConditionExpression": "consent_link.code_hash = :hash AND #s IN (:active, :ended)",
        "ExpressionAttributeNames": {"#s": "status"},
        "ExpressionAttributeValues": store.typed(
            {
                **customers.consent_values(answer, now),
                ":now": now,
                ":one": 1,
                ":hash": item["consent_link"]["code_hash"],
                ":active": "active",
                ":ended": "ended",
            }
        ),
    }
    access = Access("update", customers.REGISTER, customer_id, ("consent_service_messages", "consent_history"))
    try:
        store.client("dynamodb").transact_write_items(TransactItems=[{"Update": update}, actor.put(access)])
    except ClientError as exc:
        if store.condition_failed(exc):
            raise InvalidCode() from None
        raise
    return customer_id
