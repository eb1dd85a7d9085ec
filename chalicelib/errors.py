"""Domain errors: each carries an HTTP-ish status, a stable code and a safe message.

Messages name fields and reasons, never the values a person gave: error texts end up
in responses and logs, where personal data must not go.
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """Base of every error the API turns into `{"error": {"code", "message"}}`."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, code: str | None = None, details: list[dict[str, Any]] | None = None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.details = details or []

    def to_body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details:
            error["details"] = self.details
        return {"error": error}


class ValidationFailed(DomainError):
    status = 400
    code = "validation_failed"


class NotAcceptable(DomainError):
    """The resource has only an HTML representation and the client asked for JSON."""

    status = 406
    code = "not_acceptable"


class Unauthenticated(DomainError):
    status = 401
    code = "unauthorized"


class Forbidden(DomainError):
    status = 403
    code = "forbidden"


class NotFound(DomainError):
    status = 404
    code = "not_found"


class Conflict(DomainError):
    status = 409
    code = "conflict"


class PreconditionFailed(DomainError):
    status = 412
    code = "precondition_failed"
