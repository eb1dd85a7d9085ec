"""Who is calling: Cognito-issued ID tokens to a principal, and the route policy.

The route policy is one table (`ROUTES`) filled as the API blueprints declare their
routes. The handlers check it again before touching data, and the access-control tests
read it. The authorizer runs in a Lambda of its own that must not load the HTTP layer
(pydantic, the domain): it reads the same table from `api/route_policy.json`, written from
`ROUTES` at build time (`make openapi`; a test keeps the two equal).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

from chalicelib.config import settings
from chalicelib.errors import Forbidden, Unauthenticated
from chalicelib.roles import Role

# Group → roles granted. dpo includes staff; a reseller is also a partner.
_GROUP_ROLES: dict[str, frozenset[Role]] = {
    "dpo": frozenset({Role.DPO, Role.STAFF}),
    "staff": frozenset({Role.STAFF}),
    "partner": frozenset({Role.PARTNER}),
    "customer": frozenset({Role.CUSTOMER}),
}
PARTNER_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")  # the one partner-id rule (tokens, keys, paths)


@dataclass(frozen=True)
class Principal:
    """An authenticated caller (or the anonymous one)."""

    principal_id: str
    roles: frozenset[Role]
    username: str = ""
    partner_id: str = ""
    customer_id: str = ""

    def has_any(self, roles: frozenset[Role]) -> bool:
        return bool(self.roles & roles)

    def to_context(self) -> dict[str, str]:
        """Flat string context, as API Gateway passes authorizer context to handlers."""
        return {
            "principal_id": self.principal_id,
            "roles": ",".join(sorted(r.value for r in self.roles)),
            "username": self.username,
            "partner_id": self.partner_id,
            "customer_id": self.customer_id,
        }

    @classmethod
    def from_context(cls, context: dict[str, Any] | None) -> Principal:
        if not context or not context.get("principal_id"):
            return ANONYMOUS
        roles = frozenset(Role(r) for r in str(context.get("roles", "")).split(",") if r)
        return cls(
            principal_id=str(context["principal_id"]),
            roles=roles,
            username=str(context.get("username", "")),
            partner_id=str(context.get("partner_id", "")),
            customer_id=str(context.get("customer_id", "")),
        )


ANONYMOUS = Principal(principal_id="anonymous", roles=frozenset({Role.ANONYMOUS}))
# The system itself (import, sweeper) in audit events.
SYSTEM_IMPORT = Principal(principal_id="system:partner_import", roles=frozenset())
SYSTEM_SWEEPER = Principal(principal_id="system:retention_sweeper", roles=frozenset())
SYSTEM_REKEY = Principal(principal_id="system:pseudonym_rekey", roles=frozenset())
SYSTEM_MATERIALISER = Principal(principal_id="system:campaign_materialiser", roles=frozenset())
SYSTEM_MAIL_SENDER = Principal(principal_id="system:mail_sender", roles=frozenset())
SYSTEM_MAIL_EVENTS = Principal(principal_id="system:mail_events", roles=frozenset())


JWKS_LIFESPAN = 3600  # seconds a fetched key set is fresh
JWKS_TIMEOUT = 5  # seconds for one fetch
JWKS_RETRY = 60  # seconds before a failed refresh of a stale set is tried again
_JWKS_MAX_BYTES = 1 << 20


class JwksKeys:
    """One pool's signing keys, fetched from its JWKS URL and kept in the container.

    What PyJWKClient(cache_keys=True, lifespan=3600, timeout=5) did, without `cryptography`:
    the set is fetched on first use and kept; an unknown `kid` costs exactly one refetch (a
    key the pool just rotated in); a set older than `JWKS_LIFESPAN` is refetched on its next
    use, and if that fetch fails the keys already held keep working (as PyJWKClient's key
    cache kept them) and the refresh is retried after `JWKS_RETRY`. Only RSA keys for
    signatures (`use` "sig" or absent, as RFC 7517 allows and the emulator sends) and for
    RS256 (`alg` "RS256" or absent) are taken.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self._keys: dict[str, Any] = {}
        self._fetched_at: float | None = None

    def key(self, kid: object) -> Any:
        """The public key for `kid`; `PyJWKClientError` if the pool has none (or cannot be reached)."""
        from jwt.exceptions import PyJWKClientError

        if not isinstance(kid, str) or not kid:
            raise PyJWKClientError("The token names no key.")
        stale = self._fetched_at is None or time.monotonic() - self._fetched_at >= JWKS_LIFESPAN
        if kid not in self._keys:
            self._fetch()
        elif stale:
            try:
                self._fetch()
            except PyJWKClientError:
                # The key held is still the pool's as far as we know; try again in a minute,
                # not on every token (each try can cost the whole timeout).
                self._fetched_at = time.monotonic() - JWKS_LIFESPAN + JWKS_RETRY
        if kid not in self._keys:
            raise PyJWKClientError("No signing key matches the token's kid.")
        return self._keys[kid]

    def _fetch(self) -> None:
        from urllib.request import urlopen

        from jwt.exceptions import InvalidKeyError, PyJWKClientConnectionError, PyJWKClientError

        from chalicelib.rs256 import ALGORITHM, public_key

        try:
            with urlopen(self.url, timeout=JWKS_TIMEOUT) as response:  # noqa: S310 (the pool's URL, from settings)
                document = json.loads(response.read(_JWKS_MAX_BYTES))
        except (OSError, ValueError) as exc:
            raise PyJWKClientConnectionError(f"The JWKS could not be fetched: {type(exc).__name__}") from None
        entries = document.get("keys") if isinstance(document, dict) else None
        if not isinstance(entries, list):
            raise PyJWKClientError("The JWKS has no keys.")
        keys: dict[str, Any] = {}
        for entry in entries:
            if not isinstance(entry, dict) or not isinstance(entry.get("kid"), str):
                continue
            signing = entry.get("use", "sig") == "sig" and entry.get("alg", ALGORITHM) == ALGORITHM
            if entry.get("kty") != "RSA" or not signing:
                continue
            try:
                keys[entry["kid"]] = public_key(entry)
            except InvalidKeyError:
                continue
        # The pool's current set replaces the held one: a key it dropped is no longer trusted.
        self._keys, self._fetched_at = keys, time.monotonic()


@lru_cache(maxsize=4)
def _jwks(url: str) -> JwksKeys:
    """The key cache of one JWKS URL (the staff pool's, the customer pool's)."""
    return JwksKeys(url)


def principal_from_claims(claims: dict[str, Any], *, customer_pool: bool = False) -> Principal:
    """Map a verified ID token's claims to a principal.

    A token of the customer pool can carry only the customer role, and a token of the staff
    and partner pool never carries it: each pool grants only its own kinds of principal.
    """
    groups = claims.get("cognito:groups") or []
    if not isinstance(groups, list):
        groups = [groups]
    roles: set[Role] = set()
    for group in groups:
        roles |= _GROUP_ROLES.get(str(group), frozenset())
    roles &= {Role.CUSTOMER} if customer_pool else set(Role) - {Role.CUSTOMER}
    partner_id = str(claims.get("custom:partner_id", ""))
    if Role.PARTNER in roles:
        if not PARTNER_ID.match(partner_id):
            # A partner without a well-formed partner_id cannot be scoped: refuse it.
            roles.discard(Role.PARTNER)
            partner_id = ""
        elif claims.get("custom:partner_type") == "reseller":
            roles.add(Role.RESELLER)
        elif claims.get("custom:partner_type") == "marketing":
            # A marketing partner supplies nothing and sees no partner's uploads: it is not a
            # `partner` principal at all, only `marketing` (its assigned campaigns).
            roles.discard(Role.PARTNER)
            roles.add(Role.MARKETING)
    customer_id = str(claims.get("custom:customer_id", ""))
    if Role.CUSTOMER in roles and not customer_id:
        roles.discard(Role.CUSTOMER)
    if not roles:
        raise Forbidden("The token carries no role of this system.")
    return Principal(
        principal_id=str(claims["sub"]),
        roles=frozenset(roles),
        username=str(claims.get("cognito:username", "")),
        partner_id=partner_id if roles & {Role.PARTNER, Role.MARKETING} else "",
        customer_id=customer_id if Role.CUSTOMER in roles else "",
    )


def verify_token(token: str) -> Principal:
    """Verify a Cognito ID token (signature, issuer, audience, expiry, use) → principal."""
    token = token.strip()
    if token.lower().startswith("bearer "):
        token = token[7:].strip()
    if not token:
        raise Unauthenticated("Missing token.")
    # PyJWT and its RS256 backend load here, in the authorizer's Lambda only: the API
    # handler imports this module for `Principal` and never verifies a token itself.
    import jwt

    from chalicelib.rs256 import ALGORITHM, DECODER

    conf = settings()
    try:
        # The issuer only chooses which pool's keys and client to check against; it is verified.
        unverified_issuer = DECODER.decode(token, options={"verify_signature": False}).get("iss")
        customer_pool = bool(conf.customer_user_pool_id) and unverified_issuer == conf.customer_token_issuer
        if customer_pool:
            jwks_url, audience, issuer = conf.customer_jwks_url, conf.customer_user_pool_client_id, unverified_issuer
        else:
            jwks_url, audience, issuer = conf.jwks_url, conf.user_pool_client_id, conf.token_issuer
        signing_key = _jwks(jwks_url).key(jwt.get_unverified_header(token).get("kid"))
        claims = DECODER.decode(
            token,
            signing_key,
            algorithms=[ALGORITHM],
            audience=audience,
            issuer=issuer,
            options={"require": ["exp", "iat", "iss", "aud", "sub", "token_use"]},
            leeway=30,
        )
    except jwt.PyJWTError:
        raise Unauthenticated("The token is not valid.") from None
    if claims.get("token_use") != "id":
        raise Unauthenticated("An ID token is required.")
    return principal_from_claims(claims, customer_pool=customer_pool)


@dataclass(frozen=True)
class RouteSpec:
    """One method of one route and the roles that may call it (empty: anyone)."""

    path: str
    method: str
    roles: frozenset[Role]
    summary: str = ""
    tags: tuple[str, ...] = field(default=())
    # For the OpenAPI document and the wrapper's checks: the request body model (a pydantic
    # model class), the query parameters the route accepts, and the success status.
    body: Any = None
    query: tuple[str, ...] = ()
    status: int = 200
    operation_id: str = ""
    content_types: tuple[str, ...] = ("application/json",)
    # The success body's documented shape (a pydantic model or TypedDict), if declared.
    response: Any = None
    # A browser's cross-site request is refused (403 `cross_origin_request`, routing.route).
    same_origin: bool = False

    @property
    def public(self) -> bool:
        return not self.roles


ROUTES: list[RouteSpec] = []


ROUTE_POLICY_FILE = Path(__file__).resolve().parent / "api" / "route_policy.json"


def route_policy_document(routes: Iterable[RouteSpec]) -> list[dict[str, Any]]:
    """The guarded routes and their roles, as `route_policy.json` keeps them (sorted, stable)."""
    return [
        {"path": spec.path, "method": spec.method, "roles": sorted(role.value for role in spec.roles)}
        for spec in sorted(routes, key=lambda s: (s.path, s.method))
        if spec.roles
    ]


@cache
def _route_policy() -> tuple[tuple[str, str, frozenset[Role]], ...]:
    """The deployed route policy, read once per container; path parameters as `*`."""
    document = json.loads(ROUTE_POLICY_FILE.read_text(encoding="utf-8"))
    return tuple(
        (re.sub(r"\{[^}]+\}", "*", entry["path"]), entry["method"], frozenset(Role(r) for r in entry["roles"]))
        for entry in document
    )


def allowed_routes(principal: Principal) -> list[tuple[str, str]]:
    """(path, method) pairs the principal may invoke, path params as `*` for API Gateway."""
    return [(path, method) for path, method, roles in _route_policy() if principal.has_any(roles)]
