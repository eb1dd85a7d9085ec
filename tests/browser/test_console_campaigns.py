"""The staff console's campaign screens and a customer's services and orders, in a real
Chromium, in Finnish and in English.

Staff create a phone campaign with a selection, form its audience (the page follows the job
until the campaign is ready and shows the counts), hand it to the demo marketing partner
(`kampanja`) and see it assigned, as the API does. On a customer, staff add a service with its
price and an order of it, end the contract (no orders offered then) and re-activate it. Every
screen: axe-core, no console error or CSP violation, a screenshot.
"""

from __future__ import annotations

import secrets
from datetime import date

import pytest
from playwright.sync_api import Page

from tests.browser.conftest import Pages
from tests.browser.console_pages import CONSOLE_TITLE as TITLE
from tests.browser.console_pages import SIGN_IN_TEXT
from tests.browser.console_pages import heading as _heading
from tests.browser.console_pages import sign_in_as as _sign_in
from tests.e2e.conftest import RunningStack

pytestmark = pytest.mark.e2e

T = {
    "fi": {
        **SIGN_IN_TEXT["fi"],
        "campaigns": "Kampanjat",
        "customers": "Asiakkaat",
        "name": "Nimi",
        "purpose": "Käyttötarkoitus",
        "channel": "Kanava",
        "org_contains": "Organisaation nimi sisältää",
        "titles": "Tittelin sanat (välilyönnein erotettuina, mikä tahansa riittää)",
        "create": "Luo kampanja",
        "materialise": "Muodosta kohderyhmä",
        "materialised": "Kohderyhmä muodostettu.",
        "ready": "valmis",
        "partner": "Markkinointikumppanin tunnus",
        "assign": "Anna kampanja",
        "assigned": "Kampanja annettu kumppanille.",
        "assignment": "kampanja (toimeksianto voimassa)",
        "find": "Etsi asiakas",
        "org": "Organisaation nimi",
        "search": "Hae",
        "open": "Avaa",
        "service": "Palvelu",
        "price": "Hinta (EUR)",
        "add_service": "Lisää palvelu",
        "services_saved": "Palvelut tallennettu.",
        "quantity": "Määrä",
        "add_order": "Lisää tilaus",
        "order_added": "Tilaus lisätty.",
        "end_date": "Päättymispäivä",
        "end": "Päätä sopimus",
        "ended": "Sopimus päätetty.",
        "status_ended": "päättynyt",
        "reactivate": "Aktivoi uudelleen",
        "reactivated": "Sopimus aktivoitu uudelleen.",
        "status_active": "voimassa",
    },
    "en": {
        **SIGN_IN_TEXT["en"],
        "campaigns": "Campaigns",
        "customers": "Customers",
        "name": "Name",
        "purpose": "Purpose",
        "channel": "Channel",
        "org_contains": "Organisation name contains",
        "titles": "Title words (separated by spaces, any one matches)",
        "create": "Create the campaign",
        "materialise": "Form the audience",
        "materialised": "Audience formed.",
        "ready": "ready",
        "partner": "Marketing partner's id",
        "assign": "Assign the campaign",
        "assigned": "Campaign assigned to the partner.",
        "assignment": "kampanja (assignment open)",
        "find": "Find a customer",
        "org": "Organisation name",
        "search": "Search",
        "open": "Open",
        "service": "Service",
        "price": "Price (EUR)",
        "add_service": "Add a service",
        "services_saved": "Services saved.",
        "quantity": "Quantity",
        "add_order": "Add an order",
        "order_added": "Order added.",
        "end_date": "End date",
        "end": "End the contract",
        "ended": "Contract ended.",
        "status_ended": "ended",
        "reactivate": "Re-activate",
        "reactivated": "Contract re-activated.",
        "status_active": "active",
    },
}


def _status(page: Page, text: str) -> None:
    page.get_by_role("status").filter(has_text=text).wait_for(timeout=30_000)


def _field(page: Page, name: str) -> str:
    return page.locator(f'#campaign [data-field="{name}"]').inner_text()


@pytest.mark.parametrize("lang", ["fi", "en"])
def test_staff_create_materialise_and_assign_a_phone_campaign(
    desktop: Pages, local_stack: RunningStack, lang: str
) -> None:
    t = T[lang]
    org = f"Kampanjakunta {lang} {secrets.token_hex(3)}"
    staff = local_stack.login("staff")
    for n, title in enumerate(["Rehtori", "Talousjohtaja"]):
        person = {
            "organization": org,
            "contact_name": f"Kalle Kampanja {n}",
            "title": title,
            "email": f"kalle{n}.{secrets.token_hex(3)}@kampanjakunta.fi",
            "phone": f"040 555 00{n}{secrets.randbelow(10)}",
        }
        status, created = local_stack.http("POST", "/prospects", staff, person)
        assert status == 201, created
    name = f"Kevään soitot {lang} {secrets.token_hex(2)}"

    page = desktop.open()
    page.goto(f"{desktop.base_url}/console?lang={lang}")
    _sign_in(page, local_stack, t, "staff")
    page.get_by_role("navigation").get_by_role("button", name=t["campaigns"]).click()
    _heading(page, t["campaigns"])
    desktop.check(page, f"console-campaigns-{lang}", lang=lang, heading=TITLE[lang])

    page.get_by_label(t["name"], exact=True).fill(name)
    page.get_by_label(t["purpose"]).fill("Uuden palvelun esittely rehtoreille")
    page.get_by_label(t["channel"]).select_option("phone")
    page.get_by_label(t["org_contains"]).fill(org)
    page.get_by_label(t["titles"]).fill("rehtori")
    page.get_by_role("button", name=t["create"]).click()
    _heading(page, name)
    campaign_id = page.locator("#campaign").get_attribute("data-campaign")
    assert campaign_id
    desktop.check(page, f"console-campaign-draft-{lang}", lang=lang, heading=TITLE[lang])

    page.get_by_role("button", name=t["materialise"]).click()
    _status(page, t["materialised"])  # followed by polling until the job made it ready
    assert _field(page, "status") == t["ready"]
    assert _field(page, "selected") == "1" and _field(page, "audience") == "1", _field(page, "audience")
    desktop.check(page, f"console-campaign-ready-{lang}", lang=lang, heading=TITLE[lang])

    page.get_by_label(t["partner"]).fill("kampanja")
    page.get_by_role("button", name=t["assign"]).click()
    _status(page, t["assigned"])
    assert _field(page, "assignment") == t["assignment"]
    desktop.check(page, f"console-campaign-assigned-{lang}", lang=lang, heading=TITLE[lang])
    status, stored = local_stack.http("GET", f"/campaigns/{campaign_id}", staff)
    assert status == 200 and stored["assigned_partner"] == "kampanja" and stored["assignment_open"], stored
    assert stored["status"] == "ready" and stored["counts"]["audience"] == 1, stored

    # Back to the list: the new campaign is there, newest first.
    page.get_by_role("button", name={"fi": "Takaisin kampanjoihin", "en": "Back to campaigns"}[lang]).click()
    page.locator(f'#campaigns tr[data-campaign="{campaign_id}"]').wait_for()


@pytest.mark.parametrize("lang", ["fi", "en"])
def test_staff_set_services_add_an_order_end_and_reactivate_a_contract(
    desktop: Pages, local_stack: RunningStack, lang: str
) -> None:
    t = T[lang]
    org = f"Tilaaja {lang} {secrets.token_hex(3)}"
    staff = local_stack.login("staff")
    body = {
        "organization": org,
        "contact_name": "Tiina Tilaaja",
        "email": f"tiina.{secrets.token_hex(3)}@tilaaja.fi",
        "username": f"tilaaja-{secrets.token_hex(4)}",
    }
    status, created = local_stack.http("POST", "/customers", staff, body)
    assert status == 201, created
    customer_id = created["customer_id"]

    page = desktop.open()
    page.goto(f"{desktop.base_url}/console?lang={lang}")
    _sign_in(page, local_stack, t, "staff")
    _heading(page, t["find"])  # Customers is the first area
    page.get_by_label(t["org"]).fill(org)
    page.get_by_role("button", name=t["search"], exact=True).click()
    page.get_by_role("button", name=t["open"]).click()
    _heading(page, org)

    page.get_by_label(t["service"], exact=True).fill("Ylläpito")
    page.get_by_label(t["price"]).fill("49.90")
    page.get_by_role("button", name=t["add_service"]).click()
    _status(page, t["services_saved"])
    page.locator('#services tr[data-service="Ylläpito"]').wait_for()

    page.get_by_label(t["quantity"]).fill("2")
    page.get_by_role("button", name=t["add_order"]).click()
    _status(page, t["order_added"])
    assert "99.80" in page.locator("#orders tbody").inner_text()
    desktop.check(page, f"console-customer-orders-{lang}", lang=lang, heading=TITLE[lang])
    status, orders = local_stack.http("GET", f"/customers/{customer_id}/orders", staff)
    assert status == 200 and [o["total"] for o in orders["items"]] == ["99.80"], orders

    page.get_by_label(t["end_date"]).fill(date.today().isoformat())
    page.get_by_role("button", name=t["end"]).click()
    _status(page, t["ended"])
    assert page.locator('#customer [data-field="status"]').inner_text() == t["status_ended"]
    assert page.get_by_role("button", name=t["add_order"]).count() == 0, "no order is offered once ended"
    desktop.check(page, f"console-customer-ended-{lang}", lang=lang, heading=TITLE[lang])

    page.get_by_role("button", name=t["reactivate"]).click()
    _status(page, t["reactivated"])
    assert page.locator('#customer [data-field="status"]').inner_text() == t["status_active"]
    status, record = local_stack.http("GET", f"/customers/{customer_id}", staff)
    assert status == 200 and record["status"] == "active", record
