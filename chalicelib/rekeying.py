"""Moving stored pseudonyms to the pseudonym keyring's current key after a rotation.

After a new key becomes `current`, records made before still carry hashes under an older
version: a customer's `email_hash` / `username_hash` and their guards, an end user's
`email_hash` and its guard, a prospect's (and each source's) `email_hash`. Everything keeps
working meanwhile (look-ups try every version), but the old key stays needed. The
`pseudonym_rekey` function walks both tables and moves each such record, one transaction
per record: the new hashes, the new guards (claimed on the condition that they are free),
the old guards released (only if they still name this record) and an audit event (the
address was read to hash it). A record changed meanwhile fails its condition and is left
for the next run, which is why a run can be repeated at any time; every run reports what
it moved and what is left.

What this cannot move, by design: prospect ids and suppression entries. A prospect id is
the record's name in the audit trail, reports and partners' views, and a suppression entry
holds no address to hash again; both stay checkable while their version stays in the ring
(docs/operations.md, "Rotating the pseudonym key").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from boto3.dynamodb.conditions import Attr
from botocore.exceptions import ClientError

from chalicelib import clock, customers, prospects, pseudonyms, store
from chalicelib.audit import Access, Actor
from chalicelib.auth import SYSTEM_REKEY
from chalicelib.logs import logger

TABLES = ("customers", "prospects")
_PAGE = 100


@dataclass
class Progress:
    """What one run did: per table, records moved and records changed meanwhile (left)."""

    rekeyed: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TABLES, 0))
    changed: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TABLES, 0))


def _stale(attr: str, prefix: str) -> Any:
    return Attr(attr).exists() & ~Attr(attr).begins_with(prefix)


def _table(name: str) -> Any:
    return store.customers() if name == "customers" else store.prospects()


def _key(item: dict[str, Any]) -> dict[str, Any]:
    return store.typed({"pk": item["pk"], "sk": item["sk"]})


def _update(table: str, item: dict[str, Any], sets: dict[str, str]) -> dict[str, Any]:
    """Set the new hashes on the condition that the old ones are still there."""
    names = {f"#a{i}": k for i, k in enumerate(sets)}
    values = {f":new{i}": v for i, v in enumerate(sets.values())}
    values |= {f":old{i}": item[k] for i, k in enumerate(sets)}
    return {
        "Update": {
            "TableName": table,
            "Key": _key(item),
            "UpdateExpression": "SET " + ", ".join(f"#a{i} = :new{i}" for i in range(len(sets))),
            "ConditionExpression": " AND ".join(f"#a{i} = :old{i}" for i in range(len(sets))),
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": store.typed(values),
        }
    }


def customer_steps(item: dict[str, Any], current: str) -> tuple[list[dict[str, Any]], Access] | None:
    """The transaction that moves a customer profile's or an end user's hashes and guards."""

    def stale(attr: str) -> bool:
        return attr in item and pseudonyms.version_of(item[attr]) != current

    table = store.customers().name
    sets: dict[str, str] = {}
    steps: list[dict[str, Any]] = []
    if item.get("entity") == "customer":
        owner = {"customer_id": item["customer_id"], "entity": "guard"}
        if stale("email_hash") and item.get("email"):
            sets["email_hash"] = pseudonyms.email_hash(item["email"])
            steps += customers.claim([customers.email_guard(sets["email_hash"])], owner)
            steps.append(
                customers.release(customers.email_guard(item["email_hash"]), "customer_id", item["customer_id"])
            )
        if stale("username_hash") and item.get("username"):
            sets["username_hash"] = pseudonyms.username_hash(item["username"])
            steps += customers.claim([customers.username_guard(sets["username_hash"])], owner)
            steps.append(
                customers.release(customers.username_guard(item["username_hash"]), "customer_id", item["customer_id"])
            )
        record = item["customer_id"]
        fields: tuple[str, ...] = ("email", "username")
    elif item.get("entity") == "reseller_end_user" and stale("email_hash") and item.get("email"):
        partner, end_user = item["partner_id"], item["end_user_id"]
        sets["email_hash"] = pseudonyms.email_hash(item["email"])
        owner = {"entity": "guard", "end_user_id": end_user}
        steps += customers.claim([customers.end_user_email_guard(partner, sets["email_hash"])], owner)
        steps.append(
            customers.release(customers.end_user_email_guard(partner, item["email_hash"]), "end_user_id", end_user)
        )
        record, fields = end_user, ("email",)
    if not sets:
        return None
    return [_update(table, item, sets), *steps], Access("rekey", customers.REGISTER, record, fields)


def prospect_steps(item: dict[str, Any], current: str) -> tuple[list[dict[str, Any]], Access] | None:
    """The transaction that moves a prospect item's (profile or source) `email_hash`."""
    if pseudonyms.version_of(item["email_hash"]) == current or not item.get("email"):
        return None
    update = _update(store.prospects().name, item, {"email_hash": pseudonyms.email_hash(item["email"])})
    return [update], Access("rekey", prospects.REGISTER, item["prospect_id"], ("email",))


def apply(steps: list[dict[str, Any]], access: Access, actor: Actor) -> bool:
    """Run one record's transaction with its audit event; False if it changed meanwhile."""
    try:
        store.client("dynamodb").transact_write_items(TransactItems=[*steps, actor.put(access)])
    except ClientError as exc:
        if store.condition_failed(exc):
            return False
        raise
    return True


def run(cursor: dict[str, Any] | None, time_left: Callable[[], float], run_id: str) -> dict[str, Any]:
    """Move stale hashes until done or until `time_left()` (seconds) runs low.

    `cursor` is what the previous invocation returned (`{"table", "start"}`), so a long
    walk continues where it stopped. Returns counts, the next cursor (None when done) and
    `done`.
    """
    current = pseudonyms.ring().current
    prefix = f"{current}:"
    actor = Actor(SYSTEM_REKEY, run_id)
    progress = Progress()
    position = cursor or {"table": TABLES[0], "start": None}
    if position.get("table") not in TABLES:
        raise ValueError("cursor.table must be customers or prospects")
    filters = {
        "customers": _stale("email_hash", prefix) | _stale("username_hash", prefix),
        "prospects": _stale("email_hash", prefix),
    }
    steps_of = {"customers": customer_steps, "prospects": prospect_steps}
    for name in TABLES[TABLES.index(position["table"]) :]:
        start = position["start"] if name == position["table"] else None
        while True:
            if time_left() < 30:
                return _result(progress, {"table": name, "start": start})
            kwargs: dict[str, Any] = {"FilterExpression": filters[name], "Limit": _PAGE, "ConsistentRead": True}
            if start:
                kwargs["ExclusiveStartKey"] = start
            page = _table(name).scan(**kwargs)
            for item in page["Items"]:
                planned = steps_of[name](item, current)
                if planned is None:
                    continue
                if apply(*planned, actor):
                    progress.rekeyed[name] += 1
                else:
                    progress.changed[name] += 1
            start = page.get("LastEvaluatedKey")
            if not start:
                break
    return _result(progress, None)


def _result(progress: Progress, cursor: dict[str, Any] | None) -> dict[str, Any]:
    summary = {
        "key_version": pseudonyms.ring().current,
        "rekeyed": progress.rekeyed,
        "changed_meanwhile": progress.changed,
        "cursor": cursor,
        "done": cursor is None and not any(progress.changed.values()),
        "at": clock.iso(),
    }
    logger.info("pseudonym rekey", extra={k: v for k, v in summary.items() if k != "cursor"})
    return summary
