"""Data subject requests by email address, across both registers and the suppression list.

access (Art. 15/20), rectification (Art. 16), erasure (Art. 17, keeping what bookkeeping
law requires: 17(3)(b)) and objection to direct marketing (Art. 21). Every function
returns its answer and the audit accesses it made. Each change writes its audit event
in its own transaction (the caller's `audit.Actor`), so a change that happened is
audited even when a later step fails; an access export records its reads. Nothing is
written before all input is validated. Each
request is also recorded (type, time, outcome, who handled it) without the person's
data: no email, no hash, no name; only counts of what was found and done.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any, NotRequired

from boto3.dynamodb.conditions import Key
from typing_extensions import TypedDict  # pydantic reads TypedDicts from here before Python 3.12

from chalicelib import (
    accounts,
    art14,
    audit,
    clock,
    customers,
    disclosures,
    partners,
    prospects,
    retention,
    store,
    suppression,
)
from chalicelib.audit import Access, Actor
from chalicelib.auth import Principal
from chalicelib.errors import Conflict, ValidationFailed
from chalicelib.registers import (
    CUSTOMER,
    CUSTOMER_REGISTER,
    ORDER,
    PROSPECT,
    PROSPECT_REGISTER,
    RESELLER_END_USER,
    RecordType,
    Register,
    Text,
)
from chalicelib.validation import checked_email, dump, parse, schema

# What an access export shows of a prospect besides its register fields: when it was
# first seen and last verified, and which partner (and import run) each source came from.
PROSPECT_META = (
    "first_seen",
    "last_verified",
    "staff_verified_at",
    "updated_at",
    "retention_due_at",
    "last_contacted_at",
    "obtained_at",
    "informed_at",
    "informed_how",
)
SOURCE_PROVENANCE = ("source_partner", "first_seen", "last_verified", "last_import_run", "retention_due_at")
# Rectification (Art. 16) corrects what staff may edit about a customer, never consent
# (the person's own answer), the login name, or the contract's services.
RECTIFIABLE = {
    CUSTOMER.name: customers.STAFF_EDITABLE - {"username", "active_services"},
    RESELLER_END_USER.name: frozenset(RESELLER_END_USER.field_names),
    # A prospect's email is its identity (its id is a keyed hash of it): a wrong address
    # is erased or objected to, not moved to another person's address.
    PROSPECT.name: frozenset(PROSPECT.field_names) - {"email"},
}
REQUESTS_RECORD = "subject_requests"  # audit record (register "system") of all requests
SUPPRESSION = "suppression"
ERASED_RULE = "erased_on_request"  # the register's rule for the do-not-re-add entry


@dataclass
class Found:
    """Everything held about one email address."""

    customer: dict[str, Any] | None = None
    orders: list[dict[str, Any]] = field(default_factory=list)
    end_users: list[dict[str, Any]] = field(default_factory=list)
    prospects: list[dict[str, Any]] = field(default_factory=list)
    suppressed: bool = False
    erased_since: str | None = None  # the do-not-re-add entry's date, if the prospect was erased on request

    def counts(self) -> dict[str, int]:
        return {
            "customers": int(self.customer is not None),
            "orders": len(self.orders),
            "end_users": len(self.end_users),
            "prospects": len(self.prospects),
            "suppression": int(self.suppressed),
            "do_not_re_add": int(self.erased_since is not None),
        }


@dataclass
class Answer:
    """A request's answer to the person, the accesses to audit, and the outcome to record."""

    body: dict[str, Any]
    accesses: list[Access]
    outcome: str


def _prospect_parts(profile: dict[str, Any]) -> list[dict[str, Any]]:
    """A prospect's items (profile and SOURCE# items), read consistently from its partition."""
    resp = store.prospects().query(KeyConditionExpression=Key("pk").eq(profile["pk"]), ConsistentRead=True)
    return list(resp["Items"])


def find(email: str) -> Found:
    """Look the person up in both registers and the suppression list (index queries only)."""
    norm = checked_email(email)
    found = Found()
    customer = customers.find_by_email(norm, include_unconfirmed=True)
    if customer:
        found.customer = (
            store.customers()
            .get_item(Key={"pk": customer["pk"], "sk": customer["sk"]}, ConsistentRead=True)
            .get("Item")
        )
        if found.customer:
            found.orders = customers.all_orders(found.customer["customer_id"])
    found.end_users = [i for i in customers.by_email(norm, "RESELLER#") if i.get("entity") == "reseller_end_user"]
    found.prospects = [i for i in prospects.by_email(norm) if i.get("sk") == "PROFILE"]
    found.suppressed = suppression.is_suppressed(norm)
    found.erased_since = suppression.erased_since(norm)
    return found


# -- access ------------------------------------------------------------------------------


def _text(t: Text) -> dict[str, str]:
    return {"fi": t.fi, "en": t.en}


def _about(register: Register, record_type: RecordType) -> dict[str, Any]:
    """Purpose, source and retention of one part, straight from the register definition."""
    return {
        "register": register.key,
        "register_name": _text(register.name),
        "record_type": record_type.name,
        "purpose": _text(register.purpose),
        "legal_basis": _text(register.legal_basis),
        "source": _text(register.sources),
        "recipients": _text(register.recipients),
        "retention": [
            {"rule": r.name, "event": _text(r.event), "after": _text(r.after.text), "then": _text(r.then)}
            for r in register.retention
            if r.record_type == record_type.name
        ],
    }


def _fields(record_type: RecordType, item: dict[str, Any]) -> dict[str, Any]:
    return {f.name: item[f.name] for f in record_type.fields if f.name in item}


def access(email: str) -> Answer:
    """One machine-readable export of everything held about the person."""
    found = find(email)
    parts: list[dict[str, Any]] = []
    accesses: list[Access] = []
    if found.customer:
        c = found.customer
        meta: dict[str, Any] = {
            k: c[k] for k in ("customer_id", "status", "contract_end", "created_at", "retention_due_at") if k in c
        }
        meta |= restriction_for_person(c)
        parts.append({**_about(CUSTOMER_REGISTER, CUSTOMER), "record": meta, "data": _fields(CUSTOMER, c)})
        accesses.append(Access("export", CUSTOMER_REGISTER.key, c["customer_id"], customers.personal_fields(c)))
        for o in found.orders:
            meta = {k: o[k] for k in ("order_id", "ordered_at", "total", "currency", "retention_due_at") if k in o}
            parts.append({**_about(CUSTOMER_REGISTER, ORDER), "record": meta, "data": _fields(ORDER, o)})
            accesses.append(Access("export", CUSTOMER_REGISTER.key, o["order_id"], ("items",)))
    for u in found.end_users:
        meta = {"end_user_id": u["end_user_id"], "reseller": u["partner_id"], "created_at": u.get("created_at")}
        parts.append(
            {**_about(CUSTOMER_REGISTER, RESELLER_END_USER), "record": meta, "data": _fields(RESELLER_END_USER, u)}
        )
        accesses.append(Access("export", CUSTOMER_REGISTER.key, u["end_user_id"], ("name", "email")))
    phones: list[str] = [found.customer["phone"]] if found.customer and found.customer.get("phone") else []
    for p in found.prospects:
        items = _prospect_parts(p)
        phones += [str(i["phone"]) for i in items if i.get("phone")]
        pid = retention.record_id(PROSPECT_REGISTER.key, p)
        sources = [
            {**_fields(PROSPECT, i), **{k: i[k] for k in SOURCE_PROVENANCE if k in i}}
            for i in items
            if str(i["sk"]).startswith(prospects.SOURCE_PREFIX)
        ]
        meta = {k: p[k] for k in PROSPECT_META if k in p}
        meta["obtained_at"] = art14.obtained_at(p)  # a record older than the field: when first seen
        meta |= restriction_for_person(p)
        parts.append(
            {
                **_about(PROSPECT_REGISTER, PROSPECT),
                "record": {"prospect_id": pid, **meta},
                "data": _fields(PROSPECT, p),
                "sources": sources,
                "disclosures": _disclosed(items),
            }
        )
        accesses.append(Access("export", PROSPECT_REGISTER.key, pid, tuple(f for f in PROSPECT.field_names if f in p)))
    body: dict[str, Any] = {
        "generated_at": clock.iso(),
        "parts": parts,
        "suppression": {
            "on_list": found.suppressed,
            "holds": _text(Text("Avainnettu tiiviste sähköpostiosoitteesta", "A keyed hash of the email address")),
            "purpose": _text(
                Text("Suoramarkkinoinnin vastustuksen noudattaminen", "Honouring the objection to direct marketing")
            ),
            "retention": _text(Text("Niin kauan kuin vastustus on voimassa", "As long as the objection stands")),
        },
        "do_not_call": _do_not_call(phones),
        "do_not_re_add": _do_not_re_add(found.erased_since),
    }
    return Answer(body, accesses, "found" if any(found.counts().values()) else "nothing_found")


def _do_not_re_add(since: str | None) -> dict[str, Any]:
    """Whether the address has a do-not-re-add entry (an erasure on request), since when and why.

    Only the entry's existence, its date and its reason: the entry holds nothing else.
    """
    rule = PROSPECT_REGISTER.rule(ERASED_RULE)
    return {
        "on_list": since is not None,
        "since": since,
        "reason": _text(rule.event) if since else None,
        "holds": _text(Text("Avainnettu tiiviste sähköpostiosoitteesta", "A keyed hash of the email address")),
        "purpose": _text(rule.then),
        "basis": _text(rule.basis),
        "retention": _text(rule.after.text),
    }


def restriction_for_person(item: dict[str, Any]) -> dict[str, Any]:
    """The record's restriction of processing (Art. 18) as the person reads it: the ground,
    since when and the review date; who set it is staff's business."""
    current = item.get("restriction")
    if not isinstance(current, dict):
        return {}
    return {"restriction": {k: current[k] for k in ("reason", "since", "until") if current.get(k)}}


def _disclosed(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Who got the prospect's data, for what and when (Art. 15(1)(c)), named from the registry."""
    names: dict[str, str | None] = {}
    out = []
    for entry in disclosures.recipients_of(items):
        recipient = entry["recipient"]
        if recipient not in names:
            partner = partners.find(recipient)
            names[recipient] = str(partner["name"]) if partner else None
        out.append({**entry, "recipient_name": names[recipient]} if names[recipient] else entry)
    return out


def _do_not_call(phones: list[str]) -> dict[str, Any]:
    """Whether each of the person's numbers is on the do-not-call list, and what that list holds."""
    numbers = list(dict.fromkeys(phones))
    listed = suppression.suppressed_phones(numbers)
    rule = PROSPECT_REGISTER.rule("do_not_call")
    return {
        "numbers": [{"phone": n, "on_list": n in listed} for n in numbers],
        "holds": _text(Text("Avainnettu tiiviste puhelinnumerosta", "A keyed hash of the phone number")),
        "purpose": _text(rule.basis),
        "retention": _text(rule.after.text),
    }


# -- rectification ----------------------------------------------------------------------


def _rectification_values(changes: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Validate `changes` against every register schema that has the fields, before any write.

    Returns the validated values per record type; raises `ValidationFailed` for a field
    no register lets a rectification change, or a value any applicable schema refuses.
    """
    allowed = frozenset().union(*RECTIFIABLE.values())
    refused = sorted(set(changes) - allowed)
    if refused:
        raise ValidationFailed(
            f"Field(s) not changeable by rectification: {', '.join(refused)}.",
            details=[{"field": f, "reason": "not rectifiable"} for f in refused],
        )
    values: dict[str, dict[str, Any]] = {}
    for record_type in (CUSTOMER, RESELLER_END_USER, PROSPECT):
        own = {k: v for k, v in changes.items() if k in RECTIFIABLE[record_type.name]}
        if own:
            parsed = dump(parse(schema(record_type, "update", frozenset(own)), own))
            required = sorted(k for k, v in parsed.items() if v is None and record_type.field(k).required)
            if required:
                raise ValidationFailed(
                    f"Required field(s) cannot be removed: {', '.join(required)}.",
                    details=[{"field": f, "reason": "required"} for f in required],
                )
            values[record_type.name] = parsed
    return values


def check_changes(changes: Any) -> dict[str, dict[str, Any]]:
    """A rectification's `changes` validated against every register that has the fields
    (400 otherwise), before anything is written or a request case is opened for them."""
    if not isinstance(changes, dict) or not changes:
        raise ValidationFailed("changes must be an object of field names and new values.")
    return _rectification_values(changes)


def rectify(email: str, changes: Any, actor: Actor) -> Answer:
    """Correct the person's data in every record that has the named fields.

    Every value is validated against every applicable register first, so a bad value
    changes nothing. Each write carries its own audit event (`actor`).
    """
    values = check_changes(changes)
    found = find(email)
    accesses: list[Access] = []
    updated: list[dict[str, Any]] = []
    not_changed: list[dict[str, Any]] = []
    own = values.get(CUSTOMER.name)
    if own and found.customer and found.customer.get("status") != "erased":
        c = found.customer
        item = customers.update_customer(c["customer_id"], own, actor)
        accesses.append(Access("update", CUSTOMER_REGISTER.key, c["customer_id"], tuple(own)))
        updated.append({"register": CUSTOMER_REGISTER.key, "record_id": c["customer_id"], "fields": sorted(own)})
        if "email" in own and item.get("username") and item["email"] != c["email"]:
            accounts.update_login_email(item["username"], item["email"])
    own = values.get(RESELLER_END_USER.name) or {}
    for u in found.end_users if own else []:
        access = Access("update", CUSTOMER_REGISTER.key, u["end_user_id"], tuple(own))
        customers.rectify_end_user(u, own, actor.put(access))
        accesses.append(access)
        updated.append({"register": CUSTOMER_REGISTER.key, "record_id": u["end_user_id"], "fields": sorted(own)})
    own = values.get(PROSPECT.name)
    for p in found.prospects:
        pid = retention.record_id(PROSPECT_REGISTER.key, p)
        if "email" in changes:
            not_changed.append(
                {
                    "register": PROSPECT_REGISTER.key,
                    "record_id": pid,
                    "field": "email",
                    "reason": "identity; use erasure or objection for a wrong address",
                }
            )
        if own:
            prospects.update(pid, own, actor, refuse_do_not_call=False)
            accesses.append(Access("update", PROSPECT_REGISTER.key, pid, tuple(own)))
            updated.append({"register": PROSPECT_REGISTER.key, "record_id": pid, "fields": sorted(own)})
    return Answer(
        {"updated": updated, "not_changed": not_changed}, accesses, "rectified" if updated else "nothing_to_rectify"
    )


# -- erasure ----------------------------------------------------------------------------


def _delete_end_user(u: dict[str, Any], event: dict[str, Any]) -> None:
    """Delete the end user with its address guard and its audit `event`, unless held."""
    if not customers.delete_end_user(u, "attribute_not_exists(legal_hold)", event=event):
        raise retention.RecordHeld("The record is under a legal hold.")


def erase(email: str, actor: Actor) -> Answer:
    """Erase everything except what bookkeeping law requires; list what stays and until when.

    Each erasure carries its own audit event (`actor`), also when a later one fails. A
    prospect's deletion writes, in its own transaction, the address's do-not-re-add entry
    (`suppression.erased_entry`): partner files then skip the person and staff cannot enter
    them again. Every partner that received the person's data (the disclosure log) or whose
    file brought them is told of the erasure once (Art. 19).
    """
    norm = checked_email(email)
    return _erase(find(norm), actor, norm)


def _erase(found: Found, actor: Actor, email: str) -> Answer:
    accesses: list[Access] = []
    erased: list[dict[str, Any]] = []
    kept: list[dict[str, Any]] = []
    held: list[dict[str, Any]] = []
    entered = found.erased_since is not None
    if found.customer:
        c = found.customer
        cid = c["customer_id"]
        if c.get("status") == "erased":
            kept.append(_kept_customer(c))
        else:
            try:
                result = retention.erase_customer_contact(c, actor)
            except retention.RecordHeld:
                held.append({"register": CUSTOMER_REGISTER.key, "record_id": cid})
            else:
                accesses.append(Access("erase", CUSTOMER_REGISTER.key, cid, tuple(result["erased_fields"])))
                erased.append({"register": CUSTOMER_REGISTER.key, "record_id": cid, "fields": result["erased_fields"]})
                kept.append(
                    {
                        "register": CUSTOMER_REGISTER.key,
                        "record_id": cid,
                        "fields": result["kept_fields"],
                        "kept_until": result["kept_until"],
                        "basis": result["basis"],
                    }
                )
        basis = CUSTOMER_REGISTER.rule("order_bookkeeping").basis.en
        for o in found.orders:
            kept.append(
                {
                    "register": CUSTOMER_REGISTER.key,
                    "record_type": "order",
                    "record_id": o["order_id"],
                    "fields": ["items", "total"],
                    "kept_until": o.get("retention_due_at"),
                    "basis": basis,
                }
            )
    for u in found.end_users:
        access = Access("delete", CUSTOMER_REGISTER.key, u["end_user_id"], ("name", "email"))
        try:
            _delete_end_user(u, actor.put(access))
        except retention.RecordHeld:
            held.append({"register": CUSTOMER_REGISTER.key, "record_id": u["end_user_id"]})
            continue
        accesses.append(access)
        erased.append({"register": CUSTOMER_REGISTER.key, "record_id": u["end_user_id"], "fields": ["email", "name"]})
    for p in found.prospects:
        pid = retention.record_id(PROSPECT_REGISTER.key, p)
        fields = sorted(f for f in PROSPECT.field_names if f in p)
        access = Access("delete", PROSPECT_REGISTER.key, pid, tuple(fields))
        key, entry = suppression.erased_entry(email, actor)
        try:
            retention.delete_prospect(
                p, actor.put(access), actor=actor, change=disclosures.ERASED_ON_REQUEST, also=entry
            )
        except (retention.RecordHeld, Conflict):
            held.append({"register": PROSPECT_REGISTER.key, "record_id": pid})
            continue
        accesses += [access, Access("create", SUPPRESSION, key, ())]
        erased.append({"register": PROSPECT_REGISTER.key, "record_id": pid, "fields": fields})
        entered = True
    if found.suppressed:
        kept.append(
            {
                "register": SUPPRESSION,
                "fields": ["keyed_hash"],
                "kept_until": None,
                "basis": "GDPR Art. 21(3): honouring the objection to direct marketing",
            }
        )
    if entered:
        kept.append(
            {
                "register": SUPPRESSION,
                "record_type": "do_not_re_add",
                "fields": ["keyed_hash"],
                "kept_until": None,
                "basis": PROSPECT_REGISTER.rule(ERASED_RULE).basis.en,
            }
        )
    outcome = "held" if held and not erased else "erased" if erased else "nothing_found" if not kept else "kept_only"
    return Answer({"erased": erased, "kept": kept, "held": held}, accesses, outcome)


def _kept_customer(c: dict[str, Any]) -> dict[str, Any]:
    return {
        "register": CUSTOMER_REGISTER.key,
        "record_id": c["customer_id"],
        "fields": sorted(f for f in retention.BOOKKEEPING_FIELDS if f in c),
        "kept_until": c.get("retention_due_at"),
        "basis": CUSTOMER_REGISTER.rule(retention.NEXT_RULE_AFTER_ERASURE).basis.en,
    }


# -- objection ----------------------------------------------------------------------------


def object_to_marketing(email: str, actor: Actor) -> Answer:
    """Suppress first, then remove from the prospect register.

    Consent to service messages is untouched: service messages and marketing are separate
    purposes, each withdrawn on its own (the customer at /me/consent or a consent link).

    Suppression comes first and is idempotent: if a later step fails, the next upload
    still cannot re-add the person, and the request can simply be repeated. The objection
    covers calls too: every number the prospect register holds for the person (its
    PROFILE's and each source's) goes on the do-not-call list, so a row with the number
    under another address is not imported either. Each step carries its own audit event
    (`actor`), also when a later step fails. Every recipient of the person's data is told
    of the objection (Art. 19) with the removal.
    """
    norm = checked_email(email)
    found = find(norm)
    accesses: list[Access] = []
    removed: list[str] = []
    held: list[str] = []
    key = suppression.suppress(norm, "objection", actor)
    accesses.append(Access("create", SUPPRESSION, key, ()))
    phones = {str(i["phone"]) for p in found.prospects for i in _prospect_parts(p) if i.get("phone")}
    listed = 0
    for phone in sorted(phones):
        try:
            phone_key = suppression.suppress_phone(phone, "objection", actor)
        except ValueError:
            continue  # a stored number today's rules no longer read cannot be dialled either
        listed += 1
        accesses.append(Access("create", SUPPRESSION, phone_key, ()))
    for p in found.prospects:
        pid = retention.record_id(PROSPECT_REGISTER.key, p)
        access = Access("delete", PROSPECT_REGISTER.key, pid, tuple(f for f in PROSPECT.field_names if f in p))
        try:
            retention.delete_prospect(p, actor.put(access), actor=actor, change=disclosures.OBJECTED)
        except (retention.RecordHeld, Conflict):
            held.append(pid)
            continue
        removed.append(pid)
        accesses.append(access)
    body = {
        "prospects_removed": len(removed),
        "prospects_held": len(held),
        "suppressed": True,
        "numbers_do_not_call": listed,
    }
    return Answer(body, accesses, "objection_recorded")


# -- the request record --------------------------------------------------------------------


def record_request(kind: str, answer: Answer, principal: Principal, request_id: str, channel: str) -> dict[str, Any]:
    """Record the request (type, time, outcome, handler) with counts only, no personal data."""
    request_ref = uuid.uuid4().hex
    request = {
        "request_ref": request_ref,
        "type": kind,
        "outcome": answer.outcome,
        "channel": channel,
        "records_touched": len(answer.accesses),
    }
    event = audit.append(principal, Access(kind, "system", REQUESTS_RECORD), request_id, request=request)
    return {
        "request_ref": request_ref,
        "type": kind,
        "outcome": answer.outcome,
        "handled_at": event["at"],
        "handled_by": principal.principal_id,
    }


class RequestRecord(TypedDict):
    """A recorded subject request: counts and handler only, never the address."""

    request_ref: str
    type: str
    outcome: str
    channel: NotRequired[str]
    records_touched: NotRequired[int]
    handled_at: str
    handled_by: str


class RequestRecordPage(TypedDict):
    items: list[RequestRecord]
    next_cursor: str | None


def list_requests(limit: int, cursor: str | None) -> dict[str, Any]:
    """Recorded requests, newest first, in the shape `record_request` answers (plus channel and count)."""
    page = audit.by_record("system", REQUESTS_RECORD, limit, cursor)
    items = []
    for event in page["items"]:
        request = event.get("request") or {}
        items.append(
            {
                "request_ref": request.get("request_ref"),
                "type": request.get("type", event.get("action")),
                "outcome": request.get("outcome"),
                "channel": request.get("channel"),
                "records_touched": request.get("records_touched"),
                "handled_at": event.get("at"),
                "handled_by": event.get("principal_id"),
            }
        )
    return {"items": [{k: v for k, v in i.items() if v is not None} for i in items], "next_cursor": page["next_cursor"]}
