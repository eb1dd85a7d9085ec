"""The staff console's prospect screens in a real Chromium, in Finnish and in English.

Staff find a prospect by organisation and by email (in a POST body, never a URL), open it,
restrict its processing with a ground and a review date (the page marks it with both, and so
does the API), and lift the restriction (the person is mailed first). The DPO sets a legal
hold with its reason (marked), then lifts it. Every screen: axe-core, no console error or CSP
violation, a screenshot.
"""

from __future__ import annotations

import secrets
from datetime import date, timedelta

import pytest
from playwright.sync_api import Page, Request

from tests.browser.conftest import Pages
from tests.browser.console_pages import CONSOLE_TITLE as TITLE
from tests.browser.console_pages import SIGN_IN_TEXT, lift_restriction, restrict
from tests.browser.console_pages import heading as _heading
from tests.browser.console_pages import sign_in_as as _sign_in
from tests.e2e.conftest import RunningStack
from tests.e2e.test_no_personal_data_in_logs import wait_for

pytestmark = pytest.mark.e2e

T = {
    "fi": {
        **SIGN_IN_TEXT["fi"],
        "sign_out": "Kirjaudu ulos",
        "area": "Prospektit",
        "find": "Etsi prospekti",
        "org": "Organisaation nimi",
        "search": "Hae",
        "email": "Sähköpostiosoite",
        "search_email": "Hae sähköpostilla",
        "name": "Yhteyshenkilön nimi tai sen osa",
        "search_name": "Hae nimellä",
        "open": "Avaa",
        "ground": "Peruste",
        "until": "Tarkistetaan viimeistään",
        "restrict": "Rajoita käsittelyä",
        "restricted": "Käsittely rajoitettu.",
        "mark": "Rajoitettu",
        "lift": "Poista rajoitus",
        "lifted": "Rajoitus poistettu; henkilölle kerrottiin.",
        "not_restricted": "Ei rajoitettu",
        "hold_reason": "Syy (asia, ei henkilön tietoja)",
        "set_hold": "Aseta säilytysvelvoite",
        "hold_set": "Säilytysvelvoite asetettu.",
        "lift_hold": "Poista säilytysvelvoite",
        "hold_lifted": "Säilytysvelvoite poistettu.",
    },
    "en": {
        **SIGN_IN_TEXT["en"],
        "sign_out": "Sign out",
        "area": "Prospects",
        "find": "Find a prospect",
        "org": "Organisation name",
        "search": "Search",
        "email": "Email address",
        "search_email": "Search by email",
        "name": "Contact person's name or part of it",
        "search_name": "Search by name",
        "open": "Open",
        "ground": "Ground",
        "until": "Review by",
        "restrict": "Restrict processing",
        "restricted": "Processing restricted.",
        "mark": "Restricted",
        "lift": "Lift the restriction",
        "lifted": "Restriction lifted; the person was told.",
        "not_restricted": "Not restricted",
        "hold_reason": "Reason (the matter, not the person's data)",
        "set_hold": "Set a legal hold",
        "hold_set": "Legal hold set.",
        "lift_hold": "Lift the legal hold",
        "hold_lifted": "Legal hold lifted.",
    },
}


def _open_area(page: Page, t: dict[str, str]) -> None:
    page.get_by_role("navigation").get_by_role("button", name=t["area"]).click()
    _heading(page, t["find"])


@pytest.mark.parametrize("lang", ["fi", "en"])
def test_staff_restrict_and_lift_and_the_dpo_holds_a_prospect(
    desktop: Pages, local_stack: RunningStack, lang: str
) -> None:
    t = T[lang]
    org = f"Rajoituskunta {lang} {secrets.token_hex(3)}"
    email = f"rajoitus.{lang}.{secrets.token_hex(3)}@rajoituskunta.fi"
    surname = "Rajoittaja" + "".join(secrets.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(8))
    new = {"organization": org, "contact_name": f"Riitta {surname}", "title": "Rehtori", "email": email}
    status, created = local_stack.http("POST", "/prospects", local_stack.login("staff"), new)
    assert status == 201, created
    prospect_id = created["prospect_id"]
    urls: list[str] = []

    def seen(request: Request) -> None:
        urls.append(request.url)

    page = desktop.open()
    page.on("request", seen)
    page.goto(f"{desktop.base_url}/console?lang={lang}")
    _sign_in(page, local_stack, t, "staff")
    _open_area(page, t)
    desktop.check(page, f"console-prospects-find-{lang}", lang=lang, heading=TITLE[lang])

    page.get_by_label(t["org"]).fill(org)
    page.get_by_role("button", name=t["search"], exact=True).click()
    page.locator(f'#prospects tr[data-prospect="{prospect_id}"]').wait_for()
    page.get_by_label(t["email"]).fill(email)
    page.get_by_role("button", name=t["search_email"]).click()
    row = page.locator(f'#prospects tr[data-prospect="{prospect_id}"]')
    row.wait_for()
    assert page.locator("#prospects tbody tr").count() == 1
    # By a part of the name, typed in lower case: also in a POST body, never in a URL.
    page.get_by_label(t["name"]).fill(surname.lower())
    page.get_by_role("button", name=t["search_name"]).click()
    page.locator(f'#prospects tr[data-prospect="{prospect_id}"]').wait_for()
    assert page.locator("#prospects tbody tr").count() == 1
    assert not [u for u in urls if "rajoituskunta.fi" in u], "the email address was in a URL"
    assert not [u for u in urls if surname.lower() in u.lower()], "the name was in a URL"
    page.get_by_label(t["email"]).fill(email)
    page.get_by_role("button", name=t["search_email"]).click()
    row.wait_for()
    desktop.check(page, f"console-prospects-results-{lang}", lang=lang, heading=TITLE[lang])

    row.get_by_role("button", name=t["open"]).click()
    _heading(page, org)
    assert page.locator('#prospect [data-field="restriction"]').inner_text() == t["not_restricted"]
    desktop.check(page, f"console-prospect-{lang}", lang=lang, heading=TITLE[lang])

    review = (date.today() + timedelta(days=60)).isoformat()
    mark = restrict(page, t, "prospect", "accuracy_contested", review)
    assert mark.startswith(t["mark"]) and "18(1)(a)" in mark and review in mark, mark
    desktop.check(page, f"console-prospect-restricted-{lang}", lang=lang, heading=TITLE[lang])
    status, stored = local_stack.http("GET", f"/prospects/{prospect_id}", local_stack.login("staff"))
    assert status == 200 and stored["restriction"]["reason"] == "accuracy_contested", stored
    assert stored["restriction"]["until"] == review

    lift_restriction(page, t, "prospect")
    wait_for("the lift's message to the person", lambda: local_stack.outbox(email) or None)
    assert page.get_by_role("button", name=t["set_hold"]).count() == 0, "staff are not offered the DPO's legal hold"

    # The DPO: a legal hold with its reason, marked, then lifted.
    page.get_by_role("button", name=t["sign_out"]).click()
    _sign_in(page, local_stack, t, "dpo")
    _open_area(page, t)
    page.get_by_label(t["org"]).fill(org)
    page.get_by_role("button", name=t["search"], exact=True).click()
    page.locator(f'#prospects tr[data-prospect="{prospect_id}"]').get_by_role("button", name=t["open"]).click()
    _heading(page, org)
    page.get_by_label(t["hold_reason"]).fill("Riita-asia 2026/17")
    page.get_by_role("button", name=t["set_hold"]).click()
    page.get_by_role("status").filter(has_text=t["hold_set"]).wait_for()
    assert "Riita-asia 2026/17" in page.locator('#prospect [data-field="legal_hold"]').inner_text()
    desktop.check(page, f"console-prospect-held-{lang}", lang=lang, heading=TITLE[lang])
    page.get_by_label(t["hold_reason"]).fill("Asia ratkaistu")
    page.get_by_role("button", name=t["lift_hold"]).click()
    page.get_by_role("status").filter(has_text=t["hold_lifted"]).wait_for()
    assert page.locator('#prospect [data-field="legal_hold"]').count() == 0
