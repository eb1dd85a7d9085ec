"""GDPR Art. 14 for the prospect register: when the data was obtained, when and how the
person was told, the information they are given, and who is due to be told.

The prospect register's data does not come from the person (partners' files, staff entry
from public pages), so the person must be told who we are, why and on what basis we hold
it, what it is, where it came from, how long it is kept and their rights, and the right
to object must be stated apart and clearly (Art. 14(1), (2), 21(4)). Art. 14(3) sets the
time: within a reasonable period, at the latest within one month of obtaining the data
(a), or at the first communication if the data is used to communicate (b).

On the PROFILE (`prospects.profile_item`)
    `obtained_at`   when the data first came in (an import row, a staff entry); a record
                    older than this field shows its `first_seen` instead (`obtained_at()`).
    `informed_at`, `informed_how`
                    when and how the person was informed: `email_campaign` (the first
                    marketing message carried this information), `notice_email` (the
                    notice-only message of the nightly job), `phone_call` (a call list
                    outcome `reached` or `objected`: the caller's script is the information
                    for the phone). Set once (`if_not_exists`), never moved.
    `art14_pending` the constant `uninformed` while the person is not informed: with
                    `obtained_at` it keys the sparse `art14_due` index (infra/resources.json),
                    so the nightly job and the DPO's list find the uninformed by date with a
                    Query, never a Scan, as `retention_due` does for the sweeper. Removed in
                    the same transaction that sets `informed_at`.
    `art14_claim`, `art14_skip`
                    the notice job's bookkeeping (chalicelib/mail/art14_notices.py): a claim
                    left by a send whose outcome is unknown (never resent), or why the last
                    attempt left the person out (no email, suppressed, restricted, SES
                    refused), shown to the DPO.

When (`due_on`, `deadline`)
    The notice is *due* 25 days after the day the data was obtained (Finnish days), so the
    nightly job sends it with days to spare within the month; it is *overdue* after the
    day one calendar month from obtaining (`customers.add_months`: Jan 31 → Feb 28), the
    last day Art. 14(3)(a) allows. The DPO lists both.

The information (`block`)
    Generated from the privacy notice (`notice.notice`): the same controller, purposes,
    legal basis and legitimate interest, categories (the prospect record's fields),
    recipients, retention rules and rights, so the two cannot drift; the source is named
    per person (`prospects.source_name`: the partner's registered name, or public sources
    for a staff entry), the same words a caller reads from the call list.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any, Literal

from boto3.dynamodb.conditions import Key
from typing_extensions import TypedDict  # pydantic reads TypedDicts from here before Python 3.12

from chalicelib import clock, store
from chalicelib.customers import add_months
from chalicelib.errors import ValidationFailed
from chalicelib.mail.compose import InfoBlock, lang_or_default
from chalicelib.registers import PROSPECT, Text

INDEX = "art14_due"
JOB = "art14_notices"  # the mail job kind (chalicelib/mail/art14_notices.py)
PENDING_ATTR = "art14_pending"
PENDING = "uninformed"
DUE_AFTER_DAYS = 25
LIMIT_MONTHS = 1
HOW = ("email_campaign", "notice_email", "phone_call")
RUN_HOUR = 3  # the nightly job acts at 03:xx in Helsinki, after the 02:00 retention sweep
# What a rewritten PROFILE (an import's changed row, a hand-over between partners) keeps.
KEEP = ("obtained_at", "informed_at", "informed_how", "art14_claim", "art14_claimed_at", "art14_skip", "art14_skip_at")
State = Literal["due", "overdue"]
STATES: tuple[State, ...] = ("due", "overdue")


def new_record(now: str) -> dict[str, str]:
    """The Art. 14 attributes of a new PROFILE: obtained now, not informed."""
    return {"obtained_at": now, PENDING_ATTR: PENDING}


def obtained_at(profile: dict[str, Any]) -> str | None:
    """When the data was obtained; a record older than the field shows when it was first seen."""
    value = profile.get("obtained_at") or profile.get("first_seen")
    return str(value) if value else None


def carry(item: dict[str, Any], current: dict[str, Any] | None) -> None:
    """Keep the Art. 14 facts of `current` (the PROFILE as stored) in `item`, its rewrite.

    A rewrite must not make an informed person uninformed, nor move when the data came:
    `obtained_at` stays (a record older than it gets its `first_seen`), `informed_*` stay
    and then the rewrite is not pending.
    """
    if current is None:
        return
    for name in KEEP:
        if name in current:
            item[name] = current[name]
        else:
            item.pop(name, None)
    item["obtained_at"] = obtained_at(current) or item.get("obtained_at")
    if current.get("informed_at"):
        item.pop(PENDING_ATTR, None)
    else:
        item[PENDING_ATTR] = PENDING


def informed(how: str, now: str) -> tuple[str, str, dict[str, str]]:
    """For an UpdateExpression on the PROFILE: the SET clause, the REMOVE clause and the
    values that record the person as informed `how` (the first time only)."""
    if how not in HOW:
        raise ValueError(f"unknown way of informing {how}")
    sets = "informed_at = if_not_exists(informed_at, :informed_at), informed_how = if_not_exists(informed_how, :how)"
    removes = f"{PENDING_ATTR}, art14_skip, art14_skip_at"
    return sets, removes, {":informed_at": now, ":how": how}


# -- dates ----------------------------------------------------------------------------------


def obtained_day(obtained: str) -> date:
    return clock.local_date(datetime.fromisoformat(obtained.replace("Z", "+00:00")))


def due_on(obtained: str) -> date:
    """The day the nightly job sends the notice."""
    return obtained_day(obtained) + timedelta(days=DUE_AFTER_DAYS)


def deadline(obtained: str) -> date:
    """The last day Art. 14(3)(a) allows: one calendar month from obtaining the data."""
    return add_months(obtained_day(obtained), LIMIT_MONTHS)


def _start_of(day: date) -> str:
    """The first instant of the Finnish `day`, as stored timestamps compare (ISO UTC)."""
    return clock.iso(datetime.combine(day, time(0), tzinfo=clock.HELSINKI))


def due_before(today: date) -> str:
    """`obtained_at` below this is due on `today` (obtained `DUE_AFTER_DAYS` days ago or earlier)."""
    return _start_of(today - timedelta(days=DUE_AFTER_DAYS - 1))


def overdue_before(today: date) -> str:
    """`obtained_at` below this is overdue on `today` (its deadline was before today)."""
    last = today - timedelta(days=27)  # a month is at least 28 days: later days are never overdue
    while add_months(last, LIMIT_MONTHS) >= today:
        last -= timedelta(days=1)
    return _start_of(last + timedelta(days=1))


def is_run_hour(moment: datetime) -> bool:
    """True when `moment` is 03:xx in Helsinki (the schedule fires at two UTC hours)."""
    return moment.astimezone(clock.HELSINKI).hour == RUN_HOUR


def pending_query(upper: str, lower: str | None = None, *, limit: int, start: dict[str, Any] | None) -> dict[str, Any]:
    """One page of the uninformed with `lower` <= `obtained_at` < `upper`, oldest first."""
    condition = Key(PENDING_ATTR).eq(PENDING) & (
        Key("obtained_at").between(lower, upper) if lower else Key("obtained_at").lt(upper)
    )
    kwargs: dict[str, Any] = {"IndexName": INDEX, "KeyConditionExpression": condition, "Limit": limit}
    if start:
        kwargs["ExclusiveStartKey"] = start
    resp = store.prospects().query(**kwargs)
    items = [i for i in resp["Items"] if str(i.get("obtained_at")) < upper]  # `between` includes `upper`
    return {"items": items, "last_key": resp.get("LastEvaluatedKey")}


# -- the DPO's list -------------------------------------------------------------------------

# The fields of the person's record the list reads (its audit event names them).
LISTED_FIELDS = ("obtained_at", "informed_at", "email")


class Art14Item(TypedDict):
    """One person not yet informed: dates, the source, whether they can be mailed; no contact data."""

    prospect_id: str
    obtained_at: str
    due_on: str
    deadline: str
    days_overdue: int
    source: str
    has_email: bool
    notice: str


class Art14Page(TypedDict):
    state: str
    as_of: str
    items: list[Art14Item]
    next_cursor: str | None


def notice_state(profile: dict[str, Any]) -> str:
    """Where the person's notice stands: `waiting` for the nightly job, `unconfirmed` (a send
    whose outcome is unknown: never resent), or `not_sent:<reason>` from the last attempt."""
    if profile.get("art14_claim"):
        return "unconfirmed"
    if profile.get("art14_skip"):
        return f"not_sent:{profile['art14_skip']}"
    return "waiting"


def listing(state: str, today: date, limit: int, cursor: str | None) -> dict[str, Any]:
    """A page of the uninformed who are `due` (the job sends now; within the month) or
    `overdue` (past the month), oldest first: ids, dates and the source, no contact data."""
    if state not in STATES:
        raise ValidationFailed("state must be due or overdue.", code="invalid_query")
    overdue = overdue_before(today)
    upper, lower = (overdue, None) if state == "overdue" else (due_before(today), overdue)
    start = store.decode_cursor(cursor, {"pk", "sk", PENDING_ATTR, "obtained_at"})
    page = pending_query(upper, lower, limit=limit, start=start)
    from chalicelib import prospects  # it imports this module for its new records

    names: dict[str, str] = {}
    items = []
    for profile in page["items"]:
        obtained = str(profile["obtained_at"])
        last = deadline(obtained)
        items.append(
            {
                "prospect_id": profile["prospect_id"],
                "obtained_at": obtained,
                "due_on": due_on(obtained).isoformat(),
                "deadline": last.isoformat(),
                "days_overdue": max(0, (today - last).days),
                "source": prospects.source_name(profile, prospects.source_partners(profile), names, "en"),
                "has_email": bool(profile.get("email")),
                "notice": notice_state(profile),
            }
        )
    return {
        "state": state,
        "as_of": today.isoformat(),
        "items": items,
        "next_cursor": store.encode_cursor(page["last_key"]),
    }


# -- the information ------------------------------------------------------------------------

_TITLE = Text(
    "Tietoa henkilötietojesi käsittelystä (EU:n tietosuoja-asetuksen 14 artikla)",
    "How we process your personal data (EU General Data Protection Regulation, Article 14)",
)
_INTRO = Text(
    "Tietosi ovat prospektirekisterissämme. Kerromme tässä, miten niitä käsitellään.",
    "Your contact details are in our prospect register. This is how we process them.",
)
_LABELS = {
    "categories": Text("Käsiteltävät tiedot", "The data we hold"),
    "source": Text("Mistä tietosi saimme", "Where we got your data"),
}
_OBJECTION = Text(
    "OIKEUS VASTUSTAA: Voit milloin tahansa ja maksutta kieltää tietojesi käytön suoramarkkinointiin "
    "(GDPR 21 artikla). Sen jälkeen sinuun ei oteta yhteyttä ja tietosi poistetaan. Kiellä tästä linkistä:",
    "YOUR RIGHT TO OBJECT: You may object at any time, free of charge, to the use of your data for direct "
    "marketing (GDPR Article 21). After that you are not contacted and your data is removed. Object with "
    "this link:",
)
NOTICE_SUBJECT = Text("Tietoa henkilötietojesi käsittelystä", "How we process your personal data")
NOTICE_TEXT = Text(
    "Hei,\n\nlähetämme tämän viestin, koska yhteystietosi ovat prospektirekisterissämme ja laki "
    "edellyttää, että kerromme siitä sinulle. Viesti ei ole mainos. (In English below.)",
    "Hello,\n\nwe send this message because your contact details are in our prospect register and the "
    "law requires us to tell you. This message is not an advertisement.",
)


def block(profile: dict[str, Any], lang: str | None, names: dict[str, str] | None = None) -> InfoBlock:
    """The Art. 14 information for the person of `profile`, in `lang` (Finnish by default)."""
    from chalicelib import notice, prospects  # the notice's definitions, only where a message needs them

    lang = lang_or_default(lang)
    doc = notice.notice(lang)
    label = doc["labels"]
    reg = next(r for r in doc["registers"] if r["key"] == prospects.REGISTER)
    controller = doc["controller"]
    fields = next(c["fields"] for c in reg["content"] if c["record_type"] == PROSPECT.label.get(lang))
    source = prospects.source_name(profile, prospects.source_partners(profile), {} if names is None else names, lang)
    retention = " ".join(
        f"{r['event']} ({r['after']}): {r['then']}" for r in reg["retention"] if r["data"] == PROSPECT.label.get(lang)
    )
    basis = reg["legal_basis"]
    if reg["legitimate_interest"]:
        basis = f"{basis} {label['legitimate_interest']}: {reg['legitimate_interest']}"
    paragraphs = (
        _INTRO.get(lang),
        f"{label['controller']}: {controller['name']} ({controller['trade_name']}), {controller['contact_email']}",
        f"{label['purpose']}: {reg['purpose']}",
        f"{label['legal_basis']}: {basis}",
        f"{_LABELS['categories'].get(lang)}: {', '.join(fields)}",
        f"{_LABELS['source'].get(lang)}: {source}",
        f"{label['recipients']}: {reg['recipients']}",
        f"{label['retention']}: {retention}",
        f"{label['rights']}: {doc['rights']}",
    )
    return InfoBlock(lang=lang, title=_TITLE.get(lang), paragraphs=paragraphs, objection=_OBJECTION.get(lang))
