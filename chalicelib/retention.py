"""The retention sweeper: the retention schedule of the register definitions, executed.

Rules come from `registers.REGISTERS` (never restated here). Every rule the sweeper
applies is one whose action is in `SWEEP_ACTIONS`: deletions, a contact person's erasure,
a campaign's closing, and an unused account's notice (`notify_dormant`, chalicelib/dormancy.py:
the person is mailed a keep-account link, and erased under the next rule unless kept);
objections (`delete_marketing`) act at once in `subjects`, not at night.

How a record becomes due: its module stamps `retention_rule` + `retention_due_at`
(a date, or a timestamp whose first ten characters are the date) on it. Only such
records appear in the sparse `retention_due` index, so the sweeper finds them with
one Query per rule (`retention_rule = R AND retention_due_at < as_of + 1 day`) and
its reads grow with the records due, not with the table.

Each record's transition is one conditional write (or one transaction) that re-checks
the rule, the due date and the absence of a legal hold, and moves the record out of the
rule (deleted, or onto its next rule). A run killed half-way leaves every record either
done or untouched; the next run finds exactly the untouched ones. The one step outside
DynamoDB, deleting an erased contact person's Cognito login, comes after the
transaction; the transaction leaves a pending-login marker that the next run (or the
same call) finishes, so a login is never deleted for a record that was not erased, and
never left behind for one that was.

Rules whose records are never due by date (`swept=False` in the register definitions:
removed by an event in another module, such as a reseller removing an end user or a
prospect missing from a full refresh) are not queried, so a run summary names only
what the sweeper itself enforces.

Audit events are deleted by DynamoDB TTL (`expires_at`, written by `audit`), not by a
Query here: every event becomes due, so a retention index on the audit table would not
be sparse (it would copy the whole table and put every audit write on one index key),
and TTL deletes without consuming write capacity, keeps working when a sweep fails, and
its lag (items go within days of expiry) is inside the notice's promise "3 years".
The sweeper reports the rule in every summary as `audit_events: ttl`.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from chalicelib import accounts, audit, clock, confirmations, customers, disclosures, dormancy, restriction, store
from chalicelib.audit import Access, Actor
from chalicelib.auth import SYSTEM_SWEEPER
from chalicelib.clock import HELSINKI, local_date
from chalicelib.errors import Conflict, NotFound, ValidationFailed
from chalicelib.logs import logger
from chalicelib.registers import (
    AUDIT_RETENTION,
    CUSTOMER,
    CUSTOMER_REGISTER,
    PROSPECT_REGISTER,
    REGISTERS,
    Register,
    RetentionRule,
)

SWEEP_HOUR = 2  # 02:00 Finnish wall-clock time
SWEEPER = SYSTEM_SWEEPER  # defined once, in auth
RUNS_RECORD = "retention_sweeper"  # audit record (register "system") that holds run summaries
SWEEP_ACTION = "sweep"  # the action of a run's summary event on RUNS_RECORD
PREVIEWS_RECORD = "retention_preview"  # audit record of the DPO's previews (kept apart from the runs)
SWEEP_ACTIONS = ("delete", "erase_contact", "delete_registration", "close_campaign", "notify_dormant")
CAMPAIGN_RECORDS = "campaign_member"  # record type of the rules whose records are campaigns
PAGE_SIZE = 500  # due items per index page: small items, well under Query's 1 MB page

# What erasing a customer's contact person keeps, and why (Art. 17(3)(b)): the Accounting
# Act (1336/1997, 2:10 §) keeps vouchers 6 years, and a sales invoice must name the buyer
# and its address (VAT Act 1501/1993, 209 e §). The buyer is the organisation, so its name,
# business ID and billing address stay; the contact person's name, address, phone, email,
# username and consent go. `active_services` are the contract's terms (not personal data).
BOOKKEEPING_FIELDS = ("organization", "business_id", "billing_address", "active_services")
ERASED_CONTACT_FIELDS = tuple(f.name for f in CUSTOMER.fields if f.personal and f.name not in BOOKKEEPING_FIELDS)
NEXT_RULE_AFTER_ERASURE = "customer_bookkeeping"
AUDIT_RULE = "audit_events"

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class RecordHeld(Conflict):
    """The record is held: a legal hold, or a restriction the person asked for to keep the
    data (`restriction.HOLDING_REASONS`). No deletion until it is lifted."""

    code = "legal_hold"


# What a deletion's condition adds so that a holding restriction (Art. 18(1)(b), (c)) keeps
# the record like a legal hold; its values go into the condition's ExpressionAttributeValues.
# Without outer parentheses: DynamoDB refuses redundant ones, so each user adds its own.
RESTRICTION_HOLD = "attribute_not_exists(restriction) OR NOT restriction.reason IN (:hold_r0, :hold_r1)"
RESTRICTION_HOLD_VALUES = {f":hold_r{i}": r for i, r in enumerate(sorted(restriction.HOLDING_REASONS))}


def held(item: dict[str, Any]) -> bool:
    """True if the item may not be deleted now: a legal hold, or a holding restriction."""
    return "legal_hold" in item or restriction.holds_deletion(item)


@dataclass(frozen=True)
class SweepRule:
    """A retention rule the sweeper applies, with the table its records live in."""

    rule: RetentionRule
    register: Register

    @property
    def name(self) -> str:
        return self.rule.name

    def table(self) -> Any:
        if self.rule.record_type == CAMPAIGN_RECORDS:
            return store.campaigns()
        return store.customers() if self.register.key == CUSTOMER_REGISTER.key else store.prospects()


def sweep_rules() -> tuple[SweepRule, ...]:
    """Every rule of both registers that the nightly sweep executes."""
    return tuple(SweepRule(r, reg) for reg in REGISTERS for r in reg.retention if r.action in SWEEP_ACTIONS and r.swept)


# -- time ------------------------------------------------------------------------------


def is_sweep_hour(moment: datetime) -> bool:
    """True when `moment` is 02:xx in Helsinki: the scheduled run that should act.

    The schedule fires at 23:00 and 00:00 UTC; exactly one of the two is 02:00 Finnish
    time on every day of the year, daylight-saving change days included.
    """
    return moment.astimezone(HELSINKI).hour == SWEEP_HOUR


def parse_as_of(raw: Any, *, today: date, is_prod: bool) -> date:
    """The day to evaluate: `raw` (YYYY-MM-DD) or today; a future day is refused in prod."""
    if raw is None:
        return today
    if not isinstance(raw, str) or not _DATE.match(raw):
        raise ValidationFailed("as_of must be a date YYYY-MM-DD.", code="invalid_as_of")
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        raise ValidationFailed("as_of must be a date YYYY-MM-DD.", code="invalid_as_of") from None
    if is_prod and day > today:
        raise ValidationFailed("as_of in the future is refused in prod.", code="as_of_in_future")
    return day


def _cutoff(as_of: date) -> str:
    """Exclusive upper bound: every due date or timestamp on `as_of` sorts below it."""
    return (as_of + timedelta(days=1)).isoformat()


# What an erasure keeps goes when the bookkeeping period of the contract's end is over,
# counted like an order's (`customers.order_deletion_date`); both rules name one period.
if CUSTOMER_REGISTER.rule(NEXT_RULE_AFTER_ERASURE).after != CUSTOMER_REGISTER.rule("order_bookkeeping").after:
    raise AssertionError("customer_bookkeeping and order_bookkeeping must share one period")


# -- finding due records ----------------------------------------------------------------


@dataclass
class ReadCounter:
    """Items read from DynamoDB by a sweep (the benchmark's figure)."""

    items: int = 0


def due_items(rule: SweepRule, as_of: date, reads: ReadCounter, page_size: int = PAGE_SIZE) -> Iterator[dict[str, Any]]:
    """Records due under `rule` on `as_of`, from the sparse index (a Query, never a Scan)."""
    kwargs: dict[str, Any] = {
        "IndexName": "retention_due",
        "KeyConditionExpression": Key("retention_rule").eq(rule.name) & Key("retention_due_at").lt(_cutoff(as_of)),
        "Limit": page_size,
    }
    table = rule.table()
    while True:
        resp = table.query(**kwargs)
        reads.items += int(resp.get("ScannedCount", len(resp["Items"])))
        yield from resp["Items"]
        if "LastEvaluatedKey" not in resp:
            return
        kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]


# -- transitions -------------------------------------------------------------------------


def _key(pk: str, sk: str) -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


def _due_condition(rule: str, cutoff: str) -> tuple[str, dict[str, Any]]:
    return (
        "retention_rule = :rule AND retention_due_at < :cutoff AND attribute_not_exists(legal_hold) AND "
        f"({RESTRICTION_HOLD})",
        {":rule": rule, ":cutoff": cutoff, **RESTRICTION_HOLD_VALUES},
    )


LOGIN_DELETIONS = "LOGIN_DELETION#PENDING"  # partition of markers: erased, login not yet deleted


def erase_customer_contact(
    item: dict[str, Any], actor: Actor, *, rule: str | None = None, cutoff: str | None = None, key: str | None = None
) -> dict[str, Any]:
    """Erase the contact person of a customer profile, keeping what bookkeeping needs.

    One transaction: the profile loses the contact person's fields and moves to the
    `customer_bookkeeping` rule; the email and username guards go. With `rule`/`cutoff`
    (the sweeper) it re-checks that the record is still due under `rule`; always that no
    legal hold is set and that email/username are unchanged (so the right guards go).
    Only after it commits is the Cognito login deleted: the transaction keeps the
    username in `login_to_delete` and puts a marker (customer id only) in
    `LOGIN_DELETIONS`, so a run killed between the two steps is finished by
    `finish_login_deletions`. The audit event (`actor`, deterministic `key` for the
    sweeper) is in the transaction. Returns what is kept and until when. Raises `RecordHeld`
    or `Conflict` (changed meanwhile) without changing anything, login included.
    """
    if held(item):
        raise RecordHeld("The record is held (a legal hold, or a restriction that keeps it).")
    customer_id = item["customer_id"]
    contract_end = date.fromisoformat(item["contract_end"]) if item.get("contract_end") else local_date(clock.now())
    keep_until = customers.order_deletion_date(contract_end)
    username = item.get("username")
    email_hash = item.get("email_hash")
    names = {"#s": "status"}
    values: dict[str, Any] = {
        ":erased": "erased",
        ":now": clock.iso(),
        ":next": NEXT_RULE_AFTER_ERASURE,
        ":next_due": keep_until.isoformat(),
        ":end": contract_end.isoformat(),
        ":one": 1,
        **RESTRICTION_HOLD_VALUES,
    }
    conditions = ["attribute_exists(pk)", "attribute_not_exists(legal_hold)", RESTRICTION_HOLD, "#s <> :erased"]
    if rule is not None and cutoff is not None:
        expr, due_values = _due_condition(rule, cutoff)
        conditions.append(expr)
        values.update(due_values)
    for attr, value in (("email_hash", email_hash), ("username", username)):
        if value:
            conditions.append(f"{attr} = :cur_{attr}")
            values[f":cur_{attr}"] = value
    set_expr = (
        "SET #s = :erased, erased_at = :now, updated_at = :now, contract_end = :end, "
        "retention_rule = :next, retention_due_at = :next_due"
    )
    if username:
        set_expr += ", login_to_delete = :login"
        values[":login"] = username
    removed = [f for f in ERASED_CONTACT_FIELDS if f in item]
    # A dormancy notice's code goes too: nothing is left to keep.
    codes = [a for a in (customers.DORMANT_NOTICE_ATTR,) if a in item]
    remove_expr = ", ".join(dict.fromkeys([*removed, "email_hash", "username_hash", *codes]))
    table = store.customers().name
    transact: list[dict[str, Any]] = [
        {
            "Update": {
                "TableName": table,
                "Key": _key(item["pk"], item["sk"]),
                "UpdateExpression": set_expr + " ADD version :one REMOVE " + remove_expr,
                "ConditionExpression": " AND ".join(f"({c})" for c in conditions),
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": store.typed(values),
            }
        }
    ]
    if email_hash:
        transact.append({"Delete": {"TableName": table, "Key": store.typed(customers.email_guard(email_hash))}})
    if username and item.get("username_hash"):
        guard = customers.username_guard(item["username_hash"])
        transact.append({"Delete": {"TableName": table, "Key": store.typed(guard)}})
        transact.append(
            {
                "Put": {
                    "TableName": table,
                    "Item": store.typed({"pk": LOGIN_DELETIONS, "sk": item["pk"], "customer_id": customer_id}),
                }
            }
        )
    transact.append(actor.put(Access("erase", CUSTOMER_REGISTER.key, customer_id, tuple(removed)), key=key))
    try:
        store.client("dynamodb").transact_write_items(TransactItems=transact)
    except ClientError as exc:
        if store.condition_failed(exc):
            raise Conflict("The record changed meanwhile; nothing was erased.") from None
        raise
    if username:
        finish_login_deletion(item["pk"], username)
    logger.info("erased contact person", extra={"customer_id": customer_id})
    return {
        "record_id": customer_id,
        "erased_fields": sorted(removed),
        "kept_fields": sorted(f for f in BOOKKEEPING_FIELDS if f in item),
        "kept_until": keep_until.isoformat(),
        "basis": CUSTOMER_REGISTER.rule(NEXT_RULE_AFTER_ERASURE).basis.en,
    }


def finish_login_deletion(profile_pk: str, username: str) -> None:
    """Delete an erased customer's login (idempotent), then its marker and `login_to_delete`."""
    accounts.delete_login(username)
    table = store.customers().name
    store.client("dynamodb").transact_write_items(
        TransactItems=[
            {
                "Update": {
                    "TableName": table,
                    "Key": _key(profile_pk, customers.PROFILE),
                    "UpdateExpression": "REMOVE login_to_delete",
                    "ConditionExpression": "attribute_exists(pk)",
                }
            },
            {"Delete": {"TableName": table, "Key": _key(LOGIN_DELETIONS, profile_pk)}},
        ]
    )


def finish_login_deletions(reads: ReadCounter) -> int:
    """Finish the login deletions of erasures whose run died after the transaction.

    One Query of the marker partition (empty unless a run was killed in between).
    """
    done = 0
    for marker in store.query_all(store.customers(), KeyConditionExpression=Key("pk").eq(LOGIN_DELETIONS)):
        reads.items += 1
        profile = (
            store.customers()
            .get_item(Key={"pk": marker["sk"], "sk": customers.PROFILE}, ConsistentRead=True)
            .get("Item")
        )
        reads.items += 1
        if profile and profile.get("login_to_delete"):
            finish_login_deletion(marker["sk"], str(profile["login_to_delete"]))
        else:
            store.customers().delete_item(Key={"pk": marker["pk"], "sk": marker["sk"]})
        done += 1
    return done


def delete_record(
    table: Any,
    item: dict[str, Any],
    *,
    rule: str,
    cutoff: str,
    event: dict[str, Any],
    extra: list[dict[str, Any]] | None = None,
) -> None:
    """Delete one due item with its audit `event` (`Actor.put`) in one transaction,
    re-checking its rule, due date and the absence of a hold. `extra`: writes that go with
    it (a prospect PROFILE's disclosure log entries and Art. 19 notices).

    A retry of a call whose reply was lost carries the same ClientRequestToken, so
    DynamoDB does not apply it twice; a record another deletion took first is `Conflict`
    (that deletion wrote its own event). A reseller's end user goes with its address guard.
    """
    expr, values = _due_condition(rule, cutoff)
    if item.get("entity") == "reseller_end_user":
        # The end user's address guard goes in the same transaction.
        if not customers.delete_end_user(item, expr, values, event=event):
            raise Conflict("The record changed meanwhile; nothing was deleted.")
        return
    delete = {
        "TableName": table.name,
        "Key": _key(item["pk"], item["sk"]),
        "ConditionExpression": expr,
        "ExpressionAttributeValues": store.typed(values),
    }
    try:
        store.client("dynamodb").transact_write_items(TransactItems=[{"Delete": delete}, event, *(extra or [])])
    except ClientError as exc:
        if store.condition_failed(exc):
            raise Conflict("The record changed meanwhile; nothing was deleted.") from None
        raise


def delete_prospect(
    profile: dict[str, Any],
    event: dict[str, Any],
    *,
    actor: Actor,
    change: disclosures.Change = disclosures.ERASED,
    rule: str | None = None,
    cutoff: str | None = None,
    reads: ReadCounter | None = None,
    also: Sequence[dict[str, Any]] = (),
) -> None:
    """Delete a prospect (its whole partition) in one transaction, conditional on the profile,
    and notify every recipient in its disclosure log of `change` (Art. 19) in that transaction.

    `also`: further items of that transaction (an erasure on request's do-not-re-add entry
    and its audit event, `suppression.erased_entry`), written only if the profile goes.

    The condition re-checks the rule and due date (sweeper) and always the absence of a
    legal hold, so the whole prospect goes or nothing does. The audit `event`
    (`Actor.put`) and the notices (`disclosures.notices`, written by `actor`, computed from
    the log read here BEFORE anything is deleted) go in the transaction that deletes the
    profile. A prospect has one SOURCE item per partner and one log entry per recipient,
    purpose and day: SOURCE items that do not fit go in transactions before it, log entries
    that do not fit in transactions right after it (they are never deleted while the
    profile might stay).
    """
    if held(profile):
        raise RecordHeld("The record is held (a legal hold, or a restriction that keeps it).")
    items = store.query_all(
        store.prospects(),
        KeyConditionExpression=Key("pk").eq(profile["pk"]),
        ProjectionExpression="pk, sk, recipient",
        ConsistentRead=True,
    )
    if reads is not None:
        reads.items += len(items)
    table = store.prospects().name
    if rule is not None and cutoff is not None:
        expr, values = _due_condition(rule, cutoff)
    else:
        expr = f"attribute_exists(pk) AND attribute_not_exists(legal_hold) AND ({RESTRICTION_HOLD})"
        values = dict(RESTRICTION_HOLD_VALUES)
    profile_delete: dict[str, Any] = {
        "TableName": table,
        "Key": _key(profile["pk"], profile["sk"]),
        "ConditionExpression": expr,
    }
    if values:
        profile_delete["ExpressionAttributeValues"] = store.typed(values)
    prospect_id = record_id(PROSPECT_REGISTER.key, profile)
    notices = disclosures.notices(prospect_id, items, change, actor)
    entries = [i for i in items if str(i["sk"]).startswith(disclosures.PREFIX)]
    others = [i for i in items if i["sk"] != profile["sk"] and not str(i["sk"]).startswith(disclosures.PREFIX)]
    final = [{"Delete": profile_delete}, event, *also]
    cut = max(0, len(others) - (100 - len(final)))
    for start in range(0, cut, 100):  # the profile goes last: re-runs find the rest
        _transact_deletes(table, others[start : min(cut, start + 100)])
    final += [_delete(table, k) for k in others[cut:]]
    room = 100 - len(final)
    notices_now, notices_later = notices[: room - room % 2], notices[room - room % 2 :]
    final += notices_now
    room = 100 - len(final)
    entries_now, entries_later = entries[:room], entries[room:]
    final += [_delete(table, k) for k in entries_now]
    try:
        store.client("dynamodb").transact_write_items(TransactItems=final)
    except ClientError as exc:
        if store.condition_failed(exc):
            raise Conflict("The record changed meanwhile; nothing was deleted.") from None
        raise
    for start in range(0, len(notices_later), 100):
        store.client("dynamodb").transact_write_items(TransactItems=notices_later[start : start + 100])
    for start in range(0, len(entries_later), 100):
        _transact_deletes(table, entries_later[start : start + 100])


def _delete(table: str, item: dict[str, Any]) -> dict[str, Any]:
    return {"Delete": {"TableName": table, "Key": _key(item["pk"], item["sk"])}}


def _transact_deletes(table: str, items: list[dict[str, Any]]) -> None:
    store.client("dynamodb").transact_write_items(TransactItems=[_delete(table, i) for i in items])


@dataclass
class RuleCount:
    """What one rule did (or would do) in a run."""

    due: int = 0
    done: int = 0
    held: int = 0
    changed: int = 0
    record_ids: list[str] = field(default_factory=list)

    def summary(self, *, dry_run: bool) -> dict[str, Any]:
        counts: dict[str, Any] = {"due": self.due, "done": self.done, "held": self.held, "changed": self.changed}
        if dry_run:
            counts["record_ids"] = self.record_ids
        return counts


class SweepIncomplete(Exception):
    """Some rules failed in a run whose summary is written: the invocation fails so it alarms."""

    def __init__(self, run_id: str, failed: Iterable[str]):
        # Rule names and the run id only: the summary in the audit trail has the error codes.
        self.run_id = run_id
        self.failed = sorted(failed)
        super().__init__(f"retention run {run_id}: rules failed: {', '.join(self.failed)}")


LOGIN_DELETIONS_STEP = "login_deletions"  # the run's first step, reported like a rule when it fails


def record_id(register: str, item: dict[str, Any]) -> str:
    """The record's id as the audit trail and the DPO name it."""
    if register == CUSTOMER_REGISTER.key:
        return customers.record_id(item)
    if item.get("entity") == "campaign":
        return str(item["campaign_id"])
    return str(item.get("prospect_id") or item["pk"].split("#", 1)[1])


@dataclass(frozen=True)
class SweepRun:
    """One sweep run: the author of its audit events, the source of their keys, and the
    read counter its rules share."""

    run_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    started: str = field(default_factory=clock.sortable)
    reads: ReadCounter = field(default_factory=ReadCounter)

    @property
    def actor(self) -> Actor:
        return Actor(SWEEPER, self.run_id)

    def event_key(self, rule: str) -> str:
        """The key of this run's event for one record (the record is the event's partition)."""
        return audit.event_key(self.started, "sweep", self.run_id, rule)


def apply(
    rule: SweepRule, item: dict[str, Any], as_of: date, reads: ReadCounter, run: SweepRun | None = None
) -> Access:
    """One record's transition under `rule`, with its audit event in the same transaction.

    Returns the access it recorded (under `run`; a run of its own when None).
    """
    run = run or SweepRun()
    cutoff = _cutoff(as_of)
    rid = record_id(rule.register.key, item)
    key = run.event_key(rule.name)
    if rule.rule.record_type == CAMPAIGN_RECORDS:
        return _apply_to_campaign(rule, item, cutoff, run, reads)
    if rule.rule.action == "notify_dormant":
        return dormancy.notify(item, as_of=as_of, cutoff=cutoff, actor=run.actor, key=key)
    if rule.name == dormancy.NOTICE.name and not dormancy.notice_sent(item):
        # Never an erasure after a notice not known to have gone: the person is told first.
        return dormancy.renotify(item, cutoff=cutoff, actor=run.actor, key=key)
    if rule.rule.action == "erase_contact":
        result = erase_customer_contact(item, run.actor, rule=rule.name, cutoff=cutoff, key=key)
        return Access("erase", rule.register.key, rid, tuple(result["erased_fields"]))
    if rule.rule.action == "delete_registration":
        access = Access("delete", rule.register.key, rid, customers.personal_fields(item))
        confirmations.delete_unconfirmed(item, rule=rule.name, cutoff=cutoff, event=run.actor.put(access, key=key))
        return access
    # A prospect's PROFILE and each SOURCE# item carry their own due date, and the profile
    # holds the latest verification of any source, so every source of a due profile is
    # due as well and sits in the same index query: each item goes by its own conditional
    # delete, with no read of the partition (one item read per item deleted).
    entity = item.get("entity")
    if entity in ("customer", "order", "reseller_end_user"):
        fields = customers.personal_fields(item)
    else:
        fields = tuple(f for f in rule.register.record_type(rule.rule.record_type).field_names if f in item)
    access = Access("delete", rule.register.key, rid, fields)
    # A prospect's PROFILE and SOURCE items are one record: the key names the item too.
    item_key = audit.event_key(key, item["sk"]) if rule.register.key != CUSTOMER_REGISTER.key else key
    extra, later = _profile_log(rule, item, rid, reads, run)
    delete_record(
        rule.table(), item, rule=rule.name, cutoff=cutoff, event=run.actor.put(access, key=item_key), extra=extra
    )
    for start in range(0, len(later), 100):
        store.client("dynamodb").transact_write_items(TransactItems=later[start : start + 100])
    return access


def _apply_to_campaign(rule: SweepRule, item: dict[str, Any], cutoff: str, run: SweepRun, reads: ReadCounter) -> Access:
    """A campaign's step: closed when left open (`close_campaign`), or its audience and
    outcomes deleted (`delete`) in bounded transactions, the META and counts kept."""
    from chalicelib import campaigns

    campaign_id = str(item["campaign_id"])
    key = run.event_key(rule.name)
    if rule.rule.action == "close_campaign":
        access = Access("close", campaigns.REGISTER, campaign_id, ())
        campaigns.close_due(item, rule=rule.name, cutoff=cutoff, event=run.actor.put(access, key=key))
        return access
    access = Access("delete", campaigns.REGISTER, campaign_id, rule.register.record_type(CAMPAIGN_RECORDS).field_names)
    campaigns.delete_audience(item, rule=rule.name, cutoff=cutoff, event=run.actor.put(access, key=key), reads=reads)
    return access


def _profile_log(
    rule: SweepRule, item: dict[str, Any], prospect_id: str, reads: ReadCounter, run: SweepRun
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """A due prospect PROFILE's disclosure log goes with it, its recipients notified (Art. 19).

    Returns the writes for the PROFILE's own transaction (notices, then entry deletions, as
    many as fit beside the PROFILE's delete and event) and the writes left for transactions
    right after it (notices with their events kept together). One Query of the partition's
    log per due PROFILE (usually empty: nothing read but the request).
    """
    if rule.register.key != PROSPECT_REGISTER.key or item.get("sk") != "PROFILE":
        return [], []
    entries = disclosures.entries_of(prospect_id)
    reads.items += len(entries)
    table = rule.table().name
    writes = [
        *disclosures.notices(prospect_id, entries, disclosures.ERASED, run.actor),
        *(_delete(table, e) for e in entries),
    ]
    return writes[:98], writes[98:]


Transition = Callable[[SweepRule, dict[str, Any], date, ReadCounter, SweepRun], Access]


def failure_code(exc: Exception) -> str:
    """What failed, without the exception's text (which may quote a key or a value)."""
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code") or type(exc).__name__)
    return type(exc).__name__


def sweep_rule(
    run: SweepRun,
    rule: SweepRule,
    count: RuleCount,
    *,
    as_of: date,
    dry_run: bool = False,
    transition: Transition = apply,
    page_size: int = PAGE_SIZE,
) -> None:
    """Apply one rule to its due records, counting into `count`; errors propagate to the caller.

    Each transition writes its record's audit event in its own transaction, so a rule that
    fails or a run that dies leaves no change without its event and no event to write later.
    """
    for item in due_items(rule, as_of, run.reads, page_size):
        count.due += 1
        if held(item):
            count.held += 1
            continue
        if dry_run:
            if len(count.record_ids) < 100:
                count.record_ids.append(record_id(rule.register.key, item))
            continue
        try:
            transition(rule, item, as_of, run.reads, run)
            count.done += 1
        except RecordHeld:
            count.held += 1
        except Conflict:
            count.changed += 1


def sweep(
    as_of: date,
    *,
    dry_run: bool = False,
    trigger: str = "manual",
    transition: Transition = apply,
    page_size: int = PAGE_SIZE,
) -> dict[str, Any]:
    """Apply every sweep rule to the records due on `as_of`; write and return the summary.

    `dry_run` reads and counts only. `transition` is the per-record step (tests inject a
    failing one). A rule that fails (throttling past the retry budget, a denied call …)
    stops only itself: the other rules still run, and the summary's `failed_rules` maps
    each failed rule (or the `login_deletions` step) to its error code, for the handler
    to alarm on.
    """
    run = SweepRun()
    started = clock.iso()
    failed: dict[str, str] = {}
    logins_finished = 0
    if not dry_run:
        # Erasures whose login deletion a killed run left undone are finished first.
        try:
            logins_finished = finish_login_deletions(run.reads)
        except Exception as exc:  # one step's failure must not stop the rules
            failed[LOGIN_DELETIONS_STEP] = failure_code(exc)
    counts: dict[str, RuleCount] = {}
    for rule in sweep_rules():
        count = counts.setdefault(rule.name, RuleCount())
        try:
            sweep_rule(run, rule, count, as_of=as_of, dry_run=dry_run, transition=transition, page_size=page_size)
        except Exception as exc:  # one rule's failure must not stop the others
            failed[rule.name] = failure_code(exc)
    request_cases = _sweep_cases(as_of, run, dry_run=dry_run, failed=failed)
    for name, code in failed.items():
        logger.error("retention rule failed", extra={"run_id": run.run_id, "rule": name, "error": code})
    summary: dict[str, Any] = {
        "run_id": run.run_id,
        "as_of": as_of.isoformat(),
        "dry_run": dry_run,
        "trigger": trigger,
        "started_at": started,
        "finished_at": clock.iso(),
        "items_read": run.reads.items,
        "logins_finished": logins_finished,
        "rules": {name: c.summary(dry_run=dry_run) for name, c in counts.items()},
        "failed_rules": failed,
        CASES_STEP: request_cases,
        AUDIT_RULE: {"mechanism": "ttl", "after_months": AUDIT_RETENTION.months},
    }
    write_summary(summary)
    logger.info(
        "retention sweep finished",
        extra={"run_id": run.run_id, "as_of": as_of.isoformat(), "dry_run": dry_run, "items_read": run.reads.items},
    )
    return summary


CASES_STEP = "request_cases"  # the run's step for request cases, reported like a rule when it fails
PERSON_NOT_TOLD = "person_not_told"  # the step's failure when a lapsed case's person could not be mailed
# The log line the template's metric filters read the deadline alarms' figures from (infra/resources.json).
DEADLINES_LOG_MESSAGE = "request_case_deadlines"


def _sweep_cases(as_of: date, run: SweepRun, *, dry_run: bool, failed: dict[str, str]) -> dict[str, Any]:
    """Request cases past their keeping period deleted (chalicelib/cases.py: 30 days for one
    never verified, 36 months from closing) and waiting cases past their lapse date (60 days
    without the person's answer) closed, the person told first; then the deadline alarms'
    figures logged: how many open cases are overdue and how many due within a week, as of now.

    A lapse whose message SES refused leaves its case waiting (its address kept) and fails
    the step as `person_not_told`, after the other cases are done: it alarms, as an unused
    account's refused notice does, so staff close the case or reach the person otherwise."""
    from chalicelib import cases  # cases builds on subjects, which builds on this module

    done: dict[str, Any] = {}
    try:
        key = audit.event_key(run.started, "sweep", run.run_id)
        done["rules"] = cases.sweep_retention(as_of, run.actor, key, dry_run=dry_run)
        done["deadlines"] = cases.deadline_counts()
    except Exception as exc:  # one step's failure must not stop the summary
        failed[CASES_STEP] = failure_code(exc)
        return done
    logger.info(DEADLINES_LOG_MESSAGE, extra=done["deadlines"])
    if any(counts.get("not_told") for counts in done["rules"].values()):
        failed[CASES_STEP] = PERSON_NOT_TOLD
    return done


def write_summary(summary: dict[str, Any]) -> None:
    """The run's counts per rule, in the audit trail under register `system`."""
    counts = {k: v for k, v in summary.items() if k != "rules"} | {
        "rules": {name: {k: v for k, v in c.items() if k != "record_ids"} for name, c in summary["rules"].items()}
    }
    key = audit.event_key(clock.sortable(), "sweep", summary["run_id"])
    audit.append(SWEEPER, Access(SWEEP_ACTION, "system", RUNS_RECORD), summary["run_id"], key=key, summary=counts)


def last_runs(limit: int, cursor: str | None) -> dict[str, Any]:
    """The newest sweep summaries (for the DPO): the record's `sweep` events. Previews are
    audited on their own record; those audited before that, on this one, are filtered out."""
    page = audit.by_record("system", RUNS_RECORD, limit, cursor, action=SWEEP_ACTION)
    return {"items": store.plain(page["items"]), "next_cursor": page["next_cursor"]}


def preview(as_of: date, page_size: int = PAGE_SIZE) -> dict[str, Any]:
    """What a run on `as_of` would do, without changing or recording anything."""
    reads = ReadCounter()
    rules: dict[str, Any] = {}
    for rule in sweep_rules():
        due, kept = 0, 0
        ids: list[str] = []
        for item in due_items(rule, as_of, reads, page_size):
            due += 1
            if held(item):
                kept += 1
            elif len(ids) < 100:
                ids.append(record_id(rule.register.key, item))
        rules[rule.name] = {
            "due": due,
            "held": kept,
            "record_ids": ids,
            "action": rule.rule.action,
            "after": rule.rule.after.text.en,
        }
    rules |= _preview_cases(as_of, reads)
    return {
        "as_of": as_of.isoformat(),
        "rules": rules,
        "items_read": reads.items,
        AUDIT_RULE: {"mechanism": "ttl", "after_months": AUDIT_RETENTION.months},
    }


def _preview_cases(as_of: date, reads: ReadCounter) -> dict[str, Any]:
    """The request case rules' due counts on `as_of` (`cases.sweep_retention`'s dry run). The
    cases are not in the public notice's schedule, so each carries its period in both languages
    for the console; a case is never under a legal hold."""
    from chalicelib import cases  # cases builds on subjects, which builds on this module

    counts = cases.sweep_retention(as_of, Actor(SWEEPER, "preview"), "", dry_run=True)  # counts only
    shown: dict[str, Any] = {}
    for name, (action, period) in cases.RETENTION_RULES.items():
        due = counts[name]["due"]
        reads.items += due  # a Query of the keys-only index on its keys: each item read is due
        shown[name] = {
            "due": due,
            "held": 0,
            "record_ids": [],
            "action": action,
            "after": period.text.en,
            "period": {"fi": period.text.fi, "en": period.text.en},
        }
    return shown


# -- legal holds -----------------------------------------------------------------------

HOLD_KINDS = ("customer", "prospect")


def _hold_partition(kind: str, record_id: str) -> tuple[Any, str, str]:
    if kind == "customer":
        return store.customers(), f"CUSTOMER#{record_id}", customers.PROFILE
    if kind == "prospect":
        return store.prospects(), f"PROSPECT#{record_id}", "PROFILE"
    raise ValidationFailed(f"kind must be one of {', '.join(HOLD_KINDS)}.", code="invalid_path")


def set_legal_hold(kind: str, record_id: str, reason: str, principal_id: str) -> dict[str, Any]:
    """Hold every item of the record (a customer's profile and orders, a prospect's items).

    The hold is an attribute on each item, so every deletion's condition sees it without
    another read. The reason is the DPO's text about the case, not the person's data.
    """
    table, pk, profile_sk = _hold_partition(kind, record_id)
    keys = store.partition_keys(table, pk)
    if not any(k["sk"] == profile_sk for k in keys):
        raise NotFound("No such record.")
    hold = {"reason": reason, "set_by": principal_id, "set_at": clock.iso()}
    for k in keys:
        table.update_item(
            Key=k,
            UpdateExpression="SET legal_hold = :h",
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeValues={":h": hold},
        )
    return {"kind": kind, "record_id": record_id, "legal_hold": hold, "items": len(keys)}


def lift_legal_hold(kind: str, record_id: str) -> dict[str, Any]:
    """Lift the hold from every item of the record; due deletions resume at the next run."""
    table, pk, profile_sk = _hold_partition(kind, record_id)
    keys = store.partition_keys(table, pk)
    if not any(k["sk"] == profile_sk for k in keys):
        raise NotFound("No such record.")
    for k in keys:
        table.update_item(Key=k, UpdateExpression="REMOVE legal_hold", ConditionExpression="attribute_exists(pk)")
    return {"kind": kind, "record_id": record_id, "legal_hold": None, "items": len(keys)}


def today() -> date:
    """Today's Finnish date by the injected clock."""
    return local_date(clock.now())


def event_time(raw: dict[str, Any]) -> datetime | None:
    """The scheduled event's `time`, if the invocation came from the schedule."""
    value = raw.get("time")
    if raw.get("detail-type") != "Scheduled Event" or not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        return None
