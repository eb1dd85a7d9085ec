"""Campaigns: a selection over the prospect register, materialised into an audience.

Storage layout in the campaigns table (keys from infra/resources.json):
  CAMPAIGN#<id> / META              the campaign: name, purpose, channel (`email`|`phone`),
                                    selection, status, counts, the assigned marketing partner,
                                    `version`; listed newest first in `by_list` and, once
                                    assigned, in the partner's `by_partner`.
  CAMPAIGN#<id> / MEMBER#<prospect> one audience member: the prospect's id and when it was
                                    added (never a copy of its values); call lists add the
                                    contact's outcome here.

States: `draft` (name, purpose and selection may change) → `materialising` (the queue-driven
job forms the audience) → `ready` → `closed` (by staff, or by the sweeper when left open).

Exclusions
    Who may be contacted is decided twice: when the audience is formed, and again at every
    read of it (`current_audience`), so an objection made after materialisation still wins.
    Left out are: an email on the suppression list (`suppressed`), for a phone campaign a
    number on the do-not-call list (`do_not_call`) or no number at all (`no_phone`), a
    restricted record (`restricted`: the PROFILE's `restriction`) and a record no longer
    there (`erased`). Counts say why people were left out, never who.

Materialisation
    200,000 prospects do not fit in an API request. Starting it (`start_materialisation`)
    puts a message on the campaign queue; the `campaign_materialiser` function works through
    the selection's index (`by_source` for a source partner, else `by_list`; never a Scan) one
    page at a time. Each page is ONE transaction: the page's members, the counts, the saved
    cursor and the page's audit event, conditional on the page number the job read. A
    redelivered or concurrent message therefore adds nothing twice: its transaction fails
    its condition and it continues from the cursor the other saved. When its time runs out
    the function sends itself a follow-up message and stops; the next one continues.

Retention (rules `campaign_unclosed`, `campaign_closed` in `registers`)
    Materialisation stamps the campaign for `campaign_unclosed`: left open six months, the
    sweeper closes it. Closing (staff or sweeper) stamps `campaign_closed`: twelve months
    later the sweeper deletes the members (audience and outcomes) in bounded transactions;
    the META with its counts stays, with no personal data.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any, Literal

from boto3.dynamodb.conditions import Attr, Key
from botocore.exceptions import ClientError
from pydantic import AfterValidator, Field, model_validator

from chalicelib import audit, clock, partners, prospects, store, suppression
from chalicelib.audit import Access, Actor
from chalicelib.auth import PARTNER_ID, SYSTEM_MATERIALISER
from chalicelib.config import settings
from chalicelib.customers import add_months
from chalicelib.errors import Conflict, NotFound, ValidationFailed
from chalicelib.logs import logger
from chalicelib.registers import CAMPAIGN_KEPT, CAMPAIGN_OPEN
from chalicelib.validation import IsoDate, StrictModel, clean_text, email_key

REGISTER = "campaigns"  # the audit trail's name for campaign records
META = "META"
MEMBER_PREFIX = "MEMBER#"
LIST_PK = "CAMPAIGN"
CHANNELS = ("email", "phone")
EXCLUSIONS = ("suppressed", "do_not_call", "no_phone", "restricted", "erased")
UNCLOSED_RULE = "campaign_unclosed"
CLOSED_RULE = "campaign_closed"
# Prospects read per page, so that a page's members (at most this many), its counts and its
# audit event fit one transaction (100 items) and a profile look-up one BatchGetItem.
PAGE = 98
DELETE_BATCH = 99  # members deleted per transaction, beside the campaign's condition check
OUTCOME_READS = 10  # queries one page of recorded outcomes may take (members without one are skipped)
RESERVE_SECONDS = 20.0  # time kept back when a materialisation invocation stops to continue
_ID = re.compile(r"^[0-9a-f]{32}$")

Text200 = Annotated[str, Field(max_length=200), AfterValidator(clean_text)]
Text1000 = Annotated[str, Field(max_length=1000), AfterValidator(clean_text)]
Word = Annotated[str, Field(min_length=1, max_length=60), AfterValidator(clean_text)]


class Selection(StrictModel):
    """What a sales person filters the prospect register by; every given criterion must hold.

    `organization`: the organisation's name contains this (case-insensitive). `title_words`:
    the title contains any (or, with `title_match: all`, every) of these words, case-
    insensitively and anywhere in the title ("johtaja" finds "Toimitusjohtaja"). `source_partner`:
    a partner's imports brought the prospect. Date ranges are inclusive days of `first_seen`
    (entered the register) and `last_verified` (latest verification by any source or staff).
    """

    organization: Text200 | None = None
    title_words: Annotated[list[Word], Field(min_length=1, max_length=10)] | None = None
    title_match: Literal["any", "all"] = "any"
    source_partner: Annotated[str, Field(pattern=PARTNER_ID.pattern)] | None = None
    first_seen_from: IsoDate | None = None
    first_seen_to: IsoDate | None = None
    last_verified_from: IsoDate | None = None
    last_verified_to: IsoDate | None = None

    @model_validator(mode="after")
    def _ranges(self) -> Selection:
        for name in ("first_seen", "last_verified"):
            start, end = getattr(self, f"{name}_from"), getattr(self, f"{name}_to")
            if start is not None and end is not None and start > end:
                raise ValueError(f"{name}_from is after {name}_to")
        return self


class NewCampaign(StrictModel):
    """A campaign as staff create it (a draft)."""

    name: Text200
    purpose: Text1000
    channel: Literal["email", "phone"]
    selection: Selection = Selection()


class CampaignChanges(StrictModel):
    """What staff may change while the campaign is a draft; `version`, if given, is the
    version the change was made against (409 if the campaign changed since)."""

    name: Text200 | None = None
    purpose: Text1000 | None = None
    selection: Selection | None = None
    version: Annotated[int, Field(ge=1, strict=True)] | None = None


class EmailMessageText(StrictModel):
    """What an email campaign says: subject and plain-text body (paragraphs split by blank
    lines), in the campaign's language. The opt-out link, the one-click headers and the
    sender's name are added to every message (chalicelib/mail/compose.py)."""

    subject: Annotated[str, Field(min_length=1, max_length=200), AfterValidator(clean_text)]
    text: Annotated[str, Field(min_length=1, max_length=20000)]
    lang: Literal["fi", "en"] = "fi"


class Assignment(StrictModel):
    """The marketing partner a campaign is handed to."""

    partner_id: Annotated[str, Field(pattern=PARTNER_ID.pattern)]


def pk(campaign_id: str) -> str:
    return f"CAMPAIGN#{campaign_id}"


def member_sk(prospect_id: str) -> str:
    return f"{MEMBER_PREFIX}{prospect_id}"


def zero_counts() -> dict[str, Any]:
    return {"selected": 0, "audience": 0, "excluded": dict.fromkeys(EXCLUSIONS, 0)}


def stored_selection(selection: dict[str, Any]) -> dict[str, Any]:
    """The selection as stored: only the criteria given (JSON types, dates as YYYY-MM-DD)."""
    return {k: v for k, v in selection.items() if v is not None and not (k == "title_match" and v == "any")}


# -- reading -----------------------------------------------------------------------------


def find(campaign_id: str) -> dict[str, Any] | None:
    """The campaign's META, read consistently, or None."""
    if not _ID.match(campaign_id):
        return None
    item: dict[str, Any] | None = (
        store.campaigns().get_item(Key={"pk": pk(campaign_id), "sk": META}, ConsistentRead=True).get("Item")
    )
    return item


def get(campaign_id: str) -> dict[str, Any]:
    """The campaign's META; NotFound otherwise."""
    item = find(campaign_id)
    if item is None:
        raise NotFound("No such campaign.")
    return item


def assigned(campaign_id: str, partner_id: str) -> dict[str, Any]:
    """The META if the campaign is assigned to `partner_id` and the assignment is open.

    Anything else is NotFound, never Forbidden: a partner learns nothing about campaigns
    that are not (or no longer) its own.
    """
    item = find(campaign_id)
    if item is None or item.get("assigned_partner") != partner_id or not item.get("assignment_open"):
        raise NotFound("No such campaign.")
    return item


def member(campaign_id: str, prospect_id: str) -> dict[str, Any]:
    """One audience member's item; NotFound if the prospect is not in the audience."""
    if not _ID.match(campaign_id) or not _ID.match(prospect_id):
        raise NotFound("No such audience member.")
    item: dict[str, Any] | None = (
        store.campaigns()
        .get_item(Key={"pk": pk(campaign_id), "sk": member_sk(prospect_id)}, ConsistentRead=True)
        .get("Item")
    )
    if item is None:
        raise NotFound("No such audience member.")
    return item


_SHOWN = (
    "campaign_id",
    "name",
    "purpose",
    "channel",
    "selection",
    "status",
    "created_by",
    "created_at",
    "updated_at",
    "materialisation_started_at",
    "materialised_at",
    "closed_at",
    "counts",
    "assigned_partner",
    "assignment_open",
    "assigned_at",
    "assignment_closed_at",
    "retention_due_at",
    "audience_deleted_at",
    "sending",
    "version",
)


def present(item: dict[str, Any]) -> dict[str, Any]:
    """The campaign as the API shows it (no storage keys, cursors or page counters)."""
    shown: dict[str, Any] = store.plain({k: item[k] for k in _SHOWN if k in item})
    return shown


def list_campaigns(limit: int, cursor: str | None) -> dict[str, Any]:
    """A page of campaigns, newest first."""
    return store.query_page(
        store.campaigns(),
        cursor,
        {"pk", "sk", "list_pk", "list_sk"},
        IndexName="by_list",
        KeyConditionExpression=Key("list_pk").eq(LIST_PK),
        ScanIndexForward=False,
        Limit=limit,
    )


def list_assigned(partner_id: str, limit: int, cursor: str | None) -> dict[str, Any]:
    """A page of the campaigns ever assigned to `partner_id`, newest first (`by_partner`);
    callers show only those whose `assignment_open` is true."""
    return store.query_page(
        store.campaigns(),
        cursor,
        {"pk", "sk", "assigned_partner", "list_sk"},
        IndexName="by_partner",
        KeyConditionExpression=Key("assigned_partner").eq(partner_id),
        ScanIndexForward=False,
        Limit=limit,
    )


# -- staff changes -----------------------------------------------------------------------


def create(data: dict[str, Any], actor: Actor) -> dict[str, Any]:
    """A new draft campaign, audited in the same transaction."""
    now = clock.iso()
    campaign_id = uuid.uuid4().hex
    item = {
        "pk": pk(campaign_id),
        "sk": META,
        "entity": "campaign",
        "campaign_id": campaign_id,
        "name": data["name"],
        "purpose": data["purpose"],
        "channel": data["channel"],
        "selection": stored_selection(data.get("selection") or {}),
        "status": "draft",
        "created_by": actor.principal.principal_id,
        "created_at": now,
        "updated_at": now,
        "counts": zero_counts(),
        "version": 1,
        "list_pk": LIST_PK,
        "list_sk": f"{clock.sortable()}#{campaign_id}",
    }
    store.transact(
        [
            {
                "Put": {
                    "TableName": store.campaigns().name,
                    "Item": store.typed_item(item),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
            actor.put(Access("create", REGISTER, campaign_id, ("name", "purpose", "channel", "selection"))),
        ],
        "A campaign with this id already exists.",
    )
    return item


def _meta_update(
    campaign_id: str,
    sets: dict[str, Any],
    condition: str,
    condition_values: dict[str, Any],
    removals: Iterable[str] = (),
) -> dict[str, Any]:
    """A transaction's Update of the META: SET `sets` and `updated_at`, bump `version`, REMOVE
    `removals`, on `condition` (`#status`, `#version` name those attributes)."""
    values = {**sets, "updated_at": clock.iso()}
    names = {f"#f{i}": k for i, k in enumerate(values)} | {"#version": "version"}
    if "#status" in condition:
        names["#status"] = "status"
    expr = "SET " + ", ".join(f"#f{i} = :v{i}" for i in range(len(values))) + ", #version = #version + :one"
    removals = list(removals)
    if removals:
        names.update({f"#r{i}": k for i, k in enumerate(removals)})
        expr += " REMOVE " + ", ".join(f"#r{i}" for i in range(len(removals)))
    expression_values = {f":v{i}": v for i, v in enumerate(values.values())} | {":one": 1, **condition_values}
    return {
        "Update": {
            "TableName": store.campaigns().name,
            "Key": store.typed({"pk": pk(campaign_id), "sk": META}),
            "UpdateExpression": expr,
            "ConditionExpression": f"attribute_exists(pk) AND ({condition})",
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": store.typed(expression_values),
        }
    }


def _update(
    campaign_id: str,
    sets: dict[str, Any],
    condition: str,
    condition_values: dict[str, Any],
    access: Access,
    actor: Actor,
    conflict: str,
    removals: Iterable[str] = (),
) -> dict[str, Any]:
    """One audited change of the META (`_meta_update` and its audit event, one transaction)."""
    update = _meta_update(campaign_id, sets, condition, condition_values, removals)
    store.transact([update, actor.put(access)], conflict)
    return get(campaign_id)


def update(campaign_id: str, changes: dict[str, Any], actor: Actor) -> dict[str, Any]:
    """Change a draft's name, purpose or selection, against the version read (or given)."""
    expected = changes.get("version")
    changes = {k: v for k, v in changes.items() if k != "version"}
    if not changes or any(v is None for v in changes.values()):
        raise ValidationFailed("Give at least one field to change, none of them null.")
    current = get(campaign_id)
    if current["status"] != "draft":
        raise Conflict("Only a draft campaign can be changed.", code="not_a_draft")
    version = int(current["version"]) if expected is None else expected
    if version != int(current["version"]):
        raise Conflict("The campaign has changed since that version; read it again.", code="version_conflict")
    if "selection" in changes:
        changes["selection"] = stored_selection(changes["selection"])
    return _update(
        campaign_id,
        changes,
        "#version = :expected AND #status = :draft",
        {":expected": version, ":draft": "draft"},
        Access("update", REGISTER, campaign_id, tuple(changes)),
        actor,
        "The campaign changed meanwhile; read it again.",
    )


def assign(campaign_id: str, partner_id: str, actor: Actor) -> dict[str, Any]:
    """Hand the campaign to a registered, active marketing partner with a processing agreement.

    Refused: a partner that is not registered or not of kind marketing (400); one suspended
    or without an agreement on record (409); a closed campaign, or one already assigned to
    another partner whose assignment is open (409: close that assignment first).
    """
    partner = partners.find(partner_id)
    if partner is None:
        raise ValidationFailed("No such partner in the registry.", code="unknown_partner")
    if partner["kind"] != "marketing":
        raise ValidationFailed("Only a marketing partner can be assigned a campaign.", code="not_a_marketing_partner")
    if partner["status"] != "active":
        raise Conflict("The marketing partner is not active.", code="partner_inactive")
    if not partner.get("processing_agreement_at"):
        raise Conflict("The marketing partner has no processing agreement on record.", code="no_processing_agreement")
    current = get(campaign_id)
    if current["status"] == "closed":
        raise Conflict("The campaign is closed.", code="campaign_closed")
    if current.get("assignment_open") and current.get("assigned_partner") != partner_id:
        raise Conflict("The campaign is assigned to another partner; close that assignment first.", code="assigned")
    return _update(
        campaign_id,
        {"assigned_partner": partner_id, "assignment_open": True, "assigned_at": clock.iso()},
        "#version = :expected AND #status <> :closed",
        {":expected": current["version"], ":closed": "closed"},
        Access("assign", REGISTER, campaign_id, ("assigned_partner",)),
        actor,
        "The campaign changed meanwhile; read it again.",
    )


def close_assignment(campaign_id: str, actor: Actor) -> dict[str, Any]:
    """End the marketing partner's access to the campaign (409 if no assignment is open)."""
    current = get(campaign_id)
    if not current.get("assignment_open"):
        raise Conflict("The campaign has no open assignment.", code="not_assigned")
    return _update(
        campaign_id,
        {"assignment_open": False, "assignment_closed_at": clock.iso()},
        "assignment_open = :open",
        {":open": True},
        Access("unassign", REGISTER, campaign_id, ("assigned_partner",)),
        actor,
        "The campaign changed meanwhile; read it again.",
    )


def _due(start: date, months: int) -> str:
    return add_months(start, months).isoformat()


def close(campaign_id: str, actor: Actor) -> dict[str, Any]:
    """Close the campaign: no more reads of its audience, the assignment ends, and the
    audience's retention (`campaign_closed`) starts."""
    current = get(campaign_id)
    if current["status"] == "closed":
        raise Conflict("The campaign is closed already.", code="campaign_closed")
    now = clock.now()
    return _update(
        campaign_id,
        {**_closing(now, current), "retention_rule": CLOSED_RULE},
        "#status <> :closed",
        {":closed": "closed"},
        Access("close", REGISTER, campaign_id, ()),
        actor,
        "The campaign changed meanwhile; read it again.",
    )


def _closing(now: datetime, current: dict[str, Any]) -> dict[str, Any]:
    sets: dict[str, Any] = {
        "status": "closed",
        "closed_at": clock.iso(now),
        "assignment_open": False,
        "retention_due_at": _due(clock.local_date(now), CAMPAIGN_KEPT.months),
    }
    if current.get("assignment_open"):
        sets["assignment_closed_at"] = clock.iso(now)
    return sets


# -- materialisation ---------------------------------------------------------------------


def start_materialisation(campaign_id: str, actor: Actor) -> dict[str, Any]:
    """Start forming the audience now: the draft becomes `materialising` (audited) and the
    job is queued. Asking again while it runs queues it again (a lost message is recovered;
    a duplicate adds nothing). A campaign already materialised is a 409."""
    current = get(campaign_id)
    if current["status"] == "draft":
        now = clock.now()
        current = _update(
            campaign_id,
            {
                "status": "materialising",
                "materialisation_started_at": clock.sortable(now),
                "counts": zero_counts(),
                "segments": 0,
                "retention_rule": UNCLOSED_RULE,
                "retention_due_at": _due(clock.local_date(now), CAMPAIGN_OPEN.months),
            },
            "#status = :draft",
            {":draft": "draft"},
            Access("materialise", REGISTER, campaign_id, ()),
            actor,
            "The campaign changed meanwhile; read it again.",
            removals=("cursor",),
        )
    elif current["status"] != "materialising":
        raise Conflict("The campaign's audience has been formed already.", code="already_materialised")
    enqueue(campaign_id)
    return current


SEND_EXCLUSIONS = ("suppressed", "restricted", "erased")


def zero_send_counts() -> dict[str, Any]:
    """Progress of an email campaign's sending: messages SES accepted (`sent`), refused
    (`failed`), left out when re-checked just before sending (`excluded`), and claimed but
    never confirmed because an invocation stopped mid-send (`unconfirmed`; never resent)."""
    return {"sent": 0, "failed": 0, "unconfirmed": 0, "excluded": dict.fromkeys(SEND_EXCLUSIONS, 0)}


def start_sending(campaign_id: str, message: dict[str, Any], actor: Actor) -> dict[str, Any]:
    """Start sending a ready email campaign's messages (a queued job, `mail_sender`).

    The message is fixed when sending starts. Asking again while it sends queues the job
    again (a lost message is recovered; a duplicate sends nothing twice) and keeps the
    message first given. Refused (409): a phone campaign, an audience not formed, a closed
    campaign, a campaign already sent.
    """
    from chalicelib.mail import jobs

    current = get(campaign_id)
    if current["channel"] != "email":
        raise Conflict("Only an email campaign is sent.", code="not_an_email_campaign")
    sending = current.get("sending")
    if sending is None:
        if current["status"] != "ready":
            raise Conflict("The campaign's audience is not ready to be sent to.", code="audience_not_available")
        current = _update(
            campaign_id,
            {
                "sending": {
                    "status": "sending",
                    "started_at": clock.iso(),
                    "started_by": actor.principal.principal_id,
                    "segments": 0,
                    "counts": zero_send_counts(),
                },
                "send_message": {"lang": "fi", **message},
            },
            "#status = :ready AND attribute_not_exists(sending)",
            {":ready": "ready"},
            Access("send", REGISTER, campaign_id, ()),
            actor,
            "The campaign changed meanwhile; read it again.",
        )
    elif sending["status"] != "sending":
        raise Conflict("The campaign has been sent already.", code="already_sent")
    jobs.enqueue("campaign", {"campaign_id": campaign_id})
    return current


def enqueue(campaign_id: str) -> None:
    """Ask the `campaign_materialiser` to (continue to) form the campaign's audience."""
    store.client("sqs").send_message(
        QueueUrl=settings().campaign_queue_url, MessageBody=json.dumps({"campaign_id": campaign_id})
    )


def matches(selection: dict[str, Any], profile: dict[str, Any]) -> bool:
    """True if the PROFILE meets every criterion of the selection (`Selection`) but the source
    partner, which the index read already applied (`by_source`)."""
    organization = selection.get("organization")
    if organization and organization.lower() not in str(profile.get("organization", "")).lower():
        return False
    words = [w.lower() for w in selection.get("title_words") or ()]
    if words:
        title = str(profile.get("title", "")).lower()
        found = [w in title for w in words]
        if not (all(found) if selection.get("title_match") == "all" else any(found)):
            return False
    for name in ("first_seen", "last_verified"):
        day = str(profile.get(name, ""))[:10]
        start, end = selection.get(f"{name}_from"), selection.get(f"{name}_to")
        if (start and day < start) or (end and day > end):
            return False
    return True


def profiles_of(prospect_ids: list[str], consistent: bool = False) -> dict[str, dict[str, Any]]:
    """The PROFILE items of these prospects (at most 100 per request), by prospect id."""
    found: dict[str, dict[str, Any]] = {}
    table = store.prospects().name
    for start in range(0, len(prospect_ids), 100):
        keys = [{"pk": prospects.pk(p), "sk": prospects.PROFILE} for p in prospect_ids[start : start + 100]]
        request: dict[str, Any] = {table: {"Keys": keys, "ConsistentRead": consistent}}
        while request:
            resp = store.resource("dynamodb").batch_get_item(RequestItems=request)
            for item in resp["Responses"].get(table, []):
                found[item["prospect_id"]] = item
            request = resp.get("UnprocessedKeys") or {}
    return found


def screen(channel: str, profiles: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """The profiles that may be contacted now, and how many others were left out and why.

    Each person is counted under the first reason that applies: restricted, suppressed,
    then (phone) no number, do-not-call.
    """
    excluded = dict.fromkeys(EXCLUSIONS, 0)
    open_ = [p for p in profiles if "restriction" not in p]
    excluded["restricted"] = len(profiles) - len(open_)
    objected = suppression.suppressed_keys([p["email"] for p in open_]) if open_ else set()
    allowed = [p for p in open_ if email_key(p["email"]) not in objected]
    excluded["suppressed"] = len(open_) - len(allowed)
    if channel == "phone":
        with_phone = [p for p in allowed if p.get("phone")]
        excluded["no_phone"] = len(allowed) - len(with_phone)
        blocked = suppression.suppressed_phones([p["phone"] for p in with_phone]) if with_phone else set()
        allowed = [p for p in with_phone if p["phone"] not in blocked]
        excluded["do_not_call"] = len(with_phone) - len(allowed)
    return allowed, excluded


@dataclass
class ReadCounter:
    """Prospect-table items a materialisation read: index pages and profile look-ups (the
    benchmark's figure; suppression look-ups are by key, one per address or number)."""

    items: int = 0


def _page(meta: dict[str, Any], reads: ReadCounter | None) -> tuple[list[dict[str, Any]], int, dict[str, Any] | None]:
    """One page of the selection's index from the saved cursor: the PROFILEs found, how
    many selected prospects no longer have one (erased), and the next cursor."""
    selection = meta.get("selection") or {}
    source = selection.get("source_partner")
    query: dict[str, Any] = {"Limit": PAGE}
    if source:
        query |= {"IndexName": "by_source", "KeyConditionExpression": Key("source_partner").eq(source)}
    else:
        query |= {"IndexName": "by_list", "KeyConditionExpression": Key("list_pk").eq(prospects.LIST_PK)}
    if meta.get("cursor"):
        query["ExclusiveStartKey"] = meta["cursor"]
    resp = store.prospects().query(**query)
    items = resp["Items"]
    if reads is not None:
        reads.items += int(resp.get("ScannedCount", len(items)))
    erased = 0
    if source:
        ids = [i["prospect_id"] for i in items]
        found = profiles_of(ids)
        if reads is not None:
            reads.items += len(found)
        erased = len(ids) - len(found)
        items = [found[p] for p in ids if p in found]
    return items, erased, resp.get("LastEvaluatedKey")


def materialise_page(campaign_id: str, reads: ReadCounter | None = None) -> bool:
    """Form one page of the audience; True when the campaign is no longer materialising.

    The page's members, counts, cursor and audit event are one transaction conditional on
    the page number read; if another delivery committed this page first, nothing is
    written and the next call continues from its cursor.
    """
    meta = get(campaign_id)
    if meta["status"] != "materialising":
        return True
    segment = int(meta.get("segments", 0))
    profiles, erased, next_cursor = _page(meta, reads)
    selected = [p for p in profiles if matches(meta.get("selection") or {}, p)]
    members, excluded = screen(str(meta["channel"]), selected)
    excluded["erased"] = erased  # a source item whose PROFILE is gone: selected, then erased
    now = clock.iso()
    table = store.campaigns().name
    transact: list[dict[str, Any]] = [
        {
            "Put": {
                "TableName": table,
                "Item": store.typed(
                    {"pk": pk(campaign_id), "sk": member_sk(p["prospect_id"]), "prospect_id": p["prospect_id"]}
                    | {"entity": "campaign_member", "added_at": now}
                ),
            }
        }
        for p in members
    ]
    names = {
        "#status": "status",
        "#counts": "counts",
        "#excluded": "excluded",
        "#segments": "segments",
        "#cursor": "cursor",
    }
    values: dict[str, Any] = {
        ":segment": segment,
        ":next": segment + 1,
        ":materialising": "materialising",
        ":selected": len(selected) + erased,
        ":audience": len(members),
    }
    sets = [
        "#segments = :next",
        "#counts.selected = #counts.selected + :selected",
        "#counts.audience = #counts.audience + :audience",
    ]
    for i, reason in enumerate(EXCLUSIONS):
        names[f"#x{i}"] = reason
        values[f":x{i}"] = excluded[reason]
        sets.append(f"#counts.#excluded.#x{i} = #counts.#excluded.#x{i} + :x{i}")
    if next_cursor:
        values[":cursor"] = next_cursor
        expr = "SET " + ", ".join([*sets, "#cursor = :cursor"])
    else:
        values |= {":ready": "ready", ":now": now}
        expr = "SET " + ", ".join([*sets, "#status = :ready", "materialised_at = :now"]) + " REMOVE #cursor"
    transact.append(
        {
            "Update": {
                "TableName": table,
                "Key": store.typed({"pk": pk(campaign_id), "sk": META}),
                "UpdateExpression": expr,
                "ConditionExpression": "#status = :materialising AND #segments = :segment",
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": store.typed(values),
            }
        }
    )
    key = audit.event_key(str(meta["materialisation_started_at"]), "segment", f"{segment:06d}")
    summary = {"segment": segment, "selected": values[":selected"], "audience": len(members), "excluded": excluded}
    transact.append(
        Actor(SYSTEM_MATERIALISER, campaign_id).put(
            Access("materialise", REGISTER, campaign_id, ()), key=key, summary=summary
        )
    )
    try:
        store.client("dynamodb").transact_write_items(TransactItems=transact)
    except ClientError as exc:
        if store.condition_failed(exc):
            logger.info("campaign page committed elsewhere", extra={"campaign_id": campaign_id, "segment": segment})
            return False
        raise
    if not next_cursor:
        logger.info("campaign materialised", extra={"campaign_id": campaign_id, "segments": segment + 1})
    return not next_cursor


def run(campaign_id: str, time_left: Callable[[], float], reads: ReadCounter | None = None) -> dict[str, Any]:
    """Materialise pages while time lasts; `done` False means: continue with a new message."""
    pages = 0
    while True:
        if materialise_page(campaign_id, reads):
            return {"campaign_id": campaign_id, "done": True, "pages": pages + 1}
        pages += 1
        if time_left() < RESERVE_SECONDS:
            return {"campaign_id": campaign_id, "done": False, "pages": pages}


def materialise(campaign_id: str, reads: ReadCounter | None = None) -> dict[str, Any]:
    """Form the whole audience in this process (tests, the benchmark): `run` without a deadline."""
    return run(campaign_id, lambda: float("inf"), reads)


# -- the audience now --------------------------------------------------------------------


def current_audience(campaign_id: str, limit: int, cursor: str | None) -> dict[str, Any]:
    """A page of the members who may be contacted NOW, with their PROFILEs.

    `{"items": [(member_item, profile_item), ...], "next_cursor", "excluded": {reason: n}}`:
    every exclusion is checked again at this moment (an objection made after materialisation
    wins), and `excluded` counts this page's members left out, by reason, never naming them.
    A page may hold fewer than `limit` items; follow `next_cursor`. Only a `ready` campaign
    has an audience to read (409 otherwise).
    """
    meta = get(campaign_id)
    if meta["status"] != "ready":
        raise Conflict("The campaign has no audience to read in its current state.", code="audience_not_available")
    page = store.query_page(
        store.campaigns(),
        cursor,
        {"pk", "sk"},
        KeyConditionExpression=Key("pk").eq(pk(campaign_id)) & Key("sk").begins_with(MEMBER_PREFIX),
        Limit=limit,
    )
    members = page["items"]
    found = profiles_of([m["prospect_id"] for m in members], consistent=True)
    allowed, excluded = screen(
        str(meta["channel"]), [found[m["prospect_id"]] for m in members if m["prospect_id"] in found]
    )
    excluded["erased"] = len(members) - len(found)
    by_id = {m["prospect_id"]: m for m in members}
    return {
        "items": [(by_id[p["prospect_id"]], p) for p in allowed],
        "next_cursor": page["next_cursor"],
        "excluded": excluded,
    }


def recorded_outcomes(campaign_id: str, limit: int, cursor: str | None) -> dict[str, Any]:
    """A page of the members whose call outcome is recorded: `{"items", "next_cursor"}`.

    Unlike the audience, this reads the member items only, in any state the campaign is in,
    so the outcome of a person no longer in the audience (an objection removes them) is
    still shown: `prospect_id`, `outcome`, `outcome_at`, `outcome_by`, never a profile value.
    Members without an outcome are skipped: a page reads on (at most `OUTCOME_READS`
    queries) until it holds `limit` items, so it may still hold fewer: follow `next_cursor`.
    """
    get(campaign_id)
    found: list[dict[str, Any]] = []
    for _ in range(OUTCOME_READS):
        # Limit counts the members read, not those kept, so the page never exceeds `limit`.
        page = store.query_page(
            store.campaigns(),
            cursor,
            {"pk", "sk"},
            KeyConditionExpression=Key("pk").eq(pk(campaign_id)) & Key("sk").begins_with(MEMBER_PREFIX),
            FilterExpression=Attr("outcome").exists(),
            Limit=limit - len(found),
        )
        found.extend(page["items"])
        cursor = page["next_cursor"]
        if not cursor or len(found) >= limit:
            break
    shown = ("prospect_id", "outcome", "outcome_at", "outcome_by")
    items = [store.plain({k: m[k] for k in shown if k in m}) for m in found]
    return {"items": items, "next_cursor": cursor}


# -- retention (the sweeper's steps; chalicelib/retention.py calls them) ------------------


def _due_condition(rule: str, cutoff: str) -> tuple[str, dict[str, Any]]:
    return (
        "retention_rule = :rule AND retention_due_at < :cutoff AND attribute_not_exists(legal_hold)",
        {":rule": rule, ":cutoff": cutoff},
    )


def close_due(item: dict[str, Any], *, rule: str, cutoff: str, event: dict[str, Any]) -> None:
    """Close a campaign left open past its `campaign_unclosed` date, with the sweeper's audit
    `event`, in one transaction re-checking that it is still due (Conflict otherwise)."""
    condition, values = _due_condition(rule, cutoff)
    sets = {**_closing(clock.now(), item), "retention_rule": CLOSED_RULE}
    store.transact(
        [_meta_update(str(item["campaign_id"]), sets, condition, values), event],
        "The campaign changed meanwhile; nothing was closed.",
    )


def delete_audience(item: dict[str, Any], *, rule: str, cutoff: str, event: dict[str, Any], reads: Any = None) -> int:
    """Delete a closed campaign's members (audience and outcomes) once `campaign_closed` is due.

    Bounded: each transaction deletes at most `DELETE_BATCH` (99) members beside a condition check that the
    campaign is still due, so a run killed half-way leaves the campaign in the index with
    fewer members, and the next run finishes it. The last transaction takes the campaign out
    of the rule (its META and counts stay, with no personal data) with the audit `event`.
    Returns the members deleted.
    """
    campaign_id = str(item["campaign_id"])
    condition, values = _due_condition(rule, cutoff)
    table = store.campaigns()
    check = {
        "ConditionCheck": {
            "TableName": table.name,
            "Key": store.typed({"pk": pk(campaign_id), "sk": META}),
            "ConditionExpression": condition,
            "ExpressionAttributeValues": store.typed(values),
        }
    }
    deleted = 0
    while True:
        resp = table.query(
            KeyConditionExpression=Key("pk").eq(pk(campaign_id)) & Key("sk").begins_with(MEMBER_PREFIX),
            ProjectionExpression="pk, sk",
            Limit=DELETE_BATCH,
        )
        keys = resp["Items"]
        if reads is not None:
            reads.items += len(keys)
        if not keys:
            break
        deletes = [{"Delete": {"TableName": table.name, "Key": store.typed(k)}} for k in keys]
        store.transact([check, *deletes], "The campaign changed meanwhile; its audience was not deleted.")
        deleted += len(keys)
    store.transact(
        [
            _meta_update(
                campaign_id,
                {"audience_deleted_at": clock.iso()},
                condition,
                values,
                removals=("retention_rule", "retention_due_at"),
            ),
            event,
        ],
        "The campaign changed meanwhile; its audience was not deleted.",
    )
    return deleted
