"""API benchmark: cold import, deployment package size, and route latency over the local stack.

Three figures, measured in one run on this machine, with no real AWS (moto only):

1. **Cold import**, per Lambda function: in a fresh interpreter, the module its handler
   string names (`app`, `chalicelib.api.authorizer`, `chalicelib.events`) plus what its first
   event loads on first use (PyJWT for the authorizer; the import pipeline or the retention
   rules for the event functions), so moving an import into a handler does not hide its cost;
   perf_counter around the imports, interpreter start-up excluded; median of N runs, beside
   a bare one-route Chalice app written to a temporary directory and measured the same way,
   all interleaved in the same run. One discarded run of each first, so all are measured
   with bytecode cached (as in a Lambda package, where the runtime's import is what a cold
   start pays). One extra run with `-X importtime` says where the API's import time goes,
   by top-level package.
2. **Package size**: `chalice package --stage prod --merge-template infra/resources.json`
   and infra/prune_package.py (what `make package` runs) into a temporary directory; deployment.zip's zipped and
   unzipped size and its five biggest top-level entries, beside Lambda's limits.
3. **Latency**: `python -m devstack` on free ports with a temporary state directory (as
   tests/e2e/conftest.py starts it), logins through the emulated Cognito
   (USER_PASSWORD_AUTH), then sequential requests on loopback per route, bounded in count
   and time; p50/p95/p99/max in ms per route. The emulator, the API and the worker share
   one process (devstack/stack.py), so these are the app's and the emulator's costs
   together on one machine, not API Gateway + Lambda + DynamoDB figures.

Knobs (environment): BENCH_API_IMPORT_RUNS (default 15), BENCH_API_REQUESTS per route
(default 200), BENCH_API_ROUTE_SECONDS per route (default 120).
"""

from __future__ import annotations

import json
import math
import os
import platform
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from devstack.process import local_stack_process, login

PROJECT_DIR = Path(__file__).resolve().parent.parent
REGION = "eu-north-1"
MB = 1024 * 1024
LAMBDA_ZIPPED_LIMIT_MB = 50  # direct upload of a .zip deployment package
LAMBDA_UNZIPPED_LIMIT_MB = 250  # function code and layers, unzipped
STACK_START_SECONDS = 120.0
WARMUP_REQUESTS = 5  # per route, not counted: first JWKS fetch, first table touches

BARE_APP = '''"""A bare Chalice app with one route: the floor the real app's import is compared with."""

from chalice import Chalice

app = Chalice(app_name="bare")


@app.route("/")
def index():
    return {"hello": "world"}
'''

IMPORT_PROBE = (
    "import importlib, sys, time\nstarted = time.perf_counter()\nfor name in sys.argv[1:]:\n"
    "    importlib.import_module(name)\nprint(time.perf_counter() - started)\n"
)
# Each function: the module its Lambda imports (the handler string's module in dist/sam.json),
# then what its first event imports on first use.
FUNCTION_IMPORTS: dict[str, tuple[str, ...]] = {
    "jwt_authorizer": ("chalicelib.api.authorizer", "jwt", "chalicelib.rs256"),
    "api_handler": ("app",),
    "partner_import": ("chalicelib.events", "aws_lambda_powertools.utilities.batch", "chalicelib.imports.messages"),
    "retention_sweeper": ("chalicelib.events", "chalicelib.retention"),
    "art14_notices": ("chalicelib.events", "chalicelib.art14", "chalicelib.retention", "chalicelib.mail.jobs"),
    "register_backfill": ("chalicelib.events", "chalicelib.backfill"),
    "pseudonym_rekey": ("chalicelib.events", "chalicelib.rekeying"),
    "campaign_materialiser": ("chalicelib.events", "aws_lambda_powertools.utilities.batch", "chalicelib.campaigns"),
    "mail_sender": ("chalicelib.events", "aws_lambda_powertools.utilities.batch", "chalicelib.mail.jobs"),
    "mail_events": ("chalicelib.events", "aws_lambda_powertools.utilities.batch", "chalicelib.mail.feedback"),
}


# -- 1. cold import -------------------------------------------------------------------------


def _app_environment() -> dict[str, str]:
    """What the app needs to import, as Lambda gives it: the prod stage's variables, an EU region,
    dummy credentials; nothing of the caller's AWS profile."""
    config = json.loads((PROJECT_DIR / ".chalice" / "config.json").read_text())
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k != "PYTHONPATH"}
    env.update({k: str(v) for k, v in config.get("environment_variables", {}).items()})
    env.update({k: str(v) for k, v in config["stages"]["prod"].get("environment_variables", {}).items()})
    env.update(
        AWS_DEFAULT_REGION=REGION,
        AWS_REGION=REGION,
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",  # noqa: S106 - the emulator's dummy credentials
    )
    return env


def _python(cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """This interpreter with `args` in a fresh process, as a new Lambda container would start."""
    return subprocess.run(  # noqa: S603 - this interpreter, fixed probes
        [sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False
    )


def _import_seconds(cwd: Path, env: dict[str, str], modules: tuple[str, ...] = ("app",)) -> float:
    out = _python(cwd, env, "-c", IMPORT_PROBE, *modules)
    if out.returncode != 0:
        raise RuntimeError(
            f"importing {', '.join(modules)} failed in {cwd} (exit {out.returncode}): {out.stderr[-2000:]}"
        )
    return float(out.stdout.strip().splitlines()[-1])


def _import_time_by_package(cwd: Path, env: dict[str, str], top: int = 6) -> list[dict[str, Any]]:
    """One `-X importtime` run: self time summed per top-level package (the self times add up
    to the whole import, so the shares are honest)."""
    out = _python(cwd, env, "-X", "importtime", "-c", "import app")
    per_package: Counter[str] = Counter()
    for line in out.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        _, self_us, _cumulative, name = (part.strip() for part in line.replace("import time:", "|", 1).split("|"))
        per_package[name.split(".")[0]] += int(self_us)
    return [{"package": name, "ms": round(us / 1000, 1)} for name, us in per_package.most_common(top)]


def _summary(samples: list[float]) -> dict[str, Any]:
    ms = sorted(s * 1000 for s in samples)
    return {
        "runs": len(ms),
        "median_ms": round(statistics.median(ms), 1),
        "min_ms": round(ms[0], 1),
        "max_ms": round(ms[-1], 1),
    }


def cold_import(runs: int = 15) -> dict[str, Any]:
    """Median cold import per function and of a bare Chalice app, in fresh interpreters, interleaved."""
    env = _app_environment()
    with tempfile.TemporaryDirectory(prefix="bench-bare-chalice-") as tmp:
        bare_dir = Path(tmp)
        (bare_dir / "app.py").write_text(BARE_APP)
        probes = {name: (PROJECT_DIR, modules) for name, modules in FUNCTION_IMPORTS.items()}
        probes["bare_chalice"] = (bare_dir, ("app",))
        for cwd, modules in probes.values():  # warm-up: compile and cache bytecode, fill the page cache
            _import_seconds(cwd, env, modules)
        samples: dict[str, list[float]] = {name: [] for name in probes}
        for _ in range(runs):  # interleaved, so load on the machine hits all alike
            for name, (cwd, modules) in probes.items():
                samples[name].append(_import_seconds(cwd, env, modules))
    bare = _summary(samples["bare_chalice"])
    functions = {
        name: _summary(samples[name])
        | {"over_bare": round(statistics.median(samples[name]) * 1000 / bare["median_ms"], 1)}
        for name in FUNCTION_IMPORTS
    }
    app = {k: v for k, v in functions["api_handler"].items() if k != "over_bare"}
    return {
        "functions": functions,
        "app": app,
        "bare_chalice": bare,
        "app_over_bare_ms": round(app["median_ms"] - bare["median_ms"], 1),
        "app_import_by_package": _import_time_by_package(PROJECT_DIR, env),
    }


# -- 2. package size ------------------------------------------------------------------------


def _top_level(name: str) -> str:
    return name.split("/", 1)[0]


def _chalice_package(out_dir: Path, project: Path = PROJECT_DIR) -> float:
    """`chalice package` for prod of `project` into `out_dir`, then the pruning `make package`
    does (if the project has it: an older commit may not); the seconds it took."""
    chalice = Path(sys.executable).parent / "chalice"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["AWS_DEFAULT_REGION"] = REGION
    started = time.perf_counter()
    done = subprocess.run(  # noqa: S603 - the venv's chalice, fixed arguments
        [str(chalice), "package", "--stage", "prod", "--merge-template", "infra/resources.json", str(out_dir)],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"chalice package failed (exit {done.returncode}): {done.stderr[-2000:]}")
    if not (project / "infra" / "prune_package.py").exists():
        return time.perf_counter() - started
    pruned = subprocess.run(  # noqa: S603 - our own interpreter and script
        [sys.executable, "infra/prune_package.py", str(out_dir / "deployment.zip")],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if pruned.returncode != 0:
        raise RuntimeError(f"prune_package failed (exit {pruned.returncode}): {pruned.stderr[-2000:]}")
    return time.perf_counter() - started


def package_size(top: int = 5, attempts: int = 3) -> dict[str, Any]:
    """Build the prod package as `make package` does and measure deployment.zip.

    Chalice copies its dependency cache (.chalice/deployments/<hash>.zip) into the package;
    a `make package` running at the same time may still be writing that cache, which gives
    a torn zip. So a torn zip is rebuilt, a bounded number of times, a few seconds apart.
    """
    for attempt in range(1, attempts + 1):
        with tempfile.TemporaryDirectory(prefix="bench-package-") as tmp:
            out_dir = Path(tmp) / "dist"
            seconds = _chalice_package(out_dir)
            archive = out_dir / "deployment.zip"
            zipped = archive.stat().st_size
            try:
                with zipfile.ZipFile(archive) as zf:
                    infos = [i for i in zf.infolist() if not i.is_dir()]
                break
            except zipfile.BadZipFile:
                if attempt == attempts:
                    raise
                time.sleep(5)
    sizes: Counter[str] = Counter()
    for info in infos:
        sizes[_top_level(info.filename)] += info.file_size
    unzipped = sum(sizes.values())
    return {
        "zipped_mb": round(zipped / MB, 2),
        "unzipped_mb": round(unzipped / MB, 2),
        "files": len(infos),
        "biggest_top_level": [{"name": n, "unzipped_mb": round(b / MB, 2)} for n, b in sizes.most_common(top)],
        "lambda_limits_mb": {"zipped_direct_upload": LAMBDA_ZIPPED_LIMIT_MB, "unzipped": LAMBDA_UNZIPPED_LIMIT_MB},
        "share_of_unzipped_limit": round(unzipped / (LAMBDA_UNZIPPED_LIMIT_MB * MB), 3),
        "package_seconds": round(seconds, 1),
    }


# -- 3. latency over the local stack --------------------------------------------------------


@contextmanager
def local_stack() -> Iterator[dict[str, Any]]:
    """`python -m devstack` on free ports in a temporary state dir; yields stack.json; always stops it."""
    with (
        tempfile.TemporaryDirectory(prefix="bench-devstack-") as tmp,
        local_stack_process(Path(tmp), STACK_START_SECONDS) as proc,
    ):
        yield proc.info


def percentile(sorted_ms: list[float], p: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    return sorted_ms[max(0, math.ceil(p / 100 * len(sorted_ms)) - 1)]


# A request: (method, path, token, JSON body or None); built from the request's index.
Request = tuple[str, str, str | None, Any]


def _measure(
    session: Any, api_url: str, build: Callable[[int], Request], expect: int, count: int, seconds: float
) -> dict[str, Any]:
    """Warm up, then `count` sequential requests (or fewer if `seconds` runs out); latency per request."""
    samples: list[float] = []
    errors: Counter[str] = Counter()
    index = 0

    def one(i: int) -> float:
        method, path, token, body = build(i)
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        started = time.perf_counter()
        resp = session.request(method, api_url + path, headers=headers, json=body, timeout=30)
        elapsed = time.perf_counter() - started
        if resp.status_code != expect:
            code = resp.json().get("error", {}).get("code", "") if resp.content else ""
            errors[f"{resp.status_code} {code}".strip()] += 1
        return elapsed

    for _ in range(WARMUP_REQUESTS):
        one(index)
        index += 1
    warm_errors = sum(errors.values())
    deadline = time.monotonic() + seconds
    while len(samples) < count and time.monotonic() < deadline:
        samples.append(one(index))
        index += 1
    ms = sorted(s * 1000 for s in samples)
    return {
        "requests": len(ms),
        "p50_ms": round(percentile(ms, 50), 1),
        "p95_ms": round(percentile(ms, 95), 1),
        "p99_ms": round(percentile(ms, 99), 1),
        "max_ms": round(ms[-1], 1),
        "unexpected_status": dict(errors) if errors else {},
        "warmup_errors": warm_errors,
        "truncated_by_time": len(ms) < count,
    }


def route_latency(requests_per_route: int = 200, seconds_per_route: float = 120.0) -> dict[str, Any]:
    """p50/p95/p99/max of the main routes over a fresh local stack (sequential, loopback)."""
    import requests

    tag = secrets.token_hex(3)  # unique names even if a stack were reused
    with local_stack() as info:
        staff = login(info, "staff")
        customer = login(info, "customer")
        password = f"Bench-{secrets.token_urlsafe(12)}-7x"

        def new_customer(i: int) -> Request:
            body = {
                "organization": f"Bench {i} Oy",
                "business_id": "0112038-9",
                "contact_name": f"Bench Henkilö {i}",
                "email": f"bench.c{i}.{tag}@example.com",
                "phone": f"+358 40 {1000000 + i}",
                "username": f"bench-c{i}-{tag}",
            }
            return ("POST", "/customers", staff, body)

        def registration(i: int) -> Request:
            body = {
                "organization": f"Rekisteröityjä {i} Oy",
                "business_id": "0112038-9",
                "contact_name": f"Rekisteröity {i}",
                "email": f"bench.r{i}.{tag}@example.com",
                "phone": "040 123 4567",
                "address": {"street": "Katu 1", "postal_code": "00100", "city": "Helsinki"},
                "username": f"bench-r{i}-{tag}",
                "password": password,
                "consent_service_messages": True,
            }
            return ("POST", "/registrations", None, body)

        def new_prospect(i: int) -> Request:
            body = {
                "organization": f"Kunta {i}",
                "contact_name": f"Johtaja {i}",
                "title": "Johtaja",
                "email": f"johtaja.{i}.{tag}@kunta{i}.fi",
                "phone": "09 123 4567",
                "source_url": f"https://kunta{i}.fi/yhteystiedot",
            }
            return ("POST", "/prospects", staff, body)

        session = requests.Session()
        api = info["api_url"]
        results: dict[str, Any] = {}

        # Writes first: they fill the tables that the reads then page through.
        results["POST /customers"] = _measure(session, api, new_customer, 201, requests_per_route, seconds_per_route)
        results["POST /registrations"] = _measure(
            session, api, registration, 202, requests_per_route, seconds_per_route
        )
        results["POST /prospects"] = _measure(session, api, new_prospect, 201, requests_per_route, seconds_per_route)
        created = _customer_ids(session, api, staff)
        plans: list[tuple[str, Callable[[int], Request], int]] = [
            ("GET /customers", lambda i: ("GET", "/customers", staff, None), 200),
            ("GET /customers/{id}", lambda i: ("GET", f"/customers/{created[i % len(created)]}", staff, None), 200),
            (
                "PATCH /customers/{id}",
                lambda i: (
                    "PATCH",
                    f"/customers/{created[i % len(created)]}",
                    staff,
                    {"phone": f"+358 50 {2000000 + i}"},
                ),
                200,
            ),
            ("GET /me", lambda i: ("GET", "/me", customer, None), 200),
            ("GET /prospects", lambda i: ("GET", "/prospects", staff, None), 200),
        ]
        for name, build, expect in plans:
            results[name] = _measure(session, api, build, expect, requests_per_route, seconds_per_route)
        session.close()
    return {
        "setup": {
            "requests_per_route": requests_per_route,
            "warmup_per_route": WARMUP_REQUESTS,
            "sequential": True,
            "customers_in_table": len(created),
            "list_page_size": 25,
        },
        "routes": results,
    }


def _customer_ids(session: Any, api: str, token: str) -> list[str]:
    """Every customer id, by paging GET /customers (not timed)."""
    ids: list[str] = []
    cursor: str | None = None
    while True:
        params = {"limit": "100", **({"cursor": cursor} if cursor else {})}
        resp = session.get(f"{api}/customers", params=params, headers={"Authorization": f"Bearer {token}"}, timeout=30)
        resp.raise_for_status()
        page = resp.json()
        ids += [item["customer_id"] for item in page["items"]]
        cursor = page.get("next_cursor")
        if not cursor:
            return ids


# -- report ---------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpus": os.cpu_count(),
        "cpu": cpu,
        "python": platform.python_version(),
        "os": f"{platform.system()} {platform.release()}",
    }


def table(result: dict[str, Any]) -> str:
    """A small plain-text table of the figures."""
    imp = result["cold_import"]
    lines = [
        f"cold import (median of {imp['app']['runs']}): app {imp['app']['median_ms']} ms, "
        f"bare Chalice {imp['bare_chalice']['median_ms']} ms (+{imp['app_over_bare_ms']} ms)",
        "  app import self time by package (-X importtime, ms): "
        + ", ".join(f"{p['package']} {p['ms']}" for p in imp["app_import_by_package"]),
        f"  {'function':<20}{'median ms':>10}{'× bare':>8}  imports",
    ]
    for name, fn in imp.get("functions", {}).items():
        lines.append(f"  {name:<20}{fn['median_ms']:>10}{fn['over_bare']:>8}  {' + '.join(FUNCTION_IMPORTS[name])}")
    if "package" in result:
        pkg = result["package"]
        biggest = ", ".join(f"{b['name']} {b['unzipped_mb']}" for b in pkg["biggest_top_level"])
        lines.append(
            f"package: {pkg['zipped_mb']} MB zipped (limit {LAMBDA_ZIPPED_LIMIT_MB}), "
            f"{pkg['unzipped_mb']} MB unzipped (limit {LAMBDA_UNZIPPED_LIMIT_MB}); biggest MB: {biggest}"
        )
    if "latency" in result:
        lines.append(f"{'route':<24}{'n':>5}{'p50':>8}{'p95':>8}{'p99':>8}{'max':>8}  unexpected")
        for name, r in result["latency"]["routes"].items():
            bad = ",".join(f"{k}×{v}" for k, v in r["unexpected_status"].items()) or "-"
            lines.append(
                f"{name:<24}{r['requests']:>5}{r['p50_ms']:>8}{r['p95_ms']:>8}{r['p99_ms']:>8}{r['max_ms']:>8}  {bad}"
            )
    return "\n".join(lines)


def run() -> dict[str, Any]:
    """All three figures in one run; prints the table, returns the figures."""
    result: dict[str, Any] = {"machine": machine()}
    load_before = os.getloadavg()
    result["cold_import"] = cold_import(int(os.environ.get("BENCH_API_IMPORT_RUNS", "15")))
    result["package"] = package_size()
    result["latency"] = route_latency(
        int(os.environ.get("BENCH_API_REQUESTS", "200")), float(os.environ.get("BENCH_API_ROUTE_SECONDS", "120"))
    )
    # Other work on the machine skews every figure; the 1-minute load says how much there was.
    result["machine"]["load_1min"] = {"start": round(load_before[0], 2), "end": round(os.getloadavg()[0], 2)}
    print(table(result), flush=True)
    return result
