"""Routes for a registered customer's contact person: their own data only."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from chalice import Blueprint
from pydantic import Field, StrictBool, StrictStr

from chalicelib import cases, confirmations, customers, dormancy, notice, subjects
from chalicelib.errors import Conflict
from chalicelib.mail import compose
from chalicelib.registers import CUSTOMER, ORDER, Role
from chalicelib.validation import StrictModel, dump, schema

from .routing import Call, route
from .staff import apply_update, read_records

selfservice_bp = Blueprint(__name__)
CUSTOMER_ONLY = (Role.CUSTOMER,)
_SELF_EDITABLE = frozenset(f.name for f in CUSTOMER.fields if f.self_editable)


class Consent(StrictModel):
    consent_service_messages: StrictBool  # the person's explicit answer: true or false, not "yes"
    # The wording's version the page showed (GET /consent-wording) and its language: the
    # record keeps exactly those words; an outdated version is refused (409).
    consent_wording_version: Annotated[StrictStr, Field(max_length=64)] | None = None
    lang: Literal["fi", "en"] | None = None


def _own_id(call: Call) -> str:
    # The id comes from the verified token, never from the request: no way to name another.
    return call.principal.customer_id


@route(selfservice_bp, "/me", "GET", CUSTOMER_ONLY, summary="Everything held about me (machine-readable)", query=())
def me(call: Call) -> dict[str, Any]:
    customer_id = _own_id(call)
    profile = customers.get_customer(customer_id)
    # The client's first read after signing in: the day the account was last used, which
    # keeps it (chalicelib/dormancy.py); written at most once a day.
    if dormancy.touch(profile, call.actor):
        profile = customers.get_customer(customer_id)
    orders = customers.all_orders(customer_id)
    answer: dict[str, Any] = {
        "register": customers.REGISTER,
        "customer": read_records(call, [profile], "export")[0],
        "orders": read_records(call, orders, "export"),
        **subjects.restriction_for_person(profile),  # Art. 18: the person sees their restriction
    }
    if "consent_service_messages" not in profile and profile.get("status") in ("active", "ended"):
        # Not asked yet (created by staff): the question to put, word for word (PUT /me/consent).
        answer["consent_request"] = notice.consent_wording(str(profile.get("lang") or "fi"))
    return answer


@route(
    selfservice_bp,
    "/me",
    "PATCH",
    CUSTOMER_ONLY,
    summary="Correct my data",
    query=(),
    body=schema(CUSTOMER, "update", _SELF_EDITABLE),
)
def update_me(call: Call) -> dict[str, Any]:
    """Correct my data; a new email changes only once its owner confirms the code sent to it."""
    body = call.body()
    changes = dump(body)
    new_email = changes.pop("email", None)
    current = customers.get_customer(_own_id(call))
    if new_email is None or new_email == current.get("email"):
        return apply_update(call, _own_id(call), body)
    shown = (
        apply_update(call, _own_id(call), type(body).model_validate(changes))
        if changes
        else read_records(call, [current])[0]
    )
    confirmations.request_email_change(_own_id(call), new_email, call.actor)
    return {**shown, "email_change": {"status": "confirmation_sent"}}


class EmailConfirmation(StrictModel):
    """The code sent to the new address."""

    token: Annotated[StrictStr, Field(max_length=200)]


@route(
    selfservice_bp,
    "/me/email/confirm",
    "POST",
    CUSTOMER_ONLY,
    summary="Confirm my new email address with the code sent to it",
    query=(),
    body=EmailConfirmation,
)
def confirm_email(call: Call) -> dict[str, Any]:
    item = confirmations.confirm_email_change(_own_id(call), call.body().token, call.actor)  # type: ignore[attr-defined]
    return customers.present(item, call.principal.roles)


@route(
    selfservice_bp,
    "/me/consent",
    "PUT",
    CUSTOMER_ONLY,
    summary="Give or withdraw consent to service messages",
    query=(),
    body=Consent,
)
def set_consent(call: Call) -> dict[str, Any]:
    body = call.body()
    answer = customers.consent_answer(
        body.consent_service_messages,  # type: ignore[attr-defined]
        "self_service",
        body.lang,  # type: ignore[attr-defined]
        body.consent_wording_version,  # type: ignore[attr-defined]
    )
    item = customers.set_consent(_own_id(call), answer, call.actor)
    return customers.present(item, call.principal.roles)


@route(
    selfservice_bp,
    "/me/orders",
    "POST",
    CUSTOMER_ONLY,
    status=201,
    summary="Place an order",
    query=(),
    body=schema(ORDER, "create"),
)
def place_order(call: Call) -> dict[str, Any]:
    data = dump(call.body())
    item = customers.add_order(_own_id(call), data, call.actor)
    return customers.present(item, call.principal.roles)


@route(selfservice_bp, "/me/orders", "GET", CUSTOMER_ONLY, summary="List my orders", query=("limit", "cursor"))
def my_orders(call: Call) -> dict[str, Any]:
    page = customers.list_orders(_own_id(call), call.limit(), call.query.get("cursor"))
    return {"items": read_records(call, page["items"], "list"), "next_cursor": page["next_cursor"]}


class MyRequest(StrictModel):
    """A request about my own data that /me does not carry out directly: `details` for
    rectification (`{"changes": {...}}`, e.g. a field I cannot edit myself) and restriction
    (`{"reason", "until"?}`)."""

    type: Literal["access", "rectification", "erasure", "restriction", "objection", "portability"]
    details: dict[str, Any] | None = None


@route(
    selfservice_bp,
    "/me/requests",
    "POST",
    CUSTOMER_ONLY,
    status=201,
    summary="Make a data subject request about my data: it becomes a case, verified by my sign-in",
    query=(),
    body=MyRequest,
)
def my_request(call: Call) -> dict[str, Any]:
    """The request becomes a case verified by the sign-in (chalicelib/cases.py). Access,
    portability and objection are carried out at once and answered here; erasure,
    rectification and restriction need staff's judgement (a contract, bookkeeping, whether
    the data is accurate) and stay open for staff, due a month from today."""
    body = call.body()
    profile = customers.get_customer(_own_id(call))
    if not profile.get("email"):
        raise Conflict("The account has no email address for the answer.", code="no_contact")
    case = cases.open_case(
        body.type,
        str(profile["email"]),
        "self_service",
        call.actor,
        lang=compose.lang_or_default(profile.get("lang")),
        verified_by="signed_in",
        details=body.details,
    )
    if body.type not in cases.SELF_CLOSING:
        return {"case": case}
    shown, answer = cases.carry_out(case["case_id"], call.actor)
    return {"case": shown, "answer": answer.body}
