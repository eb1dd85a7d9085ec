"""The partner registry: every organisation that supplies, resells or markets, kept by staff.

One item per partner in the partners table (key `partner_id`, the same id that names the
partner's upload prefix `incoming/<partner_id>/`, its users' `custom:partner_id` claim and
the staff routes `/resellers/{partner_id}/...`). Partners are listed in creation order
through the table's `by_list` index.

What the registry holds of a partner: its name, kind and status, its business contact (a
role mailbox and an optional phone: the organisation's, not a person's), its country, and
what the law asks of its kind:
- a `data_provider` is given our privacy notice (the prospect register's sources promise
  it for bought updates): the date it was delivered and the notice's version
  (`chalicelib/notice.py`);
- a `marketing` partner processes the register for us under a processing agreement
  (GDPR Art. 28): the agreement's date.
Those fields belong to their kind only: given for another kind they are refused, and a
change of kind drops the previous kind's. The country must be in the EU/EEA
(`config.EU_EEA_COUNTRIES`): the notice promises that no data leaves it.

Every path a partner takes asks the registry:
- an upload is imported only for an active data provider or reseller, and a data
  provider's only once its notice delivery is recorded (`upload_refusal`);
- a partner principal is served only while its partner is active, a reseller's routes
  only for a partner of kind `reseller`, and a marketing partner only with its processing
  agreement recorded (`admit`);
- staff reach a reseller's end users only under a registered reseller (`reseller`).

Status: `active` partners work; `suspended` ones are refused until staff re-activate them;
`ended` ones are refused for good in practice (staff can still change the status back).

Every change (create, update) is written in one transaction with its audit event
(`audit.Actor.put`), which names the fields changed, never their values. An update is
conditional on the version it read (or the one the client sends): a concurrent change
makes it a 409, not a lost update.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field

from chalicelib import clock, store
from chalicelib.audit import Access, Actor
from chalicelib.auth import PARTNER_ID
from chalicelib.config import EU_EEA_COUNTRIES
from chalicelib.errors import Conflict, Forbidden, NotFound, ValidationFailed
from chalicelib.validation import IsoDate, StrictModel, clean_text, normalise_email, normalise_phone

REGISTER = "partners"  # the audit trail's name for the registry's records
# Kinds whose files under incoming/<partner_id>/ are imported into the prospect register.
UPLOADER_KINDS = frozenset({"data_provider", "reseller"})
# Fields that only a partner of one kind has (given for another kind: 400).
KIND_FIELDS: dict[str, tuple[str, ...]] = {
    "data_provider": ("notice_delivered_at", "notice_version"),
    "reseller": (),
    "marketing": ("processing_agreement_at",),
}
_ALL_KIND_FIELDS = tuple(f for fields in KIND_FIELDS.values() for f in fields)
_LIST_PK = "PARTNER"

Kind = Literal["data_provider", "reseller", "marketing"]
Status = Literal["active", "suspended", "ended"]
Name = Annotated[str, Field(max_length=200), AfterValidator(clean_text)]


def _upper(value: Any) -> Any:
    return value.strip().upper() if isinstance(value, str) else value


def _in_eu_eea(value: str) -> str:
    if value not in EU_EEA_COUNTRIES:
        raise ValueError("must be an EU/EEA country (ISO 3166-1 alpha-2): no data leaves the EU/EEA")
    return value


def _not_in_future(value: date) -> date:
    if value > clock.local_date():
        raise ValueError("must not be in the future")
    return value


def _known_notice(value: str) -> str:
    # Imported here: imports ask the registry too, and need no notice rendering.
    from chalicelib import notice

    if not notice.is_known(value):
        raise ValueError("is not the version of the privacy notice this service publishes (GET /privacy-notice)")
    return value


Country = Annotated[
    str,
    BeforeValidator(_upper),
    Field(pattern=r"^[A-Z]{2}$", json_schema_extra={"enum": sorted(EU_EEA_COUNTRIES)}),
    AfterValidator(_in_eu_eea),
]
PastDate = Annotated[IsoDate, AfterValidator(_not_in_future)]
NoticeVersion = Annotated[str, Field(max_length=64), AfterValidator(_known_notice)]


class Contact(StrictModel):
    """The partner's business contact: a role mailbox (e.g. tietosuoja@…) and a switchboard
    phone, the organisation's own, so the registry holds no person's data."""

    email: Annotated[str, Field(max_length=254), AfterValidator(normalise_email)]
    phone: Annotated[str, Field(max_length=30), AfterValidator(normalise_phone)] | None = None


class NewPartner(StrictModel):
    """A partner as staff register it; a new partner is active unless said otherwise.

    `notice_delivered_at` and `notice_version` (data providers) and
    `processing_agreement_at` (marketing partners) may be given later by PATCH: until
    then the data provider's uploads and the marketing partner's users are refused.
    """

    partner_id: Annotated[str, Field(pattern=PARTNER_ID.pattern)]
    name: Name
    kind: Kind
    status: Status = "active"
    contact: Contact
    country: Country
    notice_delivered_at: PastDate | None = None
    notice_version: NoticeVersion | None = None
    processing_agreement_at: PastDate | None = None


class PartnerChanges(StrictModel):
    """What staff may change: the id is the partner's name in keys and tokens and stays.

    `version`, if given, is the version the change was made against: if the partner has
    changed since, the change is refused (409).
    """

    name: Name | None = None
    kind: Kind | None = None
    status: Status | None = None
    contact: Contact | None = None
    country: Country | None = None
    notice_delivered_at: PastDate | None = None
    notice_version: NoticeVersion | None = None
    processing_agreement_at: PastDate | None = None
    version: Annotated[int, Field(ge=1, strict=True)] | None = None


_SHOWN = (
    "partner_id",
    "name",
    "kind",
    "status",
    "contact",
    "country",
    "notice_delivered_at",
    "notice_version",
    "processing_agreement_at",
    "created_at",
    "updated_at",
    "version",
)


def present(item: dict[str, Any]) -> dict[str, Any]:
    """The partner as the API shows it (no storage keys)."""
    return {k: item[k] for k in _SHOWN if k in item}


def find(partner_id: str) -> dict[str, Any] | None:
    """The partner's record, read consistently (a suspension counts at once), or None."""
    if not PARTNER_ID.match(partner_id):
        return None
    item: dict[str, Any] | None = (
        store.partners().get_item(Key={"partner_id": partner_id}, ConsistentRead=True).get("Item")
    )
    return item


def get(partner_id: str) -> dict[str, Any]:
    item = find(partner_id)
    if item is None:
        raise NotFound("No such partner.")
    return item


def _check_kind_fields(kind: str, fields: dict[str, Any]) -> None:
    """Refuse (400) fields of another kind, and a notice version without its date or back."""
    wrong = sorted(f for f in _ALL_KIND_FIELDS if fields.get(f) is not None and f not in KIND_FIELDS[kind])
    if wrong:
        raise ValidationFailed(
            f"Not a field of a {kind} partner: {', '.join(wrong)}.",
            details=[{"field": f, "reason": f"not a field of kind {kind}"} for f in wrong],
        )
    given = [f for f in ("notice_delivered_at", "notice_version") if fields.get(f) is not None]
    if len(given) == 1:
        missing = "notice_version" if given[0] == "notice_delivered_at" else "notice_delivered_at"
        raise ValidationFailed(
            "A notice delivery is recorded with both its date and the notice's version.",
            details=[{"field": missing, "reason": "required with " + given[0]}],
        )


def _stored(fields: dict[str, Any]) -> dict[str, Any]:
    """Request fields as stored: no empty values (an absent phone is no phone)."""
    out = {k: v for k, v in fields.items() if v is not None}
    if "contact" in out:
        out["contact"] = {k: v for k, v in out["contact"].items() if v is not None}
    return out


def new_item(data: dict[str, Any]) -> dict[str, Any]:
    """The stored record of a new partner (`data` as `NewPartner` validated it, JSON mode)."""
    _check_kind_fields(data["kind"], data)
    now = clock.iso()
    partner_id = data["partner_id"]
    return {
        **_stored({k: data.get(k) for k in NewPartner.model_fields}),
        "status": data.get("status", "active"),  # a new partner is active unless staff say otherwise
        "created_at": now,
        "updated_at": now,
        "version": 1,
        "list_pk": _LIST_PK,
        "list_sk": f"{clock.sortable()}#{partner_id}",
    }


def create(data: dict[str, Any], actor: Actor) -> dict[str, Any]:
    """Register a partner, audited in the same transaction; its id must be new (409 otherwise)."""
    item = new_item(data)
    recorded = tuple(k for k in NewPartner.model_fields if k in item and k != "partner_id")
    store.transact(
        [
            {
                "Put": {
                    "TableName": store.partners().name,
                    "Item": store.typed_item(item),
                    "ConditionExpression": "attribute_not_exists(partner_id)",
                }
            },
            actor.put(Access("create", REGISTER, item["partner_id"], recorded)),
        ],
        "A partner with this id already exists.",
    )
    return item


def update(partner_id: str, changes: dict[str, Any], actor: Actor) -> dict[str, Any]:
    """Change what staff may change, against the version read (or `changes["version"]`).

    A change of kind drops the fields of the previous kind (a reseller has no notice
    delivery); the audit event names them with the fields changed.
    """
    expected = changes.get("version")
    changes = {k: v for k, v in changes.items() if k in PartnerChanges.model_fields and k != "version"}
    if not changes or any(v is None for v in changes.values()):
        raise ValidationFailed("Give at least one field to change, none of them null.")
    current = get(partner_id)
    if expected is not None and expected != int(current["version"]):
        raise Conflict("The partner has changed since that version; read it again.")
    kind = changes.get("kind", current["kind"])
    _check_kind_fields(kind, changes)
    updates = _stored(changes)
    removals = [f for f in _ALL_KIND_FIELDS if f in current and f not in KIND_FIELDS[kind]]
    names = {f"#f{i}": k for i, k in enumerate(updates)}
    values: dict[str, Any] = {f":v{i}": v for i, v in enumerate(updates.values())}
    values.update({":now": clock.iso(), ":one": 1, ":version": current["version"]})
    expression = "SET " + ", ".join([*(f"#f{i} = :v{i}" for i in range(len(updates))), "updated_at = :now"])
    expression += ", #version = #version + :one"
    names["#version"] = "version"
    if removals:
        names.update({f"#r{i}": k for i, k in enumerate(removals)})
        expression += " REMOVE " + ", ".join(f"#r{i}" for i in range(len(removals)))
    store.transact(
        [
            {
                "Update": {
                    "TableName": store.partners().name,
                    "Key": store.typed_item({"partner_id": partner_id}),
                    "UpdateExpression": expression,
                    "ConditionExpression": "#version = :version",
                    "ExpressionAttributeNames": names,
                    "ExpressionAttributeValues": store.typed_item(values),
                }
            },
            actor.put(Access("update", REGISTER, partner_id, (*changes, *removals))),
        ],
        "The partner changed meanwhile; read it again.",
    )
    return get(partner_id)


def list_partners(limit: int, cursor: str | None) -> dict[str, Any]:
    """A page of partners, oldest first, with a cursor that stays valid as partners are added."""
    return store.query_page(
        store.partners(),
        cursor,
        {"partner_id", "list_pk", "list_sk"},
        IndexName="by_list",
        KeyConditionExpression="list_pk = :p",
        ExpressionAttributeValues={":p": _LIST_PK},
        Limit=limit,
    )


def upload_refusal(partner_id: str) -> str | None:
    """Why an upload under incoming/<partner_id>/ may not be imported, or None if it may.

    `unknown_partner`: not in the registry; `partner_inactive`: suspended or ended;
    `partner_not_uploader`: a kind that does not supply prospects (marketing);
    `notice_not_delivered`: a data provider that has not been given our privacy notice
    (the prospect register's sources promise it is given to whoever sells us updates).
    """
    item = find(partner_id)
    if item is None:
        return "unknown_partner"
    if item["status"] != "active":
        return "partner_inactive"
    if item["kind"] not in UPLOADER_KINDS:
        return "partner_not_uploader"
    if item["kind"] == "data_provider" and not item.get("notice_delivered_at"):
        return "notice_not_delivered"
    return None


def admit(partner_id: str, *, kinds: frozenset[str]) -> dict[str, Any]:
    """The active partner a partner principal acts for; 403 otherwise.

    `kinds`: the kinds of partner the route serves (a reseller's routes, a marketing
    partner's, the uploaders' own imports), so the registry must say one of them too (the
    token's `partner_type` claim alone makes no reseller or marketer). A marketing partner processes the register for us
    only under a processing agreement (Art. 28): without its date on record, its users are
    refused.
    """
    item = find(partner_id)
    if item is None or item["status"] != "active":
        raise Forbidden("This partner is not active.")
    if item["kind"] not in kinds:
        raise Forbidden("This partner's kind may not use this resource.")
    if item["kind"] == "marketing" and not item.get("processing_agreement_at"):
        raise Forbidden("This marketing partner has no processing agreement on record.")
    return item


def reseller(partner_id: str) -> dict[str, Any]:
    """The registered reseller `partner_id` (any status), or 404: staff's reseller routes."""
    item = find(partner_id)
    if item is None or item["kind"] != "reseller":
        raise NotFound("No such reseller.")
    return item
