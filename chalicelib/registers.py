"""The two registers of the privacy notice, declared once.

Every other module reads these definitions: request validation (which fields exist and
who may write them), response shaping (who may see what), the audit trail (which
fields were touched), the retention sweeper (periods and actions) and the rendered
privacy notice. A promise of the notice lives here and nowhere else.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from chalicelib.roles import Role as Role  # re-exported: most modules take it from here


class Kind(StrEnum):
    """Value kinds; each has one validation rule in `validation`."""

    TEXT = "text"
    EMAIL = "email"
    PHONE = "phone"
    BUSINESS_ID = "business_id"
    USERNAME = "username"
    ADDRESS = "address"
    SERVICES = "services"
    ORDER_ITEMS = "order_items"
    CONSENT = "consent"
    URL = "url"
    # Kept by the system from what happened (consent history, a bounce flag); no client writes it.
    RECORD = "record"


STAFF_ROLES = frozenset({Role.STAFF, Role.DPO})


@dataclass(frozen=True)
class Text:
    """A text in both languages of the notice."""

    fi: str
    en: str

    def get(self, lang: str) -> str:
        return self.en if lang == "en" else self.fi


@dataclass(frozen=True)
class Field:
    """One field of a record type: its rule, who sees it and whether it is personal."""

    name: str
    kind: Kind
    label: Text
    visible_to: frozenset[Role]
    max_length: int = 200
    required: bool = False
    personal: bool = True
    # Fields a person writes about themself (self-service) besides staff.
    self_editable: bool = False


@dataclass(frozen=True)
class Period:
    """A retention period in whole months, days or at once (0)."""

    months: int = 0
    days: int = 0
    # A period no date bounds, said in words (e.g. "as long as the person's record"); only
    # for rules an event enforces (`swept=False`), never for date arithmetic.
    label: Text | None = None

    @property
    def text(self) -> Text:
        if self.label is not None:
            return self.label
        if self.months and self.months % 12 == 0:
            years = self.months // 12
            return Text(f"{years} vuotta", f"{years} years" if years > 1 else "1 year")
        if self.months:
            return Text(f"{self.months} kuukautta", f"{self.months} months")
        if self.days == 1:
            return Text("1 päivä", "1 day")
        if self.days:
            return Text(f"{self.days} päivää", f"{self.days} days")
        return Text("heti", "immediately")


@dataclass(frozen=True)
class RetentionRule:
    """One row of the retention schedule (DESIGN §2): data, trigger, period, action."""

    name: str
    record_type: str
    event: Text
    after: Period
    # "erase_contact" | "delete" | "delete_marketing" | "delete_registration" | "close_campaign"
    # | "notify_dormant" | "keep"
    action: str
    then: Text
    basis: Text
    # False for a rule an event enforces at once in another module (never due by date):
    # the retention sweeper does not query it; the notice still states it.
    swept: bool = True


@dataclass(frozen=True)
class RecordType:
    """A kind of record within a register, with its fields."""

    name: str
    label: Text
    fields: tuple[Field, ...]
    # False for data kept about the register's people (a do-not-call entry, a disclosure log
    # entry) rather than data of a category of people (the Art. 30 record names the people
    # themselves from `Register.data_subjects`).
    subjects: bool = True

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    def visible_fields(self, role: Role) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields if role in f.visible_to)


@dataclass(frozen=True)
class Source:
    """Where a register's data comes from (GDPR 13/14: the source named), and which data."""

    name: Text
    data: Text


class RecipientKind(StrEnum):
    """Kinds of recipient the notice names (GDPR 13(1)(e), 30(1)(d))."""

    STAFF = "staff"
    PARTNER = "partner"
    PROCESSOR = "processor"


@dataclass(frozen=True)
class Recipient:
    """A recipient of a register's data, by kind; processors with where they process it."""

    kind: RecipientKind
    name: Text
    receives: Text
    # A processor running in the deployment's AWS region (named by the notice from settings).
    in_region: bool = False


@dataclass(frozen=True)
class Register:
    """A register of personal data as the privacy notice declares it."""

    key: str
    name: Text
    purpose: Text
    legal_basis: Text
    sources: Text
    recipients: Text
    security: Text
    record_types: tuple[RecordType, ...]
    retention: tuple[RetentionRule, ...]
    # What the legitimate interest of a 6(1)(f) basis is (GDPR 13(1)(d), 14(2)(b)); None otherwise.
    legitimate_interest: Text | None = None
    # Each source and each recipient by name or kind, and the people whose data the register
    # holds (the Art. 30 categories of data subjects: people, not record types).
    source_list: tuple[Source, ...] = ()
    recipient_list: tuple[Recipient, ...] = ()
    data_subjects: tuple[Text, ...] = ()
    transfers: Text = field(
        default=Text(
            "Tietoja ei siirretä EU:n tai Euroopan talousalueen ulkopuolelle.",
            "No data is transferred outside the EU/EEA.",
        )
    )

    def record_type(self, name: str) -> RecordType:
        for rt in self.record_types:
            if rt.name == name:
                return rt
        raise KeyError(name)

    def rule(self, name: str) -> RetentionRule:
        for r in self.retention:
            if r.name == name:
                return r
        raise KeyError(name)


_STAFF = STAFF_ROLES
_STAFF_SELF = frozenset({Role.STAFF, Role.DPO, Role.CUSTOMER})
_ALL_SALES = frozenset({Role.STAFF, Role.DPO, Role.PARTNER})
_RESELLER_VIEW = frozenset({Role.STAFF, Role.DPO, Role.RESELLER})


def _f(name: str, kind: Kind, fi: str, en: str, visible: frozenset[Role], **kw: object) -> Field:
    return Field(name=name, kind=kind, label=Text(fi, en), visible_to=visible, **kw)  # type: ignore[arg-type]


CUSTOMER = RecordType(
    name="customer",
    label=Text("Asiakas", "Customer"),
    fields=(
        _f(
            "organization",
            Kind.TEXT,
            "Asiakasorganisaatio",
            "Customer organisation",
            _STAFF_SELF,
            required=True,
            personal=False,
            self_editable=True,
        ),
        _f(
            "business_id",
            Kind.BUSINESS_ID,
            "Y-tunnus",
            "Business ID",
            _STAFF_SELF,
            personal=False,
            self_editable=True,
            max_length=9,
        ),
        _f(
            "contact_name",
            Kind.TEXT,
            "Yhteyshenkilön nimi",
            "Contact person's name",
            _STAFF_SELF,
            required=True,
            self_editable=True,
        ),
        _f("address", Kind.ADDRESS, "Osoite", "Address", _STAFF_SELF, self_editable=True),
        _f("phone", Kind.PHONE, "Puhelinnumero", "Phone", _STAFF_SELF, self_editable=True, max_length=32),
        _f(
            "email",
            Kind.EMAIL,
            "Sähköpostiosoite",
            "Email address",
            _STAFF_SELF,
            required=True,
            self_editable=True,
            max_length=254,
        ),
        _f("billing_address", Kind.ADDRESS, "Laskutusosoite", "Billing address", _STAFF_SELF, self_editable=True),
        _f("username", Kind.USERNAME, "Käyttäjätunnus", "Username", _STAFF_SELF, required=True, max_length=64),
        _f(
            "active_services",
            Kind.SERVICES,
            "Voimassaolevat palvelut hintoineen",
            "Active services with their prices",
            _STAFF_SELF,
            personal=False,
        ),
        _f(
            "consent_service_messages",
            Kind.CONSENT,
            "Lupa palveluun liittyviin viesteihin",
            "Consent to service-related messages",
            _STAFF_SELF,
        ),
        _f(
            "consent_history",
            Kind.RECORD,
            "Lupahistoria: annettu tai peruttu, milloin, mitä kautta, nähty sanamuoto ja sen versio",
            "Consent history: given or withdrawn, when, through which channel, the wording seen and its version",
            _STAFF_SELF,
        ),
        _f(
            "mail_undeliverable",
            Kind.RECORD,
            "Merkintä, ettei sähköposti mene perille (pysyvä palautus)",
            "Flag that email to the address cannot be delivered (a permanent bounce)",
            _STAFF_SELF,
        ),
        # The day the person last used their own data (`dormancy.touch`, at most once a day):
        # what the `customer_dormant` rule counts from.
        _f(
            "last_seen_at",
            Kind.RECORD,
            "Viimeisin käyttöpäivä (kirjautuminen omiin tietoihin)",
            "The last day the person used the service (signed in to their own data)",
            _STAFF_SELF,
        ),
    ),
)

# The consent the registration form and self-service ask for, word for word. Part of the
# notice (`notice._content`), so its version is the notice's version: a change of wording
# is a new version, and each consent record keeps the words and version the person saw.
SERVICE_MESSAGE_CONSENT = Text(
    "Annan luvan lähettää sähköpostiini palveluun liittyviä viestejä, kuten ilmoituksia huoltokatkoista "
    "ja sopimusehtojen muutoksista. Voin perua luvan milloin tahansa omista tiedoistani; "
    "markkinointikiellosta se ei riipu.",
    "I consent to receiving service-related messages by email, such as notices of maintenance breaks "
    "and of changes to the terms. I can withdraw this consent at any time in my own data; it does not "
    "depend on objecting to marketing.",
)

ORDER = RecordType(
    name="order",
    label=Text("Tilaus", "Order"),
    fields=(
        _f("items", Kind.ORDER_ITEMS, "Tilausrivit", "Order lines", _STAFF_SELF, required=True, personal=False),
        _f("reference", Kind.TEXT, "Viite", "Reference", _STAFF_SELF, personal=False, max_length=100),
    ),
)

RESELLER_END_USER = RecordType(
    name="reseller_end_user",
    label=Text("Jälleenmyyjän asiakas", "Reseller's end user"),
    # The notice: for a reseller's customer we store only name and email.
    fields=(
        _f("name", Kind.TEXT, "Käyttäjän nimi", "User's name", _RESELLER_VIEW, required=True),
        _f("email", Kind.EMAIL, "Sähköpostiosoite", "Email address", _RESELLER_VIEW, required=True, max_length=254),
    ),
)

PROSPECT = RecordType(
    name="prospect",
    label=Text("Prospekti", "Prospect"),
    fields=(
        _f(
            "organization",
            Kind.TEXT,
            "Organisaation nimi",
            "Organisation name",
            _ALL_SALES,
            required=True,
            personal=False,
        ),
        _f("contact_name", Kind.TEXT, "Yhteyshenkilön nimi", "Contact person's name", _ALL_SALES, required=True),
        _f("title", Kind.TEXT, "Titteli", "Title", _ALL_SALES, max_length=120),
        _f("email", Kind.EMAIL, "Sähköpostiosoite", "Email address", _ALL_SALES, required=True, max_length=254),
        _f("phone", Kind.PHONE, "Puhelinnumero", "Phone", _ALL_SALES, max_length=32),
        _f("source_url", Kind.URL, "Julkinen lähde", "Public source", _STAFF, personal=False, max_length=500),
    ),
)

# A campaign's audience (chalicelib/campaigns.py): which prospects a campaign selected and,
# once contacted, how the contact went. Members hold the prospect's id, never a copy of its
# values; they live in the campaigns table and go with the campaign's retention.
CAMPAIGN_MEMBER = RecordType(
    name="campaign_member",
    label=Text("Kampanjan kohderyhmä ja yhteydenotot", "Campaign audience and contacts"),
    fields=(
        _f("campaign", Kind.TEXT, "Kampanja, johon henkilö valittiin", "Campaign the person was selected for", _STAFF),
        _f("added_at", Kind.TEXT, "Valinnan ajankohta", "When the person was selected", _STAFF),
        _f("outcome", Kind.TEXT, "Yhteydenoton tulos", "Outcome of the contact", _STAFF, max_length=40),
        _f("outcome_at", Kind.TEXT, "Yhteydenoton ajankohta", "When the contact was made", _STAFF),
        _f(
            "send_state",
            Kind.TEXT,
            "Sähköpostikampanjan viestin tila ja ajankohta (lähetetty, jätetty lähettämättä ja miksi, hylätty)",
            "The email campaign's message: state and time (sent, left out and why, refused)",
            _STAFF,
        ),
    ),
    subjects=False,
)
# What a call leaves on the prospect's own PROFILE (chalicelib/call_lists.py): the time of the
# latest conversation. It lives exactly as long as the prospect (rule `prospect_last_contact`),
# unlike the call's outcome, which is the campaign member's and goes with the campaign's audience.
PROSPECT_CONTACT = RecordType(
    name="prospect_contact",
    label=Text("Yhteydenpito", "Contact history"),
    fields=(
        _f(
            "last_contacted_at",
            Kind.TEXT,
            "Viimeisin yhteydenotto: puhelu, jossa henkilö tavoitettiin, tai lähetetty markkinointisähköposti",
            "Latest contact: a call in which the person was reached, or a marketing email sent",
            _STAFF,
        ),
    ),
    subjects=False,
)
# When the register got a prospect's data and when the person was told of it (GDPR Art. 14,
# chalicelib/art14.py): kept on the PROFILE, exactly as long as the prospect (rule
# `prospect_informing`).
PROSPECT_INFORMING = RecordType(
    name="prospect_informing",
    label=Text(
        "Tietojen saanti ja informointi (GDPR 14 art.)", "Obtaining the data and informing the person (GDPR Art. 14)"
    ),
    fields=(
        _f(
            "obtained_at",
            Kind.RECORD,
            "Milloin tiedot saatiin (kumppanin tiedosto tai henkilökunnan kirjaus)",
            "When the data was obtained (a partner's file or a staff entry)",
            _STAFF,
        ),
        _f(
            "informed_at",
            Kind.RECORD,
            "Milloin ja miten henkilölle kerrottiin käsittelystä (ensimmäinen markkinointiviesti, "
            "erillinen ilmoitus tai puhelu)",
            "When and how the person was told of the processing (the first marketing message, a "
            "separate notice or a call)",
            _STAFF,
        ),
    ),
    subjects=False,
)
# An unclosed campaign closes itself this long after its materialisation started; its audience
# and outcomes go this long after it closed (staff or the sweeper). At most 18 months in all.
CAMPAIGN_OPEN = Period(months=6)
CAMPAIGN_KEPT = Period(months=12)
_CAMPAIGN_FOLLOW_UP = Text(
    "Kampanjan tulosten seuranta ja yhteydenottojen osoittaminen",
    "Following up the campaign's results and showing which contacts were made",
)

# What the register keeps about a person's marketing contacts besides the prospect itself.
DO_NOT_CALL = RecordType(
    name="do_not_call",
    label=Text("Soittokielto", "Do-not-call entry"),
    fields=(
        _f(
            "phone_hash",
            Kind.TEXT,
            "Avainnettu tiiviste puhelinnumerosta (ei numeroa)",
            "Keyed hash of the phone number (not the number)",
            _STAFF,
        ),
        _f("reason", Kind.TEXT, "Syy (soittokielto tai vastustus)", "Reason (do not call or objection)", _STAFF),
    ),
    subjects=False,
)

# An erasure on the person's request leaves this behind so the next partner file cannot bring
# them straight back (chalicelib/suppression.py, `erased:` keys); it holds no address.
DO_NOT_RE_ADD = RecordType(
    name="do_not_re_add",
    label=Text("Uudelleenlisäyksen esto (poisto pyynnöstä)", "Do-not-re-add entry (erased on request)"),
    fields=(
        _f(
            "email_hash",
            Kind.TEXT,
            "Avainnettu tiiviste sähköpostiosoitteesta (ei osoitetta)",
            "Keyed hash of the email address (not the address)",
            _STAFF,
        ),
        _f("reason", Kind.TEXT, "Syy (poistettu pyynnöstä)", "Reason (erased on request)", _STAFF),
        _f("created_at", Kind.TEXT, "Poistopäivä", "Date of the erasure", _STAFF),
    ),
    subjects=False,
)

DISCLOSURE = RecordType(
    name="disclosure",
    label=Text("Luovutusloki", "Disclosure log entry"),
    fields=(
        _f("recipient", Kind.TEXT, "Vastaanottaja", "Recipient", _STAFF),
        _f("purpose", Kind.TEXT, "Luovutuksen tarkoitus", "Purpose of the handover", _STAFF),
        _f("campaign_id", Kind.TEXT, "Kampanja", "Campaign", _STAFF),
        _f("disclosed_at", Kind.TEXT, "Luovutuspäivä ja -aika", "Date and time of the handover", _STAFF),
    ),
    subjects=False,
)

RECIPIENT_NOTICE = RecordType(
    name="recipient_notice",
    label=Text("Ilmoitus vastaanottajalle (GDPR 19 art.)", "Notice to a recipient (GDPR Art. 19)"),
    fields=(
        _f("prospect_id", Kind.TEXT, "Prospektin tunniste", "Prospect id", _STAFF),
        _f(
            "change",
            Kind.TEXT,
            "Muutos (oikaistu ja kenttien nimet, poistettu, vastustettu)",
            "Change (rectified with the field names, erased, objected)",
            _STAFF,
        ),
        _f("notified_at", Kind.TEXT, "Ilmoitusaika", "Time of the notice", _STAFF),
    ),
    subjects=False,
)

# Art. 19 notices stay readable to their partner this long (DynamoDB TTL; disclosures.py).
NOTIFICATION_RETENTION = Period(months=12)

_ACCOUNTING_ACT = Text(
    "Kirjanpitolaki 1336/1997, 2 luku 10 §", "Finnish Accounting Act 1336/1997, chapter 2 section 10"
)
_NOTICE = Text("Rekisteriseloste", "Privacy notice")
# The processors of both registers: everything runs on AWS in the deployment's EU region.
_AWS_PROCESSORS = (
    Recipient(
        RecipientKind.PROCESSOR,
        Text("Amazon Web Services EMEA SARL (AWS)", "Amazon Web Services EMEA SARL (AWS)"),
        Text(
            "Palvelun ylläpito: tietokannat, tiedostot, varmuuskopiot, kirjautuminen ja ajot, salattuina",
            "Hosting: databases, files, backups, sign-in and processing, encrypted",
        ),
        in_region=True,
    ),
    Recipient(
        RecipientKind.PROCESSOR,
        Text("Amazon Simple Email Service (Amazon SES, AWS)", "Amazon Simple Email Service (Amazon SES, AWS)"),
        Text(
            "Sähköpostien lähetys: vastaanottajan osoite ja viesti; palautus- ja valitusilmoitukset",
            "Sending email: the recipient's address and the message; bounce and complaint reports",
        ),
        in_region=True,
    ),
)
_STORAGE_LIMITATION = Text(
    "Säilytyksen rajoittaminen (GDPR 5(1)(e)): käyttämätöntä tiliä ei säilytetä pysyvästi",
    "Storage limitation (GDPR 5(1)(e)): an unused account is not kept for ever",
)
# A customer with no contract with services, no order and no sign-in for this long is sent a
# notice; unless the person keeps the account, its contact person is erased this long after.
DORMANT_PERIOD = Period(months=24)
DORMANT_NOTICE_PERIOD = Period(days=30)

CUSTOMER_REGISTER = Register(
    key="customers",
    name=Text("Ilopiste.fi asiakasrekisteri", "Ilopiste.fi customer register"),
    purpose=Text(
        "Asiakasrekisteriä käytetään ainoastaan asiakassuhteen ylläpitoon. Tilauksen tekeminen "
        "edellyttää rekisteröitymistä asiakasrekisteriin.",
        "The customer register is used only to maintain the customer relationship. Placing an "
        "order requires registering in the customer register.",
    ),
    legal_basis=Text(
        "Sopimus (GDPR 6(1)(b)); palveluviestit henkilön suostumus (GDPR 6(1)(a)), jonka antaminen ja "
        "peruminen kirjataan (GDPR 7(1)); kirjanpitoaineisto lakisääteinen velvoite (GDPR 6(1)(c)).",
        "Contract (GDPR 6(1)(b)); service messages the person's consent (GDPR 6(1)(a)), whose giving and "
        "withdrawal are recorded (GDPR 7(1)); bookkeeping records a legal obligation (GDPR 6(1)(c)).",
    ),
    sources=Text(
        "Tiedot saadaan henkilöltä itseltään rekisteröityessä, henkilökunnaltamme, joka luo asiakkaan "
        "henkilön pyynnöstä, ja jälleenmyyjiltä, jotka ilmoittavat omien käyttäjiensä nimen ja "
        "sähköpostiosoitteen (lähteet alla). Rekisteröityessä kysytään lupa "
        "palveluun liittyvien viestien lähettämiseen. Sähköpostiosoite vahvistetaan siihen lähetetyllä "
        "koodilla: tunnus avautuu ja lupa on voimassa vasta vahvistuksen jälkeen, ja uusi osoite "
        "vaihtuu vasta, kun se on vahvistettu. Henkilökuntamme luomalla asiakkaalla ei ole lupaa ennen "
        "kuin henkilö itse vastaa (ensimmäisellä kirjautumisella tai lupalinkistä). Jokainen annettu "
        "tai peruttu lupa kirjataan: aika, kanava sekä nähty sanamuoto ja sen versio (GDPR 7(1)). "
        "Palveluviestit (huoltokatkot, sopimusehtojen muutokset) lähetetään vain niille, joiden lupa "
        "on annettu ja voimassa. Pysyvästi palautuva osoite merkitään henkilökunnalle.",
        "The data comes from the person at registration, from our staff who create a customer at the "
        "person's request, and from resellers, who give the name and email address of their own end users "
        "(the sources below). At registration the contact person is asked "
        "for consent to service-related messages. The email address is confirmed by a code sent to "
        "it: the login opens and the consent counts only once it is confirmed, and a new address "
        "replaces the old one only once it is confirmed. A customer created by our staff has no "
        "consent until the person answers themself (at first login or by a consent link). Each "
        "consent given or withdrawn is recorded with its time, the channel and the exact wording "
        "and version shown (GDPR 7(1)). Service messages (maintenance notices, changes of terms) "
        "are sent only to those whose consent is given and current. An address that permanently "
        "bounces is flagged for our staff.",
    ),
    recipients=Text(
        "Vain nimetyt henkilöt; jälleenmyyjä näkee omien käyttäjiensä nimen ja sähköpostin. Sähköpostit "
        "lähettää käsittelijänämme Amazon Web Services (Amazon SES) EU:n alueelta; sen palautus- ja "
        "valitusilmoitukset käsitellään automaattisesti.",
        "Named persons only; a reseller sees the name and email of its own end users. Email is sent by "
        "Amazon Web Services (Amazon SES) as our processor, in the EU; its bounce and complaint reports are "
        "handled automatically.",
    ),
    source_list=(
        Source(
            Text(
                "Henkilö itse rekisteröityessään ja omissa tiedoissaan",
                "The person, at registration and in their own data",
            ),
            Text(
                "Yhteyshenkilön tiedot, käyttäjätunnus, lupavastaus ja tilaukset",
                "The contact person's data, username, consent answer and orders",
            ),
        ),
        Source(
            Text("Henkilökuntamme henkilön pyynnöstä", "Our staff, at the person's request"),
            Text(
                "Asiakkaan ja yhteyshenkilön tiedot sekä sopimuksen palvelut ja hinnat",
                "The customer's and contact person's data, and the contract's services and prices",
            ),
        ),
        Source(
            Text("Jälleenmyyjä omista käyttäjistään", "A reseller, about its own end users"),
            Text("Käyttäjän nimi ja sähköpostiosoite", "The end user's name and email address"),
        ),
    ),
    recipient_list=(
        Recipient(
            RecipientKind.STAFF,
            Text("Nimetty henkilökuntamme", "Our named staff"),
            Text("Asiakassuhteen hoitamiseen tarvittavat tiedot", "What the customer relationship needs"),
        ),
        Recipient(
            RecipientKind.PARTNER,
            Text("Jälleenmyyjät", "Resellers"),
            Text(
                "Vain omien käyttäjiensä nimi ja sähköpostiosoite",
                "Only the name and email address of their own end users",
            ),
        ),
        *_AWS_PROCESSORS,
    ),
    data_subjects=(
        Text("Asiakkaat (rekisteröityneet asiakkaat)", "Customers (registered customers)"),
        Text("Asiakasorganisaatioiden yhteyshenkilöt", "Contact persons of customer organisations"),
        Text("Jälleenmyyjien käyttäjät", "Resellers' end users"),
    ),
    security=Text(
        "Asiakasrekisteriin on pääsy vain nimetyillä henkilöillä käyttäjätunnusta ja salasanaa käyttäen.",
        "Only named persons can access the customer register, with a username and password.",
    ),
    record_types=(CUSTOMER, ORDER, RESELLER_END_USER),
    retention=(
        RetentionRule(
            name="customer_grace",
            record_type="customer",
            event=Text("Sopimus päättyy", "Contract ended"),
            after=Period(months=12),
            action="erase_contact",
            then=Text(
                "Yhteyshenkilön tiedot poistetaan; vain kirjanpidon vaatimat tiedot säilyvät.",
                "The contact person's data is erased; only what bookkeeping needs is kept.",
            ),
            basis=Text("Palvelun uudelleenkäyttöönotto", "Easy re-activation of the service"),
        ),
        RetentionRule(
            # A customer nobody uses (chalicelib/dormancy.py): the date moves with every sign-in,
            # order and change of contract; a contract with services never lets it act.
            name="customer_dormant",
            record_type="customer",
            event=Text(
                "Ei voimassa olevaa sopimusta palveluineen, ei tilauksia eikä kirjautumista",
                "No contract with services in effect, no order and no sign-in",
            ),
            after=DORMANT_PERIOD,
            action="notify_dormant",
            then=Text(
                "Henkilölle lähetetään sähköpostilla ilmoitus ja linkki, jolla hän voi säilyttää tilinsä; "
                "kirjautuminen säilyttää sen myös.",
                "The person is sent an email notice with a link to keep the account; signing in keeps it too.",
            ),
            basis=_STORAGE_LIMITATION,
        ),
        RetentionRule(
            name="customer_dormant_notice",
            record_type="customer",
            event=Text(
                "Ilmoitus käyttämättömästä tilistä lähetetty, eikä henkilö säilyttänyt tiliä",
                "Notice of the unused account sent, and the person did not keep the account",
            ),
            after=DORMANT_NOTICE_PERIOD,
            action="erase_contact",
            then=Text(
                "Yhteyshenkilön tiedot ja käyttäjätunnus poistetaan; vain kirjanpidon vaatimat tiedot säilyvät.",
                "The contact person's data and login are erased; only what bookkeeping needs is kept.",
            ),
            basis=_STORAGE_LIMITATION,
        ),
        RetentionRule(
            # Self-registration is confirmed by a code mailed to the address (valid 24 hours);
            # an unconfirmed one goes, login and all, the day after its code expires.
            name="customer_unconfirmed",
            record_type="customer",
            event=Text(
                "Rekisteröityminen, jonka vahvistuskoodi (voimassa 24 tuntia) on vanhentunut vahvistamatta",
                "Registration whose confirmation code (valid 24 hours) expired unconfirmed",
            ),
            after=Period(days=1),
            action="delete_registration",
            then=Text(
                "Vahvistamaton rekisteröityminen ja sen käyttäjätunnus poistetaan. Vahvistuskoodin viesti on "
                "ilmoitus tästä: vahvistamattomaan osoitteeseen ei lähetetä muuta.",
                "The unconfirmed registration and its login are deleted. The message with the confirmation code "
                "is the notice of this: nothing else is sent to an address not proven.",
            ),
            basis=Text(
                "Osoite on todennettava ennen kuin tili tai lupa on voimassa",
                "An address must be proven before the account or its consent counts",
            ),
        ),
        RetentionRule(
            name="order_bookkeeping",
            record_type="order",
            event=Text("Tilikauden päättymisvuoden loppu", "End of the year in which the order's fiscal year ended"),
            after=Period(months=72),
            action="delete",
            then=Text("Tilaus poistetaan.", "The order is deleted."),
            basis=_ACCOUNTING_ACT,
        ),
        RetentionRule(
            # What the contact person's erasure keeps (organisation, business ID, billing
            # address: the buyer on the invoices) goes when the bookkeeping period ends.
            name="customer_bookkeeping",
            record_type="customer",
            event=Text(
                "Sopimuksen päättymistilikauden päättymisvuoden loppu",
                "End of the year in which the fiscal year of the contract's end ended",
            ),
            after=Period(months=72),
            action="delete",
            then=Text(
                "Kirjanpitoa varten säilytetyt tiedot (organisaatio, Y-tunnus, laskutusosoite) poistetaan.",
                "The data kept for bookkeeping (organisation, business ID, billing address) is deleted.",
            ),
            basis=_ACCOUNTING_ACT,
        ),
        RetentionRule(
            name="end_user_removed",
            record_type="reseller_end_user",
            event=Text("Jälleenmyyjä poistaa käyttäjän", "Removed by the reseller"),
            after=Period(),
            action="delete",
            then=Text("Käyttäjän tiedot poistetaan.", "The user's data is deleted."),
            basis=_NOTICE,
            swept=False,
        ),
        RetentionRule(
            name="end_user_reseller_ended",
            record_type="reseller_end_user",
            event=Text("Jälleenmyyjäsopimus päättyy", "Reseller contract ended"),
            after=Period(months=12),
            action="delete",
            then=Text("Käyttäjän tiedot poistetaan.", "The user's data is deleted."),
            basis=_NOTICE,
        ),
        RetentionRule(
            name="customer_objection",
            record_type="customer",
            event=Text("Vastustaa suoramarkkinointia", "Objected to direct marketing"),
            after=Period(),
            action="delete_marketing",
            then=Text(
                "Markkinointia ei lähetetä; avainnettu tiiviste estää uudelleenlisäyksen. Lupa "
                "palveluviesteihin on eri tarkoitus ja perutaan erikseen.",
                "No marketing is sent; a keyed hash prevents re-adding. Consent to service messages is "
                "a separate purpose, withdrawn on its own.",
            ),
            basis=Text("GDPR 21 artikla", "GDPR Article 21"),
            swept=False,
        ),
    ),
)

PROSPECT_REGISTER = Register(
    key="prospects",
    name=Text("Ilopiste.fi prospektit", "Ilopiste.fi prospect register"),
    purpose=Text(
        "Prospektirekisteriä ylläpidetään suoramarkkinointikontaktien (sähköpostit ja soitot) "
        "toteuttamiseen myynti- ja suoramarkkinointitarkoituksiin.",
        "The prospect register is kept for sales and direct marketing contacts (emails and calls).",
    ),
    legal_basis=Text("Oikeutettu etu (GDPR 6(1)(f)).", "Legitimate interest (GDPR 6(1)(f))."),
    legitimate_interest=Text(
        "Palvelujemme tarjoaminen organisaatioille, joiden edustajan tehtäviin palvelut liittyvät "
        "(yritysten välinen suoramarkkinointi).",
        "Offering our services to organisations whose representative's work they concern "
        "(business-to-business direct marketing).",
    ),
    sources=Text(
        "Julkiset lähteet, esimerkiksi organisaatioiden nettisivut. Vain organisaatioiden edustajia, "
        "ei koskaan yksityishenkilöitä. Ulkopuoliselle päivityspalvelun tuottajalle toimitetaan tämä seloste. "
        "Henkilölle kerrotaan tietojen käsittelystä ja lähteestä (GDPR 14 art.) ensimmäisessä "
        "markkinointiviestissä tai ensimmäisessä puhelussa, viimeistään kuukauden kuluessa tietojen "
        "saamisesta: ellei häneen ole siihen mennessä otettu yhteyttä, hänelle lähetetään erillinen "
        "ilmoitus sähköpostilla.",
        "Public sources such as organisations' web sites. Only representatives of organisations, "
        "never private individuals. An external provider of updates is given this notice. "
        "The person is told of the processing and the source of the data (GDPR Art. 14) in the first "
        "marketing message or the first call, at the latest within one month of obtaining the data: "
        "unless contacted by then, they are sent a separate notice by email.",
    ),
    recipients=Text(
        "Nimetyt henkilöt ja yhteistyökumppanit myyntiä, markkinointia tai rekisterin päivitystä varten. "
        "Markkinointisähköpostit lähetetään Amazon SES -palvelun kautta (AWS, EU/ETA-alueella) "
        "henkilötietojen käsittelijänä; jokainen lähetys kirjataan henkilön luovutuslokiin.",
        "Named persons and partners, for sales and marketing or for updating the register. "
        "Marketing emails are sent through Amazon SES (AWS, in the EU/EEA) as a processor; each "
        "message sent is recorded in the person's disclosure log.",
    ),
    source_list=(
        Source(
            Text(
                "Yhteistyökumppanin (tietojen toimittaja tai jälleenmyyjä) tiedosto julkisista lähteistä, kuten "
                "organisaatioiden nettisivuilta; henkilölle kerrotaan, kuka kumppani",
                "A partner's file (a data provider or a reseller) gathered from public sources such as "
                "organisations' web sites; the person is told which partner",
            ),
            Text(
                "Organisaatio, yhteyshenkilön nimi, titteli, sähköpostiosoite ja puhelinnumero",
                "The organisation, the contact person's name, title, email address and phone",
            ),
        ),
        Source(
            Text("Henkilökuntamme julkisista lähteistä", "Our staff, from public sources"),
            Text(
                "Organisaatio, yhteyshenkilön nimi, titteli, sähköpostiosoite ja puhelinnumero",
                "The organisation, the contact person's name, title, email address and phone",
            ),
        ),
    ),
    recipient_list=(
        Recipient(
            RecipientKind.STAFF,
            Text("Nimetty henkilökuntamme", "Our named staff"),
            Text("Myyntiin ja markkinointiin tarvittavat tiedot", "What sales and marketing need"),
        ),
        Recipient(
            RecipientKind.PARTNER,
            Text("Markkinointikumppanit", "Marketing partners"),
            Text(
                "Niiden kampanjoiden kohderyhmän yhteystiedot, joihin kumppani on osoitettu, "
                "käsittelijänämme käsittelysopimuksella (GDPR 28 art.); jokainen luovutus kirjataan henkilön "
                "luovutuslokiin",
                "The contacts of the audiences of the campaigns the partner is assigned to, as our processor "
                "under a processing agreement (GDPR Art. 28); each handover is recorded in the person's "
                "disclosure log",
            ),
        ),
        Recipient(
            RecipientKind.PARTNER,
            Text(
                "Tietoja toimittaneet kumppanit (tietojen toimittajat ja jälleenmyyjät)",
                "Partners who supplied the data (data providers and resellers)",
            ),
            Text(
                "Toimittamiensa prospektien ajantasaiset tiedot; jokainen luku kirjataan henkilön luovutuslokiin",
                "The current data of the prospects they supplied; each read is recorded in the person's disclosure log",
            ),
        ),
        *_AWS_PROCESSORS,
    ),
    data_subjects=(
        Text(
            "Prospektit: organisaatioiden yhteyshenkilöt (ei yksityishenkilöitä)",
            "Prospects: contact persons at organisations (never private individuals)",
        ),
    ),
    security=Text(
        "Prospektirekisteri on nimettyjen henkilöiden tai yhteistyökumppaneiden käytettävissä.",
        "The prospect register is available to named persons or partners.",
    ),
    record_types=(
        PROSPECT,
        CAMPAIGN_MEMBER,
        DO_NOT_CALL,
        DO_NOT_RE_ADD,
        DISCLOSURE,
        RECIPIENT_NOTICE,
        PROSPECT_CONTACT,
        PROSPECT_INFORMING,
    ),
    retention=(
        RetentionRule(
            name="prospect_refresh",
            record_type="prospect",
            event=Text("Puuttuu lähteensä täydestä päivityksestä", "Missing from its source's full refresh"),
            after=Period(),
            action="delete",
            then=Text("Vanhentunut yhteystieto poistetaan.", "The outdated contact is removed."),
            basis=_NOTICE,
            swept=False,
        ),
        RetentionRule(
            # SES reports a permanent bounce (chalicelib/mail/feedback.py): the contact is outdated.
            name="prospect_bounced",
            record_type="prospect",
            event=Text(
                "Sähköposti osoitteeseen palautuu pysyvästi (osoitetta ei ole)",
                "Email to the address bounces permanently (the address does not exist)",
            ),
            after=Period(),
            action="delete",
            then=Text(
                "Vanhentunut yhteystieto poistetaan kuten täydessä päivityksessä; tietojen vastaanottajille "
                "ilmoitetaan (GDPR 19 art.). Roskapostivalitus käsitellään markkinoinnin vastustamisena.",
                "The outdated contact is removed as at a full refresh; the recipients of the data are told "
                "(GDPR Art. 19). A spam complaint is handled as an objection to direct marketing.",
            ),
            basis=_NOTICE,
            swept=False,
        ),
        RetentionRule(
            name="prospect_unverified",
            record_type="prospect",
            event=Text("Ei vahvistettu", "Not verified by any source or staff"),
            after=Period(months=24),
            action="delete",
            then=Text("Prospekti poistetaan.", "The prospect is deleted."),
            basis=_NOTICE,
        ),
        RetentionRule(
            name="prospect_objection",
            record_type="prospect",
            event=Text("Vastustaa suoramarkkinointia", "Objected to direct marketing"),
            after=Period(),
            action="delete_marketing",
            then=Text(
                "Poistetaan; avainnettu tiiviste estää uudelleenlisäyksen.",
                "Deleted; a keyed hash keeps re-imports from adding the person again.",
            ),
            basis=Text("GDPR 21 artikla", "GDPR Article 21"),
            swept=False,
        ),
        RetentionRule(
            name="prospect_last_contact",
            record_type="prospect_contact",
            event=Text("Prospekti poistetaan (yllä olevat säännöt)", "The prospect is deleted (the rules above)"),
            after=Period(),
            action="delete",
            then=Text(
                "Viimeisimmän yhteydenoton ajankohta poistetaan prospektin mukana.",
                "The time of the latest contact is deleted with the prospect.",
            ),
            basis=_CAMPAIGN_FOLLOW_UP,
            swept=False,
        ),
        RetentionRule(
            name="prospect_informing",
            record_type="prospect_informing",
            event=Text("Prospekti poistetaan (yllä olevat säännöt)", "The prospect is deleted (the rules above)"),
            after=Period(),
            action="delete",
            then=Text(
                "Tietojen saanti- ja informointiajat poistetaan prospektin mukana.",
                "The times the data was obtained and the person informed are deleted with the prospect.",
            ),
            basis=Text(
                "Osoitus informointivelvollisuuden täyttämisestä (GDPR 5 art. 2 kohta, 14 art.)",
                "Showing that the duty to inform was met (GDPR Articles 5(2) and 14)",
            ),
            swept=False,
        ),
        RetentionRule(
            name="campaign_unclosed",
            record_type="campaign_member",
            event=Text(
                "Kampanjaa ei ole suljettu kohderyhmän muodostamisen jälkeen",
                "Campaign not closed by staff after its audience was formed",
            ),
            after=CAMPAIGN_OPEN,
            action="close_campaign",
            then=Text(
                "Kampanja suljetaan: kumppanin pääsy päättyy ja alla oleva säilytysaika alkaa.",
                "The campaign is closed: the partner's access ends and the period below starts.",
            ),
            basis=_CAMPAIGN_FOLLOW_UP,
        ),
        RetentionRule(
            name="campaign_closed",
            record_type="campaign_member",
            event=Text("Kampanja suljettu", "Campaign closed"),
            after=CAMPAIGN_KEPT,
            action="delete",
            then=Text(
                "Kohderyhmä ja yhteydenottojen tulokset poistetaan; kampanjasta jäävät vain lukumäärät.",
                "The audience and the contacts' outcomes are deleted; only the campaign's counts remain.",
            ),
            basis=_CAMPAIGN_FOLLOW_UP,
        ),
        RetentionRule(
            name="do_not_call",
            record_type="do_not_call",
            event=Text(
                "Henkilö kieltää soitot tai vastustaa suoramarkkinointia",
                "The person asks not to be called or objects to direct marketing",
            ),
            after=Period(label=Text("Niin kauan kuin rekisteriä pidetään", "As long as the register is kept")),
            action="keep",
            then=Text(
                "Numeroon ei soiteta eikä sitä tuoda rekisteriin; vain avainnettu tiiviste säilyy.",
                "The number is not called nor imported; only a keyed hash is kept.",
            ),
            basis=Text("GDPR 21 artikla; soittokiellon noudattaminen", "GDPR Article 21; honouring the request"),
            swept=False,
        ),
        RetentionRule(
            name="erased_on_request",
            record_type="do_not_re_add",
            event=Text(
                "Henkilö pyysi tietojensa poistamista (GDPR 17 art.)",
                "The person asked for their data to be erased (GDPR Art. 17)",
            ),
            after=Period(label=Text("Niin kauan kuin rekisteriä pidetään", "As long as the register is kept")),
            action="keep",
            then=Text(
                "Yhteistyökumppanin seuraava tiedosto ei tuo henkilöä takaisin eikä henkilökunta voi lisätä "
                "häntä uudelleen; vain avainnettu tiiviste ja poistopäivä säilyvät. Tietoja saaneille "
                "kumppaneille ilmoitetaan poistosta (GDPR 19 art.).",
                "A partner's next file does not bring the person back and staff cannot add them again; only a "
                "keyed hash and the date of the erasure are kept. The partners that received the data are "
                "told of the erasure (GDPR Art. 19).",
            ),
            basis=Text(
                "GDPR 17 ja 19 artikla: poiston pysyvyys",
                "GDPR Articles 17 and 19: keeping the erasure effective",
            ),
            swept=False,
        ),
        RetentionRule(
            name="disclosure_log",
            record_type="disclosure",
            event=Text(
                "Tietojen luovutus yhteistyökumppanille tai markkinointisähköpostin tai GDPR 14 artiklan "
                "mukaisen ilmoituksen lähetys (käsittelijä Amazon SES)",
                "Data handed to a partner, or a marketing email or a GDPR Art. 14 notice sent (through the "
                "processor Amazon SES)",
            ),
            after=Period(label=Text("Niin kauan kuin henkilön tiedot", "As long as the person's record")),
            action="delete",
            then=Text(
                "Poistetaan henkilön tietojen mukana.",
                "Deleted with the person's record.",
            ),
            basis=Text(
                "GDPR 15 art. 1 c kohta ja 19 artikla (vastaanottajat)",
                "GDPR Articles 15(1)(c) and 19 (recipients)",
            ),
            swept=False,
        ),
        RetentionRule(
            name="recipient_notice",
            record_type="recipient_notice",
            event=Text(
                "Tietoja oikaistaan tai ne poistetaan tai henkilö vastustaa",
                "The data is rectified or erased, or the person objects",
            ),
            after=NOTIFICATION_RETENTION,
            action="delete",
            then=Text(
                "Ilmoitus poistuu (DynamoDB TTL); lokitapahtuma ilmoituksesta säilyy lokin ajan.",
                "The notice expires (DynamoDB TTL); the audit event of the notice stays the audit period.",
            ),
            basis=Text("GDPR 19 artikla", "GDPR Article 19"),
            swept=False,
        ),
    ),
)

REGISTERS: tuple[Register, ...] = (CUSTOMER_REGISTER, PROSPECT_REGISTER)


@dataclass(frozen=True)
class Controller:
    """The controller named in the privacy notice and the records of processing."""

    name: str
    trade_name: str
    contact_email: str


CONTROLLER = Controller(name="Wauranoja Oy", trade_name="Kuntotimpurit", contact_email="ilopiste@kuntotimpurit.fi")

# Audit events are themselves personal data about staff; kept 3 years (DESIGN §2).
AUDIT_RETENTION = Period(months=36)
# A partner's raw upload is deleted once imported; the lifecycle rule is a backstop.
RAW_UPLOAD_BACKSTOP = Period(days=7)
# The tables' point-in-time recovery window (RecoveryPeriodInDays in infra/resources.json): data
# erased from a register stays in these encrypted backups this long, then is gone from them too.
BACKUP_RETENTION = Period(days=35)
# Data subject request cases (chalicelib/cases.py): a closed case is the controller's proof of how
# it answered (GDPR 5(2)), kept for the general limitation period of Finnish law (728/2003 4 §);
# a request whose sender never verified it is deleted a month after it came.
CASE_CLOSED_RETENTION = Period(months=36)
CASE_UNVERIFIED_RETENTION = Period(days=30)
# A case waiting for the person's answer (a missing detail, proof of identity: Art. 12(6)) is
# closed when none comes within this period, so an address nobody answers from is not kept
# for ever: as long as the longest extension Art. 12(3) gives the controller (two months).
CASE_WAITING_RETENTION = Period(days=60)


def register(key: str) -> Register:
    """Look a register up by its key (`customers` or `prospects`)."""
    for r in REGISTERS:
        if r.key == key:
            return r
    raise KeyError(key)
