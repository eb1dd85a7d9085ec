"""The pruned Lambda package (dist/deployment.zip) still does everything its functions use.

`make package` removes from Chalice's zip what no function imports (infra/prune_package.py:
dnspython, most of pycryptodome, caches, stubs). This proves the removal on the zip itself:
it is extracted to a temporary folder and a fresh `python -I -S` (no site-packages, so no
development library can stand in for a missing one) gets only that folder and what the Lambda
runtime provides (boto3, botocore and their dependencies, linked from this venv). There it
imports every function's handler module and what their first events load, every pycryptodome
module left in, and exercises: an unsubscribe token round trip, a privacy-center session
round trip, the authorizer on an RS256 token checked against a JWK (and refusing `none` and
HS256 tokens), an .xlsx upload read through openpyxl, and an address validated.

The zip is dist/deployment.zip when it is newer than its sources (`make unit` packages
first); otherwise it is built into a temporary folder the way `make package` builds it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.server
import importlib.util
import json
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.imports_helpers import xlsx_bytes
from tests.template import FUNCTION_HANDLERS, MERGE_TEMPLATE, REGION, ROOT, STAGE

PRUNER = ROOT / "infra" / "prune_package.py"
# What the Lambda Python runtime itself provides (requirements.txt leaves these out).
RUNTIME_PROVIDED = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six")
# What each function's first event imports on first use (see tests/test_cold_imports.py).
FIRST_EVENT_MODULES = (
    "chalicelib.imports.messages",
    "chalicelib.retention",
    "chalicelib.rekeying",
    "chalicelib.campaigns",
    "chalicelib.mail.jobs",
    "chalicelib.mail.feedback",
    "chalicelib.imports.read",
)
POOL, CLIENT = f"{REGION}_pkgtest", "package-test-client"
KEY = "k" * 40  # the unsubscribe keyring's one key (v1), as Secrets Manager would hand it


def _sources_mtime() -> float:
    paths = [ROOT / "app.py", ROOT / "requirements.txt", PRUNER, *(ROOT / "chalicelib").rglob("*")]
    return max(p.stat().st_mtime for p in paths if p.is_file())


@cache
def deployment_zip() -> Path:
    """dist/deployment.zip if fresh, else one built as `make package` builds it."""
    dist = ROOT / "dist" / "deployment.zip"
    if dist.exists() and dist.stat().st_mtime >= _sources_mtime():
        return dist
    out = Path(tempfile.mkdtemp(prefix="ilopiste-package-")) / "dist"
    chalice = Path(sys.executable).parent / "chalice"
    steps = [
        [
            *(str(chalice), "--project-dir", str(ROOT), "package", "--stage", STAGE),
            *("--merge-template", str(MERGE_TEMPLATE), str(out)),
        ],
        [sys.executable, str(PRUNER), str(out / "deployment.zip")],
    ]
    for argv in steps:
        result = subprocess.run(  # noqa: S603 (fixed argv, our own tools)
            argv,
            capture_output=True,
            text=True,
            env={"AWS_DEFAULT_REGION": REGION, "PATH": "/usr/bin:/bin"},
            timeout=600,
            check=False,
        )
        assert result.returncode == 0, f"{argv[:2]} failed:\n{result.stdout}\n{result.stderr}"
    return out / "deployment.zip"


@pytest.fixture(scope="module")
def lambda_root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    """(the extracted package, a folder holding only what the runtime provides)."""
    base = tmp_path_factory.mktemp("lambda")
    task, runtime = base / "task", base / "runtime"
    with zipfile.ZipFile(deployment_zip()) as archive:
        archive.extractall(task)
    runtime.mkdir()
    for name in RUNTIME_PROVIDED:
        spec = importlib.util.find_spec(name)
        assert spec is not None and spec.origin is not None, f"{name} is not in the dev venv"
        origin = Path(spec.origin)
        source = origin.parent if origin.name == "__init__.py" else origin
        (runtime / source.name).symlink_to(source)
    yield task, runtime


@pytest.fixture(scope="module")
def signing() -> Iterator[tuple[rsa.RSAPrivateKey, str]]:
    """An RSA key pair made here (cryptography, a dev dependency) and its JWKS served on loopback."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    numbers = private.public_key().public_numbers()

    def b64(value: int) -> str:
        return base64.urlsafe_b64encode(value.to_bytes((value.bit_length() + 7) // 8, "big")).decode().rstrip("=")

    jwks = {
        "keys": [
            # Keys the authorizer must pass over, listed first: encryption, another algorithm.
            {"kty": "RSA", "kid": "enc", "use": "enc", "alg": "RS256", "n": b64(numbers.n), "e": b64(numbers.e)},
            {"kty": "RSA", "kid": "k512", "use": "sig", "alg": "RS512", "n": b64(numbers.n), "e": b64(numbers.e)},
            {"kty": "RSA", "kid": "pkg", "use": "sig", "alg": "RS256", "n": b64(numbers.n), "e": b64(numbers.e)},
        ]
    }
    body = json.dumps(jwks).encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield private, f"http://127.0.0.1:{server.server_port}/jwks.json"
    server.shutdown()


def _token(private: rsa.RSAPrivateKey, kid: str = "pkg", **claims: Any) -> str:
    now = int(time.time())
    payload = {
        "sub": "u-1",
        "iss": f"https://cognito-idp.{REGION}.amazonaws.com/{POOL}",
        "aud": CLIENT,
        "token_use": "id",
        "iat": now,
        "exp": now + 600,
        "cognito:groups": ["staff"],
        "cognito:username": "sari",
        **claims,
    }
    return jwt.encode(payload, private, algorithm="RS256", headers={"kid": kid})


def _public_pem(private: rsa.RSAPrivateKey) -> bytes:
    return private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _hand_signed(private: rsa.RSAPrivateKey, alg: str, secret: bytes) -> str:
    """The claims of a good token under another `alg`, signed by hand (PyJWT refuses to)."""
    claims = jwt.decode(_token(private), options={"verify_signature": False})

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).decode().rstrip("=")

    signing_input = f"{b64(json.dumps({'alg': alg, 'kid': 'pkg'}).encode())}.{b64(json.dumps(claims).encode())}"
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest() if secret else b""
    return f"{signing_input}.{b64(signature)}"


# Runs inside the extracted package. Prints one JSON object of findings.
SCRIPT = r"""
import importlib, importlib.util, json, os, sys, time
task, runtime, tokens, workbook, handlers = sys.argv[1:6]
sys.path[:0] = [task, runtime]
out = {}

# 1. Every handler module and what first events load, from the package alone.
for name in json.loads(handlers):
    importlib.import_module(name)
# ... each with its bytecode in the package (a cold start must not compile what it loads).
def _has_bytecode(path):
    cached = importlib.util.cache_from_source(path)
    if not os.path.exists(cached):
        return False
    with open(cached, "rb") as fh:
        return fh.read(8) == importlib.util.MAGIC_NUMBER + (1).to_bytes(4, "little")
out["without_bytecode"] = sorted(
    module.__file__[len(task) + 1:] for module in list(sys.modules.values())
    if (getattr(module, "__file__", None) or "").startswith(task) and module.__file__.endswith(".py")
    and not _has_bytecode(module.__file__)
)
# 2. Every pycryptodome module left in imports (no dangling import after the pruning).
# (Python modules only: its .so files are loaded by ctypes, not imported, and are used below.)
from pathlib import Path
crypto = sorted(
    ".".join(p.relative_to(task).with_suffix("").parts).removesuffix(".__init__")
    for p in Path(task, "Crypto").rglob("*.py")
)
for name in crypto:
    importlib.import_module(name)
out["crypto_modules"] = len(crypto)
out["absent"] = sorted(n for n in ("cryptography", "cffi", "dns") if importlib.util.find_spec(n) is not None)

# 3. Link tokens: the keyring as Secrets Manager would hand it, cached as the code caches it.
from chalicelib import privacy_center, secrets, unsubscribe
from chalicelib.config import settings
secrets._cache[settings().unsubscribe_secret] = (time.monotonic() + 3600, secrets.parse_keyring(os.environ["PKG_KEY"]))
token = unsubscribe.issue("Maija.Meikalainen@Example.FI")
out["unsubscribe"] = unsubscribe.read(token)
session_token, _ = privacy_center.seal_session("case-1", "maija@example.fi", "fi")
session = privacy_center.open_session(session_token)
out["session"] = [session.case_id, session.email, session.lang]

# 4. The authorizer Lambda's handler on real tokens.
from chalicelib.api.authorizer import jwt_authorizer
arn = "arn:aws:execute-api:eu-north-1:123456789012:abcdef/api/GET/customers"
results = {}
for label, value in json.loads(tokens).items():
    event = {"type": "TOKEN", "authorizationToken": "Bearer " + value, "methodArn": arn}
    try:
        policy = jwt_authorizer(event, None)
        results[label] = [policy["principalId"], policy["context"]["roles"]]
    except Exception as exc:
        results[label] = type(exc).__name__ + ": " + str(exc)
out["authorizer"] = results

# 5. An .xlsx upload as the import reads it, and an address validated.
from chalicelib.imports.read import open_upload
with open(workbook, "rb") as fh:
    upload = open_upload(fh, "partners/p1/list.xlsx")
    out["xlsx"] = [upload.format, [row for _, row in upload.rows]]
from chalicelib.validation import checked_email
out["email"] = checked_email(" Maija@Example.FI ")

out["loaded_from_elsewhere"] = sorted(
    name for name, module in list(sys.modules.items())
    if getattr(module, "__file__", None)
    and not module.__file__.startswith((task, runtime, sys.base_prefix))
)
out["cffi_loaded"] = "cffi" in sys.modules
print(json.dumps(out))
"""


def test_the_pruned_package_runs_every_function(
    lambda_root: tuple[Path, Path], signing: tuple[rsa.RSAPrivateKey, str], tmp_path: Path
) -> None:
    task, runtime = lambda_root
    private, jwks_url = signing
    tokens = {
        "good": _token(private),
        # Valid in every claim and naming a known key: refused for the algorithm alone.
        "none": _hand_signed(private, "none", b""),
        # The classic confusion: HS256 with the public key's PEM as the HMAC secret.
        "hs256": _hand_signed(private, "HS256", _public_pem(private)),
        "unknown_kid": _token(private, kid="nobody"),
        "rs512_key": _token(private, kid="k512"),
        "enc_key": _token(private, kid="enc"),
        "expired": _token(private, iat=int(time.time()) - 7200, exp=int(time.time()) - 3600),
        "other_client": _token(private, aud="someone-else"),
    }
    workbook = tmp_path / "list.xlsx"
    workbook.write_bytes(xlsx_bytes([["Esimerkki Oy", "Maija Meikäläinen", "Toimitusjohtaja", "maija@example.fi", ""]]))
    handlers = sorted({handler.rsplit(".", 1)[0] for handler in FUNCTION_HANDLERS} | set(FIRST_EVENT_MODULES))
    env = {
        "PATH": "/usr/bin:/bin",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",  # no AWS call is made; botocore only wants them present
        "AWS_SECRET_ACCESS_KEY": "testing",
        "STAGE": "dev",  # the JWKS URL override is refused in prod
        "USER_POOL_ID": POOL,
        "USER_POOL_CLIENT_ID": CLIENT,
        "COGNITO_JWKS_URL": jwks_url,
        "PKG_KEY": KEY,
    }
    result = subprocess.run(  # noqa: S603 (our own interpreter, a fixed script)
        [
            sys.executable,
            "-I",
            "-S",
            "-c",
            SCRIPT,
            *(str(task), str(runtime)),
            *(json.dumps(tokens), str(workbook)),
            json.dumps(handlers),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert found["absent"] == [], "the package must not carry these"
    # A module a cold start loads without bytecode: add it to COMPILE in infra/prune_package.py.
    assert found["without_bytecode"] == []
    assert found["crypto_modules"] > 10
    assert found["unsubscribe"] == "maija.meikalainen@example.fi"
    assert found["session"] == ["case-1", "maija@example.fi", "fi"]
    authorizer = found["authorizer"]
    assert authorizer["good"] == ["u-1", "staff"]
    for refused in ("none", "hs256", "unknown_kid", "rs512_key", "enc_key", "expired", "other_client"):
        assert authorizer[refused] == "Unauthorized: Unauthorized", refused
    assert found["xlsx"][0] == "xlsx"
    assert [row.get("email") for row in found["xlsx"][1]] == ["maija@example.fi"]
    assert found["email"] == "maija@example.fi"
    assert found["loaded_from_elsewhere"] == [], "a module came from outside the package and the runtime"
    assert found["cffi_loaded"] is False


def test_the_package_is_lean() -> None:
    """≤ 8 MB zipped (issue 13), and what was pruned is gone."""
    archive = deployment_zip()
    assert archive.stat().st_size <= 8 * 1024 * 1024
    with zipfile.ZipFile(archive) as zf:
        names = zf.namelist()
    assert not [n for n in names if n.startswith(("dns/", "cryptography/", "cffi/", "Crypto/SelfTest/"))]
    # Bytecode only as the pruner writes it: unchecked-hash pycs of the sources beside them,
    # for this (the runtime's) Python; nothing cached by another build.
    with zipfile.ZipFile(archive) as zf:
        for name in (n for n in names if "/__pycache__/" in f"/{n}"):
            folder, _, file = name.rpartition("__pycache__/")
            module, tag, ext = file.rsplit(".", 2)
            assert (tag, ext) == (sys.implementation.cache_tag, "pyc"), name
            source = zf.read(f"{folder}{module}.py")
            unchecked = importlib.util.MAGIC_NUMBER + (1).to_bytes(4, "little")
            assert zf.read(name)[:16] == unchecked + importlib.util.source_hash(source), name
    assert "Crypto/Cipher/_raw_aesni.abi3.so" in names  # the accelerated variants stay
