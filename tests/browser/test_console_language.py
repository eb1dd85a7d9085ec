"""The console's language switch while signed in: the page's frame and the open area change
language in place and the session stays (a reload would lose the in-memory tokens); the choice
is remembered in the `lang` cookie like on every public page, so a reload opens in it."""

from __future__ import annotations

import secrets

import pytest

from tests.browser.conftest import Pages
from tests.browser.console_pages import CONSOLE_TITLE, SIGN_IN_TEXT, heading, sign_in_as
from tests.e2e.conftest import RunningStack

pytestmark = pytest.mark.e2e

T = {
    "fi": {
        **SIGN_IN_TEXT["fi"],
        "prospects": "Prospektit",
        "find": "Etsi prospekti",
        "signed_in": "Kirjautunut: ",
        "org": "Organisaation nimi",
        "search": "Hae",
    },
    "en": {
        **SIGN_IN_TEXT["en"],
        "prospects": "Prospects",
        "find": "Find a prospect",
        "signed_in": "Signed in as ",
        "org": "Organisation name",
        "search": "Search",
    },
}
SWITCH = {"fi": "Suomi", "en": "English"}


def test_switching_language_keeps_the_session_and_the_area(desktop: Pages, local_stack: RunningStack) -> None:
    org = f"Kielikunta {secrets.token_hex(3)}"
    new = {
        "organization": org,
        "contact_name": "Kaarlo Kieli",
        "title": "Rehtori",
        "email": f"kaarlo.{secrets.token_hex(3)}@kielikunta.fi",
    }
    status, created = local_stack.http("POST", "/prospects", local_stack.login("staff"), new)
    assert status == 201, created
    prospect_id = created["prospect_id"]
    page = desktop.open()
    page.goto(f"{desktop.base_url}/console?lang=fi")
    sign_in_as(page, local_stack, T["fi"], "staff")
    page.get_by_role("navigation").get_by_role("button", name=T["fi"]["prospects"]).click()
    heading(page, T["fi"]["find"])
    for lang, other in (("en", "fi"), ("fi", "en")):
        t = T[lang]
        page.get_by_role("link", name=SWITCH[lang]).click()
        heading(page, t["find"])  # the same area, now in the other language
        assert page.evaluate("document.documentElement.lang") == lang
        assert page.title().startswith(CONSOLE_TITLE[lang])
        assert page.get_by_role("heading", name=CONSOLE_TITLE[lang], level=1).count() == 1
        assert page.get_by_text(t["signed_in"] + local_stack.info["users"]["staff"]["username"]).count() == 1
        assert page.get_by_role("navigation").get_by_role("button", name=t["prospects"]).count() == 1
        assert page.get_by_role("link", name=SWITCH[lang]).get_attribute("aria-current") == "true"
        assert page.get_by_role("link", name=SWITCH[other]).get_attribute("aria-current") is None
        cookies = {c["name"]: c["value"] for c in page.context.cookies()}
        assert cookies.get("lang") == lang
        desktop.check(page, f"console-language-{lang}", lang=lang, heading=CONSOLE_TITLE[lang])
        # Still signed in: the API answers the area's calls with the same session.
        page.get_by_label(t["org"]).fill(org)
        page.get_by_role("button", name=t["search"], exact=True).click()
        page.locator(f'#prospects tr[data-prospect="{prospect_id}"]').wait_for()

    # A reload opens in the remembered language, at the sign-in (the tokens were only in memory).
    page.get_by_role("link", name=SWITCH["en"]).click()
    heading(page, T["en"]["find"])
    page.goto(f"{desktop.base_url}/console")
    page.get_by_label(T["en"]["username"]).wait_for()
    assert page.evaluate("document.documentElement.lang") == "en"


def test_signed_out_the_switch_is_a_plain_link(desktop: Pages, local_stack: RunningStack) -> None:
    page = desktop.open()
    page.goto(f"{desktop.base_url}/console?lang=fi")
    page.get_by_label(T["fi"]["username"]).wait_for()
    page.get_by_role("link", name=SWITCH["en"]).click()
    page.wait_for_url("**lang=en**")
    page.get_by_label(T["en"]["username"]).wait_for()
    assert page.evaluate("document.documentElement.lang") == "en"
