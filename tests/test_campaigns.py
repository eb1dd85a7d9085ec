"""Campaigns through the API: the draft and its selection, the queued materialisation, the
audience as it stands at each read, the marketing partner's assignment, closing, retention."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from boto3.dynamodb.conditions import Key

from chalicelib import campaigns, clock, retention, suppression
from chalicelib.errors import NotFound
from tests.aws_calls import Recorder
from tests.campaigns_helpers import audience, drain_campaigns, queue_url, ready_campaign
from tests.conftest import Stack, Tokens, call, register_partner, setup_actor
from tests.imports_helpers import csv_bytes, drain, sqs, upload

# acme's list: four directors (one numberless), one secretary.
ACME_ROWS = [
    ["Kunta Oy", "Äijä Öhman", "Toimitusjohtaja", "aija@kunta.fi", "040 123 4567"],
    ["Sote Ky", "Sari Sote", "Sosiaalijohtaja", "sari@sote.fi", ""],
    ["Kunta Oy", "Pekka Puu", "Sihteeri", "pekka@kunta.fi", "040 765 4321"],
    ["Rakennus Oy", "Olli Ohto", "Talousjohtaja", "olli@rakennus.fi", "050 111 2222"],
    ["Liikunta ry", "Liisa Laji", "Toiminnanjohtaja", "liisa@liikunta.fi", "044 333 4444"],
]
STAFF_ENTRY = {
    "organization": "Hyvinvointialue",
    "contact_name": "Veera Virta",
    "title": "Hallintojohtaja",
    "email": "veera@hva.fi",
    "phone": "09 123 4567",
}


def _seed(stack: Stack, client: Any, tokens: Tokens) -> dict[str, str]:
    """acme's import and one staff entry; {email: prospect id}."""
    upload(stack, "incoming/acme/lista.csv", csv_bytes(ACME_ROWS))
    drain(stack)
    status, body = call(client, "POST", "/prospects", tokens.staff, STAFF_ENTRY)
    assert status == 201, body
    ids = {}
    for item in stack.table("prospects").scan()["Items"]:
        if item["sk"] == "PROFILE":
            ids[item["email"]] = item["prospect_id"]
    return ids


def _audit(stack: Stack, register: str, record_id: str) -> list[dict[str, Any]]:
    resp = stack.table("audit").query(KeyConditionExpression=Key("pk").eq(f"RECORD#{register}#{record_id}"))
    return list(resp["Items"])


def _members(stack: Stack, campaign_id: str) -> list[dict[str, Any]]:
    resp = stack.table("campaigns").query(
        KeyConditionExpression=Key("pk").eq(f"CAMPAIGN#{campaign_id}") & Key("sk").begins_with("MEMBER#")
    )
    return list(resp["Items"])


def test_staff_keep_a_draft_and_list_campaigns_newest_first(client: Any, stack: Stack, tokens: Tokens) -> None:
    body = {
        "name": "Johtajat",
        "purpose": "Uusien asiakkaiden haku",
        "channel": "phone",
        "selection": {"title_words": ["JOHTAJA"], "organization": "oy"},
    }
    status, first = call(client, "POST", "/campaigns", tokens.staff, body)
    assert status == 201, first
    assert first["status"] == "draft" and first["version"] == 1 and first["created_by"]
    assert first["selection"] == {"title_words": ["JOHTAJA"], "organization": "oy"}
    assert first["counts"] == {
        "selected": 0,
        "audience": 0,
        "excluded": dict.fromkeys(campaigns.EXCLUSIONS, 0),
    }
    status, second = call(client, "POST", "/campaigns", tokens.dpo, {**body, "name": "Toinen", "channel": "email"})
    assert status == 201
    status, page = call(client, "GET", "/campaigns?limit=1", tokens.staff)
    assert status == 200 and [c["campaign_id"] for c in page["items"]] == [second["campaign_id"]]
    status, rest = call(client, "GET", f"/campaigns?limit=5&cursor={page['next_cursor']}", tokens.staff)
    assert [c["campaign_id"] for c in rest["items"]] == [first["campaign_id"]]

    cid = first["campaign_id"]
    status, changed = call(client, "PATCH", f"/campaigns/{cid}", tokens.staff, {"name": "Johtajat II", "version": 1})
    assert status == 200 and changed["name"] == "Johtajat II" and changed["version"] == 2
    status, stale = call(client, "PATCH", f"/campaigns/{cid}", tokens.staff, {"name": "Vanha", "version": 1})
    assert status == 409 and stale["error"]["code"] == "version_conflict"
    status, got = call(client, "GET", f"/campaigns/{cid}", tokens.staff)
    assert got["name"] == "Johtajat II"
    status, _missing = call(client, "GET", f"/campaigns/{'0' * 32}", tokens.staff)
    assert status == 404
    status, _missing = call(client, "GET", "/campaigns/not-an-id", tokens.staff)
    assert status == 404

    events = {e["action"] for e in _audit(stack, "campaigns", cid)}
    assert events == {"create", "update"}
    status, trail = call(client, "GET", f"/audit/records/campaigns/{cid}", tokens.dpo)
    assert status == 200 and {e["action"] for e in trail["items"]} == {"create", "update"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"channel": "fax"}, "channel"),
        ({"selection": {"title_words": []}}, "selection.title_words"),
        ({"selection": {"organisation": "typo"}}, "selection.organisation"),
        ({"selection": {"first_seen_from": "2026-13-01"}}, "selection.first_seen_from"),
        ({"selection": {"first_seen_from": 20260101}}, "selection.first_seen_from"),
        ({"selection": {"last_verified_from": "2026-05-01", "last_verified_to": "2026-04-01"}}, "selection"),
        ({"selection": {"source_partner": "Not A Partner"}}, "selection.source_partner"),
        ({"selection": {"title_match": "some", "title_words": ["a"]}}, "selection.title_match"),
        ({"name": ""}, "name"),
    ],
)
def test_a_bad_campaign_is_refused_naming_the_field(
    client: Any, stack: Stack, tokens: Tokens, body: dict[str, Any], field: str
) -> None:
    doc = {"name": "Kampanja", "purpose": "Myynti", "channel": "email", **body}
    status, err = call(client, "POST", "/campaigns", tokens.staff, doc)
    assert status == 400, err
    assert field in [d["field"] for d in err["error"]["details"]]


def test_an_email_campaign_excludes_at_materialisation_and_again_at_every_read(
    client: Any, stack: Stack, tokens: Tokens, calls_against_roles: Recorder
) -> None:
    ids = _seed(stack, client, tokens)
    suppression.suppress("olli@rakennus.fi", "objection", setup_actor())
    start = len(calls_against_roles.calls)
    campaign = ready_campaign(client, stack, tokens.staff, selection={"title_words": ["johtaja"]})
    cid = campaign["campaign_id"]
    # Five directors selected (the secretary not); Olli had objected: four in the audience.
    assert campaign["counts"]["selected"] == 5
    assert campaign["counts"]["audience"] == 4
    assert campaign["counts"]["excluded"]["suppressed"] == 1
    assert campaign["materialised_at"] and campaign["retention_due_at"]
    assert {m["prospect_id"] for m in _members(stack, cid)} == {
        ids[e] for e in ("aija@kunta.fi", "sari@sote.fi", "liisa@liikunta.fi", "veera@hva.fi")
    }
    # Read through the indexes only, never a Scan of the register.
    job = [c for c in calls_against_roles.calls[start:] if c.function == "campaign_materialiser"]
    assert job and not any(c.operation == "dynamodb:Scan" for c in job)

    items, excluded = audience(client, tokens.staff, cid)
    assert {i["email"] for i in items} == {"aija@kunta.fi", "sari@sote.fi", "liisa@liikunta.fi", "veera@hva.fi"}
    assert all(i["added_at"] and i["prospect_id"] for i in items)
    assert sum(excluded.values()) == 0
    reads = _audit(stack, "prospects", ids["liisa@liikunta.fi"])
    assert any(e["action"] == "read" and "email" in e["fields"] for e in reads)

    # After materialisation: Sari objects, Liisa's record is restricted, Äijä is erased.
    suppression.suppress("sari@sote.fi", "objection", setup_actor())
    stack.table("prospects").update_item(
        Key={"pk": f"PROSPECT#{ids['liisa@liikunta.fi']}", "sk": "PROFILE"},
        UpdateExpression="SET restriction = :r",
        ExpressionAttributeValues={":r": {"reason": "accuracy_contested"}},
    )
    status, _ = call(client, "DELETE", f"/prospects/{ids['aija@kunta.fi']}", tokens.staff)
    assert status == 200
    items, excluded = audience(client, tokens.staff, cid, limit=2)
    assert [i["email"] for i in items] == ["veera@hva.fi"]
    assert excluded == {"suppressed": 1, "do_not_call": 0, "no_phone": 0, "restricted": 1, "erased": 1}
    # Counts say why, never who: the exclusions name no one.
    status, page = call(client, "GET", f"/campaigns/{cid}/audience", tokens.staff)
    assert "sari" not in str(page["excluded"]) and ids["sari@sote.fi"] not in str(page["excluded"])

    # Formed once: neither materialised again nor changed.
    status, again = call(client, "POST", f"/campaigns/{cid}/materialisation", tokens.staff)
    assert status == 409 and again["error"]["code"] == "already_materialised"
    status, late = call(client, "PATCH", f"/campaigns/{cid}", tokens.staff, {"name": "Myöhässä"})
    assert status == 409 and late["error"]["code"] == "not_a_draft"
    actions = [e["action"] for e in _audit(stack, "campaigns", cid)]
    assert actions.count("create") == 1 and actions.count("materialise") >= 2  # the start and each page


def test_a_phone_campaign_leaves_out_the_do_not_call_list_and_numberless(
    client: Any, stack: Stack, tokens: Tokens
) -> None:
    _seed(stack, client, tokens)
    suppression.suppress_phone("050 111 2222", "do_not_call", setup_actor())
    campaign = ready_campaign(client, stack, tokens.staff, channel="phone", selection={"organization": "oy"})
    # Kunta Oy ×2, Rakennus Oy: Olli's number is on the do-not-call list.
    assert campaign["counts"]["selected"] == 3
    assert campaign["counts"]["excluded"]["do_not_call"] == 1
    assert campaign["counts"]["audience"] == 2
    items, _ = audience(client, tokens.staff, campaign["campaign_id"])
    assert {i["email"] for i in items} == {"aija@kunta.fi", "pekka@kunta.fi"}

    # Sote Ky's director has no number: out of a phone campaign, in an email one.
    campaign = ready_campaign(client, stack, tokens.staff, channel="phone", selection={"organization": "sote"})
    assert campaign["counts"]["excluded"]["no_phone"] == 1 and campaign["counts"]["audience"] == 0
    # A number put on the list after materialisation is out of the next read.
    campaign = ready_campaign(client, stack, tokens.staff, channel="phone", selection={"organization": "kunta oy"})
    suppression.suppress_phone("+358407654321", "do_not_call", setup_actor())
    items, excluded = audience(client, tokens.staff, campaign["campaign_id"])
    assert [i["email"] for i in items] == ["aija@kunta.fi"] and excluded["do_not_call"] == 1


def test_selection_by_source_partner_title_words_and_dates(
    client: Any, stack: Stack, tokens: Tokens, calls_against_roles: Recorder
) -> None:
    register_partner(stack, "tieto", "data_provider")
    _seed(stack, client, tokens)
    upload(
        stack, "incoming/tieto/lista.csv", csv_bytes([["Tieto Oy", "Timo Tieto", "Myyntijohtaja", "timo@tieto.fi", ""]])
    )
    drain(stack)
    start = len(calls_against_roles.calls)
    campaign = ready_campaign(
        client,
        stack,
        tokens.staff,
        selection={"source_partner": "acme", "title_words": ["TOIMITUS", "talous"], "title_match": "any"},
    )
    assert campaign["counts"]["audience"] == 2  # Toimitusjohtaja, Talousjohtaja: acme's, not tieto's
    job = [c for c in calls_against_roles.calls[start:] if c.function == "campaign_materialiser"]
    indexes = {r.resource.rsplit("/", 1)[-1] for c in job for r in c.requests if r.action == "dynamodb:Query"}
    assert indexes == {"by_source"}

    both = ready_campaign(
        client, stack, tokens.staff, selection={"title_words": ["myynti", "johtaja"], "title_match": "all"}
    )
    items, _ = audience(client, tokens.staff, both["campaign_id"])
    assert [i["email"] for i in items] == ["timo@tieto.fi"]

    today = clock.local_date()
    later = ready_campaign(client, stack, tokens.staff, selection={"first_seen_from": str(today + timedelta(days=1))})
    assert later["counts"]["selected"] == 0
    now = ready_campaign(
        client,
        stack,
        tokens.staff,
        selection={
            "first_seen_from": str(today - timedelta(days=1)),
            "last_verified_to": str(today + timedelta(days=1)),
        },
    )
    assert now["counts"]["selected"] == 7


def test_materialisation_continues_in_segments_and_counts_each_person_once(
    client: Any, stack: Stack, tokens: Tokens, monkeypatch: pytest.MonkeyPatch
) -> None:
    _seed(stack, client, tokens)
    monkeypatch.setattr(campaigns, "PAGE", 2)
    monkeypatch.setattr(campaigns, "RESERVE_SECONDS", 10**9)  # every invocation stops after one page
    status, created = call(
        client, "POST", "/campaigns", tokens.staff, {"name": "K", "purpose": "P", "channel": "email"}
    )
    cid = created["campaign_id"]
    status, started = call(client, "POST", f"/campaigns/{cid}/materialisation", tokens.staff)
    assert status == 202 and started["status"] == "materialising"
    # A duplicate delivery, and staff asking again while it runs: two more messages.
    sqs().send_message(QueueUrl=queue_url(stack), MessageBody=f'{{"campaign_id": "{cid}"}}')
    status, _again = call(client, "POST", f"/campaigns/{cid}/materialisation", tokens.staff)
    assert status == 202
    invocations = drain_campaigns(stack)
    assert invocations >= 4  # six prospects, two a page, each invocation one page
    meta = campaigns.get(cid)
    assert meta["status"] == "ready" and "cursor" not in meta
    assert meta["counts"]["selected"] == 6 and meta["counts"]["audience"] == 6
    assert len(_members(stack, cid)) == 6


def test_a_page_committed_by_another_delivery_is_not_counted_again(
    client: Any, stack: Stack, tokens: Tokens, monkeypatch: pytest.MonkeyPatch
) -> None:
    _seed(stack, client, tokens)
    monkeypatch.setattr(campaigns, "PAGE", 4)
    _status, created = call(
        client, "POST", "/campaigns", tokens.staff, {"name": "K", "purpose": "P", "channel": "email"}
    )
    cid = created["campaign_id"]
    call(client, "POST", f"/campaigns/{cid}/materialisation", tokens.staff)
    stale = campaigns.get(cid)
    assert campaigns.materialise_page(cid) is False  # the first page, committed
    # A redelivery that read the campaign before that commit: its transaction is refused.
    monkeypatch.setattr(campaigns, "get", lambda _: stale)
    assert campaigns.materialise_page(cid) is False
    monkeypatch.undo()
    assert campaigns.get(cid)["counts"]["selected"] == 4
    campaigns.materialise(cid)
    meta = campaigns.get(cid)
    assert meta["counts"]["selected"] == 6 and meta["counts"]["audience"] == 6 and meta["segments"] == 2


def test_assignment_to_a_marketing_partner(client: Any, stack: Stack, tokens: Tokens) -> None:
    register_partner(stack, "toinen", "marketing")
    register_partner(stack, "ilmansopimusta", "marketing", recorded=False)
    register_partner(stack, "tauolla", "marketing", status="suspended")
    status, created = call(
        client, "POST", "/campaigns", tokens.staff, {"name": "K", "purpose": "P", "channel": "phone"}
    )
    cid = created["campaign_id"]
    path = f"/campaigns/{cid}/assignment"
    for partner, code, expected in (
        ("eiole", 400, "unknown_partner"),
        ("acme", 400, "not_a_marketing_partner"),
        ("ilmansopimusta", 409, "no_processing_agreement"),
        ("tauolla", 409, "partner_inactive"),
    ):
        status, err = call(client, "PUT", path, tokens.staff, {"partner_id": partner})
        assert (status, err["error"]["code"]) == (code, expected)
    status, err = call(client, "PUT", path, tokens.staff, {"partner": "kampanja"})
    assert status == 400

    status, assigned = call(client, "PUT", path, tokens.staff, {"partner_id": "kampanja"})
    assert status == 200 and assigned["assigned_partner"] == "kampanja" and assigned["assignment_open"] is True
    assert campaigns.assigned(cid, "kampanja")["campaign_id"] == cid
    with pytest.raises(NotFound):
        campaigns.assigned(cid, "toinen")
    status, err = call(client, "PUT", path, tokens.staff, {"partner_id": "toinen"})
    assert status == 409 and err["error"]["code"] == "assigned"
    status, _same = call(client, "PUT", path, tokens.staff, {"partner_id": "kampanja"})
    assert status == 200

    status, ended = call(client, "DELETE", path, tokens.staff)
    assert status == 200 and ended["assignment_open"] is False and ended["assignment_closed_at"]
    with pytest.raises(NotFound):
        campaigns.assigned(cid, "kampanja")
    status, err = call(client, "DELETE", path, tokens.staff)
    assert status == 409 and err["error"]["code"] == "not_assigned"
    page = campaigns.list_assigned("kampanja", 10, None)
    assert [i["campaign_id"] for i in page["items"]] == [cid]
    actions = [e["action"] for e in _audit(stack, "campaigns", cid)]
    assert actions.count("assign") == 2 and actions.count("unassign") == 1


def test_member_is_found_only_in_the_audience(client: Any, stack: Stack, tokens: Tokens) -> None:
    ids = _seed(stack, client, tokens)
    campaign = ready_campaign(client, stack, tokens.staff, selection={"organization": "kunta oy"})
    cid = campaign["campaign_id"]
    assert campaigns.member(cid, ids["aija@kunta.fi"])["prospect_id"] == ids["aija@kunta.fi"]
    with pytest.raises(NotFound):
        campaigns.member(cid, ids["veera@hva.fi"])
    with pytest.raises(NotFound):
        campaigns.member(cid, "nope")


def test_closing_ends_access_and_the_audience_goes_after_its_period(client: Any, stack: Stack, tokens: Tokens) -> None:
    _seed(stack, client, tokens)
    campaign = ready_campaign(client, stack, tokens.staff, selection={"organization": "kunta oy"})
    cid = campaign["campaign_id"]
    call(client, "PUT", f"/campaigns/{cid}/assignment", tokens.staff, {"partner_id": "kampanja"})
    status, closed = call(client, "POST", f"/campaigns/{cid}/closure", tokens.staff)
    assert status == 200 and closed["status"] == "closed" and closed["assignment_open"] is False
    today = clock.local_date()
    due = date.fromisoformat(closed["retention_due_at"])
    assert 365 <= (due - today).days <= 366
    with pytest.raises(NotFound):
        campaigns.assigned(cid, "kampanja")
    status, err = call(client, "GET", f"/campaigns/{cid}/audience", tokens.staff)
    assert status == 409 and err["error"]["code"] == "audience_not_available"
    status, err = call(client, "POST", f"/campaigns/{cid}/closure", tokens.staff)
    assert status == 409 and err["error"]["code"] == "campaign_closed"

    summary = retention.sweep(due - timedelta(days=1))
    assert summary["rules"]["campaign_closed"]["done"] == 0 and len(_members(stack, cid)) == 2
    summary = retention.sweep(due)
    assert summary["rules"]["campaign_closed"]["done"] == 1
    assert _members(stack, cid) == []
    status, kept = call(client, "GET", f"/campaigns/{cid}", tokens.staff)
    assert kept["audience_deleted_at"] and kept["counts"]["audience"] == 2 and "retention_due_at" not in kept
    assert "delete" in [e["action"] for e in _audit(stack, "campaigns", cid)]


def test_a_campaign_left_open_closes_itself_then_its_audience_goes(
    client: Any, stack: Stack, tokens: Tokens, monkeypatch: pytest.MonkeyPatch
) -> None:
    _seed(stack, client, tokens)
    campaign = ready_campaign(client, stack, tokens.staff, selection={"organization": "kunta oy"})
    cid = campaign["campaign_id"]
    call(client, "PUT", f"/campaigns/{cid}/assignment", tokens.staff, {"partner_id": "kampanja"})
    open_due = date.fromisoformat(campaign["retention_due_at"])
    assert 181 <= (open_due - clock.local_date()).days <= 184  # six months
    monkeypatch.setattr(campaigns, "DELETE_BATCH", 1)  # members deleted one transaction each
    summary = retention.sweep(open_due)
    assert summary["rules"]["campaign_unclosed"]["done"] == 1
    closed = campaigns.get(cid)
    assert closed["status"] == "closed" and closed["assignment_open"] is False
    assert closed["retention_rule"] == "campaign_closed"
    with pytest.raises(NotFound):
        campaigns.assigned(cid, "kampanja")
    summary = retention.sweep(date.fromisoformat(closed["retention_due_at"]))
    assert summary["rules"]["campaign_closed"]["done"] == 1 and _members(stack, cid) == []


def test_a_draft_needs_no_queue_and_cannot_be_read_as_an_audience(client: Any, stack: Stack, tokens: Tokens) -> None:
    status, created = call(
        client, "POST", "/campaigns", tokens.staff, {"name": "K", "purpose": "P", "channel": "email"}
    )
    cid = created["campaign_id"]
    assert sqs().receive_message(QueueUrl=queue_url(stack)).get("Messages", []) == []
    status, err = call(client, "GET", f"/campaigns/{cid}/audience", tokens.staff)
    assert status == 409 and err["error"]["code"] == "audience_not_available"


def test_a_message_naming_no_campaign_fails_alone(stack: Stack) -> None:
    from tests.campaigns_helpers import invoke

    sqs().send_message(QueueUrl=queue_url(stack), MessageBody='{"campaign": "x"}')
    (message,) = sqs().receive_message(QueueUrl=queue_url(stack)).get("Messages", [])
    assert invoke(stack, [message]) == {"batchItemFailures": [{"itemIdentifier": message["MessageId"]}]}


def test_closing_while_materialising_stops_the_job(
    client: Any, stack: Stack, tokens: Tokens, monkeypatch: pytest.MonkeyPatch
) -> None:
    _seed(stack, client, tokens)
    monkeypatch.setattr(campaigns, "PAGE", 2)
    status, created = call(
        client, "POST", "/campaigns", tokens.staff, {"name": "K", "purpose": "P", "channel": "email"}
    )
    cid = created["campaign_id"]
    call(client, "POST", f"/campaigns/{cid}/materialisation", tokens.staff)
    assert campaigns.materialise_page(cid) is False
    status, closed = call(client, "POST", f"/campaigns/{cid}/closure", tokens.staff)
    assert status == 200 and closed["status"] == "closed" and closed["counts"]["selected"] == 2
    drain_campaigns(stack)
    meta = campaigns.get(cid)
    assert meta["status"] == "closed" and meta["counts"]["selected"] == 2 and len(_members(stack, cid)) == 2
    assert meta["retention_rule"] == "campaign_closed"
