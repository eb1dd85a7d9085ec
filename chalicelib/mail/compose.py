"""Messages as MIME: the controller as sender, Finnish unless English is asked.

Account messages (`message`) are plain text. Marketing messages (`marketing`) have a
plain-text and an HTML part with the same words, and carry the opt-out by construction:
`List-Unsubscribe: <https one-click URL>` with `List-Unsubscribe-Post:
List-Unsubscribe=One-Click` (RFC 8058; the mail program's "unsubscribe" objects at once)
and a visible opt-out link in both parts (Information Society Code 917/2014 § 200, GDPR
Art. 21(4): the right to object stated at the first communication and every later one),
and a link to the privacy center with the same signed token, so the person exercises every
other right for that address without an account and without typing it.

Texts hold no more personal data than the message needs: the confirmation code goes only
to the address being proven, and the notice to an existing owner names nothing of the
attempt but that it happened. A marketing message names the recipient only in `To`; its
unsubscribe token carries the address encrypted (chalicelib/unsubscribe.py).
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from chalicelib import clock
from chalicelib.config import settings
from chalicelib.registers import CONTROLLER
from chalicelib.validation import ascii_address


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
    msg["To"] = ascii_address(to) or to  # send() refuses what stays non-ASCII
    msg["Subject"] = template.subject[lang]
    msg["Date"] = format_datetime(clock.now())
    msg["Message-ID"] = make_msgid(domain=sender.rsplit("@", 1)[-1])
    msg.set_content(template.body[lang].format(**fields) + _SIGNATURE[lang])
    msg["Content-Language"] = lang  # after set_content, which replaces every Content-* header
    return msg


_OPT_OUT = {
    "fi": "Et halua enää markkinointiviestejämme? Voit kieltää suoramarkkinoinnin milloin tahansa "
    "maksutta tästä linkistä:",
    "en": "Don't want our marketing any more? You can object to direct marketing at any time, free "
    "of charge, with this link:",
}
_OPT_OUT_LINK = {"fi": "Peru markkinointi", "en": "Unsubscribe"}
_PRIVACY = {
    "fi": "Tietosi ja oikeutesi (näe, korjaa tai poista tietosi, rajoita käsittelyä) tietosuojakeskuksessamme:",
    "en": "Your data and your rights (see, correct or erase your data, restrict its processing) in our privacy center:",
}
_PRIVACY_LINK = {"fi": "Tietosuojakeskus", "en": "Privacy center"}
_SENT_BY = {
    "fi": "Tämän viestin lähetti {trade} ({name}), {contact}.",
    "en": "This message was sent by {trade} ({name}), {contact}.",
}


def _sent_by(lang: str) -> str:
    return _SENT_BY[lang].format(trade=CONTROLLER.trade_name, name=CONTROLLER.name, contact=CONTROLLER.contact_email)


def _paragraphs_html(text: str) -> str:
    """Plain text as HTML paragraphs, every character escaped (line breaks kept)."""
    blocks = [b for b in text.replace("\r\n", "\n").split("\n\n") if b.strip()]
    return "".join(f"<p>{html.escape(b.strip()).replace(chr(10), '<br>')}</p>" for b in blocks)


@dataclass(frozen=True)
class InfoBlock:
    """Information a message must carry besides its text (the GDPR Art. 14 block,
    chalicelib/art14.py): a heading, paragraphs, and the right to object stated on its own,
    followed in the message by the person's opt-out link in the block's language."""

    lang: str
    title: str
    paragraphs: tuple[str, ...]
    objection: str


def _info_plain(block: InfoBlock, page: str) -> str:
    body = "\n\n".join(block.paragraphs)
    return f"\n\n{block.title}\n{'=' * len(block.title)}\n\n{body}\n\n{block.objection}\n{page}"


def _info_html(block: InfoBlock, page: str) -> str:
    e = html.escape
    return (
        f'<section lang="{e(block.lang)}" class="art14"><h2>{e(block.title)}</h2>'
        + "".join(f"<p>{e(p)}</p>" for p in block.paragraphs)
        + f'<p><strong>{e(block.objection)}</strong> <a href="{e(page)}">{e(page)}</a></p></section>'
    )


def marketing(
    to: str, subject: str, text: str, token: str, lang: str | None = None, info: tuple[InfoBlock, ...] = ()
) -> EmailMessage:
    """A direct-marketing message to `to`: `text` (plain text, paragraphs split by blank
    lines) as a plain-text and an HTML part, the opt-out link in both, and the RFC 8058
    one-click headers for the unsubscribe `token` (chalicelib/unsubscribe.py).

    `info`: blocks that follow the text in both parts (the Art. 14 information of a first
    message, or of a notice-only message), each ending with the opt-out link in its language.

    `List-Unsubscribe` is stored as given (`set_raw`) and `send` serialises with
    `refold_source="none"`: the standard library would otherwise turn a line longer than 78
    characters into RFC 2047 encoded words, which mail programs do not read as a URL.
    """
    # Here, not at the top: account messages (confirmations, which the sweeper loads) need
    # no AES code (tests/test_cold_imports.py).
    from chalicelib import unsubscribe

    lang = lang_or_default(lang)
    page = unsubscribe.page_url(token, lang)
    privacy = unsubscribe.privacy_center_url(token, lang)
    msg = EmailMessage()
    sender = settings().mail_from
    msg["From"] = Address(f"{CONTROLLER.trade_name}", addr_spec=sender)
    msg["To"] = ascii_address(to) or to  # send() refuses what stays non-ASCII
    msg["Subject"] = subject
    msg["Date"] = format_datetime(clock.now())
    msg["Message-ID"] = make_msgid(domain=sender.rsplit("@", 1)[-1])
    msg.set_raw("List-Unsubscribe", f"<{unsubscribe.one_click_url(token)}>")
    msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    pages = [unsubscribe.page_url(token, lang_or_default(b.lang)) for b in info]
    extra_plain = "".join(_info_plain(b, p) for b, p in zip(info, pages, strict=True))
    extra_html = "".join(_info_html(b, p) for b, p in zip(info, pages, strict=True))
    plain = (
        f"{text.strip()}{extra_plain}\n\n-- \n{_OPT_OUT[lang]}\n{page}\n\n{_PRIVACY[lang]}\n{privacy}\n\n"
        f"{_sent_by(lang)}\n"
    )
    e = html.escape
    rich = (
        f'<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8"><title>{e(subject)}</title></head><body>'
        f"{_paragraphs_html(text)}{extra_html}<hr>"
        f'<p>{e(_OPT_OUT[lang])} <a href="{e(page)}">{e(_OPT_OUT_LINK[lang])}</a></p>'
        f'<p>{e(_PRIVACY[lang])} <a href="{e(privacy)}">{e(_PRIVACY_LINK[lang])}</a></p>'
        f"<p>{e(_sent_by(lang))}</p></body></html>"
    )
    msg.set_content(plain)
    msg.add_alternative(rich, subtype="html")
    msg["Content-Language"] = lang  # after the parts, which replace every Content-* header
    return msg
