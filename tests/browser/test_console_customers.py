"""The staff console's customer screens in a real Chromium, in Finnish and in English: a
customer's restriction of processing, the DPO's legal hold and the DPO's audit history.

Staff find a customer by organisation and by a part of the contact person's name (in a POST
body, never a URL), open it, restrict its processing with a ground and a
review date (the page marks it, in the results too, and so does the API), correct its phone
number, and lift the restriction (the person is mailed first); staff are offered neither the
legal hold nor the audit history. The DPO sets a legal hold with its reason (marked, and in
the API), reads the customer's audit history (staff's correction is there, with the field, in
the page's words; so are the restriction with its ground and the hold), and lifts the hold.
Long lists page: the search results by organisation (26 customers) and a customer's orders
(26) show a page and a "more" button until all are shown. Every screen: axe-core, no console
error or CSP violation, a screenshot.
"""

from __future__ import annotations

import secrets
from datetime import date, timedelta

import pytest
from playwright.sync_api import Page

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
        "area": "Asiakkaat",
        "find": "Etsi asiakas",
        "org": "Organisaation nimi",
        "search": "Hae",
        "name": "Yhteyshenkilön nimi tai sen osa",
        "search_name": "Hae nimellä",
        "open": "Avaa",
        "ground": "Peruste",
        "until": "Tarkistetaan viimeistään",
        "restrict": "Rajoita käsittelyä",
        "restricted": "Käsittely rajoitettu.",
        "mark": "Rajoitettu",
        "ground_text": "Vastustus käsittelyssä (18(1)(d))",
        "lift": "Poista rajoitus",
        "lifted": "Rajoitus poistettu; henkilölle kerrottiin.",
        "not_restricted": "Ei rajoitettu",
        "phone": "Puhelin",
        "save": "Tallenna korjaukset",
        "saved": "Korjaukset tallennettu.",
        "hold_reason": "Syy (asia, ei henkilön tietoja)",
        "set_hold": "Aseta säilytysvelvoite",
        "hold_set": "Säilytysvelvoite asetettu.",
        "lift_hold": "Poista säilytysvelvoite",
        "hold_lifted": "Säilytysvelvoite poistettu.",
        "show_audit": "Näytä tapahtumahistoria",
        "updated": "korjattu",
        "restrict_action": "käsittely rajoitettu",
        "lift_action": "rajoitus poistettu",
        "hold_action": "säilytysvelvoite asetettu",
        "more": "Näytä lisää",
        "show_orders": "Näytä tilaukset",
        "status_active": "voimassa",
    },
    "en": {
        **SIGN_IN_TEXT["en"],
        "sign_out": "Sign out",
        "area": "Customers",
        "find": "Find a customer",
        "org": "Organisation name",
        "search": "Search",
        "name": "Contact person's name or part of it",
        "search_name": "Search by name",
        "open": "Open",
        "ground": "Ground",
        "until": "Review by",
        "restrict": "Restrict processing",
        "restricted": "Processing restricted.",
        "mark": "Restricted",
        "ground_text": "An objection is being decided (18(1)(d))",
        "lift": "Lift the restriction",
        "lifted": "Restriction lifted; the person was told.",
        "not_restricted": "Not restricted",
        "phone": "Phone",
        "save": "Save corrections",
        "saved": "Corrections saved.",
        "hold_reason": "Reason (the matter, not the person's data)",
        "set_hold": "Set a legal hold",
        "hold_set": "Legal hold set.",
        "lift_hold": "Lift the legal hold",
        "hold_lifted": "Legal hold lifted.",
        "show_audit": "Show the audit history",
        "updated": "corrected",
        "restrict_action": "processing restricted",
        "lift_action": "restriction lifted",
        "hold_action": "legal hold set",
        "more": "Show more",
        "show_orders": "Show the orders",
        "status_active": "active",
    },
}


def _customer(stack: RunningStack, org: str, email: str, name: str = "Rauni Rajoitettu") -> str:
    body = {
        "organization": org,
        "contact_name": name,
        "email": email,
        "phone": "040 222 3333",
        "username": f"asiakas-{secrets.token_hex(4)}",
    }
    status, created = stack.http("POST", "/customers", stack.login("staff"), body)
    assert status == 201, created
    return str(created["customer_id"])


def _open_customer(page: Page, t: dict[str, str], org: str, customer_id: str) -> None:
    """From the customer search (the first area): find by organisation and open it."""
    _heading(page, t["find"])
    page.get_by_label(t["org"]).fill(org)
    page.get_by_role("button", name=t["search"], exact=True).click()
    page.locator(f'#results tr[data-customer="{customer_id}"]').get_by_role("button", name=t["open"]).click()
    _heading(page, org)


@pytest.mark.parametrize("lang", ["fi", "en"])
def test_staff_restrict_a_customer_and_the_dpo_holds_it_and_reads_its_audit(
    desktop: Pages, local_stack: RunningStack, lang: str
) -> None:
    t = T[lang]
    org = f"Rajoitusasiakas {lang} {secrets.token_hex(3)}"
    email = f"rajoitus.{lang}.{secrets.token_hex(3)}@rajoitusasiakas.fi"
    surname = "Rajoit" + "".join(secrets.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(8))
    customer_id = _customer(local_stack, org, email, f"Rauni {surname}")
    urls: list[str] = []

    page = desktop.open()
    page.on("request", lambda request: urls.append(request.url))
    page.goto(f"{desktop.base_url}/console?lang={lang}")
    _sign_in(page, local_stack, t, "staff")
    _heading(page, t["find"])
    page.get_by_label(t["name"]).fill(surname.lower()[:-2])
    page.get_by_role("button", name=t["search_name"]).click()
    page.locator(f'#results tr[data-customer="{customer_id}"]').wait_for()
    assert page.locator("#results tbody tr").count() == 1
    assert not [u for u in urls if surname.lower()[:-2] in u.lower()], "the name was in a URL"
    desktop.check(page, f"console-customers-by-name-{lang}", lang=lang, heading=TITLE[lang])
    _open_customer(page, t, org, customer_id)
    assert page.locator('#customer [data-field="restriction"]').inner_text() == t["not_restricted"]
    assert page.get_by_role("button", name=t["set_hold"]).count() == 0, "staff are offered the DPO's legal hold"
    assert page.get_by_role("button", name=t["show_audit"]).count() == 0, "staff are offered the audit history"
    desktop.check(page, f"console-customer-restriction-{lang}", lang=lang, heading=TITLE[lang])

    # Restricted with a ground and a review date: marked here and in the API.
    review = (date.today() + timedelta(days=45)).isoformat()
    mark = restrict(page, t, "customer", "objection_pending", review)
    assert mark.startswith(t["mark"]) and t["ground_text"] in mark and review in mark, mark
    desktop.check(page, f"console-customer-restricted-{lang}", lang=lang, heading=TITLE[lang])
    status, stored = local_stack.http("GET", f"/customers/{customer_id}", local_stack.login("staff"))
    assert status == 200 and stored["restriction"]["reason"] == "objection_pending", stored
    assert stored["restriction"]["until"] == review

    # A staff correction (the DPO's audit history shows it below).
    page.get_by_label(t["phone"], exact=True).fill("+358 50 111 2222")
    page.get_by_role("button", name=t["save"]).click()
    page.get_by_role("status").filter(has_text=t["saved"]).wait_for()
    assert page.locator('#customer [data-field="restriction"]').inner_text().startswith(t["mark"])

    # Lifted: the person is mailed first.
    lift_restriction(page, t, "customer")
    wait_for("the lift's message to the person", lambda: local_stack.outbox(email) or None)

    # The DPO: a legal hold with its reason, marked; the audit history; the hold lifted.
    page.get_by_role("button", name=t["sign_out"]).click()
    _sign_in(page, local_stack, t, "dpo")
    _open_customer(page, t, org, customer_id)
    page.get_by_label(t["hold_reason"]).fill("Riita-asia 2026/31")
    page.get_by_role("button", name=t["set_hold"]).click()
    page.get_by_role("status").filter(has_text=t["hold_set"]).wait_for()
    assert "Riita-asia 2026/31" in page.locator('#customer [data-field="legal_hold"]').inner_text()
    status, stored = local_stack.http("GET", f"/customers/{customer_id}", local_stack.login("dpo"))
    assert status == 200 and stored["legal_hold"]["reason"] == "Riita-asia 2026/31", stored

    page.get_by_role("button", name=t["show_audit"]).click()
    correction = page.locator('#audit tr[data-action="update"]').filter(has_text=t["phone"])
    correction.first.wait_for()
    assert t["updated"] in correction.first.inner_text()
    restricted_event = page.locator('#audit tr[data-action="restrict"]')
    assert t["restrict_action"] in restricted_event.inner_text() and t["ground_text"] in restricted_event.inner_text()
    assert t["lift_action"] in page.locator('#audit tr[data-action="lift_restriction"]').inner_text()
    held = page.locator('#audit tr[data-action="legal_hold_set"]')
    assert t["hold_action"] in held.inner_text() and "Riita-asia 2026/31" in held.inner_text()
    desktop.check(page, f"console-customer-audit-{lang}", lang=lang, heading=TITLE[lang])

    page.get_by_label(t["hold_reason"]).fill("Asia ratkaistu")
    page.get_by_role("button", name=t["lift_hold"]).click()
    page.get_by_role("status").filter(has_text=t["hold_lifted"]).wait_for()
    assert page.locator('#customer [data-field="legal_hold"]').count() == 0
    desktop.check(page, f"console-customer-hold-lifted-{lang}", lang=lang, heading=TITLE[lang])


def _show_all(page: Page, box: str, t: dict[str, str]) -> None:
    """Press the list's "more" button until the list has no more pages."""
    more = page.locator(box).get_by_role("button", name=t["more"])
    for _ in range(50):
        page.wait_for_function("() => !document.querySelector('[role=status]').textContent")
        if not more.count():
            return
        more.click()
    raise AssertionError(f"{box}: still more pages after 50")


@pytest.mark.parametrize("lang", ["fi", "en"])
def test_long_lists_of_customers_and_orders_page(desktop: Pages, local_stack: RunningStack, lang: str) -> None:
    t = T[lang]
    token = secrets.token_hex(3)
    org = f"Sivutus {lang} {token}"
    ids = [_customer(local_stack, f"{org} {n:02d}", f"sivu.{n}.{token}@sivutus.fi") for n in range(26)]
    staff = local_stack.login("staff")
    services = {"active_services": [{"service": "Tuki", "price": "10.00", "period": "month"}]}
    status, body = local_stack.http("PUT", f"/customers/{ids[0]}/services", staff, services)
    assert status == 200, body
    for _ in range(26):
        status, body = local_stack.http(
            "POST", f"/customers/{ids[0]}/orders", staff, {"items": [{"service": "Tuki", "quantity": 1}]}
        )
        assert status == 201, body

    page = desktop.open()
    page.goto(f"{desktop.base_url}/console?lang={lang}")
    _sign_in(page, local_stack, t, "staff")
    _heading(page, t["find"])
    page.get_by_label(t["org"]).fill(org)
    page.get_by_role("button", name=t["search"], exact=True).click()
    page.locator("#results tbody tr").first.wait_for()
    _show_all(page, "#results", t)
    shown = page.locator("#results tbody tr")
    assert sorted(r.get_attribute("data-customer") or "" for r in shown.all()) == sorted(ids)
    assert set(page.locator("#results tbody td:nth-child(3)").all_inner_texts()) == {t["status_active"]}
    desktop.check(page, f"console-customers-paged-{lang}", lang=lang, heading=TITLE[lang])

    page.locator(f'#results tr[data-customer="{ids[0]}"]').get_by_role("button", name=t["open"]).click()
    _heading(page, f"{org} 00")
    page.get_by_role("button", name=t["show_orders"]).click()
    page.locator("#orders tbody tr").first.wait_for()
    assert page.locator("#orders tbody tr").count() == 25
    _show_all(page, "#orders", t)
    assert page.locator("#orders tbody tr").count() == 26
    desktop.check(page, f"console-customer-orders-paged-{lang}", lang=lang, heading=TITLE[lang])
