"""The staff console's import runs and the DPO's retention screens in a real Chromium, in
Finnish and in English.

A partner's file with one good and one bad row lands in the upload bucket; staff find its
run in the list (filtered by partner), open it and see its counts and its rejected rows by
reason. The DPO previews a sweep for a day (nothing changes) and sees the last sweep (a dry
run requested through the stack) with its counts per rule. Staff are not offered the DPO's
retention area. Every screen: axe-core, no console error or CSP violation, a screenshot.
"""

from __future__ import annotations

import secrets

import pytest
import requests
from playwright.sync_api import Page

from tests.browser.conftest import Pages
from tests.browser.console_pages import CONSOLE_TITLE as TITLE
from tests.browser.console_pages import SIGN_IN_TEXT
from tests.browser.console_pages import sign_in_as as _sign_in
from tests.e2e.conftest import RunningStack
from tests.e2e.test_erasure_local_stack import HEADER, _upload_and_report
from tests.e2e.test_no_personal_data_in_logs import request_sweep

pytestmark = pytest.mark.e2e

T = {
    "fi": {
        **SIGN_IN_TEXT["fi"],
        "sign_out": "Kirjaudu ulos",
        "imports": "Tuonnit",
        "runs": "Tuontiajot",
        "partner": "Kumppani",
        "show": "Näytä",
        "open": "Avaa",
        "rejected": "Hylätyt rivit syyn mukaan",
        "retention": "Säilytysajat",
        "done": "valmis",
        "invalid_email": "sähköpostiosoite ei kelpaa",
        "as_of": "Päivä (tyhjä: tänään)",
        "preview": "Esikatsele",
        "case_waiting": "Henkilön vastausta odottava pyyntö: 60 päivää odotuksen alusta",
    },
    "en": {
        **SIGN_IN_TEXT["en"],
        "sign_out": "Sign out",
        "imports": "Imports",
        "runs": "Import runs",
        "partner": "Partner",
        "show": "Show",
        "open": "Open",
        "rejected": "Rejected rows by reason",
        "retention": "Retention",
        "done": "done",
        "invalid_email": "the email address is not valid",
        "as_of": "Day (empty: today)",
        "preview": "Preview",
        "case_waiting": "A request waiting for the person's answer: 60 days from the wait",
    },
}


def _area(page: Page, name: str) -> None:
    page.get_by_role("navigation").get_by_role("button", name=name).click()


@pytest.mark.parametrize("lang", ["fi", "en"])
def test_staff_read_an_import_run_and_the_dpo_the_retention(
    desktop: Pages, local_stack: RunningStack, lang: str
) -> None:
    t = T[lang]
    name = f"konsoli-{lang}-{secrets.token_hex(3)}.csv"
    body = HEADER + "Tuontikunta;Tiina Tuoja;Rehtori;tiina.tuoja@tuontikunta.fi;040 555 0199\r\n"
    body += "Tuontikunta;Ilman Osoitetta;Rehtori;ei-osoite;\r\n"
    report = _upload_and_report(local_stack, name, body)
    assert report["state"] == "done" and report["counts"]["rejected"] == 1, report
    assert list(report["rejected_by_reason"]) == ["invalid_email"], report
    reason = t["invalid_email"]  # the code in the page's words

    page = desktop.open()
    page.goto(f"{desktop.base_url}/console?lang={lang}")
    _sign_in(page, local_stack, t, "staff")
    _area(page, t["imports"])
    page.get_by_role("heading", name=t["runs"], level=2).wait_for()
    page.locator('#run-partner option[value="acme"]').wait_for(state="attached")
    page.get_by_label(t["partner"], exact=True).select_option("acme")
    page.get_by_role("button", name=t["show"]).click()
    row = page.locator("#runs tr").filter(has_text=name)
    row.wait_for()
    desktop.check(page, f"console-import-runs-{lang}", lang=lang, heading=TITLE[lang])
    assert page.get_by_role("navigation").get_by_role("button", name=t["retention"]).count() == 0

    row.get_by_role("button", name=t["open"]).click()
    page.get_by_role("heading", name=t["rejected"], level=3).wait_for()
    assert page.locator('#run [data-field="state"]').inner_text() == t["done"]
    assert page.locator("#rejected tbody tr").filter(has_text=reason).get_by_role("cell", name="1").count() == 1
    # The rejected row itself, with the file's line number (the header is line 1).
    line = page.locator("#rejected-rows tbody tr").filter(has_text=reason)
    line.wait_for()
    assert line.get_by_role("cell").first.inner_text() == "3"
    desktop.check(page, f"console-import-run-{lang}", lang=lang, heading=TITLE[lang])

    # The DPO: the last sweeps and a preview.
    outcome = request_sweep(local_stack, {"dry_run": True})
    page.get_by_role("button", name=t["sign_out"]).click()
    _sign_in(page, local_stack, t, "dpo")
    _area(page, t["retention"])
    page.get_by_role("heading", name=t["retention"], level=2).wait_for()
    run_id = (outcome.get("summary") or outcome).get("run_id")
    sweep = page.locator(f'#sweeps [data-run="{run_id}"]') if run_id else page.locator("#sweeps .sweep").first
    sweep.wait_for()
    assert sweep.locator("tbody tr").count() >= 1
    page.get_by_label(t["as_of"]).fill("2027-01-15")
    page.get_by_role("button", name=t["preview"]).click()
    page.locator("#preview tbody tr").first.wait_for()
    assert "2027-01-15" in page.locator("#preview").inner_text()
    # Each rule in the notice's own words, in the page's language.
    notice = requests.get(
        f"{desktop.base_url}/privacy-notice", params={"lang": lang}, headers={"Accept": "application/json"}, timeout=30
    ).json()
    [grace] = [r for reg in notice["registers"] for r in reg["retention"] if r["rule"] == "customer_grace"]
    shown = page.locator('#preview td[data-rule="customer_grace"]').inner_text()
    assert grace["event"] in shown and grace["after"] in shown and grace["then"] in shown, shown
    # The request case rules (not in the notice) in the page's words, with their periods.
    waiting = page.locator('#preview td[data-rule="case_waiting"]').inner_text()
    assert t["case_waiting"] in waiting and "case_waiting" not in waiting, waiting
    desktop.check(page, f"console-retention-{lang}", lang=lang, heading=TITLE[lang])
