"""Keeps bench/imports_scale.py from rotting: a small list through the same harness, on shape
and correctness only (the harness itself asserts the imports' counts; nothing is timed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import _emulator, imports_scale


def test_a_small_list_through_the_lambda_harness(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(imports_scale, "BASELINE_ROWS", 200)
    for var in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    _emulator.prepare_environment()
    # 33 s of budget leaves 3 s a segment past the import's 30-second reserve: a few segments.
    result = imports_scale._one(1500, tmp_path, timeout=33.0)
    assert result["rows_good_bad_duplicate"] == [1484, 15, 1]
    for run in (result, result["ten_percent_changed"]):
        assert run["segments"] == run["follow_up_messages"] + 1
        assert 0 < run["dynamodb_requests_per_row"] < 2
        assert run["peak_rss_mib"] >= run["rss_after_load_mib"] > 0
    # Row events go out 25 a request (a partial one where a checkpoint or a segment ends), none
    # one by one: only a row a crashed delivery wrote has its event put alone.
    first = result["requests"]
    events = first["dynamodb:BatchWriteItem:audit"]
    assert -(-1484 // 25) <= events <= -(-1484 // 25) + result["segments"]
    assert "dynamodb:PutItem:audit" not in first
    assert result["ten_percent_changed"]["rows_changed"] == 150
    baseline = result["baseline"]
    assert baseline["rows_written"] == 200 and baseline["requests"] == {"PutItem": 400}
    assert baseline["requests_per_row_written"] == 2.0
    assert not list(tmp_path.iterdir())  # the generated files are removed
