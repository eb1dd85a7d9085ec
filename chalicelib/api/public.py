"""Routes for anyone: self-registration as a customer."""

from __future__ import annotations

import html
from typing import Annotated, Any
from urllib.parse import parse_qs

from chalice import Blueprint, Response
from pydantic import Field, StrictBool

from chalicelib import customers, notice, subjects, unsubscribe
from chalicelib.auth import ANONYMOUS
from chalicelib.errors import ValidationFailed
from chalicelib.registers import CUSTOMER, Role
from chalicelib.validation import StrictModel, dump, schema

from .routing import Call, json_response, route

public_bp = Blueprint(__name__)

_SELF_FIELDS = frozenset(f.name for f in CUSTOMER.fields if f.self_editable) | {"username"}


class Registration(schema(CUSTOMER, "create", _SELF_FIELDS)):  # type: ignore[misc]
    """Self-registration: the customer's own data, a password, and an explicit consent answer."""

    password: Annotated[str, Field(min_length=12, max_length=256)]
    # Asked explicitly: true or false, with no default (DESIGN §2, the notice's consent).
    consent_service_messages: StrictBool


@route(
    public_bp,
    "/registrations",
    "POST",
    status=201,
    summary="Register an organisation and its contact person",
    query=(),
    body=Registration,
)
def register(call: Call) -> dict[str, Any]:
    body = call.body()
    data = dump(body)
    password = data.pop("password")
    item = customers.create_with_login(data, password, call.actor)
    return customers.present(item, frozenset({Role.CUSTOMER}))


def _wants_json(call: Call) -> bool:
    """JSON unless the client asks for HTML (a browser) without naming JSON."""
    accept = call.headers.get("accept", "")
    return "application/json" in accept or "text/html" not in accept


def _html(body: str, status: int = 200) -> Response:
    return Response(
        body=body,
        status_code=status,
        headers={
            "Content-Type": "text/html; charset=utf-8",
            "Cache-Control": "no-store",
            "Content-Security-Policy": "default-src 'none'; form-action 'self'",
            "Referrer-Policy": "no-referrer",
        },
    )


@route(
    public_bp,
    "/privacy-notice",
    "GET",
    summary="The privacy notice (fi default, ?lang=en; HTML or JSON)",
    query=("lang",),
)
def privacy_notice(call: Call) -> Response:
    lang = call.query.get("lang", "fi")
    if lang not in notice.LANGS:
        raise ValidationFailed("lang must be fi or en.", code="invalid_query")
    doc = notice.notice(lang)
    if _wants_json(call):
        return json_response(doc, headers={"Cache-Control": "public, max-age=300", "Content-Language": lang})
    page = _html(notice.render_html(doc))
    page.headers.update({"Cache-Control": "public, max-age=300", "Content-Language": lang})
    return page


_UNSUBSCRIBE_TEXT = {
    "fi": (
        "Peru markkinointi",
        "Osoitteesi {email} poistetaan prospektirekisteristämme, mahdollinen lupa palveluviesteihin perutaan ja "
        "osoitteesta säilytetään vain avainnettu tiiviste, jotta sitä ei lisätä uudelleen markkinointiin.",
        "Vahvista peruutus",
    ),
    "en": (
        "Stop marketing",
        "Your address {email} will be removed from our prospect register, any consent to service messages "
        "withdrawn, and only a keyed hash of the address kept so it is never added to marketing again.",
        "Confirm",
    ),
}


@route(
    public_bp,
    "/unsubscribe",
    "GET",
    summary="What the unsubscribe link will do (changes nothing)",
    query=("token", "lang"),
)
def unsubscribe_preview(call: Call) -> Response:
    token = call.query.get("token", "")
    email = unsubscribe.read(token)
    lang = "en" if call.query.get("lang") == "en" else "fi"
    title, text, button = _UNSUBSCRIBE_TEXT[lang]
    shown = unsubscribe.masked(email)
    if _wants_json(call):
        return json_response(
            {
                "email": shown,
                "will": [
                    "remove_from_prospect_register",
                    "withdraw_service_message_consent",
                    "add_to_suppression_list",
                ],
                "confirm": {"method": "POST", "path": "/unsubscribe", "body": {"token": token}},
            }
        )
    e = html.escape
    return _html(
        f'<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8"><title>{e(title)}</title></head><body>'
        f"<h1>{e(title)}</h1><p>{e(text.format(email=shown))}</p>"
        f'<form method="post" action="unsubscribe"><input type="hidden" name="token" value="{e(token)}">'
        f'<button type="submit">{e(button)}</button></form></body></html>'
    )


class UnsubscribeRequest(StrictModel):
    """The signed token from the link (a form post sends the same field)."""

    token: Annotated[str, Field(max_length=2000)]


@route(
    public_bp,
    "/unsubscribe",
    "POST",
    summary="Object to direct marketing with a signed link",
    content_types=["application/json", "application/x-www-form-urlencoded"],
    query=(),
    body=UnsubscribeRequest,
)
def unsubscribe_confirm(call: Call) -> Any:
    if call.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        tokens = parse_qs(call.raw_body.decode("utf-8", "replace")).get("token", [])
        token: object = tokens[0] if len(tokens) == 1 else None
    else:
        token = call.body().token
    email = unsubscribe.read(token)
    # Each step writes its audit event in its own transaction, also if a later step fails.
    answer = subjects.object_to_marketing(email, call.actor)
    record = subjects.record_request("objection", answer, ANONYMOUS, call.request_id, "unsubscribe_link")
    result = {"unsubscribed": True, "request_ref": record["request_ref"]}
    if _wants_json(call):
        return result
    return _html(
        '<!DOCTYPE html><html><head><meta charset="utf-8"><title>OK</title></head><body>'
        "<p>Markkinointi peruttu. / You will not receive marketing from us.</p></body></html>"
    )
