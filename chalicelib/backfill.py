"""Putting records made before a rule's date existed under that rule: a one-off after deployment.

Rules find their records through sparse indexes, never by a Scan: the nightly Art. 14 notice
job and the DPO's list read `art14_due` (a PROFILE enters it with `obtained_at` and the
pending marker), and the retention sweeper reads `retention_due` (a customer enters the
dormant-account rule with `retention_rule` and `retention_due_at`). Records made before those
attributes existed have neither and would never be informed, or never be found unused. The
operator-invoked `register_backfill` function (like `pseudonym_rekey`) walks both registers
once and gives each such record what new records get from the start:

- an uninformed prospect: `obtained_at` = its `first_seen` (when the data first came) and the
  pending marker. It is due or overdue by that date; the next night's job informs those with
  an address, the DPO lists the rest.
- an active customer with no retention rule and no contract end: `customer_dormant`, due the
  rule's period from today. Sign-ins were not recorded before, so today is the earliest day
  the system can vouch for; no one is told of an unused account sooner than the rule says.

It reads keys and dates only (a projection: no personal data, hence no audit event) and writes
a record only on the condition that it is still in the state read, so it can run again at any
time and never races a sweep, a notice, an erasure or the person's own activity.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from boto3.dynamodb.conditions import Attr
from botocore.exceptions import ClientError

from chalicelib import art14, clock, customers, prospects, store
from chalicelib.logs import logger

TABLES = ("prospects", "customers")
_PAGE = 200


@dataclass(frozen=True)
class _Pass:
    """One register's walk: which items need the rule, and the conditional update that adds it."""

    table: Callable[[], Any]
    needs: Callable[[], Any]
    projection: str
    mark: Callable[[dict[str, Any]], bool]


def _conditional(
    table: Any, item: dict[str, Any], update: str, condition: str, names: tuple[str, ...], values: dict[str, Any]
) -> bool:
    """Apply `update` to the item if `condition` still holds (`#name` for each of `names`);
    False if it changed meanwhile."""
    try:
        table.update_item(
            Key={"pk": item["pk"], "sk": item["sk"]},
            UpdateExpression=update,
            ConditionExpression=condition,
            ExpressionAttributeNames={f"#{name}": name for name in names},
            ExpressionAttributeValues=values,
        )
    except ClientError as exc:
        if store.condition_failed(exc):
            return False
        raise
    return True


def _uninformed_prospect() -> Any:
    return Attr("sk").eq(prospects.PROFILE) & Attr("informed_at").not_exists() & Attr(art14.PENDING_ATTR).not_exists()


def mark_prospect(item: dict[str, Any]) -> bool:
    """Put one uninformed PROFILE into `art14_due`; False if erased, informed or marked meanwhile."""
    return _conditional(
        store.prospects(),
        item,
        f"SET #obtained_at = if_not_exists(#obtained_at, :first), #{art14.PENDING_ATTR} = :pending",
        f"attribute_exists(pk) AND attribute_not_exists(#informed_at) AND attribute_not_exists(#{art14.PENDING_ATTR})",
        names=("obtained_at", "informed_at", art14.PENDING_ATTR),
        # Every PROFILE has `first_seen`; should one not, the walk is the earliest date known.
        values={":first": art14.obtained_at(item) or clock.iso(), ":pending": art14.PENDING},
    )


def _uncounted_customer() -> Any:
    return (
        Attr("sk").eq(customers.PROFILE)
        & Attr("entity").eq("customer")
        & Attr("status").eq("active")
        & Attr("retention_rule").not_exists()
        & Attr("contract_end").not_exists()
    )


def mark_customer(item: dict[str, Any]) -> bool:
    """Put one active customer under `customer_dormant`, due the period from today; False if
    it changed meanwhile (a contract ended, another rule, erased, or its own activity)."""
    return _conditional(
        store.customers(),
        item,
        "SET #retention_rule = :dormant, #retention_due_at = :due",
        "attribute_exists(pk) AND #entity = :customer AND #status = :active"
        " AND attribute_not_exists(#retention_rule) AND attribute_not_exists(#contract_end)",
        names=("retention_rule", "retention_due_at", "entity", "status", "contract_end"),
        values={
            ":dormant": customers.DORMANT.name,
            ":due": customers.dormant_due(clock.local_date()),
            ":customer": "customer",
            ":active": "active",
        },
    )


_PASSES = {
    "prospects": _Pass(store.prospects, _uninformed_prospect, "pk, sk, first_seen, obtained_at", mark_prospect),
    "customers": _Pass(store.customers, _uncounted_customer, "pk, sk", mark_customer),
}


def run(cursor: dict[str, Any] | None, time_left: Callable[[], float]) -> dict[str, Any]:
    """Mark records until done or until `time_left()` (seconds) runs low.

    `cursor` is what the previous invocation returned (`{"table", "start"}`), so a long walk
    continues where it stopped. Returns counts per register, the next cursor (None when
    done) and `done`.
    """
    counts = {name: {"marked": 0, "changed_meanwhile": 0} for name in TABLES}
    position = cursor or {"table": TABLES[0], "start": None}
    if position.get("table") not in TABLES:
        raise ValueError("cursor.table must be prospects or customers")
    for name in TABLES[TABLES.index(position["table"]) :]:
        walk = _PASSES[name]
        start = position["start"] if name == position["table"] else None
        while True:
            if time_left() < 30:
                return _result(counts, {"table": name, "start": start})
            kwargs: dict[str, Any] = {
                "FilterExpression": walk.needs(),
                "ProjectionExpression": walk.projection,
                "Limit": _PAGE,
                "ConsistentRead": True,
            }
            if start:
                kwargs["ExclusiveStartKey"] = start
            page = walk.table().scan(**kwargs)
            for item in page["Items"]:
                counts[name]["marked" if walk.mark(item) else "changed_meanwhile"] += 1
            start = page.get("LastEvaluatedKey")
            if not start:
                break
    return _result(counts, None)


def _result(counts: dict[str, dict[str, int]], cursor: dict[str, Any] | None) -> dict[str, Any]:
    summary = {**counts, "cursor": cursor, "done": cursor is None, "at": clock.iso()}
    logger.info("register backfill", extra={k: v for k, v in summary.items() if k != "cursor"})
    return summary
