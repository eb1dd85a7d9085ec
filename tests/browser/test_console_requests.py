"""A request case from the privacy center link to closed, with the staff console's request
screens in a real Chromium (issue 12), in Finnish and in English.

A prospect asks through the privacy center to correct their title (over HTTP, as the page's
form does), confirms the one-time link from the outbox and sends the correction: a
rectification waits for staff. The case is made overdue in its table (as if a month had
passed), so it must come first in the console's working list, marked overdue. Staff sign in,
open it (what the person asked is shown), carry it out (the answer summary names the updated
record, and the prospect's title changed), close it saying the answer went by email, and the
case shows done; the list of done cases has it. Every screen: axe-core, no console error or
CSP violation, a screenshot.
"""

from __future__ import annotations

import secrets
from datetime import date, timedelta
from urllib.parse import parse_qs, urlparse

import pytest

from tests.browser.conftest import Pages
from tests.browser.console_pages import CONSOLE_TITLE as TITLE
from tests.browser.console_pages import SIGN_IN_TEXT
from tests.browser.console_pages import heading as _heading
from tests.browser.console_pages import sign_in_as as _sign_in
from tests.e2e.conftest import RunningStack
from tests.e2e.test_privacy_center_local_stack import _act, _link

pytestmark = pytest.mark.e2e

T = {
    "fi": {
        **SIGN_IN_TEXT["fi"],
        "area": "Pyynnöt",
        "list": "Rekisteröityjen pyynnöt",
        "overdue": "Myöhässä",
        "open": "Avaa",
        "case": "Tietojen oikaisu",
        "carry_out": "Toteuta pyyntö",
        "carried_out": "Pyyntö toteutettu.",
        "outcome": "Mitä tehtiin",
        "delivery": "Miten vastaus toimitettiin",
        "close": "Sulje tehtynä",
        "closed": "Pyyntö suljettu.",
        "done": "tehty",
        "back": "Takaisin luetteloon",
        "status": "Tila",
        "show": "Näytä",
    },
    "en": {
        **SIGN_IN_TEXT["en"],
        "area": "Requests",
        "list": "Data subject requests",
        "overdue": "Overdue",
        "open": "Open",
        "case": "Rectification",
        "carry_out": "Carry out the request",
        "carried_out": "Request carried out.",
        "outcome": "What was done",
        "delivery": "How the answer was delivered",
        "close": "Close as done",
        "closed": "Request closed.",
        "done": "done",
        "back": "Back to the list",
        "status": "Status",
        "show": "Show",
    },
}


def _rectification_waiting_for_staff(stack: RunningStack, lang: str) -> tuple[str, str]:
    """A prospect's rectification through the privacy center, waiting for staff: (case id, prospect id)."""
    email = f"oikaisu.{lang}.{secrets.token_hex(3)}@pyyntokunta.fi"
    staff = stack.login("staff")
    new = {"organization": "Oikaisukunta", "contact_name": "Olli Oikaisija", "title": "Rehtori", "email": email}
    status, created = stack.http("POST", "/prospects", staff, new)
    assert status == 201, created
    status, asked = stack.http(
        "POST", "/privacy-center/requests", None, {"email": email, "type": "rectification", "lang": lang}
    )
    assert status == 202, asked
    token = parse_qs(urlparse(_link(stack, email)).query)["token"][0]
    status, redeemed = stack.http("POST", "/privacy-center/link", None, {"token": token})
    assert status == 200, redeemed
    status, acted = _act(stack, redeemed["session"], {"type": "rectification", "changes": {"title": "Sivistysjohtaja"}})
    assert status == 200 and acted["case"]["status"] == "open" and acted["answer"] is None, acted
    return str(acted["case"]["case_id"]), str(created["prospect_id"])


def _make_overdue(stack: RunningStack, case_id: str) -> None:
    """As if the month had passed: the case's due date is three days ago."""
    stack.client("dynamodb").update_item(
        TableName=stack.info["tables"]["request_cases"],
        Key={"case_id": {"S": case_id}},
        UpdateExpression="SET due_at = :due",
        ExpressionAttributeValues={":due": {"S": (date.today() - timedelta(days=3)).isoformat()}},
    )


@pytest.mark.parametrize("lang", ["fi", "en"])
def test_a_request_case_from_the_privacy_center_link_to_closed(
    desktop: Pages, local_stack: RunningStack, lang: str
) -> None:
    t = T[lang]
    case_id, prospect_id = _rectification_waiting_for_staff(local_stack, lang)
    _make_overdue(local_stack, case_id)

    page = desktop.open()
    page.goto(f"{desktop.base_url}/console?lang={lang}")
    _sign_in(page, local_stack, t, "staff")
    page.get_by_role("navigation").get_by_role("button", name=t["area"]).click()
    _heading(page, t["list"])
    first = page.locator("#cases tbody tr").first
    first.wait_for()
    assert first.get_attribute("data-case") == case_id, "the overdue case is not first in the working list"
    assert t["overdue"] in first.inner_text()
    desktop.check(page, f"console-cases-{lang}", lang=lang, heading=TITLE[lang])

    first.get_by_role("button", name=t["open"]).click()
    page.get_by_role("heading", level=2).filter(has_text=t["case"]).wait_for()
    assert "Sivistysjohtaja" in page.locator('#case [data-field="details"]').inner_text()
    assert t["overdue"] in page.locator('#case [data-field="due"]').inner_text()
    desktop.check(page, f"console-case-{lang}", lang=lang, heading=TITLE[lang])

    page.get_by_role("button", name=t["carry_out"]).click()
    page.get_by_role("status").filter(has_text=t["carried_out"]).wait_for()
    assert prospect_id in page.locator("#answer").inner_text()
    assert page.locator('#case [data-field="outcome"]').inner_text() == "rectified"
    desktop.check(page, f"console-case-carried-out-{lang}", lang=lang, heading=TITLE[lang])
    status, prospect = local_stack.http("GET", f"/prospects/{prospect_id}", local_stack.login("staff"))
    assert status == 200 and prospect["title"] == "Sivistysjohtaja", prospect

    page.get_by_label(t["outcome"]).fill("Titteli korjattu; vastaus lähetetty sähköpostilla.")
    page.get_by_label(t["delivery"]).select_option("email")
    page.get_by_role("button", name=t["close"]).click()
    page.get_by_role("status").filter(has_text=t["closed"]).wait_for()
    assert page.locator('#case [data-field="status"]').inner_text() == t["done"]
    assert page.locator('#case [data-field="delivery"]').is_visible()
    desktop.check(page, f"console-case-closed-{lang}", lang=lang, heading=TITLE[lang])

    # Off the working list; in the list of done cases.
    page.get_by_role("button", name=t["back"]).click()
    _heading(page, t["list"])
    page.locator("#cases").wait_for()
    page.get_by_label(t["status"]).select_option("done")
    page.get_by_role("button", name=t["show"]).click()
    page.locator(f'#cases tr[data-case="{case_id}"]').wait_for()
    desktop.check(page, f"console-cases-done-{lang}", lang=lang, heading=TITLE[lang])
    status, stored = local_stack.http("GET", f"/cases/{case_id}", local_stack.login("staff"))
    assert status == 200 and stored["status"] == "done" and stored["delivery"] == "email", stored
