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
- `__pycache__` folders (the runtime compiles what it imports; a local cache of another
  build must not ride along), packages' own test folders, and `.pyi` type stubs.

Every keep pattern must match a file (a pycryptodome upgrade that renames one fails the
build here), and tests/test_package_contents.py imports each function's handler from the
pruned zip and exercises the tokens, a JWT check, a workbook and an address in it.

Usage: python infra/prune_package.py dist/deployment.zip
"""

from __future__ import annotations

import fnmatch
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


def prune(archive: Path) -> dict[str, Counter[str]]:
    """Rewrite `archive` without the dropped files; files and bytes (unzipped) removed per reason."""
    removed: dict[str, Counter[str]] = {"files": Counter(), "bytes": Counter()}
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
                matched.update(p for p in KEEP_CRYPTO if fnmatch.fnmatchcase(info.filename, p))
                # The same ZipInfo: name, date, permissions and compression as Chalice wrote them.
                target.writestr(info, source.read(info))
        missing = [p for p in KEEP_CRYPTO if p not in matched]
        if missing:
            raise SystemExit(f"prune_package: no file in the package matches {missing}: update KEEP_CRYPTO")
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
    before = archive.stat().st_size
    removed = prune(archive)
    after = archive.stat().st_size
    for reason, files in sorted(removed["files"].items()):
        print(f"  dropped {files:5d} files, {removed['bytes'][reason] / MB:6.2f} MB unzipped: {reason}")
    print(f"{archive}: {before / MB:.2f} MB -> {after / MB:.2f} MB zipped (MB = 2**20 bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
