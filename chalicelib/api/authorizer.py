"""The built-in authorizer: a Cognito ID token → an API Gateway policy for its roles."""

from __future__ import annotations

from chalice import AuthResponse, AuthRoute, Blueprint
from chalice.app import AuthRequest

from chalicelib.auth import allowed_routes, verify_token
from chalicelib.errors import DomainError

authorizer_bp = Blueprint(__name__)


class Unauthorized(Exception):
    """API Gateway answers 401 when a Lambda authorizer raises exactly 'Unauthorized'."""

    def __init__(self) -> None:
        super().__init__("Unauthorized")


@authorizer_bp.authorizer(ttl_seconds=300)
def jwt_authorizer(auth_request: AuthRequest) -> AuthResponse:
    """Allow the caller every route its roles may use; refuse bad tokens with 401."""
    try:
        principal = verify_token(auth_request.token or "")
    except DomainError as exc:
        # Powertools loads with the first refusal: a valid token never needs it, and the
        # authorizer runs before the first request of every new API container.
        from chalicelib.logs import logger

        # Only the reason code is logged: the token itself is a credential.
        logger.info("token refused", reason=exc.code)
        raise Unauthorized() from None
    routes: list[str | AuthRoute] = [AuthRoute(path, [method]) for path, method in allowed_routes(principal)]
    # An empty policy would be a 403 for every route: correct for a role with no routes.
    return AuthResponse(routes=routes, principal_id=principal.principal_id, context=principal.to_context())
