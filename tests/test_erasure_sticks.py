"""Erasure that sticks (issue 11, item 4): a prospect erased on the person's request leaves a
keyed do-not-re-add entry, so the partner's next file skips the person (`erased_on_request`,
counted, no address anywhere), staff cannot enter them again (409), the access answer says
the entry exists, since when and why; every partner that received the data or whose file
brought the person is told of the erasure once. A retention deletion, a staff housekeeping
delete and an objection leave no such entry."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from boto3.dynamodb.conditions import Key

from chalicelib import clock, disclosures, secrets, suppression
from tests.aws_calls import as_function
from tests.conftest import REGION, Stack, Tokens, call, register_partner, setup_actor
from tests.iam_policy import allowed
from tests.imports_helpers import all_prospect_items, csv_bytes, drain, prospect_items, report, runs_of, upload
from tests.template import function_roles, packaged, table_arn

EMAIL = "aija@kunta.fi"
ROWS = [
    ["Kunta Oy", "Äijä Öhman", "Toimitusjohtaja", EMAIL, "040 123 4567"],
    ["Sote Ky", "Sari Sote", "Sosiaalijohtaja", "sari@sote.fi", ""],
]
NEW = {"organization": "Kunta Oy", "contact_name": "Äijä Öhman", "title": "Johtaja", "email": EMAIL}
ERASED_AT = datetime(2026, 5, 4, 9, 30, tzinfo=UTC)


def _import(stack: Stack, partner: str, rows: list[list[str]], name: str = "lista.csv") -> dict[str, Any]:
    upload(stack, f"incoming/{partner}/{name}", csv_bytes(rows))
    drain(stack)
    [run] = [r for r in runs_of(stack, partner) if r["file_name"] == name]  # runs may share a second
    return run


def _request(client: Any, tokens: Tokens, kind: str, email: str = EMAIL) -> dict[str, Any]:
    status, body = call(client, "POST", "/subject-requests", tokens.staff, {"type": kind, "email": email})
    assert status == 200, body
    return dict(body)


def _erase(client: Any, tokens: Tokens) -> dict[str, Any]:
    with clock.frozen(ERASED_AT):
        return _request(client, tokens, "erasure")


def _pid(client: Any, token: str, email: str = EMAIL) -> str:
    status, page = call(client, "GET", "/partner/prospects", token)
    assert status == 200, page
    return str(next(p["prospect_id"] for p in page["items"] if p["email"] == email))


def _entries(stack: Stack) -> list[dict[str, Any]]:
    return list(stack.table("suppression").scan(ConsistentRead=True)["Items"])


def _no_address(text: str) -> None:
    lowered = text.lower()
    assert "aija@" not in lowered and "äijä" not in lowered and "401234567" not in lowered


def _notified(stack: Stack, recipient: str) -> list[dict[str, Any]]:
    resp = stack.table("audit").query(KeyConditionExpression=Key("pk").eq(f"{disclosures.NOTIFICATIONS}{recipient}"))
    return list(resp["Items"])


def test_an_erased_prospect_in_the_next_partner_file_is_skipped_and_counted_without_the_address(
    client: Any, stack: Stack, tokens: Tokens, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    _import(stack, "acme", ROWS)
    body = _erase(client, tokens)
    assert [e["register"] for e in body["answer"]["erased"]] == ["prospects"]
    kept = [k for k in body["answer"]["kept"] if k.get("record_type") == "do_not_re_add"]
    assert kept and "Articles 17 and 19" in kept[0]["basis"]
    # The entry: a keyed hash under its own prefix, reason `erased`, the date; no address.
    [entry] = _entries(stack)
    assert entry == {
        "suppression_key": suppression.erased_key(EMAIL),
        "reason": "erased",
        "created_at": clock.iso(ERASED_AT),
    }
    assert entry["suppression_key"].startswith("erased:")
    assert not suppression.is_suppressed(EMAIL)  # not an objection
    trail = stack.table("audit").query(
        KeyConditionExpression=Key("pk").eq(f"RECORD#suppression#{entry['suppression_key']}")
    )["Items"]
    assert [e["action"] for e in trail] == ["create"]

    # The partner's next file: the erased person (another spelling) is skipped, the others import.
    rows = [
        ["Kunta Oy", "Äijä Öhman", "Johtaja", "Aija@Kunta.FI", "040 123 4567"],  # line 2
        ROWS[1],  # line 3: unchanged
        ["Uusi Oy", "Uuno Uusi", "", "uuno@uusi.fi", ""],  # line 4: new
    ]
    run = _import(stack, "acme", rows, "toinen.csv")
    assert run["state"] == "done"
    assert run["counts"]["inserted"] == 1 and run["counts"]["unchanged"] == 1 and run["counts"]["rejected"] == 1
    assert run["rejected_by_reason"] == {"erased_on_request": 1}
    rejected = report(stack, run)
    assert [(r["line"], r["reason"]) for r in rejected["rejected_rows"]] == [(2, "erased_on_request")]
    assert sorted(i["email"] for i in prospect_items(stack)) == ["sari@sote.fi", "uuno@uusi.fi"]
    # A full refresh file skips them the same way.
    run = _import(stack, "acme", rows, "full-2026-06.csv")
    assert run["full_refresh"] and run["rejected_by_reason"] == {"erased_on_request": 1}
    assert sorted(i["email"] for i in prospect_items(stack)) == ["sari@sote.fi", "uuno@uusi.fi"]
    _no_address(json.dumps(rejected, ensure_ascii=False) + json.dumps(run, default=str, ensure_ascii=False))
    _no_address(json.dumps(_entries(stack)) + caplog.text)


def test_another_partner_cannot_bring_the_erased_person_back_either(client: Any, stack: Stack, tokens: Tokens) -> None:
    register_partner(stack, "beta", "data_provider")
    _import(stack, "acme", ROWS[:1])
    _erase(client, tokens)
    run = _import(stack, "beta", ROWS)
    assert run["rejected_by_reason"] == {"erased_on_request": 1} and run["counts"]["inserted"] == 1
    assert [i["email"] for i in prospect_items(stack)] == ["sari@sote.fi"]


def test_an_erasure_made_while_a_file_is_importing_is_not_undone(
    client: Any, stack: Stack, tokens: Tokens, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The erasure lands between the chunk's provenance read and its write: the re-check right
    before the write sees the entry and drops the row under the same reason."""
    from chalicelib import prospects, subjects
    from chalicelib.imports import pipeline

    _import(stack, "acme", ROWS[:1])
    real = pipeline.batch_get
    pending = [lambda: subjects.erase(EMAIL, setup_actor())]

    def batch_get(keys: Any, projection: Any, sleep: Any, **kwargs: Any) -> Any:
        found = real(keys, projection, sleep, **kwargs)
        if projection == prospects.META and pending:
            with as_function("api_handler"):  # the erasure is the API's work, checked against its role
                pending.pop()()
        return found

    monkeypatch.setattr(pipeline, "batch_get", batch_get)
    changed = [[*ROWS[0][:2], "Johtaja", *ROWS[0][3:]]]
    run = _import(stack, "acme", changed, "kesken.csv")
    assert not pending and prospect_items(stack) == []
    assert run["counts"]["updated"] == 0 and run["rejected_by_reason"] == {"erased_on_request": 1}
    assert [r["reason"] for r in report(stack, run)["rejected_rows"]] == ["erased_on_request"]


def test_staff_cannot_enter_an_erased_person_again(client: Any, stack: Stack, tokens: Tokens) -> None:
    _import(stack, "acme", ROWS[:1])
    _erase(client, tokens)
    status, body = call(client, "POST", "/prospects", tokens.staff, {**NEW, "email": "AIJA@kunta.fi"})
    assert status == 409 and body["error"]["code"] == "erased_on_request"
    _no_address(json.dumps(body))
    assert prospect_items(stack) == []
    status, created = call(client, "POST", "/prospects", tokens.staff, {**NEW, "email": "toinen@kunta.fi"})
    assert status == 201, created
    # An objection is still told apart: its own code.
    suppression.suppress("olli@kunta.fi", "objection", setup_actor())
    status, body = call(client, "POST", "/prospects", tokens.staff, {**NEW, "email": "olli@kunta.fi"})
    assert status == 409 and body["error"]["code"] == "suppressed"


def test_the_access_answer_says_the_entry_exists_since_when_and_why_and_nothing_else(
    client: Any, stack: Stack, tokens: Tokens
) -> None:
    _import(stack, "acme", ROWS)
    before = _request(client, tokens, "access")["answer"]["do_not_re_add"]
    assert before["on_list"] is False and before["since"] is None and before["reason"] is None
    _erase(client, tokens)
    body = _request(client, tokens, "access")
    answer = body["answer"]
    entry = answer["do_not_re_add"]
    assert entry["on_list"] is True and entry["since"] == clock.iso(ERASED_AT)
    assert entry["reason"] == {
        "fi": "Henkilö pyysi tietojensa poistamista (GDPR 17 art.)",
        "en": "The person asked for their data to be erased (GDPR Art. 17)",
    }
    assert entry["holds"]["en"] == "A keyed hash of the email address"
    assert entry["retention"]["en"] == "As long as the register is kept"
    assert set(entry["purpose"]) == {"fi", "en"} and set(entry["basis"]) == {"fi", "en"}
    # Nothing else is held: no parts, not on the objection list, the outcome says found.
    assert answer["parts"] == [] and answer["suppression"]["on_list"] is False
    assert body["request"]["outcome"] == "found"
    other = _request(client, tokens, "access", "sari@sote.fi")["answer"]["do_not_re_add"]
    assert other["on_list"] is False


def test_each_partner_that_received_or_brought_the_person_is_told_of_the_erasure_once(
    client: Any, stack: Stack, tokens: Tokens
) -> None:
    register_partner(stack, "beta", "data_provider")
    register_partner(stack, "gamma", "data_provider")
    _import(stack, "acme", ROWS)
    _import(stack, "beta", ROWS[:1])  # beta brought the person but never read them
    pid = _pid(client, tokens.partner)  # acme brought the person AND read them
    disclosures.record([pid], "kampanja", "call_list", setup_actor(), campaign_id="c" * 32)  # received only
    assert {i["recipient"] for i in all_prospect_items(stack) if i["sk"].startswith("DISCLOSURE#")} == {
        "acme",
        "kampanja",
    }
    _erase(client, tokens)
    _request(client, tokens, "erasure")  # a repeated request notifies no one again
    for partner in ("acme", "beta", "kampanja"):
        [notice] = _notified(stack, partner)
        assert notice["prospect_id"] == pid and notice["change"] == "erased"
        _no_address(json.dumps(notice, default=str))
    assert _notified(stack, "gamma") == []  # never got nor brought the person
    events = stack.table("audit").query(KeyConditionExpression=Key("pk").eq(f"RECORD#prospects#{pid}"))["Items"]
    told = sorted(e["notification"]["recipient"] for e in events if e["action"] == "notify")
    assert told == ["acme", "beta", "kampanja"]
    status, page = call(client, "GET", "/partner/notifications", tokens.partner)
    assert status == 200 and [(n["prospect_id"], n["change"]) for n in page["items"]] == [(pid, "erased")]


def test_a_retention_deletion_a_staff_delete_and_an_objection_leave_no_do_not_re_add_entry(
    client: Any, stack: Stack, tokens: Tokens
) -> None:
    with clock.frozen(datetime(2024, 5, 31, 10, tzinfo=UTC)):
        _import(stack, "acme", ROWS[:1])
    with clock.frozen(datetime(2026, 6, 1, 10, tzinfo=UTC)):
        _import(stack, "acme", ROWS[1:], "sote.csv")
    result = client.lambda_.invoke("retention_sweeper", {"as_of": "2026-06-01"}).payload
    assert result["rules"]["prospect_unverified"]["done"] == 2  # the PROFILE and acme's item
    assert [i["email"] for i in prospect_items(stack)] == ["sari@sote.fi"]
    assert _entries(stack) == [] and suppression.erased_since(EMAIL) is None
    # Outdated, not erased on request: the partner may bring the person back.
    run = _import(stack, "acme", ROWS[:1], "uudestaan.csv")
    assert run["counts"]["inserted"] == 1 and run["rejected_by_reason"] == {}
    # Staff housekeeping (DELETE /prospects/{id}) is no erasure request either.
    pid = _pid(client, tokens.partner)
    assert call(client, "DELETE", f"/prospects/{pid}", tokens.staff)[0] == 200
    assert _entries(stack) == []
    # An objection suppresses under its own reason; the access answer keeps the two apart.
    _import(stack, "acme", ROWS[:1], "kolmas.csv")
    _request(client, tokens, "objection")
    assert [(e["reason"], e["suppression_key"].startswith("erased:")) for e in _entries(stack)] == [
        ("objection", False),
        ("objection", False),  # the person's number on the do-not-call list
    ]
    answer = _request(client, tokens, "access")["answer"]
    assert answer["suppression"]["on_list"] is True and answer["do_not_re_add"]["on_list"] is False


def test_an_entry_made_under_an_older_key_version_still_blocks(client: Any, stack: Stack, tokens: Tokens) -> None:
    """Look-ups try every key version of the ring, so a rotation lets no erased person back."""
    _import(stack, "acme", ROWS[:1])
    _erase(client, tokens)
    old = suppression.erased_key(EMAIL)
    sm = boto3.client("secretsmanager", region_name=REGION)
    current = sm.get_secret_value(SecretId=stack.env["PSEUDONYM_KEY_SECRET"])["SecretString"]
    ring = {"current": "v2", "keys": {"v1": current, "v2": "r" * 48}}
    sm.put_secret_value(SecretId=stack.env["PSEUDONYM_KEY_SECRET"], SecretString=json.dumps(ring))
    secrets.clear_cache()
    assert suppression.erased_key(EMAIL) != old and suppression.erased_since(EMAIL) == clock.iso(ERASED_AT)
    assert suppression.import_blocks([EMAIL]) == (set(), {EMAIL})
    run = _import(stack, "acme", ROWS, "rotated.csv")
    assert run["rejected_by_reason"] == {"erased_on_request": 1}
    assert call(client, "POST", "/prospects", tokens.staff, NEW)[1]["error"]["code"] == "erased_on_request"


def test_only_the_api_writes_the_entry() -> None:
    """The API (subject requests) may write the suppression table; the sweeper and imports
    may not (a retention deletion or a partner file never makes an entry)."""
    table = table_arn("SuppressionTable")
    roles = function_roles(packaged())
    assert allowed(roles["APIHandler"], "dynamodb:UpdateItem", table)
    assert not allowed(roles["APIHandler"], "dynamodb:DeleteItem", table)
    for function in ("RetentionSweeper", "PartnerImport"):
        for action in ("dynamodb:PutItem", "dynamodb:UpdateItem"):
            assert not allowed(roles[function], action, table)
