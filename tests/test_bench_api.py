"""Keeps bench/api.py from rotting: its cheapest part runs here, on shape only (no timing asserts)."""

from __future__ import annotations

from bench import api
from tests.template import FUNCTION_HANDLERS


def test_cold_import_measures_every_function_and_a_bare_chalice_app() -> None:
    result = api.cold_import(runs=2)
    for side in ("app", "bare_chalice"):
        summary = result[side]
        assert summary["runs"] == 2
        assert set(summary) == {"runs", "median_ms", "min_ms", "max_ms"}
        assert 0 < summary["min_ms"] <= summary["median_ms"] <= summary["max_ms"]
    assert isinstance(result["app_over_bare_ms"], float)
    assert (
        set(result["functions"])
        == set(api.FUNCTION_IMPORTS)
        == set(FUNCTION_HANDLERS.values())  # every function the package deploys
    )
    for summary in result["functions"].values():
        assert summary["runs"] == 2 and summary["over_bare"] > 0
    packages = result["app_import_by_package"]
    assert packages and all(set(p) == {"package", "ms"} for p in packages)
    assert "chalice" in {p["package"] for p in packages} or "chalicelib" in {p["package"] for p in packages}
    line = api.table({"cold_import": result})
    assert line.startswith("cold import (median of 2)")


def test_percentile_is_nearest_rank() -> None:
    ms = [float(v) for v in range(1, 201)]
    assert api.percentile(ms, 50) == 100.0
    assert api.percentile(ms, 99) == 198.0
    assert api.percentile(ms, 100) == 200.0
    assert api.percentile([7.0], 99) == 7.0
