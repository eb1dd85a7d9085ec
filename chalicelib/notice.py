"""The privacy notice and the records of processing, generated from the register definitions.

Nothing here restates a purpose, a field or a period: every promise is read from
`registers`, the same definitions that validation, the audit and the retention sweeper
enforce, so the published notice cannot drift from what the system does.
"""

from __future__ import annotations

import hashlib
import html
import json
from functools import cache
from typing import Any

from chalicelib.config import EU_EEA_REGIONS, settings
from chalicelib.registers import (
    AUDIT_RETENTION,
    BACKUP_RETENTION,
    CASE_CLOSED_RETENTION,
    CASE_UNVERIFIED_RETENTION,
    CASE_WAITING_RETENTION,
    CONTROLLER,
    DORMANT_NOTICE_PERIOD,
    DORMANT_PERIOD,
    REGISTERS,
    SERVICE_MESSAGE_CONSENT,
    Recipient,
    RecipientKind,
    Register,
    Text,
)

# Where AWS processes the data, named for people (the deployment's region, from settings).
REGION_NAMES = {
    "eu-north-1": Text("Tukholma, Ruotsi", "Stockholm, Sweden"),
    "eu-west-1": Text("Irlanti", "Ireland"),
    "eu-west-3": Text("Pariisi, Ranska", "Paris, France"),
    "eu-central-1": Text("Frankfurt, Saksa", "Frankfurt, Germany"),
    "eu-south-1": Text("Milano, Italia", "Milan, Italy"),
    "eu-south-2": Text("Espanja", "Spain"),
}
if set(REGION_NAMES) != set(EU_EEA_REGIONS):
    raise AssertionError("every allowed region needs its name in the notice")
_KIND_LABELS = {
    RecipientKind.STAFF: Text("Henkilökunta", "Staff"),
    RecipientKind.PARTNER: Text("Yhteistyökumppanit", "Partners"),
    RecipientKind.PROCESSOR: Text("Henkilötietojen käsittelijät", "Processors"),
}

LANGS = ("fi", "en")

_TITLE = Text("Tietosuojaseloste", "Privacy notice")
_RIGHTS = Text(
    "Sinulla on oikeus saada pääsy tietoihisi ja siirtää ne, oikaista ne, pyytää niiden poistamista "
    "(lakisääteisesti säilytettäviä kirjanpitotietoja lukuun ottamatta), rajoittaa niiden käsittelyä "
    "ja vastustaa suoramarkkinointia. "
    "Jokaisessa markkinointiviestissä on peruutuslinkki, joka ei vanhene, ja sähköpostiohjelman "
    "peruutus toimii yhdellä napsautuksella. Pyynnöt: {email}. Voit tehdä valituksen "
    "tietosuojavaltuutetun toimistolle.",
    "You have the right to access and port your data, to have it rectified, to ask for its erasure "
    "(except bookkeeping records the law requires us to keep), to restrict its processing and to object "
    "to direct marketing. "
    "Every marketing message has an unsubscribe link that does not expire, and your mail program's "
    "unsubscribe works in one click. Requests: {email}. You may lodge a complaint "
    "with the Office of the Data Protection Ombudsman.",
)
_AUDIT = Text(
    "Henkilötietojen käsittelystä kirjataan lokitapahtuma (kuka, milloin, mitkä kentät, ei arvoja).",
    "Every access to personal data is logged (who, when, which fields; never the values).",
)
_BACKUPS = Text(
    "Rekistereistä otetaan jatkuvaa varmuuskopiota vikojen varalta. Poistettu tieto säilyy salatuissa "
    "varmuuskopioissa enintään {period} poistamisesta, minkä jälkeen se poistuu niistäkin. "
    "Varmuuskopioita käytetään vain rekisterin palauttamiseen vikatilanteessa.",
    "The registers are backed up continuously against failures. Erased data remains in the encrypted "
    "backups for at most {period} after its erasure, then it is gone from them too. The backups are used "
    "only to restore a register after a failure.",
)
_LABELS = {
    "controller": Text("Rekisterinpitäjä", "Controller"),
    "purpose": Text("Käyttötarkoitus", "Purpose"),
    "legal_basis": Text("Käsittelyn peruste", "Legal basis"),
    "legitimate_interest": Text("Oikeutettu etu", "The legitimate interest"),
    "content": Text("Tietosisältö", "Content"),
    "sources": Text("Tietolähteet", "Sources"),
    "recipients": Text("Vastaanottajat", "Recipients"),
    "region": Text("AWS-alue", "AWS region"),
    "retention": Text("Säilytysajat", "Retention"),
    "security": Text("Suojauksen periaatteet", "Security principles"),
    "transfers": Text("Siirrot EU:n/ETA:n ulkopuolelle", "Transfers outside the EU/EEA"),
    "audit": Text("Lokitiedot", "Audit log"),
    "backups": Text("Varmuuskopiot", "Backups"),
    "rights": Text("Oikeutesi", "Your rights"),
    "consents": Text("Pyydettävät luvat", "Consents we ask for"),
    "version": Text("Versio", "Version"),
    "published": Text("julkaistu", "published"),
}


def _register(reg: Register, lang: str) -> dict[str, Any]:
    types = {rt.name: rt for rt in reg.record_types}
    return {
        "key": reg.key,
        "name": reg.name.get(lang),
        "purpose": reg.purpose.get(lang),
        "legal_basis": reg.legal_basis.get(lang),
        "legitimate_interest": reg.legitimate_interest.get(lang) if reg.legitimate_interest else None,
        "content": [
            {"record_type": rt.label.get(lang), "fields": [f.label.get(lang) for f in rt.fields]}
            for rt in reg.record_types
        ],
        "sources": reg.sources.get(lang),
        "source_list": [{"source": src.name.get(lang), "data": src.data.get(lang)} for src in reg.source_list],
        "recipients": reg.recipients.get(lang),
        "recipient_list": [_recipient(r, lang) for r in reg.recipient_list],
        "retention": [
            {
                "rule": r.name,
                "data": types[r.record_type].label.get(lang),
                "event": r.event.get(lang),
                "after": r.after.text.get(lang),
                "then": r.then.get(lang),
                "basis": r.basis.get(lang),
            }
            for r in reg.retention
        ],
        "security": reg.security.get(lang),
        "transfers": reg.transfers.get(lang),
    }


def region_text(lang: str) -> str:
    """The deployment's AWS region with its place, e.g. `eu-north-1 (Stockholm, Sweden)`."""
    region = settings().region
    place = REGION_NAMES.get(region)
    return f"{region} ({place.get(lang)})" if place else region


def _recipient(r: Recipient, lang: str) -> dict[str, Any]:
    """One recipient as the notice names it: kind, who, what they get, and where (processors)."""
    return {
        "kind": r.kind.value,
        "kind_label": _KIND_LABELS[r.kind].get(lang),
        "name": r.name.get(lang),
        "receives": r.receives.get(lang),
        "region": region_text(lang) if r.in_region else None,
    }


def notice(lang: str = "fi") -> dict[str, Any]:
    """The privacy notice in `lang` (fi or en) as a document, with its `version`."""
    if lang not in LANGS:
        lang = "fi"
    return {**_content(lang), "version": version()}


@cache
def version() -> str:
    """The notice's version: a digest of what it says, in every language.

    A data provider is given this notice (the prospect register's sources promise it) and
    staff record which version it got (chalicelib/partners.py). Derived from the content,
    the version changes exactly when the notice does: nobody has to remember to bump it.
    """
    content = json.dumps([_content(lang) for lang in LANGS], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(content.encode()).hexdigest()[:16]


# When each version of the notice was published: {version: "YYYY-MM-DD"}. The version is a
# digest of the content, so a change to any register definition the notice shows makes a new
# version, and tests/test_notice.py fails until it has its dated line here. Publishing a
# changed notice means adding that line (old lines stay: they date what people were shown).
PUBLISHED: dict[str, str] = {
    "8d0e5716b23bc193": "2026-12-03",
}

SERVICE_MESSAGES = "service_messages"


def consent_wording(lang: str) -> dict[str, str]:
    """The service-message consent as a form must show it: `text` in `lang` and its `version`.

    The wording is part of the notice, so it is versioned with it: a consent record keeps
    the text and this version, and a form that showed an older version is refused.
    """
    lang = lang if lang in LANGS else "fi"
    return {"purpose": SERVICE_MESSAGES, "lang": lang, "text": SERVICE_MESSAGE_CONSENT.get(lang), "version": version()}


def is_known(notice_version: str) -> bool:
    """True if `notice_version` is the version of the notice this app publishes."""
    return notice_version == version()


def _content(lang: str) -> dict[str, Any]:
    return {
        "lang": lang,
        "title": _TITLE.get(lang),
        "controller": {
            "name": CONTROLLER.name,
            "trade_name": CONTROLLER.trade_name,
            "contact_email": CONTROLLER.contact_email,
        },
        "registers": [_register(r, lang) for r in REGISTERS],
        "audit": {"text": _AUDIT.get(lang), "retention": AUDIT_RETENTION.text.get(lang)},
        "backups": {
            "text": _BACKUPS.get(lang).format(period=BACKUP_RETENTION.text.get(lang)),
            "retention": BACKUP_RETENTION.text.get(lang),
        },
        "rights": _RIGHTS.get(lang).format(email=CONTROLLER.contact_email),
        # Word for word what a registration form or self-service shows; its version is the
        # notice's (`consent_wording`).
        "consents": [{"purpose": SERVICE_MESSAGES, "text": SERVICE_MESSAGE_CONSENT.get(lang)}],
        "labels": {k: v.get(lang) for k, v in _LABELS.items()},
    }


def render_html(doc: dict[str, Any]) -> str:
    """The notice's content as HTML, for the public pages' layout (chalicelib/api/pages.py,
    which adds the document, the title as its heading, and the header and footer); every
    value is escaped."""
    e = html.escape
    label = doc["labels"]
    c = doc["controller"]
    out = [
        f"<h2>{e(label['controller'])}</h2>",
        f"<p>{e(c['name'])} / {e(c['trade_name'])}, "
        f'<a href="mailto:{e(c["contact_email"])}">{e(c["contact_email"])}</a></p>',
    ]
    for reg in doc["registers"]:
        out.append(f'<section id="{e(reg["key"])}"><h2>{e(reg["name"])}</h2>')
        for key in ("purpose", "legal_basis", "legitimate_interest"):
            if reg[key]:
                out.append(f"<h3>{e(label[key])}</h3><p>{e(reg[key])}</p>")
        out.append(f"<h3>{e(label['content'])}</h3>")
        for part in reg["content"]:
            fields = ", ".join(e(f) for f in part["fields"])
            out.append(f"<p><strong>{e(part['record_type'])}</strong>: {fields}</p>")
        out.append(f"<h3>{e(label['sources'])}</h3><p>{e(reg['sources'])}</p><ul>")
        out.extend(f"<li><strong>{e(src['source'])}</strong>: {e(src['data'])}</li>" for src in reg["source_list"])
        out.append(f"</ul><h3>{e(label['recipients'])}</h3><p>{e(reg['recipients'])}</p><ul>")
        for r in reg["recipient_list"]:
            where = f" ({e(label['region'])}: {e(r['region'])})" if r["region"] else ""
            out.append(f"<li>{e(r['kind_label'])}: <strong>{e(r['name'])}</strong>: {e(r['receives'])}{where}</li>")
        out.append("</ul>")
        out.append(f"<h3>{e(label['retention'])}</h3><ul>")
        for r in reg["retention"]:
            out.append(
                f"<li><strong>{e(r['data'])}</strong>: {e(r['event'])}, {e(r['after'])}: {e(r['then'])} "
                f"({e(r['basis'])})</li>"
            )
        out.append("</ul>")
        for key in ("security", "transfers"):
            out.append(f"<h3>{e(label[key])}</h3><p>{e(reg[key])}</p>")
        out.append("</section>")
    out.append(f"<h2>{e(label['audit'])}</h2><p>{e(doc['audit']['text'])} ({e(doc['audit']['retention'])})</p>")
    out.append(f"<h2>{e(label['backups'])}</h2><p>{e(doc['backups']['text'])}</p>")
    out.append(f"<h2>{e(label['rights'])}</h2><p>{e(doc['rights'])}</p>")
    out.append(f"<h2>{e(label['consents'])}</h2>")
    out.extend(f'<p id="consent-{e(c["purpose"])}">{e(c["text"])}</p>' for c in doc["consents"])
    published = PUBLISHED.get(str(doc["version"]))
    when = f' ({e(label["published"])} <time datetime="{e(published)}">{e(published)}</time>)' if published else ""
    out.append(f"<p>{e(label['version'])}: <code>{e(doc['version'])}</code>{when}</p>")
    return "\n".join(out)


def records_of_processing() -> dict[str, Any]:
    """The GDPR Art. 30(1) record for the DPO, in English, from the same definitions."""
    region = settings().region
    activities = []
    for reg in REGISTERS:
        activities.append(
            {
                "register": reg.key,
                "name": reg.name.en,
                "purposes": reg.purpose.en,
                "legal_basis": reg.legal_basis.en,
                "legitimate_interest": reg.legitimate_interest.en if reg.legitimate_interest else None,
                "categories_of_data_subjects": [t.en for t in reg.data_subjects],
                "categories_of_personal_data": {
                    rt.label.en: [f.label.en for f in rt.fields if f.personal] for rt in reg.record_types
                },
                "other_data": {
                    rt.label.en: [f.label.en for f in rt.fields if not f.personal] for rt in reg.record_types
                },
                "sources": reg.sources.en,
                "sources_by_kind": [{"source": src.name.en, "data": src.data.en} for src in reg.source_list],
                "recipients": reg.recipients.en,
                "categories_of_recipients": [
                    _recipient(r, "en") for r in reg.recipient_list if r.kind is not RecipientKind.PROCESSOR
                ],
                "processors": [_recipient(r, "en") for r in reg.recipient_list if r.kind is RecipientKind.PROCESSOR],
                "transfers_to_third_countries": reg.transfers.en,
                "retention": [
                    {
                        "rule": r.name,
                        "data": reg.record_type(r.record_type).label.en,
                        "event": r.event.en,
                        "after": r.after.text.en,
                        "action": r.action,
                        "then": r.then.en,
                        "basis": r.basis.en,
                    }
                    for r in reg.retention
                ],
                "security_measures": [
                    reg.security.en,
                    f"Data stored only in AWS region {region} (EU/EEA allow-list: {', '.join(EU_EEA_REGIONS)}).",
                    "Encryption at rest with the controller's own KMS keys (tables, upload bucket, queues, "
                    "secrets, logs), each usable only by the functions that need it; TLS in transit.",
                    f"Point-in-time backups of the tables, kept {BACKUP_RETENTION.text.en}: "
                    "erased data leaves the backups within that time.",
                    "Named accounts in a Cognito user pool; MFA in production; role-based route policy.",
                    "Audit trail of every access by field name; objections and erasures on request (the do-not-re-add "
                    "entry) kept only as keyed (HMAC) hashes.",
                    "Retention enforced by a nightly sweep from these definitions; legal holds by the DPO.",
                    "Email sent only through Amazon SES in the same region, as queued jobs: service messages "
                    "only to customers whose consent is given and current, each at most once; SES bounce and "
                    "complaint events reach a function of their own through an encrypted SNS topic and queue, "
                    "and no address is ever written to a log.",
                    "Marketing email: sent by a queue-driven function with its own least-privilege role through "
                    "Amazon SES in the same region; at most one message per campaign and person; suppression and "
                    "restriction checked right before each message; one-click unsubscribe (RFC 8058) in every "
                    "message.",
                ],
            }
        )
    return {
        "controller": {
            "name": CONTROLLER.name,
            "trade_name": CONTROLLER.trade_name,
            "contact_email": CONTROLLER.contact_email,
        },
        "processing_activities": activities,
        "request_cases": {
            "purpose": "answering data subject requests (GDPR 15-18, 20, 21) within the time GDPR 12(3) gives, "
            "and showing how each was answered (GDPR 5(2))",
            "legal_basis": "GDPR 6(1)(c): the controller's legal obligation to answer the requests",
            "categories_of_data_subjects": "people who made a request about their data (customers' contact "
            "persons, prospects, resellers' end users, anyone who asked)",
            "categories_of_personal_data": "a keyed (HMAC) hash of the email address; while the case is "
            "active, the address the answer must reach and what the person asked (e.g. the corrected values); "
            "the request's type, channel, dates, verification, status, handler and outcome",
            "retention": f"closed cases {CASE_CLOSED_RETENTION.text.en} from closing (the general limitation "
            "period of Finnish law, 728/2003 4 §), the address and the request's details removed at closing; "
            f"a case waiting for the person's answer closed after {CASE_WAITING_RETENTION.text.en} with no "
            "answer (the person is told first, and that they may make a new request), then kept as a closed "
            f"case; a case never verified {CASE_UNVERIFIED_RETENTION.text.en} from receipt; applied by the "
            "nightly sweep",
        },
        "audit_log": {
            "categories": "staff and system principals' accesses (field names only)",
            "retention": AUDIT_RETENTION.text.en,
        },
        "consent_records": {
            "purpose": SERVICE_MESSAGES,
            "wording": SERVICE_MESSAGE_CONSENT.en,
            "wording_version": version(),
            "kept": "every answer, given or withdrawn, with its time, channel (registration, self-service, "
            "consent link), the exact wording shown and its version (GDPR 7(1)), on the customer's record "
            "and erased with the contact person's data",
            "separate_from": "objection to direct marketing (GDPR 21): neither withdraws the other",
        },
        "mail": {
            "service_messages": "staff send maintenance notices and changes of terms to the customers whose "
            "consent is given and current; sent as a queued job, at most once per customer; the per-recipient "
            "records go when the job ends, the audit trail keeps each send",
            "bounces": "a permanent bounce removes a prospect as an outdated contact (recipients told, Art. 19) "
            "and flags a customer's address for staff until it changes; transient bounces change nothing",
            "complaints": "a spam complaint is an objection to direct marketing",
            "art14_notices": "every prospect's PROFILE records when its data was obtained and when and how the "
            "person was informed (GDPR 14); the first marketing message to a person not yet informed carries "
            "the Art. 14 information (controller, purposes, legal basis and legitimate interest, categories, "
            "the source named: the partner from the registry or public sources, recipients, retention, "
            "rights, and the right to object stated apart with the person's opt-out link) and informs them; "
            "a reached first call informs them through the caller's script; a nightly job (03:00 "
            "Europe/Helsinki) sends a notice-only message to each prospect still uninformed 25 days after "
            "the data was obtained, at most once, never to a suppressed, restricted or erased person; those "
            "it cannot mail are listed for the DPO, who sees who is due and who is past the one-month limit",
            "dormant_accounts": "the nightly retention sweep mails a customer with no contract with services, "
            f"no order and no sign-in for {DORMANT_PERIOD.text.en} a notice with a link to keep the account, "
            "at most once per period of disuse, directly through Amazon SES; unless the person keeps the "
            f"account (the link or a sign-in), the contact person is erased {DORMANT_NOTICE_PERIOD.text.en} "
            "later, never before the notice is recorded as sent",
        },
    }
