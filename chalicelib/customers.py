"""The customer register: profiles, their orders, and resellers' end users.

Storage layout in the customers table (keys from infra/resources.json):
  CUSTOMER#<id> / PROFILE         the customer and its contact person
  CUSTOMER#<id> / ORDER#<id>      an order (a bookkeeping voucher)
  EMAIL#<email hash> / UNIQUE     guard: contact emails are unique
  USERNAME#<username hash> / UNIQUE  guard: usernames are unique
  RESELLER#<partner> / ENDUSER#<id>  a reseller's end user: name and email only
  RESELLER#<partner> / EMAIL#<email hash>  guard: an address is one end user per reseller
Guards and the `by_email` index key (`email_hash`) are keyed hashes (`pseudonyms`), never
the address or username itself; a record keeps the hashes its guards were made with
(`email_hash`, `username_hash`), so it frees the right guards after a key rotation.
Profiles and end users appear in the `by_list` index; records with a due retention
action carry `retention_rule` + `retention_due_at`, which makes `retention_due` sparse.
"""

from __future__ import annotations

import calendar
import functools
import operator
import re
import uuid
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from boto3.dynamodb.conditions import Attr, Key
from botocore.exceptions import ClientError

from chalicelib import accounts, clock, partners, pseudonyms, store
from chalicelib.audit import Access, Actor
from chalicelib.errors import Conflict, NotFound, ValidationFailed
from chalicelib.registers import CUSTOMER, CUSTOMER_REGISTER, ORDER, RESELLER_END_USER, Kind, Role
from chalicelib.validation import email_key

REGISTER = CUSTOMER_REGISTER.key
PROFILE = "PROFILE"
GRACE_MONTHS = CUSTOMER_REGISTER.rule("customer_grace").after.months
BOOKKEEPING_MONTHS = CUSTOMER_REGISTER.rule("order_bookkeeping").after.months
# A customer in use is kept; one unused this long is told, then erased (chalicelib/dormancy.py).
DORMANT = CUSTOMER_REGISTER.rule("customer_dormant")
DORMANT_NOTICE = CUSTOMER_REGISTER.rule("customer_dormant_notice")
DORMANT_NOTICE_ATTR = "dormant_notice"  # the notice's code (hashed) and times, on the profile
# Fiscal year end (month, day); Wauranoja Oy's fiscal year is the calendar year.
FISCAL_YEAR_END = (12, 31)
# What the system keeps from what happened, never written by a request (Kind.RECORD).
SYSTEM_KEPT = frozenset(f.name for f in CUSTOMER.fields if f.kind is Kind.RECORD)
# What staff may set on a customer: every register field but consent, which is the
# person's own answer (registration, /me/consent, a consent link), and what the system
# keeps. Staff routes and rectification use it.
STAFF_EDITABLE = frozenset(CUSTOMER.field_names) - {"consent_service_messages"} - SYSTEM_KEPT
# How an answer to the service-message consent reached us (a consent record's `channel`).
CONSENT_CHANNELS = ("registration", "self_service", "consent_link")


def new_id() -> str:
    return uuid.uuid4().hex


_ID = re.compile(r"^[0-9a-f]{32}$")


def _pk(customer_id: str) -> str:
    # Ids are ours (uuid4 hex): anything else names no record, and never reaches DynamoDB.
    if not _ID.match(customer_id):
        raise NotFound("No such customer.")
    return f"CUSTOMER#{customer_id}"


def email_guard(email_hash: str) -> dict[str, str]:
    """The key of the guard that makes a contact email unique (`pseudonyms.email_hash`)."""
    return {"pk": f"EMAIL#{email_hash}", "sk": "UNIQUE"}


def username_guard(username_hash: str) -> dict[str, str]:
    """The key of the guard that makes a username unique (`pseudonyms.username_hash`)."""
    return {"pk": f"USERNAME#{username_hash}", "sk": "UNIQUE"}


_NEW = "attribute_not_exists(pk)"


def claim(keys: list[dict[str, str]], owner: dict[str, Any]) -> list[dict[str, Any]]:
    """Transaction steps that take a unique value: its guard under the current key (`keys[0]`),
    on the condition that no guard of the value exists under another key version of the ring
    (`keys[1:]`; none outside a rotation), so uniqueness holds while a key rotates."""
    table = store.customers().name
    steps: list[dict[str, Any]] = [
        {"Put": {"TableName": table, "Item": store.typed_item({**keys[0], **owner}), "ConditionExpression": _NEW}}
    ]
    steps += [{"ConditionCheck": {"TableName": table, "Key": _key(k), "ConditionExpression": _NEW}} for k in keys[1:]]
    return steps


def email_registered(email: str) -> bool:
    """True if a customer (or a pending registration) holds the address, under any key version."""
    table = store.customers()
    return any(
        "Item" in table.get_item(Key=email_guard(h), ConsistentRead=True, ProjectionExpression="pk")
        for h in pseudonyms.email_hashes(email)
    )


def add_months(day: date, months: int) -> date:
    """`day` plus whole months, clamped to the month's end (Feb 29 + 12 months → Feb 28)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def order_deletion_date(ordered: date, fiscal_year_end: tuple[int, int] = FISCAL_YEAR_END) -> date:
    """When an order may go: 6 years from the end of the year its fiscal year ended."""
    fy_end = date(ordered.year, *fiscal_year_end)
    if ordered > fy_end:
        fy_end = date(ordered.year + 1, *fiscal_year_end)
    return add_months(date(fy_end.year, 12, 31), BOOKKEEPING_MONTHS) + timedelta(days=1)


def _key(item: dict[str, str]) -> dict[str, Any]:
    return {"pk": {"S": item["pk"]}, "sk": {"S": item["sk"]}}


def dormant_due(day: date) -> str:
    """When a customer last active on `day` is due for its notice (`customer_dormant`)."""
    return add_months(day, DORMANT.after.months).isoformat()


def dormancy_restart(item: dict[str, Any]) -> tuple[str, str, dict[str, Any]] | None:
    """The update parts that count the `customer_dormant` period again from today, for a
    change that is activity (a sign-in, a change of contract): the SET clause, the condition
    that the record is still in the state read, and their values. Callers also REMOVE the
    notice's code (`DORMANT_NOTICE_ATTR`).

    None when the record is under another rule (an ended contract's grace, a pending
    registration, an erasure's bookkeeping): activity does not move those. A notice sent
    is void (the account is in use): its code goes. A profile from before the rule (no
    rule, no contract end) starts being counted.
    """
    rule = item.get("retention_rule")
    if item.get("entity") != "customer" or item.get("status") != "active":
        return None
    values: dict[str, Any] = {":dormant": DORMANT.name, ":dormant_due": dormant_due(clock.local_date())}
    if rule in (DORMANT.name, DORMANT_NOTICE.name):
        condition = "retention_rule = :rule_read"
        values[":rule_read"] = rule
    elif rule is None and not item.get("contract_end"):
        condition = "attribute_not_exists(retention_rule) AND attribute_not_exists(contract_end)"
    else:
        return None
    return "retention_rule = :dormant, retention_due_at = :dormant_due", condition, values


def create_customer(data: dict[str, Any], actor: Actor, unconfirmed: dict[str, Any] | None = None) -> dict[str, Any]:
    """Create a customer with unique email and username, atomically with their guards and audit event.

    With `unconfirmed` (self-registration: the attributes of its pending confirmation) the
    record is `unconfirmed`: outside the `by_list` index (no staff list shows it), without
    a consent (the answer waits in the confirmation), and due for deletion when it expires.
    """
    customer_id = str(unconfirmed["customer_id"]) if unconfirmed else new_id()
    now = clock.iso()
    email_hashes = pseudonyms.email_hashes(data["email"])
    username_hashes = pseudonyms.username_hashes(data["username"])
    consent = data.pop("consent_service_messages", None)
    item: dict[str, Any] = {
        "pk": _pk(customer_id),
        "sk": PROFILE,
        "entity": "customer",
        "customer_id": customer_id,
        **data,
        "email_hash": email_hashes[0],
        "username_hash": username_hashes[0],
        "org_search": data["organization"].lower(),
        "status": "active",
        "active_services": data.get("active_services") or [],
        "created_at": now,
        "updated_at": now,
        "version": 1,
        "list_pk": "CUSTOMER",
        "list_sk": f"{clock.sortable()}#{customer_id}",
    }
    if unconfirmed:
        item.update({k: v for k, v in unconfirmed.items() if k != "customer_id"}, status="unconfirmed")
        del item["list_pk"], item["list_sk"]
    else:
        # Kept while it is used: due for its notice only after the period with no activity.
        item.update(retention_rule=DORMANT.name, retention_due_at=dormant_due(clock.local_date()))
        if consent is not None:
            values = consent_values(consent_answer(bool(consent), "registration", data.get("lang"), None), now)
            item.update(consent_service_messages=values[":consent"], consent_history=values[":history"])
    table = store.customers().name
    guard = {"customer_id": customer_id, "entity": "guard"}
    store.transact(
        [
            {
                "Put": {
                    "TableName": table,
                    "Item": store.typed_item(item),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
            *claim([email_guard(h) for h in email_hashes], guard),
            *claim([username_guard(h) for h in username_hashes], guard),
            actor.put(Access("create", REGISTER, customer_id, personal_fields(item))),
        ],
        "A customer with this email address or username already exists.",
    )
    return item


def create_with_login(data: dict[str, Any], password: str | None, actor: Actor) -> dict[str, Any]:
    """Create the customer and its Cognito login together; if the login fails, so does the record.

    With `password` the person chose it at registration; without, Cognito emails an invitation.
    """
    item = create_customer(data, actor)
    try:
        accounts.create_customer_login(item["username"], item["email"], item["customer_id"], password)
    except Exception:
        delete_new_customer(item, actor)
        raise
    return item


def delete_new_customer(item: dict[str, Any], actor: Actor) -> None:
    """Undo `create_customer` when a later step of registration fails (audited as a delete)."""
    table = store.customers().name
    store.client("dynamodb").transact_write_items(
        TransactItems=[
            {"Delete": {"TableName": table, "Key": _key({"pk": item["pk"], "sk": PROFILE})}},
            {"Delete": {"TableName": table, "Key": _key(email_guard(item["email_hash"]))}},
            {"Delete": {"TableName": table, "Key": _key(username_guard(item["username_hash"]))}},
            actor.put(Access("delete", REGISTER, item["customer_id"], personal_fields(item))),
        ]
    )


def in_effect(item: dict[str, Any], today: date | None = None) -> dict[str, Any]:
    """The profile as of `today` (default: the clock's Finnish date).

    A contract end set in advance is stored with status `active` and its `contract_end`;
    from that date on the contract is `ended` without anyone having to switch it (the
    orders check, lists and exports all read the status through here).
    """
    end = str(item.get("contract_end") or "")
    scheduled = item.get("entity") == "customer" and item.get("status") == "active" and end
    if scheduled and end <= (today or clock.local_date()).isoformat():
        return {**item, "status": "ended"}
    return item


def get_customer(customer_id: str) -> dict[str, Any]:
    key = {"pk": _pk(customer_id), "sk": PROFILE}
    item: dict[str, Any] | None = store.customers().get_item(Key=key, ConsistentRead=True).get("Item")
    if not item:
        raise NotFound("No such customer.")
    return in_effect(item)


def find_by_email(email: str, *, include_unconfirmed: bool = False) -> dict[str, Any] | None:
    """The customer whose contact email is `email`, via the email index (no Scan).

    An unconfirmed registration is not a customer yet: staff searches do not see it; a data
    subject request (`include_unconfirmed`) does, since its data is held all the same.
    """
    items = [
        i
        for i in by_email(email, "CUSTOMER#")
        if i.get("sk") == PROFILE and (include_unconfirmed or i.get("status") != "unconfirmed")
    ]
    return in_effect(items[0]) if items else None


def by_email(email: str, pk_prefix: str) -> list[dict[str, Any]]:
    """Items of the customers table under `pk_prefix` with this address (index query, no Scan)."""
    return pseudonyms.items_by_email(store.customers(), email, pk_prefix)


def list_customers(
    limit: int, cursor: str | None, q: str | None = None, status: str | None = None, name: str | None = None
) -> dict[str, Any]:
    """A page of customers, oldest first, with a cursor that stays valid as data changes;
    `q` filters on the organisation, `name` on the contact person's name."""
    query: dict[str, Any] = {
        "IndexName": "by_list",
        "KeyConditionExpression": Key("list_pk").eq("CUSTOMER"),
        "Limit": limit,
    }
    filters = []
    if q:
        filters.append(Attr("org_search").contains(q.lower()))
    if status:
        filters.append(_status_filter(status))
    if name:
        filters.append(store.text_contains("contact_name", name))
    if filters:
        query["FilterExpression"] = functools.reduce(operator.and_, filters)
    page = store.query_page(store.customers(), cursor, {"pk", "sk", "list_pk", "list_sk"}, **query)
    page["items"] = [in_effect(i) for i in page["items"]]
    return page


def _status_filter(status: str) -> Any:
    """The status as `in_effect` derives it, as a filter: a contract end that has come is `ended`."""
    today = clock.local_date().isoformat()
    end_reached = Attr("contract_end").exists() & Attr("contract_end").lte(today)
    if status == "ended":
        return Attr("status").eq("ended") | (Attr("status").eq("active") & end_reached)
    if status == "active":
        return Attr("status").eq("active") & (Attr("contract_end").not_exists() | Attr("contract_end").gt(today))
    return Attr("status").eq(status)


def update_customer(customer_id: str, changes: dict[str, Any], actor: Actor) -> dict[str, Any]:
    """Rectify fields; an email change moves its uniqueness guard atomically, with the audit event.

    The username is the login's immutable name and cannot be changed here.
    """
    if "username" in changes:
        raise ValidationFailed(
            "The username cannot be changed.", details=[{"field": "username", "reason": "immutable"}]
        )
    if not changes:
        raise ValidationFailed("Nothing to update.")
    current = get_customer(customer_id)
    if current["status"] == "erased":
        raise Conflict("This customer's contact data has been erased.")
    now = clock.iso()
    removals = [k for k, v in changes.items() if v is None]
    required = [k for k in removals if CUSTOMER.field(k).required or k == "consent_service_messages"]
    if required:
        raise ValidationFailed(f"Required field(s) cannot be removed: {', '.join(sorted(required))}.")
    updates: dict[str, Any] = {k: v for k, v in changes.items() if v is not None}
    if "consent_service_messages" in updates:
        updates["consent_service_messages"] = {"given": updates["consent_service_messages"], "at": now}
    if "organization" in updates:
        updates["org_search"] = updates["organization"].lower()
    moves_email = "email" in updates and email_key(updates["email"]) != email_key(current["email"])
    if moves_email:
        new_hashes = pseudonyms.email_hashes(updates["email"])
        updates["email_hash"] = new_hashes[0]
        if "mail_undeliverable" in current:
            removals.append("mail_undeliverable")  # the flag was about the old address
    updates["updated_at"] = now
    names = {f"#f{i}": k for i, k in enumerate(updates)}
    values = {f":v{i}": v for i, v in enumerate(updates.values())}
    values[":version"] = current["version"]
    values[":one"] = 1
    set_expr = ", ".join(f"#f{i} = :v{i}" for i in range(len(updates))) + ", #version = #version + :one"
    names["#version"] = "version"
    if removals:
        names.update({f"#r{i}": k for i, k in enumerate(removals)})
        set_expr += " REMOVE " + ", ".join(f"#r{i}" for i in range(len(removals)))
    table = store.customers().name
    transact: list[dict[str, Any]] = [
        {
            "Update": {
                "TableName": table,
                "Key": _key({"pk": _pk(customer_id), "sk": PROFILE}),
                "UpdateExpression": "SET " + set_expr,
                "ConditionExpression": "#version = :version",
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": store.typed_item(values),
            }
        }
    ]
    guard = {"customer_id": customer_id, "entity": "guard"}
    if moves_email:
        transact += claim([email_guard(h) for h in new_hashes], guard)
        transact.append({"Delete": {"TableName": table, "Key": _key(email_guard(current["email_hash"]))}})
    transact.append(actor.put(Access("update", REGISTER, customer_id, tuple(changes))))
    store.transact(transact, "The record changed meanwhile, or the email address is taken.")
    return get_customer(customer_id)


def _set_status(
    customer_id: str,
    expr: str,
    values: dict[str, Any],
    names: dict[str, str],
    condition: str,
    actor: Actor,
    access: Access,
) -> dict[str, Any]:
    """One conditional change of the profile, in one transaction with its audit event.

    Every change moves the record's `version` (clients compare it to see that a record
    changed, and PATCH uses it as its optimistic lock).
    """
    try:
        store.client("dynamodb").transact_write_items(
            TransactItems=[
                {
                    "Update": {
                        "TableName": store.customers().name,
                        "Key": _key({"pk": _pk(customer_id), "sk": PROFILE}),
                        "UpdateExpression": expr + " ADD #version :one",
                        "ConditionExpression": condition,
                        "ExpressionAttributeValues": store.typed_item({**values, ":one": 1}),
                        "ExpressionAttributeNames": {**names, "#version": "version"},
                    }
                },
                actor.put(access),
            ]
        )
    except ClientError as exc:
        if store.condition_failed(exc):
            get_customer(customer_id)  # 404 if it does not exist at all
            raise Conflict("The customer is not in a state that allows this.") from None
        raise
    return get_customer(customer_id)


def check_contract_end(end_date: date) -> None:
    """A contract's end must fall within a year back and five years ahead of today."""
    today = clock.local_date()
    if not today - timedelta(days=366) <= end_date <= today + timedelta(days=5 * 366):
        raise ValidationFailed(
            "end_date must be within one year back and five years ahead of today.",
            details=[{"field": "end_date", "reason": "out of range"}],
        )


def end_contract(customer_id: str, end_date: date, actor: Actor) -> dict[str, Any]:
    """End the contract on `end_date`; the re-activation grace period starts then.

    An end today or earlier takes effect at once (status `ended`). A later one is stored
    with status `active` and takes effect on that date (`in_effect`): the customer can
    still order until then, and staff may move the date meanwhile. Either way the profile
    is stamped for the sweeper with the grace period counted from `end_date`.
    The date must fall within a year back and five years ahead: a typo such as year 1970
    would otherwise make the contact data due for erasure at the next sweep.
    """
    check_contract_end(end_date)
    today = clock.local_date()
    due = add_months(end_date, GRACE_MONTHS)
    return _set_status(
        customer_id,
        "SET #s = :status, contract_end = :end, retention_rule = :rule, retention_due_at = :due, updated_at = :now",
        {
            ":status": "ended" if end_date <= today else "active",
            ":end": end_date.isoformat(),
            ":rule": "customer_grace",
            ":due": due.isoformat(),
            ":now": clock.iso(),
            ":active": "active",
            ":today": today.isoformat(),
        },
        {"#s": "status"},
        # Only a contract still in effect: active, with no end or an end still to come.
        "attribute_exists(pk) AND #s = :active AND (attribute_not_exists(contract_end) OR contract_end > :today)",
        actor,
        Access("end_contract", REGISTER, customer_id, ("status",)),
    )


def reactivate(customer_id: str, actor: Actor) -> dict[str, Any]:
    """Re-activate an ended contract within its grace period, or cancel an end still to come;
    the account is kept while used again (`customer_dormant`, counted from today)."""
    return _set_status(
        customer_id,
        "SET #s = :active, updated_at = :now, retention_rule = :dormant, retention_due_at = :due "
        "REMOVE contract_end, " + DORMANT_NOTICE_ATTR,
        {
            ":active": "active",
            ":ended": "ended",
            ":now": clock.iso(),
            ":dormant": DORMANT.name,
            ":due": dormant_due(clock.local_date()),
        },
        {"#s": "status"},
        "attribute_exists(pk) AND (#s = :ended OR (#s = :active AND attribute_exists(contract_end)))",
        actor,
        Access("reactivate", REGISTER, customer_id, ("status",)),
    )


def set_services(customer_id: str, services: list[dict[str, Any]], actor: Actor) -> dict[str, Any]:
    """Set the contract's services; a change of contract is activity (`dormancy_restart`).

    Orders need an active service, and a customer with services is never sent the dormancy
    notice, so counting from the last change of services also counts from the last order.
    """
    expr = "SET active_services = :s, updated_at = :now"
    values: dict[str, Any] = {":s": services, ":now": clock.iso(), ":erased": "erased"}
    condition = "attribute_exists(pk) AND #s <> :erased"
    restart = dormancy_restart(get_customer(customer_id))
    if restart:
        sets, check, restart_values = restart
        expr += f", {sets} REMOVE {DORMANT_NOTICE_ATTR}"
        condition += f" AND {check}"
        values.update(restart_values)
    return _set_status(
        customer_id,
        expr,
        values,
        {"#s": "status"},
        condition,
        actor,
        Access("update", REGISTER, customer_id, ("active_services",)),
    )


def consent_answer(given: bool, channel: str, lang: str | None, shown_version: str | None) -> dict[str, Any]:
    """A consent record without its time: the answer, its channel, and the exact wording shown.

    `shown_version` is the notice version the form showed (`notice.consent_wording`); a
    form showing an older wording is refused, since the words the person saw would then
    not be the words recorded. Without it, the wording the API serves now is the one shown.
    """
    if channel not in CONSENT_CHANNELS:
        raise ValueError(f"unknown consent channel {channel}")
    # Loaded here, not at import: the import function reaches this module (through its
    # guards) and must not load the notice (tests/test_cold_imports.py).
    from chalicelib import notice

    wording = notice.consent_wording(lang or "fi")
    if shown_version is not None and shown_version != wording["version"]:
        raise Conflict(
            "The consent wording has changed since the form was shown; show the current wording "
            "(GET /privacy-notice) and ask again.",
            code="consent_wording_changed",
        )
    return {
        "given": given,
        "channel": channel,
        "wording": wording["text"],
        "wording_version": wording["version"],
        "lang": wording["lang"],
    }


def consent_values(answer: dict[str, Any], at: str) -> dict[str, Any]:
    """Update values for one answer at `at`: the current state and the record to append.

    The profile keeps the current answer in `consent_service_messages` (what sending reads)
    and every answer, in order, in `consent_history` (GDPR 7(1): the controller can show
    when, how and to which words consent was given or withdrawn).
    """
    record = {**answer, "at": at}
    current = {k: record[k] for k in ("given", "at", "channel", "wording_version")}
    return {":consent": current, ":history": [record], ":empty": []}


# The update that records one answer (values from `consent_values`).
_HISTORY = "list_append(if_not_exists(consent_history, :empty), :history)"
CONSENT_UPDATE = f"consent_service_messages = :consent, consent_history = {_HISTORY}"


def set_consent(customer_id: str, answer: dict[str, Any], actor: Actor) -> dict[str, Any]:
    """Record the person's answer (`consent_answer`) with its audit event, in one transaction."""
    now = clock.iso()
    return _set_status(
        customer_id,
        f"SET {CONSENT_UPDATE}, updated_at = :now",
        {**consent_values(answer, now), ":now": now, ":active": "active", ":ended": "ended"},
        {"#s": "status"},
        "attribute_exists(pk) AND #s IN (:active, :ended)",
        actor,
        Access("update", REGISTER, customer_id, ("consent_service_messages", "consent_history")),
    )


def consent_is_current(item: dict[str, Any]) -> bool:
    """True if the customer may be sent a service message now: its latest answer gives consent,
    it is a customer (active or ended, not erased or unconfirmed) and its address is not flagged
    undeliverable."""
    consent = item.get("consent_service_messages")
    return (
        item.get("entity") == "customer"
        and item.get("status") in ("active", "ended")
        and isinstance(consent, dict)
        and consent.get("given") is True
        and not item.get("mail_undeliverable")
        and bool(item.get("email"))
    )


def priced_lines(customer: dict[str, Any], requested: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Order lines priced from the customer's active services (set by staff).

    The client names a service and a quantity, never a price: a service that is not among
    the customer's active services cannot be ordered, at any price.
    """
    offered = {s["service"]: s for s in customer.get("active_services") or []}
    unknown = [i for i, line in enumerate(requested) if line["service"] not in offered]
    if unknown:
        raise ValidationFailed(
            "Only the customer's active services can be ordered.",
            details=[{"field": f"items.{i}.service", "reason": "not an active service"} for i in unknown],
        )
    return [
        {
            "service": line["service"],
            "quantity": line["quantity"],
            "unit_price": offered[line["service"]]["price"],
            "currency": offered[line["service"]].get("currency", "EUR"),
            "period": offered[line["service"]].get("period", "month"),
        }
        for line in requested
    ]


def add_order(customer_id: str, data: dict[str, Any], actor: Actor) -> dict[str, Any]:
    """Record an order of the customer's active services at their prices; only an active
    customer can order."""
    customer = get_customer(customer_id)
    if customer["status"] != "active":
        raise Conflict("Only a customer with an active contract can place an order.")
    lines = priced_lines(customer, data["items"])
    now = clock.now()
    order_id = new_id()
    total = sum((Decimal(i["unit_price"]) * i["quantity"] for i in lines), Decimal("0"))
    item = {
        "pk": _pk(customer_id),
        "sk": f"ORDER#{clock.sortable(now)}#{order_id}",
        "entity": "order",
        "order_id": order_id,
        "customer_id": customer_id,
        "ordered_at": clock.iso(now),
        "items": lines,
        "total": str(total.quantize(Decimal("0.01"))),
        "currency": "EUR",
        "retention_rule": "order_bookkeeping",
        "retention_due_at": order_deletion_date(clock.local_date(now)).isoformat(),
    }
    if data.get("reference"):
        item["reference"] = data["reference"]
    # The key holds a fresh order id; a retry of a lost reply carries the same
    # ClientRequestToken, so the order and its event are written once.
    store.transact(
        [
            {
                "Put": {
                    "TableName": store.customers().name,
                    "Item": store.typed_item(item),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
            actor.put(Access("create", REGISTER, order_id, ("items",))),
        ],
        "The order could not be recorded; retry.",
    )
    return item


def list_orders(customer_id: str, limit: int, cursor: str | None) -> dict[str, Any]:
    get_customer(customer_id)
    return store.query_page(
        store.customers(),
        cursor,
        {"pk", "sk"},
        KeyConditionExpression=Key("pk").eq(_pk(customer_id)) & Key("sk").begins_with("ORDER#"),
        Limit=limit,
        ScanIndexForward=False,
    )


def all_orders(customer_id: str) -> list[dict[str, Any]]:
    """Every order of a customer (for access requests)."""
    return store.query_all(
        store.customers(), KeyConditionExpression=Key("pk").eq(_pk(customer_id)) & Key("sk").begins_with("ORDER#")
    )


def _end_user_pk(partner_id: str) -> str:
    return f"RESELLER#{partner_id}"


def _end_user_key(partner_id: str, end_user_id: str) -> dict[str, str]:
    return {"pk": _end_user_pk(partner_id), "sk": f"ENDUSER#{end_user_id}"}


def end_user_email_guard(partner_id: str, email_hash: str) -> dict[str, str]:
    """The key of the guard that makes an address one end user per reseller."""
    # In the reseller's own partition, outside the ENDUSER# range its listings read.
    return {"pk": _end_user_pk(partner_id), "sk": f"EMAIL#{email_hash}"}


def _reseller(partner_id: str) -> dict[str, Any]:
    """The registered reseller (404 if unknown or not a reseller)."""
    return partners.reseller(partner_id)


def add_end_user(partner_id: str, data: dict[str, Any], actor: Actor) -> dict[str, Any]:
    """A reseller's end user: the notice allows only name and email.

    An address is one end user per reseller, whatever its case or spelling variant
    (`validation.email_key`): the end user, its address's guard and its audit event are
    written together.
    """
    if _reseller(partner_id)["status"] != "active":
        raise Conflict("This reseller is not active: no end users can be added.")
    end_user_id = new_id()
    now = clock.iso()
    hashes = pseudonyms.email_hashes(data["email"])
    item = {
        **_end_user_key(partner_id, end_user_id),
        "entity": "reseller_end_user",
        "end_user_id": end_user_id,
        "partner_id": partner_id,
        "name": data["name"],
        "email": data["email"],
        "email_hash": hashes[0],
        "created_at": now,
        "list_pk": f"ENDUSER#{partner_id}",
        "list_sk": f"{clock.sortable()}#{end_user_id}",
    }
    owner = {"entity": "guard", "end_user_id": end_user_id}
    table = store.customers().name
    store.transact(
        [
            {
                "Put": {
                    "TableName": table,
                    "Item": store.typed_item(item),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
            *claim([end_user_email_guard(partner_id, h) for h in hashes], owner),
            actor.put(Access("create", REGISTER, end_user_id, ("name", "email"))),
        ],
        "This reseller already has an end user with this email address.",
    )
    return item


def release(key: dict[str, str], owner_attr: str, owner: str) -> dict[str, Any]:
    """The transaction step that deletes a guard if it still names its record (or is gone)."""
    return {
        "Delete": {
            "TableName": store.customers().name,
            "Key": _key(key),
            "ConditionExpression": "attribute_not_exists(pk) OR #o = :owner",
            "ExpressionAttributeNames": {"#o": owner_attr},
            "ExpressionAttributeValues": store.typed({":owner": owner}),
        }
    }


def _guard_release(item: dict[str, Any]) -> list[dict[str, Any]]:
    """The step that frees the end user's address (none for end users written before guards)."""
    if not item.get("email_hash") or not item.get("partner_id"):
        return []
    key = end_user_email_guard(item["partner_id"], item["email_hash"])
    return [release(key, "end_user_id", str(item["end_user_id"]))]


def delete_end_user(
    item: dict[str, Any],
    condition: str = "attribute_exists(pk)",
    values: dict[str, Any] | None = None,
    *,
    event: dict[str, Any],
) -> bool:
    """Delete an end user, its address's guard and the deletion's audit `event` (`Actor.put`)
    together, if `condition` holds on the end user.

    False when the condition failed (the caller tells gone, held or changed apart). Used by
    the reseller's removal, erasure and the retention sweeper alike.
    """
    delete: dict[str, Any] = {
        "TableName": store.customers().name,
        "Key": _key(item),
        "ConditionExpression": condition,
    }
    if values:
        delete["ExpressionAttributeValues"] = store.typed_item(values)
    try:
        store.client("dynamodb").transact_write_items(TransactItems=[{"Delete": delete}, *_guard_release(item), event])
    except ClientError as exc:
        if store.condition_failed(exc):
            return False
        raise
    return True


def rectify_end_user(item: dict[str, Any], changes: dict[str, Any], event: dict[str, Any]) -> None:
    """Set or remove fields of an end user with its audit `event` (`Actor.put`); a new
    address moves its guard in the same transaction."""
    sets = {k: v for k, v in changes.items() if v is not None}
    removes = [k for k, v in changes.items() if v is None]
    guard_moves: list[dict[str, Any]] = []
    if "email" in sets and (not item.get("email") or email_key(sets["email"]) != email_key(item["email"])):
        hashes = pseudonyms.email_hashes(sets["email"])
        sets["email_hash"] = hashes[0]
        owner = {"entity": "guard", "end_user_id": item["end_user_id"]}
        guard_moves = [
            *claim([end_user_email_guard(item["partner_id"], h) for h in hashes], owner),
            *_guard_release(item),
        ]
    sets["updated_at"] = clock.iso()
    names = {f"#s{i}": k for i, k in enumerate(sets)} | {f"#r{i}": k for i, k in enumerate(removes)}
    expr = "SET " + ", ".join(f"#s{i} = :s{i}" for i in range(len(sets)))
    if removes:
        expr += " REMOVE " + ", ".join(f"#r{i}" for i in range(len(removes)))
    update = {
        "Update": {
            "TableName": store.customers().name,
            "Key": _key(item),
            "UpdateExpression": expr,
            "ConditionExpression": "attribute_exists(pk)",
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": store.typed_item({f":s{i}": v for i, v in enumerate(sets.values())}),
        }
    }
    store.transact(
        [update, *guard_moves, event], "The end user changed meanwhile, or the reseller has this address already."
    )


def remove_end_user(partner_id: str, end_user_id: str, actor: Actor) -> None:
    """Removed by the reseller: deleted at once (retention rule `end_user_removed`)."""
    _reseller(partner_id)
    if not _ID.match(end_user_id):
        raise NotFound("No such end user.")
    key = _end_user_key(partner_id, end_user_id)
    item = store.customers().get_item(Key=key, ConsistentRead=True).get("Item")
    event = actor.put(Access("delete", REGISTER, end_user_id, ("name", "email")))
    if not item or not delete_end_user(item, event=event):
        raise NotFound("No such end user.")


def list_end_users(partner_id: str, limit: int, cursor: str | None) -> dict[str, Any]:
    _reseller(partner_id)
    return store.query_page(
        store.customers(),
        cursor,
        {"pk", "sk"},
        KeyConditionExpression=Key("pk").eq(_end_user_pk(partner_id)) & Key("sk").begins_with("ENDUSER#"),
        Limit=limit,
    )


END_USER_RESELLER_ENDED = CUSTOMER_REGISTER.rule("end_user_reseller_ended")


def end_reseller_contract(partner_id: str, end_date: date, actor: Actor) -> dict[str, Any]:
    """The reseller's contract ends: each of its end users becomes due under
    `end_user_reseller_ended` (the rule's period after `end_date`), so the retention
    sweeper deletes them through the `retention_due` index. Re-running it (e.g. with a
    corrected date) restamps every end user; one that was deleted meanwhile is skipped.
    """
    _reseller(partner_id)
    check_contract_end(end_date)
    due = add_months(end_date, END_USER_RESELLER_ENDED.after.months).isoformat()
    table = store.customers()
    query: dict[str, Any] = {
        "KeyConditionExpression": Key("pk").eq(_end_user_pk(partner_id)) & Key("sk").begins_with("ENDUSER#"),
        "ProjectionExpression": "pk, sk, end_user_id",
    }
    scheduled = 0
    while True:
        resp = table.query(**query)
        for item in resp["Items"]:
            update = {
                "TableName": table.name,
                "Key": _key({"pk": item["pk"], "sk": item["sk"]}),
                "UpdateExpression": "SET retention_rule = :rule, retention_due_at = :due, reseller_contract_end = :end",
                "ConditionExpression": "attribute_exists(pk)",
                "ExpressionAttributeValues": store.typed_item(
                    {":rule": END_USER_RESELLER_ENDED.name, ":due": due, ":end": end_date.isoformat()}
                ),
            }
            access = Access("schedule_deletion", REGISTER, str(item["end_user_id"]), ())
            try:
                store.client("dynamodb").transact_write_items(TransactItems=[{"Update": update}, actor.put(access)])
            except ClientError as exc:
                if not store.condition_failed(exc):
                    raise
                continue  # removed meanwhile: nothing left to schedule
            scheduled += 1
        if "LastEvaluatedKey" not in resp:
            break
        query["ExclusiveStartKey"] = resp["LastEvaluatedKey"]
    return {
        "partner_id": partner_id,
        "contract_end": end_date.isoformat(),
        "retention_rule": END_USER_RESELLER_ENDED.name,
        "retention_due_at": due,
        "end_users": scheduled,
    }


_ID_FIELD = {"customer": "customer_id", "order": "order_id", "reseller_end_user": "end_user_id"}


def record_id(item: dict[str, Any]) -> str:
    """The record's id as the audit trail names it."""
    return str(item[_ID_FIELD[item["entity"]]])


_META = {
    "customer": ("customer_id", "status", "contract_end", "created_at", "updated_at", "version", "lang"),
    "order": ("order_id", "customer_id", "ordered_at", "total", "currency", "retention_due_at"),
    "reseller_end_user": ("end_user_id", "partner_id", "created_at"),
}
_TYPES = {"customer": CUSTOMER, "order": ORDER, "reseller_end_user": RESELLER_END_USER}


def present(item: dict[str, Any], roles: frozenset[Role]) -> dict[str, Any]:
    """The record as a principal with `roles` may see it: register fields plus metadata."""
    entity = item["entity"]
    record_type = _TYPES[entity]
    visible = {f.name for f in record_type.fields if f.visible_to & roles}
    out = {k: item[k] for k in _META[entity] if k in item}
    out.update({k: item[k] for k in record_type.field_names if k in visible and k in item})
    if roles & {Role.STAFF, Role.DPO}:
        if "legal_hold" in item:
            out["legal_hold"] = item["legal_hold"]
        if entity == "customer":
            # Art. 18: stored and shown to staff, marked (chalicelib/restriction.py).
            out["restricted"] = "restriction" in item
            if "restriction" in item:
                out["restriction"] = item["restriction"]
    return out


def personal_fields(item: dict[str, Any]) -> tuple[str, ...]:
    """Names of the personal-data fields this record holds (for audit events)."""
    record_type = _TYPES[item["entity"]]
    return tuple(f.name for f in record_type.fields if f.personal and f.name in item)
