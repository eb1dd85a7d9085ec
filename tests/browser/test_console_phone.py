"""The console on a phone (390x844): the sign-in, a staff member's working screens (customers,
requests, prospects, campaigns, imports), the DPO's retention, a marketing partner's campaigns
and a partner's upload screen are laid out at the phone's width with nothing scrolling sideways,
accessible (axe) and screenshotted (`console-phone-*`)."""

from __future__ import annotations

import pytest

from tests.browser.conftest import Pages
from tests.browser.console_pages import CONSOLE_TITLE, SIGN_IN_TEXT, heading, sign_in_as
from tests.e2e.conftest import RunningStack

pytestmark = pytest.mark.e2e

T = {
    **SIGN_IN_TEXT["fi"],
    "find": "Etsi asiakas",
    "requests": "Pyynnöt",
    "request_list": "Rekisteröityjen pyynnöt",
    "upload": "Lähetä yhteystietoluettelo",
    "sign_out": "Kirjaudu ulos",
    "prospects": "Prospektit",
    "find_prospect": "Etsi prospekti",
    "campaigns": "Kampanjat",
    "imports": "Tuonnit",
    "import_runs": "Tuontiajot",
    "phone_campaigns": "Soittokampanjat",
    "retention": "Säilytysajat",
}


def _seen(phone: Pages, page: object, name: str) -> None:
    phone.check(page, name, lang="fi", heading=CONSOLE_TITLE["fi"])  # type: ignore[arg-type]
    phone.no_horizontal_scroll(page, name)  # type: ignore[arg-type]


def test_the_console_fits_a_phone_for_staff_and_for_a_partner(phone: Pages, local_stack: RunningStack) -> None:
    page = phone.open()
    page.goto(f"{phone.base_url}/console?lang=fi")
    page.get_by_label(T["username"]).wait_for()
    _seen(phone, page, "console-phone-sign-in")

    sign_in_as(page, local_stack, T, "staff")
    heading(page, T["find"])
    _seen(phone, page, "console-phone-customers")
    page.get_by_role("navigation").get_by_role("button", name=T["requests"]).click()
    heading(page, T["request_list"])
    _seen(phone, page, "console-phone-requests")
    for area, title, name in (
        ("prospects", "find_prospect", "console-phone-prospects"),
        ("campaigns", "campaigns", "console-phone-campaigns"),
        ("imports", "import_runs", "console-phone-imports"),
    ):
        page.get_by_role("navigation").get_by_role("button", name=T[area]).click()
        heading(page, T[title])
        _seen(phone, page, name)
    page.get_by_role("button", name=T["sign_out"]).click()

    sign_in_as(page, local_stack, T, "dpo")
    page.get_by_role("navigation").get_by_role("button", name=T["retention"]).click()
    heading(page, T["retention"])
    _seen(phone, page, "console-phone-retention")
    page.get_by_role("button", name=T["sign_out"]).click()

    sign_in_as(page, local_stack, T, "marketing")
    heading(page, T["phone_campaigns"])
    _seen(phone, page, "console-phone-marketing")
    page.get_by_role("button", name=T["sign_out"]).click()

    sign_in_as(page, local_stack, T, "partner")
    heading(page, T["upload"])
    _seen(phone, page, "console-phone-upload")
