"""The staff console in a real Chromium against the local stack, in Finnish and in English.

A staff member created with a temporary password signs in (SRP, checked by the stack's
Cognito: a wrong password is refused), sets a new password, sets up TOTP with a real code
from the secret the page shows (the emulator checks it), signs out (GlobalSignOut), signs in
again with a TOTP code, finds a customer by email (in the body, never the URL), corrects a
field, sees it changed (and the API has it), has the ID token refreshed before it expires,
and is sent back to the sign-in when the refresh token is revoked. Every screen: axe-core, no
console error or CSP violation, a screenshot; no token in localStorage, sessionStorage or
cookies.

The staff pool's MFA is ON for this test, as in prod (infra/resources.json: ON in prod,
OPTIONAL elsewhere), so Cognito itself asks for the TOTP set-up (MFA_SETUP).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pyotp
import pytest
from playwright.sync_api import Page, Request

from tests.browser.conftest import Pages
from tests.browser.console_pages import CONSOLE_TITLE as TITLE
from tests.browser.console_pages import SIGN_IN_TEXT
from tests.browser.console_pages import heading as _heading
from tests.browser.console_pages import sign_in as _sign_in
from tests.e2e.conftest import RunningStack

pytestmark = pytest.mark.e2e

SCREENS = {
    "fi": {
        "sign_in": "Kirjaudu sisään",
        "new_password": "Vaihda salasana",
        "mfa_setup": "Ota kaksivaiheinen tunnistautuminen käyttöön",
        "totp": "Kaksivaiheinen tunnistautuminen",
        "find": "Etsi asiakas",
    },
    "en": {
        "sign_in": "Sign in",
        "new_password": "Change your password",
        "mfa_setup": "Set up two-step verification",
        "totp": "Two-step verification",
        "find": "Find a customer",
    },
}
LABELS = {
    "fi": {
        **SIGN_IN_TEXT["fi"],
        "new": "Uusi salasana",
        "again": "Uusi salasana uudelleen",
        "change": "Vaihda salasana",
        "code": "Kuusinumeroinen koodi",
        "confirm": "Vahvista",
        "sign_out": "Kirjaudu ulos",
        "email": "Yhteyshenkilön sähköpostiosoite",
        "search_email": "Hae sähköpostilla",
        "open": "Avaa",
        "phone": "Puhelin",
        "save": "Tallenna korjaukset",
        "wrong": "Väärä käyttäjätunnus tai salasana.",
        "saved": "Korjaukset tallennettu.",
        "signed_out": "Olet kirjautunut ulos.",
        "expired": "Istunto päättyi. Kirjaudu uudelleen.",
    },
    "en": {
        **SIGN_IN_TEXT["en"],
        "new": "New password",
        "again": "New password again",
        "change": "Change password",
        "code": "Six-digit code",
        "confirm": "Confirm",
        "sign_out": "Sign out",
        "email": "Contact person's email address",
        "search_email": "Search by email",
        "open": "Open",
        "phone": "Phone",
        "save": "Save corrections",
        "wrong": "Wrong username or password.",
        "saved": "Corrections saved.",
        "signed_out": "You have signed out.",
        "expired": "Your session ended. Please sign in again.",
    },
}
COGNITO = "AWSCognitoIdentityProviderService."
REFUSED = "Failed to load resource: the server responded with a status of 400 (BAD REQUEST)"


@dataclass
class StaffUser:
    username: str
    temporary: str
    password: str


@pytest.fixture
def mfa_required(local_stack: RunningStack) -> Iterator[None]:
    """The staff pool as in prod: TOTP required (restored to the stack's OPTIONAL after)."""
    idp = local_stack.client("cognito-idp")
    pool = local_stack.info["user_pool_id"]
    idp.set_user_pool_mfa_config(
        UserPoolId=pool, SoftwareTokenMfaConfiguration={"Enabled": True}, MfaConfiguration="ON"
    )
    try:
        yield
    finally:
        idp.set_user_pool_mfa_config(
            UserPoolId=pool, SoftwareTokenMfaConfiguration={"Enabled": True}, MfaConfiguration="OPTIONAL"
        )


def _new_staff(stack: RunningStack) -> StaffUser:
    """A staff member as an administrator creates one: a temporary password, group staff."""
    idp = stack.client("cognito-idp")
    pool = stack.info["user_pool_id"]
    user = StaffUser(
        username=f"selain-{secrets.token_hex(4)}",
        temporary=f"Tilap-{secrets.token_urlsafe(9)}-1a",
        password=f"Oma-{secrets.token_urlsafe(12)}-9Z",
    )
    idp.admin_create_user(
        UserPoolId=pool, Username=user.username, TemporaryPassword=user.temporary, MessageAction="SUPPRESS"
    )
    idp.admin_add_user_to_group(UserPoolId=pool, Username=user.username, GroupName="staff")
    return user


def _customer(stack: RunningStack, email: str) -> str:
    staff = stack.login("staff")
    body = {
        "organization": "Selainasiakas Oy",
        "contact_name": "Kaisa Konsoli",
        "email": email,
        "phone": "040 111 2222",
        "username": f"asiakas-{secrets.token_hex(4)}",
    }
    status, created = stack.http("POST", "/customers", staff, body)
    assert status == 201, created
    return str(created["customer_id"])


def _code(secret: str) -> str:
    """The authenticator's current code; at the very end of its 30 s step, the next step's
    (the emulator accepts only the step it is in when the code arrives)."""
    totp = pyotp.TOTP(secret)
    left = totp.interval - time.time() % totp.interval
    if left < 3:
        time.sleep(left + 0.2)
    return totp.now()


def _no_tokens_stored(page: Page, name: str) -> None:
    stored = page.evaluate(
        "() => ({local: Object.keys(localStorage).length, session: Object.keys(sessionStorage).length,"
        " cookie: document.cookie})"
    )
    assert stored["local"] == 0 and stored["session"] == 0, f"{name}: web storage used: {stored}"
    assert "eyJ" not in stored["cookie"] and "ilopiste" not in stored["cookie"].lower(), f"{name}: {stored}"
    assert set(c.split("=", 1)[0].strip() for c in stored["cookie"].split(";") if c.strip()) <= {"lang"}, name


@pytest.mark.parametrize("lang", ["fi", "en"])
def test_a_staff_member_signs_in_with_mfa_and_corrects_a_customer(
    desktop: Pages, local_stack: RunningStack, mfa_required: None, lang: str
) -> None:
    t, screens = LABELS[lang], SCREENS[lang]
    user = _new_staff(local_stack)
    email = f"konsoli.{lang}.{secrets.token_hex(3)}@selainasiakas.fi"
    customer_id = _customer(local_stack, email)
    cognito_calls: list[tuple[str, str]] = []
    urls: list[str] = []

    def seen(request: Request) -> None:
        urls.append(request.url)
        target = request.headers.get("x-amz-target", "")
        if target.startswith(COGNITO):
            cognito_calls.append((target.removeprefix(COGNITO), request.post_data or ""))

    page = desktop.open()
    page.on("request", seen)
    page.clock.install()  # the refresh timer is the page's; the test moves its clock
    response = page.goto(f"{desktop.base_url}/console?lang={lang}")
    assert response is not None and response.status == 200
    _heading(page, screens["sign_in"])
    desktop.check(page, f"console-sign-in-{lang}", lang=lang, heading=TITLE[lang])

    # SRP with a wrong password: the stack's Cognito recomputes the proof and refuses it.
    _sign_in(page, t, user.username, user.temporary + "x")
    page.get_by_role("alert").filter(has_text=t["wrong"]).wait_for()
    # Cognito refuses with a 400, which Chromium logs: expected here, once.
    assert desktop.console_errors == [REFUSED], desktop.console_errors
    desktop.console_errors.clear()
    assert cognito_calls[0][0] == "InitiateAuth" and "USER_SRP_AUTH" in cognito_calls[0][1]
    assert user.temporary not in "".join(body for _, body in cognito_calls), "the password never leaves the page"

    # The temporary password: a new one is required, then the TOTP set-up.
    _sign_in(page, t, user.username, user.temporary)
    _heading(page, screens["new_password"])
    desktop.check(page, f"console-new-password-{lang}", lang=lang, heading=TITLE[lang])
    page.get_by_label(t["new"], exact=True).fill(user.password)
    page.get_by_label(t["again"], exact=True).fill(user.password)
    page.get_by_role("button", name=t["change"]).click()
    _heading(page, screens["mfa_setup"])
    secret = page.locator("#totp-secret").inner_text().strip()
    link = page.locator("#totp-link").get_attribute("href") or ""
    assert link.startswith("otpauth://totp/") and f"secret={secret}" in link and "issuer=Ilopiste" in link
    desktop.check(page, f"console-mfa-setup-{lang}", lang=lang, heading=TITLE[lang])
    page.get_by_label(t["code"]).fill(_code(secret))
    page.get_by_role("button", name=t["confirm"]).click()
    _heading(page, screens["find"])
    assert [c for c, _ in cognito_calls if c in ("VerifySoftwareToken", "SetUserMFAPreference")] == [
        "VerifySoftwareToken",
        "SetUserMFAPreference",
    ]
    _no_tokens_stored(page, "after the set-up")

    # Sign out: the session is revoked at Cognito and forgotten here.
    page.get_by_role("button", name=t["sign_out"]).click()
    page.get_by_role("status").filter(has_text=t["signed_out"]).wait_for()
    assert cognito_calls[-1][0] == "GlobalSignOut"

    # Signing in again asks for a TOTP code.
    _sign_in(page, t, user.username, user.password)
    _heading(page, screens["totp"])
    desktop.check(page, f"console-totp-{lang}", lang=lang, heading=TITLE[lang])
    page.get_by_label(t["code"]).fill(_code(secret))
    page.get_by_role("button", name=t["confirm"]).click()
    _heading(page, screens["find"])
    desktop.check(page, f"console-find-{lang}", lang=lang, heading=TITLE[lang])

    # Find the customer by email: the address goes in a POST body, never in a URL.
    page.get_by_label(t["email"]).fill(email)
    page.get_by_role("button", name=t["search_email"]).click()
    page.get_by_role("cell", name="Kaisa Konsoli").wait_for()
    assert not [u for u in urls if "selainasiakas" in u], "the email address was in a URL"
    desktop.check(page, f"console-results-{lang}", lang=lang, heading=TITLE[lang])
    page.get_by_role("row").filter(has_text="Kaisa Konsoli").get_by_role("button", name=t["open"]).click()
    _heading(page, "Selainasiakas Oy")
    desktop.check(page, f"console-customer-{lang}", lang=lang, heading=TITLE[lang])

    # Correct the phone number; the page shows it, and so does the API.
    page.get_by_label(t["phone"], exact=True).fill("+358 50 765 4321")
    page.get_by_role("button", name=t["save"]).click()
    page.get_by_role("status").filter(has_text=t["saved"]).wait_for()
    assert "+358507654321" in page.locator('#customer [data-field="phone"]').inner_text().replace(" ", "")
    desktop.check(page, f"console-customer-saved-{lang}", lang=lang, heading=TITLE[lang])
    status, record = local_stack.http("GET", f"/customers/{customer_id}", local_stack.login("staff"))
    assert status == 200 and record["phone"].replace(" ", "") == "+358507654321", record
    _no_tokens_stored(page, "signed in")

    # The ID token is refreshed a minute before its 15 minutes end (moto's last an hour: the
    # page refreshes before whichever expiry its token has).
    with page.expect_response(lambda r: "REFRESH_TOKEN_AUTH" in (r.request.post_data or "")) as refreshed:
        page.clock.fast_forward("01:00:00")
    assert refreshed.value.status == 200
    page.get_by_role("button", name=t["sign_out"]).wait_for()

    # A revoked refresh token (signed out elsewhere) sends the page back to the sign-in.
    local_stack.client("cognito-idp").admin_user_global_sign_out(
        UserPoolId=local_stack.info["user_pool_id"], Username=user.username
    )
    page.clock.fast_forward("01:00:00")
    page.get_by_role("status").filter(has_text=t["expired"]).wait_for()
    _heading(page, screens["sign_in"])
    _no_tokens_stored(page, "after the session ended")
    # The library retries a failed refresh (jittered, for a few seconds): each refusal a 400.
    assert desktop.console_errors and set(desktop.console_errors) == {REFUSED}, desktop.console_errors
    desktop.console_errors.clear()
    desktop.check(page, f"console-expired-{lang}", lang=lang, heading=TITLE[lang])


def test_the_console_page_and_its_config(local_stack: RunningStack) -> None:
    """The page's CSP names exactly the Cognito endpoint and upload origin its config gives, and nothing else."""
    import requests

    base = local_stack.info["api_url"]
    config = requests.get(f"{base}/console/config", timeout=10).json()
    assert config == {
        "region": local_stack.info["region"],
        "user_pool_id": local_stack.info["user_pool_id"],
        "client_id": local_stack.info["user_pool_client_id"],
        "cognito_endpoint": local_stack.info["aws_endpoint_url"],
        # A partner's upload goes straight to the bucket: locally the emulator's address too.
        "upload_origin": local_stack.info["aws_endpoint_url"],
    }
    page: Any = requests.get(f"{base}/console", headers={"Accept": "text/html"}, timeout=10)
    csp = dict(d.strip().split(" ", 1) for d in page.headers["Content-Security-Policy"].split(";"))
    assert csp["connect-src"] == f"'self' {config['cognito_endpoint']} {config['upload_origin']}"
    assert csp["script-src"] == "'self'" and csp["default-src"] == "'none'"
