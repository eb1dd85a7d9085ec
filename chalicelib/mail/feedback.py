"""What recipients' mail servers and recipients tell SES about our messages: bounces and complaints.

SES publishes the events of the configuration set every message is sent with (the sender
identity's default set, infra/resources.json) to an SNS topic; the topic delivers them to
the mail-events queue and `mail_events` hands each message here. The queue message body is
the SNS envelope (`{"Type": "Notification", "Message": "<the SES event as JSON>", ...}`);
the SES event has `eventType` (`notificationType` for identity notifications) and, for a
bounce, `bounce.bounceType` and `bounce.bouncedRecipients[].emailAddress`, for a complaint
`complaint.complainedRecipients[].emailAddress` (docs.aws.amazon.com/ses/latest/dg/
event-publishing-retrieving-sns-contents.html).

* A permanent bounce: the address cannot receive mail. A prospect with it is an outdated
  contact, removed as a full refresh removes one (the whole prospect, its recipients told
  under Art. 19); a customer's address is flagged `mail_undeliverable` for staff, who see
  it in the customer view, and no service message goes to it until the address changes.
* A complaint ("this is spam") is an objection to direct marketing
  (`subjects.object_to_marketing`).
* A transient or undetermined bounce, and every other event type, changes nothing.

Each step is idempotent, so a redelivered message does nothing more. Addresses are never
logged: the log names the event type, the SES message id and counts.
"""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from chalicelib import clock, customers, disclosures, prospects, retention, store, subjects
from chalicelib.audit import Access, Actor
from chalicelib.auth import SYSTEM_MAIL_EVENTS
from chalicelib.errors import Conflict, ValidationFailed
from chalicelib.logs import logger
from chalicelib.registers import CUSTOMER_REGISTER, PROSPECT, PROSPECT_REGISTER
from chalicelib.validation import checked_email


def ses_event(body: str) -> dict[str, Any]:
    """The SES event in a queue message: inside the SNS envelope, or raw (raw message delivery)."""
    message = json.loads(body)
    if isinstance(message, dict) and message.get("Type") == "Notification" and isinstance(message.get("Message"), str):
        message = json.loads(message["Message"])
    if not isinstance(message, dict):
        raise ValueError("not an SES event")
    return message


def _recipients(items: Any) -> list[str]:
    """The addresses of a bounce's or complaint's recipient list (malformed ones skipped)."""
    out = []
    for item in items if isinstance(items, list) else []:
        address = item.get("emailAddress") if isinstance(item, dict) else None
        if not isinstance(address, str):
            continue
        try:
            out.append(checked_email(address))
        except ValidationFailed:
            continue  # not an address we could hold
    return out


def handle(body: str, message_id: str) -> dict[str, Any]:
    """Apply one SES event; returns counts (no addresses)."""
    event = ses_event(body)
    kind = event.get("eventType") or event.get("notificationType")
    actor = Actor(SYSTEM_MAIL_EVENTS, f"ses_event_{message_id}")
    mail = event.get("mail")
    mail = mail if isinstance(mail, dict) else {}
    result: dict[str, Any] = {"event": kind, "ses_message_id": mail.get("messageId"), "addresses": 0}
    if kind == "Bounce":
        bounce = event.get("bounce") or {}
        result["bounce_type"] = bounce.get("bounceType")
        if bounce.get("bounceType") == "Permanent":
            addresses = _recipients(bounce.get("bouncedRecipients"))
            result["addresses"] = len(addresses)
            for address in addresses:
                outcome = undeliverable(address, str(bounce.get("bounceSubType") or ""), actor)
                for key, n in outcome.items():
                    result[key] = result.get(key, 0) + n
    elif kind == "Complaint":
        addresses = _recipients((event.get("complaint") or {}).get("complainedRecipients"))
        result["addresses"] = len(addresses)
        for address in addresses:
            subjects.object_to_marketing(address, actor)
        result["objections"] = len(addresses)
    logger.info("ses event handled", extra=result)
    return result


def undeliverable(email: str, sub_type: str, actor: Actor) -> dict[str, int]:
    """A permanent bounce of `email`: remove it as an outdated prospect; flag a customer's address."""
    removed = held = flagged = 0
    for profile in [i for i in prospects.by_email(email) if i.get("sk") == "PROFILE"]:
        pid = retention.record_id(PROSPECT_REGISTER.key, profile)
        fields = tuple(f for f in PROSPECT.field_names if f in profile)
        access = Access("delete", PROSPECT_REGISTER.key, pid, fields)
        try:
            retention.delete_prospect(
                profile, actor.put(access, reason="permanent_bounce"), actor=actor, change=disclosures.ERASED
            )
        except (retention.RecordHeld, Conflict):
            held += 1
            continue
        removed += 1
    customer = customers.find_by_email(email)
    if customer and customer.get("status") in ("active", "ended") and customer.get("email"):
        flagged += _flag(customer, sub_type, actor)
    return {"prospects_removed": removed, "prospects_held": held, "customers_flagged": flagged}


def _flag(customer: dict[str, Any], sub_type: str, actor: Actor) -> int:
    """Flag the customer's current address as undeliverable (once; a new address clears it)."""
    flag = {"at": clock.iso(), "bounce": "Permanent", "sub_type": sub_type or "General"}
    update = {
        "TableName": store.customers().name,
        "Key": store.typed({"pk": customer["pk"], "sk": customers.PROFILE}),
        "UpdateExpression": "SET mail_undeliverable = :flag",
        "ConditionExpression": "attribute_exists(pk) AND attribute_not_exists(mail_undeliverable) "
        "AND email_hash = :hash",
        "ExpressionAttributeValues": store.typed({":flag": flag, ":hash": customer["email_hash"]}),
    }
    access = Access("update", CUSTOMER_REGISTER.key, str(customer["customer_id"]), ("mail_undeliverable",))
    try:
        store.client("dynamodb").transact_write_items(TransactItems=[{"Update": update}, actor.put(access)])
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "TransactionCanceledException":
            return 0  # flagged already, or the address changed meanwhile
        raise
    return 1
