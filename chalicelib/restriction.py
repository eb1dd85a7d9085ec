"""Restriction of processing (GDPR Art. 18): a record kept, but no longer used.

What a restriction is here
    A map on the record, ``restriction = {reason, since, until?, by}``: `reason` one of
    `REASONS` (the four grounds of Art. 18(1)), `since` when it was first set, `until` the
    date staff may review and lift it (optional; nothing lifts it by itself), `by` the
    principal who set it. On a prospect it is on the PROFILE and on every SOURCE# item (so
    the sweeper's per-item conditions see it: see below); on a customer on the PROFILE.
    Setting, changing and lifting are each ONE transaction with the audit event (action
    `restrict` / `lift_restriction`, the reason code as the event's `reason`).

What it does
    * Stored, shown to staff: staff lists and reads carry `restriction` (reason, since,
      until) so nobody mistakes the record for an ordinary one.
    * No handover: every handover of a prospect's data is recorded in the disclosure log
      on the condition that its PROFILE exists and is NOT restricted
      (`disclosures.record`), so partners' lists and reads, call lists, a marketing
      partner's audience view and campaign sends leave the person out; campaigns, call
      lists and sends also screen `restriction` themselves (chalicelib/campaigns.py,
      mail/campaign_send.py), and the Art. 14 job does not mail the person.
    * Imports do not change it: a partner's row for a restricted prospect is skipped and
      counted under the reason `restricted` (line number only); a full refresh leaves it.
    * Service messages skip a restricted customer.
    * Retention: storage is what a restriction allows, so the retention rules still run,
      EXCEPT for `HOLDING_REASONS`: the person needs the data for legal claims (Art.
      18(1)(c)) or opposed its erasure (Art. 18(1)(b)). Such a restriction holds deletion
      exactly like a legal hold (`retention.held`, the sweeper's conditions).
    * The recipients in a prospect's disclosure log are notified (Art. 19, change
      `restricted`).
    * Lifting tells the person first (Art. 18(3): before it is lifted): a plain message in
      their language (Finnish unless English is known); only when SES took it is the
      restriction removed. With no address or a refused send nothing is lifted (409
      `person_not_told`): staff tell the person by letter or phone and lift with
      `told_otherwise`, which the audit event records.

The functions take the record kind and id and an `Actor`, so a later request-case system
calls them exactly as the routes do.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Literal, get_args

from botocore.exceptions import ClientError

from chalicelib import clock, customers, disclosures, prospects, store
from chalicelib.audit import Access, Actor
from chalicelib.errors import Conflict, ValidationFailed
from chalicelib.logs import logger
from chalicelib.mail import compose
from chalicelib.mail.compose import Template
from chalicelib.mail.send import send
from chalicelib.validation import IsoDate, StrictModel

Reason = Literal[
    "accuracy_contested",  # Art. 18(1)(a): while the controller verifies the data
    "unlawful_processing_opposed_erasure",  # Art. 18(1)(b): the person wants it kept, not erased
    "needed_for_legal_claims",  # Art. 18(1)(c): the controller no longer needs it, the person does
    "objection_pending",  # Art. 18(1)(d): until an Art. 21(1) objection is decided
]
REASONS: tuple[str, ...] = get_args(Reason)
# Restrictions that keep the record from deletion like a legal hold: the person asked
# for it to be kept (Art. 18(1)(b) and (c)).
HOLDING_REASONS = frozenset({"needed_for_legal_claims", "unlawful_processing_opposed_erasure"})
Kind = Literal["customer", "prospect"]
KINDS: tuple[str, ...] = get_args(Kind)
ATTRIBUTE = "restriction"
SKIP_REASON = "restricted"  # an import's reason code for a row of a restricted prospect
MAX_REVIEW_YEARS = 10


class RestrictionRequest(StrictModel):
    """Why processing is restricted, and when staff may review it (no personal data)."""

    reason: Reason
    until: IsoDate | None = None


def shown(item: dict[str, Any]) -> dict[str, Any] | None:
    """The record's restriction as staff see it, or None if it is not restricted."""
    current = item.get(ATTRIBUTE)
    if not isinstance(current, dict):
        return None
    return {k: current[k] for k in ("reason", "since", "until", "by") if current.get(k) is not None}


def holds_deletion(item: dict[str, Any]) -> bool:
    """True if the item's restriction keeps it from deletion (see `HOLDING_REASONS`)."""
    current = item.get(ATTRIBUTE)
    return isinstance(current, dict) and current.get("reason") in HOLDING_REASONS


def _check_until(until: date | None) -> None:
    today = clock.local_date()
    if until is not None and not today < until <= customers.add_months(today, 12 * MAX_REVIEW_YEARS):
        raise ValidationFailed(
            f"until must be a date after today and within {MAX_REVIEW_YEARS} years.",
            details=[{"field": "until", "reason": "out of range"}],
        )


def check_kind(kind: str) -> str:
    """`kind` if it names a register whose records can be restricted (400 otherwise)."""
    if kind not in KINDS:
        raise ValidationFailed(f"kind must be one of {', '.join(KINDS)}.", code="invalid_path")
    return kind


def _prospect_items(record_id: str) -> list[dict[str, Any]]:
    """The prospect's PROFILE and SOURCE items (404 if there is no such prospect)."""
    items = prospects.get(record_id)
    return [i for i in items if i["sk"] == prospects.PROFILE or str(i["sk"]).startswith(prospects.SOURCE_PREFIX)]


def _update(table: str, item: dict[str, Any], expr: str, values: dict[str, Any], condition: str) -> dict[str, Any]:
    update: dict[str, Any] = {
        "TableName": table,
        "Key": store.typed({"pk": item["pk"], "sk": item["sk"]}),
        "UpdateExpression": expr,
        "ConditionExpression": condition,
    }
    if values:
        update["ExpressionAttributeValues"] = store.typed(values)
    return {"Update": update}


def restrict(kind: str, record_id: str, reason: str, until: date | None, actor: Actor) -> dict[str, Any]:
    """Restrict processing of a record (or change an existing restriction's reason or date).

    One transaction: the restriction on the record's items, the audit event and, for a
    prospect restricted now, the Art. 19 notices to the recipients in its disclosure log.
    `since` is kept when a restriction is changed. Returns the restriction as staff see it.
    """
    check_kind(kind)
    if reason not in REASONS:
        raise ValidationFailed("reason is not a ground of GDPR Art. 18(1).", details=[{"field": "reason"}])
    _check_until(until)
    now = clock.iso()
    if kind == "prospect":
        items = _prospect_items(record_id)
        table = store.prospects().name
        access = Access("restrict", prospects.REGISTER, record_id, ())
    else:
        items = [customers.get_customer(record_id)]
        table = store.customers().name
        access = Access("restrict", customers.REGISTER, record_id, ())
    before = shown(items[0])
    since = (before or {}).get("since", now)
    value = {"reason": reason, "since": since, "by": actor.principal.principal_id}
    if until is not None:
        value["until"] = until.isoformat()
    expr = "SET restriction = :r, updated_at = :now" + (" ADD version :one" if kind == "customer" else "")
    values: dict[str, Any] = {":r": value, ":now": now} | ({":one": 1} if kind == "customer" else {})
    writes = [_update(table, i, expr, values, "attribute_exists(pk)") for i in items]
    event = actor.put(access, reason=reason)
    notices: list[dict[str, Any]] = []
    if kind == "prospect" and before is None:  # a changed reason or date is no news to recipients
        notices = disclosures.notices(
            record_id, disclosures.entries_of(record_id), disclosures.Change("restricted"), actor
        )
    try:
        disclosures.transact([*writes, event], notices)
    except ClientError as exc:
        if store.condition_failed(exc):
            raise Conflict("The record changed meanwhile; try again.") from None
        raise
    return {"kind": kind, "record_id": record_id, "restriction": value}


LIFTED = Template(
    subject={
        "fi": "Tietojesi käsittelyn rajoitus poistetaan",
        "en": "The restriction of processing of your data is being lifted",
    },
    body={
        "fi": "Hei,\n\ntietojesi käsittelyä rekisterissämme ({register}) on rajoitettu "
        "(EU:n tietosuoja-asetuksen 18 artikla). Rajoitus poistetaan nyt, minkä jälkeen tietojasi "
        "käsitellään jälleen rekisterin tietosuojaselosteen mukaisesti.\n\n"
        "Kerromme tästä ennen rajoituksen poistamista, kuten asetuksen 18 artiklan 3 kohta edellyttää. "
        "Voit edelleen pyytää pääsyä tietoihisi, niiden oikaisemista tai poistamista tai vastustaa "
        "niiden käsittelyä vastaamalla tähän viestiin.",
        "en": "Hello,\n\nthe processing of your data in our register ({register}) has been restricted "
        "(Article 18 of the EU General Data Protection Regulation). The restriction is now being "
        "lifted; after that your data is processed again as the register's privacy notice describes."
        "\n\nWe tell you this before the restriction is lifted, as Article 18(3) requires. You can "
        "still ask for access to your data, its rectification or erasure, or object to its processing "
        "by replying to this message.",
    },
)
_REGISTER_NAME = {
    "customer": {"fi": "asiakasrekisteri", "en": "the customer register"},
    "prospect": {"fi": "yhteyshenkilörekisteri", "en": "the prospect register"},
}


class LiftRequest(StrictModel):
    """`told_otherwise`: staff have told the person by letter or phone, so no email is sent."""

    told_otherwise: bool = False


class PersonNotTold(Conflict):
    """The person could not be told by email; the restriction stays (Art. 18(3))."""

    code = "person_not_told"


def lift(kind: str, record_id: str, actor: Actor, *, told_otherwise: bool = False) -> dict[str, Any]:
    """Lift a restriction, telling the person first (Art. 18(3): "before the restriction
    of processing is lifted"), then one transaction with its audit event.

    409 `not_restricted` if the record is not restricted. The message goes to the record's
    address unless `told_otherwise` (staff told the person another way, recorded in the
    event). With no address (an erased customer's contact) or a refused send, nothing is
    lifted: 409 `person_not_told`, and staff tell the person another way and lift again with
    `told_otherwise`. Nothing about the person is logged.
    """
    check_kind(kind)
    if kind == "prospect":
        items = _prospect_items(record_id)
        table = store.prospects().name
        register = prospects.REGISTER
    else:
        items = [customers.get_customer(record_id)]
        table = store.customers().name
        register = customers.REGISTER
    profile = items[0]
    before = shown(profile)
    if before is None:
        raise Conflict("The record is not restricted.", code="not_restricted")
    told = "otherwise" if told_otherwise else _tell(kind, record_id, profile)
    now = clock.iso()
    suffix = " ADD version :one" if kind == "customer" else ""
    values: dict[str, Any] = {":now": now} | ({":one": 1} if kind == "customer" else {})
    expr = "SET updated_at = :now REMOVE restriction" + suffix
    writes = [
        _update(
            table, i, expr, values, "attribute_exists(pk)" + (" AND attribute_exists(restriction)" * (i is profile))
        )
        for i in items
    ]
    event = actor.put(
        Access("lift_restriction", register, record_id, ()), reason=str(before["reason"]), summary={"told": told}
    )
    store.transact([*writes, event], "The record changed meanwhile, or it is no longer restricted.")
    return {"kind": kind, "record_id": record_id, "restriction": None, "lifted_at": now, "person_told": told}


def _tell(kind: str, record_id: str, profile: dict[str, Any]) -> str:
    """Mail the person that the restriction is being lifted; how they were told (`email`)."""
    address = profile.get("email")
    if not address:
        raise PersonNotTold("The record has no email address: tell the person another way, then lift.")
    lang = compose.lang_or_default(profile.get("lang"))
    msg = compose.message(str(address), LIFTED, lang, register=_REGISTER_NAME[kind][lang])
    try:
        send(msg, "restriction_lifted")
    except ClientError as exc:
        # send() keeps SES's code only: the address is never in the log line.
        code = exc.response.get("Error", {}).get("Code")
        logger.warning("restriction lift not told", extra={"kind": kind, "record_id": record_id, "code": code})
        raise PersonNotTold("The message could not be sent: tell the person another way, then lift.") from None
    return "email"
