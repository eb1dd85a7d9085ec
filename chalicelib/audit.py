"""The audit trail: who touched which record's personal data, when and how.

Events name fields, never their values. They expire after the audit retention period
(DynamoDB TTL, with the sweeper as the timely path).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from boto3.dynamodb.conditions import Key

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


def _page(page: dict[str, Any]) -> dict[str, Any]:
    page["items"] = [{k: v for k, v in i.items() if k not in ("pk", "expires_at")} for i in page["items"]]
    return page


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
