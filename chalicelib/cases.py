"""Data subject request cases: every request, with its legal deadline (GDPR Art. 12(3)).

Whoever files a request (the person through the privacy center, a signed-in customer, staff
for a letter or a phone call, an unsubscribe link), it becomes one case in the
`RequestCases` table: received when, through which channel, of which type, whether and how
the person's identity is verified, its status, its due date, who handled it, what was done
and how the answer was delivered. Staff and the DPO work the list by due date.

Statuses
    unverified -> open (`verify`) -> done (`carry_out` where no judgement is needed, or
    `close`) | refused (`refuse`, from any active status); open <-> waiting_for_person
    (`wait_for_person` / `resume`); waiting_for_person -> done (`LAPSED_NO_ANSWER`: the
    nightly sweep, when no answer came within `WAITING_LAPSE_DAYS`). Closed cases (done,
    refused) change no more. A transition from the wrong status is a 409 with a code saying
    which (`case_not_open`, ...).

The deadline (Art. 12(3), counted as Regulation (EEC, Euratom) No 1182/71 counts periods)
    A request received on Finnish date D is due on the same day of the month one month
    later, or on that month's last day when the day does not exist (31 January -> 28 or 29
    February). `extend` adds one or two more months once, counted the same way from D, and
    mails the person the reason before it is recorded (Art. 12(3): "together with the
    reasons for the delay"); it is refused after the due date. While a case waits for the
    person (`waiting_for_person`) the clock stops: on `resume` the days waited are added to
    the due date. Only `open` cases count as overdue or soon due (within `SOON_DAYS`): an
    unverified request has not shown whose it is, a waiting one has its clock stopped.

No more personal data than needed
    The address is kept as its keyed hash (`pseudonyms.email_hash`, the rotatable keyring;
    the `by_email` index finds a person's cases for their access answer, under every key
    version in the ring) and, only while the case is active, as `contact`: the address the
    answer must reach.
    Closing removes `contact` and `details` (what the person asked, e.g. rectification's new
    values). Nothing about the person is logged or put in an error text.

Retention (enforced by the nightly sweeper, `sweep_retention`; docs/retention-and-rights.md)
    A closed case is kept `CLOSED_KEEP_MONTHS` (36) months from closing: the controller's
    proof of how it answered (Art. 5(2)), for the general 3-year limitation period of
    Finnish law (Act on the Limitation of Debts 728/2003, 4 §). A case that is never
    verified is deleted `UNVERIFIED_KEEP_DAYS` (30) days after it was received. A case
    waiting for the person (`RULE_WAITING`, from `wait_for_person` until `resume`) lapses
    `WAITING_LAPSE_DAYS` (60) days after the wait began: the person is mailed that it is
    closed for want of their answer and that they may make a new request, then the sweep
    closes it `done` (`LAPSED_NO_ANSWER`), which removes the address and details and starts
    the closed case's period. Sixty days, because it is as long as the longest extension
    Art. 12(3) gives the controller: the person gets as long to answer as the controller may
    take beyond the first month, enough for a letter both ways or to find a document; and
    an address nobody answers from is not kept in an active case for ever.

Every change is ONE TransactWriteItems: the case item (conditional on the version read)
and its audit event (register `cases`); a verification by the privacy center's one-time link
also uses the link up with its own event (`verify_by_link`). The domain functions a case carries out
(chalicelib/subjects.py, chalicelib/restriction.py) write their own changes with their own
events, as they do for every caller.
"""

from __future__ import annotations

import json
import uuid
from datetime import date, timedelta
from typing import Any, cast
from urllib.parse import urlencode

from boto3.dynamodb.conditions import Attr, Key
from botocore.exceptions import ClientError

from chalicelib import audit, clock, customers, prospects, pseudonyms, restriction, retention, store, subjects
from chalicelib.audit import Access, Actor
from chalicelib.config import settings
from chalicelib.errors import Conflict, NotFound, ValidationFailed
from chalicelib.logs import logger
from chalicelib.mail import compose
from chalicelib.mail.case_texts import EXTENDED, KIND_NAMES, LAPSED, REFUSED
from chalicelib.mail.send import send
from chalicelib.registers import CASE_CLOSED_RETENTION, CASE_UNVERIFIED_RETENTION, CASE_WAITING_RETENTION, STAFF_ROLES
from chalicelib.subjects import Answer
from chalicelib.validation import checked_email, parse

CASE_TYPES = ("access", "rectification", "erasure", "restriction", "objection", "portability")
CHANNELS = (
    "privacy_center",
    "self_service",
    "staff_letter",
    "staff_phone",
    "staff_email",
    "unsubscribe_link",
    "one_click_unsubscribe",
)
LINK_METHOD = "email_link"  # the privacy center's one-time link proved the address
VERIFICATION_METHODS = (LINK_METHOD, "signed_in", "staff_checked", "unsubscribe_link")
ACTIVE = ("unverified", "open", "waiting_for_person")
CLOSED = ("done", "refused")
STATUSES = ACTIVE + CLOSED
DELIVERIES = ("email", "privacy_center", "letter", "in_response")
LANGS = ("fi", "en")
REGISTER = "cases"  # the audit trail's register of case events
QUEUE = "active"  # the sparse working-list index's partition, present only while active
ACTIVE_INDEX = "active_by_due"
CLOSED_INDEX = "closed_by_status"
SOON_DAYS = 7
EXTENSION_MONTHS = (1, 2)
CLOSED_KEEP_MONTHS = CASE_CLOSED_RETENTION.months
UNVERIFIED_KEEP_DAYS = CASE_UNVERIFIED_RETENTION.days
WAITING_LAPSE_DAYS = CASE_WAITING_RETENTION.days
RULE_CLOSED = "case_closed"
RULE_UNVERIFIED = "case_unverified"
RULE_WAITING = "case_waiting"
# The sweep's case rules in the order it applies them: what it does to a due case, and when.
RETENTION_RULES = {
    RULE_UNVERIFIED: ("delete", CASE_UNVERIFIED_RETENTION),
    RULE_WAITING: ("close_and_tell", CASE_WAITING_RETENTION),
    RULE_CLOSED: ("delete", CASE_CLOSED_RETENTION),
}
LAPSED_NO_ANSWER = "lapsed_no_answer"  # the outcome of a case closed because the person never answered
MAX_TEXT = 500  # an outcome, a reason: a sentence or two, not a document
MAX_DETAILS_BYTES = 10_000
# The privacy center's one-time link on an unverified case: its keyed hash, expiry and wrong
# tries (chalicelib/privacy_center.py writes it; `verify_by_link` uses it up).
LINK = "link"
# Types that `carry_out` closes by itself: nothing in them needs a person's judgement.
SELF_CLOSING = frozenset({"access", "portability", "objection"})
# Channels where the person is the caller, so the answer reaches them in the response itself.
# A case from a letter, a call or an email (staff_*) stays open after it is carried out: it is
# answered when staff send the answer and `close` it with how it was delivered (Art. 12(3)).
ANSWERED_IN_RESPONSE = frozenset({"privacy_center", "self_service", "unsubscribe_link", "one_click_unsubscribe"})
# What staff see of a case: never `contact` or `email_hash`, nor the storage's own fields.
VIEW_FIELDS = (
    "case_id",
    "type",
    "channel",
    "received_at",
    "received_on",
    "lang",
    "status",
    "verification",
    "due_at",
    "paused_since",
    "paused_days",
    "waiting_reason",
    "extension",
    "handler",
    "actions",
    "details",
    "outcome",
    "refusal_reason",
    "refusal_told_at",
    "delivery",
    "closed_at",
)


class CaseConflict(Conflict):
    """The case is not in a status that allows the step (the code says which)."""


# -- dates -------------------------------------------------------------------------------


def due_date(received_on: date, extension_months: int = 0, paused_days: int = 0) -> date:
    """The answer's due date: one month (plus any extension) from the day received, counted
    as Regulation 1182/71 counts months (the same day of the month, or the month's last day
    when it has no such day), then the days the clock was paused."""
    return customers.add_months(received_on, 1 + extension_months) + timedelta(days=paused_days)


def _closed_keep_until(closed_on: date) -> date:
    return customers.add_months(closed_on, CLOSED_KEEP_MONTHS)


# -- reading -----------------------------------------------------------------------------


def _check_id(case_id: str) -> str:
    if not isinstance(case_id, str) or len(case_id) != 32 or not all(c in "0123456789abcdef" for c in case_id):
        raise NotFound("No such case.")
    return case_id


def get(case_id: str) -> dict[str, Any]:
    """The case item as stored (404 `not_found` if there is none)."""
    item = store.request_cases().get_item(Key={"case_id": _check_id(case_id)}, ConsistentRead=True).get("Item")
    if not item:
        raise NotFound("No such case.")
    return dict(item)


def _effective_due(case: dict[str, Any], today: date) -> date:
    """The due date as it stands today: a waiting case's due date moves on while it waits."""
    due = date.fromisoformat(str(case["due_at"]))
    if case.get("status") == "waiting_for_person" and case.get("paused_since"):
        due += timedelta(days=max(0, (today - date.fromisoformat(str(case["paused_since"]))).days))
    return due


def view(case: dict[str, Any]) -> dict[str, Any]:
    """The case as staff see it, JSON-safe: no `contact`, no `email_hash`.

    `overdue` and `soon_due` (due within `SOON_DAYS`) are for open cases only; `days_left`
    counts to the due date as it stands today (a waiting case's clock is stopped).
    """
    shown: dict[str, Any] = store.plain({k: case[k] for k in VIEW_FIELDS if k in case})
    if "details" in case:
        shown["details"] = asked(case)
    if case.get("retention_rule") == RULE_WAITING:
        # Not a keeping period: the day the case is closed unless the person answers.
        shown["lapses_on"] = str(case["retention_due_at"])
    elif case.get("retention_due_at"):
        shown["kept_until"] = str(case["retention_due_at"])
    if case.get("status") in ACTIVE:
        today = clock.local_date()
        days_left = (_effective_due(case, today) - today).days
        is_open = case.get("status") == "open"
        shown |= {
            "days_left": days_left,
            "overdue": is_open and days_left < 0,
            "soon_due": is_open and 0 <= days_left <= SOON_DAYS,
        }
    return shown


def contact_of(case_id: str) -> str:
    """The address the case's answer must reach (409 `case_closed` once the case is closed:
    closing removed it)."""
    case = get(case_id)
    if case.get("status") in CLOSED or not case.get("contact"):
        raise CaseConflict("The case is closed; its contact address is no longer kept.", code="case_closed")
    return str(case["contact"])


def list_cases(status: str | None, limit: int, cursor: str | None) -> dict[str, Any]:
    """One page of cases: `{"items": [view], "next_cursor"}`.

    Without `status`, or with an active one, the working list by due date, earliest first:
    overdue cases, then the soon-due, then the rest (one Query of the sparse index). With
    `done` or `refused`, the closed cases of that status, most recently closed first.
    """
    if status is not None and status not in STATUSES:
        raise ValidationFailed(f"status must be one of {', '.join(STATUSES)}.", code="invalid_query")
    table = store.request_cases()
    if status in CLOSED:
        page = store.query_page(
            table,
            cursor,
            {"case_id", "status", "closed_at"},
            IndexName=CLOSED_INDEX,
            KeyConditionExpression=Key("status").eq(status),
            ScanIndexForward=False,
            Limit=limit,
        )
    else:
        query: dict[str, Any] = {
            "IndexName": ACTIVE_INDEX,
            "KeyConditionExpression": Key("queue").eq(QUEUE),
            "Limit": limit,
        }
        if status is not None:
            query["FilterExpression"] = Attr("status").eq(status)
        page = store.query_page(table, cursor, {"case_id", "queue", "due_at"}, **query)
    return {"items": [view(i) for i in page["items"]], "next_cursor": page["next_cursor"]}


# What the person is told of their own cases in an access answer (GDPR 15): not who handled
# them, the steps' authors or the case's address, which are staff's records.
PERSON_FIELDS = (
    "case_id",
    "type",
    "channel",
    "received_at",
    "status",
    "due_at",
    "extension",
    "closed_at",
    "outcome",
    "refusal_reason",
    "delivery",
)


def of_person(email: str) -> list[dict[str, Any]]:
    """The person's request cases, oldest first, as an access answer shows them (the case
    being answered included), each with the date it is kept until once closed.

    Found by the keyed hash of the address under every key version in the ring (the
    `by_email` index), so a rotation of the pseudonym key loses none.
    """
    items = [
        item
        for hashed in pseudonyms.email_hashes(checked_email(email))
        for item in store.query_all(
            store.request_cases(), IndexName="by_email", KeyConditionExpression=Key("email_hash").eq(hashed)
        )
    ]
    shown = []
    for item in sorted(items, key=lambda i: (str(i["received_at"]), str(i["case_id"]))):
        case: dict[str, Any] = store.plain({k: item[k] for k in PERSON_FIELDS if k in item})
        if item.get("status") in CLOSED and item.get("retention_due_at"):
            case["kept_until"] = str(item["retention_due_at"])
        shown.append(case)
    return shown


def deadline_counts(today: date | None = None) -> dict[str, int]:
    """How many open cases are overdue and how many soon due (the alarm's figures).

    Reads the working list (the sparse index holds active cases only, so this stays small).
    """
    today = today or clock.local_date()
    overdue = soon = 0
    for item in store.query_all(
        store.request_cases(),
        IndexName=ACTIVE_INDEX,
        KeyConditionExpression=Key("queue").eq(QUEUE),
        FilterExpression=Attr("status").eq("open"),
        ProjectionExpression="case_id, due_at",
    ):
        days_left = (date.fromisoformat(str(item["due_at"])) - today).days
        if days_left < 0:
            overdue += 1
        elif days_left <= SOON_DAYS:
            soon += 1
    return {"overdue": overdue, "soon_due": soon}


# -- writing -----------------------------------------------------------------------------


def _choice(value: Any, allowed: tuple[Any, ...], field: str) -> Any:
    if value not in allowed:
        raise ValidationFailed(
            f"{field} must be one of {', '.join(str(a) for a in allowed)}.",
            details=[{"field": field, "reason": "invalid"}],
        )
    return value


def _text(value: Any, field: str) -> str:
    """A short free text staff give (an outcome, a reason): 1 to `MAX_TEXT` characters."""
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_TEXT:
        raise ValidationFailed(
            f"{field} must be a text of 1 to {MAX_TEXT} characters.", details=[{"field": field, "reason": "invalid"}]
        )
    return value.strip()


def _details(details: dict[str, Any] | None) -> str | None:
    """What the person asked, as the JSON text the case stores (bounded in size). Kept as
    text, not a map: any JSON number the person sent is stored as sent (DynamoDB's numbers
    stop at 38 digits and know no infinity)."""
    if details is None:
        return None
    if not isinstance(details, dict):
        raise ValidationFailed("details must be an object.", details=[{"field": "details", "reason": "invalid"}])
    try:
        raw = json.dumps(details, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError):
        raise ValidationFailed("details must be JSON.", details=[{"field": "details", "reason": "invalid"}]) from None
    if len(raw.encode()) > MAX_DETAILS_BYTES:
        raise ValidationFailed(
            f"details must be at most {MAX_DETAILS_BYTES} bytes.", details=[{"field": "details", "reason": "too long"}]
        )
    return raw if details else None


def asked(case: dict[str, Any]) -> dict[str, Any]:
    """What the person asked (the case's `details`), or an empty map."""
    raw = case.get("details")
    return dict(json.loads(raw)) if isinstance(raw, str) else {}


def _handler(actor: Actor) -> str | None:
    """The actor's principal id if it is staff (the case's handler), else None."""
    return actor.principal.principal_id if actor.principal.has_any(STAFF_ROLES) else None


def _action(actor: Actor, what: str) -> dict[str, str]:
    return {"at": clock.iso(), "by": actor.principal.principal_id, "what": what}


def _event(
    actor: Actor, case: dict[str, Any], action: str, fields: tuple[str, ...] = (), *, key: str | None = None
) -> dict[str, Any]:
    """The audit event of one step: the case's type, channel and status, never the person.
    `key`: a deterministic event key (`audit.event_key`), for the sweep's steps."""
    request = {"type": case["type"], "channel": case["channel"], "status": case["status"]}
    return actor.put(Access(action, REGISTER, str(case["case_id"]), fields), key=key, request=request)


def _put(before: dict[str, Any] | None, after: dict[str, Any]) -> dict[str, Any]:
    """The Put of the case as `after`, on the condition that it is still the version `before`
    read (or, for a new case, that none exists)."""
    put: dict[str, Any] = {"TableName": store.request_cases().name, "Item": store.typed_item(after)}
    if before is None:
        put["ConditionExpression"] = "attribute_not_exists(case_id)"
    else:
        put["ConditionExpression"] = "version = :v"
        put["ExpressionAttributeValues"] = store.typed({":v": before["version"]})
    return put


_CHANGED = "The case changed meanwhile; try again."


def _save(
    before: dict[str, Any] | None, after: dict[str, Any], actor: Actor, action: str, fields: tuple[str, ...] = ()
) -> None:
    """Write the case as `after` with its audit event in one transaction, on the condition
    that it is still the version `before` read (or, for a new case, that none exists)."""
    store.transact([{"Put": _put(before, after)}, _event(actor, after, action, fields)], _CHANGED)


def _next(case: dict[str, Any], actor: Actor, what: str) -> dict[str, Any]:
    """A copy of the case for its next version, with the step in its `actions`."""
    after = dict(case)
    after["version"] = int(case.get("version", 0)) + 1
    after["actions"] = [*case.get("actions", []), _action(actor, what)]
    handler = _handler(actor)
    if handler:
        after["handler"] = handler
    return after


def _require(case: dict[str, Any], allowed: tuple[str, ...], code: str, message: str) -> None:
    if case.get("status") not in allowed:
        raise CaseConflict(message, code=code)


def _close(after: dict[str, Any], status: str) -> None:
    """Make `after` a closed case: off the working list, contact and details gone, kept
    `CLOSED_KEEP_MONTHS` months from today."""
    now = clock.now()
    after["status"] = status
    after["closed_at"] = clock.iso(now)
    after["retention_rule"] = RULE_CLOSED
    after["retention_due_at"] = _closed_keep_until(clock.local_date(now)).isoformat()
    # The privacy center's one-time link (its keyed hash) has no use once the case is closed.
    for name in ("queue", "contact", "details", "paused_since", LINK):
        after.pop(name, None)


def open_case(
    kind: str,
    email: str,
    channel: str,
    actor: Actor,
    *,
    lang: str = "fi",
    verified_by: str | None = None,
    details: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Open a case for a request received now; returns `view(case)`.

    Status `unverified` when `verified_by` is None, else `open` with that verification
    method. `details` is what the person asked (rectification: `{"changes": {field:
    value}}`; restriction: `{"reason": <restriction.REASONS>, "until": "YYYY-MM-DD"?}`),
    kept on the case until it closes. A case never verified is deleted after
    `UNVERIFIED_KEEP_DAYS` days.
    """
    _choice(kind, CASE_TYPES, "type")
    _choice(channel, CHANNELS, "channel")
    _choice(lang, LANGS, "lang")
    if verified_by is not None:
        _choice(verified_by, VERIFICATION_METHODS, "verified_by")
    contact = checked_email(email)
    stored = _details(details)
    if stored and details and kind == "rectification" and "changes" in details:
        subjects.check_changes(details["changes"])  # what no register takes is refused now, not later
    if stored and kind == "restriction":
        check_restriction(details)
    now = clock.now()
    at, today = clock.iso(now), clock.local_date(now)
    case: dict[str, Any] = {
        "case_id": uuid.uuid4().hex,
        "version": 1,
        "type": kind,
        "channel": channel,
        "received_at": at,
        "received_on": today.isoformat(),
        "lang": lang,
        "email_hash": pseudonyms.email_hash(contact),
        "contact": contact,
        "status": "open" if verified_by else "unverified",
        "verification": {"state": "verified", "method": verified_by, "at": at}
        if verified_by
        else {"state": "unverified"},
        "due_at": due_date(today).isoformat(),
        "queue": QUEUE,
        "paused_days": 0,
        "handler": _handler(actor),
        "actions": [_action(actor, "received")] + ([_action(actor, f"verified:{verified_by}")] if verified_by else []),
        "details": stored,
    }
    if not verified_by:
        case["retention_rule"] = RULE_UNVERIFIED
        case["retention_due_at"] = (today + timedelta(days=UNVERIFIED_KEEP_DAYS)).isoformat()
    case = {k: v for k, v in case.items() if v is not None}
    _save(None, case, actor, "create", ("contact", "email_hash", *(("details",) if stored else ())))
    return view(case)


def _verified(case: dict[str, Any], method: str, actor: Actor) -> dict[str, Any]:
    """The case's next version once verified by `method` (409 `case_not_unverified` unless it
    waits for verification): open, and no longer under the unverified case's retention rule."""
    _require(case, ("unverified",), "case_not_unverified", "The case is not waiting for verification.")
    after = _next(case, actor, f"verified:{method}")
    after["status"] = "open"
    after["verification"] = {"state": "verified", "method": method, "at": clock.iso()}
    after.pop("retention_rule", None)
    after.pop("retention_due_at", None)
    return after


def verify(case_id: str, method: str, actor: Actor) -> dict[str, Any]:
    """The person's identity is verified (`method`): unverified -> open. 409
    `case_not_unverified` otherwise."""
    _choice(method, VERIFICATION_METHODS, "method")
    case = get(case_id)
    after = _verified(case, method, actor)
    _save(case, after, actor, "verify")
    return view(after)


def verify_by_link(case: dict[str, Any], code_hash: str, actor: Actor) -> dict[str, Any]:
    """The privacy center's one-time link proved the address: verify `case` (as the caller
    read it, its link's `code_hash` matched) by `email_link` and use the link up.

    ONE transaction: the case without its `link`, on the condition that it is still the
    version and status read and holds that hash, with both audit events (`link_used`,
    `verify`). So either the link is spent and the case open, or nothing changed and the
    link still works: a failure between the two can no longer strand the person with a
    spent link and an unverified case. A second redeemer of the same link, or a case changed
    meanwhile, gets `Conflict` (409); the caller decides what to tell.
    """
    after = _verified(case, LINK_METHOD, actor)
    after.pop(LINK, None)
    put = _put(case, after)
    put["ConditionExpression"] += " AND #s = :unverified AND #l.code_hash = :hash"
    put["ExpressionAttributeNames"] = {"#s": "status", "#l": LINK}
    put["ExpressionAttributeValues"] |= store.typed({":unverified": "unverified", ":hash": code_hash})
    used = actor.put(Access("link_used", REGISTER, str(case["case_id"]), (LINK,)))
    store.transact([{"Put": put}, used, _event(actor, after, "verify")], _CHANGED)
    return view(after)


def wait_for_person(case_id: str, reason: str, actor: Actor) -> dict[str, Any]:
    """The controller waits for the person (e.g. a missing detail): open -> waiting_for_person,
    the clock stopped from today, and the case under `RULE_WAITING`: it lapses (the sweep
    closes it) `WAITING_LAPSE_DAYS` days from today unless the person answers first. 409
    `case_not_open` otherwise."""
    text = _text(reason, "reason")
    case = get(case_id)
    _require(case, ("open",), "case_not_open", "Only an open case can wait for the person.")
    today = clock.local_date()
    after = _next(case, actor, "waiting_for_person")
    after["status"] = "waiting_for_person"
    after["paused_since"] = today.isoformat()
    after["waiting_reason"] = text
    after["retention_rule"] = RULE_WAITING
    after["retention_due_at"] = (today + timedelta(days=WAITING_LAPSE_DAYS)).isoformat()
    _save(case, after, actor, "wait")
    return view(after)


def resume(case_id: str, actor: Actor) -> dict[str, Any]:
    """The person answered: waiting_for_person -> open, the days waited added to the due
    date, no longer under `RULE_WAITING`. 409 `case_not_waiting` otherwise."""
    case = get(case_id)
    _require(case, ("waiting_for_person",), "case_not_waiting", "The case is not waiting for the person.")
    waited = max(0, (clock.local_date() - date.fromisoformat(str(case["paused_since"]))).days)
    after = _next(case, actor, f"resumed:{waited}")
    after["status"] = "open"
    after["paused_days"] = int(case.get("paused_days", 0)) + waited
    after["due_at"] = _due_of(after).isoformat()
    after.pop("paused_since", None)
    after.pop("waiting_reason", None)
    after.pop("retention_rule", None)
    after.pop("retention_due_at", None)
    _save(case, after, actor, "resume")
    return view(after)


def _due_of(case: dict[str, Any]) -> date:
    extension = case.get("extension") or {}
    return due_date(
        date.fromisoformat(str(case["received_on"])), int(extension.get("months", 0)), int(case.get("paused_days", 0))
    )


class PersonNotTold(Conflict):
    """The extension could not be mailed to the person, so it is not recorded."""

    code = "person_not_told"


def _date_text(day: date, lang: str) -> str:
    return f"{day.day}.{day.month}.{day.year}" if lang == "fi" else day.isoformat()


def extend(case_id: str, months: int, reason: str, actor: Actor) -> dict[str, Any]:
    """Extend the deadline by `months` (1 or 2) once, telling the person why (Art. 12(3)).

    Allowed for an open or waiting case, once, and not after the due date (the person must
    be told within the first period): 409 `case_not_open`, `already_extended`,
    `extension_too_late`. The message goes to the case's contact first; only when SES took
    it is the extension recorded (with `told_at`): otherwise 409 `person_not_told` and
    nothing changes.
    """
    _choice(months, EXTENSION_MONTHS, "months")
    text = _text(reason, "reason")
    case = get(case_id)
    _require(case, ("open", "waiting_for_person"), "case_not_open", "Only an open case can be extended.")
    if case.get("extension"):
        raise CaseConflict("The deadline has already been extended once.", code="already_extended")
    today = clock.local_date()
    if today > _effective_due(case, today):
        raise CaseConflict("The deadline has passed; it can no longer be extended.", code="extension_too_late")
    after = _next(case, actor, f"extended:{months}")
    after["extension"] = {"months": months, "reason": text, "at": clock.iso()}
    after["due_at"] = _due_of(after).isoformat()
    lang = compose.lang_or_default(str(case.get("lang")))
    _tell(
        case,
        EXTENDED,
        "case_extended",
        months=str(months),
        reason=text,
        due=_date_text(_effective_due(after, today), lang),
    )
    after["extension"]["told_at"] = clock.iso()
    _save(case, after, actor, "extend")
    return view(after)


def close(case_id: str, outcome: str, delivery: str, actor: Actor) -> dict[str, Any]:
    """Close the case `done`: what was done (`outcome`) and how the answer reached the
    person (`delivery`). From open or waiting_for_person; 409 `case_not_open` otherwise."""
    text = _text(outcome, "outcome")
    _choice(delivery, DELIVERIES, "delivery")
    case = get(case_id)
    _require(case, ("open", "waiting_for_person"), "case_not_open", "Only an open case can be closed as done.")
    after = _next(case, actor, "closed")
    after["outcome"] = text
    after["delivery"] = delivery
    _close(after, "done")
    _save(case, after, actor, "close", ("contact",))
    return view(after)


def refuse(case_id: str, reason: str, actor: Actor) -> dict[str, Any]:
    """Refuse the request (e.g. identity not shown, manifestly unfounded: Art. 12(5)-(6)),
    with the reason. From any active status; 409 `case_closed` once closed.

    The person is told first, at the case's contact: the reasons and that they may complain to
    the supervisory authority and seek a judicial remedy (Art. 12(4)). Only when SES took the
    message is the refusal recorded (with `told_at`); otherwise 409 `person_not_told` and
    nothing changes, as for an extension."""
    text = _text(reason, "reason")
    case = get(case_id)
    _require(case, ACTIVE, "case_closed", "The case is already closed.")
    after = _next(case, actor, "refused")
    after["refusal_reason"] = text
    _tell(case, REFUSED, "case_refused", reason=text)
    after["refusal_told_at"] = clock.iso()
    _close(after, "refused")
    _save(case, after, actor, "refuse", ("contact",))
    return view(after)


def _tell(case: dict[str, Any], template: Any, purpose: str, **values: str) -> None:
    """Mail the person at the case's contact about their case; PersonNotTold if SES refused."""
    lang = compose.lang_or_default(str(case.get("lang")))
    msg = compose.message(
        str(case["contact"]),
        template,
        lang,
        kind=KIND_NAMES[str(case["type"])][lang],
        received=_date_text(date.fromisoformat(str(case["received_on"])), lang),
        case=str(case["case_id"]),
        **values,
    )
    try:
        send(msg, purpose)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code")
        logger.warning("case message not sent", extra={"case_id": case["case_id"], "purpose": purpose, "code": code})
        raise PersonNotTold("The message could not be sent; the case is not changed.") from None


# -- carrying out ------------------------------------------------------------------------


def _portable(body: dict[str, Any]) -> dict[str, Any]:
    """The person's data from an access export, machine-readable and without the register
    texts (Art. 20: a structured, commonly used, machine-readable format)."""
    records = []
    for part in body.get("parts", []):
        record = {"register": part["register"], "record_type": part["record_type"], "data": part["data"]}
        if part.get("sources"):
            record["sources"] = part["sources"]
        records.append(record)
    return {"format": "application/json", "generated_at": body.get("generated_at"), "records": records}


def check_restriction(asked: Any) -> tuple[str, date | None]:
    """The ground (one of `restriction.REASONS`) and review date of a restriction request;
    400 if either is missing or wrong."""
    fields = {k: v for k, v in asked.items() if k in ("reason", "until")} if isinstance(asked, dict) else {}
    parsed = cast(restriction.RestrictionRequest, parse(restriction.RestrictionRequest, fields))
    return str(parsed.reason), parsed.until


def _restrict(email: str, asked: Any, actor: Actor) -> Answer:
    """Restrict every record of the person (their customer record and prospect records).

    A record already restricted keeps its restriction (set by staff, with its own ground and
    review date): the person's request does not replace it; the answer lists it."""
    reason, review = check_restriction(asked)
    found = subjects.find(email)
    items: list[tuple[str, str, dict[str, Any]]] = []
    if found.customer and found.customer.get("status") != "erased":
        items.append(("customer", str(found.customer["customer_id"]), found.customer))
    items += [("prospect", retention.record_id(prospects.REGISTER, p), p) for p in found.prospects]
    restricted, kept, accesses = [], [], []
    for kind, record_id, item in items:
        if restriction.ATTRIBUTE in item:
            kept.append({"kind": kind, "record_id": record_id})
            continue
        restriction.restrict(kind, record_id, reason, review, actor)
        register = customers.REGISTER if kind == "customer" else prospects.REGISTER
        accesses.append(Access("restrict", register, record_id, ()))
        restricted.append({"kind": kind, "record_id": record_id})
    outcome = "restricted" if restricted else "already_restricted" if kept else "nothing_found"
    return Answer({"restricted": restricted, "already_restricted": kept}, accesses, outcome)


def _run(case: dict[str, Any], changes: Any, actor: Actor) -> Answer:
    email = str(case["contact"])
    kind = case["type"]
    request = asked(case)
    if kind in ("access", "portability"):
        answer = subjects.access(email)
        if kind == "portability":
            answer.body = _portable(answer.body)
        else:
            answer.body["request_cases"] = of_person(email)
            answer.accesses += [Access("export", REGISTER, c["case_id"], ()) for c in answer.body["request_cases"]]
        audit.record(actor.principal, answer.accesses, actor.request_id)
        return answer
    if kind == "objection":
        return subjects.object_to_marketing(email, actor)
    if kind == "erasure":
        return subjects.erase(email, actor)
    if kind == "rectification":
        return subjects.rectify(email, changes if changes is not None else request.get("changes"), actor)
    return _restrict(email, changes if changes is not None else request, actor)


def _delivery(case: dict[str, Any]) -> str:
    """How an answer given at once reaches the person: the privacy center's page, or the
    response of the call that carried it out (staff, /me, the unsubscribe page)."""
    return "privacy_center" if case.get("channel") == "privacy_center" else "in_response"


def carry_out(case_id: str, actor: Actor, *, changes: Any = None) -> tuple[dict[str, Any], Answer]:
    """Carry out the case's request with the registers' own functions; returns the case's
    view and the answer.

    access: the export (reads audited); portability: the same data in machine-readable form;
    objection: suppression and removal from the prospect register; erasure: everything the
    law lets go (chalicelib/subjects.py); rectification: `changes` (or the case's
    `details["changes"]`); restriction: every record of the person not yet restricted,
    restricted with the reason in `changes` (or `details`). Access, portability and objection
    close the case `done`, as does an erasure with nothing held, when the person is the
    caller (`ANSWERED_IN_RESPONSE`); otherwise the case stays open for staff to answer the
    person, review and `close`. 409 `case_not_open` unless the case is open.
    """
    case = get(case_id)
    _require(case, ("open",), "case_not_open", "The case is not open: it must be verified first, or it is closed.")
    answer = _run(case, changes, actor)
    after = _next(case, actor, f"carried_out:{answer.outcome}")
    after["outcome"] = answer.outcome
    kind = case["type"]
    closes = kind in SELF_CLOSING or (kind == "erasure" and not answer.body.get("held"))
    if closes and case.get("channel") in ANSWERED_IN_RESPONSE:
        after["delivery"] = _delivery(case)
        _close(after, "done")
        _save(case, after, actor, "carry_out", ("contact",))
    else:
        _save(case, after, actor, "carry_out")
    return view(after), answer


# -- retention ---------------------------------------------------------------------------


def privacy_center_url(lang: str) -> str:
    """The privacy center's page in `lang`, where a person makes a new request."""
    # Imported here: unsubscribe loads the AES code, which the sweeper's first event must not.
    from chalicelib.unsubscribe import PRIVACY_CENTER_PATH

    return f"{settings().public_base_url}{PRIVACY_CENTER_PATH}?{urlencode({'lang': lang})}"


def sweep_retention(as_of: date, actor: Actor, run_key: str, *, dry_run: bool = False) -> dict[str, dict[str, int]]:
    """Apply the case rules due on `as_of`, each case's change with its audit event in one
    transaction; the counts per rule. A case past its keeping period (`RULE_UNVERIFIED`,
    `RULE_CLOSED`) is deleted; a waiting case past its lapse date (`RULE_WAITING`) is closed
    (`_lapse`), and its counts also say how many could not be told (`not_told`). `run_key`
    (the sweep run's `audit.event_key` base) makes each event's key deterministic, so a
    re-run records a step once. A case that changed meanwhile (verified, resumed) is left for
    its new rule and counted `changed`. `dry_run` counts only.
    """
    cutoff = (as_of + timedelta(days=1)).isoformat()
    counts: dict[str, dict[str, int]] = {}
    table = store.request_cases()
    for rule in RETENTION_RULES:
        count = counts.setdefault(rule, {"due": 0, "done": 0, "changed": 0})
        if rule == RULE_WAITING:
            count["not_told"] = 0
        due = store.query_all(
            table,
            IndexName="retention_due",
            KeyConditionExpression=Key("retention_rule").eq(rule) & Key("retention_due_at").lt(cutoff),
        )
        for item in due:
            count["due"] += 1
            if dry_run:
                continue
            key = audit.event_key(run_key, rule)
            try:
                if rule == RULE_WAITING:
                    _lapse(str(item["case_id"]), cutoff, actor, key)
                else:
                    _delete_due(table, str(item["case_id"]), rule, cutoff, actor, key)
            except PersonNotTold:
                count["not_told"] += 1  # left waiting; the next night tries again
                continue
            except Conflict:
                count["changed"] += 1
                continue
            count["done"] += 1
    return counts


def _delete_due(table: Any, case_id: str, rule: str, cutoff: str, actor: Actor, key: str) -> None:
    """Delete a case past its keeping period under `rule`, on the condition that it still is,
    with its audit event; `Conflict` if it changed meanwhile (e.g. verified)."""
    delete = {
        "Delete": {
            "TableName": table.name,
            "Key": store.typed({"case_id": case_id}),
            "ConditionExpression": "retention_rule = :rule AND retention_due_at < :cutoff",
            "ExpressionAttributeValues": store.typed({":rule": rule, ":cutoff": cutoff}),
        }
    }
    event = actor.put(Access("delete", REGISTER, case_id, ("case",)), key=key)
    store.transact([delete, event], "The case changed meanwhile.")


def _lapse(case_id: str, cutoff: str, actor: Actor, key: str) -> None:
    """Close a case that waited for the person past its lapse date: `done` with the outcome
    `LAPSED_NO_ANSWER`, delivered by `email`, through `_close` (contact and details go, the
    closed case's period starts), with its audit event (`lapse`, deterministic `key`).

    The index holds keys only, so the case is read first: one resumed, closed or changed
    meanwhile is `CaseConflict` and nobody is mailed. The person is told first, as `refuse`
    does (`_tell`): an SES refusal is `PersonNotTold` and nothing changes (the case stays
    waiting and the next night tries again). The close is conditional on the version read
    and the status still waiting, so a case resumed between the read and the write is left
    as staff made it (`Conflict`), though the message has gone.
    """
    try:
        case = get(case_id)
    except NotFound:
        raise CaseConflict("The case changed meanwhile.", code="case_not_waiting") from None
    if (
        case.get("status") != "waiting_for_person"
        or case.get("retention_rule") != RULE_WAITING
        or str(case.get("retention_due_at", "")) >= cutoff
    ):
        raise CaseConflict("The case is not waiting past its lapse date.", code="case_not_waiting")
    lang = compose.lang_or_default(str(case.get("lang")))
    after = _next(case, actor, "lapsed")
    after["outcome"] = LAPSED_NO_ANSWER
    after["delivery"] = "email"
    # Told before the close, as a refusal is. A run that dies between the message and the
    # transaction leaves the case waiting and due, and the next run tells the person again:
    # they may get the message twice. Nothing in the case steps prevents that; claiming the
    # case before the send (as campaign messages are claimed) would instead let a crash close
    # a case whose person was never told, and the person is to be told before it closes.
    _tell(
        case,
        LAPSED,
        "case_lapsed",
        asked=_date_text(date.fromisoformat(str(case["paused_since"])), lang),
        days=str(WAITING_LAPSE_DAYS),
        center=privacy_center_url(lang),
    )
    _close(after, "done")
    put = _put(case, after)
    put["ConditionExpression"] += " AND #s = :waiting"
    put["ExpressionAttributeNames"] = {"#s": "status"}
    put["ExpressionAttributeValues"] |= store.typed({":waiting": "waiting_for_person"})
    store.transact([{"Put": put}, _event(actor, after, "lapse", ("contact",), key=key)], _CHANGED)
