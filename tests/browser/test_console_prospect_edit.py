"""A prospect corrected, confirmed current and deleted in the console, and the DPO's audit
history of it, in a real Chromium (fi and en): a correction saves only what changed (an emptied
optional field is removed), a deletion under a legal hold is refused in the page's words, and a
deletion takes a second, explicit step."""

from __future__ import annotations

import secrets

import jwt
import pytest
from playwright.sync_api import Page

from tests.browser.conftest import Pages
from tests.browser.console_pages import CONSOLE_TITLE as TITLE
from tests.browser.console_pages import SIGN_IN_TEXT, heading, sign_in_as
from tests.e2e.conftest import RunningStack

pytestmark = pytest.mark.e2e

T = {
    "fi": {
        **SIGN_IN_TEXT["fi"],
        "area": "Prospektit",
        "find": "Etsi prospekti",
        "email": "Sähköpostiosoite",
        "search_email": "Hae sähköpostilla",
        "open": "Avaa",
        "title": "Titteli",
        "source_url": "Julkinen lähde",
        "save": "Tallenna",
        "saved": "Tiedot tallennettu.",
        "verify": "Vahvista ajantasaiseksi",
        "verified": "Vahvistettu ajantasaiseksi; säilytysaika alkoi alusta.",
        "show_audit": "Näytä tapahtumahistoria",
        "corrected": "korjattu",
        "hold_reason": "Syy (asia, ei henkilön tietoja)",
        "set_hold": "Aseta säilytysvelvoite",
        "hold_set": "Säilytysvelvoite asetettu.",
        "lift_hold": "Poista säilytysvelvoite",
        "hold_lifted": "Säilytysvelvoite poistettu.",
        "delete": "Poista prospekti",
        "confirm_delete": "Vahvista poisto",
        "held": "Tieto on pidätetty",
        "deleted": "Prospekti poistettu.",
        "sign_out": "Kirjaudu ulos",
    },
    "en": {
        **SIGN_IN_TEXT["en"],
        "area": "Prospects",
        "find": "Find a prospect",
        "email": "Email address",
        "search_email": "Search by email",
        "open": "Open",
        "title": "Title",
        "source_url": "Public source",
        "save": "Save",
        "saved": "Saved.",
        "verify": "Confirm current",
        "verified": "Confirmed current; the retention period starts again.",
        "show_audit": "Show the audit history",
        "corrected": "corrected",
        "hold_reason": "Reason (the matter, not the person's data)",
        "set_hold": "Set a legal hold",
        "hold_set": "Legal hold set.",
        "lift_hold": "Lift the legal hold",
        "hold_lifted": "Legal hold lifted.",
        "delete": "Delete the prospect",
        "confirm_delete": "Confirm the deletion",
        "held": "The record is held",
        "deleted": "Prospect deleted.",
        "sign_out": "Sign out",
    },
}


def _open(page: Page, t: dict[str, str], email: str, org: str) -> None:
    page.get_by_role("navigation").get_by_role("button", name=t["area"]).click()
    heading(page, t["find"])
    page.get_by_label(t["email"]).fill(email)
    page.get_by_role("button", name=t["search_email"]).click()
    page.locator("#prospects tbody tr").get_by_role("button", name=t["open"]).click()
    heading(page, org)


def _status(page: Page, text: str) -> None:
    page.get_by_role("status").filter(has_text=text).wait_for()


@pytest.mark.parametrize("lang", ["fi", "en"])
def test_a_prospect_corrected_confirmed_audited_and_deleted(
    desktop: Pages, local_stack: RunningStack, lang: str
) -> None:
    t = T[lang]
    org = f"Korjauskunta {lang} {secrets.token_hex(3)}"
    email = f"korjaus.{lang}.{secrets.token_hex(3)}@korjauskunta.fi"
    new = {
        "organization": org,
        "contact_name": "Kaisa Korjattava",
        "title": "Rehtori",
        "email": email,
        "source_url": "https://korjauskunta.fi/yhteystiedot",
    }
    status, created = local_stack.http("POST", "/prospects", local_stack.login("staff"), new)
    assert status == 201, created
    pid = created["prospect_id"]

    page = desktop.open()
    page.goto(f"{desktop.base_url}/console?lang={lang}")
    sign_in_as(page, local_stack, t, "staff")
    _open(page, t, email, org)
    assert page.get_by_role("button", name=t["show_audit"]).count() == 0, "the audit history is the DPO's"
    page.get_by_label(t["title"], exact=True).fill("Sivistysjohtaja")
    page.get_by_label(t["source_url"]).fill("")
    page.get_by_role("button", name=t["save"]).click()
    _status(page, t["saved"])
    assert page.locator('#prospect [data-field="title"]').inner_text() == "Sivistysjohtaja"
    assert page.locator('#prospect [data-field="source_url"]').count() == 0
    status, stored = local_stack.http("GET", f"/prospects/{pid}", local_stack.login("staff"))
    assert stored["title"] == "Sivistysjohtaja" and "source_url" not in stored, stored
    assert stored["contact_name"] == "Kaisa Korjattava"
    page.get_by_role("button", name=t["verify"]).click()
    _status(page, t["verified"])
    desktop.check(page, f"console-prospect-corrected-{lang}", lang=lang, heading=TITLE[lang])

    # The DPO: the audit history shows the correction; a hold refuses the deletion.
    page.get_by_role("button", name=t["sign_out"]).click()
    sign_in_as(page, local_stack, t, "dpo")
    _open(page, t, email, org)
    page.get_by_role("button", name=t["show_audit"]).click()
    corrected = page.locator("#audit tbody tr").filter(has_text=t["corrected"])
    corrected.first.wait_for()
    # The field in the page's words, and who changed it: the staff member's principal (sub).
    assert t["title"] in corrected.first.get_by_role("cell").nth(3).inner_text()
    staff_sub = jwt.decode(local_stack.login("staff"), options={"verify_signature": False})["sub"]
    assert corrected.first.get_by_role("cell").nth(2).inner_text() == staff_sub
    desktop.check(page, f"console-prospect-audit-{lang}", lang=lang, heading=TITLE[lang])
    page.get_by_label(t["hold_reason"]).fill("Riita-asia 2026/18")
    page.get_by_role("button", name=t["set_hold"]).click()
    _status(page, t["hold_set"])
    page.get_by_role("button", name=t["delete"]).click()
    page.get_by_role("button", name=t["confirm_delete"]).click()
    page.get_by_role("alert").filter(has_text=t["held"]).wait_for()
    assert local_stack.http("GET", f"/prospects/{pid}", local_stack.login("staff"))[0] == 200

    page.get_by_label(t["hold_reason"]).fill("Asia ratkaistu")
    page.get_by_role("button", name=t["lift_hold"]).click()
    _status(page, t["hold_lifted"])
    page.get_by_role("button", name=t["delete"]).click()
    page.get_by_role("button", name=t["confirm_delete"]).click()
    heading(page, t["find"])
    _status(page, t["deleted"])
    assert local_stack.http("GET", f"/prospects/{pid}", local_stack.login("staff"))[0] == 404
