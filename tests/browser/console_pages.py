"""What every console browser test does: the page's title, waiting for a screen, signing in."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Page

from tests.e2e.conftest import RunningStack

CONSOLE_TITLE = {"fi": "Henkilökunnan ja kumppanien työpöytä", "en": "Console for staff and partners"}
# The sign-in form's labels, for each test module's texts (`T = {"fi": {**SIGN_IN_TEXT["fi"], …}}`).
SIGN_IN_TEXT = {
    "fi": {"username": "Käyttäjätunnus", "password": "Salasana", "sign_in": "Kirjaudu"},
    "en": {"username": "Username", "password": "Password", "sign_in": "Sign in"},
}


def heading(page: Page, text: str) -> None:
    """Wait for the screen titled `text` (each screen's title is its level-2 heading)."""
    page.get_by_role("heading", name=text, level=2).wait_for()


def sign_in(page: Page, t: dict[str, str], username: str, password: str) -> None:
    """Fill the sign-in form (its labels in `t`: username, password, sign_in) and submit it."""
    page.get_by_label(t["username"]).fill(username)
    page.get_by_label(t["password"], exact=True).fill(password)
    page.get_by_role("button", name=t["sign_in"], exact=True).click()


def sign_in_as(page: Page, stack: RunningStack, t: dict[str, str], kind: str) -> None:
    """Sign in as the local stack's demo user of `kind` (staff, dpo, partner, …)."""
    user: dict[str, Any] = stack.info["users"][kind]
    sign_in(page, t, user["username"], user["password"])


def restrict(page: Page, t: dict[str, str], record: str, ground: str, review: str) -> str:
    """Restrict the open record (`record`: the details list's id, `customer` or `prospect`) with
    a ground and a review date through the shared restriction section; its marked line."""
    page.get_by_label(t["ground"]).select_option(ground)
    page.get_by_label(t["until"]).fill(review)
    page.get_by_role("button", name=t["restrict"]).click()
    page.get_by_role("status").filter(has_text=t["restricted"]).wait_for()
    return page.locator(f'#{record} [data-field="restriction"]').inner_text()


def lift_restriction(page: Page, t: dict[str, str], record: str) -> None:
    """Lift the open record's restriction (the API mails the person) and see it unmarked."""
    page.get_by_role("button", name=t["lift"]).click()
    page.get_by_role("status").filter(has_text=t["lifted"]).wait_for()
    assert page.locator(f'#{record} [data-field="restriction"]').inner_text() == t["not_restricted"]
