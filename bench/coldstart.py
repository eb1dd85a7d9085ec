"""Cold starts per Lambda function, each handling its first event, before and after issue 13.

For each function a fresh interpreter (bench/_coldstart_probe.py) imports the module its
handler string names and handles the function's first event, timed together, so work moved
from import time into the first call is counted:

- `jwt_authorizer`: one token verification. The token is signed with the emulator's Cognito
  key; its JWKS is served by the emulator (moto's server, started before any timing) at
  COGNITO_JWKS_URL, so the timed part includes PyJWT, the one JWKS fetch over loopback and
  the RS256 check.
- `api_handler`: a first anonymous request (GET /privacy-notice) and then a first
  authenticated read (GET /customers as staff, with the context the authorizer gives), both
  as API Gateway proxy events, against the emulator.
- `partner_import`: one small upload (a 10-row CSV in S3; the event is the import queue's
  message of its S3 notification, a different file each run).
- `retention_sweeper`: one dry run (`{"dry_run": true}`).
- `art14_notices`, `register_backfill`, `pseudonym_rekey` (current code only: they did not
  exist before): their manual payload `{}` over the empty stack.
- a bare one-route Chalice app: its first request, the same way.

The same probes run against the code before issue 13's change (commit BEFORE, checked out in
a temporary `git worktree`, removed afterwards), each tree with a stack provisioned by its
own devstack in the same emulator. One uncounted run of each first (bytecode compiled and
cached, as in a Lambda package), then RUNS rounds, interleaved, so load on the machine hits
all alike; medians, and each median's ratio to the bare app's.

Each tree runs as Lambda runs it (BENCH_COLDSTART_FROM=package, the default): its prod
deployment package built as `make package` builds it (`chalice package`, then the pruning step
where the tree has one), extracted, and the probe in `python -I -S -B` with only the package
and what the Lambda runtime provides (boto3, botocore and their dependencies, linked from this
venv) on its path: no site-packages, so the dev venv's extra packages (`cryptography`, which
PyJWT would load when present) are not imported, and no bytecode is written or read, as in
Lambda's read-only /var/task with a package that ships none. The bare app runs the same way
with the chalice runtime of the current package. BENCH_COLDSTART_FROM=tree runs the source
trees in this venv instead (quicker, but not what Lambda loads).

Knobs: BENCH_COLDSTART_RUNS (default 15; fewer while developing), BENCH_COLDSTART_BEFORE (the
commit to compare with, default BEFORE), BENCH_COLDSTART_FROM (package or tree).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

PROJECT_DIR = Path(__file__).resolve().parent.parent
BENCH_DIR = Path(__file__).resolve().parent
# The commit before issue 13's change (docs/benchmarks.md); BENCH_COLDSTART_BEFORE compares another.
BEFORE = os.environ.get("BENCH_COLDSTART_BEFORE", "97a2614")
REGION = "eu-north-1"
FUNCTIONS_BEFORE = ("jwt_authorizer", "api_handler", "partner_import", "retention_sweeper")
FUNCTIONS_AFTER = (*FUNCTIONS_BEFORE, "art14_notices", "register_backfill", "pseudonym_rekey")
FROM = os.environ.get("BENCH_COLDSTART_FROM", "package")
# What the Lambda Python runtime provides beside the package (requirements.txt leaves these out).
RUNTIME_PROVIDED = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six")
TARGETS = {"jwt_authorizer_over_bare_max": 4.0, "api_handler_ratio_of_before_max": 0.6}

BARE_APP = '''"""A bare Chalice app with one route: the floor the functions are compared with."""

from chalice import Chalice

app = Chalice(app_name="bare")


@app.route("/")
def index():
    return {"hello": "world"}
'''


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _base_env() -> dict[str, str]:
    """The caller's environment without anything of its AWS profile, plus what Lambda sets."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k != "PYTHONPATH"}
    env.update(
        POWERTOOLS_SERVICE_NAME="ilopiste",
        AWS_DEFAULT_REGION=REGION,
        AWS_REGION=REGION,
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",  # noqa: S106 - the emulator's dummy credentials
    )
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


@contextmanager
def emulator() -> Iterator[str]:
    """moto's server in a process of its own; yields its URL; always stops it."""
    port = _free_port()
    proc = subprocess.Popen(  # noqa: S603 - this interpreter, fixed arguments
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        env=_base_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{url}/moto-api/", timeout=2).close()  # noqa: S310 - loopback
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("the emulator did not start") from None
                time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        proc.wait(30)


@contextmanager
def worktree_of(commit: str) -> Iterator[Path]:
    """A temporary `git worktree` of `commit`; removed afterwards."""
    tmp = Path(tempfile.mkdtemp(prefix="bench-coldstart-before-"))
    tree = tmp / "tree"
    git = ["git", "-C", str(PROJECT_DIR)]
    subprocess.run([*git, "worktree", "add", "--detach", str(tree), commit], check=True, capture_output=True)  # noqa: S603
    try:
        yield tree
    finally:
        subprocess.run([*git, "worktree", "remove", "--force", str(tree)], check=False, capture_output=True)  # noqa: S603
        shutil.rmtree(tmp, ignore_errors=True)


def _run(cwd: Path, env: dict[str, str], *args: str, flags: tuple[str, ...] = ()) -> dict[str, Any]:
    """This interpreter (with `flags`) running a bench script in `cwd`; its JSON answer."""
    done = subprocess.run(  # noqa: S603 - this interpreter, our own scripts
        [sys.executable, *flags, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args[:2])} failed in {cwd} (exit {done.returncode}): {done.stderr[-3000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def _api_event(path: str) -> dict[str, Any]:
    """An anonymous API Gateway proxy event (the bare app's first request)."""
    return {
        "resource": path,
        "path": path,
        "httpMethod": "GET",
        "headers": {"Host": "bench.example.com"},
        "multiValueHeaders": {},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {"resourcePath": path, "httpMethod": "GET", "path": f"/api{path}", "stage": "api"},
        "body": None,
        "isBase64Encoded": False,
    }


def _check(function: str, answers: list[Any]) -> str:
    """Each probe's first event must have been handled as it should (a failure is not a time);
    what it answered, in a few words, for the report."""
    if function in ("api_handler", "bare_chalice"):
        ok = all(a.get("statusCode") == 200 for a in answers)
        said = "HTTP " + ", ".join(str(a.get("statusCode")) for a in answers)
    elif function == "jwt_authorizer":
        statements = answers[0].get("policyDocument", {}).get("Statement", [])
        ok = answers[0].get("principalId") == "bench-staff" and any(s.get("Effect") == "Allow" for s in statements)
        allowed = sum(len(s.get("Resource") or []) for s in statements if s.get("Effect") == "Allow")
        said = f"token verified, {allowed} route methods allowed"
    elif function == "partner_import":
        ok = answers[0].get("batchItemFailures") == []
        said = "upload imported (no batch item failures)"
    elif function == "retention_sweeper":
        ok = bool(answers[0].get("dry_run")) and not answers[0].get("failed_rules")
        said = "dry run, no failed rules"
    else:
        ok = isinstance(answers[0], dict)
        said = json.dumps(answers[0], default=str)[:80]
    if not ok:
        raise RuntimeError(f"{function}'s first event was not handled as expected: {json.dumps(answers)[:1500]}")
    return said


class Probe:
    """One function of one tree: its working directory, environment and event files."""

    def __init__(
        self,
        name: str,
        function: str,
        cwd: Path,
        env: dict[str, str],
        event_files: list[Path],
        flags: tuple[str, ...] = (),
    ) -> None:
        self.name, self.function, self.cwd, self.env, self.event_files = name, function, cwd, env, event_files
        self.flags = flags
        self.samples: list[float] = []
        self.cpu_samples: list[float] = []
        self.answered = ""

    def once(self, n: int) -> tuple[float, float]:
        """One cold start with the n-th event file (the import's uploads differ per run):
        its wall-clock seconds and the probe process's CPU seconds."""
        event_file = self.event_files[n % len(self.event_files)]
        probe = str(BENCH_DIR / "_coldstart_probe.py")
        answer = _run(self.cwd, self.env, probe, self.function, str(event_file), flags=self.flags)
        self.answered = _check(self.function, answer["answers"])
        return float(answer["seconds"]), float(answer["cpu_seconds"])


def _runtime(out: Path) -> Path:
    """A folder holding only what the Lambda runtime provides, linked from this venv."""
    import importlib.util

    runtime = out / "runtime"
    runtime.mkdir()
    for name in RUNTIME_PROVIDED:
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None:
            raise RuntimeError(f"{name} is not in this venv")
        origin = Path(spec.origin)
        source = origin.parent if origin.name == "__init__.py" else origin
        (runtime / source.name).symlink_to(source)
    return runtime


def _as_deployed(tree: Path, out: Path) -> Path:
    """The tree's prod deployment package, built as `make package` builds it, extracted."""
    from bench.api import _chalice_package

    dist = out / "dist"
    for attempt in range(3):  # a torn zip from Chalice's shared dependency cache is rebuilt
        shutil.rmtree(dist, ignore_errors=True)
        _chalice_package(dist, tree)
        try:
            with zipfile.ZipFile(dist / "deployment.zip") as archive:
                archive.extractall(out / "task")
            break
        except zipfile.BadZipFile:
            if attempt == 2:
                raise
            time.sleep(5)
    return out / "task"


def _lambda_env(env: dict[str, str], runtime: Path, *more: Path) -> dict[str, str]:
    """`env` for a probe run as Lambda runs it: the path the probe puts after the package."""
    return env | {"BENCH_SYS_PATH": os.pathsep.join(str(p) for p in (*more, runtime))}


LAMBDA_FLAGS = ("-I", "-S", "-B")  # no site-packages, no user site, no bytecode written


def _probes(
    label: str,
    tree: Path,
    functions: tuple[str, ...],
    setup: dict[str, Any],
    out: Path,
    runtime: Path | None = None,
) -> list[Probe]:
    env = _base_env() | setup["env"]
    flags: tuple[str, ...] = ()
    if runtime is not None:  # as deployed: `tree` is the extracted package
        env, flags = _lambda_env(env, runtime), LAMBDA_FLAGS
    probes = []
    for function in functions:
        event = setup["events"][function]
        items = event if function == "partner_import" else [event]
        files = []
        for n, item in enumerate(items):
            path = out / f"{label}-{function}-{n}.json"
            path.write_text(json.dumps(item))
            files.append(path)
        probes.append(Probe(f"{function} ({label})", function, tree, env, files, flags))
    return probes


def _imports_done(url: str, env: dict[str, str]) -> dict[str, int]:
    """How many import runs of a tree's stack closed as done, and the rows they inserted."""
    import boto3

    credentials = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}  # the emulator's dummies
    dynamodb = boto3.resource("dynamodb", region_name=REGION, endpoint_url=url, **credentials)
    table = dynamodb.Table(env["IMPORT_RUNS_TABLE"])
    items = table.scan()["Items"]  # a few dozen small items: one page
    done = [i for i in items if i.get("state") == "done"]
    inserted = sum(int((i.get("counts") or {}).get("inserted", 0)) for i in done)
    return {"runs": len(items), "done": len(done), "rows_inserted": inserted}


def _median_ms(samples: list[float]) -> float:
    return round(statistics.median(samples) * 1000, 1)


def cold_starts(runs: int) -> dict[str, Any]:
    """Every probe, one uncounted run then `runs` interleaved rounds; medians and ratios."""
    with (
        tempfile.TemporaryDirectory(prefix="bench-coldstart-") as tmp,
        emulator() as url,
        worktree_of(BEFORE) as before,
    ):
        out = Path(tmp)
        bare_dir = out / "bare"
        bare_dir.mkdir()
        (bare_dir / "app.py").write_text(BARE_APP)
        (out / "bare.json").write_text(json.dumps(_api_event("/")))
        setup_env = _base_env()
        setups = {}
        trees = (("after", PROJECT_DIR), ("before", before))
        for label, tree in trees:
            script = str(BENCH_DIR / "_coldstart_setup.py")
            setups[label] = _run(tree, setup_env, script, url, f"cs-{label}", str(runs + 1))
        if FROM == "package":
            runtime = _runtime(out)
            deployed = {label: _as_deployed(tree, out / f"package-{label}") for label, tree in trees}
            bare_env = _lambda_env(_base_env(), runtime, deployed["after"])  # its chalice runtime
            probes = [Probe("bare_chalice", "bare_chalice", bare_dir, bare_env, [out / "bare.json"], LAMBDA_FLAGS)]
            probes += _probes("before", deployed["before"], FUNCTIONS_BEFORE, setups["before"], out, runtime)
            probes += _probes("after", deployed["after"], FUNCTIONS_AFTER, setups["after"], out, runtime)
        else:
            probes = [Probe("bare_chalice", "bare_chalice", bare_dir, _base_env(), [out / "bare.json"])]
            probes += _probes("before", before, FUNCTIONS_BEFORE, setups["before"], out)
            probes += _probes("after", PROJECT_DIR, FUNCTIONS_AFTER, setups["after"], out)
        for probe in probes:  # uncounted: compile and cache bytecode, fill the page cache
            probe.once(0)
        for n in range(1, runs + 1):  # interleaved, so load on the machine hits all alike
            for probe in probes:
                seconds, cpu_seconds = probe.once(n)
                probe.samples.append(seconds)
                probe.cpu_samples.append(cpu_seconds)
        imported = {label: _imports_done(url, setups[label]["env"]) for label in setups}
    bare = _median_ms(probes[0].samples)
    by_name = {p.name: p for p in probes}
    functions: dict[str, Any] = {}
    for function in FUNCTIONS_AFTER:
        row: dict[str, Any] = {}
        for label in ("before", "after"):
            probe = by_name.get(f"{function} ({label})")
            if probe:
                ms = _median_ms(probe.samples)
                row[label] = {
                    "median_ms": ms,
                    "min_ms": round(min(probe.samples) * 1000, 1),
                    "max_ms": round(max(probe.samples) * 1000, 1),
                    "over_bare": round(ms / bare, 2),
                    # CPU time of the probe alone: less sensitive to other work on the machine.
                    "median_cpu_ms": _median_ms(probe.cpu_samples),
                    "first_event": probe.answered,
                }
        if "before" in row:
            row["after_ratio_of_before"] = round(row["after"]["over_bare"] / row["before"]["over_bare"], 2)
        functions[function] = row
    return {
        "runs": runs,
        "from": FROM,
        "bare_chalice": {
            "median_ms": bare,
            "min_ms": round(min(probes[0].samples) * 1000, 1),
            "max_ms": round(max(probes[0].samples) * 1000, 1),
            "median_cpu_ms": _median_ms(probes[0].cpu_samples),
        },
        "functions": functions,
        "before_commit": BEFORE,
        # Each upload was imported for real (the queue's answer alone would not say so).
        "import_runs_done": imported,
        "targets": {
            "jwt_authorizer_over_bare": [functions["jwt_authorizer"]["after"]["over_bare"], "≤", 4.0],
            "api_handler_ratio_of_before": [functions["api_handler"]["after_ratio_of_before"], "≤", 0.6],
        },
    }


def table(result: dict[str, Any]) -> str:
    """The figures as a plain-text table: wall clock (the targets), then CPU time."""
    bare, bare_cpu = result["bare_chalice"]["median_ms"], result["bare_chalice"]["median_cpu_ms"]
    lines = [
        f"cold start + first event, median of {result['runs']} interleaved runs "
        f"(load {result['load_1min']['start']} → {result['load_1min']['end']}); ms (× bare app)",
        f"{'function':<20}{'before':>16}{'after':>16}{'after/before':>13}{'CPU before':>16}{'CPU after':>16}",
    ]

    def cell(figures: dict[str, Any] | None, key: str, floor: float) -> str:
        return f"{figures[key]:>8.0f} ({figures[key] / floor:>4.1f}×)" if figures else f"{'-':>16}"

    for name, row in result["functions"].items():
        b, a = row.get("before"), row["after"]
        ratio = f"{row['after_ratio_of_before']:>13}" if b else f"{'-':>13}"
        lines.append(
            f"{name:<20}{cell(b, 'median_ms', bare)}{cell(a, 'median_ms', bare)}{ratio}"
            f"{cell(b, 'median_cpu_ms', bare_cpu)}{cell(a, 'median_cpu_ms', bare_cpu)}"
        )
    lines.append(f"{'bare Chalice app':<20}{bare:>8.0f}{'':>8}{bare:>8.0f}{'':>8}{'':>13}{bare_cpu:>8.0f}{'':>8}")
    lines.append(f"import runs done per tree: {result['import_runs_done']}")
    lines.append(
        "targets: jwt_authorizer ≤ 4× bare: {}×; api_handler's ratio ≤ 60% of before: {:.0%}".format(
            result["functions"]["jwt_authorizer"]["after"]["over_bare"],
            result["functions"]["api_handler"]["after_ratio_of_before"],
        )
    )
    return "\n".join(lines)


def run() -> dict[str, Any]:
    """The cold-start table; prints it, returns the figures."""
    load_before = os.getloadavg()
    result = cold_starts(int(os.environ.get("BENCH_COLDSTART_RUNS", "15")))
    result["load_1min"] = {"start": round(load_before[0], 2), "end": round(os.getloadavg()[0], 2)}
    print(table(result), flush=True)
    return result
