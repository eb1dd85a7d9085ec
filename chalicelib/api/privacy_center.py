"""The privacy center's routes: anyone, no login (chalicelib/privacy_center.py says how it works).

Every route answers JSON to a JSON client and a server-rendered page to a browser (like the
unsubscribe pages: viewport meta, `lang`, Finnish or English, no script, labelled fields).
A browser's forms post `application/x-www-form-urlencoded`; the JSON API takes the same
fields as JSON. The session of a redeemed link travels as a cookie to a browser and in the
`X-Case-Session` header from a JSON client; without one the session routes answer 400
`invalid_session` (these are public routes: 401 means a missing Cognito token here).
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable
from typing import Annotated, Any, Literal, cast
from urllib.parse import parse_qs

from chalice import Blueprint, Response
from pydantic import Field, StrictStr

from chalicelib import cases, partners, privacy_center, store, unsubscribe
from chalicelib.errors import DomainError, ValidationFailed
from chalicelib.registers import CONTROLLER, CUSTOMER, ORDER, PROSPECT, RESELLER_END_USER
from chalicelib.restriction import Reason
from chalicelib.validation import StrictModel, parse

from .pages import errors_as_page, page, page_lang, wants_json
from .routing import Call, json_response, route

privacy_center_bp = Blueprint(__name__)

CaseType = Literal["access", "rectification", "erasure", "restriction", "objection", "portability"]
Lang = Literal["fi", "en"]
# What a person may ask to be corrected, as plain text: the rectifiable fields of every record
# type that are single strings (staff check them against the record when they carry it out).
RECTIFIABLE_TEXT = ("organization", "contact_name", "title", "phone", "email", "business_id", "name", "source_url")
_FORM = "application/x-www-form-urlencoded"

T = {
    "fi": {
        "title": "Tietosuojakeskus",
        "intro": "Täällä voit käyttää oikeuksiasi: nähdä tietosi, korjata tai poistaa ne, rajoittaa niiden "
        "käsittelyä tai kieltää suoramarkkinoinnin. Lähetämme sähköpostiosoitteeseesi kertakäyttöisen linkin, "
        "jolla vahvistat pyynnön. Vastaamme kuukauden kuluessa.",
        "email": "Sähköpostiosoite",
        "type": "Pyyntö",
        "send": "Lähetä linkki",
        "known": "Osoitteesi: {email}",
        "object_now": "Kiellä suoramarkkinointi heti",
        "other": "Tai valitse toinen pyyntö; lähetämme vahvistuslinkin osoitteeseesi.",
        "sent_title": "Tarkista sähköpostisi",
        "sent": "Jos osoitteeseen voi lähettää postia, lähetimme siihen kertakäyttöisen linkin. Avaa se {hours} "
        "tunnin kuluessa ja vahvista pyyntö.",
        "link_title": "Vahvista pyyntösi",
        "link_text": "Vahvista, että pyyntö on sinun. Linkki toimii kerran.",
        "confirm": "Vahvista",
        "case_title": "Pyyntösi",
        "case_text": "Pyyntö: {kind}. Tila: {status}. Vastaamme viimeistään {due}.",
        "lapses": "Odotamme vastaustasi. Jos se ei ole tullut meille ennen {date}, suljemme pyynnön sinä "
        "päivänä; voit silloin tehdä uuden.",
        "session_note": "Istunto on voimassa {minutes} minuuttia.",
        "show": "Näytä tietoni",
        "download": "Lataa tietoni (JSON)",
        "object": "Kiellä suoramarkkinointi",
        "erase": "Poista tietoni",
        "restrict": "Rajoita tietojeni käsittelyä",
        "reason": "Peruste",
        "rectify": "Korjaa tietoni",
        "rectify_text": "Kirjoita oikea tieto vain korjattaviin kenttiin. Käsittelemme korjauksen ja vastaamme "
        "sinulle.",
        "done_title": "Pyyntö käsitelty",
        "done": "Pyyntö ({kind}) on tehty.",
        "applied": "Pyyntö ({kind}) on toteutettu. Käsittelemme sen vielä ja vastaamme viimeistään {due}.",
        "staff_title": "Pyyntö vastaanotettu",
        "staff": "Pyyntö ({kind}) on vahvistettu ja odottaa käsittelyä. Vastaamme viimeistään {due}.",
        "data_title": "Tietosi",
        "source": "Mistä tiedot saatiin",
        "recipients": "Kenelle tietoja on luovutettu",
        "no_recipients": "Tietojasi ei ole luovutettu kenellekään.",
        "purpose": "Käyttötarkoitus",
        "basis": "Käsittelyn peruste",
        "nothing": "Emme löytäneet osoitteellasi tietoja rekistereistämme.",
        "suppressed": "Osoitteesi on suoramarkkinoinnin kieltolistalla (vain avainnettu tiiviste).",
        "do_not_re_add": "Osoitteesi on merkitty ei lisätä uudelleen -listalle (vain avainnettu tiiviste).",
        "back": "Takaisin pyyntöön",
        "error_title": "Pyyntöä ei voitu käsitellä",
        "invalid_link_title": "Linkki ei toimi",
        "invalid_link": "Linkki on vanhentunut, jo käytetty tai virheellinen. Tee uusi pyyntö tietosuojakeskuksessa "
        "tai kirjoita meille: {contact}.",
        "invalid_session": "Istunto on päättynyt. Tee uusi pyyntö tietosuojakeskuksessa tai kirjoita meille: "
        "{contact}.",
        "invalid_token": "Linkki on virheellinen tai katkennut. Avaa linkki viestistä kokonaan tai kirjoita meille: "
        "{contact}.",
        "unavailable": "Mitään ei muutettu. Yritä hetken kuluttua uudelleen tai kirjoita meille: {contact}.",
        "cross_origin_request": "Lomake lähetettiin toiselta sivustolta, joten mitään ei tehty. Avaa "
        "tietosuojakeskus suoraan osoitteestamme tai viestin linkistä ja yritä uudelleen, tai kirjoita meille: "
        "{contact}.",
        "error": "Pyyntöä ei voitu käsitellä. Tarkista tiedot ja yritä uudelleen tai kirjoita meille: {contact}.",
    },
    "en": {
        "title": "Privacy center",
        "intro": "Here you can use your rights: see your data, have it corrected or erased, restrict its "
        "processing or object to direct marketing. We send a one-time link to your email address to confirm "
        "the request. We answer within a month.",
        "email": "Email address",
        "type": "Request",
        "send": "Send the link",
        "known": "Your address: {email}",
        "object_now": "Stop direct marketing now",
        "other": "Or choose another request; we send a confirmation link to your address.",
        "sent_title": "Check your email",
        "sent": "If the address can receive mail, we sent a one-time link to it. Open it within {hours} hours "
        "and confirm the request.",
        "link_title": "Confirm your request",
        "link_text": "Confirm that the request is yours. The link works once.",
        "confirm": "Confirm",
        "case_title": "Your request",
        "case_text": "Request: {kind}. Status: {status}. We answer by {due} at the latest.",
        "lapses": "We are waiting for your answer. If it has not reached us before {date}, we close the "
        "request on that day; you can then make a new one.",
        "session_note": "This session is valid for {minutes} minutes.",
        "show": "Show my data",
        "download": "Download my data (JSON)",
        "object": "Object to direct marketing",
        "erase": "Erase my data",
        "restrict": "Restrict the processing of my data",
        "reason": "Ground",
        "rectify": "Correct my data",
        "rectify_text": "Fill in the correct value only in the fields to correct. We handle the correction and "
        "answer you.",
        "done_title": "Request carried out",
        "done": "Your request ({kind}) has been carried out.",
        "applied": "Your request ({kind}) has been put into effect. We still review it and answer by {due} at "
        "the latest.",
        "staff_title": "Request received",
        "staff": "Your request ({kind}) is confirmed and waits to be handled. We answer by {due} at the latest.",
        "data_title": "Your data",
        "source": "Where the data came from",
        "recipients": "Who the data was disclosed to",
        "no_recipients": "Your data has not been disclosed to anyone.",
        "purpose": "Purpose",
        "basis": "Legal basis",
        "nothing": "We found no data about your address in our registers.",
        "suppressed": "Your address is on the direct marketing objection list (a keyed hash only).",
        "do_not_re_add": "Your address is on the do-not-re-add list (a keyed hash only).",
        "back": "Back to the request",
        "error_title": "The request could not be handled",
        "invalid_link_title": "This link does not work",
        "invalid_link": "The link has expired, has been used or is invalid. Make a new request in the privacy "
        "center or write to us: {contact}.",
        "invalid_session": "The session has ended. Make a new request in the privacy center or write to us: {contact}.",
        "invalid_token": "The link is invalid or incomplete. Open the whole link from the message or write to us: "
        "{contact}.",
        "unavailable": "Nothing was changed. Please try again shortly, or write to us: {contact}.",
        "cross_origin_request": "The form was sent from another site, so nothing was done. Open the privacy "
        "center at our own address or from the link in our message and try again, or write to us: {contact}.",
        "error": "The request could not be handled. Check what you entered and try again, or write to us: {contact}.",
    },
}
STATUS_NAMES = {
    "fi": {"unverified": "vahvistamatta", "open": "käsittelyssä", "waiting_for_person": "odottaa sinua"}
    | {"done": "tehty", "refused": "hylätty"},
    "en": {"unverified": "not confirmed", "open": "being handled", "waiting_for_person": "waiting for you"}
    | {"done": "done", "refused": "refused"},
}
REASON_NAMES = {
    "fi": {
        "accuracy_contested": "Tiedot ovat mielestäni virheelliset",
        "unlawful_processing_opposed_erasure": "Käsittely on lainvastaista, mutta en halua tietoja poistettavan",
        "needed_for_legal_claims": "Tarvitsen tietoja oikeusvaatimukseen",
        "objection_pending": "Olen vastustanut käsittelyä, ja asia on kesken",
    },
    "en": {
        "accuracy_contested": "I contest the accuracy of the data",
        "unlawful_processing_opposed_erasure": "The processing is unlawful but I do not want the data erased",
        "needed_for_legal_claims": "I need the data for a legal claim",
        "objection_pending": "I have objected to the processing and it is being decided",
    },
}


# -- pages -------------------------------------------------------------------------------------


def _page(call: Call, lang: str, title: str, body: str, status: int = 200, here: str | None = None) -> Response:
    """A page in the public pages' layout (chalicelib/api/pages.py); `body` is already escaped HTML."""
    return page(lang, title, body, status, call=call, here=here)


def _p(text: str) -> str:
    return f"<p>{html.escape(text)}</p>"


def _hidden(name: str, value: str) -> str:
    return f'<input type="hidden" name="{html.escape(name)}" value="{html.escape(value)}">'


def _form(action: str, fields: str, button: str) -> str:
    e = html.escape
    return f'<form method="post" action="{e(action)}">{fields}<button type="submit">{e(button)}</button></form>'


def _type_select(lang: str, field_id: str) -> str:
    options = "".join(
        f'<option value="{k}">{html.escape(privacy_center.KIND_NAMES[lang][k])}</option>' for k in cases.CASE_TYPES
    )
    label = html.escape(T[lang]["type"])
    return f'<label for="{field_id}">{label}</label><select id="{field_id}" name="type">{options}</select>'


def _is_form(call: Call) -> bool:
    return call.headers.get("content-type", "").startswith(_FORM)


def _form_fields(call: Call) -> dict[str, str]:
    """A urlencoded body's fields (a field sent twice is refused: no guessing which counts)."""
    fields: dict[str, str] = {}
    for name, values in parse_qs(call.raw_body.decode("utf-8", "replace")).items():
        if len(values) != 1:
            raise ValidationFailed(f"{name} was sent more than once.", details=[{"field": name, "reason": "repeated"}])
        fields[name] = values[0]
    return fields


def _for_browser(call: Call, lang: str, answer: Callable[[], Response]) -> Response:
    """`answer()`, with its errors as a page in `lang` for a browser (JSON clients get JSON errors)."""

    def error_page(status: int, kind: str) -> Response:
        if kind not in ("invalid_link", "invalid_session", "invalid_token", "unavailable", "cross_origin_request"):
            kind = "error"
        text = T[lang]
        title = text["invalid_link_title"] if kind in ("invalid_link", "invalid_token") else text["error_title"]
        return _page(call, lang, title, _p(text[kind].format(contact=CONTROLLER.contact_email)), status)

    return errors_as_page(call, answer, error_page)


def _refused(call: Call, error: DomainError) -> Response:
    """A form post refused before its handler (a cross-site one): the error page to a browser."""

    def refuse() -> Response:
        raise error

    # In the browser's own language: the form's `lang` is the other site's choice.
    return _for_browser(call, page_lang(call), refuse)


# -- the start page and requests -----------------------------------------------------------


@route(
    privacy_center_bp,
    privacy_center.PAGE_PATH,
    "GET",
    summary="The privacy center: make a request (with a message's signed link, the address is known)",
    query=("lang", "token"),
)
def start(call: Call) -> Response:
    lang = page_lang(call)
    return _for_browser(call, lang, lambda: _start(call, lang))


def _start(call: Call, lang: str) -> Response:
    token = call.query.get("token")
    shown = unsubscribe.masked(unsubscribe.read(token)) if token is not None else None
    if wants_json(call):
        body: dict[str, Any] = {"types": list(cases.CASE_TYPES)}
        if token is None:
            body["request"] = {"method": "POST", "path": "/privacy-center/requests", "body": ["email", "type", "lang"]}
        else:
            body |= {
                "email": shown,
                "object_now": {"method": "POST", "path": unsubscribe.PAGE_PATH, "body": {"token": token}},
                "request": {"method": "POST", "path": "/privacy-center/requests", "body": {"token": token}},
            }
        return json_response(body)
    text = T[lang]
    e = html.escape
    if token is None:
        who = (
            f'<label for="email">{e(text["email"])}</label>'
            '<input id="email" name="email" type="email" autocomplete="email" required maxlength="320">'
        )
        parts = _p(text["intro"])
    else:
        who = _hidden("token", token)
        parts = (
            _p(text["intro"])
            + _p(text["known"].format(email=shown))
            + _form("unsubscribe", _hidden("token", token) + _hidden("lang", lang), text["object_now"])
            + _p(text["other"])
        )
    fields = who + _type_select(lang, "type") + _hidden("lang", lang)
    return _page(call, lang, text["title"], parts + _form("privacy-center/requests", fields, text["send"]))


class PrivacyRequest(StrictModel):
    """A request by address (typed) or by a message's signed unsubscribe token (no typing)."""

    email: Annotated[StrictStr, Field(max_length=320)] | None = None
    token: Annotated[StrictStr, Field(max_length=2000)] | None = None
    type: CaseType
    lang: Lang = "fi"


@route(
    privacy_center_bp,
    "/privacy-center/requests",
    "POST",
    status=202,
    summary="Make a request; a one-time link goes to the address (the same answer for every address)",
    content_types=["application/json", _FORM],
    query=(),
    body=PrivacyRequest,
    same_origin=True,
    refused_page=_refused,
)
def make_request(call: Call) -> Response:
    form = _form_fields(call) if _is_form(call) else None
    lang = page_lang(call, (form or {}).get("lang"))
    return _for_browser(call, lang, lambda: _make_request(call, form))


def _make_request(call: Call, form: dict[str, str] | None) -> Response:
    body = cast(PrivacyRequest, parse(PrivacyRequest, form) if form is not None else call.body())
    if (body.email is None) == (body.token is None):
        raise ValidationFailed(
            "Give either email or token.", details=[{"field": "email", "reason": "exactly one of email, token"}]
        )
    email = body.email if body.token is None else unsubscribe.read(body.token)
    privacy_center.request(body.type, email, body.lang, call.actor)
    if form is None:
        return json_response(dict(privacy_center.ACCEPTED), status=202)
    text = T[body.lang]
    sent = _p(text["sent"].format(hours=privacy_center.LINK_HOURS))
    return _page(call, body.lang, text["sent_title"], sent, 202, here="privacy-center")


# -- the one-time link ---------------------------------------------------------------------


@route(
    privacy_center_bp,
    privacy_center.LINK_PATH,
    "GET",
    summary="The one-time link's page: asks to confirm (changes nothing; mail scanners fetch links)",
    query=("token", "lang"),
)
def link_page(call: Call) -> Response:
    lang = page_lang(call)
    token = call.query.get("token", "")
    if wants_json(call):
        confirm = {"method": "POST", "path": privacy_center.LINK_PATH, "body": {"token": token}}
        return json_response({"confirm": confirm})
    text = T[lang]
    fields = _hidden("token", token) + _hidden("lang", lang)
    return _page(call, lang, text["link_title"], _p(text["link_text"]) + _form("link", fields, text["confirm"]))


class LinkRedemption(StrictModel):
    """The one-time link's code (a form post sends the same field, and the page's language)."""

    token: Annotated[StrictStr, Field(max_length=200)]
    lang: Lang | None = None


@route(
    privacy_center_bp,
    privacy_center.LINK_PATH,
    "POST",
    summary="Use the one-time link: verifies the case and starts a session for it (cookie, or the token in JSON)",
    content_types=["application/json", _FORM],
    query=(),
    body=LinkRedemption,
    same_origin=True,  # login CSRF: another site's form would give the browser a session for its own link
    refused_page=_refused,
)
def redeem_link(call: Call) -> Response:
    form = _form_fields(call) if _is_form(call) else None
    lang = page_lang(call, (form or {}).get("lang"))
    return _for_browser(call, lang, lambda: _redeem(call, form))


def _redeem(call: Call, form: dict[str, str] | None) -> Response:
    body = cast(LinkRedemption, parse(LinkRedemption, form) if form is not None else call.body())
    token, session = privacy_center.redeem(body.token, call.actor)
    cookie = {"Set-Cookie": privacy_center.session_cookie(token)}
    if form is None:
        case = privacy_center.case_of(session)
        return json_response({"session": token, "expires_at": session.expires_at(), "case": case}, headers=cookie)
    # Post/redirect/get: the case page is reloadable, the link's form is not resent.
    return Response(body="", status_code=303, headers={"Location": "case", "Cache-Control": "no-store", **cookie})


# -- the session: one case --------------------------------------------------------------------


def _kind_name(lang: str, kind: object) -> str:
    return privacy_center.KIND_NAMES[lang].get(str(kind), str(kind))


def _due(case: dict[str, Any]) -> str:
    return str(case.get("due_at", ""))


@route(
    privacy_center_bp,
    "/privacy-center/case",
    "GET",
    summary="The session's case and what the person can do (session cookie or X-Case-Session)",
    query=("lang",),
)
def case_page(call: Call) -> Response:
    lang = page_lang(call)
    return _for_browser(call, lang, lambda: _case_page(call))


def _case_page(call: Call) -> Response:
    session = privacy_center.session_from(call.headers)
    case = privacy_center.case_of(session)
    lang = page_lang(call, fallback=session.lang)
    if wants_json(call):
        return json_response(
            {
                "case": case,
                "email": unsubscribe.masked(session.email),
                "expires_at": session.expires_at(),
                "actions": {"method": "POST", "path": "/privacy-center/case/actions", "types": list(cases.CASE_TYPES)},
            }
        )
    text = T[lang]
    status = STATUS_NAMES[lang].get(str(case.get("status")), str(case.get("status")))
    body = _p(text["case_text"].format(kind=_kind_name(lang, case.get("type")), status=status, due=_due(case)))
    if case.get("lapses_on"):  # waiting for the person: the nightly sweep closes it on that day
        body += _p(text["lapses"].format(date=case["lapses_on"]))
    body += _p(text["known"].format(email=unsubscribe.masked(session.email)))
    body += _p(text["session_note"].format(minutes=privacy_center.SESSION_MINUTES))
    body += _action_forms(lang)
    return _page(call, lang, text["case_title"], body)


def _action(kind: str, lang: str, extra: str = "") -> str:
    return _hidden("type", kind) + _hidden("lang", lang) + extra


def _action_forms(lang: str) -> str:
    text = T[lang]
    e = html.escape
    act = "case/actions"
    forms = [
        _form(act, _action("access", lang, _hidden("format", "html")), text["show"]),
        _form(act, _action("access", lang, _hidden("format", "json")), text["download"]),
        _form(act, _action("objection", lang), text["object"]),
        _form(act, _action("erasure", lang), text["erase"]),
    ]
    reasons = "".join(f'<option value="{r}">{e(name)}</option>' for r, name in REASON_NAMES[lang].items())
    forms.append(
        _form(
            act,
            _action("restriction", lang)
            + f'<label for="reason">{e(text["reason"])}</label><select id="reason" name="reason">{reasons}</select>',
            text["restrict"],
        )
    )
    labels = {f.name: f.label.get(lang) for f in PROSPECT.fields}
    inputs = "".join(
        f'<label for="change_{name}">{e(labels.get(name, name))}</label>'
        f'<input id="change_{name}" name="change_{name}" maxlength="200">'
        for name in ("organization", "contact_name", "title", "phone")
    )
    forms.append(f"<h2>{e(text['rectify'])}</h2>" + _p(text["rectify_text"]))
    forms.append(_form(act, _action("rectification", lang, inputs), text["rectify"]))
    return "".join(forms)


class CaseAction(StrictModel):
    """One request of the session's person: its type, and what the type needs."""

    type: CaseType
    # access: a readable page (html) or the machine-readable export (json, the default).
    format: Literal["html", "json"] = "json"
    # rectification: the corrected values, field by field (staff check and carry them out).
    changes: dict[Literal[RECTIFIABLE_TEXT], Annotated[StrictStr, Field(min_length=1, max_length=200)]] | None = None  # type: ignore[valid-type]
    # restriction: the ground of Art. 18(1).
    reason: Reason | None = None
    lang: Lang | None = None


def _action_from_form(form: dict[str, str]) -> dict[str, Any]:
    doc: dict[str, Any] = {k: v for k, v in form.items() if not k.startswith("change_")}
    changes = {k.removeprefix("change_"): v.strip() for k, v in form.items() if k.startswith("change_") and v.strip()}
    if changes:
        doc["changes"] = changes
    return doc


@route(
    privacy_center_bp,
    "/privacy-center/case/actions",
    "POST",
    summary="A request within the session (access, objection, erasure, restriction, rectification, portability)",
    content_types=["application/json", _FORM],
    query=(),
    body=CaseAction,
    same_origin=True,
    refused_page=_refused,
)
def case_action(call: Call) -> Response:
    form = _form_fields(call) if _is_form(call) else None
    lang = page_lang(call, (form or {}).get("lang"))
    return _for_browser(call, lang, lambda: _case_action(call, form))


def _case_action(call: Call, form: dict[str, str] | None) -> Response:
    # The body first, as on every JSON route: malformed JSON is a 400 `invalid_json` whoever sends it.
    body = cast(CaseAction, parse(CaseAction, _action_from_form(form)) if form is not None else call.body())
    session = privacy_center.session_from(call.headers)
    lang = body.lang or session.lang
    if body.type == "restriction" and body.reason is None:
        raise ValidationFailed(
            "reason is required for a restriction.", details=[{"field": "reason", "reason": "required"}]
        )
    changes: dict[str, Any] | None = None
    if body.type == "rectification":
        if not body.changes:
            raise ValidationFailed("changes are required.", details=[{"field": "changes", "reason": "required"}])
        changes = dict(body.changes)
    elif body.type == "restriction":
        changes = {"reason": body.reason}
    case, answer = privacy_center.act(session, body.type, call.actor, changes=changes)
    exported = answer is not None and body.type in ("access", "portability")
    if form is None or (exported and (body.type == "portability" or body.format == "json")):
        if exported and form is not None:
            return _download(answer.body if answer else {})
        return json_response({"case": case, "answer": answer.body if answer else None})
    text = T[lang]
    here = "privacy-center/case"  # the language switch of an answer opens the session's case page

    def answer_page(title: str, body_html: str) -> Response:
        return _page(call, lang, title, body_html + _back(lang), here=here)

    if exported and answer is not None:
        return answer_page(text["data_title"], render_export(answer.body, lang))
    kind = _kind_name(lang, body.type)
    if case.get("status") == "done":
        return answer_page(text["done_title"], _p(text["done"].format(kind=kind)))
    if answer is not None:
        return answer_page(text["done_title"], _p(text["applied"].format(kind=kind, due=_due(case))))
    return answer_page(text["staff_title"], _p(text["staff"].format(kind=kind, due=_due(case))))


def _back(lang: str) -> str:
    return f'<p><a href="../case">{html.escape(T[lang]["back"])}</a></p>'


def _download(export: dict[str, Any]) -> Response:
    """The access export as a JSON file to save (the machine-readable copy, Art. 15(3), 20)."""
    return Response(
        body=json.dumps(store.plain(export), ensure_ascii=False, indent=2, default=str),
        status_code=200,
        headers={
            "Content-Type": "application/json; charset=utf-8",
            "Content-Disposition": 'attachment; filename="my-data.json"',
            "Cache-Control": "no-store",
        },
    )


# The disclosure log's purposes (chalicelib/disclosures.py) in the person's words.
PURPOSE_NAMES = {
    "fi": {
        "partner_read": "kumppanin luettavaksi",
        "call_list": "puhelukampanjan soittolista",
        "campaign_audience": "kampanjan kohderyhmä",
        "email": "sähköpostiviesti",
        "art14_notice": "ilmoitus tietojen käsittelystä",
    },
    "en": {
        "partner_read": "made available to a partner",
        "call_list": "a phone campaign's call list",
        "campaign_audience": "a campaign's audience",
        "email": "an email message",
        "art14_notice": "a notice of processing",
    },
}
RECORD_TYPES = {t.name: t for t in (CUSTOMER, ORDER, RESELLER_END_USER, PROSPECT)}


def _shown(value: Any) -> str:
    """A field's value as text: an address's parts joined, a list's items joined."""
    if isinstance(value, dict):
        return ", ".join(str(v) for v in value.values() if v not in (None, ""))
    if isinstance(value, list):
        return "; ".join(_shown(v) for v in value)
    return str(value)


def _partner_name(partner_id: str) -> str:
    """A source partner by its registered name (its id if the registry no longer has it)."""
    partner = partners.find(partner_id)
    return str(partner["name"]) if partner else partner_id


def render_export(export: dict[str, Any], lang: str) -> str:
    """The access export as readable HTML: each record's data, purpose, basis, source and
    recipients (the disclosure log), and the keyed-hash lists the address is on."""
    e = html.escape
    text = T[lang]
    out: list[str] = []
    parts = export.get("parts") or []
    if not parts:
        out.append(_p(text["nothing"]))
    for part in parts:
        name = part.get("register_name", {}).get(lang, part.get("register", ""))
        record_type = RECORD_TYPES.get(str(part.get("record_type")))
        labels = {f.name: f.label.get(lang) for f in record_type.fields} if record_type else {}
        rows = "".join(
            f"<dt>{e(labels.get(k, k))}</dt><dd>{e(_shown(v))}</dd>" for k, v in (part.get("data") or {}).items()
        )
        out.append(f"<section><h2>{e(str(name))}</h2><dl>{rows}</dl>")
        out.append(_p(f"{text['purpose']}: {part.get('purpose', {}).get(lang, '')}"))
        out.append(_p(f"{text['basis']}: {part.get('legal_basis', {}).get(lang, '')}"))
        sources = [
            _partner_name(str(s["source_partner"])) for s in part.get("sources") or [] if s.get("source_partner")
        ]
        source_text = ", ".join(dict.fromkeys(sources)) if sources else part.get("source", {}).get(lang, "")
        out.append(_p(f"{text['source']}: {source_text}"))
        if "disclosures" in part:
            given = [
                f"{d.get('recipient_name') or d.get('recipient')} "
                f"({PURPOSE_NAMES[lang].get(str(d.get('purpose')), str(d.get('purpose')))}, {d.get('first_at')})"
                for d in part["disclosures"]
            ]
            out.append(_p(f"{text['recipients']}: {'; '.join(given)}" if given else text["no_recipients"]))
        out.append("</section>")
    if (export.get("suppression") or {}).get("on_list"):
        out.append(_p(text["suppressed"]))
    if (export.get("do_not_re_add") or {}).get("on_list"):
        out.append(_p(text["do_not_re_add"]))
    return "".join(out)
