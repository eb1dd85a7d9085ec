"""The disclosure log: to whom each prospect's data was handed, and the Art. 19 notices it drives.

The log (GDPR Art. 15(1)(c), Art. 19)
    Every handover of a prospect's data to someone outside the named staff is recorded per
    person: a partner reading prospects (`partner_read`), a call list downloaded
    (`call_list`), a marketing partner reading a campaign's audience
    (`campaign_audience`), each campaign message sent (`email`, recipient `SES`: the
    processor that carries the controller's own message; chalicelib/mail/campaign_send.py). An entry references the
    prospect id; it is not a copy of the data. It lives in the prospect's own partition of
    the prospects table, `PROSPECT#<id>` / `DISCLOSURE#<recipient>#<purpose>#<campaign>#<day>`,
    so it lasts exactly as long as the record and goes with it (`retention.delete_prospect`
    deletes the partition; the sweeper deletes a due PROFILE's entries with it). Entries
    carry no personal values and none of the index key attributes (`email_hash`,
    `source_partner`, `list_pk`, `retention_rule`), so no index and no other reader sees
    them. One entry per prospect, recipient, purpose, campaign and (Finnish) day: a re-read
    the same day overwrites it (its `last_at` moves), so the log is bounded.

Art. 19 notices
    When a prospect's data is rectified (staff PATCH, subject rectification), erased (staff
    delete, subject erasure, the retention sweeper, a full refresh that deletes the
    prospect), its processing restricted (Art. 18, chalicelib/restriction.py) or the person
    objects, every recipient in its log is notified once per change, through its partner
    channel: a notification item in the audit table under `NOTIFICATIONS#<partner_id>`
    (read with `GET /partner/notifications`). It holds no personal values: the prospect
    id, what happened (`rectified` with the field names, `erased`, `objected`,
    `restricted`) and when. The recipients are read from the log BEFORE the change (the
    erasure deletes the log with the partition), and each notification goes into the
    change's own transaction with its audit event (action `notify` on the prospect), so a
    change is never committed without its notices nor notified without happening. An erasure
    on the person's request (Art. 17, `ERASED_ON_REQUEST`) also tells each partner whose
    file brought the person (its `SOURCE#` item), so the partner can stop sending them: a
    partner both in the log and a source is told once. Its id is
    derived from the prospect, the change, the recipient and the request that made the
    change (`notification_id`): the same change cannot notify a recipient twice.

    The audit table, not the prospect's partition, holds the notices so that they outlive
    the erasure they report. They expire after `NOTIFICATION_RETENTION` (12 months) by
    DynamoDB TTL on `expires_at`, the audit table's TTL attribute: long enough for a
    partner that polls monthly or quarterly to act on every notice and for the yearly
    review of a processing agreement to see them; the `notify` audit event stays the
    audit period (3 years) as the proof that the notice was given.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from chalicelib import audit, clock, store
from chalicelib.audit import Access, Actor
from chalicelib.registers import NOTIFICATION_RETENTION, PROSPECT_REGISTER

PREFIX = "DISCLOSURE#"
# `email`: a campaign message; `art14_notice`: the notice-only message of GDPR Art. 14 (chalicelib/art14.py).
PURPOSES = ("partner_read", "call_list", "campaign_audience", "email", "art14_notice")
CHANGES = ("rectified", "erased", "objected", "restricted")
NOTIFICATIONS = "NOTIFICATIONS#"
_PROFILE = "PROFILE"
_SOURCE = "SOURCE#"  # prospects.SOURCE_PREFIX (that module imports this one)
_NO_CAMPAIGN = "-"
# The recipient of `email` entries: Amazon SES, the controller's processor that delivers its
# messages. Not a partner id (the colon): it never has a partner channel, and a processor
# acting on the controller's instructions gets no Art. 19 notice (`notices` leaves it out).
SES = "processor:amazon-ses"
PROCESSORS = frozenset({SES})
_PER_TRANSACTION = 50  # a ConditionCheck and a Put per prospect: 100 items, DynamoDB's limit
_NOTICE_IDS = uuid.UUID("0d6f5e3a-2b1c-4f7e-9a8d-7c6b5a4e3d2f")  # namespace of notification ids
_NOTICE_DAYS = NOTIFICATION_RETENTION.months * 366 // 12 + 1  # calendar-safe upper bound


def _pk(prospect_id: str) -> str:
    return f"PROSPECT#{prospect_id}"


def entry_sk(recipient: str, purpose: str, campaign_id: str | None, day: str) -> str:
    return f"{PREFIX}{recipient}#{purpose}#{campaign_id or _NO_CAMPAIGN}#{day}"


def entry_update(
    prospect_id: str, recipient: str, purpose: str, campaign_id: str | None, actor: Actor
) -> dict[str, Any]:
    """The Update that writes (or, the same day, refreshes) one log entry, for a caller's own
    transaction (`record` writes many, each conditional on its PROFILE)."""
    if purpose not in PURPOSES:
        raise ValueError(f"unknown disclosure purpose {purpose}")
    now = clock.iso()
    day = clock.local_date().isoformat()
    sets = {
        "entity": "disclosure",
        "prospect_id": prospect_id,
        "recipient": recipient,
        "purpose": purpose,
        "campaign_id": campaign_id,
        "day": day,
        "last_at": now,
        "request_id": actor.request_id or None,
    }
    sets = {k: v for k, v in sets.items() if v is not None}
    names = {f"#a{i}": k for i, k in enumerate(sets)}
    values = {f":v{i}": v for i, v in enumerate(sets.values())}
    assignments = ", ".join(f"#a{i} = :v{i}" for i in range(len(sets)))
    # The first handover of the day is kept; a re-read moves only `last_at`.
    return {
        "Update": {
            "TableName": store.prospects().name,
            "Key": store.typed({"pk": _pk(prospect_id), "sk": entry_sk(recipient, purpose, campaign_id, day)}),
            "UpdateExpression": f"SET {assignments}, first_at = if_not_exists(first_at, :now)",
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": store.typed({**values, ":now": now}),
        }
    }


def _exists(prospect_id: str) -> dict[str, Any]:
    return {
        "ConditionCheck": {
            "TableName": store.prospects().name,
            "Key": store.typed({"pk": _pk(prospect_id), "sk": _PROFILE}),
            # A restricted record (GDPR Art. 18) is stored, never handed over.
            "ConditionExpression": "attribute_exists(pk) AND attribute_not_exists(restriction)",
        }
    }


def record(
    prospect_ids: Iterable[str], recipient: str, purpose: str, actor: Actor, campaign_id: str | None = None
) -> set[str]:
    """Record a handover of each prospect's data to `recipient`; the ids actually recorded.

    Each entry is written on the condition that the prospect's PROFILE still exists and is
    not restricted (Art. 18, chalicelib/restriction.py), 50 prospects a transaction; a
    prospect erased or restricted meanwhile is left out (and the transaction retried without
    it). Callers hand out ONLY the returned ids.
    """
    if purpose not in PURPOSES:
        raise ValueError(f"unknown disclosure purpose {purpose}")
    ids = list(dict.fromkeys(prospect_ids))
    recorded: set[str] = set()
    for start in range(0, len(ids), _PER_TRANSACTION):
        chunk = ids[start : start + _PER_TRANSACTION]
        while chunk:
            transact = [
                op for pid in chunk for op in (_exists(pid), entry_update(pid, recipient, purpose, campaign_id, actor))
            ]
            try:
                store.client("dynamodb").transact_write_items(TransactItems=transact)
            except ClientError as exc:
                if not store.condition_failed(exc):
                    raise
                reasons = exc.response.get("CancellationReasons") or []
                gone = {
                    chunk[i // 2]
                    for i, r in enumerate(reasons)
                    if i % 2 == 0 and r.get("Code") == "ConditionalCheckFailed"
                }
                if not gone:
                    raise
                chunk = [pid for pid in chunk if pid not in gone]
                continue
            recorded.update(chunk)
            break
    return recorded


def entries_of(prospect_id: str) -> list[dict[str, Any]]:
    """The log entries of one prospect, read consistently from its partition."""
    return store.query_all(
        store.prospects(),
        KeyConditionExpression=Key("pk").eq(_pk(prospect_id)) & Key("sk").begins_with(PREFIX),
        ConsistentRead=True,
    )


def recipients_of(items_or_prospect_id: str | Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Who got the prospect's data, for what and when (Art. 15(1)(c)), oldest first.

    Takes a prospect id (reads its log) or the partition's items already read.
    """
    if isinstance(items_or_prospect_id, str):
        items: Iterable[dict[str, Any]] = entries_of(items_or_prospect_id)
    else:
        items = [i for i in items_or_prospect_id if str(i.get("sk", "")).startswith(PREFIX)]
    out = [
        {
            "recipient": i["recipient"],
            "purpose": i["purpose"],
            **({"campaign_id": i["campaign_id"]} if i.get("campaign_id") else {}),
            "first_at": i.get("first_at") or i.get("last_at"),
            "last_at": i.get("last_at"),
        }
        for i in items
    ]
    return sorted(out, key=lambda e: (str(e["first_at"]), e["recipient"], e["purpose"]))


# -- Art. 19 notices ----------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    """What happened to a prospect's data, to tell its recipients (no values, field names only).

    `spare`: recipients that need no notice because they made the change themselves (a
    partner whose full refresh removed the person). `to_sources`: the partners whose
    SOURCE items held the person are told too (an erasure on request).
    """

    change: str  # rectified | erased | objected | restricted (Art. 18, chalicelib/restriction.py)
    fields: tuple[str, ...] = ()
    spare: frozenset[str] = frozenset()
    to_sources: bool = False

    def __post_init__(self) -> None:
        if self.change not in CHANGES:
            raise ValueError(f"unknown change {self.change}")


ERASED = Change("erased")
ERASED_ON_REQUEST = Change("erased", to_sources=True)
OBJECTED = Change("objected")


def notification_id(prospect_id: str, change: Change, recipient: str, request_id: str) -> str:
    """The notice's id: the same for the same change (request) of a prospect, per recipient."""
    return uuid.uuid5(_NOTICE_IDS, f"{prospect_id}|{change.change}|{recipient}|{request_id}").hex


def recipients(entries: Iterable[dict[str, Any]]) -> list[str]:
    """The distinct recipients of log `entries` (items of the partition or `entries_of`)."""
    return sorted({str(i["recipient"]) for i in entries if str(i.get("sk", "")).startswith(PREFIX)})


def source_partners(items: Iterable[dict[str, Any]]) -> list[str]:
    """The partners whose files brought the prospect: its `SOURCE#<partner>` items among `items`."""
    return sorted({str(i["sk"])[len(_SOURCE) :] for i in items if str(i.get("sk", "")).startswith(_SOURCE)})


def notices(prospect_id: str, entries: Iterable[dict[str, Any]], change: Change, actor: Actor) -> list[dict[str, Any]]:
    """The transaction items that notify every recipient of `entries` of `change`, each once.

    With `change.to_sources`, the partners of the SOURCE items among `entries` (the whole
    partition, read before the change) are recipients too, each still told once.

    Two items per recipient: the notification (audit table, partner partition, expiring by
    TTL) and its audit event (`notify` on the prospect). `entries` are read BEFORE the change
    (an erasure deletes them). Every item is conditional on its key being new, so the same
    change cannot notify twice.
    """
    at = clock.now()
    out: list[dict[str, Any]] = []
    entries = list(entries)
    told = set(recipients(entries)) | (set(source_partners(entries)) if change.to_sources else set())
    for recipient in sorted(told):
        if recipient in change.spare or recipient in PROCESSORS:
            continue
        nid = notification_id(prospect_id, change, recipient, actor.request_id)
        item = {
            "pk": f"{NOTIFICATIONS}{recipient}",
            "sk": f"{clock.sortable(at)}#{nid}",
            "notification_id": nid,
            "recipient": recipient,
            "prospect_id": prospect_id,
            "change": change.change,
            "fields": sorted(change.fields) or None,
            "at": clock.iso(at),
            "expires_at": int((at + timedelta(days=_NOTICE_DAYS)).timestamp()),
        }
        put = {
            "TableName": store.audit().name,
            "Item": store.typed_item(item),
            "ConditionExpression": audit.NOT_RECORDED,
        }
        event = actor.put(
            Access("notify", PROSPECT_REGISTER.key, prospect_id, change.fields),
            key=audit.event_key(clock.sortable(at), "notify", nid),
            notification={"notification_id": nid, "recipient": recipient, "change": change.change},
        )
        out += [{"Put": put}, event]
    return out


def transact(change_items: list[dict[str, Any]], notice_items: list[dict[str, Any]]) -> None:
    """One change and its notices in one TransactWriteItems (errors are the caller's to read).

    A transaction holds at most 100 items; a prospect's recipients are partners of the
    registry (a handful), so they fit beside the change. Should they not, the change goes
    with as many notices as fit and the rest follow in their own transactions (each notice
    with its event), right after it.
    """
    room = max(0, 100 - len(change_items))
    room -= room % 2
    client = store.client("dynamodb")
    client.transact_write_items(TransactItems=[*change_items, *notice_items[:room]])
    rest = notice_items[room:]
    for start in range(0, len(rest), 100):
        client.transact_write_items(TransactItems=rest[start : start + 100])


def present(item: dict[str, Any]) -> dict[str, Any]:
    """A notification as its partner reads it: ids, what happened, when; no personal values."""
    out = {
        "notification_id": item["notification_id"],
        "prospect_id": item["prospect_id"],
        "change": item["change"],
        "at": item["at"],
        "expires_at": store.plain(item.get("expires_at")),
    }
    if item.get("fields"):
        out["fields"] = list(item["fields"])
    return out


def notifications_for(partner_id: str, limit: int, cursor: str | None) -> dict[str, Any]:
    """A partner's notifications, newest first, one page."""
    page = store.query_page(
        store.audit(),
        cursor,
        {"pk", "sk"},
        KeyConditionExpression=Key("pk").eq(f"{NOTIFICATIONS}{partner_id}"),
        ScanIndexForward=False,
        Limit=limit,
    )
    return {"items": [present(i) for i in page["items"]], "next_cursor": page["next_cursor"]}
