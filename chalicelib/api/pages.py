"""One layout for every public HTML page, its language choice, and the stylesheet it links.

The public pages (the privacy notice, the unsubscribe and keep-account pages, the privacy
center) are rendered on the server from the same routes that answer JSON clients; a page
is `page(lang, title, body_html, call=call)`: a complete HTML5 document with the
controller's name, a language switch, the content, and a footer linking the public pages
with the privacy notice's version and publication date.

Every link a page holds is relative to the route's own path, so the pages work the same
under API Gateway's stage prefix (`/api/privacy-notice`), a custom domain's base path or
the local stack's root. The stylesheet is served by `GET /assets/{name}` from the same
origin (the Lambda bundle carries chalicelib/static/), under a name with its content's
digest, so it can be cached for a year and a changed file is a new address. No page has a
script or an inline style: the Content-Security-Policy allows the same origin's
stylesheets and images, forms posting back to it, and nothing else.
"""

from __future__ import annotations

import hashlib
import html
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from http.cookies import CookieError, SimpleCookie
from pathlib import Path
from urllib.parse import urlencode

from chalice import Blueprint, Response

from chalicelib import notice
from chalicelib.errors import DomainError, NotFound
from chalicelib.registers import CONTROLLER
from chalicelib.secrets import SecretUnusable

from .routing import Call, route

pages_bp = Blueprint(__name__)

LANG_COOKIE = "lang"
LANG_COOKIE_DAYS = 365
CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
ASSETS_PATH = "/assets/{name}"
IMMUTABLE = "public, max-age=31536000, immutable"
NOTICE_PATH = "privacy-notice"
CENTER_PATH = "privacy-center"

_TEXT = {
    "fi": {
        "skip": "Siirry sisältöön",
        "languages": "Kieli",
        "pages": "Sivut",
        "notice": "Tietosuojaseloste",
        "center": "Tietosuojakeskus",
        "version": "Tietosuojaselosteen versio {version}",
        "published": ", julkaistu {date}",
        "contact": "Yhteystiedot",
    },
    "en": {
        "skip": "Skip to content",
        "languages": "Language",
        "pages": "Pages",
        "notice": "Privacy notice",
        "center": "Privacy center",
        "version": "Privacy notice version {version}",
        "published": ", published {date}",
        "contact": "Contact",
    },
}
_LANG_NAMES = {"fi": "Suomi", "en": "English"}


def wants_json(call: Call) -> bool:
    """JSON unless the client asks for HTML (a browser) without naming JSON."""
    accept = call.headers.get("accept", "")
    return "application/json" in accept or "text/html" not in accept


def errors_as_page(call: Call, answer: Callable[[], Response], error_page: Callable[[int, str], Response]) -> Response:
    """`answer()`, with a domain error (or an unusable secret: 503 `unavailable`) as
    `error_page(status, code)` for a browser; a JSON client gets the JSON error."""
    try:
        return answer()
    except (DomainError, SecretUnusable) as exc:
        if wants_json(call):
            raise
        status, code = (503, "unavailable") if isinstance(exc, SecretUnusable) else (exc.status, exc.code)
        return error_page(status, code)


def _cookie(call: Call, name: str) -> str | None:
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(call.headers.get("cookie", ""))
    except CookieError:
        return None
    morsel = jar.get(name)
    return morsel.value if morsel is not None else None


def _accept_language(header: str) -> str | None:
    best, best_q = None, 0.0
    for part in header.split(","):
        tag, _, params = part.strip().partition(";")
        lang = tag.strip().lower().split("-")[0]
        try:
            q = float(params.strip().removeprefix("q=")) if params.strip().startswith("q=") else 1.0
        except ValueError:
            q = 0.0
        if lang in notice.LANGS and q > best_q:
            best, best_q = lang, q
    return best


def page_lang(call: Call, chosen: str | None = None, fallback: str | None = None) -> str:
    """The page's language: `?lang=`, else the form's `lang` (`chosen`), else the remembered
    `lang` cookie, else `fallback` (what the page already knows, e.g. a case session's
    language), else the browser's Accept-Language, else Finnish. Unknown values are skipped."""
    for candidate in (call.query.get("lang"), chosen, _cookie(call, LANG_COOKIE), fallback):
        if candidate in notice.LANGS:
            return str(candidate)
    return _accept_language(call.headers.get("accept-language", "")) or "fi"


def lang_cookie(lang: str) -> str:
    """The `Set-Cookie` value that remembers a chosen language (for every page of the site)."""
    return f"{LANG_COOKIE}={lang}; Path=/; Max-Age={LANG_COOKIE_DAYS * 86400}; SameSite=Lax; Secure"


def root(call: Call) -> str:
    """The relative way from the route's path up to the site's root (`""`, `"../"`, …)."""
    return "../" * max(call.path.count("/") - 1, 0)


# -- the stylesheet ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Asset:
    name: str
    body: str
    content_type: str


CONTENT_TYPES = {
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".js": "text/javascript; charset=utf-8",
}


@cache
def assets() -> dict[str, Asset]:
    """The static files by their served names (`site.<sha256[:12]>.css`), read once: those of
    chalicelib/static/ and of its vendor/ folder (third-party code built by console/)."""
    found: dict[str, Asset] = {}
    for path in sorted([*STATIC_DIR.iterdir(), *(STATIC_DIR / "vendor").iterdir()]):
        if path.suffix not in CONTENT_TYPES:
            continue
        body = path.read_text(encoding="utf-8")
        digest = hashlib.sha256(body.encode()).hexdigest()[:12]
        name = f"{path.stem}.{digest}{path.suffix}"
        found[name] = Asset(name, body, CONTENT_TYPES[path.suffix])
    return found


def asset_name(stem: str) -> str:
    """The served name of the static file `stem` (`site` → `site.<digest>.css`)."""
    return next(a.name for a in assets().values() if a.name.split(".", 1)[0] == stem)


def stylesheet() -> str:
    """The served name of the site's stylesheet."""
    return asset_name("site")


@route(
    pages_bp,
    ASSETS_PATH,
    "GET",
    summary="A static file of the public pages (its name carries its content's digest; cached for a year)",
    query=(),
)
def asset(call: Call, name: str) -> Response:
    found = assets().get(name)
    if found is None:
        raise NotFound("No such asset.")
    return Response(
        body=found.body,
        status_code=200,
        headers={
            "Content-Type": found.content_type,
            "Cache-Control": IMMUTABLE,
            "X-Content-Type-Options": "nosniff",
        },
    )


# -- the layout --------------------------------------------------------------------------------


def _switch_href(call: Call, lang: str, here: str | None) -> str:
    """The address of this page in `lang`: the same path and query with `lang` replaced (a GET),
    or `here` (relative to the root) for a page answered to a form's POST."""
    if here is None:
        here_path = call.path.rsplit("/", 1)[-1] or "."
        query = {k: v for k, v in call.query.items() if k != "lang"}
        return f"{here_path}?{urlencode({**query, 'lang': lang})}"
    path, _, query_text = here.partition("?")
    return f"{root(call)}{path}?{query_text + '&' if query_text else ''}lang={lang}"


def published_line(lang: str) -> str:
    """The notice's version and, once published, its date, in `lang`."""
    text = _TEXT[lang]
    version = notice.version()
    line = text["version"].format(version=version)
    date = notice.PUBLISHED.get(version)
    return line + (text["published"].format(date=date) if date else "")


def document(
    lang: str, title: str, body_html: str, call: Call, here: str | None = None, scripts: tuple[str, ...] = ()
) -> str:
    """The complete HTML document of a public page; `body_html` is already escaped HTML.
    `scripts` names static script files (`console` → `assets/console.<digest>.js`) the page
    loads, in order, deferred; the public pages have none."""
    e = html.escape
    text = _TEXT[lang]
    up = root(call)
    is_get = here is None and call.path and call.method == "GET"
    current = ' aria-current="true"'
    switch = "".join(
        f'<li><a href="{e(_switch_href(call, other, None if is_get else (here or CENTER_PATH)))}" '
        f'lang="{other}" hreflang="{other}"{current if other == lang else ""}>'
        f"{_LANG_NAMES[other]}</a></li>"
        for other in notice.LANGS
    )
    links = (
        f'<li><a href="{up}{NOTICE_PATH}">{e(text["notice"])}</a></li>'
        f'<li><a href="{up}{CENTER_PATH}">{e(text["center"])}</a></li>'
    )
    c = CONTROLLER
    return (
        f'<!DOCTYPE html>\n<html lang="{lang}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{e(title)} – {e(c.trade_name)}</title>"
        f'<link rel="stylesheet" href="{up}assets/{e(stylesheet())}">'
        f'<link rel="icon" href="{up}assets/{e(asset_name("icon"))}" type="image/svg+xml">'
        + "".join(f'<script src="{up}assets/{e(asset_name(stem))}" defer></script>' for stem in scripts)
        + "</head><body>"
        f'<a class="skip" href="#main">{e(text["skip"])}</a>'
        f'<header class="site"><div class="wrap"><p class="brand">{e(c.trade_name)}'
        f' <span class="owner">{e(c.name)}</span></p>'
        f'<nav class="langs" aria-label="{e(text["languages"])}"><ul>{switch}</ul></nav></div></header>'
        f'<main id="main" class="wrap"><h1>{e(title)}</h1>\n{body_html}\n</main>'
        f'<footer class="site"><div class="wrap"><nav aria-label="{e(text["pages"])}"><ul>{links}</ul></nav>'
        f'<p>{e(c.name)} / {e(c.trade_name)}, <a href="mailto:{e(c.contact_email)}">{e(c.contact_email)}</a></p>'
        f'<p class="version">{e(published_line(lang))}</p></div></footer>'
        "</body></html>"
    )


def page(
    lang: str,
    title: str,
    body_html: str,
    status: int = 200,
    *,
    call: Call,
    here: str | None = None,
    cache_control: str = "no-store",
    csp: str = CSP,
    scripts: tuple[str, ...] = (),
) -> Response:
    """A public page as a response, with the headers every page has.

    `here` is, for a page answered to a form's POST, the page (relative to the root) its
    language switch opens; a GET page's switch reloads it with `?lang=`. A `?lang=` in the
    request is remembered in the `lang` cookie. A page with `scripts` (the staff console)
    passes the `csp` that allows them; every other page keeps the script-free CSP.
    """
    headers: dict[str, str | list[str]] = {
        "Content-Type": "text/html; charset=utf-8",
        "Cache-Control": cache_control,
        "Content-Security-Policy": csp,
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
        "Content-Language": lang,
        "Vary": "Accept, Accept-Language, Cookie",
    }
    if call.query.get("lang") in notice.LANGS:
        headers["Set-Cookie"] = lang_cookie(call.query["lang"])
    return Response(body=document(lang, title, body_html, call, here, scripts), status_code=status, headers=headers)
