"""Routes for anyone: self-registration as a customer."""

from __future__ import annotations

import email
import email.policy
import html
from collections.abc import Callable
from typing import Annotated, Any, Literal
from urllib.parse import parse_qs

from chalice import Blueprint, Response
from pydantic import Field, StrictBool, StrictStr

from chalicelib import cases, confirmations, customers, dormancy, notice, subjects, unsubscribe
from chalicelib.auth import ANONYMOUS
from chalicelib.errors import DomainError, ValidationFailed
from chalicelib.registers import CONTROLLER, CUSTOMER, Role
from chalicelib.validation import StrictModel, dump, schema

from .pages import errors_as_page, page, page_lang, wants_json
from .routing import Call, json_response, route

public_bp = Blueprint(__name__)

_SELF_FIELDS = frozenset(f.name for f in CUSTOMER.fields if f.self_editable) | {"username"}


class Registration(schema(CUSTOMER, "create", _SELF_FIELDS)):  # type: ignore[misc]
    """Self-registration: the customer's own data, a password, and an explicit consent answer."""

    password: Annotated[str, Field(max_length=256)]
    # Asked explicitly: true or false, with no default (DESIGN §2, the notice's consent).
    consent_service_messages: StrictBool
    # The version of the consent wording the form showed (GET /consent-wording, or the
    # notice's `version`: the wording is part of it); an outdated one is refused (409).
    # Without it, the wording the API serves now is the one recorded.
    consent_wording_version: Annotated[StrictStr, Field(max_length=64)] | None = None
    # The language of the messages sent to the address: Finnish unless English is asked for.
    lang: Literal["fi", "en"] = "fi"


# One answer for every registration that passes validation, new or taken (no existence oracle).
REGISTRATION_ACCEPTED = {
    "status": "confirmation_sent",
    "message": "If the registration can be made, a confirmation code has been sent to the email address. "
    "The account opens when the code is confirmed (POST /registrations/confirm) within 24 hours.",
}


@route(
    public_bp,
    "/registrations",
    "POST",
    status=202,
    summary="Register an organisation and its contact person (confirmed by a code sent to the address)",
    query=(),
    body=Registration,
)
def register(call: Call) -> dict[str, Any]:
    body = call.body()
    data = dump(body)
    password = data.pop("password")
    lang = data.pop("lang", "fi")
    confirmations.register(data, password, lang, call.actor)  # audited with its own write
    return dict(REGISTRATION_ACCEPTED)


class Confirmation(StrictModel):
    """The confirmation code from the message sent to the address."""

    token: Annotated[StrictStr, Field(max_length=200)]


@route(
    public_bp,
    "/registrations/confirm",
    "POST",
    summary="Confirm a registration with the code sent to the address",
    query=(),
    body=Confirmation,
)
def confirm_registration(call: Call) -> dict[str, Any]:
    item = confirmations.confirm_registration(call.body().token, call.actor)
    return {"status": "confirmed", "customer": customers.present(item, frozenset({Role.CUSTOMER}))}


@route(
    public_bp,
    "/privacy-notice",
    "GET",
    summary="The privacy notice (fi default, ?lang=en; HTML or JSON)",
    query=("lang",),
)
def privacy_notice(call: Call) -> Response:
    if "lang" in call.query and call.query["lang"] not in notice.LANGS:
        raise ValidationFailed("lang must be fi or en.", code="invalid_query")
    if wants_json(call):
        lang = call.query.get("lang", "fi")
        headers = {"Cache-Control": "public, max-age=300", "Content-Language": lang, "Vary": "Accept"}
        return json_response(notice.notice(lang), headers=headers)
    # A browser's page follows the remembered language too: private to that browser.
    lang = page_lang(call)
    doc = notice.notice(lang)
    return page(lang, doc["title"], notice.render_html(doc), call=call, cache_control="private, max-age=300")


@route(
    public_bp,
    "/consent-wording",
    "GET",
    summary="The service-message consent's exact wording and version, for a form to show (fi default, ?lang=en)",
    query=("lang",),
)
def consent_wording(call: Call) -> dict[str, Any]:
    lang = call.query.get("lang", "fi")
    if lang not in notice.LANGS:
        raise ValidationFailed("lang must be fi or en.", code="invalid_query")
    return notice.consent_wording(lang)


class ConsentByLink(StrictModel):
    """A customer's answer with the code of its consent link, and the wording's version shown."""

    token: Annotated[StrictStr, Field(max_length=200)]
    consent_service_messages: StrictBool
    consent_wording_version: Annotated[StrictStr, Field(max_length=64)] | None = None
    lang: Literal["fi", "en"] | None = None


@route(
    public_bp,
    "/consent",
    "POST",
    summary="Answer the service-message consent with the code of a consent link",
    query=(),
    body=ConsentByLink,
)
def consent_by_link(call: Call) -> dict[str, Any]:
    body = call.body()
    confirmations.answer_consent(
        body.token,  # type: ignore[attr-defined]
        body.consent_service_messages,  # type: ignore[attr-defined]
        body.lang,  # type: ignore[attr-defined]
        body.consent_wording_version,  # type: ignore[attr-defined]
        call.actor,
    )
    return {"recorded": True, "consent_service_messages": body.consent_service_messages}  # type: ignore[attr-defined]


_UNSUBSCRIBE_TEXT = {
    "fi": {
        "title": "Peru markkinointi",
        "text": "Osoitteesi {email} poistetaan prospektirekisteristämme ja osoitteesta säilytetään vain "
        "avainnettu tiiviste, jotta sitä ei lisätä uudelleen markkinointiin. Asiakkaana antamasi lupa "
        "palveluviesteihin ei muutu: sen voit perua erikseen omista tiedoistasi.",
        "button": "Vahvista peruutus",
        "done_title": "Markkinointi peruttu",
        "done": "Et saa meiltä enää markkinointia.",
        "invalid_token_title": "Linkki ei toimi",
        "invalid_token": "Peruutuslinkki on virheellinen tai katkennut. Avaa linkki viestistä kokonaan "
        "tai pyydä meitä lopettamaan markkinointi: {contact}.",
        "unavailable_title": "Palvelu ei ole juuri nyt käytettävissä",
        "unavailable": "Mitään ei muutettu. Yritä hetken kuluttua uudelleen tai kirjoita meille: {contact}.",
        "error_title": "Pyyntöä ei voitu käsitellä",
        "error": "Mitään ei muutettu. Avaa linkki viestistä uudelleen tai kirjoita meille: {contact}.",
    },
    "en": {
        "title": "Stop marketing",
        "text": "Your address {email} will be removed from our prospect register, and only a keyed hash of "
        "the address kept so it is never added to marketing again. A customer's consent to service messages "
        "does not change: you can withdraw it separately in your own data.",
        "button": "Confirm",
        "done_title": "Marketing stopped",
        "done": "You will not receive marketing from us.",
        "invalid_token_title": "This link does not work",
        "invalid_token": "The unsubscribe link is invalid or incomplete. Open the whole link from the message, "
        "or ask us to stop marketing to you: {contact}.",
        "unavailable_title": "Temporarily unavailable",
        "unavailable": "Nothing was changed. Please try again shortly, or write to us: {contact}.",
        "error_title": "The request could not be handled",
        "error": "Nothing was changed. Open the link from the message again, or write to us: {contact}.",
    },
}


def _confirm_form(action: str, token: str, lang: str, button: str) -> str:
    """The one-button form of a signed link's page: it posts the token back (no script)."""
    e = html.escape
    return (
        f'<form method="post" action="{e(action)}"><input type="hidden" name="token" value="{e(token)}">'
        f'<input type="hidden" name="lang" value="{e(lang)}">'
        f'<button type="submit">{e(button)}</button></form>'
    )


def _for_browser(call: Call, lang: str, answer: Callable[[], Response]) -> Response:
    """`answer()`, with its errors as a page in `lang` for a browser (JSON clients get JSON errors)."""

    def error_page(status: int, kind: str) -> Response:
        text = _UNSUBSCRIBE_TEXT[lang]
        if kind not in ("invalid_token", "unavailable"):
            kind = "error"
        message = text[kind].format(contact=CONTROLLER.contact_email)
        return page(lang, text[f"{kind}_title"], f"<p>{html.escape(message)}</p>", status, call=call)

    return errors_as_page(call, answer, error_page)


def _refused(call: Call, error: DomainError) -> Response:
    """A confirm form posted from another site: nothing done, the error page in the browser's
    language ("open the link from the message again"); a JSON client gets the JSON error."""

    def refuse() -> Response:
        raise error

    return _for_browser(call, page_lang(call), refuse)


@route(
    public_bp,
    "/unsubscribe",
    "GET",
    summary="What the unsubscribe link will do (changes nothing)",
    query=("token", "lang"),
)
def unsubscribe_preview(call: Call) -> Response:
    lang = page_lang(call)
    return _for_browser(call, lang, lambda: _preview(call, lang))


def _preview(call: Call, lang: str) -> Response:
    token = call.query.get("token", "")
    shown = unsubscribe.masked(unsubscribe.read(token))
    if wants_json(call):
        return json_response(
            {
                "email": shown,
                "will": [
                    "remove_from_prospect_register",
                    "add_to_suppression_list",
                ],
                "confirm": {"method": "POST", "path": "/unsubscribe", "body": {"token": token}},
            }
        )
    e = html.escape
    text = _UNSUBSCRIBE_TEXT[lang]
    return page(
        lang,
        text["title"],
        f"<p>{e(text['text'].format(email=shown))}</p>" + _confirm_form("unsubscribe", token, lang, text["button"]),
        call=call,
    )


class UnsubscribeRequest(StrictModel):
    """The signed token from the link (a form post sends the same field, and the page's language)."""

    token: Annotated[str, Field(max_length=2000)]
    lang: Literal["fi", "en"] | None = None


@route(
    public_bp,
    "/unsubscribe",
    "POST",
    summary="Object to direct marketing with a signed link",
    content_types=["application/json", "application/x-www-form-urlencoded"],
    query=(),
    body=UnsubscribeRequest,
    # Our own confirm page posts here; another site's form would need the person's own signed
    # token, but nothing is done on a foreign page's say-so either way.
    same_origin=True,
    refused_page=_refused,
)
def unsubscribe_confirm(call: Call) -> Any:
    form: dict[str, list[str]] = {}
    if call.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        form = parse_qs(call.raw_body.decode("utf-8", "replace"))
    langs = form.get("lang", [])
    lang = page_lang(call, langs[0] if len(langs) == 1 else None)
    return _for_browser(call, lang, lambda: _confirm(call, form, lang))


def _confirm(call: Call, form: dict[str, list[str]], lang: str) -> Response:
    if form:
        tokens = form.get("token", [])
        token: object = tokens[0] if len(tokens) == 1 else None
    elif call.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        token = None
    else:
        token = call.body().token  # type: ignore[attr-defined]
    email = unsubscribe.read(token)
    answer = _object(call, email, "unsubscribe_link", lang)
    record = subjects.record_request("objection", answer, ANONYMOUS, call.request_id, "unsubscribe_link")
    if wants_json(call):
        return json_response({"unsubscribed": True, "request_ref": record["request_ref"]})
    text = _UNSUBSCRIBE_TEXT[lang]
    return page(lang, text["done_title"], f"<p>{html.escape(text['done'])}</p>", call=call)


def _object(call: Call, email: str, channel: str, lang: str = "fi") -> subjects.Answer:
    """The objection as a request case (chalicelib/cases.py), verified by the signed link
    and carried out at once, which closes it. Each step writes its audit event in its own
    transaction, also if a later step fails."""
    case = cases.open_case("objection", email, channel, call.actor, lang=lang, verified_by="unsubscribe_link")
    return cases.carry_out(case["case_id"], call.actor)[1]


ONE_CLICK = ("List-Unsubscribe", "One-Click")  # RFC 8058: the one field the POST carries


def _one_click_fields(content_type: str, raw: bytes) -> list[tuple[str, str]]:
    """The form fields of a one-click POST (urlencoded or multipart/form-data, RFC 8058 §3.2)."""
    if content_type.startswith("application/x-www-form-urlencoded"):
        return [(k, v) for k, values in parse_qs(raw.decode("utf-8", "replace")).items() for v in values]
    if content_type.startswith("multipart/form-data"):
        doc = email.message_from_bytes(f"Content-Type: {content_type}\r\n\r\n".encode() + raw, policy=email.policy.HTTP)
        return [
            (str(part.get_param("name", header="content-disposition") or ""), str(part.get_content()).strip())
            for part in doc.iter_parts()
        ]
    return []


@route(
    public_bp,
    unsubscribe.ONE_CLICK_PATH,
    "POST",
    summary="One-click objection to direct marketing (RFC 8058; the link of List-Unsubscribe)",
    content_types=["application/x-www-form-urlencoded", "multipart/form-data"],
    query=("token",),
    # Not `same_origin`: RFC 8058's one-click POST is sent by the mail provider's servers (or a
    # webmail page on its own origin), never from our pages; the signed token in the URL is
    # the authority, and no session is given.
)
def unsubscribe_one_click(call: Call) -> dict[str, Any]:
    """The mail client's POST of `List-Unsubscribe=One-Click` to the URL in the message's
    List-Unsubscribe header: the objection is carried out at once, with no page to confirm
    (the person chose "unsubscribe" in their mail program). The token is in the URL."""
    fields = _one_click_fields(call.headers.get("content-type", ""), call.raw_body)
    if ONE_CLICK not in fields:
        raise ValidationFailed("A one-click unsubscribe posts List-Unsubscribe=One-Click.", code="invalid_body")
    email_norm = unsubscribe.read(call.query.get("token"))
    answer = _object(call, email_norm, "one_click_unsubscribe")
    record = subjects.record_request("objection", answer, ANONYMOUS, call.request_id, "one_click_unsubscribe")
    return {"unsubscribed": True, "request_ref": record["request_ref"]}


# -- keeping an unused account (chalicelib/dormancy.py) ----------------------------------------

_KEEP_TEXT = {
    "fi": {
        "title": "Säilytä asiakastilisi",
        "text": "Asiakastiliäsi ei ole käytetty pitkään aikaan, joten se on poistumassa. Vahvista, että "
        "haluat säilyttää sen: tili säilyy, ja seuraava tarkistus tehdään {months} kuukauden kuluttua.",
        "button": "Säilytä tili",
        "done_title": "Tili säilytetään",
        "done": "Kiitos: asiakastilisi säilyy, eikä tietojasi poisteta.",
        "invalid": "Linkki ei ole voimassa: se on vanhentunut tai jo käytetty, tai tili on jo poistettu. "
        "Kirjaudu sisään tai kirjoita meille: {contact}.",
        "invalid_title": "Linkki ei toimi",
        "refused": "Mitään ei muutettu: lomake lähetettiin toiselta sivustolta. Avaa viestimme linkki "
        "uudelleen tai kirjoita meille: {contact}.",
        "refused_title": "Tiliä ei säilytetty",
    },
    "en": {
        "title": "Keep your customer account",
        "text": "Your customer account has not been used for a long time, so it is about to be erased. Confirm "
        "that you want to keep it: the account stays, and it is next reviewed in {months} months.",
        "button": "Keep my account",
        "done_title": "Your account is kept",
        "done": "Thank you: your customer account stays and your data is not erased.",
        "invalid": "This link is not valid: it has expired or been used, or the account has been erased. "
        "Sign in, or write to us: {contact}.",
        "invalid_title": "This link does not work",
        "refused": "Nothing was changed: the form was sent from another site. Open the link in our message "
        "again, or write to us: {contact}.",
        "refused_title": "The account was not kept",
    },
}


def _keep_page(call: Call, lang: str, answer: Callable[[], Response]) -> Response:
    """`answer()`, with an invalid code as a page in `lang` for a browser (JSON clients get JSON)."""
    try:
        return answer()
    except confirmations.InvalidCode:
        if wants_json(call):
            raise
        text = _KEEP_TEXT[lang]
        body = f"<p>{html.escape(text['invalid'].format(contact=CONTROLLER.contact_email))}</p>"
        return page(lang, text["invalid_title"], body, 400, call=call)


def _keep_refused(call: Call, error: DomainError) -> Response:
    """A keep-account form posted from another site: nothing done (a page, or the JSON error)."""
    if wants_json(call):
        raise error
    lang = page_lang(call)
    text = _KEEP_TEXT[lang]
    body = f"<p>{html.escape(text['refused'].format(contact=CONTROLLER.contact_email))}</p>"
    return page(lang, text["refused_title"], body, error.status, call=call)


@route(
    public_bp,
    dormancy.KEEP_PATH,
    "GET",
    summary="What the keep-account link of an unused account's notice will do (changes nothing)",
    query=("token", "lang"),
)
def keep_account_preview(call: Call) -> Response:
    lang = page_lang(call)
    token = call.query.get("token", "")
    if wants_json(call):
        return json_response({"confirm": {"method": "POST", "path": dormancy.KEEP_PATH, "body": {"token": token}}})
    e = html.escape
    text = _KEEP_TEXT[lang]
    return page(
        lang,
        text["title"],
        f"<p>{e(text['text'].format(months=dormancy.DORMANT.after.months))}</p>"
        + _confirm_form("keep-account", token, lang, text["button"]),
        call=call,
    )


class KeepAccount(StrictModel):
    """The code of the keep-account link (a form post sends the same field, and the page's language)."""

    token: Annotated[StrictStr, Field(max_length=200)]
    lang: Literal["fi", "en"] | None = None


@route(
    public_bp,
    dormancy.KEEP_PATH,
    "POST",
    summary="Keep an unused customer account with the code of its notice",
    content_types=["application/json", "application/x-www-form-urlencoded"],
    query=(),
    body=KeepAccount,
    same_origin=True,  # as /unsubscribe: our own page's form only
    refused_page=_keep_refused,
)
def keep_account(call: Call) -> Any:
    form: dict[str, list[str]] = {}
    is_form = call.headers.get("content-type", "").startswith("application/x-www-form-urlencoded")
    if is_form:
        form = parse_qs(call.raw_body.decode("utf-8", "replace"))
    langs = form.get("lang", [])
    lang = page_lang(call, langs[0] if len(langs) == 1 else None)

    def kept() -> Response:
        if is_form:
            tokens = form.get("token", [])
            token: object = tokens[0] if len(tokens) == 1 else None
        else:
            token = call.body().token  # type: ignore[attr-defined]
        dormancy.keep(token, call.actor)
        if wants_json(call):
            return json_response({"kept": True})
        text = _KEEP_TEXT[lang]
        return page(lang, text["done_title"], f"<p>{html.escape(text['done'])}</p>", call=call)

    return _keep_page(call, lang, kept)
