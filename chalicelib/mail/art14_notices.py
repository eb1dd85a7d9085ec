"""The nightly Art. 14 notice: the `art14_notices` job of the mail queue (chalicelib/mail/jobs.py).

The scheduled function `art14_notices` (chalicelib/events.py, 03:00 Europe/Helsinki)
queues one job `{"as_of": "YYYY-MM-DD"}`; `mail_sender` runs it here. The job walks the
sparse `art14_due` index (`art14.pending_query`: the uninformed, oldest first) up to the
day's due line (`art14.due_before`: obtained 25 days ago or earlier) one page at a time,
and sends each person a notice-only message: the Art. 14 information in Finnish and in
English (`art14.block`), with the opt-out headers and link of every marketing message
(`compose.marketing`: List-Unsubscribe, one-click). Out of time it stops between pages and
the queue carries the follow-up with the index position reached (`after`: the index key,
a prospect id and a date; no contact data); a redelivered or duplicated job starts again
from its own position, and nothing is sent twice:

At most once per person
    1. claim: `art14_claim` on the PROFILE, on the condition that the person is still
       pending, unclaimed and uninformed: two runs (the schedule's retry, an operator's
       manual run, the follow-up and a redelivery) cannot both claim one person.
    2. the re-check of a campaign message (`campaign_send.recheck`: erased, restricted or
       suppressed is left out, with the reason kept as `art14_skip` for the DPO and the
       claim given back; the person is tried again on a later night);
    3. the send, paced and with the throttling retries of campaign sending
       (`campaign_send.ses_send`); then ONE transaction: `informed_at` (`notice_email`),
       the person out of the index, the disclosure-log entry (Amazon SES, purpose
       `art14_notice`) and the audit event, conditional on this claim.
    A crash between 1 and 3 leaves the claim: whether SES accepted that message is unknown,
    so it is never resent, and the DPO's list shows it as `unconfirmed`. SES refusing the
    message (not throttling) gives the claim back with `art14_skip = send_failed:<code>`.

A person with no email address is not mailed (`art14_skip = no_email`); the DPO's list
names them, and the call list's script informs them at the first call.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date
from typing import Any

from botocore.exceptions import ClientError

from chalicelib import art14, clock, disclosures, prospects, store, unsubscribe
from chalicelib.audit import Access, Actor
from chalicelib.auth import SYSTEM_MAIL_SENDER
from chalicelib.config import settings
from chalicelib.logs import logger
from chalicelib.mail import compose, jobs
from chalicelib.mail.campaign_send import RESERVE_SECONDS, Pacer, SesThrottled, recheck, ses_send
from chalicelib.registers import PROSPECT_REGISTER

KIND = art14.JOB
PAGE = 50
SENT, SKIPPED, FAILED, UNCONFIRMED, GONE = "sent", "skipped", "failed", "unconfirmed", "gone"


def _key(prospect_id: str) -> dict[str, str]:
    return {"pk": prospects.pk(prospect_id), "sk": prospects.PROFILE}


def _mark_no_email(profile: dict[str, Any]) -> None:
    """Keep why the person is not mailed, for the DPO (once; only while still pending)."""
    if profile.get("art14_skip") == "no_email":
        return
    try:
        store.prospects().update_item(
            Key=_key(str(profile["prospect_id"])),
            UpdateExpression="SET art14_skip = :why, art14_skip_at = :now",
            ConditionExpression="attribute_exists(#pending) AND attribute_not_exists(email)",
            ExpressionAttributeNames={"#pending": art14.PENDING_ATTR},
            ExpressionAttributeValues={":why": "no_email", ":now": clock.iso()},
        )
    except ClientError as exc:
        if not store.condition_failed(exc):
            raise


def _claim(prospect_id: str, claim: str) -> bool:
    """Claim the person's notice for this attempt; False if it is not theirs to send now."""
    try:
        store.prospects().update_item(
            Key=_key(prospect_id),
            UpdateExpression="SET art14_claim = :claim, art14_claimed_at = :now",
            ConditionExpression="attribute_exists(#pending) AND attribute_not_exists(art14_claim) "
            "AND attribute_not_exists(informed_at)",
            ExpressionAttributeNames={"#pending": art14.PENDING_ATTR},
            ExpressionAttributeValues={":claim": claim, ":now": clock.iso()},
        )
    except ClientError as exc:
        if not store.condition_failed(exc):
            raise
        return False
    return True


def _give_back(prospect_id: str, claim: str, why: str | None) -> None:
    """End this attempt's claim without a message: `why` is kept for the DPO (None: throttled)."""
    sets = " SET art14_skip = :why, art14_skip_at = :now" if why else ""
    values: dict[str, Any] = {":claim": claim}
    if why:
        values |= {":why": why, ":now": clock.iso()}
    try:
        store.prospects().update_item(
            Key=_key(prospect_id),
            UpdateExpression="REMOVE art14_claim, art14_claimed_at" + sets,
            ConditionExpression="art14_claim = :claim",
            ExpressionAttributeValues=values,
        )
    except ClientError as exc:
        if not store.condition_failed(exc):
            raise  # erased meanwhile: nothing is left to mark


def _record_sent(prospect_id: str, claim: str, actor: Actor) -> None:
    """Informed by `notice_email`, out of the index, the disclosure entry and the audit event:
    one transaction, conditional on this claim (an erased person leaves nothing to record)."""
    now = clock.iso()
    sets, removes, values = art14.informed("notice_email", now)
    update = {
        "Update": {
            "TableName": store.prospects().name,
            "Key": store.typed(_key(prospect_id)),
            "UpdateExpression": f"SET {sets} REMOVE {removes}, art14_claim, art14_claimed_at",
            "ConditionExpression": "art14_claim = :claim",
            "ExpressionAttributeValues": store.typed({**values, ":claim": claim}),
        }
    }
    entry = disclosures.entry_update(prospect_id, disclosures.SES, "art14_notice", None, actor)
    event = actor.put(
        Access("email", PROSPECT_REGISTER.key, prospect_id, ("email", "contact_name", "informed_at")),
        reason="art14_notice",
    )
    try:
        store.client("dynamodb").transact_write_items(TransactItems=[update, entry, event])
    except ClientError as exc:
        if not store.condition_failed(exc):
            raise


def message(profile: dict[str, Any], names: dict[str, str]) -> Any:
    """The notice-only message: Finnish first (the default), then English; opt-out as in marketing."""
    address = str(profile["email"])
    info = (art14.block(profile, "fi", names), art14.block(profile, "en", names))
    subject = f"{art14.NOTICE_SUBJECT.fi} / {art14.NOTICE_SUBJECT.en}"
    text = f"{art14.NOTICE_TEXT.fi}\n\n{art14.NOTICE_TEXT.en}"
    return compose.marketing(address, subject, text, unsubscribe.issue(address), "fi", info=info)


def notify(item: dict[str, Any], pacer: Pacer, actor: Actor, names: dict[str, str]) -> str:
    """Send one person of the index their notice, at most once; the outcome."""
    prospect_id = str(item["prospect_id"])
    if item.get("art14_claim"):
        return UNCONFIRMED
    if not item.get("email"):
        _mark_no_email(item)
        return SKIPPED
    claim = uuid.uuid4().hex
    if not _claim(prospect_id, claim):
        return GONE
    profile, reason = recheck(prospect_id)
    if reason is not None or profile is None:
        _give_back(prospect_id, claim, reason)
        return SKIPPED
    msg = message(profile, names)
    pacer.wait()
    try:
        ses_send(msg)
    except SesThrottled:
        _give_back(prospect_id, claim, None)
        raise
    except ClientError as exc:
        _give_back(prospect_id, claim, f"send_failed:{exc.response.get('Error', {}).get('Code') or 'Unknown'}")
        return FAILED
    _record_sent(prospect_id, claim, actor)
    return SENT


def run(body: dict[str, Any], time_left: Callable[[], float]) -> bool:
    """The job: pages of the due until none is left (True) or time runs low (False; `body`
    then holds the position for the follow-up message)."""
    raw = body.get("as_of")
    if not isinstance(raw, str):
        raise ValueError("the art14_notices job names its day")
    as_of = date.fromisoformat(raw)
    upper = art14.due_before(as_of)
    actor = Actor(SYSTEM_MAIL_SENDER, f"art14_notices_{raw}")
    pacer = Pacer(settings().ses_max_send_rate)
    names: dict[str, str] = {}
    counts: dict[str, int] = {}
    while True:
        page = art14.pending_query(upper, limit=PAGE, start=body.get("after"))
        for item in page["items"]:
            outcome = notify(item, pacer, actor, names)
            counts[outcome] = counts.get(outcome, 0) + 1
        if not page["last_key"]:
            logger.info("art14 notices done", extra={"as_of": raw, **counts})
            return True
        body["after"] = page["last_key"]
        if time_left() < RESERVE_SECONDS:
            logger.info("art14 notices continue", extra={"as_of": raw, **counts})
            return False


jobs.register(KIND, run)
