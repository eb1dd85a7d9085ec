"""The partner portal in a real Chromium against the local stack, in Finnish and in English.

The demo data provider (demo-acme) signs in, uploads a small CSV with one bad row straight
to the upload bucket (the presigned POST from `POST /partner/uploads`; the page's CSP allows
exactly the bucket's origin), watches its import run finish and sees the rejected row with
its line number and reason, then finds the run among its earlier imports; an .xlsx goes the same way to its report, its
counts, states and reasons in the page's words. The demo reseller
(demo-resello) adds an end user, sees it listed and removes it. Every screen: axe-core, no
console error or CSP violation, a screenshot; no token in web storage.
"""

from __future__ import annotations

import io
import secrets
from typing import Any

import pytest
import requests
from openpyxl import Workbook
from playwright.sync_api import Page, Request

from chalicelib.call_lists import XLSX_TYPE
from tests.browser.conftest import Pages
from tests.browser.console_pages import CONSOLE_TITLE as TITLE
from tests.browser.console_pages import SIGN_IN_TEXT, sign_in
from tests.browser.console_pages import heading as _heading
from tests.e2e.conftest import RunningStack

pytestmark = pytest.mark.e2e

T = {
    "fi": {
        **SIGN_IN_TEXT["fi"],
        "upload": "Lähetä yhteystietoluettelo",
        "file": "Tiedosto",
        "send": "Lähetä",
        "run": "Tuonti: {file}",
        "done": "valmis",
        "finished": "Tuonti on valmis.",
        "missing_email": "sähköpostiosoite puuttuu",
        "inserted": "lisätty",
        "rejected": "hylätty",
        "back": "Takaisin lähetykseen",
        "runs": "Aiemmat tuonnit",
        "open": "Näytä raportti",
        "users_area": "Loppukäyttäjät",
        "users": "Loppukäyttäjät",
        "name": "Nimi",
        "email": "Sähköposti",
        "add": "Lisää",
        "added": "Loppukäyttäjä lisätty.",
        "remove": "Poista {name}",
        "removed": "Loppukäyttäjä poistettu.",
    },
    "en": {
        **SIGN_IN_TEXT["en"],
        "upload": "Send a contact list",
        "file": "File",
        "send": "Send",
        "run": "Import: {file}",
        "done": "done",
        "finished": "The import is done.",
        "missing_email": "no email address",
        "inserted": "added",
        "rejected": "rejected",
        "back": "Back to sending",
        "runs": "Earlier imports",
        "open": "Show the report",
        "users_area": "End users",
        "users": "End users",
        "name": "Name",
        "email": "Email",
        "add": "Add",
        "added": "End user added.",
        "remove": "Remove {name}",
        "removed": "End user removed.",
    },
}


def _sign_in(page: Pages, stack: RunningStack, kind: str, lang: str) -> Page:
    user = stack.info["users"][kind]
    tab = page.open()
    response = tab.goto(f"{page.base_url}/console?lang={lang}")
    assert response is not None and response.status == 200
    sign_in(tab, T[lang], user["username"], user["password"])
    return tab


def _no_tokens_stored(page: Page) -> None:
    stored = page.evaluate("() => [Object.keys(localStorage).length, Object.keys(sessionStorage).length]")
    assert stored == [0, 0]
    assert "eyJ" not in page.evaluate("document.cookie")


def _rows(tag: str) -> list[list[str]]:
    return [
        ["Organisaatio", "Nimi", "Titteli", "Sähköposti", "Puhelin"],
        [f"Selainkunta {tag}", "Aino Portaali", "Hallintojohtaja", f"aino.{tag}@selainkunta.fi", ""],
        [f"Selainkunta {tag}", "Ilman Osoitetta", "Talousjohtaja", "", ""],  # line 3: no email address
    ]


def _csv(tag: str) -> bytes:
    return "".join(";".join(row) + "\r\n" for row in _rows(tag)).encode()


def _xlsx(tag: str) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in _rows(tag):
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


@pytest.mark.parametrize("lang", ["fi", "en"])
def test_a_partners_upload_through_the_portal_ends_in_a_visible_report(
    desktop: Pages, local_stack: RunningStack, lang: str
) -> None:
    t = T[lang]
    tag = secrets.token_hex(3)
    file_name = f"portaali-{lang}-{tag}.csv"
    posts: list[str] = []

    def seen(request: Request) -> None:
        if request.method == "POST":
            posts.append(request.url)

    page = _sign_in(desktop, local_stack, "partner", lang)
    page.on("request", seen)
    _heading(page, t["upload"])
    desktop.check(page, f"partner-upload-{lang}", lang=lang, heading=TITLE[lang])

    page.get_by_label(t["file"], exact=True).set_input_files(
        {"name": file_name, "mimeType": "text/csv", "buffer": _csv(tag)}
    )
    page.get_by_role("button", name=t["send"], exact=True).click()
    _heading(page, t["run"].format(file=file_name))
    # The page polls the run and shows its state until it is done.
    page.locator('#run-state [data-state="done"]').wait_for(timeout=60000)
    page.get_by_role("status").filter(has_text=t["finished"]).wait_for()
    assert page.locator('#counts [data-count="inserted"]').inner_text() == "1"
    assert page.locator('#counts [data-count="rejected"]').inner_text() == "1"
    row = page.locator("#rejected tbody tr")
    row.first.wait_for()
    assert row.count() == 1
    cells = [c.strip() for c in row.locator("td").all_inner_texts()]
    assert cells[0] == "3" and cells[1] == t["missing_email"], cells
    desktop.check(page, f"partner-report-{lang}", lang=lang, heading=TITLE[lang])
    # The file went straight to the bucket (the emulator's address), not through the API.
    bucket = local_stack.info["upload_bucket"]
    assert any(u.startswith(local_stack.info["aws_endpoint_url"]) and bucket in u for u in posts), posts
    _no_tokens_stored(page)

    # The API has the same run; its report's rejected row is the one shown.
    token = local_stack.login("partner")
    status, runs = local_stack.http("GET", "/partner/import-runs?limit=10", token)
    assert status == 200
    [run] = [r for r in runs["items"] if r["file_name"] == file_name]
    status, rejects = local_stack.http("GET", f"/partner/import-runs/{run['run_id']}/rejected-rows", token)
    assert status == 200 and [(r["line"], r["reason"]) for r in rejects["items"]] == [(3, "missing_email")], rejects

    # Back on the upload screen the run is among the earlier imports, and opens again.
    page.get_by_role("button", name=t["back"]).click()
    _heading(page, t["upload"])
    listed = page.locator("#runs tbody tr").filter(has_text=file_name)
    listed.wait_for()
    assert t["done"] in listed.inner_text()
    desktop.check(page, f"partner-runs-{lang}", lang=lang, heading=TITLE[lang])
    listed.get_by_role("button").click()
    _heading(page, t["run"].format(file=file_name))
    page.locator("#rejected tbody tr").first.wait_for()


def test_an_xlsx_upload_through_the_portal_ends_in_a_visible_report(desktop: Pages, local_stack: RunningStack) -> None:
    lang = "en"
    t = T[lang]
    tag = secrets.token_hex(3)
    file_name = f"portaali-{tag}.xlsx"
    page = _sign_in(desktop, local_stack, "partner", lang)
    _heading(page, t["upload"])
    page.get_by_label(t["file"], exact=True).set_input_files(
        {"name": file_name, "mimeType": XLSX_TYPE, "buffer": _xlsx(tag)}
    )
    page.get_by_role("button", name=t["send"], exact=True).click()
    _heading(page, t["run"].format(file=file_name))
    page.locator('#run-state [data-state="done"]').wait_for(timeout=60000)
    page.get_by_role("status").filter(has_text=t["finished"]).wait_for()
    assert page.locator('#run-state [data-state="done"]').inner_text() == t["done"]
    # The counts under the core's words for them (kit.label("runCounts", …)).
    counts = {
        row.locator("th").inner_text().strip(): row.locator("td").inner_text().strip()
        for row in page.locator("#counts tr").all()
    }
    assert counts[t["inserted"]] == "1" and counts[t["rejected"]] == "1", counts
    row = page.locator("#rejected tbody tr")
    row.first.wait_for()
    cells = [c.strip() for c in row.locator("td").all_inner_texts()]
    assert row.count() == 1 and cells[:2] == ["3", t["missing_email"]], cells
    desktop.check(page, "partner-report-xlsx-en", lang=lang, heading=TITLE[lang])


@pytest.mark.parametrize("lang", ["fi", "en"])
def test_a_reseller_adds_and_removes_an_end_user(desktop: Pages, local_stack: RunningStack, lang: str) -> None:
    t = T[lang]
    name = f"Eetu Loppukäyttäjä {secrets.token_hex(2)}"
    email = f"eetu.{lang}.{secrets.token_hex(3)}@asiakas.example.com"
    page = _sign_in(desktop, local_stack, "reseller", lang)
    _heading(page, t["upload"])  # a reseller may upload too: its first area
    page.get_by_role("navigation").get_by_role("button", name=t["users_area"]).click()
    _heading(page, t["users"])
    desktop.check(page, f"reseller-end-users-{lang}", lang=lang, heading=TITLE[lang])

    page.get_by_label(t["name"], exact=True).fill(name)
    page.get_by_label(t["email"], exact=True).fill(email)
    page.get_by_role("button", name=t["add"], exact=True).click()
    page.get_by_role("status").filter(has_text=t["added"]).wait_for()
    page.get_by_role("cell", name=email).wait_for()
    desktop.check(page, f"reseller-end-user-added-{lang}", lang=lang, heading=TITLE[lang])
    token = local_stack.login("reseller")
    status, listed = local_stack.http("GET", "/partner/end-users?limit=100", token)
    assert status == 200 and email in [u["email"] for u in listed["items"]]

    page.get_by_role("button", name=t["remove"].format(name=name)).click()
    page.get_by_role("status").filter(has_text=t["removed"]).wait_for()
    assert page.get_by_role("cell", name=email).count() == 0
    desktop.check(page, f"reseller-end-user-removed-{lang}", lang=lang, heading=TITLE[lang])
    status, listed = local_stack.http("GET", "/partner/end-users?limit=100", token)
    assert status == 200 and email not in [u["email"] for u in listed["items"]]


def test_the_upload_form_posts_to_the_one_origin_the_console_allows(local_stack: RunningStack) -> None:
    """Locally the form's url is the emulator's path-style address: its origin is the one the
    console's config names and its CSP allows (tests/browser/test_console.py checks the CSP)."""
    config: Any = requests.get(f"{local_stack.info['api_url']}/console/config", timeout=10).json()
    assert config["upload_origin"] == local_stack.info["aws_endpoint_url"]
    status, form = local_stack.http("POST", "/partner/uploads", local_stack.login("partner"), {"file_name": "a.csv"})
    assert status == 201 and form["url"].startswith(config["upload_origin"] + "/"), form["url"]
