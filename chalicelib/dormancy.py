"""Retention that does not wait for staff: an account nobody uses is told, then erased.

The rules are the register's (`customer_dormant`, `customer_dormant_notice`); this module
is what they do. A customer's PROFILE carries `retention_rule = customer_dormant` and the
day it becomes due (`retention_due_at`: the last activity plus the rule's period) from the
moment it is a customer (created by staff, a registration confirmed, a contract
re-activated), so the retention sweeper finds it through the sparse `retention_due` index
like every other due record, never by a Scan. Activity counts the period again from today
(`customers.dormancy_restart`): a sign-in (`touch`, from GET /me, at most once a day) and a
change of the contract's services; an order needs an active service, and a customer with
services is never told, so the last change of services also bounds the last order. An
ended contract moves the profile to the grace rule instead, which activity does not move.

On the due night the sweeper calls `notify`:
- a contract with services in effect is never due: the date moves a period on, no mail;
- otherwise, in ONE transaction with its audit event, the profile moves to
  `customer_dormant_notice` (due the notice period later) holding a fresh keep-account code
  (`confirmations.issue_code`: kept only as a keyed hash, valid until the erasure); then the
  person is mailed the notice with the keep-account link (GET /keep-account), and the
  profile records that it went (`sent_at`). A second run finds the profile under the next
  rule, so a sweep run twice sends one notice. If SES refuses, the move is undone (the next
  night tries again) and the rule fails, which alarms.
`keep` (POST /keep-account with the link's code) or any activity puts the profile back
under `customer_dormant`, counted from today, and voids the code. Unless kept, the sweeper
erases the contact person under `customer_dormant_notice` as the grace rule does
(`retention.erase_customer_contact`). A notice that a killed run left unconfirmed (the
transaction committed, the send not recorded) is never followed by an erasure:
`renotify` puts the profile back to be told again on the next night.

An unconfirmed registration is not this module's: its message with the confirmation code
says the registration is deleted unless confirmed, and the `customer_unconfirmed` rule
deletes it the day after the code expires; nothing else is mailed to an address no one
has proven.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any
from urllib.parse import urlencode

from botocore.exceptions import ClientError

from chalicelib import clock, confirmations, customers, store
from chalicelib.audit import Access, Actor
from chalicelib.config import settings
from chalicelib.errors import Conflict
from chalicelib.logs import logger
from chalicelib.mail import compose, customer_texts
from chalicelib.mail.send import send

DORMANT = customers.DORMANT
NOTICE = customers.DORMANT_NOTICE
NOTICE_ATTR = customers.DORMANT_NOTICE_ATTR
KEEP_PATH = "/keep-account"
REGISTER = customers.REGISTER


def keep_url(token: str, lang: str) -> str:
    """The link the notice carries: a page that says what keeping does and asks to confirm."""
    return f"{settings().public_base_url}{KEEP_PATH}?{urlencode({'token': token, 'lang': lang})}"


def _key(item: dict[str, Any]) -> dict[str, Any]:
    return {"pk": {"S": item["pk"]}, "sk": {"S": customers.PROFILE}}


def _write(update: dict[str, Any], event: dict[str, Any]) -> None:
    """The profile's change and its audit event together; a failed condition is `Conflict`."""
    store.transact([{"Update": update}, event], "The record changed meanwhile; nothing was done.")


def _due_condition() -> str:
    return "retention_rule = :rule AND retention_due_at < :cutoff AND attribute_not_exists(legal_hold)"


def notify(item: dict[str, Any], *, as_of: date, cutoff: str, actor: Actor, key: str) -> Access:
    """The `customer_dormant` step of one due profile (see the module docstring).

    Returns the access it recorded. Raises `Conflict` when the profile changed since the
    index read (a sign-in, a kept account), without sending anything.
    """
    customer_id = str(item["customer_id"])
    base = {":rule": DORMANT.name, ":cutoff": cutoff, ":active": "active"}
    if item.get("active_services"):
        # A contract with services in effect: in use by definition, never due.
        access = Access("retention_review", REGISTER, customer_id, ())
        _write(
            {
                "TableName": store.customers().name,
                "Key": _key(item),
                "UpdateExpression": "SET retention_due_at = :next",
                "ConditionExpression": f"{_due_condition()} AND #s = :active AND size(active_services) > :zero",
                "ExpressionAttributeNames": {"#s": "status"},
                "ExpressionAttributeValues": store.typed({**base, ":next": customers.dormant_due(as_of), ":zero": 0}),
            },
            actor.put(access, key=key),
        )
        return access
    erase_on = as_of + timedelta(days=NOTICE.after.days)
    token, kept = confirmations.issue_code(customer_id, hours=NOTICE.after.days * 24)
    notice_state = {**kept, "noticed_at": clock.iso(), "erase_on": erase_on.isoformat()}
    access = Access("dormant_notice", REGISTER, customer_id, ("email",))
    _write(
        {
            "TableName": store.customers().name,
            "Key": _key(item),
            "UpdateExpression": f"SET retention_rule = :next_rule, retention_due_at = :erase_on, {NOTICE_ATTR} = :n",
            "ConditionExpression": f"{_due_condition()} AND #s = :active "
            "AND (attribute_not_exists(active_services) OR size(active_services) = :zero)",
            "ExpressionAttributeNames": {"#s": "status"},
            "ExpressionAttributeValues": store.typed(
                {
                    **base,
                    ":zero": 0,
                    ":next_rule": NOTICE.name,
                    ":erase_on": erase_on.isoformat(),
                    ":n": notice_state,
                }
            ),
        },
        actor.put(access, key=key),
    )
    lang = compose.lang_or_default(item.get("lang"))
    try:
        message_id = _send(item, token, lang, erase_on)
    except Exception:
        _undo(item, kept["code_hash"])
        raise
    _record_sent(item, kept["code_hash"], message_id)
    logger.info("dormancy notice sent", extra={"customer_id": customer_id})
    return access


def _send(item: dict[str, Any], token: str, lang: str, erase_on: date) -> str | None:
    """Mail the notice; None without a send when the address is known not to deliver."""
    if item.get("mail_undeliverable"):
        return None
    return send(
        compose.message(
            str(item["email"]),
            customer_texts.DORMANT_NOTICE,
            lang,
            link=keep_url(token, lang),
            months=str(DORMANT.after.months),
            date=erase_on.strftime("%d.%m.%Y"),
        ),
        "dormancy_notice",
    )


def _record_sent(item: dict[str, Any], code_hash: str, message_id: str | None) -> None:
    """The notice went (or the address is known not to deliver): the erasure may follow."""
    try:
        store.customers().update_item(
            Key={"pk": item["pk"], "sk": customers.PROFILE},
            UpdateExpression="SET #n.sent_at = :now, #n.delivery = :how",
            ConditionExpression="#n.code_hash = :hash",
            ExpressionAttributeNames={"#n": NOTICE_ATTR},
            ExpressionAttributeValues={
                ":now": clock.iso(),
                ":how": "sent" if message_id is not None else "undeliverable",
                ":hash": code_hash,
            },
        )
    except ClientError as exc:
        if not store.condition_failed(exc):
            raise
        # Kept (or signed in) in the moment between: nothing is due any more.


def _undo(item: dict[str, Any], code_hash: str) -> None:
    """SES refused the notice: back under `customer_dormant`, due at once (the next night)."""
    try:
        store.customers().update_item(
            Key={"pk": item["pk"], "sk": customers.PROFILE},
            UpdateExpression=f"SET retention_rule = :rule, retention_due_at = :due REMOVE {NOTICE_ATTR}",
            ConditionExpression="#n.code_hash = :hash AND retention_rule = :notice",
            ExpressionAttributeNames={"#n": NOTICE_ATTR},
            ExpressionAttributeValues={
                ":rule": DORMANT.name,
                ":due": str(item["retention_due_at"]),
                ":hash": code_hash,
                ":notice": NOTICE.name,
            },
        )
    except ClientError as exc:
        if not store.condition_failed(exc):
            raise


def notice_sent(item: dict[str, Any]) -> bool:
    """True if the profile's notice is recorded as sent (or the address as undeliverable)."""
    state = item.get(NOTICE_ATTR)
    return isinstance(state, dict) and bool(state.get("sent_at"))


def renotify(item: dict[str, Any], *, cutoff: str, actor: Actor, key: str) -> Access:
    """A due `customer_dormant_notice` profile whose notice is not recorded as sent (a run
    killed between its transaction and the send): back under `customer_dormant`, due at
    once, so the next night tells the person before anything is erased."""
    customer_id = str(item["customer_id"])
    access = Access("retention_review", REGISTER, customer_id, ())
    _write(
        {
            "TableName": store.customers().name,
            "Key": _key(item),
            "UpdateExpression": f"SET retention_rule = :dormant, retention_due_at = :now_due REMOVE {NOTICE_ATTR}",
            "ConditionExpression": f"{_due_condition()} AND attribute_not_exists(#n.sent_at)",
            "ExpressionAttributeNames": {"#n": NOTICE_ATTR},
            "ExpressionAttributeValues": store.typed(
                {
                    ":rule": NOTICE.name,
                    ":cutoff": cutoff,
                    ":dormant": DORMANT.name,
                    ":now_due": str(item["retention_due_at"]),
                }
            ),
        },
        actor.put(access, key=key),
    )
    return access


def keep(token: Any, actor: Actor) -> str:
    """Keep the account with the notice's code: counted from today again, the code used up.

    Any code that does not keep (unknown, wrong, expired, used, the account erased) is the
    one `confirmations.InvalidCode` answer. Returns the customer id.
    """
    item = confirmations.checked_code(token, NOTICE_ATTR)
    customer_id = str(item["customer_id"])
    try:
        _write(
            {
                "TableName": store.customers().name,
                "Key": _key(item),
                "UpdateExpression": "SET retention_rule = :dormant, retention_due_at = :due, updated_at = :now "
                f"ADD version :one REMOVE {NOTICE_ATTR}",
                "ConditionExpression": "#n.code_hash = :hash AND retention_rule = :notice",
                "ExpressionAttributeNames": {"#n": NOTICE_ATTR},
                "ExpressionAttributeValues": store.typed(
                    {
                        ":dormant": DORMANT.name,
                        ":due": customers.dormant_due(clock.local_date()),
                        ":now": clock.iso(),
                        ":one": 1,
                        ":hash": item[NOTICE_ATTR]["code_hash"],
                        ":notice": NOTICE.name,
                    }
                ),
            },
            actor.put(Access("keep_account", REGISTER, customer_id, ())),
        )
    except Conflict:
        raise confirmations.InvalidCode() from None
    logger.info("account kept", extra={"customer_id": customer_id})
    return customer_id


def touch(profile: dict[str, Any], actor: Actor) -> bool:
    """Record that the person used the service today (`last_seen_at`), at most once a day.

    Called from GET /me (what a signed-in customer's client reads first): the authorizer
    stays lean, and a day's other requests cost nothing. A customer kept while used counts
    its period from today again (`customers.dormancy_restart`), a notice sent is void. One
    transaction with its audit event; a concurrent request that did it first wins quietly.
    Returns True if it wrote.
    """
    today = clock.local_date().isoformat()
    if str(profile.get("last_seen_at") or "") >= today or profile.get("entity") != "customer":
        return False
    sets = "last_seen_at = :today"
    condition = "attribute_exists(pk) AND (attribute_not_exists(last_seen_at) OR last_seen_at < :today)"
    values: dict[str, Any] = {":today": today}
    remove = ""
    restart = customers.dormancy_restart(profile)
    if restart:
        restart_sets, check, restart_values = restart
        sets += f", {restart_sets}"
        condition += f" AND {check}"
        values.update(restart_values)
        remove = f" REMOVE {NOTICE_ATTR}"
    try:
        _write(
            {
                "TableName": store.customers().name,
                "Key": _key(profile),
                "UpdateExpression": f"SET {sets}{remove}",
                "ConditionExpression": condition,
                "ExpressionAttributeValues": store.typed(values),
            },
            actor.put(Access("update", REGISTER, str(profile["customer_id"]), ("last_seen_at",))),
        )
    except Conflict:
        return False
    return True
