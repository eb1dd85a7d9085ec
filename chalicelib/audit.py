"""The audit trail: who touched which record's personal data, when and how.

Events name fields, never their values. They expire after the audit retention period
(DynamoDB TTL, with the sweeper as the timely path).

Exactly one event per change, whatever fails and is retried:
* A change made by one API request goes into the same TransactWriteItems as the change
  (`Actor.put`): both happen or neither does, and a retry of a call whose reply was lost
  carries the same ClientRequestToken, so DynamoDB does not apply it twice.
* Imports and the sweeper give each event a deterministic key (`event_key`: run, line or
  record, action), so a redelivered or re-run step writes the same key again.
* Every event is written on the condition `attribute_not_exists(pk)`: an event is never
  overwritten, and a failed condition on an event means "already recorded", not an error.
  Events of reads (lists, exports) have a random key; they are batched, with no condition
  (a random 128-bit key cannot meet another).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, NotRequired

from boto3.dynamodb.conditions import Attr, Key
from botocore.exceptions import ClientError
from typing_extensions import TypedDict  # pydantic reads TypedDicts from here before Python 3.12

from chalicelib import clock, store
from chalicelib.auth import Principal
from chalicelib.registers import AUDIT_RETENTION

_AUDIT_DAYS = AUDIT_RETENTION.months * 366 // 12 + 1  # calendar-safe upper bound of 3 years
NOT_RECORDED = "attribute_not_exists(pk)"
_EVENT_IDS = uuid.UUID("5b0c8f8e-6f1e-4d3a-9a43-a0d1e2f3c4b5")  # namespace of deterministic event ids


@dataclass(frozen=True)
class Access:
    """One access to one record: what the API or a function did."""

    action: str  # e.g. create, read, list, update, delete, export, erase
    register: str  # "customers" | "prospects" | "suppression" | "partners" | "system"
    record_id: str
    fields: tuple[str, ...] = ()


def event_key(sortable_at: str, *parts: object) -> str:
    """A deterministic event key: `sortable_at` (when the run started) and the step's own ids.

    Keys sort by time within a record (the audit reads list newest first), and the same
    step of the same run always gets the same key, so writing it twice records it once.
    """
    return "#".join([sortable_at, *(str(p) for p in parts)])


def event(
    principal: Principal, access: Access, request_id: str, *, key: str | None = None, **details: Any
) -> dict[str, Any]:
    """One audit item; `key` (from `event_key`) makes it deterministic, else a random key.

    A random key ends in the event's id; a deterministic one ends in a step's name, so its
    event carries `event_id` itself: a UUID derived from the record and the key, as stable
    as the key.
    """
    at = clock.now()
    pk = f"RECORD#{access.register}#{access.record_id}"
    ids = {"event_id": uuid.uuid5(_EVENT_IDS, f"{pk}|{key}").hex} if key else {}
    return {
        "pk": pk,
        "sk": key or f"{clock.sortable(at)}#{uuid.uuid4().hex}",
        **ids,
        "principal_id": principal.principal_id,
        "roles": sorted(r.value for r in principal.roles),
        "action": access.action,
        "register": access.register,
        "record_id": access.record_id,
        "fields": sorted(set(access.fields)),
        "request_id": request_id,
        "at": clock.iso(at),
        "expires_at": int((at + timedelta(days=_AUDIT_DAYS)).timestamp()),
        **details,
    }


def transact_put(item: dict[str, Any]) -> dict[str, Any]:
    """The event as one conditional Put of a TransactWriteItems request."""
    return {
        "Put": {
            "TableName": store.audit().name,
            "Item": store.typed_item(item),
            "ConditionExpression": NOT_RECORDED,
        }
    }


@dataclass(frozen=True)
class Actor:
    """Who makes a change: the principal and its request, for the change's own audit event."""

    principal: Principal
    request_id: str

    def put(self, access: Access, *, key: str | None = None, **details: Any) -> dict[str, Any]:
        """The event of `access` as a Put for the change's TransactWriteItems."""
        return transact_put(event(self.principal, access, self.request_id, key=key, **details))


def put_once(item: dict[str, Any]) -> bool:
    """Write one event unless its key is already recorded; True if this call wrote it."""
    try:
        store.audit().put_item(Item=item, ConditionExpression=NOT_RECORDED)
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return False  # recorded already (by an earlier attempt, or a lost reply's retry)
        raise
    return True


def append(
    principal: Principal, access: Access, request_id: str, *, key: str | None = None, **details: Any
) -> dict[str, Any]:
    """Append one event carrying extra, non-personal details (a hold's reason, a run's counts)."""
    item = event(principal, access, request_id, key=key, **details)
    put_once(item)
    return item


def record(principal: Principal, accesses: Iterable[Access], request_id: str) -> None:
    """Append one event per read access; batched, so a page of 100 records is 4 requests.

    For reads only: a change records its event with the change (`Actor.put`) or under a
    deterministic key (`put_once`).
    """
    events = [event(principal, a, request_id) for a in accesses]
    if not events:
        return
    if len(events) == 1:
        put_once(events[0])
        return
    with store.audit().batch_writer() as batch:
        for item in events:
            batch.put_item(Item=item)


# What an event may carry besides its common fields (audit.append's `details`).
DETAIL_FIELDS = ("reason", "summary", "request", "notification")


class AuditEvent(TypedDict):
    """One audit event as the API answers it: field names, never values."""

    event_id: str
    at: str
    action: str
    register: str
    record_id: str
    fields: list[str]
    principal_id: str
    roles: list[str]
    request_id: NotRequired[str]
    reason: NotRequired[str]  # legal holds
    summary: NotRequired[dict[str, Any]]  # retention sweeps: counts per rule
    request: NotRequired[dict[str, Any]]  # subject requests: type, outcome, channel, counts
    notification: NotRequired[dict[str, Any]]  # Art. 19 notices: notification id, recipient, change


class AuditEventPage(TypedDict):
    items: list[AuditEvent]
    next_cursor: str | None


def present(item: dict[str, Any]) -> AuditEvent:
    """An audit event as the API answers it: the documented fields, no storage keys.

    `event_id` names the event (the unique part of its sort key); empty values (an event
    written outside a request has no request id) are left out.
    """
    event = {
        "event_id": str(item.get("event_id") or str(item["sk"]).rsplit("#", 1)[-1]),
        "at": item.get("at"),
        "action": item.get("action"),
        "register": item.get("register"),
        "record_id": item.get("record_id"),
        "fields": list(item.get("fields") or []),
        "principal_id": item.get("principal_id"),
        "roles": list(item.get("roles") or []),
        "request_id": item.get("request_id"),
        **{k: item.get(k) for k in DETAIL_FIELDS},
    }
    shown: AuditEvent = store.plain({k: v for k, v in event.items() if v not in (None, "")})
    return shown


def _page(page: dict[str, Any]) -> dict[str, Any]:
    return {"items": [present(i) for i in page["items"]], "next_cursor": page["next_cursor"]}


def by_record(
    register: str, record_id: str, limit: int, cursor: str | None, action: str | None = None
) -> dict[str, Any]:
    """Newest-first events of one record; only those of `action` when it is given (a page may
    then hold fewer than `limit`: DynamoDB filters after reading the page)."""
    only = {"FilterExpression": Attr("action").eq(action)} if action else {}
    return _page(
        store.query_page(
            store.audit(),
            cursor,
            {"pk", "sk"},
            KeyConditionExpression=Key("pk").eq(f"RECORD#{register}#{record_id}"),
            ScanIndexForward=False,
            Limit=limit,
            **only,
        )
    )


def by_principal(principal_id: str, limit: int, cursor: str | None) -> dict[str, Any]:
    """Newest-first events caused by one principal."""
    return _page(
        store.query_page(
            store.audit(),
            cursor,
            {"pk", "sk", "principal_id"},
            IndexName="by_principal",
            KeyConditionExpression=Key("principal_id").eq(principal_id),
            ScanIndexForward=False,
            Limit=limit,
        )
    )
