"""Partner uploads end to end under mock_aws: S3 → notification → SQS → partner_import."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib import clock
from tests.conftest import Stack, register_partner, setup_actor
from tests.imports_helpers import (
    HEADER_EN,
    HEADER_FI,
    all_prospect_items,
    csv_bytes,
    drain,
    invoke,
    object_versions,
    prospect_items,
    receive,
    report,
    runs_of,
    s3,
    source_items,
    upload,
    xlsx_bytes,
)

ROWS = [
    ["Kunta Oy", "Äijä Öhman", "Toimitusjohtaja", "aija.ohman@kunta.fi", "040 123 4567"],
    ["Sote Ky", "Sari Sote", "Sosiaalijohtaja", "sari@sote.fi", ""],
]


def test_upload_with_spaces_and_umlauts_in_key_is_imported_reported_and_deleted(stack: Stack) -> None:
    key = "incoming/acme/Lista ä ö.csv"
    upload(stack, key, csv_bytes(ROWS))
    responses = drain(stack)
    assert all(r["batchItemFailures"] == [] for r in responses)
    [run] = runs_of(stack, "acme")
    assert run["state"] == "done"
    assert run["object_key"] == key
    assert run["counts"]["inserted"] == 2 and run["counts"]["rows"] == 2
    items = prospect_items(stack)
    assert {i["email"] for i in items} == {"aija.ohman@kunta.fi", "sari@sote.fi"}
    first = next(i for i in items if i["email"] == "aija.ohman@kunta.fi")
    assert first["contact_name"] == "Äijä Öhman" and first["phone"] == "+358401234567"
    assert first["values_from"] == "acme" and "source_partner" not in first
    # The partner's own item holds exactly what it sent, beside the PROFILE.
    [own] = [i for i in source_items(stack, "acme") if i["prospect_id"] == first["prospect_id"]]
    assert (
        own["sk"] == "SOURCE#acme" and own["contact_name"] == "Äijä Öhman" and own["last_import_run"] == run["run_id"]
    )
    assert run["report_key"].startswith("reports/acme/")
    assert report(stack, run)["counts"]["inserted"] == 2
    assert object_versions(stack, "incoming/") == []
    assert object_versions(stack, "work/") == []


# -- formats ------------------------------------------------------------------------------

FORMATS = {
    "utf8_semicolon_fi": csv_bytes(ROWS, HEADER_FI, ";", "utf-8"),
    "utf8_bom_semicolon_fi": b"\xef\xbb\xbf" + csv_bytes(ROWS, HEADER_FI, ";", "utf-8"),
    "utf8_comma_en": csv_bytes(ROWS, HEADER_EN, ",", "utf-8"),
    "cp1252_semicolon_fi": csv_bytes(ROWS, HEADER_FI, ";", "cp1252"),
    "cp1252_comma_en_odd_case": csv_bytes(ROWS, [" ORGANISATION ", "name", "TITLE", "E-mail", "Phone "], ",", "cp1252"),
    "utf8_bom_fi_spaced": b"\xef\xbb\xbf"
    + csv_bytes(ROWS, ["organisaatio", " Nimi", "titteli ", "SÄHKÖPOSTI", "puhelin"], ";", "utf-8"),
}


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_csv_formats_as_spreadsheets_save_them(stack: Stack, name: str) -> None:
    upload(stack, f"incoming/acme/{name}.csv", FORMATS[name])
    drain(stack)
    [run] = runs_of(stack, "acme")
    assert run["state"] == "done", run.get("failure")
    names = sorted(i["contact_name"] for i in prospect_items(stack))
    assert names == ["Sari Sote", "Äijä Öhman"]
    assert run["format"]["format"] == "csv"


def test_xlsx_upload(stack: Stack) -> None:
    upload(stack, "incoming/acme/Yhteystiedot kevät.xlsx", xlsx_bytes(ROWS, HEADER_EN))
    drain(stack)
    [run] = runs_of(stack, "acme")
    assert run["state"] == "done", run.get("failure")
    assert run["format"]["format"] == "xlsx"
    assert sorted(i["contact_name"] for i in prospect_items(stack)) == ["Sari Sote", "Äijä Öhman"]


def test_first_and_last_name_columns_are_joined(stack: Stack) -> None:
    body = csv_bytes([["Kunta Oy", "Äijä", "Öhman", "a@kunta.fi"]], ["Organisaatio", "Etunimi", "Sukunimi", "Email"])
    upload(stack, "incoming/acme/n.csv", body)
    drain(stack)
    assert [i["contact_name"] for i in prospect_items(stack)] == ["Äijä Öhman"]


def test_s3_test_event_is_ignored(stack: Stack) -> None:
    # Configuring the notification made moto put S3's test event on the queue.
    messages = receive(stack)
    assert any(json.loads(m["Body"]).get("Event") == "s3:TestEvent" for m in messages)
    from chalicelib.imports.messages import handle_message

    test_event = next(m for m in messages if "TestEvent" in m["Body"])
    assert handle_message(test_event["Body"], test_event["MessageId"], 1, lambda: 900) == ["ignored:s3_test_event"]
    assert invoke(stack, messages)["batchItemFailures"] == []
    assert runs_of(stack, "acme") == []


# -- rules --------------------------------------------------------------------------------


def test_rules_reject_rows_with_line_numbers_and_reasons(stack: Stack) -> None:
    from chalicelib import suppression

    suppression.suppress("objector@firma.fi", "objection", setup_actor())
    rows = [
        ["Kunta Oy", "Äijä Öhman", "Johtaja", "aija@kunta.fi", "040 123 4567"],  # line 2: ok
        ["", "Yksityinen Ihminen", "", "ihminen@firma.fi", ""],  # 3: no organisation
        ["Kauppa Oy", "Matti Meikäläinen", "", "matti.m@gmail.com", ""],  # 4: free mail
        ["Firma Oy", "Olli Objector", "", "objector@firma.fi", ""],  # 5: objected: not_imported
        ["Kunta Oy", "Äijä Ö.", "CEO", "AIJA@kunta.fi", ""],  # 6: duplicate of line 2
        ["Firma Oy", "Erkki Email", "", "not-an-email", ""],  # 7: invalid email
        ["Firma Oy", "Pekka Puhelin", "", "pekka@firma.fi", "12"],  # 8: invalid phone
        ["Firma Oy", "", "", "nimeton@firma.fi", ""],  # 9: no name
        ["", "", "", "", ""],  # 10: blank line, skipped silently
        ["Sote Ky", "Sari Sote", "", "sari@sote.fi", ""],  # 11: ok
    ]
    upload(stack, "incoming/acme/rules.csv", csv_bytes(rows))
    drain(stack)
    [run] = runs_of(stack, "acme")
    assert run["counts"]["inserted"] == 2 and run["counts"]["rejected"] == 7 and run["counts"]["rows"] == 9
    rejected = [(r["line"], r["reason"]) for r in report(stack, run)["rejected_rows"]]
    assert rejected == [
        (3, "no_organisation"),
        (4, "free_mail_domain"),
        (5, "not_imported"),
        (6, "duplicate_in_file"),
        (7, "invalid_email"),
        (8, "invalid_phone"),
        (9, "missing_name"),
    ]
    assert {i["email"].lower() for i in prospect_items(stack)} == {"aija@kunta.fi", "sari@sote.fi"}
    # The first occurrence wins.
    assert (
        next(i for i in prospect_items(stack) if i["email"].lower() == "aija@kunta.fi")["contact_name"] == "Äijä Öhman"
    )
    assert run["rejected_by_reason"]["not_imported"] == 1
    csv_key = run["report_key"].replace(".json", ".rejected.csv")
    text = s3().get_object(Bucket=stack.info["upload_bucket"], Key=csv_key)["Body"].read().decode("utf-8-sig")
    assert text.splitlines()[1] == "3;no_organisation;organization"


def test_a_partner_is_never_told_that_a_person_objected(stack: Stack) -> None:
    from chalicelib import suppression

    # One address objected, the other is on the list for another reason: the partner's
    # report and its run summary show both alike, under a reason that names neither.
    suppression.suppress("objector@firma.fi", "objection", setup_actor())
    suppression.suppress("poistettu@firma.fi", "erasure", setup_actor())
    rows = [
        ["Firma Oy", "Olli Objector", "", "objector@firma.fi", ""],
        ["Firma Oy", "Pia Poistettu", "", "poistettu@firma.fi", ""],
    ]
    upload(stack, "incoming/acme/kaksi.csv", csv_bytes(rows))
    drain(stack)
    [run] = runs_of(stack, "acme")
    body = report(stack, run)
    assert [(r["line"], r["reason"]) for r in body["rejected_rows"]] == [(2, "not_imported"), (3, "not_imported")]
    assert body["rejected_by_reason"] == {"not_imported": 2}
    bucket = stack.info["upload_bucket"]
    keys = [o["Key"] for o in s3().list_objects_v2(Bucket=bucket, Prefix="reports/acme/")["Contents"]]
    for key in keys:
        text = s3().get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8-sig").lower()
        assert "object" not in text and "suppress" not in text and "erasure" not in text


def test_missing_columns_fail_the_run_with_a_reason_and_delete_the_upload(stack: Stack) -> None:
    upload(stack, "incoming/acme/bad.csv", csv_bytes([["x", "y"]], ["Foo", "Bar"]))
    responses = drain(stack)
    assert all(r["batchItemFailures"] == [] for r in responses)  # no point retrying
    [run] = runs_of(stack, "acme")
    assert run["state"] == "failed" and run["failure"]["code"] == "missing_columns"
    assert report(stack, run)["failure"]["code"] == "missing_columns"
    assert object_versions(stack, "incoming/") == []


def test_unsupported_and_undecodable_files_fail(stack: Stack) -> None:
    upload(stack, "incoming/acme/old.xls", b"\xd0\xcf\x11\xe0 legacy")
    upload(stack, "incoming/acme/broken.xlsx", b"PK\x03\x04 not really a zip")
    drain(stack)
    codes = sorted(r["failure"]["code"] for r in runs_of(stack, "acme"))
    assert codes == ["unreadable_xlsx", "unsupported_format"]


def test_formula_cells_are_escaped_in_written_csv() -> None:
    from chalicelib.imports.runs import csv_cell, rejects_csv

    assert [csv_cell(v) for v in ("=1+2", "+358", "-3", "@SUM(A1)", "ok", 5)] == [
        "'=1+2",
        "'+358",
        "'-3",
        "'@SUM(A1)",
        "ok",
        "5",
    ]
    assert "'=cmd" in rejects_csv([{"line": 2, "reason": "=cmd|' /C calc'!A0"}]).decode("utf-8-sig")


def test_the_report_is_written_from_a_stream_of_rejected_rows(stack: Stack) -> None:
    """The report takes the rejected rows as they come (one window in memory at a time)."""
    from chalicelib.imports import runs

    run = {"run_id": "r1", "partner_id": "acme", "received_at": "2026-12-03T10:00:00Z", "state": "done"}
    consumed: list[int] = []

    def rejects() -> Iterator[dict[str, Any]]:
        for line in range(2, 2002):
            consumed.append(line)
            yield {"line": line, "reason": "invalid_email", "field": "email"}

    key = runs.write_report(run, rejects())
    assert consumed == list(range(2, 2002))
    body = s3().get_object(Bucket=stack.info["upload_bucket"], Key=key)["Body"].read()
    written = json.loads(body)
    assert written["run_id"] == "r1" and written["state"] == "done"
    assert written["rejected_rows"] == [{"line": n, "reason": "invalid_email", "field": "email"} for n in consumed]
    table = s3().get_object(Bucket=stack.info["upload_bucket"], Key=key.replace(".json", ".rejected.csv"))
    lines = table["Body"].read().decode("utf-8-sig").splitlines()
    assert lines[0] == "line;reason;field" and lines[1] == "2;invalid_email;email" and len(lines) == 2001

    clean = runs.write_report({**run, "run_id": "r2"}, iter(()))
    assert (
        json.loads(s3().get_object(Bucket=stack.info["upload_bucket"], Key=clean)["Body"].read())["rejected_rows"] == []
    )
    listed = s3().list_objects_v2(Bucket=stack.info["upload_bucket"], Prefix="reports/acme/")["Contents"]
    assert not [o for o in listed if "r2" in o["Key"] and o["Key"].endswith(".csv")]


def test_rejected_rows_are_paged_from_where_the_last_page_ended(stack: Stack) -> None:
    """A page reads the report from the cursor's byte position on, never the report whole."""
    from chalicelib import store
    from chalicelib.errors import ValidationFailed
    from chalicelib.imports import runs

    run = {"run_id": "r3", "partner_id": "acme", "received_at": "2026-12-03T10:00:00Z", "state": "done"}
    rows = [{"line": n, "reason": "invalid_email", "field": "email"} for n in range(2, 2502)]
    run["report_key"] = runs.write_report(run, iter(rows))
    ranges: list[str | None] = []
    s3_client = store.client("s3")
    s3_client.meta.events.register(
        "before-parameter-build.s3.GetObject", lambda params, **_: ranges.append(params.get("Range"))
    )
    paged, cursor = [], None
    while True:
        page = runs.rejected_rows(run, 1000, cursor)
        paged += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert paged == rows
    assert ranges[0] is None and all(r and r.startswith("bytes=") for r in ranges[1:]) and len(ranges) == 3
    for bad in (runs._cursor("from", 10**9), runs._cursor("from", -1), store.encode_cursor({"at": "1"})):
        with pytest.raises(ValidationFailed):
            runs.rejected_rows(run, 10, bad)


def test_rejected_rows_of_a_report_in_the_older_layout_are_paged_by_index(stack: Stack) -> None:
    """Reports written before one row a line (kept 90 days) are read whole, paged by row index."""
    from chalicelib.imports import runs

    rows = [{"line": n, "reason": "missing_name", "field": "contact_name"} for n in range(2, 9)]
    key = "reports/acme/20261201T100000Z-old.json"
    body = json.dumps({"run_id": "old", "rejected_rows": rows}, ensure_ascii=False, indent=1).encode()
    s3().put_object(Bucket=stack.info["upload_bucket"], Key=key, Body=body)
    run = {"run_id": "old", "report_key": key}
    first = runs.rejected_rows(run, 5, None)
    assert first["items"] == rows[:5] and first["next_cursor"]
    second = runs.rejected_rows(run, 5, first["next_cursor"])
    assert second == {"items": rows[5:], "next_cursor": None}


# -- idempotency, crashes, big files ---------------------------------------------------------


def _writes(stack: Stack) -> list[int]:
    return [int(i.get("import_line", 0)) for i in prospect_items(stack)]


def test_same_event_twice_imports_once(stack: Stack) -> None:
    upload(stack, "incoming/acme/a.csv", csv_bytes(ROWS))
    messages = [m for m in receive(stack) if "Records" in m["Body"]]
    invoke(stack, messages)
    before = prospect_items(stack)
    audit_before = stack.table("audit").scan()["Count"]
    from chalicelib.imports.messages import handle_message

    outcome = handle_message(messages[0]["Body"], "another-message-id", 1, lambda: 900)
    assert outcome[0].startswith("duplicate:")
    assert prospect_items(stack) == before
    assert stack.table("audit").scan()["Count"] == audit_before
    [run] = runs_of(stack, "acme")
    assert run["counts"]["inserted"] == 2


def test_unchanged_reimport_writes_nothing_changed_row_updates(stack: Stack) -> None:
    upload(stack, "incoming/acme/a.csv", csv_bytes(ROWS))
    drain(stack)
    [first] = runs_of(stack, "acme")
    before = {i["pk"]: i for i in prospect_items(stack)}
    upload(stack, "incoming/acme/a.csv", csv_bytes(ROWS))  # the same bytes again: a new upload
    drain(stack)
    [second] = [r for r in runs_of(stack, "acme") if r["run_id"] != first["run_id"]]
    assert second["counts"]["unchanged"] == 2 and second["counts"]["inserted"] == second["counts"]["updated"] == 0
    assert {i["pk"]: i for i in prospect_items(stack)} == before
    changed = [ROWS[0], [*ROWS[1][:2], "Palvelujohtaja", *ROWS[1][3:]]]
    upload(stack, "incoming/acme/b.csv", csv_bytes(changed))
    drain(stack)
    [third] = [r for r in runs_of(stack, "acme") if r["file_name"] == "b.csv"]
    assert third["counts"]["updated"] == 1 and third["counts"]["unchanged"] == 1
    after = {i["pk"]: i for i in prospect_items(stack)}
    updated = [pk for pk in after if after[pk].get("title") != before[pk].get("title")]
    assert len(updated) == 1 and after[updated[0]]["title"] == "Palvelujohtaja"
    assert after[updated[0]]["first_seen"] == before[updated[0]]["first_seen"]


def _many(n: int, start: int = 0) -> list[list[str]]:
    return [[f"Org {i} Oy", f"Henkilö {i}", "Johtaja", f"h{i}@org{i}.fi", ""] for i in range(start, start + n)]


def test_crash_mid_file_then_redelivery_imports_every_row_once(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    from chalicelib.imports import messages, pipeline

    monkeypatch.setattr(messages, "DEFAULT_LIMITS", pipeline.Limits(chunk_rows=5, checkpoint_rows=10))
    real_send = pipeline.ItemWriter._send
    calls = {"n": 0}

    def crash_once(self: Any, batch: list[dict[str, Any]]) -> None:
        calls["n"] += 1
        if calls["n"] == 2:  # after the first checkpoint's rows went out: a crash mid-file
            raise RuntimeError("Lambda died")
        real_send(self, batch)

    monkeypatch.setattr(pipeline.ItemWriter, "_send", crash_once)
    upload(stack, "incoming/acme/big.csv", csv_bytes(_many(60)))
    responses = drain(stack)
    assert any(r["batchItemFailures"] for r in responses)  # the crash was reported for retry
    [run] = runs_of(stack, "acme")
    assert run["state"] == "done"
    assert run["counts"]["inserted"] == 60 and run["counts"]["rows"] == 60 and run["counts"]["unchanged"] == 0
    assert len(prospect_items(stack)) == 60
    assert sorted(_writes(stack)) == list(range(2, 62))


def test_crash_after_writes_before_checkpoint_counts_stay_exact(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    from chalicelib.imports import messages, pipeline, runs

    monkeypatch.setattr(messages, "DEFAULT_LIMITS", pipeline.Limits(chunk_rows=5, checkpoint_rows=1000))
    real_save = runs.save_progress
    calls = {"n": 0}

    def crash_before_first_checkpoint(run: dict[str, Any], owner: str) -> None:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("Lambda died")  # every row is written, the checkpoint is not
        real_save(run, owner)

    monkeypatch.setattr(runs, "save_progress", crash_before_first_checkpoint)
    upload(stack, "incoming/acme/big.csv", csv_bytes(_many(30)))
    drain(stack)
    [run] = runs_of(stack, "acme")
    assert run["state"] == "done"
    assert run["counts"]["inserted"] == 30 and run["counts"]["unchanged"] == 0 and run["counts"]["rejected"] == 0


def test_big_file_continues_in_follow_up_messages(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    from chalicelib.imports import messages, pipeline

    monkeypatch.setattr(messages, "DEFAULT_LIMITS", pipeline.Limits(chunk_rows=7, checkpoint_rows=14, segment_rows=20))
    rows = _many(95)
    rows.insert(50, rows[3])  # a duplicate across segments
    upload(stack, "incoming/acme/full-list.csv", csv_bytes(rows))
    responses = drain(stack)
    assert len(responses) >= 5
    [run] = runs_of(stack, "acme")
    assert run["state"] == "done"
    assert int(run["checkpoint"]["segment"]) >= 4
    assert run["counts"]["inserted"] == 95 and run["counts"]["rejected"] == 1
    assert report(stack, run)["rejected_rows"] == [{"line": 52, "reason": "duplicate_in_file"}]
    assert len(prospect_items(stack)) == 95


def test_stale_and_duplicate_follow_ups_are_harmless(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    from chalicelib.imports import messages, pipeline

    monkeypatch.setattr(messages, "DEFAULT_LIMITS", pipeline.Limits(chunk_rows=5, segment_rows=10))
    upload(stack, "incoming/acme/l.csv", csv_bytes(_many(25)))
    first = [m for m in receive(stack) if "Records" in m["Body"]]
    invoke(stack, first)
    [follow_up] = receive(stack)
    invoke(stack, [follow_up])
    # The same follow-up again (an SQS duplicate) and the original S3 event again: both stale.
    assert messages.handle_message(follow_up["Body"], "dup", 1, lambda: 900)[0].startswith("stale:")
    assert messages.handle_message(first[0]["Body"], "dup2", 1, lambda: 900)[0].startswith("stale:")
    drain(stack)
    [run] = runs_of(stack, "acme")
    assert run["state"] == "done" and run["counts"]["inserted"] == 25


def test_lost_follow_up_is_resent_by_the_redelivered_message(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    from chalicelib.imports import messages, pipeline

    monkeypatch.setattr(messages, "DEFAULT_LIMITS", pipeline.Limits(chunk_rows=5, segment_rows=10))
    sent = {"n": 0}
    real = messages.send_continuation

    def crash_before_sending(run: dict[str, Any]) -> None:
        sent["n"] += 1
        if sent["n"] == 1:
            raise RuntimeError("Lambda died after handing over")
        real(run)

    monkeypatch.setattr(messages, "send_continuation", crash_before_sending)
    upload(stack, "incoming/acme/l.csv", csv_bytes(_many(25)))
    first = [m for m in receive(stack) if "Records" in m["Body"]]
    assert invoke(stack, first)["batchItemFailures"] == [{"itemIdentifier": first[0]["MessageId"]}]
    # Redelivered at once (an ordinary duplicate): only acknowledged.
    assert messages.handle_message(first[0]["Body"], first[0]["MessageId"], 2, lambda: 900)[0].startswith("stale:")
    # Redelivered after the visibility timeout: the lost follow-up is sent again.
    with clock.frozen(datetime.now(UTC) + timedelta(minutes=20)):
        assert messages.handle_message(first[0]["Body"], first[0]["MessageId"], 2, lambda: 900)[0].startswith("resent:")
        drain(stack)
    [run] = runs_of(stack, "acme")
    assert run["state"] == "done" and run["counts"]["inserted"] == 25


def test_persistent_failure_ends_in_dlq_with_the_run_failed(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    from chalicelib.imports import pipeline

    def broken(self: Any, upload: Any) -> bool:
        raise RuntimeError("something keeps breaking")

    monkeypatch.setattr(pipeline.Importer, "import_rows", broken)
    upload(stack, "incoming/acme/a.csv", csv_bytes(ROWS))
    drain(stack, rounds=20)  # moto moves the message to the DLQ after maxReceiveCount receives
    dlq = stack.info["import_dlq_url"]
    dead = receive(stack, dlq)
    assert len(dead) == 1 and "incoming%2Facme%2Fa.csv" in dead[0]["Body"]
    [run] = runs_of(stack, "acme")
    assert run["state"] == "failed"
    assert run["failure"] == {
        "code": "import_error",
        "message": "The import kept failing (RuntimeError).",
        "retryable": True,
    }
    # The raw upload stays for a redrive (the lifecycle rule is the backstop); a redrive resumes.
    assert object_versions(stack, "incoming/acme/a.csv")
    monkeypatch.undo()
    from chalicelib.imports.messages import handle_message

    assert handle_message(dead[0]["Body"], "redrive", 1, lambda: 900)[0].startswith("done:")
    assert len(prospect_items(stack)) == 2


# -- throttling ---------------------------------------------------------------------------


class FlakyClient:
    """The real DynamoDB client, but BatchWriteItem throttles and leaves items unprocessed."""

    def __init__(self, real: Any):
        self.real = real
        self.calls = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    def batch_write_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:  # noqa: N803 (boto3's name)
        from botocore.exceptions import ClientError

        self.calls += 1
        if self.calls % 3 == 1:
            raise ClientError(
                {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"}}, "BatchWriteItem"
            )
        if self.calls % 3 == 2:
            [(table, items)] = RequestItems.items()
            half = len(items) // 2
            resp = self.real.batch_write_item(RequestItems={table: items[:half]})
            return {**resp, "UnprocessedItems": {table: items[half:]}}
        return dict(self.real.batch_write_item(RequestItems=RequestItems))


def test_throttling_and_unprocessed_items_are_retried_with_backoff(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chalicelib import store
    from chalicelib.imports import pipeline

    flaky = FlakyClient(store.client("dynamodb"))
    real_client = store.client

    def client(service: str) -> Any:
        return flaky if service == "dynamodb" else real_client(service)

    client.cache_clear = real_client.cache_clear  # type: ignore[attr-defined]  # store.reset() calls it
    monkeypatch.setattr(store, "client", client)
    waits: list[float] = []
    monkeypatch.setattr(pipeline, "pause", waits.append)
    upload(stack, "incoming/acme/t.csv", csv_bytes(_many(60)))
    drain(stack)
    [run] = runs_of(stack, "acme")
    assert run["state"] == "done" and run["counts"]["inserted"] == 60
    assert len(prospect_items(stack)) == 60
    assert flaky.calls > 3 and len(waits) >= 2 and all(w >= 0 for w in waits)


def test_item_writer_gives_up_at_the_checkpoint_not_silently() -> None:
    from botocore.exceptions import ClientError

    from chalicelib.imports.pipeline import ImportInterrupted, ItemWriter

    class AlwaysThrottled:
        def batch_write_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:  # noqa: N803
            raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "no"}}, "BatchWriteItem")

    writer = ItemWriter("t", client=AlwaysThrottled(), sleep=lambda s: None, max_attempts=4)
    writer.put({"pk": "a", "sk": "b"})
    with pytest.raises(ImportInterrupted):
        writer.flush()
    assert writer.requests == 4 and writer.items_written == 0


# -- full refresh, multiple sources, retention ---------------------------------------------


def _pid(stack: Stack, email: str) -> str:
    [item] = [i for i in prospect_items(stack) if i["email"].lower() == email and i["sk"] == "PROFILE"]
    return str(item["prospect_id"])


def _row(name: str) -> list[str]:
    return [f"{name} Oy", f"Henkilö {name}", "Johtaja", f"{name.lower()}@{name.lower()}.fi", ""]


def test_full_refresh_removes_outdated_contacts_except_verified_other_source_or_held(stack: Stack) -> None:
    from chalicelib import prospects, retention

    register_partner(stack, "beta", "data_provider")
    upload(stack, "incoming/acme/a.csv", csv_bytes([_row(n) for n in ("Aa", "Bb", "Cc", "Ee", "Ff")]))
    drain(stack)
    prospects.verify(_pid(stack, "bb@bb.fi"), setup_actor())  # staff confirmed B after acme brought it
    upload(stack, "incoming/beta/b.csv", csv_bytes([[*_row("Cc")[:2], "Eri titteli", *_row("Cc")[3:]]]))
    drain(stack)
    retention.set_legal_hold("prospect", _pid(stack, "ff@ff.fi"), "dispute 12/2025", "dpo-1")
    e_id = _pid(stack, "ee@ee.fi")

    upload(stack, "incoming/acme/FULL 2025-06.csv", csv_bytes([_row("Aa"), _row("Gg")]))
    drain(stack)
    [run] = [r for r in runs_of(stack, "acme") if r["full_refresh"]]
    assert run["state"] == "done", run.get("failure")
    counts = {k: int(v) for k, v in run["counts"].items()}
    assert counts["unchanged"] == 1 and counts["inserted"] == 1
    assert counts["removed"] == 1 and counts["kept_staff_verified"] == 1 and counts["kept_other_source"] == 1
    assert counts["held"] == 1
    emails = {i["email"].lower() for i in prospect_items(stack) if i["sk"] == "PROFILE"}
    assert emails == {"aa@aa.fi", "bb@bb.fi", "cc@cc.fi", "ff@ff.fi", "gg@gg.fi"}
    acme = prospects.list_for_partner("acme", 100, None)["items"]
    assert sorted(i["email"].lower() for i in acme) == ["aa@aa.fi", "ff@ff.fi", "gg@gg.fi"]
    beta = prospects.list_for_partner("beta", 100, None)["items"]
    assert [(i["email"].lower(), i["title"]) for i in beta] == [("cc@cc.fi", "Eri titteli")]
    events = stack.table("audit").scan()["Items"]
    assert any(
        e["record_id"] == e_id and e["action"] == "delete" and e["principal_id"] == "system:partner_import"
        for e in events
    )


def test_a_full_refresh_hands_over_within_a_page_of_removals(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    """Time is asked after each removal: segments of 3 end mid-page, and the next starts after it."""
    from chalicelib.imports import messages, pipeline

    names = [f"R{n}x" for n in range(12)]
    upload(stack, "incoming/acme/a.csv", csv_bytes([_row(n) for n in names]))
    drain(stack)
    monkeypatch.setattr(messages, "DEFAULT_LIMITS", pipeline.Limits(segment_rows=3))
    upload(stack, "incoming/acme/full-b.csv", csv_bytes([_row(names[0])]))
    drain(stack)
    [run] = [r for r in runs_of(stack, "acme") if r["full_refresh"]]
    assert run["state"] == "done" and int(run["counts"]["removed"]) == 11
    assert int(run["checkpoint"]["segment"]) == 3  # 11 removals, 3 a segment (one page of 500): 3 hand-overs
    assert [i["email"].lower() for i in prospect_items(stack)] == [f"{names[0].lower()}@{names[0].lower()}.fi"]
    deletes = [e for e in stack.table("audit").scan()["Items"] if e["action"] == "delete"]
    assert len(deletes) == 11 and len({e["record_id"] for e in deletes}) == 11


def test_incremental_upload_removes_nothing(stack: Stack) -> None:
    upload(stack, "incoming/acme/a.csv", csv_bytes([_row("Aa"), _row("Bb")]))
    drain(stack)
    upload(stack, "incoming/acme/fuller.csv", csv_bytes([_row("Aa")]))  # "full" needs a separator
    drain(stack)
    assert len([i for i in prospect_items(stack) if i["sk"] == "PROFILE"]) == 2


def test_same_person_from_two_partners_is_one_prospect(stack: Stack) -> None:
    register_partner(stack, "beta", "data_provider")
    upload(stack, "incoming/acme/a.csv", csv_bytes([_row("Aa")]))
    drain(stack)
    upload(stack, "incoming/beta/b.csv", csv_bytes([[*_row("Aa")[:3], "AA@aa.fi", "09 123 4567"]]))
    drain(stack)
    items = all_prospect_items(stack)
    assert sorted(i["sk"] for i in items) == ["PROFILE", "SOURCE#acme", "SOURCE#beta"]
    assert len({i["prospect_id"] for i in items}) == 1
    [beta] = runs_of(stack, "beta")
    assert beta["counts"]["inserted"] == 1


def test_verification_sets_the_24_month_retention_and_the_sweeper_finds_it(stack: Stack) -> None:
    from datetime import date

    from chalicelib import retention

    with clock.frozen(datetime(2025, 3, 10, 9, 0, tzinfo=UTC)):
        upload(stack, "incoming/acme/a.csv", csv_bytes([_row("Aa")]))
        drain(stack)
    [item] = prospect_items(stack)
    assert item["retention_rule"] == "prospect_unverified" and item["retention_due_at"] == "2027-03-10"
    with clock.frozen(datetime(2025, 3, 20, 9, 0, tzinfo=UTC)):  # unchanged, recently verified: no write
        upload(stack, "incoming/acme/b.csv", csv_bytes([_row("Aa")]))
        drain(stack)
    assert prospect_items(stack) == [item]
    with clock.frozen(datetime(2025, 6, 1, 9, 0, tzinfo=UTC)):  # unchanged, but a fresh verification
        upload(stack, "incoming/acme/c.csv", csv_bytes([_row("Aa")]))
        drain(stack)
    [item] = prospect_items(stack)
    assert item["retention_due_at"] == "2027-06-01" and item["last_verified"] == "2025-06-01T09:00:00Z"
    assert [r["counts"]["reverified"] for r in runs_of(stack, "acme")] == [0, 0, 1]
    retention.sweep(date(2027, 5, 31))
    assert len(prospect_items(stack)) == 1
    retention.sweep(date(2027, 6, 1))
    assert prospect_items(stack) == []


def test_windows_1252_after_a_long_ascii_start_is_still_read() -> None:
    import io

    from chalicelib.imports.read import open_upload

    ascii_rows = [["Firma Oy", f"Henkilo {i}", "", f"h{i}@firma.fi", ""] for i in range(2000)]
    body = csv_bytes([*ascii_rows, ["Kunta Oy", "Äijä Öhman", "", "aija@kunta.fi", ""]], HEADER_EN, encoding="cp1252")
    assert len(body) > 64 * 1024
    upload_ = open_upload(io.BytesIO(body), "incoming/acme/x.csv")
    assert upload_.encoding == "utf-8"
    *_, (line, last) = list(upload_.rows)
    assert line == 2002 and last["contact_name"] == "Äijä Öhman"


def test_full_refresh_hands_the_profile_to_the_partner_that_still_sends_the_person(stack: Stack) -> None:
    from chalicelib import prospects

    register_partner(stack, "beta", "data_provider")
    upload(stack, "incoming/acme/a.csv", csv_bytes([_row("Cc")]))
    drain(stack)
    upload(stack, "incoming/beta/b.csv", csv_bytes([[*_row("Cc")[:2], "Eri titteli", *_row("Cc")[3:]]]))
    drain(stack)
    upload(stack, "incoming/acme/full-2025-06.csv", csv_bytes([_row("Aa")]))
    drain(stack)
    cc = [i for i in all_prospect_items(stack) if i["email"].lower() == "cc@cc.fi"]
    assert sorted(i["sk"] for i in cc) == ["PROFILE", "SOURCE#beta"]  # acme's own item went
    cc.sort(key=lambda i: i["sk"])
    assert cc[0]["title"] == "Eri titteli" and cc[0]["values_from"] == "beta"  # the PROFILE shows beta's
    assert [s["partner_id"] for s in prospects.sources_of(cc)] == ["beta"]
    beta = prospects.list_for_partner("beta", 100, None)["items"]
    assert [(i["email"].lower(), i["title"]) for i in beta] == [("cc@cc.fi", "Eri titteli")]
    assert [i["email"].lower() for i in prospects.list_for_partner("acme", 100, None)["items"]] == ["aa@aa.fi"]


def test_one_partner_id_rule_and_one_decimal_conversion() -> None:
    from decimal import Decimal

    from chalicelib import auth, store
    from chalicelib.imports import runs

    assert runs.PARTNER_ID is auth.PARTNER_ID
    assert runs.plain is store.plain
    assert store.plain({"n": [Decimal("3"), Decimal("0.5")]}) == {"n": [3, 0.5]}
    with pytest.raises(runs.NotAnUpload):
        runs.parse_upload_key("incoming/Acme_Oy/a.csv")


def test_run_records_naming_the_file_expire_with_the_reports(stack: Stack) -> None:
    """The partner-chosen file name may contain a person's name: kept 90 days, not 3 years."""
    from pathlib import Path

    at = datetime(2026, 3, 1, 12, tzinfo=UTC)
    with clock.frozen(at):
        upload(stack, "incoming/acme/Liisa Lähde yhteystiedot.csv", csv_bytes(ROWS))
        drain(stack)
    [run] = runs_of(stack, "acme")
    assert run["file_name"] == "Liisa Lähde yhteystiedot.csv"
    resources = json.loads((Path(__file__).parents[1] / "infra/resources.json").read_text())["Resources"]
    rules = resources["UploadBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
    [reports] = [r for r in rules if r["Prefix"] == "reports/"]
    assert int(run["expires_at"]) == int((at + timedelta(days=reports["ExpirationInDays"])).timestamp())
    ttl = resources["ImportRunsTable"]["Properties"]["TimeToLiveSpecification"]
    assert ttl == {"AttributeName": "expires_at", "Enabled": True}


# -- the partner registry -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("partner_id", "kind", "status", "recorded", "reason"),
    [
        ("tuntematon", None, None, True, "unknown_partner"),
        ("tauolla", "data_provider", "suspended", True, "partner_inactive"),
        ("paattynyt", "reseller", "ended", True, "partner_inactive"),
        ("mainos", "marketing", "active", True, "partner_not_uploader"),
        ("ilman-selostetta", "data_provider", "active", False, "notice_not_delivered"),
    ],
)
def test_upload_of_a_partner_the_registry_refuses_fails_and_is_deleted(
    stack: Stack, partner_id: str, kind: str | None, status: str | None, recorded: bool, reason: str
) -> None:
    if kind and status:
        register_partner(stack, partner_id, kind, status, recorded=recorded)
    upload(stack, f"incoming/{partner_id}/lista.csv", csv_bytes(ROWS))
    upload(stack, "incoming/acme/lista.csv", csv_bytes(ROWS[:1]))  # the same batch: imported
    responses = drain(stack)
    assert all(r["batchItemFailures"] == [] for r in responses)
    [run] = runs_of(stack, partner_id)
    assert run["state"] == "failed"
    assert run["failure"]["code"] == reason and run["failure"]["retryable"] is False
    assert run["counts"]["rows"] == 0
    assert report(stack, run)["failure"]["code"] == reason
    assert object_versions(stack, f"incoming/{partner_id}/") == []
    assert object_versions(stack, "work/") == []
    # Nothing of the refused file reached the register; acme's row did.
    assert [i["email"].lower() for i in prospect_items(stack)] == ["aija.ohman@kunta.fi"]
    assert runs_of(stack, "acme")[0]["state"] == "done"


def test_a_partner_suspended_mid_run_stops_at_its_next_segment(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    from chalicelib import partners
    from chalicelib.imports import messages, pipeline
    from tests.imports_helpers import sqs

    monkeypatch.setattr(messages, "DEFAULT_LIMITS", pipeline.Limits(chunk_rows=2, checkpoint_rows=2, segment_rows=2))
    upload(stack, "incoming/acme/iso.csv", csv_bytes([_row(f"N{n}") for n in range(5)]))
    first = receive(stack)
    assert invoke(stack, first)["batchItemFailures"] == []  # two rows, then a follow-up message
    for m in first:
        sqs().delete_message(QueueUrl=stack.info["import_queue_url"], ReceiptHandle=m["ReceiptHandle"])
    partners.update("acme", {"status": "suspended"}, setup_actor())
    drain(stack)
    [run] = runs_of(stack, "acme")
    assert run["state"] == "failed" and run["failure"]["code"] == "partner_inactive"
    assert run["counts"]["inserted"] == 2
    assert object_versions(stack, "incoming/acme/") == []


def test_a_partner_sees_only_what_it_sent_never_staff_corrections_or_other_partners_dates(
    stack: Stack, client: Any, tokens: Any
) -> None:
    """Each partner's values live in its own item; its views are built from that item only."""
    from tests.conftest import call

    register_partner(stack, "beta", "data_provider")
    with clock.frozen(datetime(2025, 3, 10, 9, 0, tzinfo=UTC)):
        upload(stack, "incoming/acme/a.csv", csv_bytes([_row("Aa")]))
        drain(stack)
    [profile] = prospect_items(stack)
    pid = profile["prospect_id"]
    # Staff learn a phone number on a sales call, and correct the title.
    status, body = call(
        client, "PATCH", f"/prospects/{pid}", tokens.staff, {"phone": "+358501112222", "title": "Johtaja"}
    )
    assert status == 200, body
    # Months later another partner verifies the same person with its own values.
    with clock.frozen(datetime(2025, 9, 1, 9, 0, tzinfo=UTC)):
        upload(stack, "incoming/beta/b.csv", csv_bytes([[*_row("Aa")[:2], "Eri titteli", *_row("Aa")[3:]]]))
        drain(stack)
    status, register = call(client, "GET", f"/prospects/{pid}", tokens.staff)
    assert status == 200 and register["phone"] == "+358501112222" and register["title"] == "Johtaja"
    assert register["last_verified"] == "2025-09-01T09:00:00Z"
    acme = stack.user("acme-reader", ["partner"], partner_id="acme", partner_type="data_provider")
    status, page = call(client, "GET", "/partner/prospects", acme)
    assert status == 200, page
    [seen] = page["items"]
    assert seen["title"] == _row("Aa")[2] and seen.get("phone") != "+358501112222"
    assert seen["last_verified"] == "2025-03-10T09:00:00Z"  # its own verification, not beta's
    status, one = call(client, "GET", f"/partner/prospects/{pid}", acme)
    assert status == 200 and one == seen
    beta = stack.user("beta-reader", ["partner"], partner_id="beta", partner_type="data_provider")
    [theirs] = call(client, "GET", "/partner/prospects", beta)[1]["items"]
    assert theirs["title"] == "Eri titteli" and theirs["last_verified"] == "2025-09-01T09:00:00Z"


def test_a_finished_segment_frees_its_seen_rows_without_the_cyclic_gc(stack: Stack) -> None:
    """A warm Lambda's next segment loads the whole seen-rows set again: the last one's must
    be gone by then, freed as the invocation returns, not whenever the cyclic GC next runs."""
    import gc

    from chalicelib.imports.seen import SeenRows

    register_partner(stack, "kierto", "data_provider")
    rows = [["Kiertokunta", f"Henkilö {i}", "Rehtori", f"henkilo{i}@kiertokunta.fi", ""] for i in range(60)]
    gc.collect()
    gc.disable()
    try:
        upload(stack, "incoming/kierto/full-lista.csv", csv_bytes(rows))
        drain(stack)
        left = sum(isinstance(o, SeenRows) for o in gc.get_objects())
    finally:
        gc.enable()
    assert left == 0
