"""API Gateway behaviour that `chalice local` lacks, for the local stack and the tests.

API Gateway answers 401 when a Lambda authorizer raises `Exception("Unauthorized")`;
`chalice local` instead drops the connection. And the deployed API's gateway responses
(infra/resources.json) use the app's JSON error shape. This module gives the local
gateway both behaviours, so the app runs unchanged in both places.
"""

from __future__ import annotations

import json
from typing import Any

from chalice import local

_installed = False
_CODES = {
    401: ("unauthorized", "Missing or invalid credentials."),
    403: ("forbidden", "This principal may not use this resource."),
    404: ("not_found", "No such route."),
}


class RouteNotFound(local.LocalGatewayException):
    """The deployed API maps API Gateway's MISSING_AUTHENTICATION_TOKEN (no such route) to 404."""

    CODE = 404


def _error_body(status: int) -> bytes:
    code, message = _CODES.get(status, ("error", "Request refused by the gateway."))
    return json.dumps({"error": {"code": code, "message": message}}).encode()


def install() -> None:
    """Patch chalice.local's authorizer and error responses once per process."""
    global _installed
    if _installed:
        return
    original_authorize = local.LocalGatewayAuthorizer.authorize

    def authorize(self: Any, raw_path: str, lambda_event: Any, lambda_context: Any) -> Any:
        try:
            return original_authorize(self, raw_path, lambda_event, lambda_context)
        except local.LocalGatewayException as exc:
            raise type(exc)(exc.headers, _error_body(exc.CODE)) from None
        except Exception as exc:
            if str(exc) == "Unauthorized":
                raise local.NotAuthorizedError(
                    {"x-amzn-ErrorType": "UnauthorizedException"}, _error_body(401)
                ) from None
            raise

    original_handle = local.LocalGateway.handle_request

    def handle_request(self: Any, method: str, path: str, headers: Any, body: Any) -> Any:
        try:
            return original_handle(self, method, path, headers, body)
        except local.ForbiddenError as exc:
            raw = exc.body or b""
            if b"Missing Authentication Token" in raw or b"requires 'Credential'" in raw:
                raise RouteNotFound(exc.headers, _error_body(404)) from None
            raise

    # The local server has do_* only for the common methods and answers any other (TRACE,
    # QUERY, …) with its own 501 HTML page; route every method through the gateway so an
    # undeclared one gets the app's JSON refusal (405), never a 5xx.
    def other_method(self: Any, name: str) -> Any:
        if name.startswith("do_"):
            return self._generic_handle
        raise AttributeError(name)

    local.ChaliceRequestHandler.__getattr__ = other_method  # type: ignore[attr-defined]

    # The local server logs each request line, query string included, and a query can
    # carry personal data (GET /customers?email=…): log the method and path only.
    def log_request(self: Any, code: Any = "-", size: Any = "-") -> None:
        path, has_query, _ = str(self.path).partition("?")
        query = "?[query not logged]" if has_query else ""
        self.log_message('"%s %s%s" %s %s', self.command, path, query, getattr(code, "value", code), size)

    local.ChaliceRequestHandler.log_request = log_request  # type: ignore[method-assign]
    local.LocalGatewayAuthorizer.authorize = authorize  # type: ignore[method-assign]
    local.LocalGateway.handle_request = handle_request  # type: ignore[method-assign]
    _installed = True
