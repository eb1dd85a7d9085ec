"""Texts of the messages a person gets about their own data subject request case
(chalicelib/cases.py): the notice that the answer's deadline is extended (GDPR Art. 12(3)), and
the notice that the request is refused, with the reasons and the remedies (Art. 12(4))."""

from __future__ import annotations

from chalicelib.mail.compose import Template

EXTENDED = Template(
    subject={
        "fi": "Tietosuojapyyntösi käsittelyaikaa on jatkettu",
        "en": "The time to answer your data protection request has been extended",
    },
    body={
        "fi": "Hei,\n\nsaimme {received} pyyntösi ({kind}), joka koskee tietojasi rekisterissämme. "
        "EU:n tietosuoja-asetuksen 12 artiklan 3 kohdan mukaan vastaamme kuukauden kuluessa; "
        "aikaa voidaan jatkaa enintään kahdella kuukaudella, kun se on tarpeen pyyntöjen "
        "monimutkaisuuden tai määrän vuoksi. Jatkamme käsittelyaikaa {months} kuukaudella.\n\n"
        "Syy: {reason}\n\nVastaamme viimeistään {due}. Pyyntösi numero on {case}.\n\n"
        "Jos olet tyytymätön pyyntösi käsittelyyn, voit tehdä valituksen tietosuojavaltuutetun "
        "toimistolle (tietosuoja.fi).",
        "en": "Hello,\n\nwe received your request ({kind}) about your data in our register on "
        "{received}. Under Article 12(3) of the EU General Data Protection Regulation we answer "
        "within one month; that period may be extended by up to two further months where "
        "necessary, taking into account the complexity and number of the requests. We are "
        "extending it by {months} month(s).\n\nReason: {reason}\n\nWe will answer by {due} at the "
        "latest. Your request's number is {case}.\n\nIf you are not satisfied with how your request "
        "is handled, you can lodge a complaint with the Office of the Data Protection Ombudsman "
        "(tietosuoja.fi).",
    },
)

REFUSED = Template(
    subject={
        "fi": "Tietosuojapyyntöäsi ei voida toteuttaa",
        "en": "We cannot carry out your data protection request",
    },
    body={
        "fi": "Hei,\n\nsaimme {received} pyyntösi ({kind}), joka koskee tietojasi rekisterissämme. "
        "Emme voi toteuttaa sitä.\n\nSyy: {reason}\n\nPyyntösi numero on {case}. Voit tehdä uuden "
        "pyynnön milloin tahansa.\n\nEU:n tietosuoja-asetuksen 12 artiklan 4 kohdan mukaisesti "
        "kerromme, että voit tehdä valituksen valvontaviranomaiselle, Suomessa tietosuojavaltuutetun "
        "toimistolle (tietosuoja.fi), ja hakea muutosta tuomioistuimelta.",
        "en": "Hello,\n\nwe received your request ({kind}) about your data in our register on "
        "{received}. We cannot carry it out.\n\nReason: {reason}\n\nYour request's number is "
        "{case}. You may make a new request at any time.\n\nAs Article 12(4) of the EU General Data "
        "Protection Regulation requires, we tell you that you can lodge a complaint with a "
        "supervisory authority, in Finland the Office of the Data Protection Ombudsman "
        "(tietosuoja.fi), and seek a judicial remedy.",
    },
)

# How the message names the request's type (GDPR's names for the rights).
KIND_NAMES = {
    "access": {"fi": "pääsy tietoihin", "en": "access to your data"},
    "rectification": {"fi": "tietojen oikaiseminen", "en": "rectification of your data"},
    "erasure": {"fi": "tietojen poistaminen", "en": "erasure of your data"},
    "restriction": {"fi": "käsittelyn rajoittaminen", "en": "restriction of processing"},
    "objection": {"fi": "käsittelyn vastustaminen", "en": "objection to processing"},
    "portability": {"fi": "tietojen siirtäminen", "en": "data portability"},
}
