"""Drop from the Lambda package what no function uses; `make package` runs it after Chalice.

Chalice vendors every transitive dependency of requirements.txt and cannot leave any out,
so this rewrites dist/deployment.zip without (issue 13; docs/benchmarks.md "Package contents"):

- dnspython (`dns/`): email-validator imports it only to check deliverability, and every
  address is validated with `check_deliverability=False` (chalicelib/validation.py);
- the parts of pycryptodome (`Crypto/`) the code does not use: it needs AES-GCM
  (chalicelib/aead.py) alone (RS256 is verified with `pow` and `hashlib`, chalicelib/rs256.py).
  `KEEP_CRYPTO` lists what that loads, with each accelerated native variant (AES-NI, CLMUL
  GHASH, SHA-NI, BMI2/ADX), which pycryptodome picks at run time by
  the CPU and silently replaces by the portable one when missing; its self-tests and every
  other cipher, hash, curve and protocol go;
- `__pycache__` folders (a local cache of another build must not ride along: the bytecode
  shipped is written below), packages' own test folders, and `.pyi` type stubs.

Then it adds bytecode for what cold starts load (`COMPILE`): Lambda's `/var/task` is
read-only and a package without bytecode makes every cold start compile each module it
imports, about half of the API's cold start. Each `.py` matching `COMPILE` gets its `.pyc`
beside it in `__pycache__`, compiled by this interpreter (which must be the Lambda runtime's
Python version: the template's `Runtime` is checked) as an *unchecked-hash* pyc (PEP 552):
the runtime loads it without comparing file dates, which a zip does not keep exactly.
Sources stay, for tracebacks; only modules cold starts load are compiled, so the zip stays
small (the rest, such as phone-number region data or unused Powertools utilities, compiles
on the rare first use).

Every keep and compile pattern must match a file (a dependency upgrade that renames one
fails the build here), and tests/test_package_contents.py imports each function's handler
from the pruned zip, exercises the tokens, a JWT check, a workbook and an address in it, and
checks that every module it loaded from the package came with its bytecode.

Usage: python infra/prune_package.py dist/deployment.zip  (dist/sam.json beside it)
"""

from __future__ import annotations

import fnmatch
import importlib.util
import json
import marshal
import os
import shutil
import sys
import tempfile
import zipfile
from collections import Counter
from pathlib import Path

# pycryptodome files the Lambda needs; `*` also matches `/`, so a folder pattern keeps it whole.
KEEP_CRYPTO = (
    "Crypto/__init__.py",
    "Crypto/py.typed",
    "Crypto/Util/*",  # raw API loader, cpuid, number, asn1, strxor: used by all below
    "Crypto/Math/*",  # Crypto.Util.number's integers (portable and BMI2/ADX native)
    "Crypto/Random/*",
    "Crypto/Cipher/__init__.py",
    "Crypto/Cipher/AES.py",
    "Crypto/Cipher/_state_machine.py",
    "Crypto/Cipher/_mode_gcm.py",
    "Crypto/Cipher/_mode_ctr.py",  # GCM encrypts in CTR mode
    "Crypto/Cipher/_mode_ecb.py",  # GCM derives its hash key with one ECB block
    "Crypto/Cipher/_raw_aes.*",
    "Crypto/Cipher/_raw_aesni.*",
    "Crypto/Cipher/_raw_ctr.*",
    "Crypto/Cipher/_raw_ecb.*",
    "Crypto/Hash/__init__.py",
    "Crypto/Hash/SHA256.py",
    "Crypto/Hash/_SHA256.*",
    "Crypto/Hash/_SHA256_shani.*",
    "Crypto/Hash/_ghash_portable.*",
    "Crypto/Hash/_ghash_clmul.*",
)
# The modules cold starts load (every function's handler module and its first events; the
# import's workbook reader), compiled into the package. `*` also matches `/`.
COMPILE = (
    "app.py",
    "chalicelib/*.py",
    "chalice/*.py",
    "pydantic/*.py",
    "pydantic_core/*.py",
    "typing_extensions.py",
    "typing_inspection/*.py",
    "annotated_types/*.py",
    "jwt/*.py",
    "jmespath/*.py",
    "Crypto/__init__.py",
    "Crypto/Cipher/*.py",
    "Crypto/Hash/*.py",
    "Crypto/Random/*.py",
    "Crypto/Util/*.py",
    "email_validator/*.py",
    "idna/*.py",
    "phonenumbers/*.py",
    "charset_normalizer/*.py",
    "aws_lambda_powertools/__init__.py",
    "aws_lambda_powertools/package_logger.py",
    "aws_lambda_powertools/exceptions/*.py",
    "aws_lambda_powertools/logging/*.py",
    "aws_lambda_powertools/metrics/*.py",
    "aws_lambda_powertools/middleware_factory/*.py",
    "aws_lambda_powertools/shared/*.py",
    "aws_lambda_powertools/tracing/*.py",
    "aws_lambda_powertools/warnings/*.py",
    "aws_lambda_powertools/utilities/__init__.py",
    "aws_lambda_powertools/utilities/batch/*.py",
    "aws_lambda_powertools/utilities/jmespath_utils/*.py",
    "aws_lambda_powertools/utilities/typing/*.py",
)
# Not compiled inside those, as no cold start loads them: pydantic's v1 and deprecated APIs,
# phone-number metadata per region (one or two of hundreds loaded, for a number's country),
# and idna's UTS 46 table (only for internationalised domain names). Nor is openpyxl (with
# defusedxml and et_xmlfile): it loads with the first workbook, an .xlsx upload or a call
# list's download, never with a cold start's first event.
COMPILE_EXCEPT = (
    "pydantic/v1/*",
    "pydantic/deprecated/*",
    "pydantic/experimental/*",
    "phonenumbers/data/*",
    "phonenumbers/shortdata/*",
    "idna/uts46data.py",
)
MB = 1024 * 1024  # as bench/api.py and docs/benchmarks.md count
# Whole top-level entries no function imports.
DROP_TOP = ("dns/", "dnspython-")
# Packages' own test suites (folders of these names below a package's top level).
TEST_FOLDERS = ("tests", "test", "SelfTest")


def _kept_crypto(name: str) -> bool:
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in KEEP_CRYPTO)


def drop_reason(name: str) -> str | None:
    """Why `name` (a path inside the zip) leaves the package, or None if it stays."""
    parts = name.split("/")
    if "__pycache__" in parts[:-1]:
        return "__pycache__"
    if name.endswith(".pyi"):
        return "type stubs"
    if name.startswith(DROP_TOP):
        return "dnspython"
    if name.startswith("Crypto/") and not name.endswith("/") and not _kept_crypto(name):
        return "pycryptodome unused"
    # Below a third-party package's top level only: our own chalicelib has no tests in it.
    if parts[0] != "chalicelib" and any(part in TEST_FOLDERS for part in parts[1:-1]):
        return "package tests"
    return None


def compiled(name: str) -> bool:
    """Whether `name` (a path inside the zip) is shipped with its bytecode."""
    return (
        name.endswith(".py")
        and any(fnmatch.fnmatchcase(name, p) for p in COMPILE)
        and not any(fnmatch.fnmatchcase(name, p) for p in COMPILE_EXCEPT)
    )


def bytecode(source: bytes, name: str) -> bytes:
    """An unchecked-hash pyc of `source` (PEP 552: magic, flags 0b01, source hash, code)."""
    # optimize=0 whatever this interpreter's -O: asserts stay, as the runtime runs without -O.
    code = compile(source, f"/var/task/{name}", "exec", dont_inherit=True, optimize=0)
    flags = (0b01).to_bytes(4, "little")  # hash-based, check_source off
    return importlib.util.MAGIC_NUMBER + flags + importlib.util.source_hash(source) + marshal.dumps(code)


def check_runtime(template: Path) -> None:
    """Bytecode is only read by the Python version that wrote it: this must be the runtime's."""
    mine = f"python{sys.version_info.major}.{sys.version_info.minor}"
    document = json.loads(template.read_text())
    default = document.get("Globals", {}).get("Function", {}).get("Runtime")
    runtimes = {
        res["Properties"].get("Runtime", default)
        for res in document["Resources"].values()
        if res.get("Type") == "AWS::Serverless::Function"
    }
    if runtimes != {mine}:
        raise SystemExit(f"prune_package: the functions run {sorted(runtimes)}, this is {mine}: no bytecode")


def prune(archive: Path) -> dict[str, Counter[str]]:
    """Rewrite `archive` without the dropped files and with cold starts' bytecode.

    Returns files and bytes (unzipped) removed per reason, and under "added" the bytecode's.
    """
    removed: dict[str, Counter[str]] = {"files": Counter(), "bytes": Counter(), "added": Counter()}
    matched: set[str] = set()
    fd, tmp_name = tempfile.mkstemp(suffix=".zip", dir=archive.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        with zipfile.ZipFile(archive) as source, zipfile.ZipFile(tmp, "w") as target:
            for info in source.infolist():
                reason = drop_reason(info.filename)
                if reason:
                    removed["files"][reason] += 1
                    removed["bytes"][reason] += info.file_size
                    continue
                matched.update(p for p in (*KEEP_CRYPTO, *COMPILE) if fnmatch.fnmatchcase(info.filename, p))
                # The same ZipInfo: name, date, permissions and compression as Chalice wrote them.
                data = source.read(info)
                target.writestr(info, data)
                if compiled(info.filename):
                    pyc = zipfile.ZipInfo(importlib.util.cache_from_source(info.filename), info.date_time)
                    pyc.external_attr, pyc.compress_type = info.external_attr, zipfile.ZIP_DEFLATED
                    target.writestr(pyc, bytecode(data, info.filename))
                    removed["added"]["files"] += 1
                    removed["added"]["bytes"] += pyc.file_size
        missing = [p for p in (*KEEP_CRYPTO, *COMPILE) if p not in matched]
        if missing:
            raise SystemExit(f"prune_package: no file in the package matches {missing}: update KEEP_CRYPTO or COMPILE")
        shutil.copymode(archive, tmp)  # mkstemp's file is private; keep the original's mode
        tmp.replace(archive)
    finally:
        tmp.unlink(missing_ok=True)
    return removed


def main(argv: list[str]) -> int:
    """Prune the zip named on the command line and say what went."""
    if len(argv) != 1:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    archive = Path(argv[0])
    check_runtime(archive.parent / "sam.json")
    before = archive.stat().st_size
    removed = prune(archive)
    after = archive.stat().st_size
    for reason, files in sorted(removed["files"].items()):
        print(f"  dropped {files:5d} files, {removed['bytes'][reason] / MB:6.2f} MB unzipped: {reason}")
    added = removed["added"]
    print(f"  added   {added['files']:5d} files, {added['bytes'] / MB:6.2f} MB unzipped: bytecode of cold starts")
    print(f"{archive}: {before / MB:.2f} MB -> {after / MB:.2f} MB zipped (MB = 2**20 bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
