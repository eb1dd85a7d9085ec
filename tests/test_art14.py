"""GDPR Art. 14 notices, read as the recipients get them: the first campaign message carries
the information and names the right source, later ones do not repeat it; the nightly job
informs the due and uninformed exactly once and no one it must leave out; the DPO lists who
is due and who is overdue."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any, cast

import pytest
from boto3.dynamodb.conditions import Key

from chalicelib import art14, clock, disclosures, suppression
from chalicelib.mail import campaign_send
from devstack.worker import scheduled_event
from tests.campaigns_helpers import ready_campaign
from tests.conftest import REGION, Stack, Tokens, call, sent_mail, setup_actor
from tests.imports_helpers import csv_bytes, drain, upload
from tests.mail_helpers import drain_mail

ROWS = [
    ["Kunta Oy", "Äijä Öhman", "Toimitusjohtaja", "aija@kunta.fi", ""],
    ["Sote Ky", "Sari Sote", "Sosiaalijohtaja", "sari@sote.fi", ""],
    ["Rakennus Oy", "Olli Ohto", "Talousjohtaja", "olli@rakennus.fi", ""],
]
STAFF_ENTRY = {
    "organization": "Hyvinvointialue",
    "contact_name": "Veera Virta",
    "title": "Hallintojohtaja",
    "email": "veera@hva.fi",
}
PARTNER = "acme Oy"  # acme's name in the partner registry (tests/conftest.py)
PUBLIC_FI = "julkiset lähteet (esim. organisaation verkkosivut)"
PUBLIC_EN = "public sources (e.g. the organisation's web site)"
OBTAINED = datetime(2026, 3, 2, 9, tzinfo=UTC)
# 03:00 in Helsinki (EET, UTC+2) 26 days after the data came: due, still within the month.
NIGHT_DUE = datetime(2026, 3, 28, 1, tzinfo=UTC)
# 03:00 in Helsinki (EEST, UTC+3) after Apr 2, the last day of the month.
NIGHT_OVERDUE = datetime(2026, 4, 4, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _no_waiting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(campaign_send, "pause", lambda _seconds: None)


def _seed(stack: Stack, client: Any, tokens: Tokens) -> dict[str, str]:
    """acme's three and staff's one, all obtained at OBTAINED; {email: prospect id}."""
    with clock.frozen(OBTAINED):
        upload(stack, "incoming/acme/lista.csv", csv_bytes(ROWS))
        drain(stack)
        status, body = call(client, "POST", "/prospects", tokens.staff, STAFF_ENTRY)
        assert status == 201, body
    items = stack.table("prospects").scan()["Items"]
    return {i["email"]: i["prospect_id"] for i in items if i["sk"] == "PROFILE"}


def _profile(stack: Stack, pid: str) -> dict[str, Any]:
    return dict(stack.table("prospects").get_item(Key={"pk": f"PROSPECT#{pid}", "sk": "PROFILE"})["Item"])


def _mail() -> list[str]:
    """The recipients of the prospects' messages SES accepted, in order (the fixture's
    customer got account mail before)."""
    ours = {r[3] for r in ROWS} | {STAFF_ENTRY["email"]}
    return [str(m["To"]) for m in sent_mail() if str(m["To"]) in ours]


def _parts(msg: EmailMessage) -> tuple[str, str]:
    plain = cast(EmailMessage, msg.get_body(preferencelist=("plain",))).get_content()
    rich = cast(EmailMessage, msg.get_body(preferencelist=("html",))).get_content()
    return plain, rich


def _send_campaign(client: Any, stack: Stack, tokens: Tokens, **selection: Any) -> str:
    campaign = ready_campaign(client, stack, tokens.staff, **selection)
    body = {"subject": "Kevään tarjous", "text": "Hei,\n\nuusi palvelumme säästää aikaa."}
    status, started = call(client, "POST", f"/campaigns/{campaign['campaign_id']}/sending", tokens.staff, body)
    assert status == 202, started
    drain_mail(stack)
    return str(campaign["campaign_id"])


def _night(stack: Stack, when: datetime) -> dict[str, Any]:
    """The schedule fires `art14_notices` at `when`; `mail_sender` runs the job it queued."""
    from chalicelib.events import art14_notices

    with clock.frozen(when):
        result = dict(art14_notices(scheduled_event(when, REGION, "art14_notices-nightly"), None))
        drain_mail(stack)
    return result


def _listing(client: Any, token: str, state: str, when: datetime) -> list[dict[str, Any]]:
    with clock.frozen(when):
        status, page = call(client, "GET", f"/art14-notices?state={state}", token)
    assert status == 200, page
    assert page["next_cursor"] is None
    return list(page["items"])


def test_the_first_campaign_message_informs_and_names_the_source_the_second_does_not_repeat_it(
    client: Any, stack: Stack, tokens: Tokens
) -> None:
    ids = _seed(stack, client, tokens)
    for pid in ids.values():
        profile = _profile(stack, pid)
        assert profile["obtained_at"] == clock.iso(OBTAINED) and profile["art14_pending"] == "uninformed"
        assert "informed_at" not in profile
    with clock.frozen(OBTAINED + timedelta(days=3)):
        _send_campaign(client, stack, tokens)
    for address in ids:
        [msg] = sent_mail(address)
        plain, rich = _parts(msg)
        for part in (plain, rich):
            assert "Tietoa henkilötietojesi käsittelystä" in part
            assert "Wauranoja Oy" in part and "Oikeutettu etu (GDPR 6(1)(f))." in part
            assert "Organisaation nimi, Yhteyshenkilön nimi" in part  # the categories
            assert "OIKEUS VASTUSTAA" in part  # the right to object, apart and clearly
            assert "Ei vahvistettu (2 vuotta): Prospekti poistetaan." in part  # retention, from the register's rules
        source = PUBLIC_FI if address == STAFF_ENTRY["email"] else PARTNER
        assert f"Mistä tietosi saimme: {source}" in plain
        assert f"Mistä tietosi saimme: {source}" in rich
        if address == STAFF_ENTRY["email"]:
            assert PARTNER not in plain
        else:
            assert PUBLIC_FI not in plain
        # The objection paragraph links the person's own working opt-out page.
        link = next(line for line in plain.splitlines() if "/unsubscribe?token=" in line)
        assert plain.index("OIKEUS VASTUSTAA") < plain.index(link)
        profile = _profile(stack, ids[address])
        assert profile["informed_how"] == "email_campaign"
        assert profile["informed_at"] == clock.iso(OBTAINED + timedelta(days=3))
        assert "art14_pending" not in profile
    # Staff and the access answer show both dates.
    pid = ids["sari@sote.fi"]
    status, shown = call(client, "GET", f"/prospects/{pid}", tokens.staff)
    assert status == 200 and shown["obtained_at"] == clock.iso(OBTAINED) and shown["informed_how"] == "email_campaign"
    status, answer = call(
        client, "POST", "/subject-requests", tokens.staff, {"type": "access", "email": "sari@sote.fi"}
    )
    assert status == 200, answer
    [record] = [p["record"] for p in answer["answer"]["parts"] if p.get("record", {}).get("prospect_id") == pid]
    assert record["obtained_at"] == clock.iso(OBTAINED) and record["informed_at"] == shown["informed_at"]
    # Nobody is left for the nightly job.
    assert not stack.table("prospects").query(
        IndexName="art14_due", KeyConditionExpression=Key("art14_pending").eq("uninformed")
    )["Items"]

    with clock.frozen(OBTAINED + timedelta(days=5)):
        _send_campaign(client, stack, tokens)
    for address in ids:
        _first, second = sent_mail(address)
        plain, rich = _parts(second)
        assert "Tietoa henkilötietojesi käsittelystä" not in plain and "OIKEUS VASTUSTAA" not in rich
        assert "/unsubscribe?token=" in plain  # the opt-out of every marketing message stays
        assert _profile(stack, ids[address])["informed_at"] == clock.iso(OBTAINED + timedelta(days=3))


def test_the_nightly_job_informs_the_due_once_and_leaves_out_the_informed_suppressed_and_restricted(
    client: Any, stack: Stack, tokens: Tokens
) -> None:
    ids = _seed(stack, client, tokens)
    aija, sari, olli = (ids[e] for e in ("aija@kunta.fi", "sari@sote.fi", "olli@rakennus.fi"))
    # Veera is informed by a campaign that selected staff's entry only (not acme's).
    with clock.frozen(OBTAINED + timedelta(days=1)):
        _send_campaign(client, stack, tokens, selection={"organization": "Hyvinvointialue"})
    assert _mail() == ["veera@hva.fi"]
    # Sari is on the suppression list (her removal not yet done), Olli's processing is restricted.
    suppression.suppress("sari@sote.fi", "objection", setup_actor())
    stack.table("prospects").update_item(
        Key={"pk": f"PROSPECT#{olli}", "sk": "PROFILE"},
        UpdateExpression="SET restriction = :r",
        ExpressionAttributeValues={":r": {"reason": "accuracy_contested"}},
    )
    # A run before the day it is due sends nothing; a run at another hour does nothing at all.
    assert _night(stack, NIGHT_DUE - timedelta(days=2))["as_of"] == "2026-03-26"
    assert len(_mail()) == 1
    assert _night(stack, NIGHT_DUE + timedelta(hours=1))["skipped"] is True

    assert _night(stack, NIGHT_DUE) == {"queued": "art14_notices", "as_of": "2026-03-28"}
    [notice] = sent_mail("aija@kunta.fi")
    assert _mail() == ["veera@hva.fi", "aija@kunta.fi"]
    plain, rich = _parts(notice)
    for part in (plain, rich):
        assert "Tietoa henkilötietojesi käsittelystä" in part and "How we process your personal data" in part
        assert "OIKEUS VASTUSTAA" in part and "YOUR RIGHT TO OBJECT" in part
    assert f"Mistä tietosi saimme: {PARTNER}" in plain and f"Where we got your data: {PARTNER}" in plain
    assert notice["List-Unsubscribe"].startswith("<") and notice["List-Unsubscribe-Post"] == (
        "List-Unsubscribe=One-Click"
    )
    profile = _profile(stack, aija)
    assert profile["informed_how"] == "notice_email" and profile["informed_at"] == clock.iso(NIGHT_DUE)
    assert "art14_pending" not in profile and "art14_claim" not in profile
    [entry] = [e for e in disclosures.recipients_of(aija) if e["purpose"] == "art14_notice"]
    assert entry["recipient"] == disclosures.SES
    events = stack.table("audit").query(KeyConditionExpression=Key("pk").eq(f"RECORD#prospects#{aija}"))["Items"]
    assert any(e["action"] == "email" and e.get("reason") == "art14_notice" for e in events)
    # Left out, with the reason kept for the DPO; still uninformed.
    assert _profile(stack, sari)["art14_skip"] == "suppressed" and "informed_at" not in _profile(stack, sari)
    assert _profile(stack, olli)["art14_skip"] == "restricted"

    # The schedule's retry, and an operator's manual run, the same night: nothing twice.
    _night(stack, NIGHT_DUE)
    from chalicelib.events import art14_notices

    with clock.frozen(NIGHT_DUE):
        assert art14_notices({"as_of": "2026-03-28"}, None)["queued"] == "art14_notices"
        drain_mail(stack)
    assert len(_mail()) == 2 and len(sent_mail("aija@kunta.fi")) == 1


def test_a_claim_whose_send_is_unknown_is_never_resent(client: Any, stack: Stack, tokens: Tokens) -> None:
    ids = _seed(stack, client, tokens)
    pid = ids["aija@kunta.fi"]
    # An earlier run claimed Aija and died before it knew whether SES took the message.
    stack.table("prospects").update_item(
        Key={"pk": f"PROSPECT#{pid}", "sk": "PROFILE"},
        UpdateExpression="SET art14_claim = :c, art14_claimed_at = :at",
        ExpressionAttributeValues={":c": "lost", ":at": clock.iso(NIGHT_DUE)},
    )
    _night(stack, NIGHT_DUE)
    assert not sent_mail("aija@kunta.fi") and len(_mail()) == 3
    [listed] = [i for i in _listing(client, tokens.dpo, "due", NIGHT_DUE) if i["prospect_id"] == pid]
    assert listed["notice"] == "unconfirmed"


def test_the_dpo_lists_the_due_and_the_overdue_with_no_email_named(client: Any, stack: Stack, tokens: Tokens) -> None:
    ids = _seed(stack, client, tokens)
    olli = ids["olli@rakennus.fi"]
    stack.table("prospects").update_item(
        Key={"pk": f"PROSPECT#{olli}", "sk": "PROFILE"},
        UpdateExpression="SET restriction = :r",
        ExpressionAttributeValues={":r": {"reason": "accuracy_contested"}},
    )
    # A record with no address (kept from before addresses were required): never mailed.
    no_email = "0" * 32
    stack.table("prospects").put_item(
        Item={
            "pk": f"PROSPECT#{no_email}",
            "sk": "PROFILE",
            "entity": "prospect",
            "prospect_id": no_email,
            "organization": "Puhelin Oy",
            "contact_name": "Pertti Puhelin",
            "phone": "+358401234567",
            "created_by": "staff",
            "first_seen": clock.iso(OBTAINED),
            **art14.new_record(clock.iso(OBTAINED)),
        }
    )
    # Before it is due, nobody is listed.
    assert _listing(client, tokens.dpo, "due", NIGHT_DUE - timedelta(days=2)) == []
    _night(stack, NIGHT_DUE)
    assert len(_mail()) == 3  # aija, sari, veera
    due = {i["prospect_id"]: i for i in _listing(client, tokens.dpo, "due", NIGHT_DUE)}
    assert set(due) == {olli, no_email}
    assert due[no_email]["has_email"] is False and due[no_email]["notice"] == "not_sent:no_email"
    assert due[no_email]["source"] == PUBLIC_EN
    assert due[olli]["has_email"] is True and due[olli]["notice"] == "not_sent:restricted"
    assert due[olli]["source"] == PARTNER
    assert due[olli]["obtained_at"] == clock.iso(OBTAINED)
    assert due[olli]["due_on"] == "2026-03-27" and due[olli]["deadline"] == "2026-04-02"
    assert due[olli]["days_overdue"] == 0
    assert set(due[olli]) == {
        "prospect_id",
        "obtained_at",
        "due_on",
        "deadline",
        "days_overdue",
        "source",
        "has_email",
        "notice",
    }
    assert _listing(client, tokens.dpo, "overdue", NIGHT_DUE) == []
    # The month is over: the same two are overdue, and no longer merely due.
    _night(stack, NIGHT_OVERDUE)
    assert len(_mail()) == 3
    overdue = {i["prospect_id"]: i for i in _listing(client, tokens.dpo, "overdue", NIGHT_OVERDUE)}
    assert set(overdue) == {olli, no_email} and overdue[olli]["days_overdue"] == 2
    assert _listing(client, tokens.dpo, "due", NIGHT_OVERDUE) == []
    # Paged, oldest first; a bad state is refused; staff are not the DPO.
    with clock.frozen(NIGHT_OVERDUE):
        status, page = call(client, "GET", "/art14-notices?state=overdue&limit=1", tokens.dpo)
        assert status == 200 and len(page["items"]) == 1 and page["next_cursor"]
        status, rest = call(client, "GET", f"/art14-notices?state=overdue&cursor={page['next_cursor']}", tokens.dpo)
        assert status == 200 and {page["items"][0]["prospect_id"], rest["items"][0]["prospect_id"]} == set(overdue)
        assert call(client, "GET", "/art14-notices?state=soon", tokens.dpo)[0] == 400
        assert call(client, "GET", "/art14-notices?state=due", tokens.staff)[0] == 403


def test_a_reached_call_informs_through_the_callers_script() -> None:
    from chalicelib import call_lists

    update = call_lists._contacted("p" * 32, "2026-03-05T10:00:00Z")["Update"]
    assert "informed_how = if_not_exists(informed_how, :how)" in update["UpdateExpression"]
    assert "REMOVE art14_pending" in update["UpdateExpression"]
    assert update["ExpressionAttributeValues"][":how"] == {"S": "phone_call"}


def test_due_and_overdue_lines_follow_the_finnish_calendar() -> None:
    # Obtained late on Jan 31 UTC is Feb 1 in Helsinki: due Feb 26, last day Mar 1.
    obtained = "2026-01-31T23:30:00Z"
    assert art14.due_on(obtained).isoformat() == "2026-02-26"
    assert art14.deadline(obtained).isoformat() == "2026-03-01"
    # Jan 31 (Helsinki) + one month is Feb 28: overdue from Mar 1.
    jan31 = "2026-01-31T10:00:00Z"
    assert art14.deadline(jan31).isoformat() == "2026-02-28"
    from datetime import date

    assert jan31 < art14.overdue_before(date(2026, 3, 1))
    assert not jan31 < art14.overdue_before(date(2026, 2, 28))
    assert jan31 < art14.due_before(date(2026, 2, 25)) and not jan31 < art14.due_before(date(2026, 2, 24))


def test_the_registry_is_read_once_per_partner_across_a_page(monkeypatch: pytest.MonkeyPatch) -> None:
    """The block names the source from the partner registry; a page of messages shares one
    look-up per partner (an empty cache is still the page's cache)."""
    from chalicelib import partners

    looked_up: list[str] = []

    def find(partner_id: str) -> dict[str, Any]:
        looked_up.append(partner_id)
        return {"partner_id": partner_id, "name": PARTNER}

    monkeypatch.setattr(partners, "find", find)
    names: dict[str, str] = {}
    for n in range(3):
        profile = {"prospect_id": f"{n:032x}", "values_from": "acme", "email": f"h{n}@kunta.fi"}
        assert any(PARTNER in p for p in art14.block(profile, "fi", names).paragraphs)
    assert looked_up == ["acme"] and names == {"acme": PARTNER}
