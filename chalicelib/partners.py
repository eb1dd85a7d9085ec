"""The partner registry: every organisation that supplies, resells or markets, kept by staff.

One item per partner in the partners table (key `partner_id`, the same id that names the
partner's upload prefix `incoming/<partner_id>/`, its users' `custom:partner_id` claim and
the staff routes `/resellers/{partner_id}/...`). Partners are listed in creation order
through the table's `by_list` index.

Every path a partner takes asks the registry:
- an upload is imported only for an active data provider or reseller (`upload_refusal`);
- a partner principal is served only while its partner is active, and a reseller's routes
  only for a partner of kind `reseller` (`admit`);
- staff reach a reseller's end users only under a registered reseller (`reseller`).

Status: `active` partners work; `suspended` ones are refused until staff re-activate them;
`ended` ones are refused for good in practice (staff can still change the status back).
A partner is an organisation: its record holds no personal data of the registers.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from botocore.exceptions import ClientError
from pydantic import AfterValidator, Field

from chalicelib import clock, store
from chalicelib.auth import PARTNER_ID
from chalicelib.errors import Conflict, Forbidden, NotFound, ValidationFailed
from chalicelib.validation import StrictModel, clean_text

REGISTER = "partners"  # the audit trail's name for the registry's records
KINDS = ("data_provider", "reseller", "marketing")
STATUSES = ("active", "suspended", "ended")
# Kinds whose files under incoming/<partner_id>/ are imported into the prospect register.
UPLOADER_KINDS = frozenset({"data_provider", "reseller"})
_LIST_PK = "PARTNER"

Kind = Literal["data_provider", "reseller", "marketing"]
Status = Literal["active", "suspended", "ended"]
Name = Annotated[str, Field(max_length=200), AfterValidator(clean_text)]


class NewPartner(StrictModel):
    """A partner as staff register it; a new partner is active unless said otherwise."""

    partner_id: Annotated[str, Field(pattern=PARTNER_ID.pattern)]
    name: Name
    kind: Kind
    status: Status = "active"


class PartnerChanges(StrictModel):
    """What staff may change: the id is the partner's name in keys and tokens and stays."""

    name: Name | None = None
    kind: Kind | None = None
    status: Status | None = None


_SHOWN = ("partner_id", "name", "kind", "status", "created_at", "updated_at", "version")


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


def new_item(data: dict[str, Any]) -> dict[str, Any]:
    """The stored record of a new partner (`data` as `NewPartner` validated it)."""
    now = clock.iso()
    partner_id = data["partner_id"]
    return {
        "partner_id": partner_id,
        "name": data["name"],
        "kind": data["kind"],
        "status": data.get("status") or "active",
        "created_at": now,
        "updated_at": now,
        "version": 1,
        "list_pk": _LIST_PK,
        "list_sk": f"{clock.sortable()}#{partner_id}",
    }


def create(data: dict[str, Any]) -> dict[str, Any]:
    """Register a partner; its id must be new (409 otherwise)."""
    item = new_item(data)
    try:
        store.partners().put_item(Item=item, ConditionExpression="attribute_not_exists(partner_id)")
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
            raise Conflict("A partner with this id already exists.") from None
        raise
    return item


def update(partner_id: str, changes: dict[str, Any]) -> dict[str, Any]:
    """Change name, kind or status; the version moves with every change."""
    changes = {k: v for k, v in changes.items() if k in PartnerChanges.model_fields}
    if not changes or any(v is None for v in changes.values()):
        raise ValidationFailed("Give at least one of name, kind or status, none of them null.")
    if not PARTNER_ID.match(partner_id):
        raise NotFound("No such partner.")
    names = {f"#f{i}": k for i, k in enumerate(changes)}
    values: dict[str, Any] = {f":v{i}": v for i, v in enumerate(changes.values())}
    values.update({":now": clock.iso(), ":one": 1})
    sets = ", ".join(f"#f{i} = :v{i}" for i in range(len(changes)))
    try:
        resp = store.partners().update_item(
            Key={"partner_id": partner_id},
            UpdateExpression=f"SET {sets}, updated_at = :now, version = version + :one",
            ConditionExpression="attribute_exists(partner_id)",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
            ReturnValues="ALL_NEW",
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
            raise NotFound("No such partner.") from None
        raise
    return dict(resp["Attributes"])


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
    `partner_not_uploader`: a kind that does not supply prospects (marketing).
    """
    item = find(partner_id)
    if item is None:
        return "unknown_partner"
    if item["status"] != "active":
        return "partner_inactive"
    if item["kind"] not in UPLOADER_KINDS:
        return "partner_not_uploader"
    return None


def admit(partner_id: str, *, as_reseller: bool) -> dict[str, Any]:
    """The active partner a partner principal acts for; 403 otherwise.

    `as_reseller`: the route is a reseller's, so the registry must say `reseller` too
    (the token's `partner_type` claim alone does not make a reseller).
    """
    item = find(partner_id)
    if item is None or item["status"] != "active":
        raise Forbidden("This partner is not active.")
    if as_reseller and item["kind"] != "reseller":
        raise Forbidden("This partner is not a reseller.")
    return item


def reseller(partner_id: str) -> dict[str, Any]:
    """The registered reseller `partner_id` (any status), or 404: staff's reseller routes."""
    item = find(partner_id)
    if item is None or item["kind"] != "reseller":
        raise NotFound("No such reseller.")
    return item
