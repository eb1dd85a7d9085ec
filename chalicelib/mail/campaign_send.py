"""Sending an email campaign: the `campaign` job of the mail queue (chalicelib/mail/jobs.py).

The job (`{"campaign_id"}`) walks the campaign's audience (its MEMBER items, in key order)
one page at a time from the cursor saved in the campaign, sends each member its message,
and commits the page: the next cursor, the page number (`sending.segments`) and the page's
counts, conditional on the page number it read. Out of time it stops between pages and
the queue carries a follow-up message; a redelivered, retried or duplicated job continues
from the saved cursor, and re-running a finished job sends nothing.

At most once per recipient
    Each member's message goes through three steps, and the member item holds the state:

    1. claim: `send_state = claimed` (with this attempt's `claim` id), written on the
       condition that the member has no `send_state`. Only one attempt ever claims a member.
    2. the re-check and the send (below), by the claimant only.
    3. `send_state = sent` (SES's message id) in ONE transaction with the prospect's
       `last_contacted_at`, the disclosure-log entry and the audit event; or `skipped`
       (with the reason) when the re-check leaves the person out; or `failed` (SES's error
       code) when SES refused the message.

    A crash between 1 and 3 (the function timed out or was killed while SES was being
    asked, or a reply was lost) leaves the member `claimed`. Whether SES accepted that
    message is unknown, and SES has no idempotency key to ask it again safely, so the job
    deliberately never resends a claimed member: a marketing message sent twice is the
    failure the law's reader notices, one not sent is not. Such members are counted as
    `unconfirmed` in the campaign's progress, for staff to see. For the same reason the SES
    call is made once (`store.send_once_client`): botocore would otherwise repeat a request
    whose reply was lost. Throttling is different: SES refusing with `TooManyRequests` /
    `Throttling` proves nothing was sent, so the job waits and retries (exponential backoff,
    `THROTTLE_ATTEMPTS`), and if SES stays throttled it releases its claim before failing,
    so the next delivery of the job sends that message.

Checked again before each message
    Right before each message the prospect's PROFILE is read (consistently) and the
    suppression list asked: an erased prospect (no PROFILE), a restricted one (`restriction`)
    or a suppressed address is skipped, so an objection made while the campaign is sending
    (between two pages, or two messages) wins over the audience formed earlier.

Within SES's sending rate
    Messages are paced to `settings().ses_max_send_rate` per second (the account's quota).
    The event source mapping runs the function for one message at a time per campaign job;
    two jobs of different campaigns at once would share the quota, which the throttling
    retries absorb.

The Art. 14 information
    A person not yet informed (no `informed_at`) gets the Art. 14 block (`art14.block`: the
    notice's facts and the source named) in this message, and `_record_sent` sets
    `informed_at` (`email_campaign`) and takes them out of the `art14_due` index in the
    send's own transaction; later messages do not repeat it (docs/retention-and-rights.md).

The disclosure log
    The controller sending its own marketing is not a handover to a partner. The log's
    recipient for `email` is the processor that carries the message, Amazon SES
    (`disclosures.SES`), as GDPR Art. 4(9) counts processors among recipients and Art.
    15(1)(c) lets the person ask who got their data; the entry names the campaign. A
    processor acting on the controller's instructions needs no Art. 19 notice, so
    `disclosures.notices` leaves it out.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from chalicelib import art14, campaigns, clock, disclosures, prospects, store, suppression, unsubscribe
from chalicelib.audit import Access, Actor
from chalicelib.auth import SYSTEM_MAIL_SENDER
from chalicelib.config import settings
from chalicelib.logs import logger
from chalicelib.mail import compose, jobs, send
from chalicelib.registers import PROSPECT_REGISTER

KIND = "campaign"
SEND_PAGE = 50  # members per page: at 14 messages a second, a page is under four seconds
RESERVE_SECONDS = 30.0  # time kept back: a page and its commit must finish before the function's timeout
THROTTLED = frozenset({"TooManyRequestsException", "Throttling", "ThrottlingException", "LimitExceededException"})
THROTTLE_ATTEMPTS = 6  # 0.5 + 1 + 2 + 4 + 8 s of waiting before the job gives the message back

CLAIMED, SENT, SKIPPED, FAILED = "claimed", "sent", "skipped", "failed"


def pause(seconds: float) -> None:
    """Wait (tests and the benchmark replace it, so no test sleeps)."""
    time.sleep(seconds)


def monotonic() -> float:
    """The pacing clock (tests hold it still, so the waits they record do not depend on the
    machine's speed)."""
    return time.monotonic()


class Pacer:
    """Keeps messages at most `rate` per second apart."""

    def __init__(self, rate: float) -> None:
        self.interval = 1.0 / rate
        self.next_at = 0.0

    def wait(self) -> None:
        now = monotonic()
        if now < self.next_at:
            pause(self.next_at - now)
            now = self.next_at
        self.next_at = now + self.interval


class SesThrottled(RuntimeError):
    """SES stayed throttled past the retries; the claim was released, the job retries later."""


def _member_key(campaign_id: str, prospect_id: str) -> dict[str, str]:
    return {"pk": campaigns.pk(campaign_id), "sk": campaigns.member_sk(prospect_id)}


def _claim(campaign_id: str, prospect_id: str, claim: str) -> str | None:
    """Claim the member for this attempt; None if claimed, else the state it already has."""
    try:
        store.campaigns().update_item(
            Key=_member_key(campaign_id, prospect_id),
            UpdateExpression="SET send_state = :claimed, claimed_at = :now, #claim = :claim",
            ConditionExpression="attribute_exists(pk) AND attribute_not_exists(send_state)",
            ExpressionAttributeNames={"#claim": "claim"},
            ExpressionAttributeValues={":claimed": CLAIMED, ":now": clock.iso(), ":claim": claim},
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    except ClientError as exc:
        if not store.condition_failed(exc):
            raise
        old = exc.response.get("Item") or {}
        state = old.get("send_state", {}).get("S")
        return str(state) if state else "gone"
    return None


def _settle(campaign_id: str, prospect_id: str, claim: str, sets: dict[str, Any]) -> dict[str, Any]:
    """The Update (transaction item) that ends this attempt's claim with `sets`."""
    names = {f"#s{i}": k for i, k in enumerate(sets)} | {"#claim": "claim"}
    values = {f":s{i}": v for i, v in enumerate(sets.values())} | {":claim": claim}
    return {
        "Update": {
            "TableName": store.campaigns().name,
            "Key": store.typed(_member_key(campaign_id, prospect_id)),
            "UpdateExpression": "SET " + ", ".join(f"#s{i} = :s{i}" for i in range(len(sets))),
            "ConditionExpression": "#claim = :claim",
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": store.typed(values),
        }
    }


def _release(campaign_id: str, prospect_id: str, claim: str) -> None:
    """Give the member back (SES proved it sent nothing): the next attempt may claim it."""
    store.campaigns().update_item(
        Key=_member_key(campaign_id, prospect_id),
        UpdateExpression="REMOVE send_state, claimed_at, #claim",
        ConditionExpression="#claim = :claim",
        ExpressionAttributeNames={"#claim": "claim"},
        ExpressionAttributeValues={":claim": claim},
    )


def recheck(prospect_id: str) -> tuple[dict[str, Any] | None, str | None]:
    """The prospect's PROFILE now, and why it must be left out (None: send)."""
    profile: dict[str, Any] | None = (
        store.prospects()
        .get_item(Key={"pk": prospects.pk(prospect_id), "sk": prospects.PROFILE}, ConsistentRead=True)
        .get("Item")
    )
    if profile is None:
        return None, "erased"
    if "restriction" in profile:
        return profile, "restricted"
    if suppression.is_suppressed(str(profile["email"])):
        return profile, "suppressed"
    return profile, None


def ses_send(message: Any) -> str:
    """SES's message id; retries throttling (nothing sent) with backoff, never anything else."""
    for attempt in range(THROTTLE_ATTEMPTS):
        try:
            return send.send(message, "campaign", once=True)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in THROTTLED:
                raise
            if attempt + 1 < THROTTLE_ATTEMPTS:
                pause(0.5 * 2**attempt)
    raise SesThrottled("SES stayed throttled")


def _record_sent(
    meta: dict[str, Any], prospect_id: str, claim: str, message_id: str, actor: Actor, *, informed: bool
) -> None:
    """`sent`, the prospect's last contact (and, when the message carried the Art. 14
    information, `informed_at`), the disclosure entry and the audit event: one transaction.
    If the prospect was erased after the send, only the member's state is kept (there is no
    record left to note the contact on)."""
    campaign_id = str(meta["campaign_id"])
    now = clock.iso()
    settle = _settle(
        campaign_id, prospect_id, claim, {"send_state": SENT, "sent_at": now, "ses_message_id": message_id}
    )
    expr, values = "SET last_contacted_at = :now", {":now": now}
    fields: tuple[str, ...] = ("email", "contact_name")
    if informed:
        sets, removes, informed_values = art14.informed("email_campaign", now)
        expr, values = f"{expr}, {sets} REMOVE {removes}", values | informed_values
        fields += ("informed_at",)
    contacted = {
        "Update": {
            "TableName": store.prospects().name,
            "Key": store.typed({"pk": prospects.pk(prospect_id), "sk": prospects.PROFILE}),
            "UpdateExpression": expr,
            "ConditionExpression": "attribute_exists(pk)",
            "ExpressionAttributeValues": store.typed(values),
        }
    }
    entry = disclosures.entry_update(prospect_id, disclosures.SES, "email", campaign_id, actor)
    event = actor.put(Access("email", PROSPECT_REGISTER.key, prospect_id, fields), campaign_id=campaign_id)
    try:
        store.client("dynamodb").transact_write_items(TransactItems=[settle, contacted, entry, event])
    except ClientError as exc:
        if not store.condition_failed(exc):
            raise
        store.client("dynamodb").transact_write_items(TransactItems=[settle])


def send_one(meta: dict[str, Any], prospect_id: str, pacer: Pacer, actor: Actor, partner_names: dict[str, str]) -> str:
    """Send one member its message, at most once; the member's state afterwards (a skip as
    `skipped:<reason>`). `partner_names` caches the registry's names across a page (the
    Art. 14 block names the source)."""
    campaign_id = str(meta["campaign_id"])
    claim = uuid.uuid4().hex
    already = _claim(campaign_id, prospect_id, claim)
    if already is not None:
        return already
    profile, reason = recheck(prospect_id)
    if reason is not None or profile is None:
        store.client("dynamodb").transact_write_items(
            TransactItems=[_settle(campaign_id, prospect_id, claim, {"send_state": SKIPPED, "skip_reason": reason})]
        )
        return f"{SKIPPED}:{reason}"
    text = meta["send_message"]
    # The first marketing message to a person not yet informed carries the Art. 14
    # information and counts as informing them (Art. 14(3)(b)); later ones do not repeat it.
    inform = not profile.get("informed_at")
    info = (art14.block(profile, text["lang"], partner_names),) if inform else ()
    message = compose.marketing(
        str(profile["email"]),
        text["subject"],
        text["text"],
        unsubscribe.issue(str(profile["email"])),
        text["lang"],
        info=info,
    )
    pacer.wait()
    try:
        message_id = ses_send(message)
    except SesThrottled:
        _release(campaign_id, prospect_id, claim)
        raise
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code") or "Unknown")
        store.client("dynamodb").transact_write_items(
            TransactItems=[_settle(campaign_id, prospect_id, claim, {"send_state": FAILED, "error_code": code})]
        )
        return FAILED
    _record_sent(meta, prospect_id, claim, message_id, actor, informed=inform)
    return SENT


def _count(outcomes: list[str]) -> dict[str, Any]:
    counts = campaigns.zero_send_counts()
    for outcome in outcomes:
        if outcome.startswith(f"{SKIPPED}:"):
            counts["excluded"][outcome.split(":", 1)[1]] += 1
        elif outcome in (SENT, FAILED):
            counts[outcome] += 1
        elif outcome == CLAIMED:
            counts["unconfirmed"] += 1
    return counts


def send_page(campaign_id: str, pacer: Pacer) -> bool:
    """Send one page of the audience and commit it; True when the campaign has no more to send."""
    meta = campaigns.get(campaign_id)
    sending = meta.get("sending")
    if not sending or sending["status"] != "sending":
        return True
    if meta["status"] != "ready":  # closed while sending: nothing more goes out
        return True
    segment = int(sending["segments"])
    query: dict[str, Any] = {
        "KeyConditionExpression": Key("pk").eq(campaigns.pk(campaign_id))
        & Key("sk").begins_with(campaigns.MEMBER_PREFIX),
        "Limit": SEND_PAGE,
        "ConsistentRead": True,
    }
    if meta.get("send_cursor"):
        query["ExclusiveStartKey"] = meta["send_cursor"]
    resp = store.campaigns().query(**query)
    actor = Actor(SYSTEM_MAIL_SENDER, campaign_id)
    outcomes = []
    partner_names: dict[str, str] = {}
    for member in resp["Items"]:
        state = member.get("send_state")
        outcome = (
            f"{SKIPPED}:{member.get('skip_reason')}"
            if state == SKIPPED
            else str(state)
            if state
            else send_one(meta, str(member["prospect_id"]), pacer, actor, partner_names)
        )
        outcomes.append(outcome)
    counts = _count(outcomes)
    next_cursor = resp.get("LastEvaluatedKey")
    names = {"#sending": "sending", "#segments": "segments", "#counts": "counts", "#excluded": "excluded"}
    values: dict[str, Any] = {":segment": segment, ":next": segment + 1, ":sending": "sending"}
    sets = ["#sending.#segments = :next"]
    for name in ("sent", "failed", "unconfirmed"):
        names[f"#{name}"] = name
        values[f":{name}"] = counts[name]
        sets.append(f"#sending.#counts.#{name} = #sending.#counts.#{name} + :{name}")
    for i, reason in enumerate(campaigns.SEND_EXCLUSIONS):
        names[f"#x{i}"] = reason
        values[f":x{i}"] = counts["excluded"][reason]
        sets.append(f"#sending.#counts.#excluded.#x{i} = #sending.#counts.#excluded.#x{i} + :x{i}")
    names["#status"] = "status"
    if next_cursor:
        values[":cursor"] = next_cursor
        expr = "SET " + ", ".join([*sets, "send_cursor = :cursor"])
    else:
        values |= {":finished": SENT, ":now": clock.iso()}
        expr = (
            "SET "
            + ", ".join([*sets, "#sending.#status = :finished", "#sending.finished_at = :now"])
            + " REMOVE send_cursor"
        )
    try:
        store.campaigns().update_item(
            Key={"pk": campaigns.pk(campaign_id), "sk": campaigns.META},
            UpdateExpression=expr,
            ConditionExpression="#sending.#status = :sending AND #sending.#segments = :segment",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        )
    except ClientError as exc:
        if store.condition_failed(exc):
            logger.info(
                "campaign send page committed elsewhere", extra={"campaign_id": campaign_id, "segment": segment}
            )
            return False
        raise
    if not next_cursor:
        logger.info("campaign sent", extra={"campaign_id": campaign_id, "segments": segment + 1})
    return not next_cursor


def run(body: dict[str, Any], time_left: Callable[[], float]) -> bool:
    """The `campaign` job: pages while time lasts; False means continue with a follow-up."""
    campaign_id = body.get("campaign_id")
    if not isinstance(campaign_id, str):
        raise ValueError("the job names no campaign")
    pacer = Pacer(settings().ses_max_send_rate)
    while True:
        if send_page(campaign_id, pacer):
            return True
        if time_left() < RESERVE_SECONDS:
            return False


jobs.register(KIND, run)
