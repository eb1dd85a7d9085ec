"""Routes for named staff persons (group `staff`; `dpo` includes staff)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from chalice import Blueprint
from pydantic import BaseModel, Field

from chalicelib import (
    accounts,
    audit,
    cases,
    confirmations,
    customers,
    service_messages,
    store,
    subjects,
    unsubscribe,
)
from chalicelib.audit import Access
from chalicelib.auth import PARTNER_ID
from chalicelib.errors import ValidationFailed
from chalicelib.registers import CUSTOMER, ORDER, RESELLER_END_USER, STAFF_ROLES, Role
from chalicelib.validation import ActiveServices, IsoDate, RecordSearch, StrictModel, checked_email, dump, schema

from .routing import Call, route

staff_bp = Blueprint(__name__)
STAFF = STAFF_ROLES
DPO = (Role.DPO,)
# Consent is the person's own answer (registration, /me/consent); staff never set it.
STAFF_FIELDS = customers.STAFF_EDITABLE
END_USER = schema(RESELLER_END_USER, "create")


class ContractEnd(StrictModel):
    end_date: IsoDate


class Services(StrictModel):
    active_services: ActiveServices


def read_records(call: Call, items: list[dict[str, Any]], action: str = "read") -> list[dict[str, Any]]:
    """Present records to the caller and audit each one it is shown."""
    shown = [customers.present(i, call.principal.roles) for i in items]
    call.audit(Access(action, customers.REGISTER, customers.record_id(i), customers.personal_fields(i)) for i in items)
    return shown


def _changed(call: Call, item: dict[str, Any]) -> dict[str, Any]:
    """Show a changed customer record as it now is (the change wrote its own audit event)."""
    return customers.present(item, call.principal.roles)


@route(
    staff_bp,
    "/customers",
    "GET",
    STAFF,
    summary="List customers, or search by organisation and status",
    query=("limit", "cursor", "q", "status"),
)
def list_customers(call: Call) -> dict[str, Any]:
    status = call.query.get("status")
    if status not in (None, "active", "ended", "erased"):
        raise ValidationFailed("status must be active, ended or erased.", code="invalid_query")
    page = customers.list_customers(call.limit(), call.query.get("cursor"), call.query.get("q"), status)
    return {"items": read_records(call, page["items"], "list"), "next_cursor": page["next_cursor"]}


@route(
    staff_bp,
    "/customers/search",
    "POST",
    STAFF,
    summary="Find customers by contact email or name (in the body: they stay out of URLs and logs)",
    query=(),
    body=RecordSearch,
)
def search_customers(call: Call) -> dict[str, Any]:
    search = call.body()
    if search.name is not None:
        page = store.gather_matches(
            lambda limit, cursor: customers.list_customers(limit, cursor, name=search.name), search.cursor
        )
        return {"items": read_records(call, page["items"], "search"), "next_cursor": page["next_cursor"]}
    found = customers.find_by_email(checked_email(search.email))
    return {"items": read_records(call, [found] if found else [], "search"), "next_cursor": None}


@route(
    staff_bp,
    "/customers",
    "POST",
    STAFF,
    status=201,
    summary="Create a customer (an invitation is emailed)",
    query=(),
    body=schema(CUSTOMER, "create", STAFF_FIELDS),
)
def create_customer(call: Call) -> dict[str, Any]:
    data = dump(call.body())
    item = customers.create_with_login(data, None, call.actor)
    return customers.present(item, call.principal.roles)


@route(staff_bp, "/customers/{customer_id}", "GET", STAFF, summary="Get a customer", query=())
def get_customer(call: Call, customer_id: str) -> dict[str, Any]:
    return read_records(call, [customers.get_customer(customer_id)])[0]


def apply_update(call: Call, customer_id: str, body: BaseModel) -> dict[str, Any]:
    """Rectify a customer and keep the login's email in step; audited with the field names."""
    changes = dump(body)
    before = customers.get_customer(customer_id)
    item = customers.update_customer(customer_id, changes, call.actor)
    if "email" in changes and item["email"] != before["email"]:
        accounts.update_login_email(item["username"], item["email"])
    return customers.present(item, call.principal.roles)


@route(
    staff_bp,
    "/customers/{customer_id}",
    "PATCH",
    STAFF,
    summary="Rectify a customer's data",
    query=(),
    body=schema(CUSTOMER, "update", STAFF_FIELDS - {"username"}),
)
def update_customer(call: Call, customer_id: str) -> dict[str, Any]:
    return apply_update(call, customer_id, call.body())


@route(
    staff_bp,
    "/customers/{customer_id}/contract-end",
    "POST",
    STAFF,
    summary="End the contract",
    query=(),
    body=ContractEnd,
)
def end_contract(call: Call, customer_id: str) -> dict[str, Any]:
    body = call.body()
    item = customers.end_contract(customer_id, body.end_date, call.actor)  # type: ignore[attr-defined]
    return _changed(call, item)


@route(
    staff_bp, "/customers/{customer_id}/reactivation", "POST", STAFF, summary="Re-activate an ended contract", query=()
)
def reactivate(call: Call, customer_id: str) -> dict[str, Any]:
    return _changed(call, customers.reactivate(customer_id, call.actor))


@route(
    staff_bp,
    "/customers/{customer_id}/services",
    "PUT",
    STAFF,
    summary="Set active services and prices",
    query=(),
    body=Services,
)
def set_services(call: Call, customer_id: str) -> dict[str, Any]:
    body = call.body()
    item = customers.set_services(customer_id, dump(body)["active_services"], call.actor)
    return _changed(call, item)


@route(
    staff_bp,
    "/customers/{customer_id}/consent-request",
    "POST",
    STAFF,
    status=202,
    summary="Mail the customer a code to answer the service-message consent themself",
    query=(),
)
def request_consent(call: Call, customer_id: str) -> dict[str, Any]:
    confirmations.request_consent(customer_id, call.actor)
    return {"status": "consent_request_sent", "valid_days": confirmations.CONSENT_LINK_DAYS}


@route(
    staff_bp,
    "/customers/{customer_id}/orders",
    "GET",
    STAFF,
    summary="List a customer's orders",
    query=("limit", "cursor"),
)
def list_orders(call: Call, customer_id: str) -> dict[str, Any]:
    page = customers.list_orders(customer_id, call.limit(), call.query.get("cursor"))
    return {"items": read_records(call, page["items"], "list"), "next_cursor": page["next_cursor"]}


@route(
    staff_bp,
    "/customers/{customer_id}/orders",
    "POST",
    STAFF,
    status=201,
    summary="Add an order",
    query=(),
    body=schema(ORDER, "create"),
)
def add_order(call: Call, customer_id: str) -> dict[str, Any]:
    data = dump(call.body())
    item = customers.add_order(customer_id, data, call.actor)
    return customers.present(item, call.principal.roles)


def _reseller(partner_id: str) -> str:
    """A well-formed id (400 otherwise); customers checks the registry (404 unless a reseller)."""
    if not PARTNER_ID.match(partner_id):
        raise ValidationFailed("partner_id is not valid.", code="invalid_path")
    return partner_id


@route(
    staff_bp,
    "/resellers/{partner_id}/end-users",
    "GET",
    STAFF,
    summary="List a reseller's end users",
    query=("limit", "cursor"),
)
def list_end_users(call: Call, partner_id: str) -> dict[str, Any]:
    page = customers.list_end_users(_reseller(partner_id), call.limit(), call.query.get("cursor"))
    return {"items": read_records(call, page["items"], "list"), "next_cursor": page["next_cursor"]}


@route(
    staff_bp,
    "/resellers/{partner_id}/end-users",
    "POST",
    STAFF,
    status=201,
    summary="Add a reseller's end user",
    query=(),
    body=END_USER,
)
def add_end_user(call: Call, partner_id: str) -> dict[str, Any]:
    return create_end_user(call, _reseller(partner_id))


@route(
    staff_bp,
    "/resellers/{partner_id}/contract-end",
    "POST",
    STAFF,
    summary="End a reseller's contract; its end users are deleted 12 months later",
    query=(),
    body=ContractEnd,
)
def end_reseller_contract(call: Call, partner_id: str) -> dict[str, Any]:
    body = call.body()
    return customers.end_reseller_contract(_reseller(partner_id), body.end_date, call.actor)  # type: ignore[attr-defined]


@route(
    staff_bp, "/resellers/{partner_id}/end-users/{end_user_id}", "DELETE", STAFF, summary="Remove an end user", query=()
)
def remove_end_user(call: Call, partner_id: str, end_user_id: str) -> dict[str, Any]:
    return delete_end_user(call, _reseller(partner_id), end_user_id)


def create_end_user(call: Call, partner_id: str) -> dict[str, Any]:
    """Shared by staff and the reseller itself (route body END_USER: only name and email)."""
    data = dump(call.body())
    item = customers.add_end_user(partner_id, data, call.actor)
    return customers.present(item, call.principal.roles)


def delete_end_user(call: Call, partner_id: str, end_user_id: str) -> dict[str, Any]:
    customers.remove_end_user(partner_id, end_user_id, call.actor)
    return {"deleted": True, "end_user_id": end_user_id}


@route(
    staff_bp,
    "/audit/records/{register}/{record_id}",
    "GET",
    DPO,
    summary="Audit events of one record",
    query=("limit", "cursor"),
    response=audit.AuditEventPage,
)
def audit_by_record(call: Call, register: str, record_id: str) -> dict[str, Any]:
    if register not in ("customers", "prospects", "suppression", "partners", "campaigns", "cases", "system"):
        raise ValidationFailed(
            "register must be customers, prospects, suppression, partners, campaigns, cases or system.",
            code="invalid_path",
        )
    return audit.by_record(register, record_id, call.limit(50), call.query.get("cursor"))


@route(
    staff_bp,
    "/audit/principals/{principal_id}",
    "GET",
    DPO,
    summary="Audit events caused by one principal",
    query=("limit", "cursor"),
    response=audit.AuditEventPage,
)
def audit_by_principal(call: Call, principal_id: str) -> dict[str, Any]:
    return audit.by_principal(principal_id, call.limit(50), call.query.get("cursor"))


class SubjectRequest(StrictModel):
    """A data subject's request as staff received it: `changes` for rectification (the new
    values) and restriction (`{"reason", "until"?}`); the channel it came by."""

    type: Literal["access", "rectification", "erasure", "objection", "restriction", "portability"]
    email: Annotated[str, Field(max_length=254)]
    changes: dict[str, Any] | None = None
    channel: Literal["staff_letter", "staff_phone", "staff_email"] = "staff_email"
    lang: Literal["fi", "en"] = "fi"


class UnsubscribeLinkRequest(StrictModel):
    email: Annotated[str, Field(max_length=254)]


@route(
    staff_bp,
    "/subject-requests",
    "POST",
    STAFF,
    summary="Handle a data subject request by email address",
    query=(),
    body=SubjectRequest,
)
def subject_request(call: Call) -> dict[str, Any]:
    """Open a case for the request, verified by staff, and carry it out at once (chalicelib/
    cases.py); the answer is in the response, and the case stays open until staff send it to
    the person and close the case with how it was delivered (`POST /cases/{id}/close`)."""
    body = call.body()
    kind = str(body.type)
    # A bad value opens no case and changes nothing.
    if kind == "rectification":
        subjects.check_changes(body.changes)
    elif kind == "restriction":
        cases.check_restriction(body.changes)
    details = {"changes": body.changes} if kind == "rectification" else body.changes if kind == "restriction" else None
    opened = cases.open_case(
        kind, body.email, body.channel, call.actor, lang=body.lang, verified_by="staff_checked", details=details
    )
    # Each change writes its audit event in its own transaction; access reads are recorded by the case.
    case, answer = cases.carry_out(opened["case_id"], call.actor)
    record = subjects.record_request(kind, answer, call.principal, call.request_id, "staff")
    return {"request": record, "answer": answer.body, "case_id": case["case_id"], "case": case}


@route(
    staff_bp,
    "/subject-requests",
    "GET",
    STAFF,
    summary="Recorded subject requests (no personal data)",
    query=("limit", "cursor"),
    response=subjects.RequestRecordPage,
)
def subject_requests(call: Call) -> dict[str, Any]:
    return subjects.list_requests(call.limit(50), call.query.get("cursor"))


@route(
    staff_bp,
    "/unsubscribe-links",
    "POST",
    STAFF,
    status=201,
    summary="A signed unsubscribe link for an email",
    query=(),
    body=UnsubscribeLinkRequest,
)
def unsubscribe_link(call: Call) -> dict[str, Any]:
    email = checked_email(call.body().email)
    token = unsubscribe.issue(email)
    return {"token": token, "path": f"/unsubscribe?token={token}"}


class ServiceText(StrictModel):
    """A text in Finnish (always) and English (for customers known to read English)."""

    fi: Annotated[str, Field(min_length=1, max_length=10000)]
    en: Annotated[str, Field(min_length=1, max_length=10000)] | None = None


class ServiceSubject(StrictModel):
    fi: Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[^\r\n]*$")]
    en: Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[^\r\n]*$")] | None = None


class ServiceMessage(StrictModel):
    """A maintenance notice or a change of terms: subject and body in fi, optionally en."""

    subject: ServiceSubject
    body: ServiceText


@route(
    staff_bp,
    "/service-messages",
    "POST",
    STAFF,
    status=202,
    summary="Send a service message to the customers whose consent is given and current (a queued job)",
    query=(),
    body=ServiceMessage,
)
def send_service_message(call: Call) -> dict[str, Any]:
    body = call.body()
    data = {
        "subject": body.subject.model_dump(exclude_none=True),  # type: ignore[attr-defined]
        "body": body.body.model_dump(exclude_none=True),  # type: ignore[attr-defined]
    }
    return service_messages.create(data, call.actor)


@route(
    staff_bp,
    "/service-messages/{message_id}",
    "GET",
    STAFF,
    summary="A service message and its sending progress (counts only)",
    query=(),
)
def service_message(call: Call, message_id: str) -> dict[str, Any]:
    return service_messages.get(message_id)
