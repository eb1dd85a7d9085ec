"""Texts of the messages a person gets about their own data subject request case
(chalicelib/cases.py): the notice that the answer's deadline is extended (GDPR Art. 12(3)), the
notice that the request is refused, with the reasons and the remedies (Art. 12(4)), and the
notice that a case waiting for the person's answer is closed because none came."""

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

# The nightly sweep closes a case that waited for the person's answer past its period
# (`cases.RULE_WAITING`). Not acting on the request, so the remedies are stated as in a
# refusal (Art. 12(4)); what staff asked for is not quoted: it was written as a note for staff.
LAPSED = Template(
    subject={
        "fi": "Tietosuojapyyntösi on suljettu, koska emme saaneet vastaustasi",
        "en": "Your data protection request has been closed: we did not receive your answer",
    },
    body={
        "fi": "Hei,\n\nsaimme {received} pyyntösi ({kind}), joka koskee tietojasi rekisterissämme. "
        "Sen käsittelemiseksi pyysimme sinulta {asked} lisätietoa tai henkilöllisyytesi vahvistamista, "
        "mutta emme saaneet vastaustasi {days} päivän kuluessa. Siksi olemme sulkeneet pyyntösi, eikä "
        "sitä käsitellä pidemmälle.\n\nPyyntösi numero on {case}. Voit tehdä uuden pyynnön milloin "
        "tahansa tietosuojakeskuksessamme:\n\n{center}\n\nEU:n tietosuoja-asetuksen 12 artiklan 4 "
        "kohdan mukaisesti kerromme, että voit tehdä valituksen valvontaviranomaiselle, Suomessa "
        "tietosuojavaltuutetun toimistolle (tietosuoja.fi), ja hakea muutosta tuomioistuimelta.",
        "en": "Hello,\n\nwe received your request ({kind}) about your data in our register on "
        "{received}. To handle it, we asked you on {asked} for further information or to confirm your "
        "identity, but we did not receive your answer within {days} days. We have therefore closed "
        "your request, and it will not be handled further.\n\nYour request's number is {case}. You "
        "can make a new request at any time in our privacy center:\n\n{center}\n\nAs Article 12(4) "
        "of the EU General Data Protection Regulation requires, we tell you that you can lodge a "
        "complaint with a supervisory authority, in Finland the Office of the Data Protection "
        "Ombudsman (tietosuoja.fi), and seek a judicial remedy.",
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
