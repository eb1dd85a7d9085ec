"""The prospect register: organisations' representatives, their sources and verification.

Identity and de-duplication
    A prospect is a person at an organisation, identified by the normalised email
    address (``validation.email_key``). Its id is a keyed hash of that address
    (HMAC-SHA256 under the pseudonym keyring, 32 hex): the same person sent by two
    partners, or entered by staff, is one prospect, found without a lookup, and the id
    can appear in logs and audit events without being the address. During a key
    rotation every key version of the ring is tried (``candidate_ids``), so a prospect
    keeps the id it was created with.

Storage layout in the prospects table (keys from infra/resources.json):
  PROSPECT#<id> / PROFILE           the prospect as the register shows it: its values, first
                                    seen, last verified (of any source or staff), retention;
                                    ``values_from`` names the partner whose values it shows
                                    (with that source's ``content_hash``, import runs, file
                                    line) until staff correct them. Listed in ``by_list``
                                    (ordered by organisation) and ``by_email``.
  PROSPECT#<id> / SOURCE#<partner>  each partner's own values and provenance, exactly as that
                                    partner sent them, with its own verification and due date.
Only SOURCE items carry ``source_partner``, so ``by_source`` lists exactly the items a
partner's imports brought, and a partner's view is built from its own item only: staff
corrections and other partners' values or verification dates never reach it. A new prospect
from an import is two items (its PROFILE, then its SOURCE); a changed row rewrites the
partner's item and, while the PROFILE shows that partner's values, the PROFILE too.

Verification and retention (rule ``prospect_unverified``, 24 months)
    Every verification sets ``last_verified`` and ``retention_due_at`` (its date plus the
    rule's period) on the item verified; the PROFILE always holds the latest verification
    of any source or staff, so the sweeper finds due prospects through the sparse
    ``retention_due`` index without a Scan. A SOURCE item also carries its own due date,
    so a partner's stale claim lapses on its own while others keep the prospect.
    Staff verify (or create, or correct) a prospect: ``staff_verified_at``.

Whose values
    The PROFILE shows the values of the partner that brought the prospect (or staff's);
    a staff correction stays until that partner sends a *changed* row for the person, which
    is newer information from the source. When that partner leaves (a full refresh without
    the person), the PROFILE shows the most recently verified remaining partner's values.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import operator
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from boto3.dynamodb.conditions import Attr, Key
from botocore.exceptions import ClientError

from chalicelib import art14, clock, disclosures, pseudonyms, store, suppression
from chalicelib.audit import Access, Actor
from chalicelib.config import settings
from chalicelib.customers import add_months
from chalicelib.errors import Conflict, NotFound, ValidationFailed
from chalicelib.registers import PROSPECT, PROSPECT_REGISTER, STAFF_ROLES, Role, Text
from chalicelib.validation import email_key

REGISTER = PROSPECT_REGISTER.key
PROFILE = "PROFILE"
SOURCE_PREFIX = "SOURCE#"
LIST_PK = "PROSPECT"
UNVERIFIED_RULE = PROSPECT_REGISTER.rule("prospect_unverified")
FIELDS = PROSPECT.field_names
PERSONAL_FIELDS = tuple(f.name for f in PROSPECT.fields if f.personal)
# Provenance and bookkeeping attributes (no personal values): what imports read and keep.
META = (
    "pk",
    "sk",
    "prospect_id",
    "source_partner",
    "values_from",
    "content_hash",
    "first_import_run",
    "last_import_run",
    "import_line",
    "first_seen",
    "last_verified",
    "staff_verified_at",
    "created_by",
    "legal_hold",
    "restriction",
)


def not_a_representative(organization: Any, email: str, free_mail: frozenset[str] | None = None) -> str | None:
    """Why the person is not an organisation's representative, or None if they are.

    The privacy notice promises the register holds only organisations' representatives,
    never private persons: an organisation is required (``no_organisation``) and an
    address at a consumer mail service describes a private person (``free_mail_domain``).
    Both staff entry and partner imports apply this one rule; `email` is normalised;
    `free_mail` is the settings' domain list (an import passes it once as a set).
    """
    if not organization or not str(organization).strip():
        return "no_organisation"
    domains = free_mail if free_mail is not None else frozenset(settings().free_mail_domains)
    if email.rsplit("@", 1)[-1].lower() in domains:
        return "free_mail_domain"
    return None


def _id_for(email_norm: str, key: bytes) -> str:
    return hmac.new(key, b"prospect:" + email_norm.encode(), hashlib.sha256).hexdigest()[:32]


def candidate_ids(email_norm: str) -> list[str]:
    """The prospect ids `email_norm` may have: the current key's first, then older keys'."""
    ring = pseudonyms.ring()
    ids = [_id_for(email_norm, ring.current_key)]
    ids += [_id_for(email_norm, k) for v, k in ring.keys.items() if v != ring.current]
    return ids


def pk(prospect_id: str) -> str:
    return f"PROSPECT#{prospect_id}"


def source_sk(partner_id: str) -> str:
    return f"{SOURCE_PREFIX}{partner_id}"


def due_date(verified_at: str) -> str:
    """`retention_due_at` for a verification at ISO timestamp `verified_at`."""
    day = datetime.fromisoformat(verified_at.replace("Z", "+00:00")).date()
    return add_months(day, UNVERIFIED_RULE.after.months).isoformat()


def content_hash(fields: dict[str, Any]) -> str:
    """Hash of a source's register values: equal hash, unchanged row, nothing written."""
    canonical = "\x1f".join(f"{name}={fields.get(name) or ''}" for name in FIELDS)
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


def verification(now: str) -> dict[str, str]:
    return {
        "last_verified": now,
        "retention_rule": UNVERIFIED_RULE.name,
        "retention_due_at": due_date(now),
    }


def profile_item(prospect_id: str, fields: dict[str, Any], now: str, email_hash: str | None = None) -> dict[str, Any]:
    """A new PROFILE item for `fields` (already validated and normalised); `email_hash`, the
    address's `pseudonyms.email_hash` when the caller has it."""
    values = {k: v for k, v in fields.items() if k in FIELDS and v not in (None, "")}
    return {
        "pk": pk(prospect_id),
        "sk": PROFILE,
        "entity": "prospect",
        "prospect_id": prospect_id,
        **values,
        "email_hash": email_hash or pseudonyms.email_hash(values["email"]),
        "org_search": values["organization"].lower(),
        "list_pk": LIST_PK,
        "list_sk": f"{values['organization'].lower()[:100]}#{prospect_id}",
        "first_seen": now,
        "updated_at": now,
        **verification(now),
        **art14.new_record(now),
    }


def source_item(
    prospect_id: str, partner_id: str, fields: dict[str, Any], now: str, email_hash: str | None = None
) -> dict[str, Any]:
    """A SOURCE#<partner> item: a partner's own values and provenance (`email_hash` as above)."""
    values = {k: v for k, v in fields.items() if k in FIELDS and v not in (None, "")}
    return {
        "pk": pk(prospect_id),
        "sk": source_sk(partner_id),
        "entity": "prospect_source",
        "prospect_id": prospect_id,
        **values,
        "email_hash": email_hash or pseudonyms.email_hash(values["email"]),
        "source_partner": partner_id,
        "first_seen": now,
        "updated_at": now,
        **verification(now),
    }


def items_of(prospect_id: str) -> list[dict[str, Any]]:
    """Every item of one prospect (PROFILE first), read consistently."""
    resp = store.prospects().query(KeyConditionExpression=Key("pk").eq(pk(prospect_id)), ConsistentRead=True)
    items = sorted(resp["Items"], key=lambda i: (i["sk"] != PROFILE, i["sk"]))
    return items


def _profile(items: list[dict[str, Any]]) -> dict[str, Any]:
    if not items or items[0]["sk"] != PROFILE:
        raise NotFound("No such prospect.")
    return items[0]


def sources_of(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Provenance of a prospect: which partners (and staff) support it, and since when."""
    out: list[dict[str, Any]] = []
    for item in items:
        if item.get("source_partner"):
            out.append(
                {
                    "source": "partner",
                    "partner_id": item["source_partner"],
                    "import_run_id": item.get("last_import_run"),
                    "first_seen": item.get("first_seen"),
                    "last_verified": item.get("last_verified"),
                }
            )
    profile = items[0] if items and items[0]["sk"] == PROFILE else {}
    if profile.get("staff_verified_at") or profile.get("created_by") == "staff":
        out.append({"source": "staff", "last_verified": profile.get("staff_verified_at")})
    return out


PUBLIC_SOURCES = Text(
    "julkiset lähteet (esim. organisaation verkkosivut)", "public sources (e.g. the organisation's web site)"
)


def source_partners(profile: dict[str, Any]) -> list[str]:
    """The partners whose data the person's record holds, the one shown first.

    The PROFILE names the partner whose values it shows (`values_from`); only a record
    whose values staff corrected lacks it, and then its SOURCE items are read.
    """
    if profile.get("values_from"):
        return [str(profile["values_from"])]
    if profile.get("created_by") == "staff":
        return []
    return [str(i["source_partner"]) for i in items_of(str(profile["prospect_id"])) if i.get("source_partner")]


def source_name(
    profile: dict[str, Any], source_partners: Iterable[str], names: dict[str, str], lang: str = "fi"
) -> str:
    """Where the data came from, as a caller says it and the Art. 14 notice names it: the
    partners' registered names, or public sources (staff entered the person from an
    organisation's web site).

    `source_partners` are the partners whose SOURCE items support the person (the
    PROFILE's `values_from` first, `source_partners(profile)`); `names` caches registry
    look-ups across a list.
    """
    from chalicelib import partners  # the registry (and its validation) only when a source is named

    shown: list[str] = []
    for partner_id in source_partners:
        if partner_id not in names:
            item = partners.find(partner_id)
            names[partner_id] = str(item["name"]) if item else ""
        if names[partner_id] and names[partner_id] not in shown:
            shown.append(names[partner_id])
    if profile.get("created_by") == "staff" or not shown:
        shown.append(PUBLIC_SOURCES.get(lang))
    return ", ".join(shown)


def present(items: list[dict[str, Any]], roles: frozenset[Role]) -> dict[str, Any]:
    """A prospect as staff see it: PROFILE values they may see, provenance and retention."""
    profile = _profile(items)
    visible = {f.name for f in PROSPECT.fields if f.visible_to & roles}
    out: dict[str, Any] = {"prospect_id": profile["prospect_id"]}
    out.update({k: profile[k] for k in FIELDS if k in visible and k in profile})
    for meta in ("first_seen", "last_verified", "retention_due_at", "updated_at", "last_contacted_at"):
        if meta in profile:
            out[meta] = profile[meta]
    out["obtained_at"] = art14.obtained_at(profile)
    for meta in ("informed_at", "informed_how"):
        if meta in profile:
            out[meta] = profile[meta]
    out["sources"] = sources_of(items)
    if roles & STAFF_ROLES:
        if "legal_hold" in profile:
            out["legal_hold"] = profile["legal_hold"]
        # Art. 18: stored and shown to staff, marked, never handed over (chalicelib/restriction.py).
        out["restricted"] = "restriction" in profile
        if "restriction" in profile:
            out["restriction"] = profile["restriction"]
    return out


def present_for_partner(item: dict[str, Any]) -> dict[str, Any]:
    """A partner's own record of a prospect: only the fields the register lets partners see."""
    visible = PROSPECT.visible_fields(Role.PARTNER)
    out: dict[str, Any] = {"prospect_id": item["prospect_id"]}
    out.update({k: item[k] for k in visible if k in item})
    for meta in ("first_seen", "last_verified", "last_import_run"):
        if meta in item:
            out["import_run_id" if meta == "last_import_run" else meta] = item[meta]
    return out


def personal_fields(item: dict[str, Any]) -> tuple[str, ...]:
    """Names of the personal-data fields the item holds (for audit events)."""
    return tuple(f for f in PERSONAL_FIELDS if f in item)


# -- staff ------------------------------------------------------------------------------


def get(prospect_id: str) -> list[dict[str, Any]]:
    """A prospect's items (404 if there is no such prospect)."""
    items = items_of(prospect_id)
    _profile(items)
    return items


def find_by_email(email: str) -> list[dict[str, Any]] | None:
    """The prospect with this address (via `by_email`, no Scan), as its items."""
    for item in by_email(email):
        if item["sk"] == PROFILE:
            return get(item["prospect_id"])
    return None


def by_email(email: str) -> list[dict[str, Any]]:
    """Prospect items (profiles and sources) with this address (index query, no Scan)."""
    return pseudonyms.items_by_email(store.prospects(), email, "PROSPECT#")


def list_prospects(limit: int, cursor: str | None, q: str | None = None, name: str | None = None) -> dict[str, Any]:
    """A page of prospects ordered by organisation; `q` filters on the organisation name,
    `name` on the contact person's."""
    kwargs: dict[str, Any] = {
        "IndexName": "by_list",
        "KeyConditionExpression": Key("list_pk").eq(LIST_PK),
        "Limit": limit,
    }
    filters = ([Attr("org_search").contains(q.lower())] if q else []) + (
        [store.text_contains("contact_name", name)] if name else []
    )
    if filters:
        kwargs["FilterExpression"] = functools.reduce(operator.and_, filters)
    start = store.decode_cursor(cursor, {"pk", "sk", "list_pk", "list_sk"})
    if start:
        kwargs["ExclusiveStartKey"] = start
    resp = store.prospects().query(**kwargs)
    return {"items": resp["Items"], "next_cursor": store.encode_cursor(resp.get("LastEvaluatedKey"))}


def create(fields: dict[str, Any], actor: Actor) -> list[dict[str, Any]]:
    """Staff enter a prospect; refused for a private person (`not_a_representative`), or if
    the person objected, was erased on request (409 `erased_on_request`) or is already registered."""
    problem = not_a_representative(fields.get("organization"), fields["email"])
    if problem == "free_mail_domain":
        raise ValidationFailed(
            "The address is at a consumer mail service: the register holds only organisations' representatives.",
            details=[{"field": "email", "reason": problem}],
        )
    if problem:
        raise ValidationFailed(
            "An organisation is required: the register holds only organisations' representatives.",
            details=[{"field": "organization", "reason": problem}],
        )
    norm = email_key(fields["email"])
    if suppression.is_suppressed(norm):
        raise Conflict("This person has objected to direct marketing and cannot be added.", code="suppressed")
    if suppression.erased_since(norm):
        # The person had their prospect record erased on request (Art. 17): staff do not
        # bring them back. Their own later registration (the customer register) is another matter.
        raise Conflict(
            "This person's data was erased at their request and cannot be added again.", code="erased_on_request"
        )
    if fields.get("phone"):
        _refuse_do_not_call(fields["phone"])
    ids = candidate_ids(norm)
    existing = find_by_email(norm)
    if existing is not None:
        raise Conflict("A prospect with this email address already exists.", code="prospect_exists")
    now = clock.iso()
    item = profile_item(ids[0], fields, now)
    item.update(created_by="staff", staff_verified_at=now)
    put = {
        "TableName": store.prospects().name,
        "Item": store.typed_item(item),
        "ConditionExpression": "attribute_not_exists(pk)",
    }
    event = actor.put(Access("create", REGISTER, ids[0], personal_fields(item)))
    try:
        store.client("dynamodb").transact_write_items(TransactItems=[{"Put": put}, event])
    except ClientError as exc:
        if store.condition_failed(exc):
            raise Conflict("A prospect with this email address already exists.", code="prospect_exists") from None
        raise
    return [item]


def _refuse_do_not_call(phone: str) -> None:
    """409 `do_not_call` if the number is on the do-not-call list (the number is not quoted)."""
    if suppression.is_phone_suppressed(phone):
        raise Conflict(
            "The phone number is on the do-not-call list and cannot be entered.",
            code="do_not_call",
            details=[{"field": "phone", "reason": "do_not_call"}],
        )


def _staff_touch(
    prospect_id: str,
    sets: dict[str, Any],
    access: Access,
    actor: Actor,
    removals: Iterable[str] = (),
    change: disclosures.Change | None = None,
) -> list[dict[str, Any]]:
    """Staff change or verify the PROFILE: one transaction with the audit event and, for a
    `change` of the data, the Art. 19 notices to every recipient in its disclosure log."""
    notices = disclosures.notices(prospect_id, disclosures.entries_of(prospect_id), change, actor) if change else []
    now = clock.iso()
    values = {**sets, "staff_verified_at": now, "updated_at": now, **verification(now)}
    names = {f"#f{i}": k for i, k in enumerate(values)}
    expr = "SET " + ", ".join(f"#f{i} = :v{i}" for i in range(len(values)))
    removals = list(removals)
    if removals:
        names.update({f"#r{i}": k for i, k in enumerate(removals)})
        expr += " REMOVE " + ", ".join(f"#r{i}" for i in range(len(removals)))
    update = {
        "TableName": store.prospects().name,
        "Key": store.typed_item({"pk": pk(prospect_id), "sk": PROFILE}),
        "UpdateExpression": expr,
        "ConditionExpression": "attribute_exists(pk)",
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": store.typed_item({f":v{i}": v for i, v in enumerate(values.values())}),
    }
    try:
        disclosures.transact([{"Update": update}, actor.put(access)], notices)
    except ClientError as exc:
        if store.condition_failed(exc):
            raise NotFound("No such prospect.") from None
        raise
    return get(prospect_id)


def update(
    prospect_id: str, changes: dict[str, Any], actor: Actor, *, refuse_do_not_call: bool = True
) -> list[dict[str, Any]]:
    """Staff correct a prospect's values; this also verifies it. Every recipient of the
    person's data is notified of the corrected field names (Art. 19).

    The email address is the prospect's identity and is not changed here: a corrected
    address is a different person record (create it, delete this one). A number on the
    do-not-call list is refused (409 `do_not_call`) unless `refuse_do_not_call` is False:
    the person's own rectification (Art. 16) stores their correct number, which call lists
    still leave out.
    """
    if not changes:
        raise ValidationFailed("Nothing to update.")
    if refuse_do_not_call and changes.get("phone"):
        _refuse_do_not_call(changes["phone"])
    if "email" in changes:
        raise ValidationFailed(
            "The email address identifies the prospect and cannot be changed; create a new prospect instead.",
            details=[{"field": "email", "reason": "immutable"}],
        )
    removals = [k for k, v in changes.items() if v is None]
    required = [k for k in removals if PROSPECT.field(k).required]
    if required:
        raise ValidationFailed(f"Required field(s) cannot be removed: {', '.join(sorted(required))}.")
    sets = {k: v for k, v in changes.items() if v is not None}
    if "organization" in sets:
        sets["org_search"] = sets["organization"].lower()
        sets["list_sk"] = f"{sets['org_search'][:100]}#{prospect_id}"
    access = Access("update", REGISTER, prospect_id, tuple(changes))
    return _staff_touch(prospect_id, sets, access, actor, removals, disclosures.Change("rectified", tuple(changes)))


def verify(prospect_id: str, actor: Actor) -> list[dict[str, Any]]:
    """A staff member confirmed the prospect is current: resets its 24-month clock."""
    return _staff_touch(prospect_id, {}, Access("verify", REGISTER, prospect_id, ()), actor)


def delete(prospect_id: str, actor: Actor) -> list[dict[str, Any]]:
    """Delete the prospect and all its source items (refused under a legal hold)."""
    from chalicelib.retention import delete_prospect  # the one place that deletes a prospect

    items = get(prospect_id)
    delete_prospect(
        items[0], actor.put(Access("delete", REGISTER, prospect_id, personal_fields(items[0]))), actor=actor
    )
    return items


# -- partners ---------------------------------------------------------------------------


def list_for_partner(partner_id: str, limit: int, cursor: str | None) -> dict[str, Any]:
    """The prospects `partner_id`'s imports brought (its own items, via `by_source`)."""
    kwargs: dict[str, Any] = {
        "IndexName": "by_source",
        "KeyConditionExpression": Key("source_partner").eq(partner_id),
        "Limit": limit,
    }
    start = store.decode_cursor(cursor, {"pk", "sk", "source_partner"})
    if start:
        kwargs["ExclusiveStartKey"] = start
    resp = store.prospects().query(**kwargs)
    return {"items": resp["Items"], "next_cursor": store.encode_cursor(resp.get("LastEvaluatedKey"))}


def get_for_partner(partner_id: str, prospect_id: str) -> dict[str, Any]:
    """The partner's own item of a prospect; another partner's prospect is simply not found."""
    for item in items_of(prospect_id):
        if item.get("source_partner") == partner_id:
            return item
    raise NotFound("No such prospect.")
