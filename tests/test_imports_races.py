"""What an import does to staff corrections, legal holds and deletions that happen around it.

The concurrent change is made from inside the pipeline's own provenance read (the
chunk's BatchGetItem), i.e. after the import has looked at the table and before it
writes: the window a real concurrent request could hit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib import clock
from chalicelib.audit import Access
from tests.aws_calls import as_function
from tests.conftest import Stack, call, setup_actor
from tests.imports_helpers import csv_bytes, drain, prospect_items, report, runs_of, upload

ROW = ["Kunta Oy", "Liisa Lähde", "Johtaja", "liisa@kunta.fi", "040 111 2222"]
CHANGED = ["Kunta Oy", "Liisa Lähde", "Sosiaalijohtaja", "liisa@kunta.fi", "040 111 2222"]
T0 = datetime(2026, 1, 5, 10, tzinfo=UTC)


def _profile(stack: Stack) -> dict[str, Any]:
    [p] = [i for i in prospect_items(stack) if i["sk"] == "PROFILE"]
    return p


def _import(stack: Stack, rows: list[list[str]], at: datetime, name: str = "a.csv") -> dict[str, Any]:
    with clock.frozen(at):
        upload(stack, f"incoming/acme/{name}", csv_bytes(rows))
        drain(stack)
    return runs_of(stack, "acme")[-1]


def test_unchanged_row_after_reverify_period_keeps_the_staff_correction(stack: Stack, client: Any, tokens: Any) -> None:
    _import(stack, [ROW], T0)
    pid = _profile(stack)["prospect_id"]
    with clock.frozen(T0 + timedelta(days=1)):
        status, _ = call(
            client, "PATCH", f"/prospects/{pid}", tokens.staff, {"title": "Sosiaalijohtaja", "phone": None}
        )
    assert status == 200
    run = _import(stack, [ROW], T0 + timedelta(days=40))
    assert run["counts"]["reverified"] == 1 and run["counts"]["updated"] == 0
    p = _profile(stack)
    assert p["title"] == "Sosiaalijohtaja" and "phone" not in p  # the correction stays
    assert p["last_verified"].startswith((T0 + timedelta(days=40)).date().isoformat())  # the clock moved
    assert p["staff_verified_at"].startswith((T0 + timedelta(days=1)).date().isoformat())
    # A changed row is newer information from the source: it replaces the correction.
    _import(stack, [[*CHANGED[:2], "Johtaja", CHANGED[3], "040 999 8888"]], T0 + timedelta(days=41), "b.csv")
    assert "phone" in _profile(stack)


@pytest.fixture
def meanwhile(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[Callable[[], None]], None]]:
    """Run an action once, right after the import's provenance read of a chunk.

    The action is another function's work done meanwhile (staff or the DPO through the API),
    so its AWS calls are checked against the API's role, not the import's.
    """
    from chalicelib import prospects
    from chalicelib.imports import pipeline

    real = pipeline.batch_get
    pending: list[Callable[[], None]] = []

    def batch_get(keys: Any, projection: Any, sleep: Any, **kwargs: Any) -> Any:
        found = real(keys, projection, sleep, **kwargs)
        if projection == prospects.META and pending:
            with as_function("api_handler"):  # another actor's action, checked against its own role
                pending.pop()()
        return found

    monkeypatch.setattr(pipeline, "batch_get", batch_get)
    yield pending.append


def test_legal_hold_set_while_importing_is_kept(stack: Stack, meanwhile: Any) -> None:
    from chalicelib import retention

    _import(stack, [ROW], T0)
    pid = _profile(stack)["prospect_id"]
    meanwhile(lambda: retention.set_legal_hold("prospect", pid, "case 12/2026", "dpo-1"))
    run = _import(stack, [CHANGED], T0 + timedelta(days=2), "b.csv")
    assert run["counts"]["updated"] == 1
    p = _profile(stack)
    assert p["title"] == "Sosiaalijohtaja"
    assert p["legal_hold"]["reason"] == "case 12/2026"


def test_objection_while_importing_is_not_undone(stack: Stack, meanwhile: Any) -> None:
    from chalicelib import retention, suppression

    _import(stack, [ROW], T0)

    profile = _profile(stack)

    def objection() -> None:
        suppression.suppress(ROW[3], "objection", setup_actor())
        access = Access("delete", "prospects", str(profile["prospect_id"]), ())
        retention.delete_prospect(profile, setup_actor().put(access), actor=setup_actor())

    meanwhile(objection)
    run = _import(stack, [CHANGED], T0 + timedelta(days=2), "b.csv")
    assert prospect_items(stack) == []
    assert run["counts"]["updated"] == 0 and run["counts"]["rejected"] == 1
    assert run["rejected_by_reason"] == {"not_imported": 1}
    assert [r["reason"] for r in report(stack, run)["rejected_rows"]] == ["not_imported"]


def test_staff_deletion_while_importing_is_not_undone(stack: Stack, client: Any, tokens: Any, meanwhile: Any) -> None:
    _import(stack, [ROW], T0)
    pid = _profile(stack)["prospect_id"]
    meanwhile(lambda: call(client, "DELETE", f"/prospects/{pid}", tokens.staff))
    run = _import(
        stack, [CHANGED, ["Muu Oy", "Matti M", "Johtaja", "matti@muu.fi", ""]], T0 + timedelta(days=2), "b.csv"
    )
    assert [i["email"] for i in prospect_items(stack)] == ["matti@muu.fi"]
    assert run["counts"]["inserted"] == 1 and run["counts"]["updated"] == 0
    assert run["rejected_by_reason"] == {"changed_meanwhile": 1}


def test_staff_correction_while_importing_an_unchanged_row_is_kept(
    stack: Stack, client: Any, tokens: Any, meanwhile: Any
) -> None:
    _import(stack, [ROW], T0)
    pid = _profile(stack)["prospect_id"]
    at = T0 + timedelta(days=40)
    meanwhile(lambda: call(client, "PATCH", f"/prospects/{pid}", tokens.staff, {"phone": None}))
    _import(stack, [ROW], at, "b.csv")
    assert "phone" not in _profile(stack)


def test_same_message_delivered_twice_at_once_is_refused_by_the_lease(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A standard queue may hand the same message (same message id) to two invocations."""
    from chalicelib.imports import messages, pipeline
    from tests.imports_helpers import receive

    upload(stack, "incoming/acme/a.csv", csv_bytes([ROW]))
    [message] = [m for m in receive(stack) if "Records" in m["Body"]]
    real = pipeline.Importer.import_rows
    second: list[list[str]] = []

    def import_rows(self: Any, upload: Any) -> bool:
        if not second:  # while the first copy holds the run, the second copy arrives
            second.append(messages.handle_message(message["Body"], message["MessageId"], 1, lambda: 900.0))
        return bool(real(self, upload))

    monkeypatch.setattr(pipeline.Importer, "import_rows", import_rows)
    first = messages.handle_message(message["Body"], message["MessageId"], 1, lambda: 900.0)
    [run] = runs_of(stack, "acme")
    assert second == [[f"busy:{run['run_id']}"]]
    assert first == [f"done:{run['run_id']}"]
    assert run["counts"]["inserted"] == 1 and run["counts"]["rejected"] == 0


def test_writes_left_after_a_retry_or_a_slow_request_are_rechecked_again(monkeypatch: pytest.MonkeyPatch) -> None:
    """One re-check covers the requests sent right after it, not those after a retry or a delay."""
    from chalicelib.imports import pipeline

    class Client:
        requests = 0

        def batch_write_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:  # noqa: N803 (boto3 name)
            self.requests += 1
            (items,) = RequestItems.values()
            return {"UnprocessedItems": {"t": items[:5]}} if self.requests == 1 else {}

    def run(fresh_seconds: float) -> list[int]:
        monkeypatch.setattr(pipeline, "RECHECK_FRESH_SECONDS", fresh_seconds)
        rechecked: list[int] = []

        def recheck(entries: list[Any]) -> list[Any]:
            rechecked.append(len(entries))
            return entries

        writer = pipeline.ItemWriter("t", client=Client(), sleep=lambda _: None, recheck=recheck)
        for n in range(100):
            writer.put({"pk": f"PROSPECT#{n}", "sk": "PROFILE"})
        writer.flush()
        assert writer.items_written == 100
        return rechecked

    # The first request is partly throttled: the 75 not yet sent are re-checked again.
    assert run(60.0) == [100, 75]
    # Every request slower than the freshness limit: the rest is re-checked before each.
    assert run(-1.0) == [100, 75, 50, 25]
