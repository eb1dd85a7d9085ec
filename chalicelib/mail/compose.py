"""Messages as MIME: the controller as sender, a plain-text part, Finnish unless English is asked.

Texts hold no more personal data than the message needs: the confirmation code goes only
to the address being proven, and the notice to an existing owner names nothing of the
attempt but that it happened.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from chalicelib import clock
from chalicelib.config import settings
from chalicelib.registers import CONTROLLER


@dataclass(frozen=True)
class Template:
    """One message in both languages: subject and body (`str.format` fields)."""

    subject: dict[str, str]
    body: dict[str, str]


_SIGNATURE = {
    "fi": f"\n\nYstävällisin terveisin\n{CONTROLLER.trade_name} / {CONTROLLER.name}\n{CONTROLLER.contact_email}\n",
    "en": f"\n\nKind regards\n{CONTROLLER.trade_name} / {CONTROLLER.name}\n{CONTROLLER.contact_email}\n",
}

CONFIRM_REGISTRATION = Template(
    subject={"fi": "Vahvista rekisteröitymisesi", "en": "Confirm your registration"},
    body={
        "fi": "Hei,\n\nvahvista asiakasrekisteröitymisesi tällä vahvistuskoodilla:\n\n{token}\n\n"
        "Koodi on voimassa {hours} tuntia. Tunnuksesi avautuu ja lupavastauksesi tallentuu vasta, "
        "kun osoite on vahvistettu. Jos et rekisteröitynyt, voit jättää viestin huomiotta: "
        "vahvistamaton rekisteröityminen poistetaan.",
        "en": "Hello,\n\nconfirm your customer registration with this confirmation code:\n\n{token}\n\n"
        "The code is valid for {hours} hours. Your login opens and your consent answer is recorded "
        "only once the address is confirmed. If you did not register, ignore this message: "
        "an unconfirmed registration is deleted.",
    },
)

ALREADY_REGISTERED = Template(
    subject={"fi": "Yritys rekisteröityä osoitteellasi", "en": "An attempt to register with your address"},
    body={
        "fi": "Hei,\n\njoku yritti juuri rekisteröityä asiakkaaksemme tällä sähköpostiosoitteella, "
        "joka on jo rekisterissämme. Jos se olit sinä, kirjaudu sisään tai vaihda salasanasi. "
        "Muuten voit jättää viestin huomiotta: mitään ei muutettu.",
        "en": "Hello,\n\nsomeone just tried to register as our customer with this email address, "
        "which is already in our register. If it was you, sign in or reset your password. "
        "Otherwise ignore this message: nothing was changed.",
    },
)

USERNAME_TAKEN = Template(
    subject={"fi": "Rekisteröityminen ei onnistunut", "en": "Your registration did not go through"},
    body={
        "fi": "Hei,\n\nvalitsemasi käyttäjätunnus ei ole käytettävissä, joten rekisteröitymistä ei tehty. "
        "Rekisteröidy uudelleen toisella käyttäjätunnuksella.",
        "en": "Hello,\n\nthe username you chose is not available, so no registration was made. "
        "Please register again with another username.",
    },
)

CONFIRM_EMAIL_CHANGE = Template(
    subject={"fi": "Vahvista uusi sähköpostiosoitteesi", "en": "Confirm your new email address"},
    body={
        "fi": "Hei,\n\nvahvista uusi sähköpostiosoitteesi asiakastiedoissasi tällä vahvistuskoodilla:\n\n"
        "{token}\n\nKoodi on voimassa {hours} tuntia. Osoite vaihtuu vasta, kun se on vahvistettu. "
        "Jos et pyytänyt muutosta, voit jättää viestin huomiotta.",
        "en": "Hello,\n\nconfirm the new email address of your customer account with this "
        "confirmation code:\n\n{token}\n\nThe code is valid for {hours} hours. The address changes "
        "only once it is confirmed. If you did not ask for this, ignore this message.",
    },
)


def lang_or_default(lang: str | None) -> str:
    """Finnish by default; English only when asked for."""
    return "en" if lang == "en" else "fi"


def message(to: str, template: Template, lang: str | None = None, **fields: str) -> EmailMessage:
    """The message from the controller to `to`, in `lang` (fi unless en), as plain text."""
    lang = lang_or_default(lang)
    msg = EmailMessage()
    sender = settings().mail_from
    msg["From"] = Address(f"{CONTROLLER.trade_name}", addr_spec=sender)
    msg["To"] = to
    msg["Subject"] = template.subject[lang]
    msg["Date"] = format_datetime(clock.now())
    msg["Message-ID"] = make_msgid(domain=sender.rsplit("@", 1)[-1])
    msg.set_content(template.body[lang].format(**fields) + _SIGNATURE[lang])
    msg["Content-Language"] = lang  # after set_content, which replaces every Content-* header
    return msg
