"""Texts of the messages a customer gets about its own account besides confirmations:
the request to answer the service-message consent (a consent link), and the notice that
an unused account will be erased unless kept (chalicelib/dormancy.py)."""

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

DORMANT_NOTICE = Template(
    subject={"fi": "Haluatko säilyttää asiakastilisi?", "en": "Do you want to keep your customer account?"},
    body={
        "fi": "Hei,\n\nasiakastililläsi ei ole voimassa olevaa sopimusta palveluineen, eikä sillä ole tehty "
        "tilauksia eikä kirjauduttu {months} kuukauteen. Emme säilytä käyttämättömiä tilejä: ellet säilytä "
        "tiliäsi, poistamme {date} alkaen yhteyshenkilön tiedot ja käyttäjätunnuksen. Kirjanpidon vaatimat "
        "tiedot (organisaatio, Y-tunnus, laskutusosoite) säilytetään lain vaatiman ajan.\n\n"
        "Säilytä tili tästä linkistä:\n\n{link}\n\ntai kirjautumalla omiin tietoihisi ennen sitä. "
        "Jos et enää tarvitse tiliä, sinun ei tarvitse tehdä mitään.",
        "en": "Hello,\n\nyour customer account has no contract with services in effect, and it has had no "
        "orders and no sign-in for {months} months. We do not keep unused accounts: unless you keep yours, "
        "from {date} on we erase the contact person's data and the login. What bookkeeping needs "
        "(organisation, business ID, billing address) is kept for the period the law requires.\n\n"
        "Keep the account with this link:\n\n{link}\n\nor by signing in to your own data before then. "
        "If you no longer need the account, you need not do anything.",
    },
)
