"""The privacy center: a person with no login makes a request and proves the address by a link.

The path of a request
    `request()` validates the address and the type, opens an `unverified` case
    (chalicelib/cases.py, channel `privacy_center`) and mails a one-time link to that
    address. The HTTP answer is one and the same whatever the address (`ACCEPTED`): the
    registers are never looked up before the address is proven, so the answer and the work
    done (a case, a link, a message) are the same for a stranger and for a person we hold,
    and the route is no existence oracle. `redeem()` — the POST behind the link's page;
    mail scanners prefetch GETs, so opening the link changes nothing — uses the link up and
    verifies the case in one transaction (`cases.verify_by_link`) and gives a session for
    that case.

The one-time link (`LinkCode`)
    `<case_id>.<secret>`: 256 random bits; the case keeps only a keyed hash of the secret
    (HMAC-SHA256 under the pseudonym keyring, like confirmation codes), its expiry
    (`LINK_HOURS`) and a count of wrong tries, in the case item's `link` map. The link
    works once (redeeming removes `link` in the transaction that verifies the case, with
    both audit events, on the condition that the hash is still there and the case unchanged,
    so two racing clicks cannot both win, and a failed redemption leaves the link usable)
    and no more after `MAX_ATTEMPTS` wrong secrets for the case. Every failure (unknown case, wrong
    secret, expired, used, locked, malformed) is one answer, `InvalidLink`, so the link
    page tells nobody which cases exist.

The case session
    Redeeming returns a token sealed with AES-256-GCM (`seal_session`): the case id, the
    address the link proved, the language and an expiry (`SESSION_MINUTES`). The key is
    derived (HMAC with this module's own context) from the unsubscribe keyring, which every
    function serving public pages already reads: one secret to rotate, separate keys. It
    holds the address because the case drops its `contact` when it closes, and the person
    who has just seen their access export must still be able to download it or object
    within the session. A browser gets it as a cookie (`HttpOnly; Secure; SameSite=Strict`,
    path-scoped to the privacy center: no script reads it, no other site's form sends it,
    no other route sees it); a JSON client sends it in the `X-Case-Session` header. No other
    site's form can have one *set* either (its own link posted from the victim's browser:
    login CSRF): the center's form routes refuse a browser's cross-site post
    (chalicelib/api/cross_origin.py). No
    server-side session table: the session cannot outlive its expiry, and everything it
    does is a case function that checks the case's own state.

What a session may do (`act`)
    Only for the address its link proved: when the asked action is the session's own case's
    type and that case is open, that case is carried out; any other action opens a new case
    for the same address, verified by the same link (`verified_by="email_link"`,
    `details.from_case`), so every request the person makes is a case of its own with its
    own type, deadline and outcome. Access and portability and objection are carried out at
    once (`cases.carry_out` closes them); erasure carries itself out where no judgement is
    needed (the address is held only as a prospect, or nowhere; `carry_out` closes it unless
    a legal hold or restriction keeps something) and otherwise stays open, untouched, for
    staff; rectification is never carried out here: it stays open for staff with the asked
    changes as the case's `details`; restriction on a temporary ground (accuracy contested,
    objection pending: Art. 18(1)(a), (d)) is carried out at once, as Art. 18 applies while
    the ground is checked, and the case stays open for staff to review and close; a ground
    that would keep the data from deletion (18(1)(b), (c)) waits for staff to check it.

Abuse
    Anyone can make the center mail a link to any address, as any sign-up form can; the
    message only asks to confirm and says an unconfirmed request is deleted. The routes are
    throttled per method (infra/resources.json) and per client by the WAF, and one address
    gets at most `LINKS_PER_ADDRESS_PER_DAY` links a day (the cases' `by_email` index, by the
    keyed hash): past that a request gets the same answer and nothing is opened or sent. The
    count is of requests to the center, not of anything in the registers, so it is no oracle.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode, urlparse

from boto3.dynamodb.conditions import Attr, Key
from botocore.exceptions import ClientError

from chalicelib import cases, clock, pseudonyms, restriction, store, subjects, unsubscribe
from chalicelib.aead import InvalidSeal, seal, unseal
from chalicelib.audit import Access, Actor
from chalicelib.config import settings
from chalicelib.errors import Conflict, NotFound, ValidationFailed
from chalicelib.logs import logger
from chalicelib.mail import compose
from chalicelib.mail.compose import Template
from chalicelib.mail.send import send
from chalicelib.secrets import keyring
from chalicelib.validation import checked_email

LINK_HOURS = 24
# Links one address can be sent in 24 hours: enough for a person who lost a message, too few
# to flood a mailbox (or SES's reputation) through the center.
LINKS_PER_ADDRESS_PER_DAY = 3
MAX_ATTEMPTS = 5
SESSION_MINUTES = 30
CHANNEL = "privacy_center"
PAGE_PATH = unsubscribe.PRIVACY_CENTER_PATH
LINK_PATH = "/privacy-center/link"
COOKIE = "case_session"
HEADER = "x-case-session"
_CONTEXT = b"ilopiste/case-session/v1"
_MAX_SESSION = 2048
_LINK = re.compile(r"^([0-9a-f]{32})\.([A-Za-z0-9_-]{40,64})$")

# One answer for every request that passes validation, whoever the address belongs to.
ACCEPTED = {
    "status": "link_sent",
    "message": "If the address can receive mail, a one-time link has been sent to it. Open it within "
    f"{LINK_HOURS} hours to confirm the request; it works once.",
}

LINK_MESSAGE = Template(
    subject={"fi": "Vahvista tietosuojapyyntösi", "en": "Confirm your privacy request"},
    body={
        "fi": "Hei,\n\ntällä osoitteella tehtiin tietosuojakeskuksessamme pyyntö: {kind}. Vahvista, että "
        "pyyntö on sinun, avaamalla tämä linkki ja painamalla sivun painiketta:\n\n{link}\n\n"
        "Linkki toimii kerran ja on voimassa {hours} tuntia. Vahvistuksen jälkeen näet pyyntösi ja "
        "tietosi ja voit tehdä muut pyyntösi samalla kertaa. Jos et tehnyt pyyntöä, voit jättää viestin "
        "huomiotta: vahvistamaton pyyntö poistetaan, eikä tietoihisi tehdä mitään.",
        "en": "Hello,\n\na request was made with this address in our privacy center: {kind}. Confirm that "
        "the request is yours by opening this link and pressing the page's button:\n\n{link}\n\n"
        "The link works once and is valid for {hours} hours. Once confirmed, you see your request and "
        "your data and can make your other requests at the same time. If you did not make the request, "
        "ignore this message: an unconfirmed request is deleted and nothing is done to your data.",
    },
)

KIND_NAMES = {
    "fi": {
        "access": "tietojesi näyttäminen",
        "rectification": "tietojesi korjaaminen",
        "erasure": "tietojesi poistaminen",
        "restriction": "käsittelyn rajoittaminen",
        "objection": "suoramarkkinoinnin vastustaminen",
        "portability": "tietojesi siirtäminen koneluettavassa muodossa",
    },
    "en": {
        "access": "access to your data",
        "rectification": "rectification of your data",
        "erasure": "erasure of your data",
        "restriction": "restriction of processing",
        "objection": "objection to direct marketing",
        "portability": "your data in a machine-readable form",
    },
}


class InvalidLink(ValidationFailed):
    """Any link that does not verify: one answer, whatever the reason."""

    code = "invalid_link"

    def __init__(self) -> None:
        super().__init__("The link is not valid, or it has expired or been used.")


class InvalidSession(ValidationFailed):
    """No session, or one that is forged, expired or of another case: one answer."""

    code = "invalid_session"

    def __init__(self) -> None:
        super().__init__("No valid privacy center session: open the link from the message again or make a new request.")


@dataclass(frozen=True)
class Session:
    """What a redeemed link proved: the case, the address, the language, until when."""

    case_id: str
    email: str
    lang: str
    expires: int  # Unix seconds

    def expires_at(self) -> str:
        return clock.iso(datetime.fromtimestamp(self.expires, UTC))


def check_kind(kind: object) -> str:
    """`kind` if it is a request type (400 otherwise)."""
    if not isinstance(kind, str) or kind not in cases.CASE_TYPES:
        raise ValidationFailed(
            f"type must be one of {', '.join(cases.CASE_TYPES)}.", details=[{"field": "type", "reason": "invalid"}]
        )
    return kind


# -- the one-time link ---------------------------------------------------------------------


def _digest(secret: str, version: str, key: bytes) -> str:
    return pseudonyms.digest("case-link", secret, version, key)


def new_link(case_id: str) -> tuple[str, dict[str, Any]]:
    """A fresh link code for `case_id`, and what the case keeps of it (hash, expiry, tries)."""
    ring = pseudonyms.ring()
    secret = secrets.token_urlsafe(32)
    kept = {
        "code_hash": _digest(secret, ring.current, ring.current_key),
        "expires_at": clock.iso(clock.now() + timedelta(hours=LINK_HOURS)),
        "attempts": 0,
    }
    return f"{case_id}.{secret}", kept


def link_url(token: str, lang: str) -> str:
    """The link the message carries: a page that asks to confirm (a GET changes nothing)."""
    return f"{settings().public_base_url}{LINK_PATH}?{urlencode({'token': token, 'lang': lang})}"


def _parse_link(token: object) -> tuple[str, str]:
    match = _LINK.match(token) if isinstance(token, str) else None
    if not match:
        raise InvalidLink()
    return match.group(1), match.group(2)


def _matches(secret: str, kept: dict[str, Any]) -> bool:
    stored = str(kept.get("code_hash", ""))
    key = pseudonyms.ring().keys.get(pseudonyms.version_of(stored))
    return key is not None and hmac.compare_digest(_digest(secret, pseudonyms.version_of(stored), key), stored)


def _usable(kept: object) -> bool:
    return (
        isinstance(kept, dict)
        and int(kept.get("attempts", MAX_ATTEMPTS)) < MAX_ATTEMPTS
        and str(kept.get("expires_at", "")) > clock.iso()
    )


def _case_key(case_id: str) -> dict[str, Any]:
    return {"case_id": {"S": case_id}}


def _store_link(case_id: str, kept: dict[str, Any], actor: Actor) -> None:
    """Keep the link's hash on the (still unverified) case, with its audit event."""
    update = {
        "TableName": store.request_cases().name,
        "Key": _case_key(case_id),
        "UpdateExpression": "SET #l = :link, version = version + :one",
        "ConditionExpression": "attribute_exists(case_id) AND #s = :unverified",
        "ExpressionAttributeNames": {"#l": cases.LINK, "#s": "status"},
        "ExpressionAttributeValues": store.typed({":link": kept, ":unverified": "unverified", ":one": 1}),
    }
    access = Access("link_sent", cases.REGISTER, case_id, (cases.LINK,))
    store.client("dynamodb").transact_write_items(TransactItems=[{"Update": update}, actor.put(access)])


def _count_miss(case_id: str, kept: dict[str, Any]) -> None:
    """One more wrong secret against the case's link (conditional: no lost counts)."""
    try:
        store.request_cases().update_item(
            Key={"case_id": case_id},
            UpdateExpression="SET #l.attempts = #l.attempts + :one, version = version + :one",
            ConditionExpression="#l.code_hash = :hash",
            ExpressionAttributeNames={"#l": cases.LINK},
            ExpressionAttributeValues={":one": 1, ":hash": kept["code_hash"]},
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise


# -- requests ---------------------------------------------------------------------------------


def request(kind: str, email: object, lang: str | None, actor: Actor) -> None:
    """Open an unverified case for `email` and mail it a one-time link (nothing is returned:
    the caller answers `ACCEPTED` whoever the address belongs to)."""
    kind = check_kind(kind)
    norm = checked_email(email)
    lang = compose.lang_or_default(lang)
    if _recent_requests(norm) >= LINKS_PER_ADDRESS_PER_DAY:
        logger.warning("privacy center request over the address's daily limit")
        return
    case = cases.open_case(kind, norm, CHANNEL, actor, lang=lang)
    token, kept = new_link(case["case_id"])
    _store_link(case["case_id"], kept, actor)
    message = compose.message(
        norm, LINK_MESSAGE, lang, kind=KIND_NAMES[lang][kind], link=link_url(token, lang), hours=str(LINK_HOURS)
    )
    try:
        send(message, "privacy_center_link")
    except ClientError as exc:
        # SES refuses some addresses (its suppression list, a malformed domain): that says
        # nothing about our registers, but answering differently would still tell the caller
        # something about the address, so the answer stays the same. The case, never
        # verified, goes with its retention rule. Any other error (throttling, the account
        # paused) is not about the address and is the caller's to retry.
        code = exc.response.get("Error", {}).get("Code")
        if code not in ADDRESS_REFUSALS:
            raise
        logger.warning("privacy center link not sent", extra={"case_id": case["case_id"], "code": code})


# SES's refusals of a message for its address (its suppression list, an address it cannot
# send to, such as a Unicode local part); anything else is about SES itself and is retried.
ADDRESS_REFUSALS = frozenset({"MessageRejected", "BadRequestException"})


def _recent_requests(email: str) -> int:
    """Privacy center requests for `email` in the last 24 hours, under any key version."""
    since = clock.iso(clock.now() - timedelta(hours=24))
    return sum(
        1
        for hashed in pseudonyms.email_hashes(email)
        for item in store.query_all(
            store.request_cases(),
            IndexName="by_email",
            KeyConditionExpression=Key("email_hash").eq(hashed) & Key("received_at").gte(since),
            FilterExpression=Attr("channel").eq(CHANNEL),
            ProjectionExpression="case_id",
        )
    )


def redeem(token: object, actor: Actor) -> tuple[str, Session]:
    """Use the link up and verify its case (one transaction), and return a session token for
    it (and the session)."""
    case_id, secret = _parse_link(token)
    try:
        case = cases.get(case_id)
    except NotFound:
        raise InvalidLink() from None
    kept = case.get(cases.LINK)
    if not isinstance(kept, dict) or not _usable(kept) or case.get("status") != "unverified":
        raise InvalidLink()
    if not _matches(secret, kept):
        _count_miss(case_id, kept)
        raise InvalidLink()
    try:
        # The link used up and the case verified together, or neither (the link stays usable).
        cases.verify_by_link(case, str(kept["code_hash"]), actor)
    except Conflict:
        raise InvalidLink() from None  # a second redeemer, or the case changed meanwhile
    # The case read was unverified, so it still had its contact (closing removes it).
    return seal_session(case_id, str(case["contact"]), compose.lang_or_default(case.get("lang")))


# -- the case session ------------------------------------------------------------------------


def _session_key(secret: bytes) -> bytes:
    return hmac.new(secret, _CONTEXT, hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def seal_session(case_id: str, email: str, lang: str) -> tuple[str, Session]:
    """A session token for `case_id` and the address its link proved, valid `SESSION_MINUTES`."""
    expires = int((clock.now() + timedelta(minutes=SESSION_MINUTES)).timestamp())
    session = Session(case_id=case_id, email=email, lang=lang, expires=expires)
    ring = keyring(settings().unsubscribe_secret)
    payload = json.dumps({"c": case_id, "e": email, "l": lang, "x": expires}, separators=(",", ":")).encode()
    nonce = os.urandom(12)
    sealed = seal(_session_key(ring.current_key), nonce, payload, ring.current.encode())
    return f"{ring.current}.{_b64(nonce + sealed)}", session


def open_session(token: object) -> Session:
    """The session a token stands for; `InvalidSession` if missing, forged, malformed or expired."""
    if not isinstance(token, str) or not token or len(token) > _MAX_SESSION or token.count(".") != 1:
        raise InvalidSession()
    version, body = token.split(".")
    secret = keyring(settings().unsubscribe_secret).keys.get(version)
    if secret is None:
        raise InvalidSession()
    try:
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        payload = json.loads(unseal(_session_key(secret), raw[:12], raw[12:], version.encode()))
    except (binascii.Error, InvalidSeal, ValueError):
        raise InvalidSession() from None
    if not isinstance(payload, dict):
        raise InvalidSession()
    case_id, email, lang, expires = (payload.get(k) for k in ("c", "e", "l", "x"))
    if not (isinstance(case_id, str) and isinstance(email, str) and isinstance(expires, int)):
        raise InvalidSession()
    if expires <= int(clock.now().timestamp()):
        raise InvalidSession()
    return Session(case_id=case_id, email=email, lang=compose.lang_or_default(str(lang)), expires=expires)


def cookie_path() -> str:
    """The privacy center's path under the public base URL (a stage prefix included)."""
    return urlparse(settings().public_base_url).path.rstrip("/") + PAGE_PATH


def session_cookie(token: str) -> str:
    """The `Set-Cookie` value that hands the session to a browser (no script, no other site)."""
    return f"{COOKIE}={token}; Path={cookie_path()}; Max-Age={SESSION_MINUTES * 60}; HttpOnly; Secure; SameSite=Strict"


def session_from(headers: dict[str, str]) -> Session:
    """The session of a request: the `X-Case-Session` header, else the cookie."""
    token = headers.get(HEADER)
    if token is None:
        for part in headers.get("cookie", "").split(";"):
            name, _, value = part.strip().partition("=")
            if name == COOKIE:
                token = value
                break
    return open_session(token)


# -- what a session may do ----------------------------------------------------------------


# What the person sees of a case: its facts and answer, not staff's handling (principal ids).
PERSON_FIELDS = (
    "case_id",
    "type",
    "received_at",
    "status",
    "due_at",
    "days_left",
    "lapses_on",
    "extension",
    "outcome",
    "refusal_reason",
    "delivery",
    "closed_at",
)


def person_view(case: dict[str, Any]) -> dict[str, Any]:
    """A case as its person sees it: `cases.view` without who handled it or how it was kept."""
    shown = cases.view(case)
    out = {k: shown[k] for k in PERSON_FIELDS if k in shown}
    verification = shown.get("verification") or {}
    out["verification"] = {k: verification[k] for k in ("state", "method") if k in verification}
    if isinstance(out.get("extension"), dict):
        out["extension"] = {k: out["extension"][k] for k in ("months", "reason") if k in out["extension"]}
    return out


def case_of(session: Session) -> dict[str, Any]:
    """The session's own case as its person sees it; a case deleted meanwhile ends the session."""
    try:
        return person_view(cases.get(session.case_id))
    except NotFound:
        raise InvalidSession() from None


def _only_a_prospect(email: str) -> bool:
    """True when erasure needs no judgement: nothing is held about the address but prospect data."""
    found = subjects.find(email)
    return found.customer is None and not found.end_users


def act(
    session: Session, kind: str, actor: Actor, *, changes: dict[str, Any] | None = None
) -> tuple[dict[str, Any], subjects.Answer | None]:
    """Carry out (or hand to staff) a request of `kind` for the session's address.

    Returns the case as its person sees it and the answer when something was carried out
    (None when the case waits for staff). The session's own case is used when it is of
    `kind` and open; otherwise a new case for the same address, verified by the same link.
    `changes`: rectification's `{field: value}`, restriction's `{"reason"}`; they become the
    case's `details` in the shape `cases.open_case` documents.
    """
    kind = check_kind(kind)
    asked: dict[str, Any] = {}
    if changes:
        asked = {"changes": changes} if kind == "rectification" else dict(changes)
    try:
        own = cases.get(session.case_id)
    except NotFound:
        raise InvalidSession() from None
    if own.get("type") == kind and own.get("status") == "open":
        case_id = session.case_id
        if kind == "rectification" and changes:
            subjects.check_changes(changes)  # as `cases.open_case` checks a new case's
        if asked:
            _set_details(case_id, asked, actor)
    else:
        opened = cases.open_case(
            kind,
            session.email,
            CHANNEL,
            actor,
            lang=session.lang,
            verified_by=cases.LINK_METHOD,
            details={"from_case": session.case_id, **asked},
        )
        case_id = str(opened["case_id"])
    if (
        kind == "rectification"
        or (kind == "erasure" and not _only_a_prospect(session.email))
        # A ground that keeps the data from deletion like a legal hold (Art. 18(1)(b), (c))
        # is for staff to check first; a temporary one (18(1)(a), (d)) applies at once.
        or (kind == "restriction" and asked.get("reason") in restriction.HOLDING_REASONS)
    ):
        return person_view(cases.get(case_id)), None
    _, answer = cases.carry_out(case_id, actor, changes=changes)
    return person_view(cases.get(case_id)), answer


def _set_details(case_id: str, details: dict[str, Any], actor: Actor) -> None:
    """Record what the person asked on their own open case (for staff), with its audit event."""
    update = {
        "TableName": store.request_cases().name,
        "Key": _case_key(case_id),
        "UpdateExpression": "SET details = :details, version = version + :one",
        "ConditionExpression": "attribute_exists(case_id) AND #s = :open",
        "ExpressionAttributeNames": {"#s": "status"},
        # As `cases` keeps it: JSON text (`cases.asked` reads it back).
        "ExpressionAttributeValues": store.typed(
            {":details": json.dumps(details, ensure_ascii=False, separators=(",", ":")), ":open": "open", ":one": 1}
        ),
    }
    access = Access("update", cases.REGISTER, case_id, ("details",))
    store.client("dynamodb").transact_write_items(TransactItems=[{"Update": update}, actor.put(access)])
