"""The audit trail: who touched which record's personal data, when and how.

Events name fields, never their values. They expire after the audit retention period
(DynamoDB TTL, with the sweeper as the timely path).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, NotRequired

from boto3.dynamodb.conditions import Key
from typing_extensions import TypedDict  # pydantic reads TypedDicts from here before Python 3.12

from chalicelib import clock, store
from chalicelib.auth import Principal
from chalicelib.registers import AUDIT_RETENTION

_AUDIT_DAYS = AUDIT_RETENTION.months * 366 // 12 + 1  # calendar-safe upper bound of 3 years


@dataclass(frozen=True)
class Access:
    """One access to one record: what the API or a function did."""

    action: str  # e.g. create, read, list, update, delete, export, erase
    register: str  # "customers" | "prospects" | "suppression" | "partners" | "system"
    record_id: str
    fields: tuple[str, ...] = ()


def _event(principal: Principal, access: Access, request_id: str) -> dict[str, Any]:
    at = clock.now()
    return {
        "pk": f"RECORD#{access.register}#{access.record_id}",
        "sk": f"{clock.sortable(at)}#{uuid.uuid4().hex}",
        "principal_id": principal.principal_id,
        "roles": sorted(r.value for r in principal.roles),
        "action": access.action,
        "register": access.register,
        "record_id": access.record_id,
        "fields": sorted(set(access.fields)),
        "request_id": request_id,
        "at": clock.iso(at),
        "expires_at": int((at + timedelta(days=_AUDIT_DAYS)).timestamp()),
    }


def append(principal: Principal, access: Access, request_id: str, **details: Any) -> dict[str, Any]:
    """Append one event carrying extra, non-personal details (a hold's reason, a run's counts)."""
    event = {**_event(principal, access, request_id), **details}
    store.audit().put_item(Item=event)
    return event


def record(principal: Principal, accesses: Iterable[Access], request_id: str) -> None:
    """Append one event per access; batched, so a page of 100 records is 4 requests."""
    events = [_event(principal, a, request_id) for a in accesses]
    if not events:
        return
    if len(events) == 1:
        store.audit().put_item(Item=events[0])
        return
    with store.audit().batch_writer() as batch:
        for event in events:
            batch.put_item(Item=event)


# What an event may carry besides its common fields (audit.append's `details`).
DETAIL_FIELDS = ("reason", "summary", "request")


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


def by_record(register: str, record_id: str, limit: int, cursor: str | None) -> dict[str, Any]:
    """Newest-first events of one record."""
    return _page(
        store.query_page(
            store.audit(),
            cursor,
            {"pk", "sk"},
            KeyConditionExpression=Key("pk").eq(f"RECORD#{register}#{record_id}"),
            ScanIndexForward=False,
            Limit=limit,
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
