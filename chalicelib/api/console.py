"""The staff console: one page shell and the sign-in settings its script reads.

`GET /console` is the public layout (chalicelib/api/pages.py) with two scripts from the same
origin: vendor/cognito.js (amazon-cognito-identity-js, built by console/), console.js (sign-in,
the API, the page builders) and one console-<area>.js per screen family.
Every datum the console shows comes from the JSON API with the signed-in person's ID token;
the page itself holds nothing but the layout. Its Content-Security-Policy is the public
pages' plus `script-src 'self'` and `connect-src 'self'`, the one Cognito endpoint the
console signs in against and the upload bucket's origin a partner's file is posted to
(`GET /console/config`, built from the settings): no inline script, no other origin.
"""

from __future__ import annotations

import html
from typing import Any

from chalice import Blueprint, Response

from chalicelib.config import settings
from chalicelib.errors import NotAcceptable

from . import pages
from .routing import Call, route

console_bp = Blueprint(__name__)


def scripts() -> tuple[str, ...]:
    """The console's scripts in load order: the Cognito bundle, the core (sign-in, the API,
    the page builders), then each area's `console-<area>.js`, which registers with the core."""
    areas = sorted(p.stem for p in pages.STATIC_DIR.glob("console-*.js"))
    return ("cognito", "console", *areas)


_TEXT = {
    "fi": {
        "title": "Henkilökunnan ja kumppanien työpöytä",
        "noscript": "Työpöytä tarvitsee JavaScriptin. Salli se tälle sivustolle ja lataa sivu uudelleen.",
        "loading": "Ladataan…",
    },
    "en": {
        "title": "Console for staff and partners",
        "noscript": "The console needs JavaScript. Allow it for this site and reload the page.",
        "loading": "Loading…",
    },
}


def console_csp(cognito_endpoint: str, upload_origin: str) -> str:
    """The public pages' policy plus this page's scripts and the API, Cognito and the upload
    bucket (a partner's file goes straight there with a presigned POST) it calls."""
    return (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        f"connect-src 'self' {cognito_endpoint} {upload_origin}; form-action 'self'; base-uri 'none'; "
        "frame-ancestors 'none'"
    )


@route(
    console_bp,
    "/console",
    "GET",
    summary="The staff console's page (its script signs in with Cognito and calls this API)",
    query=("lang",),
)
def console_page(call: Call) -> Response:
    if pages.wants_json(call):
        # Like the public pages, JSON unless a browser asks for HTML; this page has no JSON form.
        raise NotAcceptable("The console is an HTML page: open it in a browser. Its settings: GET /console/config.")
    lang = pages.page_lang(call)
    text = _TEXT[lang]
    body = (
        f'<noscript><p class="notice">{html.escape(text["noscript"])}</p></noscript>'
        f'<div id="console" data-config="{pages.root(call)}console/config">'
        f"<p>{html.escape(text['loading'])}</p></div>"
    )
    conf = settings()
    csp = console_csp(conf.cognito_endpoint, conf.upload_origin)
    return pages.page(lang, text["title"], body, call=call, csp=csp, scripts=scripts())


@route(
    console_bp,
    "/console/config",
    "GET",
    summary="Where the console signs in (the staff pool, its app client, Cognito's endpoint) and posts uploads",
    query=(),
)
def console_config(call: Call) -> dict[str, Any]:
    conf = settings()
    return {
        "region": conf.region,
        "user_pool_id": conf.user_pool_id,
        "client_id": conf.user_pool_client_id,
        "cognito_endpoint": conf.cognito_endpoint,
        "upload_origin": conf.upload_origin,
    }
