"""The public pages in a real Chromium against the local stack: the privacy notice in both
languages with the switch remembered, the unsubscribe link on a phone (preview, confirm and
the error page), and the privacy center from its start page through the emailed link to the
case and the person's data. Every page: its texts, axe-core, no console error or CSP
violation, a screenshot (tests/browser/conftest.py)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Locator, Page

from tests.browser.conftest import Pages
from tests.e2e.conftest import RunningStack
from tests.e2e.test_privacy_center_local_stack import _link

pytestmark = pytest.mark.e2e


def _follow(page: Page, target: Locator) -> None:
    """Click (a link or a form's button) and wait for the page it opens."""
    with page.expect_navigation():
        target.click()


def _switch(page: Page, nav_label: str, to: str) -> None:
    _follow(page, page.get_by_role("navigation", name=nav_label).get_by_role("link", name=to))


def _prospect(stack: RunningStack, email: str, name: str) -> tuple[str, str]:
    staff = stack.login("staff")
    body = {"organization": "Selainkunta", "contact_name": name, "title": "Sivistysjohtaja", "email": email}
    status, created = stack.http("POST", "/prospects", staff, body)
    assert status == 201, created
    return staff, str(created["prospect_id"])


def test_the_privacy_notice_in_finnish_and_english_and_the_choice_is_remembered(desktop: Pages) -> None:
    page = desktop.open()
    response = page.goto(desktop.base_url + "/privacy-notice")
    assert response is not None and response.status == 200
    desktop.check(page, "notice-fi", lang="fi", heading="Tietosuojaseloste")
    assert page.get_by_role("heading", name="Asiakasrekisteri").is_visible()
    assert page.get_by_text("Wauranoja Oy").first.is_visible()

    _switch(page, "Kieli", "English")
    assert "lang=en" in page.url
    desktop.check(page, "notice-en", lang="en", heading="Privacy notice")
    assert page.get_by_role("heading", name="Customer register").is_visible()

    # The footer's link leads to the privacy center, still in English (the cookie, not the URL).
    _follow(page, page.get_by_role("contentinfo").get_by_role("link", name="Privacy center"))
    assert "lang=" not in page.url
    desktop.check(page, "privacy-center-en", lang="en", heading="Privacy center")
    page.goto(desktop.base_url + "/privacy-notice")
    assert page.locator("h1").inner_text() == "Privacy notice"


def test_an_unsubscribe_link_on_a_phone_is_readable_and_confirms(phone: Pages, local_stack: RunningStack) -> None:
    email = "puhelin.peruja@selainkunta.fi"
    staff, prospect_id = _prospect(local_stack, email, "Pirkko Puhelin")
    status, made = local_stack.http("POST", "/unsubscribe-links", staff, {"email": email})
    assert status == 201, made

    page = phone.open()
    response = page.goto(local_stack.info["api_url"] + made["path"])
    assert response is not None and response.status == 200
    phone.check(page, "unsubscribe-fi", lang="fi", heading="Peru markkinointi")
    phone.no_horizontal_scroll(page, "unsubscribe-fi")
    assert "@selainkunta.fi" in page.locator("main").inner_text()  # the address, masked

    _switch(page, "Kieli", "English")
    phone.check(page, "unsubscribe-en", lang="en", heading="Stop marketing")
    phone.no_horizontal_scroll(page, "unsubscribe-en")
    confirm = page.get_by_role("button", name="Confirm")
    box = confirm.bounding_box()
    assert box is not None and box["height"] >= 44, "the button is big enough to tap"
    with page.expect_navigation():
        confirm.tap()
    phone.check(page, "unsubscribe-done-en", lang="en", heading="Marketing stopped")
    phone.no_horizontal_scroll(page, "unsubscribe-done-en")
    assert page.get_by_text("You will not receive marketing from us.").is_visible()
    assert local_stack.http("GET", f"/prospects/{prospect_id}", staff)[0] == 404


def test_an_invalid_unsubscribe_link_shows_the_styled_error_page(phone: Pages) -> None:
    page = phone.open()
    response = page.goto(phone.base_url + "/unsubscribe?token=v1.katkennut")
    assert response is not None and response.status == 400
    phone.check(page, "unsubscribe-invalid-fi", lang="fi", heading="Linkki ei toimi", status=400)
    phone.no_horizontal_scroll(page, "unsubscribe-invalid-fi")
    assert page.get_by_text("ilopiste@kuntotimpurit.fi").first.is_visible()
    _switch(page, "Kieli", "English")
    phone.check(page, "unsubscribe-invalid-en", lang="en", heading="This link does not work", status=400)
    phone.no_horizontal_scroll(page, "unsubscribe-invalid-en")


def test_a_privacy_center_request_from_the_start_page_to_the_persons_data(
    desktop: Pages, local_stack: RunningStack
) -> None:
    email = "selma.selain@selainkunta.fi"
    _prospect(local_stack, email, "Selma Selain")
    page = desktop.open()
    response = page.goto(desktop.base_url + "/privacy-center")
    assert response is not None and response.status == 200
    desktop.check(page, "privacy-center-fi", lang="fi", heading="Tietosuojakeskus")
    page.get_by_label("Sähköpostiosoite").fill(email)
    page.get_by_label("Pyyntö").select_option("access")
    _follow(page, page.get_by_role("button", name="Lähetä linkki"))
    desktop.check(page, "privacy-center-sent-fi", lang="fi", heading="Tarkista sähköpostisi")

    link = _link(local_stack, email)
    page.goto(link)
    desktop.check(page, "privacy-center-link-fi", lang="fi", heading="Vahvista pyyntösi")
    _follow(page, page.get_by_role("button", name="Vahvista"))
    assert page.url.endswith("/privacy-center/case")
    desktop.check(page, "privacy-center-case-fi", lang="fi", heading="Pyyntösi")
    assert page.get_by_text("Tila: käsittelyssä").is_visible()

    _switch(page, "Kieli", "English")
    desktop.check(page, "privacy-center-case-en", lang="en", heading="Your request")
    _follow(page, page.get_by_role("button", name="Show my data"))
    desktop.check(page, "privacy-center-data-en", lang="en", heading="Your data")
    assert page.get_by_text("Selma Selain").is_visible()
    _switch(page, "Language", "Suomi")
    desktop.check(page, "privacy-center-case-fi-again", lang="fi", heading="Pyyntösi")


def test_the_link_page_in_english_and_an_expired_session(desktop: Pages) -> None:
    page = desktop.open()
    page.goto(desktop.base_url + "/privacy-center/link?token=vanha&lang=en")
    desktop.check(page, "privacy-center-link-en", lang="en", heading="Confirm your request")
    _follow(page, page.get_by_role("button", name="Confirm"))
    desktop.check(page, "privacy-center-invalid-link-en", lang="en", heading="This link does not work", status=400)
    page.goto(desktop.base_url + "/privacy-center/case?lang=fi")
    desktop.check(page, "privacy-center-no-session-fi", lang="fi", heading="Pyyntöä ei voitu käsitellä", status=400)
    page.goto(desktop.base_url + "/privacy-center?lang=en")
    desktop.check(page, "privacy-center-start-en", lang="en", heading="Privacy center")
    assert page.get_by_label("Email address").is_visible()
