"""Service messages to customers: a maintenance notice, a change of terms.

Only to the customers whose consent to service messages is given and current
(`customers.consent_is_current`): the latest answer in their consent history gives it,
they are a customer (active or ended, not erased or unconfirmed), their address has
not bounced for good and their record is not restricted (GDPR Art. 18,
chalicelib/restriction.py). Nobody else gets one.

Staff create a message (`create`, POST /service-messages); sending is a mail job of kind
`service` (chalicelib/mail/jobs.py) run by `mail_sender`, page by page through the
customers' `by_list` index. Storage, in the customers table (the customer register's
own processing):
  SERVICEMSG#<id> / META             the message (subject and body in fi, en), its state,
                                     the index cursor reached and the counts
  SERVICEMSG#<id> / SENT#<customer>  the idempotency record of one recipient, kept only
                                     while the message is being sent (`_finish`)

Each message goes at most once per customer, however often the job is retried or
started: the recipient's SENT record is claimed (a conditional Put) in one transaction
with a ConditionCheck that the customer's consent still holds at that moment, the
message's `sent` count and the audit event; only then is the message handed to SES.
If SES refuses, the claim is released so a retry can send; if the function dies between
claim and send, the record stays `sending` (shown to staff as `unconfirmed`) and nothing
is sent twice. Messages are in the customer's language where known, Finnish otherwise.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from email.message import EmailMessage
from typing import Any

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from chalicelib import audit, clock, customers, store
from chalicelib.audit import Access, Actor
from chalicelib.auth import SYSTEM_MAIL_SENDER
from chalicelib.errors import NotFound
from chalicelib.mail import compose, jobs
from chalicelib.mail.send import send
from chalicelib.registers import CUSTOMER_REGISTER

KIND = "service"
PAGE_SIZE = 100  # customers per index page
RESERVE_SECONDS = 30.0  # stop a page early enough to save where the job is
SYSTEM = "system"
_PK = "SERVICEMSG#"
_CURRENT = {":yes": True, ":active": "active", ":ended": "ended"}

_FOOTER = {
    "fi": "\n\nSaat tämän palveluviestin, koska olet antanut siihen luvan. Voit perua luvan omista tiedoistasi.",
    "en": "\n\nYou receive this service message because you consented to service messages. You can withdraw "
    "the consent in your own data.",
}


def _key(message_id: str, sk: str = "META") -> dict[str, str]:
    try:
        uuid.UUID(hex=message_id)
    except ValueError:
        raise NotFound("No such service message.") from None
    return {"pk": f"{_PK}{message_id}", "sk": sk}


def create(data: dict[str, Any], actor: Actor) -> dict[str, Any]:
    """Record the message and queue its sending (the HTTP answer is 202: sending is a job)."""
    message_id = uuid.uuid4().hex
    now = clock.iso()
    item = {
        **_key(message_id),
        "entity": "service_message",
        "message_id": message_id,
        "subject": data["subject"],
        "body": data["body"],
        "status": "queued",
        "created_at": now,
        "created_by": actor.principal.principal_id,
        "sent": 0,
        "skipped": 0,
        "considered": 0,
    }
    store.transact(
        [
            {
                "Put": {
                    "TableName": store.customers().name,
                    "Item": store.typed_item(item),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
            actor.put(Access("create_service_message", SYSTEM, f"service_message_{message_id}")),
        ],
        "The service message could not be recorded; retry.",
    )
    jobs.enqueue(KIND, {"message_id": message_id})
    return present(item)


def get(message_id: str) -> dict[str, Any]:
    """The message and its progress, as staff see it."""
    item = store.customers().get_item(Key=_key(message_id), ConsistentRead=True).get("Item")
    if not item:
        raise NotFound("No such service message.")
    if item["status"] == "done":
        return {**present(item), "unconfirmed": int(item.get("unconfirmed", 0))}
    unconfirmed = store.query_all(
        store.customers(),
        KeyConditionExpression=Key("pk").eq(f"{_PK}{message_id}") & Key("sk").begins_with("SENT#"),
        FilterExpression="#s = :sending",
        ExpressionAttributeNames={"#s": "state"},
        ExpressionAttributeValues={":sending": "sending"},
        ProjectionExpression="pk",
    )
    return {**present(item), "unconfirmed": len(unconfirmed)}


def present(item: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        k: item[k]
        for k in ("message_id", "subject", "body", "status", "created_at", "created_by", "finished_at")
        if k in item
    }
    out["counts"] = {k: int(item.get(k, 0)) for k in ("considered", "sent", "skipped")}
    return out


# -- the job ------------------------------------------------------------------------------


def run(body: dict[str, Any], time_left: Callable[[], float]) -> bool:
    """Send the message named in `body` page by page; True when every customer has been considered.

    The cursor moves only by a conditional update from the cursor this run read, together
    with the page's counts: a page replayed after a crash is counted once, and two runs of
    the same job never both advance it.
    """
    message_id = body.get("message_id")
    if not isinstance(message_id, str):
        raise ValueError("a service message job names its message")
    table = store.customers()
    pages = 0
    while True:
        meta = table.get_item(Key=_key(message_id), ConsistentRead=True).get("Item")
        if not meta:
            raise ValueError("the service message does not exist")
        if meta["status"] == "done":
            return True
        if meta["status"] == "finishing":
            _finish(message_id)
            return True
        if pages and time_left() < RESERVE_SECONDS:
            return False  # at least a page per invocation, so the job always moves on
        pages += 1
        query: dict[str, Any] = {
            "IndexName": "by_list",
            "KeyConditionExpression": Key("list_pk").eq("CUSTOMER"),
            "Limit": PAGE_SIZE,
        }
        if meta.get("cursor"):
            query["ExclusiveStartKey"] = meta["cursor"]
        page = table.query(**query)
        skipped = 0
        for item in page["Items"]:
            current = customers.consent_is_current(customers.in_effect(item))
            # Sent by an earlier attempt of this page: counted when it was claimed.
            if not current or _deliver(meta, item) == NO_CONSENT:
                skipped += 1
        next_cursor = page.get("LastEvaluatedKey")
        if not _advance(message_id, meta.get("cursor"), next_cursor, len(page["Items"]), skipped):
            continue  # another run moved on meanwhile: read where it is
        if next_cursor is None:
            _finish(message_id)
            return True


def _finish(message_id: str) -> None:
    """Every customer considered: the per-recipient records go (the audit trail keeps who was
    sent the message, for its period), their `sending` count is kept, and the job is done.

    No message is sent once the status is `finishing`, so deleting the records cannot let
    anything be sent twice; a run that dies here is finished by the next delivery.
    """
    table = store.customers()
    receipts = store.query_all(
        table,
        KeyConditionExpression=Key("pk").eq(f"{_PK}{message_id}") & Key("sk").begins_with("SENT#"),
        ProjectionExpression="pk, sk, #s",
        ExpressionAttributeNames={"#s": "state"},
    )
    unconfirmed = sum(1 for r in receipts if r.get("state") == "sending")
    if receipts:
        table.update_item(
            Key=_key(message_id),
            UpdateExpression="ADD unconfirmed :n",
            ConditionExpression="#s = :finishing",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={":n": unconfirmed, ":finishing": "finishing"},
        )
    with table.batch_writer() as batch:
        for r in receipts:
            batch.delete_item(Key={"pk": r["pk"], "sk": r["sk"]})
    table.update_item(
        Key=_key(message_id),
        UpdateExpression="SET #s = :done, finished_at = :now",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":done": "done", ":now": clock.iso()},
    )


def _advance(message_id: str, old: Any, new: Any, considered: int, skipped: int) -> bool:
    """Save the cursor reached and the page's counts, if the cursor is still `old`."""
    names = {"#c": "cursor", "#s": "status"}
    values: dict[str, Any] = {":n": considered, ":k": skipped}
    if new is None:
        expr = "SET #s = :finishing REMOVE #c ADD considered :n, skipped :k"
        values[":finishing"] = "finishing"
    else:
        expr = "SET #c = :new, #s = :sending ADD considered :n, skipped :k"
        values.update({":new": new, ":sending": "sending"})
    if old is None:
        condition = "attribute_not_exists(#c) AND #s IN (:queued, :sending_now)"
        values.update({":queued": "queued", ":sending_now": "sending"})
    else:
        condition = "#c = :old"
        values[":old"] = old
    try:
        store.customers().update_item(
            Key=_key(message_id),
            UpdateExpression=expr,
            ConditionExpression=condition,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        )
    except ClientError as exc:
        if store.condition_failed(exc):
            return False
        raise
    return True


SENT, ALREADY_SENT, NO_CONSENT = "sent", "already_sent", "no_consent"


def _deliver(meta: dict[str, Any], listed: dict[str, Any]) -> str:
    """Send the message to one customer unless it was sent already or consent no longer holds.

    Returns SENT, ALREADY_SENT or NO_CONSENT. Consent is re-read (consistently) right before,
    and checked again atomically with the claim.
    """
    customer_id = str(listed["customer_id"])
    profile = customers.get_customer(customer_id)
    if not customers.consent_is_current(profile) or "restriction" in profile:
        return NO_CONSENT  # a restricted customer (Art. 18) gets no message either
    message_id = str(meta["message_id"])
    claim = _key(message_id, f"SENT#{customer_id}")
    table = store.customers().name
    access = Access("service_message", CUSTOMER_REGISTER.key, customer_id, ("email",))
    actor = Actor(SYSTEM_MAIL_SENDER, f"service_message_{message_id}")
    try:
        store.client("dynamodb").transact_write_items(
            TransactItems=[
                {
                    "Put": {
                        "TableName": table,
                        "Item": store.typed_item({**claim, "state": "sending", "claimed_at": clock.iso()}),
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
                {
                    "ConditionCheck": {
                        "TableName": table,
                        "Key": store.typed({"pk": profile["pk"], "sk": customers.PROFILE}),
                        "ConditionExpression": "consent_service_messages.given = :yes "
                        "AND attribute_not_exists(mail_undeliverable) AND attribute_not_exists(restriction) "
                        "AND #s IN (:active, :ended)",
                        "ExpressionAttributeNames": {"#s": "status"},
                        "ExpressionAttributeValues": store.typed(_CURRENT),
                    }
                },
                {
                    "Update": {
                        "TableName": table,
                        "Key": store.typed(_key(message_id)),
                        "UpdateExpression": "ADD sent :one",
                        "ExpressionAttributeValues": store.typed({":one": 1}),
                    }
                },
                # One event per claim: a claim released after SES refused leaves its event
                # (the address was used for the attempt), and the retry's claim has its own.
                actor.put(access, key=audit.event_key(clock.sortable(), "service_message", message_id)),
            ]
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "TransactionCanceledException":
            reasons = exc.response.get("CancellationReasons") or [{}]
            # The claim's own condition failed: sent already. Else consent went this very moment.
            return ALREADY_SENT if reasons[0].get("Code") == "ConditionalCheckFailed" else NO_CONSENT
        raise
    try:
        ses_id = send(_compose(meta, profile), "service_message")
    except Exception:
        _release(message_id, customer_id)
        raise
    store.customers().update_item(
        Key=claim,
        UpdateExpression="SET #s = :sent, ses_message_id = :id, sent_at = :now",
        ExpressionAttributeNames={"#s": "state"},
        ExpressionAttributeValues={":sent": "sent", ":id": ses_id, ":now": clock.iso()},
    )
    return SENT


def _release(message_id: str, customer_id: str) -> None:
    """SES refused: free the recipient's claim so a retry of the job can send."""
    table = store.customers().name
    store.client("dynamodb").transact_write_items(
        TransactItems=[
            {"Delete": {"TableName": table, "Key": store.typed(_key(message_id, f"SENT#{customer_id}"))}},
            {
                "Update": {
                    "TableName": table,
                    "Key": store.typed(_key(message_id)),
                    "UpdateExpression": "ADD sent :minus",
                    "ExpressionAttributeValues": store.typed({":minus": -1}),
                }
            },
        ]
    )


def _compose(meta: dict[str, Any], profile: dict[str, Any]) -> EmailMessage:
    """The message in the customer's language (English only where known and written)."""
    lang = compose.lang_or_default(profile.get("lang"))
    if lang == "en" and not (meta["subject"].get("en") and meta["body"].get("en")):
        lang = "fi"
    # Staff's text is taken as it is: braces are not format fields.
    text = {lang: (meta["body"][lang] + _FOOTER[lang]).replace("{", "{{").replace("}", "}}")}
    template = compose.Template(subject={lang: meta["subject"][lang]}, body=text)
    return compose.message(str(profile["email"]), template, lang)


jobs.register(KIND, run)
