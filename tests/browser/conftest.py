"""Playwright (Python) driving the distribution's Chromium against the running local stack.

The stack is the session's `local_stack` fixture (tests/conftest.py), the same one tests/e2e
use. Chromium is the machine's package (`make browser` installs it: Playwright's own browser
download is not available here). Every page a test opens goes through `Pages.check`, which
asserts what a person must see, runs axe-core (no serious or critical violation), asserts no
console error and no Content-Security-Policy violation, and writes a full-page screenshot to
.local/screenshots/ for a person to open.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from tests.e2e.conftest import PROJECT_DIR

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = PROJECT_DIR / ".local" / "screenshots"
PHONE: dict[str, Any] = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 3,
    "is_mobile": True,
    "has_touch": True,
}
DESKTOP: dict[str, Any] = {"viewport": {"width": 1280, "height": 900}}
BLOCKING = ("serious", "critical")
# Records every CSP violation a page reports (an init script runs outside the page's CSP).
CSP_WATCH = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__cspViolations.push(e.violatedDirective + ' ' + e.blockedURI);
});
"""
# A page answered with an error status is logged by Chromium as a failed resource: expected
# for the styled error pages, which `check` is told about.
_STATUS_LOG = re.compile(r"Failed to load resource: the server responded with a status of (\d+)")


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make browser` (installs Debian's chromium)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM)
        yield launched
        launched.close()


@dataclass
class Pages:
    """One browser context (a phone or a desktop, a locale) and the checks of its pages."""

    context: BrowserContext
    base_url: str
    console_errors: list[str] = field(default_factory=list)
    axe: Axe = field(default_factory=Axe)

    def open(self) -> Page:
        page = self.context.new_page()
        page.on("console", lambda msg: self.console_errors.append(msg.text) if msg.type == "error" else None)
        page.on("pageerror", lambda exc: self.console_errors.append(f"page error: {exc}"))
        return page

    def check(self, page: Page, name: str, *, lang: str, heading: str, status: int = 200) -> None:
        """The page `name` is whole, styled and accessible, in `lang`, under `heading`."""
        page.wait_for_load_state("load")
        assert page.locator("html").get_attribute("lang") == lang, name
        assert page.locator("h1").inner_text().strip() == heading, name
        assert page.locator("header.site .brand").is_visible(), name
        assert page.locator("footer.site").get_by_text(re.compile(r"\b[0-9a-f]{16}\b")).is_visible(), name
        # The stylesheet applied (the header's colour comes from it; with no CSS it is transparent).
        header_bg = page.locator("header.site").evaluate("e => getComputedStyle(e).backgroundColor")
        assert header_bg == "rgb(11, 58, 94)", f"{name}: stylesheet not applied ({header_bg})"
        violations = page.evaluate("window.__cspViolations || []")
        assert not violations, f"{name}: Content-Security-Policy violations: {violations}"
        errors = [
            e for e in self.console_errors if not ((m := _STATUS_LOG.search(e)) and int(m.group(1)) == status != 200)
        ]
        self.console_errors.clear()
        assert not errors, f"{name}: console errors: {errors}"
        found = self.axe.run(page).response["violations"]
        blocking = [v for v in found if v.get("impact") in BLOCKING]
        assert not blocking, f"{name}: axe found serious/critical violations:\n" + "\n".join(
            f"- {v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']]}" for v in blocking
        )
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)

    def no_horizontal_scroll(self, page: Page, name: str) -> None:
        """Laid out at the phone's width (the viewport meta works: not zoomed out to 980px) and
        nothing wider than the screen."""
        expected = (page.viewport_size or {}).get("width")
        width = page.evaluate("window.innerWidth")
        assert width == expected, f"{name}: laid out {width}px wide on a {expected}px screen (zoomed out)"
        scroll = page.evaluate("document.scrollingElement.scrollWidth")
        assert scroll <= width, f"{name}: the page scrolls sideways ({scroll}px wide in a {width}px window)"


def _context(browser: Browser, base_url: str, locale: str, device: dict[str, Any]) -> Iterator[Pages]:
    context = browser.new_context(locale=locale, **device)
    context.add_init_script(CSP_WATCH)
    try:
        yield Pages(context, base_url)
    finally:
        context.close()


@pytest.fixture
def desktop(browser: Browser, local_stack: Any) -> Iterator[Pages]:
    """A desktop browser whose language is Finnish."""
    yield from _context(browser, local_stack.info["api_url"], "fi-FI", DESKTOP)


@pytest.fixture
def phone(browser: Browser, local_stack: Any) -> Iterator[Pages]:
    """A phone-sized mobile browser (390x844) whose language is Finnish."""
    yield from _context(browser, local_stack.info["api_url"], "fi-FI", PHONE)
