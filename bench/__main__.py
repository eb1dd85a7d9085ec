"""Run every benchmark module (or those named on the command line) and print their figures.

Each `bench/<name>.py` exposes `run() -> dict[str, object]`; results are printed as JSON
and written to bench/results/<name>.json for the README.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
import sys
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def main(names: list[str]) -> int:
    available = sorted(m.name for m in pkgutil.iter_modules([str(Path(__file__).parent)]) if not m.name.startswith("_"))
    chosen = names or available
    RESULTS.mkdir(exist_ok=True)
    for name in chosen:
        if name not in available:
            print(f"unknown benchmark {name!r}; available: {', '.join(available)}", file=sys.stderr)
            return 2
        result = importlib.import_module(f"bench.{name}").run()
        (RESULTS / f"{name}.json").write_text(json.dumps(result, indent=2))
        print(json.dumps({name: result}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
