"""The local stack: moto server, provisioned from infra/resources.json, demo users, the API
served the way `chalice local` serves it, and the worker.

Everything runs in this one process, on threads: the emulator on `aws_port`, the API on
`api_port`, the worker beside them. The app talks to the emulator over HTTP only
(`AWS_ENDPOINT_URL`), exactly as it would talk to AWS, with dummy credentials so nothing
can reach a real account.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import socket
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import requests

from devstack import cognito, gateway, provision
from devstack.outbox import Outbox
from devstack.worker import (
    CAMPAIGN_HANDLER,
    IMPORT_HANDLER,
    MAIL_EVENTS_HANDLER,
    MAIL_HANDLER,
    SWEEPER_HANDLER,
    Worker,
)

log = logging.getLogger("devstack")

PROJECT_DIR = Path(__file__).resolve().parent.parent
REGION = "eu-north-1"
PREFIX = "local"
CHALICE_STAGE = "dev"

# The demo principals: one per group (DESIGN §2). The customer registers itself through
# the API (POST /registrations), so it has a customer record as well as a login.
DEMO_USERS: dict[str, dict[str, Any]] = {
    "staff": {"username": "demo-staff", "groups": ["staff"], "attributes": {}},
    "dpo": {"username": "demo-dpo", "groups": ["dpo"], "attributes": {}},
    "partner": {
        "username": "demo-acme",
        "groups": ["partner"],
        "attributes": {"partner_id": "acme", "partner_type": "data_provider"},
    },
    "reseller": {
        "username": "demo-resello",
        "groups": ["partner"],
        "attributes": {"partner_id": "resello", "partner_type": "reseller"},
    },
    "marketing": {
        "username": "demo-kampanja",
        "groups": ["partner"],
        "attributes": {"partner_id": "kampanja", "partner_type": "marketing"},
    },
}
# The partner registry's demo partners: the demo partner users act for these. The data
# provider gets today's delivery of the current privacy notice (`demo_partners`): without
# one its uploads would be refused (`notice_not_delivered`).
DEMO_PARTNERS: list[dict[str, Any]] = [
    {
        "partner_id": "acme",
        "name": "Acme Data Oy",
        "kind": "data_provider",
        "contact": {"email": "tietosuoja@acme.example.com", "phone": "+358 9 4242 4242"},
        "country": "FI",
    },
    {
        "partner_id": "resello",
        "name": "Resello Oy",
        "kind": "reseller",
        "contact": {"email": "myynti@resello.example.com"},
        "country": "SE",
    },
    {
        "partner_id": "kampanja",
        "name": "Kampanja Soitot Oy",
        "kind": "marketing",
        "contact": {"email": "sopimukset@kampanja.example.com"},
        "country": "EE",
    },
]


def demo_partners() -> list[dict[str, Any]]:
    """The demo partners as registered: each data provider with the notice delivered today,
    each marketing partner with its processing agreement signed today."""
    from chalicelib import clock, notice

    today = clock.local_date().isoformat()
    recorded = {
        "data_provider": {"notice_delivered_at": today, "notice_version": notice.version()},
        "marketing": {"processing_agreement_at": today},
    }
    return [{**p, **recorded.get(p["kind"], {})} for p in DEMO_PARTNERS]


DEMO_CUSTOMER_USERNAME = "demo-customer"
DEMO_CUSTOMER = {
    "organization": "Esimerkki Oy",
    "business_id": "0112038-9",
    "contact_name": "Demo Asiakas",
    "email": "demo.asiakas@example.com",
    "phone": "040 123 4567",
    "address": {"street": "Esimerkkikatu 1", "postal_code": "00100", "city": "Helsinki"},
    "username": DEMO_CUSTOMER_USERNAME,
    "consent_service_messages": True,
}


@dataclass
class Options:
    """Where the stack listens and writes; every field can come from a flag or the environment."""

    host: str = "127.0.0.1"
    aws_port: int = 5000
    api_port: int = 8000
    state_dir: Path = field(default_factory=lambda: PROJECT_DIR / ".local")
    region: str = REGION
    poll_wait_seconds: int = 2


def demo_password() -> str:
    """A fresh password that meets the pool's policy (upper, lower, digit, symbol, ≥12)."""
    return f"Demo-{secrets.token_urlsafe(18)}-7x"


def aws_credentials_env() -> dict[str, str]:
    """Dummy credentials: whatever the developer's shell holds, nothing reaches real AWS."""
    return {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


def chalice_config_env(stage: str = CHALICE_STAGE) -> dict[str, str]:
    """The environment variables .chalice/config.json gives the stage (global, then stage)."""
    config = json.loads((PROJECT_DIR / ".chalice" / "config.json").read_text())
    env = dict(config.get("environment_variables", {}))
    env.update(config.get("stages", {}).get(stage, {}).get("environment_variables", {}))
    return {k: str(v) for k, v in env.items()}


COGNITO_TARGET = "AWSCognitoIdentityProviderService."


def cognito_in_region(app: Any, region: str) -> Any:
    """WSGI middleware: a browser's unsigned Cognito call (the staff console's InitiateAuth,
    GlobalSignOut, …) reaches the stack's region.

    In AWS the region is in the endpoint's host name (cognito-idp.<region>.amazonaws.com) and
    these calls carry no signature; at the emulator's bare address moto would take them to
    us-east-1, where GlobalSignOut finds no token. Naming the regional host does what AWS's
    address does. Signed calls (boto3, the CLI) carry their region already and pass as they are.
    """

    def wrapped(environ: dict[str, Any], start_response: Any) -> Any:
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if target.startswith(COGNITO_TARGET) and "HTTP_AUTHORIZATION" not in environ:
            environ["HTTP_HOST"] = f"cognito-idp.{region}.amazonaws.com"
        return app(environ, start_response)

    return wrapped


class RegionalMotoServer:
    """moto's ThreadedMotoServer with `cognito_in_region` in front of its application."""

    def __init__(self, region: str, ip_address: str, port: int, verbose: bool = False) -> None:
        from moto.moto_server.threaded_moto_server import ThreadedMotoServer

        self.region = region
        self._inner = ThreadedMotoServer(ip_address=ip_address, port=port, verbose=verbose)
        self._inner._server_entry = self._server_entry  # type: ignore[method-assign]

    def _server_entry(self) -> None:
        from moto.moto_server.werkzeug_app import (
            DomainDispatcherApplication,
            MotoRequestHandler,
            create_backend_app,
        )
        from werkzeug.serving import make_server

        inner = self._inner
        app = cognito_in_region(DomainDispatcherApplication(create_backend_app), self.region)
        inner._server = make_server(inner._ip_address, inner._port, app, True, request_handler=MotoRequestHandler)
        inner._server_ready_event.set()
        inner._server.serve_forever()

    def start(self) -> None:
        self._inner.start()

    def stop(self) -> None:
        self._inner.stop()


class PortInUse(RuntimeError):
    """Raised before anything starts when a port the stack needs is taken."""


def require_free_port(host: str, port: int) -> None:
    """Refuse early: moto's threaded server would wait forever if its bind failed."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise PortInUse(
                f"{host}:{port} is in use (another local stack?); choose other ports with "
                "--aws-port/--api-port or DEVSTACK_AWS_PORT/DEVSTACK_API_PORT"
            ) from exc


class LocalStack:
    """Start and stop the whole stack; `info` is what `.local/stack.json` holds."""

    def __init__(self, options: Options) -> None:
        self.options = options
        self.info: dict[str, Any] = {}
        self.passwords: dict[str, str] = {}
        self._moto: Any = None
        self._api: Any = None
        self._api_thread: threading.Thread | None = None
        self.worker: Worker | None = None
        self.outbox: Outbox | None = None
        self._owns_stack_file = False

    @property
    def endpoint_url(self) -> str:
        return f"http://{self.options.host}:{self.options.aws_port}"

    @property
    def api_url(self) -> str:
        return f"http://{self.options.host}:{self.options.api_port}"

    @property
    def stack_file(self) -> Path:
        return self.options.state_dir / "stack.json"

    @property
    def outbox_dir(self) -> Path:
        return self.options.state_dir / "outbox"

    @property
    def sweep_request_file(self) -> Path:
        """Writing a JSON payload here runs the sweeper now (local only; see Worker.run_requested_sweep)."""
        return self.options.state_dir / "sweep-request.json"

    def session(self) -> Any:
        creds = aws_credentials_env()
        return boto3.session.Session(
            aws_access_key_id=creds["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=creds["AWS_SECRET_ACCESS_KEY"],
            region_name=self.options.region,
        )

    def client(self, service: str) -> Any:
        return self.session().client(service, endpoint_url=self.endpoint_url)

    # -- start ---------------------------------------------------------------------------

    def start(self) -> dict[str, Any]:
        """Emulator → provision → demo partners and users → API → demo customer → worker → stack.json."""
        for port in (self.options.aws_port, self.options.api_port):
            require_free_port(self.options.host, port)
        # A stale stack.json (from a killed run) would announce a stack that is not there.
        self.stack_file.unlink(missing_ok=True)
        self._owns_stack_file = True
        self._isolate_environment()
        self._start_emulator()
        stack = provision.provision(self.session(), PREFIX, self.options.region, endpoint_url=self.endpoint_url)
        stack["aws_endpoint_url"] = self.endpoint_url
        self._apply_app_environment(stack)
        provision.register_partners(self.client("dynamodb"), stack["tables"]["partners"], demo_partners())
        users = self._create_demo_users(stack)
        self.outbox = Outbox(self.outbox_dir, self.options.region)
        self.outbox.start()
        app = self._start_api()
        users["customer"] = self._register_demo_customer()
        self.worker = Worker(
            app,
            self.client("sqs"),
            stack["import_queue_url"],
            self.options.region,
            wait_seconds=self.options.poll_wait_seconds,
            sweep_request=self.sweep_request_file,
            queues={
                CAMPAIGN_HANDLER: stack["campaign_queue_url"],
                MAIL_HANDLER: stack["mail_queue_url"],
                MAIL_EVENTS_HANDLER: stack["mail_events_queue_url"],
            },
        )
        self.worker.start()
        self.info = {
            "api_url": self.api_url,
            "aws_endpoint_url": self.endpoint_url,
            "region": self.options.region,
            "user_pool_id": stack["user_pool_id"],
            "user_pool_client_id": stack["user_pool_client_id"],
            # Customers sign in to their own pool (usernames apart from staff).
            "customer_user_pool_id": stack["customer_user_pool_id"],
            "customer_user_pool_client_id": stack["customer_user_pool_client_id"],
            "upload_bucket": stack["upload_bucket"],
            "import_queue_url": stack["import_queue_url"],
            "tables": stack["tables"],
            # Extras beyond DESIGN §3.
            "partners": [p["partner_id"] for p in DEMO_PARTNERS],
            "import_dlq_url": stack["import_dlq_url"],
            "secrets": {"pseudonym_key": stack["pseudonym_key_secret"], "unsubscribe": stack["unsubscribe_secret"]},
            "users": users,
            # Which Lambda entry points the worker found in the app (it invokes only these).
            "worker": {
                name: name in app.handler_map
                for name in (IMPORT_HANDLER, CAMPAIGN_HANDLER, MAIL_HANDLER, MAIL_EVENTS_HANDLER, SWEEPER_HANDLER)
            },
            # Local only: write {"as_of": …, "dry_run": …} here to run the sweeper now.
            "sweep_request_file": str(self.sweep_request_file),
            # Every message the emulated SES accepted, one .eml file each (DESIGN §3).
            "outbox_dir": str(self.outbox_dir),
            # The staff console (DESIGN §3): sign in there as a demo staff or DPO user.
            "console_url": f"{self.api_url}/console",
            "mail_from": stack["mail_from"],
        }
        self._write_stack_file()
        return self.info

    def _isolate_environment(self) -> None:
        for var in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
            os.environ.pop(var, None)
        os.environ.update(aws_credentials_env())
        os.environ["AWS_DEFAULT_REGION"] = self.options.region
        os.environ["AWS_REGION"] = self.options.region

    def _start_emulator(self) -> None:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        # The staff console's sign-in is checked for real: its SRP password proof (devstack/
        # cognito.py) and its TOTP codes (moto skips that check unless told).
        cognito.install()
        os.environ["MOTO_COGNITO_IDP_USER_POOL_ENABLE_TOTP"] = "true"
        self._moto = RegionalMotoServer(
            self.options.region, ip_address=self.options.host, port=self.options.aws_port, verbose=False
        )
        self._moto.start()
        log.info("AWS emulator (moto server) on %s", self.endpoint_url)

    def _apply_app_environment(self, stack: dict[str, Any]) -> None:
        """The Lambda environment: the stage's config.json variables, then the infrastructure's."""
        env = {
            **chalice_config_env(),
            **provision.app_environment(stack, stage=PREFIX, public_base_url=self.api_url),
            **aws_credentials_env(),
        }
        os.environ.update(env)

    def _create_demo_users(self, stack: dict[str, Any]) -> dict[str, dict[str, Any]]:
        cognito = self.client("cognito-idp")
        pool = stack["user_pool_id"]
        users: dict[str, dict[str, Any]] = {}
        for kind, spec in DEMO_USERS.items():
            password = demo_password()
            attrs = [{"Name": f"custom:{k}", "Value": v} for k, v in spec["attributes"].items()]
            cognito.admin_create_user(
                UserPoolId=pool, Username=spec["username"], UserAttributes=attrs, MessageAction="SUPPRESS"
            )
            cognito.admin_set_user_password(
                UserPoolId=pool, Username=spec["username"], Password=password, Permanent=True
            )
            for group in spec["groups"]:
                cognito.admin_add_user_to_group(UserPoolId=pool, Username=spec["username"], GroupName=group)
            users[kind] = {
                "username": spec["username"],
                "password": password,
                "groups": spec["groups"],
                **spec["attributes"],
            }
        return users

    def _start_api(self) -> Any:
        """Load the app and serve it as `chalice local` does (CLIFactory → LocalDevServer)."""
        from chalice.cli.factory import CLIFactory
        from chalice.local import create_local_server

        gateway.install()
        # A copy of the environment: the variables are already applied above, in the order
        # Lambda would see them; Chalice must not re-apply the stage's STAGE on top.
        factory = CLIFactory(str(PROJECT_DIR), environ=dict(os.environ))
        config = factory.create_config_obj(chalice_stage_name=CHALICE_STAGE)
        app = config.chalice_app
        self._api = create_local_server(app, config, self.options.host, self.options.api_port)
        self._api_thread = threading.Thread(target=self._api.server.serve_forever, name="devstack-api", daemon=True)
        self._api_thread.start()
        log.info("API (chalice local) on %s", self.api_url)
        return app

    def _register_demo_customer(self) -> dict[str, Any]:
        """Register through the API and confirm with the code SES was asked to send, as a person would."""
        password = demo_password()
        resp = requests.post(f"{self.api_url}/registrations", json={**DEMO_CUSTOMER, "password": password}, timeout=30)
        if resp.status_code != 202:
            raise RuntimeError(f"demo customer registration failed: HTTP {resp.status_code} {resp.text[:300]}")
        assert self.outbox is not None
        code = self.outbox.confirmation_code(str(DEMO_CUSTOMER["email"]))
        resp = requests.post(f"{self.api_url}/registrations/confirm", json={"token": code}, timeout=30)
        if resp.status_code != 200:
            raise RuntimeError(f"demo customer confirmation failed: HTTP {resp.status_code} {resp.text[:300]}")
        return {
            "username": DEMO_CUSTOMER_USERNAME,
            "password": password,
            "groups": ["customer"],
            "customer_id": resp.json()["customer"]["customer_id"],
            "pool": "customer",
        }

    def _write_stack_file(self) -> None:
        self.options.state_dir.mkdir(parents=True, exist_ok=True)
        tmp = self.stack_file.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(self.info, indent=2) + "\n")
        tmp.chmod(0o600)
        tmp.replace(self.stack_file)  # atomic: readers never see half a file

    # -- stop ----------------------------------------------------------------------------

    def stop(self) -> None:
        """Worker first (it uses both), then the API, the outbox, then the emulator."""
        if self.worker is not None:
            self.worker.stop()
        if self.outbox is not None:
            self.outbox.stop()
        if self._api is not None:
            self._api.shutdown()
            self._api.server.server_close()
        if self._moto is not None:
            self._moto.stop()
        if self._owns_stack_file:
            self.stack_file.unlink(missing_ok=True)
