"""Putting prospects recorded before Art. 14 tracking under it: a one-off after deployment.

The nightly notice job and the DPO's due/overdue list read only the sparse `art14_due`
index, which a PROFILE enters through `obtained_at` and the pending marker. Records made
before those attributes existed have neither, so without this walk they would never be
informed. The operator-invoked `art14_backfill` function (like `pseudonym_rekey`) walks the
prospect register's PROFILEs and gives each one not yet informed its `obtained_at` (its
`first_seen`: when the data first came) and the marker. They enter the index due or overdue
by that date; the next night's job informs those with an address and the DPO lists the rest.

It reads keys and dates only (a projection: no personal data, hence no audit event), and
writes a record only on the condition that it still exists, is still uninformed and still
unmarked, so it can run again at any time and never races the notice job or an erasure.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from boto3.dynamodb.conditions import Attr
from botocore.exceptions import ClientError

from chalicelib import art14, clock, prospects, store
from chalicelib.logs import logger

_PAGE = 200


def _unmarked() -> Any:
    """PROFILEs not informed and not in the index."""
    return Attr("sk").eq(prospects.PROFILE) & Attr("informed_at").not_exists() & Attr(art14.PENDING_ATTR).not_exists()


def mark(item: dict[str, Any]) -> bool:
    """Put one PROFILE into the index; False if it changed meanwhile (erased, informed or marked)."""
    try:
        store.prospects().update_item(
            Key={"pk": item["pk"], "sk": item["sk"]},
            UpdateExpression="SET #obtained = if_not_exists(#obtained, :first), #pending = :pending",
            ConditionExpression="attribute_exists(pk) AND attribute_not_exists(#informed)"
            " AND attribute_not_exists(#pending)",
            ExpressionAttributeNames={
                "#obtained": "obtained_at",
                "#pending": art14.PENDING_ATTR,
                "#informed": "informed_at",
            },
            # Every PROFILE has `first_seen`; should one not, the walk is the earliest date known.
            ExpressionAttributeValues={":first": art14.obtained_at(item) or clock.iso(), ":pending": art14.PENDING},
        )
    except ClientError as exc:
        if store.condition_failed(exc):
            return False
        raise
    return True


def run(cursor: dict[str, Any] | None, time_left: Callable[[], float]) -> dict[str, Any]:
    """Mark uninformed PROFILEs until done or until `time_left()` (seconds) runs low.

    `cursor` is what the previous invocation returned, so a long walk continues where it
    stopped. Returns counts, the next cursor (None when done) and `done`.
    """
    counts = {"marked": 0, "changed_meanwhile": 0}
    start = cursor
    while True:
        if time_left() < 30:
            return _result(counts, start)
        kwargs: dict[str, Any] = {
            "FilterExpression": _unmarked(),
            "ProjectionExpression": "pk, sk, first_seen, obtained_at",
            "Limit": _PAGE,
            "ConsistentRead": True,
        }
        if start:
            kwargs["ExclusiveStartKey"] = start
        page = store.prospects().scan(**kwargs)
        for item in page["Items"]:
            if mark(item):
                counts["marked"] += 1
            else:
                counts["changed_meanwhile"] += 1
        start = page.get("LastEvaluatedKey")
        if not start:
            return _result(counts, None)


def _result(counts: dict[str, int], cursor: dict[str, Any] | None) -> dict[str, Any]:
    summary = {**counts, "cursor": cursor, "done": cursor is None, "at": clock.iso()}
    logger.info("art14 backfill", extra={k: v for k, v in summary.items() if k != "cursor"})
    return summary
