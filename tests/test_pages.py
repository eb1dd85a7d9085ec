"""The public pages' one layout (chalicelib/api/pages.py): the document, its headers, the
language choice and its cookie, the hashed stylesheet, and the notice's dated versions."""

from __future__ import annotations

import hashlib
import re
from typing import Any
from urllib.parse import quote

import pytest

from chalicelib import notice
from chalicelib.api import pages
from chalicelib.api.routing import Call
from chalicelib.auth import ANONYMOUS
from chalicelib.registers import CONTROLLER
from tests.conftest import Tokens, call

HTML = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
STRICT_CSP = {
    "default-src": "'none'",
    "style-src": "'self'",
    "img-src": "'self'",
    "form-action": "'self'",
    "base-uri": "'none'",
    "frame-ancestors": "'none'",
}


def _call(path: str = "/privacy-notice", method: str = "GET", **headers: str) -> Call:
    query = dict(p.split("=", 1) for p in headers.pop("query", "").split("&") if p)
    return Call(
        ANONYMOUS,
        "r",
        query,
        {k.lower().replace("_", "-"): v for k, v in headers.items()},
        b"",
        path=path,
        method=method,
    )


def _get(client: Any, path: str, **headers: str) -> Any:
    return client.http.get(path, headers={**HTML, **headers})


def _csp(value: str) -> dict[str, str]:
    return {d.split(" ", 1)[0]: d.split(" ", 1)[1] for d in (part.strip() for part in value.split(";")) if d}


def _public_pages(client: Any, tokens: Tokens) -> dict[str, Any]:
    status, made = call(client, "POST", "/unsubscribe-links", tokens.staff, {"email": "sivu.testi@sivut.fi"})
    assert status == 201, made
    return {
        "notice": _get(client, "/privacy-notice"),
        "unsubscribe": _get(client, f"/unsubscribe?token={quote(made['token'])}"),
        "unsubscribe_error": _get(client, "/unsubscribe?token=v1.broken"),
        "keep_account": _get(client, "/keep-account?token=abc"),
        "center": _get(client, "/privacy-center"),
        "link": _get(client, "/privacy-center/link?token=abc"),
        "case_error": _get(client, "/privacy-center/case"),
    }


def test_every_public_page_is_the_layout_with_strict_headers(client: Any, tokens: Tokens) -> None:
    for name, resp in _public_pages(client, tokens).items():
        body = resp.body.decode()
        assert resp.headers["Content-Type"] == "text/html; charset=utf-8", name
        assert _csp(resp.headers["Content-Security-Policy"]) == STRICT_CSP, name
        assert resp.headers["Referrer-Policy"] == "no-referrer" and resp.headers["X-Content-Type-Options"] == "nosniff"
        assert resp.headers["Content-Language"] == "fi", name
        assert body.startswith("<!DOCTYPE html>") and '<html lang="fi">' in body, name
        assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in body, name
        assert f'assets/{pages.stylesheet()}"' in body, name
        assert CONTROLLER.name in body and CONTROLLER.trade_name in body, name
        assert body.count("<h1>") == 1 and '<main id="main"' in body, name
        # No script and no inline style anywhere: the CSP would block them.
        assert "<script" not in body and "style=" not in body and "<style" not in body, name
        # The footer links the public pages and dates the notice.
        assert 'privacy-notice">Tietosuojaseloste</a>' in body and 'privacy-center">Tietosuojakeskus</a>' in body
        assert f"versio {notice.version()}, julkaistu {notice.PUBLISHED[notice.version()]}" in body, name


def test_links_are_relative_to_the_routes_path(client: Any) -> None:
    # Under API Gateway's stage prefix (/api/...) an absolute /privacy-notice would miss the stage.
    top = _get(client, "/privacy-center").body.decode()
    deeper = _get(client, "/privacy-center/link?token=abc").body.decode()
    assert f'href="assets/{pages.stylesheet()}"' in top and 'href="privacy-notice"' in top
    assert f'href="../assets/{pages.stylesheet()}"' in deeper and 'href="../privacy-notice"' in deeper
    assert not re.search(r'(href|action)="/', top + deeper)


def test_the_language_switch_keeps_the_page_and_its_query(client: Any) -> None:
    body = _get(client, "/privacy-center/link?token=abc").body.decode()
    assert 'href="link?token=abc&amp;lang=en" lang="en" hreflang="en"' in body
    assert 'href="link?token=abc&amp;lang=fi" lang="fi" hreflang="fi" aria-current="true"' in body


def test_a_chosen_language_is_remembered_in_a_cookie_and_wins_over_the_browser(client: Any) -> None:
    chosen = _get(client, "/privacy-notice?lang=en")
    cookie = chosen.headers["Set-Cookie"]
    assert cookie.startswith("lang=en;") and "SameSite=Lax" in cookie and "Secure" in cookie and "Path=/;" in cookie
    assert "Privacy notice" in chosen.body.decode()
    later = _get(client, "/privacy-center", Cookie="lang=en", **{"Accept-Language": "fi"})
    assert later.headers["Content-Language"] == "en" and "Set-Cookie" not in later.headers
    assert "Privacy center" in later.body.decode()
    # Without a cookie the browser's preference counts; without that, Finnish.
    assert _get(client, "/privacy-center", **{"Accept-Language": "en-GB,fi;q=0.5"}).headers["Content-Language"] == "en"
    assert _get(client, "/privacy-center").headers["Content-Language"] == "fi"


@pytest.mark.parametrize(
    ("query", "chosen", "cookie", "fallback", "accept", "expected"),
    [
        ("lang=en", "fi", "lang=fi", "fi", "fi", "en"),
        ("", "en", "lang=fi", "fi", "fi", "en"),
        ("", None, "lang=en", "fi", "fi", "en"),
        ("", None, "", "en", "fi", "en"),
        ("", None, "", None, "en;q=0.9,sv", "en"),
        ("lang=sv", "xx", "lang=de; other=1", None, "de", "fi"),
        ("", None, 'lang="en', None, "", "fi"),  # a malformed cookie header is ignored
    ],
)
def test_page_lang_order(
    query: str, chosen: str | None, cookie: str, fallback: str | None, accept: str, expected: str
) -> None:
    c = _call(query=query, cookie=cookie, accept_language=accept)
    assert pages.page_lang(c, chosen, fallback) == expected


def test_a_form_posts_answer_switches_to_a_page_that_can_be_opened() -> None:
    c = _call("/privacy-center/case/actions", "POST")
    doc = pages.document("fi", "Otsikko", "<p>x</p>", c, here="privacy-center/case")
    assert 'href="../../privacy-center/case?lang=en"' in doc
    doc = pages.document("en", "Title", "<p>x</p>", _call("/unsubscribe", "POST"))
    assert 'href="privacy-center?lang=fi"' in doc


def test_the_stylesheet_is_served_under_its_digest_and_cached_for_a_year(client: Any) -> None:
    name = pages.stylesheet()
    source = (pages.STATIC_DIR / "site.css").read_bytes()
    assert name == f"site.{hashlib.sha256(source).hexdigest()[:12]}.css"
    resp = client.http.get(f"/assets/{name}")
    assert resp.status_code == 200 and resp.body == source
    assert resp.headers["Content-Type"] == "text/css; charset=utf-8"
    assert resp.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"


def test_the_icon_is_an_svg_asset_every_page_links(client: Any) -> None:
    name = pages.asset_name("icon")
    assert f'href="assets/{name}" type="image/svg+xml"' in _get(client, "/privacy-center").body.decode()
    resp = client.http.get(f"/assets/{name}")
    assert resp.status_code == 200 and resp.headers["Content-Type"] == "image/svg+xml"
    assert resp.body.startswith(b"<svg") and b"<script" not in resp.body


@pytest.mark.parametrize("name", ["site.css", "site.000000000000.css", "..%2Fpages.py", "nothing"])
def test_unknown_assets_are_404_json(client: Any, name: str) -> None:
    status, body = call(client, "GET", f"/assets/{name}")
    assert status == 404 and body["error"]["code"] == "not_found"


def test_the_published_notice_has_its_dated_line_in_the_ledger() -> None:
    # Publishing a changed notice means adding {new version: date} to notice.PUBLISHED.
    current = notice.version()
    assert current in notice.PUBLISHED, f"add {current!r}: 'YYYY-MM-DD' to chalicelib/notice.py PUBLISHED"
    for version, date in notice.PUBLISHED.items():
        assert re.fullmatch(r"[0-9a-f]{16}", version) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", date)
    dates = list(notice.PUBLISHED.values())
    assert dates == sorted(dates), "the ledger lists versions oldest first"


def test_the_notice_page_shows_its_version_and_date(client: Any) -> None:
    body = _get(client, "/privacy-notice?lang=en").body.decode()
    date = notice.PUBLISHED[notice.version()]
    assert f'<code>{notice.version()}</code> (published <time datetime="{date}">{date}</time>)' in body


# -- the staff console's page (chalicelib/api/console.py) -------------------------------------


def test_the_public_pages_load_no_script(client: Any, tokens: Tokens) -> None:
    for name, resp in _public_pages(client, tokens).items():
        assert "<script" not in resp.body.decode(), name
        assert "script-src" not in resp.headers["Content-Security-Policy"], name


@pytest.mark.parametrize(
    ("lang", "title"), [("fi", "Henkilökunnan ja kumppanien työpöytä"), ("en", "Console for staff and partners")]
)
def test_the_console_is_the_layout_with_its_scripts_and_their_policy(client: Any, lang: str, title: str) -> None:
    from chalicelib.config import settings

    resp = _get(client, f"/console?lang={lang}")
    body = resp.body.decode()
    assert resp.status_code == 200 and f'<html lang="{lang}">' in body and f"<h1>{title}</h1>" in body
    scripts = re.findall(r'<script src="([^"]+)" defer></script>', body)
    areas = sorted(p.stem for p in pages.STATIC_DIR.glob("console-*.js"))
    assert "console-customers" in areas
    assert areas.index("console-customers") < areas.index("console-staff-campaigns")  # Customers first
    expected = ["cognito", "console", *areas]  # the core registers nothing until the areas load after it
    assert scripts == [f"assets/{pages.asset_name(stem)}" for stem in expected]
    assert body.count("<script") == len(expected), "no inline script"
    assert 'data-config="console/config"' in body
    csp = _csp(resp.headers["Content-Security-Policy"])
    assert csp == {
        **STRICT_CSP,
        "script-src": "'self'",
        "connect-src": f"'self' {settings().cognito_endpoint} {settings().upload_origin}",
    }
    assert resp.headers["Cache-Control"] == "no-store" and resp.headers["Content-Language"] == lang


def test_a_json_client_is_told_the_console_is_a_page(client: Any) -> None:
    status, body = call(client, "GET", "/console")
    assert status == 406 and body["error"]["code"] == "not_acceptable"


def test_the_console_config_names_the_staff_pool_and_cognitos_endpoint(client: Any) -> None:
    from chalicelib.config import settings

    status, config = call(client, "GET", "/console/config")
    conf = settings()
    assert status == 200 and config == {
        "region": conf.region,
        "user_pool_id": conf.user_pool_id,
        "client_id": conf.user_pool_client_id,
        "cognito_endpoint": conf.cognito_endpoint,
        "upload_origin": conf.upload_origin,
    }
    # The staff pool, never the customers' pool: customers do not sign in to the console.
    assert config["user_pool_id"] != conf.customer_user_pool_id


@pytest.mark.parametrize(
    "stem",
    ["console", "cognito", "console-customers", "console-partner", "console-marketing", "console-staff-campaigns"],
)
def test_the_console_scripts_are_assets_served_as_javascript(client: Any, stem: str) -> None:
    name = pages.asset_name(stem)
    source = next(p for p in (pages.STATIC_DIR, pages.STATIC_DIR / "vendor") if (p / f"{stem}.js").exists())
    assert name == f"{stem}.{hashlib.sha256((source / f'{stem}.js').read_bytes()).hexdigest()[:12]}.js"
    resp = client.http.get(f"/assets/{name}")
    assert resp.status_code == 200 and resp.headers["Content-Type"] == "text/javascript; charset=utf-8"
    assert resp.headers["Cache-Control"] == "public, max-age=31536000, immutable"


@pytest.mark.parametrize("path", sorted(pages.STATIC_DIR.glob("console*.js")), ids=lambda p: p.name)
def test_the_console_scripts_keep_tokens_out_of_web_storage(path: Any) -> None:
    source = path.read_text()
    for forbidden in ("localStorage", "sessionStorage", "document.cookie", "innerHTML", "eval("):
        assert forbidden not in source, forbidden
