"""Route declaration shared by the blueprints.

`route()` registers a Chalice route, records it in the route policy (`auth.ROUTES`),
checks the caller's roles again inside the handler, parses JSON bodies safely and turns
domain errors into `{"error": {...}}` responses. Handlers receive a `Call` and never
touch Chalice's request object.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError
from chalice import Blueprint, Response
from pydantic import BaseModel

from chalicelib import audit, partners, store
from chalicelib.audit import Actor
from chalicelib.auth import ANONYMOUS, ROUTES, Principal, RouteSpec
from chalicelib.errors import DomainError, Forbidden, ValidationFailed
from chalicelib.logs import logger
from chalicelib.registers import Role
from chalicelib.secrets import SecretUnusable
from chalicelib.validation import parse

from . import cross_origin
from .authorizer import jwt_authorizer

MAX_PAGE = 100
# No request of this API nests deeper than a few levels; DynamoDB itself stops at 32.
MAX_JSON_DEPTH = 32


def nesting_depth(doc: Any) -> int:
    """How deeply `doc`'s arrays and objects nest (iteratively: no recursion to exhaust)."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(doc, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            node = list(node.values())
        if isinstance(node, list):
            deepest = max(deepest, depth + 1)
            stack.extend((child, depth + 1) for child in node)
    return deepest


def _too_deep() -> ValidationFailed:
    return ValidationFailed(f"The JSON body nests deeper than {MAX_JSON_DEPTH} levels.", code="invalid_json")


@dataclass
class Call:
    """What a handler needs of one HTTP request."""

    principal: Principal
    request_id: str
    query: dict[str, str]
    headers: dict[str, str]
    raw_body: bytes
    body_model: Any = None
    # The route's path template (`/privacy-center/case`): pages link relative to it, so they
    # work under any stage or base-path prefix.
    path: str = ""
    method: str = ""

    def body(self) -> Any:
        """The JSON body validated against the route's declared `body` model."""
        return parse(self.body_model, self.json())

    def json(self) -> Any:
        """The JSON body, or a 400 that says why it is not one."""
        if not self.raw_body:
            raise ValidationFailed("A JSON request body is required.", code="invalid_json")
        try:
            doc = json.loads(self.raw_body)
        except (ValueError, UnicodeDecodeError):
            raise ValidationFailed("The request body is not valid JSON.", code="invalid_json") from None
        except RecursionError:
            # The parser recurses once per level: thousands of `[` exhaust the stack.
            raise _too_deep() from None
        if nesting_depth(doc) > MAX_JSON_DEPTH:
            raise _too_deep()
        return doc

    def audit(self, accesses: Iterable[audit.Access]) -> None:
        """Record reads; a change passes `actor` down and is audited in its own transaction."""
        audit.record(self.principal, accesses, self.request_id)

    @property
    def actor(self) -> Actor:
        """The caller as the author of a change (its audit event goes with the write)."""
        return Actor(self.principal, self.request_id)

    def limit(self, default: int = 25) -> int:
        raw = self.query.get("limit")
        if raw is None:
            return default
        # isascii: "²".isdigit() is true, but int("²") fails.
        if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= MAX_PAGE:
            raise ValidationFailed(f"limit must be a whole number from 1 to {MAX_PAGE}.", code="invalid_query")
        return int(raw)

    def only_query(self, *allowed: str) -> None:
        """Refuse query parameters the route does not know (typos should not pass silently)."""
        unknown = sorted(set(self.query) - set(allowed))
        if unknown:
            raise ValidationFailed(f"Unknown query parameter(s): {', '.join(unknown)}.", code="invalid_query")


_TRANSIENT_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "InternalServerError",
        "ServiceUnavailable",
        "SlowDown",
        "InternalError",
    }
)


def is_transient(exc: Exception) -> bool:
    """True for AWS throttling and availability errors (left after botocore's retries): a
    connection refused, reset or timed out (`HTTPClientError`: closed, read timeout) as well."""
    if isinstance(exc, (BotoConnectionError, HTTPClientError)):
        return True
    return isinstance(exc, ClientError) and exc.response.get("Error", {}).get("Code") in _TRANSIENT_CODES


def _as_bytes(body: str | bytes | None) -> bytes:
    if isinstance(body, str):
        return body.encode()
    return body or b""


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        # DynamoDB numbers come back as Decimal: plain() makes them JSON numbers again.
        body=json.dumps(store.plain(body), ensure_ascii=False, default=str),
        status_code=status,
        headers={"Content-Type": "application/json", "Cache-Control": "no-store", **(headers or {})},
    )


def error_response(exc: DomainError) -> Response:
    return json_response(exc.to_body(), status=exc.status)


_PARTNER_ROLES = frozenset({Role.PARTNER, Role.RESELLER, Role.MARKETING})
# The registry kinds a partner principal must have to use a route granted to its role.
_KINDS_OF: dict[Role, frozenset[str]] = {
    Role.PARTNER: partners.UPLOADER_KINDS,
    Role.RESELLER: frozenset({"reseller"}),
    Role.MARKETING: frozenset({"marketing"}),
}


def admit_partner(principal: Principal, allowed: frozenset[Role]) -> None:
    """A partner principal acts only while the registry has its partner active (403 otherwise).

    Checked when the route is the principal's as a partner: the registry's kind must fit
    the route (`reseller` for a reseller's, `marketing` for a marketing partner's, a data
    provider or reseller for the uploaders' own), not just the token's `partner_type`.
    """
    granted = principal.roles & allowed
    if not granted or not granted <= _PARTNER_ROLES:
        return
    kinds: set[str] = set()
    for role in granted:
        kinds |= _KINDS_OF[role]
    partners.admit(principal.partner_id, kinds=frozenset(kinds))


def route(
    bp: Blueprint,
    path: str,
    method: str,
    roles: Iterable[Role] = (),
    *,
    summary: str = "",
    status: int = 200,
    content_types: list[str] | None = None,
    body: type[BaseModel] | None = None,
    query: Iterable[str] | None = None,
    response: Any = None,
    same_origin: bool = False,
    refused_page: Callable[[Call, DomainError], Response] | None = None,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declare one route method; `roles` empty means anyone may call it.

    `body` is the request model (`call.body()` validates against it); `query` the accepted
    query parameters (others are refused with 400). Both also feed the OpenAPI document, as
    does `response`, the success body's shape (a pydantic model or TypedDict).

    `same_origin`: a browser's cross-site request (chalicelib/api/cross_origin.py) is refused
    with 403 `cross_origin_request` before the handler runs; for an anonymous route a browser
    posts forms to (a session given by its answer is login CSRF's target). `refused_page`
    answers that refusal instead of the JSON error, as Go's deny handler does: a route whose
    errors are pages to a browser shows it as one (it re-raises the error for a JSON client).
    """
    allowed = frozenset(roles)
    accepted_query = None if query is None else tuple(query)
    types = content_types or ["application/json"]

    def decorator(handler: Callable[..., Any]) -> Callable[..., Any]:
        ROUTES.append(
            RouteSpec(
                path=path,
                method=method,
                roles=allowed,
                summary=summary,
                tags=(bp._import_name.rsplit(".", 1)[-1],),
                body=body,
                query=accepted_query or (),
                status=status,
                operation_id=handler.__name__,
                content_types=tuple(types),
                response=response,
                same_origin=same_origin,
            )
        )

        def answer(call: Call, **params: str) -> Any:
            """The handler's answer, unless `same_origin` refuses the request first."""
            if same_origin:
                try:
                    cross_origin.check(call.method, call.headers)
                except cross_origin.CrossOriginRequest as refusal:
                    if refused_page is None:
                        raise
                    return refused_page(call, refusal)
            return handler(call, **params)

        @functools.wraps(handler)
        def view(**params: str) -> Response:
            request = bp.current_request
            context = request.context or {}
            principal = Principal.from_context(context.get("authorizer")) if allowed else ANONYMOUS
            call = Call(
                principal=principal,
                request_id=str(context.get("requestId", "")),
                query=dict(request.query_params or {}),
                headers={k.lower(): v for k, v in (request.headers or {}).items()},
                raw_body=_as_bytes(request.raw_body),
                body_model=body,
                path=path,
                method=method,
            )
            logger.set_correlation_id(call.request_id or None)
            started = time.perf_counter()
            try:
                if allowed and not principal.has_any(allowed):
                    raise Forbidden("This principal may not use this resource.")
                admit_partner(principal, allowed)
                if accepted_query is not None:
                    call.only_query(*accepted_query)
                result = answer(call, **params)
                response = result if isinstance(result, Response) else json_response(result, status=status)
            except DomainError as exc:
                response = error_response(exc)
                outcome = exc.code
            except SecretUnusable:
                # Fail closed: a key that is not the real one would change every keyed hash
                # (suppressed people found "new"). secrets.keyring logged it for the alarm.
                response = json_response(
                    {"error": {"code": "service_unavailable", "message": "Temporarily unavailable."}}, status=503
                )
                outcome = "secret_unusable"
            except (ClientError, BotoConnectionError, HTTPClientError) as exc:
                if not is_transient(exc):
                    raise
                # AWS stayed throttled or unreachable past the retry budget: nothing was
                # half-written (transactions, conditional writes), so the client may retry
                # (a write whose reply was lost may have happened: its retry meets the
                # conditions that a second write would break, never a duplicate).
                response = json_response(
                    {"error": {"code": "service_unavailable", "message": "Temporarily unavailable; retry shortly."}},
                    status=503,
                    headers={"Retry-After": "2"},
                )
                outcome = "service_unavailable"
            else:
                outcome = "ok"
            # The route template, not the URL: query strings may hold an email address.
            logger.info(
                "request",
                route=path,
                method=method,
                status=response.status_code,
                outcome=outcome,
                principal_id=principal.principal_id,
                duration_ms=round((time.perf_counter() - started) * 1000, 1),
            )
            return response

        bp.route(
            path,
            methods=[method],
            authorizer=jwt_authorizer if allowed else None,
            content_types=types,
        )(view)
        return handler

    return decorator


def normalise_error_response(event: Any, get_response: Callable[[Any], Response]) -> Response:
    """HTTP middleware: give Chalice's own errors (400/404/405/415/500) our JSON shape."""
    response = get_response(event)
    body = response.body
    if response.status_code >= 400 and isinstance(body, dict) and "Code" in body:
        if response.status_code >= 500:
            # Chalice already logged the traceback; the client gets no internals. Same code
            # as the deployed gateway's DEFAULT_5XX response.
            code, message = "internal_error", "An internal error occurred."
        else:
            code, message = _snake(str(body["Code"])), str(body.get("Message", ""))
        response = json_response({"error": {"code": code, "message": message}}, response.status_code)
    return response


def _snake(name: str) -> str:
    """Chalice's error class names as our codes: BadRequestError → bad_request."""
    out = "".join("_" + c.lower() if c.isupper() else c for c in name).lstrip("_")
    return out.removesuffix("_error")
