"""Keyrings fail closed: a secret that is not a valid keyring is refused, alarmed, and
neither the API nor an import computes a keyed hash with a wrong key."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import boto3
import pytest

from chalicelib import secrets, suppression
from chalicelib.secrets import MIN_KEY_BYTES, SecretUnusable, parse_keyring
from tests.conftest import REGION, Stack, Tokens, call, setup_actor
from tests.imports_helpers import csv_bytes, drain, prospect_items, runs_of, upload

KEY_1 = "k" * 48
KEY_2 = "n" * 48
TEMPLATE = Path(__file__).resolve().parent.parent / "infra" / "resources.json"


def test_a_plain_string_is_a_one_key_ring() -> None:
    ring = parse_keyring(KEY_1)
    assert (ring.current, ring.keys) == ("v1", {"v1": KEY_1.encode()})


def test_a_valid_keyring_is_read() -> None:
    ring = parse_keyring(json.dumps({"current": "v2", "keys": {"v1": KEY_1, "v2": KEY_2}}))
    assert ring.current == "v2" and ring.current_key == KEY_2.encode() and set(ring.keys) == {"v1", "v2"}


@pytest.mark.parametrize(
    ("secret", "reason"),
    [
        # The case the issue found: a typo in `current` used to make the whole JSON one key.
        ({"current": "V2", "keys": {"v1": KEY_1, "v2": KEY_2}}, "`current` does not name"),
        ({"current": "v3", "keys": {"v1": KEY_1, "v2": KEY_2}}, "`current` does not name"),
        ({"keys": {"v1": KEY_1}}, "`current` does not name"),
        ({"current": "v1", "keys": {}}, "non-empty object"),
        ({"current": "v1", "keys": [KEY_1]}, "non-empty object"),
        ({"current": "v1", "keys": {"v1": KEY_1}, "curent": "v2"}, "unknown field"),
        ({"current": "V1", "keys": {"V1": KEY_1}}, "named v1, v2"),
        ({"current": "v1", "keys": {"v1": KEY_1, "v2": "short"}}, f"shorter than {MIN_KEY_BYTES}"),
        ({"current": "v1", "keys": {"v1": 12345678901234567890123456789012345}}, "not a string"),
        ("a-quoted-json-string-that-is-long-enough", "not a keyring object"),
        ([KEY_1], "not a keyring object"),
        (12345678901234567890123456789012345, "not a keyring object"),
    ],
)
def test_json_that_is_not_a_valid_keyring_is_refused(secret: Any, reason: str) -> None:
    with pytest.raises(SecretUnusable) as raised:
        parse_keyring(json.dumps(secret))
    message = str(raised.value)
    assert reason in message
    assert KEY_1 not in message and KEY_2 not in message and "short" not in message.replace("shorter", "")


def test_a_short_plain_key_is_refused() -> None:
    with pytest.raises(SecretUnusable, match=f"shorter than {MIN_KEY_BYTES}"):
        parse_keyring("x" * (MIN_KEY_BYTES - 1))
    assert parse_keyring("x" * MIN_KEY_BYTES).current_key == b"x" * MIN_KEY_BYTES


# --- the app with a broken secret ---------------------------------------------------------

BROKEN = json.dumps({"current": "V2", "keys": {"v1": KEY_1, "v2": KEY_2}})


def _put_secret(stack: Stack, setting: str, value: str) -> None:
    sm = boto3.client("secretsmanager", region_name=REGION)
    sm.put_secret_value(SecretId=stack.env[setting], SecretString=value)
    secrets.clear_cache()


def _unusable_filters(resources: dict[str, Any]) -> dict[str, Any]:
    """The template's metric filters that count `SecretUnusable` (others count other things)."""
    return {
        k: r
        for k, r in resources.items()
        if r.get("Type") == "AWS::Logs::MetricFilter"
        and any(t["MetricName"] == "SecretUnusable" for t in r["Properties"]["MetricTransformations"])
    }


def _unusable_lines(out: io.StringIO) -> list[dict[str, Any]]:
    """The log lines the template's metric filter counts (its JSON pattern, evaluated here)."""
    template = json.loads(TEMPLATE.read_text())["Resources"]
    patterns = {r["Properties"]["FilterPattern"] for r in _unusable_filters(template).values()}
    matched = []
    for line in out.getvalue().splitlines():
        doc = json.loads(line)
        for pattern in patterns:
            m = re.fullmatch(r'\{ \$\.(\w+) = "([^"]*)" \}', pattern)
            assert m, pattern
            if doc.get(m[1]) == m[2]:
                matched.append(doc)
    return matched


def test_api_answers_503_and_writes_nothing(client: Any, stack: Stack, tokens: Tokens, log_lines: io.StringIO) -> None:
    _put_secret(stack, "PSEUDONYM_KEY_SECRET", BROKEN)
    prospect = {"organization": "Kunta", "contact_name": "Pekka Päättäjä", "email": "pekka@kunta.fi"}
    status, body = call(client, "POST", "/prospects", tokens.staff, prospect)
    assert status == 503, body
    assert body == {"error": {"code": "service_unavailable", "message": "Temporarily unavailable."}}
    status, body = call(client, "POST", "/subject-requests", tokens.staff, {"type": "objection", "email": "a@b.fi"})
    assert status == 503 and body["error"]["code"] == "service_unavailable"
    assert prospect_items(stack) == []
    assert stack.table("suppression").scan()["Items"] == []
    alarmed = _unusable_lines(log_lines)
    assert alarmed and all(line["level"] == "ERROR" for line in alarmed)
    assert KEY_1 not in log_lines.getvalue() and KEY_2 not in log_lines.getvalue()
    assert "Traceback" not in log_lines.getvalue()
    # Corrected, it is used at once (an unusable secret is never cached).
    _put_secret(stack, "PSEUDONYM_KEY_SECRET", json.dumps({"current": "v2", "keys": {"v1": KEY_1, "v2": KEY_2}}))
    assert call(client, "POST", "/prospects", tokens.staff, prospect)[0] == 201


def test_unsubscribe_links_fail_closed_too(client: Any, stack: Stack, tokens: Tokens) -> None:
    _put_secret(stack, "UNSUBSCRIBE_SECRET", "too-short")
    status, body = call(client, "POST", "/unsubscribe-links", tokens.staff, {"email": "a@b.fi"})
    assert status == 503 and body["error"]["code"] == "service_unavailable"
    status, body = call(client, "POST", "/unsubscribe", None, {"token": "v1.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"})
    assert status == 503 and body["error"]["code"] == "service_unavailable"


def test_import_retries_instead_of_importing_with_a_wrong_key(stack: Stack, log_lines: io.StringIO) -> None:
    suppression.suppress("objector@kunta.fi", "objection", setup_actor())
    _put_secret(stack, "PSEUDONYM_KEY_SECRET", BROKEN)
    rows = [
        ["Kunta", "Olli Objektori", "", "objector@kunta.fi", ""],
        ["Kunta", "Uusi Ihminen", "", "uusi@kunta.fi", ""],
    ]
    upload(stack, "incoming/acme/lista.csv", csv_bytes(rows))
    with pytest.raises(AssertionError, match="did not drain"):
        drain(stack, rounds=2)
    assert prospect_items(stack) == []
    [run] = runs_of(stack, "acme")
    assert run["state"] != "done"
    assert _unusable_lines(log_lines)
    # Once the ring is corrected, the redelivery imports, and the objector stays out.
    _put_secret(stack, "PSEUDONYM_KEY_SECRET", json.dumps({"current": "v1", "keys": {"v1": _original(stack)}}))
    drain(stack)
    [run] = runs_of(stack, "acme")
    assert run["state"] == "done" and run["counts"]["inserted"] == 1
    assert run["rejected_by_reason"] == {"not_imported": 1}  # the partner is not told why


def _original(stack: Stack) -> str:
    sm = boto3.client("secretsmanager", region_name=REGION)
    versions = sm.list_secret_version_ids(SecretId=stack.env["PSEUDONYM_KEY_SECRET"])["Versions"]
    previous = [v for v in versions if "AWSCURRENT" not in v.get("VersionStages", [])]
    return str(
        sm.get_secret_value(SecretId=stack.env["PSEUDONYM_KEY_SECRET"], VersionId=previous[0]["VersionId"])[
            "SecretString"
        ]
    )


def test_the_alarm_counts_the_logged_refusals_and_notifies() -> None:
    res = json.loads(TEMPLATE.read_text())["Resources"]
    filters = {k: r["Properties"] for k, r in _unusable_filters(res).items()}
    # Every function that reads a keyring (its policy allows the secrets) has the filter.
    assert {f["LogGroupName"]["Ref"] for f in filters.values()} >= {"ApiHandlerLogGroup", "PartnerImportLogGroup"}
    metrics = {(t["MetricNamespace"], t["MetricName"]) for f in filters.values() for t in f["MetricTransformations"]}
    alarm = res["SecretUnusableAlarm"]["Properties"]
    assert metrics == {(alarm["Namespace"], alarm["MetricName"])}
    assert alarm["Threshold"] == 0 and alarm["ComparisonOperator"] == "GreaterThanThreshold"
    assert alarm["AlarmActions"] == [{"Ref": "AlarmTopic"}]
    assert all(secrets.UNUSABLE_LOG_MESSAGE in f["FilterPattern"] for f in filters.values())
