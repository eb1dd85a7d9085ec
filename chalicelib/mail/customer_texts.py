"""Texts of the messages a customer gets about its own account besides confirmations:
the request to answer the service-message consent (a consent link)."""

from __future__ import annotations

from chalicelib.mail.compose import Template

CONSENT_REQUEST = Template(
    subject={"fi": "Haluatko palveluviestejä meiltä?", "en": "Would you like service messages from us?"},
    body={
        "fi": "Hei,\n\nsinut on lisätty asiakkaaksemme. Lähetämme palveluun liittyviä viestejä (esimerkiksi "
        "huoltokatkoista ja sopimusehtojen muutoksista) vain, jos annat siihen luvan. Lupa kuuluu näin:\n\n"
        "{wording}\n\nVastaa kyllä tai ei tällä koodilla (POST /consent) tai kirjautumalla omiin "
        "tietoihisi:\n\n{token}\n\nKoodi on voimassa {days} päivää. Ellet vastaa, viestejä ei lähetetä.",
        "en": "Hello,\n\nyou have been added as our customer. We send service-related messages (such as "
        "notices of maintenance breaks and changes to the terms) only if you consent. The consent reads:"
        "\n\n{wording}\n\nAnswer yes or no with this code (POST /consent) or by signing in to your own "
        "data:\n\n{token}\n\nThe code is valid for {days} days. Unless you answer, no messages are sent.",
    },
)
