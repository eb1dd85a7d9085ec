"""Settings from the environment, and the EU/EEA region guard.

Ground floor: imports nothing else of the app. Everything that varies between the
local stack, tests and AWS stages is read here once.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlsplit

# AWS regions physically inside the EU/EEA. London (eu-west-2) and Zurich
# (eu-central-2) are outside the EEA, so the notice's promise excludes them.
EU_EEA_REGIONS: tuple[str, ...] = (
    "eu-north-1",
    "eu-west-1",
    "eu-west-3",
    "eu-central-1",
    "eu-south-1",
    "eu-south-2",
)
DEFAULT_REGION = "eu-north-1"
# Countries of the EU/EEA (ISO 3166-1 alpha-2; Greece is GR, not the EU's own "EL"): the
# 27 member states and Iceland, Liechtenstein and Norway. The notice promises that no data
# leaves the EU/EEA, so a partner who receives or supplies data must be established here
# (chalicelib/partners.py refuses any other country).
EU_EEA_COUNTRIES: frozenset[str] = frozenset(
    {
        *("AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU"),
        *("IE", "IT", "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK"),
        *("IS", "LI", "NO"),
    }
)


class RegionNotAllowed(RuntimeError):
    """Raised at start-up when the configured region is outside the EU/EEA."""


def require_eu_region(region: str | None) -> str:
    """Return `region` if it is an EU/EEA region, else refuse with a clear message."""
    if region not in EU_EEA_REGIONS:
        raise RegionNotAllowed(
            f"Refusing to start in region {region!r}: personal data must stay in the "
            f"EU/EEA. Allowed regions: {', '.join(EU_EEA_REGIONS)}."
        )
    return region


@dataclass(frozen=True)
class Settings:
    """Deployment settings; table and resource names come from the infrastructure."""

    stage: str
    region: str
    customers_table: str
    prospects_table: str
    suppression_table: str
    audit_table: str
    import_runs_table: str
    partners_table: str
    campaigns_table: str
    # Data subject request cases (chalicelib/cases.py).
    request_cases_table: str
    upload_bucket: str
    import_queue_url: str
    campaign_queue_url: str
    # mail_sender's jobs (chalicelib/mail/jobs.py): campaigns, service messages.
    mail_queue_url: str
    user_pool_id: str
    user_pool_client_id: str
    jwks_url: str
    # Customers sign in to a pool of their own: their usernames never meet staff usernames.
    customer_user_pool_id: str
    customer_user_pool_client_id: str
    customer_jwks_url: str
    pseudonym_key_secret: str
    unsubscribe_secret: str
    # The controller's sender address (an SES-verified identity) for every message sent.
    mail_from: str = "ilopiste@kuntotimpurit.fi"
    # Where the public API is reached from outside (links in messages: unsubscribe), no
    # trailing slash: the custom domain in AWS, the local stack's API URL locally.
    public_base_url: str = "https://rekisteri.kuntotimpurit.fi"
    # Amazon SES's maximum send rate for the account (messages per second); campaigns keep under it.
    ses_max_send_rate: float = 14.0
    # Consumer mail services: a prospect row at one of these is a private person (rejected).
    free_mail_domains: tuple[str, ...] = ()
    # Where the staff console's browser code calls Cognito's user pool API (InitiateAuth,
    # RespondToAuthChallenge, …): the region's public endpoint in AWS, the emulator locally.
    # The console page's Content-Security-Policy allows exactly this origin.
    cognito_endpoint: str = "https://cognito-idp.eu-north-1.amazonaws.com"
    # Where a browser posts a partner's upload form (chalicelib/uploads.py): the upload
    # bucket's origin as the form's `url` names it, the regional virtual-hosted address in
    # AWS, the emulator's address locally (path-style). The console's CSP allows exactly it.
    upload_origin: str = ""

    @property
    def is_prod(self) -> bool:
        return self.stage == "prod"

    @property
    def token_issuer(self) -> str:
        return issuer(self.region, self.user_pool_id)

    @property
    def customer_token_issuer(self) -> str:
        return issuer(self.region, self.customer_user_pool_id)


def issuer(region: str, pool_id: str) -> str:
    """The `iss` of a Cognito user pool's tokens (its JWKS lives below it)."""
    return f"https://cognito-idp.{region}.amazonaws.com/{pool_id}"


def cognito_endpoint(region: str) -> str:
    """The Cognito user pool API's public endpoint in `region` (what browsers sign in against)."""
    return f"https://cognito-idp.{region}.amazonaws.com"


def upload_origin(region: str, bucket: str, emulator: str | None) -> str:
    """The origin a presigned upload form posts to (what `store.s3_signer` signs for)."""
    if emulator:
        parts = urlsplit(emulator)
        return f"{parts.scheme}://{parts.netloc}"
    return f"https://{bucket}.s3.{region}.amazonaws.com"


def jwks_url(region: str, pool_id: str) -> str:
    """Where a Cognito user pool publishes the public keys its tokens are signed with."""
    return f"{issuer(region, pool_id)}/.well-known/jwks.json"


def _region_from_env() -> str | None:
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")


# Free-mail and consumer ISP domains common in Finland; FREE_MAIL_DOMAINS (comma-separated)
# replaces the list.
DEFAULT_FREE_MAIL_DOMAINS = (
    "gmail.com,googlemail.com,hotmail.com,hotmail.fi,outlook.com,outlook.fi,live.com,live.fi,msn.com,"
    "yahoo.com,yahoo.fi,icloud.com,me.com,mac.com,aol.com,protonmail.com,proton.me,gmx.com,gmx.net,luukku.com,"
    "suomi24.fi,elisanet.fi,kolumbus.fi,saunalahti.fi,welho.com,netti.fi,dnainternet.net,anvianet.fi,pp.inet.fi,"
    "mbnet.fi,surffi.fi,kotiposti.net,phnet.fi,nic.fi"
)


def _domains(raw: str | None) -> tuple[str, ...]:
    if raw is None:
        raw = DEFAULT_FREE_MAIL_DOMAINS
    return tuple(d.strip().lower() for d in raw.split(",") if d.strip())


def _rate(raw: str | None) -> float:
    """SES_MAX_SEND_RATE as a positive number of messages per second (default 14, SES's usual production quota)."""
    rate = float(raw) if raw else 14.0
    if not rate > 0:
        raise ValueError("SES_MAX_SEND_RATE must be a positive number of messages per second.")
    return rate


@lru_cache(maxsize=1)
def settings() -> Settings:
    """Read the settings once per process (Lambda container)."""
    env = os.environ
    region = require_eu_region(_region_from_env())
    pool = env.get("USER_POOL_ID", "")
    customer_pool = env.get("CUSTOMER_USER_POOL_ID", "")
    overrides = ("COGNITO_JWKS_URL", "CUSTOMER_COGNITO_JWKS_URL", "COGNITO_ENDPOINT")
    if env.get("STAGE") == "prod" and any(env.get(name) for name in overrides):
        # The overrides exist for the emulator; in prod they would let a setting choose the token
        # signer, or where the console sends staff passwords.
        raise RuntimeError("COGNITO_JWKS_URL, CUSTOMER_COGNITO_JWKS_URL and COGNITO_ENDPOINT must not be set in prod.")
    return Settings(
        stage=env.get("STAGE", "dev"),
        region=region,
        customers_table=env.get("CUSTOMERS_TABLE", "customers"),
        prospects_table=env.get("PROSPECTS_TABLE", "prospects"),
        suppression_table=env.get("SUPPRESSION_TABLE", "suppression"),
        audit_table=env.get("AUDIT_TABLE", "audit"),
        import_runs_table=env.get("IMPORT_RUNS_TABLE", "import_runs"),
        partners_table=env.get("PARTNERS_TABLE", "partners"),
        campaigns_table=env.get("CAMPAIGNS_TABLE", "campaigns"),
        request_cases_table=env.get("REQUEST_CASES_TABLE", "request_cases"),
        upload_bucket=env.get("UPLOAD_BUCKET", ""),
        import_queue_url=env.get("IMPORT_QUEUE_URL", ""),
        campaign_queue_url=env.get("CAMPAIGN_QUEUE_URL", ""),
        mail_queue_url=env.get("MAIL_QUEUE_URL", ""),
        user_pool_id=pool,
        user_pool_client_id=env.get("USER_POOL_CLIENT_ID", ""),
        # Local stack: the emulator serves the pool's JWKS at its own address.
        jwks_url=env.get("COGNITO_JWKS_URL") or jwks_url(region, pool),
        customer_user_pool_id=customer_pool,
        customer_user_pool_client_id=env.get("CUSTOMER_USER_POOL_CLIENT_ID", ""),
        customer_jwks_url=env.get("CUSTOMER_COGNITO_JWKS_URL") or jwks_url(region, customer_pool),
        pseudonym_key_secret=env.get("PSEUDONYM_KEY_SECRET", "ilopiste/pseudonym-key"),
        unsubscribe_secret=env.get("UNSUBSCRIBE_SECRET", "ilopiste/unsubscribe-key"),
        mail_from=env.get("MAIL_FROM") or "ilopiste@kuntotimpurit.fi",
        public_base_url=(env.get("PUBLIC_BASE_URL") or "https://rekisteri.kuntotimpurit.fi").rstrip("/"),
        ses_max_send_rate=_rate(env.get("SES_MAX_SEND_RATE")),
        free_mail_domains=_domains(env.get("FREE_MAIL_DOMAINS")),
        cognito_endpoint=(env.get("COGNITO_ENDPOINT") or cognito_endpoint(region)).rstrip("/"),
        upload_origin=upload_origin(
            region,
            env.get("UPLOAD_BUCKET", ""),
            env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL"),
        ),
    )
