"""Refusing a browser's cross-site form posts: the check of Go 1.25's `net/http.CrossOriginProtection`.

Why: a form on a foreign site can post to our public routes from a visitor's browser. On
`POST /privacy-center/link` that is login CSRF: the attacker's own link gives the victim's
browser a session for the attacker's case, where the victim may type their own details. The
session cookie's `SameSite=Strict` does not help (the cookie is being set, not sent), and no
token is needed: browsers say where a request comes from.

The rule, for an unsafe method (not GET, HEAD or OPTIONS): with `Sec-Fetch-Site` (every
current browser sends it), only `same-origin` or `none` (the person typed or bookmarked it)
pass; without it, an `Origin` must name the request's own `Host`; with neither header the
request is not from a browser (an API client, a mail provider's server) or from a very old
one, and passes. Header names arrive lower-cased in `Call.headers` (`routing.route`).
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit

from chalicelib.errors import Forbidden

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
SAME_ORIGIN_SITES = frozenset({"same-origin", "none"})


class CrossOriginRequest(Forbidden):
    """A browser sent this from another site's page: refused before anything is done."""

    code = "cross_origin_request"

    def __init__(self) -> None:
        super().__init__("A request from another site's page is refused: use this site's own pages.")


def allowed(method: str, headers: Mapping[str, str]) -> bool:
    """True unless `headers` show a browser's unsafe request from another origin (Go's rule)."""
    if method.upper() in SAFE_METHODS:
        return True
    site = headers.get("sec-fetch-site")
    if site is not None:
        return site.strip().lower() in SAME_ORIGIN_SITES
    origin = headers.get("origin")
    if origin is None:
        return True
    # `null` (a sandboxed or privacy-sensitive context) and anything unparsable have no host.
    try:
        host = urlsplit(origin.strip()).netloc.lower()
    except ValueError:
        return False
    return bool(host) and host == headers.get("host", "").strip().lower()


def check(method: str, headers: Mapping[str, str]) -> None:
    """Raise `CrossOriginRequest` (403 `cross_origin_request`) unless `allowed`."""
    if not allowed(method, headers):
        raise CrossOriginRequest()
