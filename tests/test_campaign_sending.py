"""Email campaigns sent through the mail queue, read as the recipients get them: the opt-out
on every message, one-click unsubscribe from an old message, the re-check before each
message, and at most one message per recipient however the job is retried."""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any, cast
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from boto3.dynamodb.conditions import Key

from chalicelib import clock, disclosures, suppression
from chalicelib.mail import campaign_send, jobs
from tests import faults as f
from tests.campaigns_helpers import ready_campaign
from tests.conftest import REGION, Stack, Tokens, call, sent_mail, setup_actor
from tests.imports_helpers import csv_bytes, drain, upload
from tests.mail_helpers import ShortContext, drain_mail, invoke, receive

ROWS = [
    ["Kunta Oy", "Äijä Öhman", "Toimitusjohtaja", "aija@kunta.fi", ""],
    ["Sote Ky", "Sari Sote", "Sosiaalijohtaja", "sari@sote.fi", ""],
    ["Kunta Oy", "Pekka Puu", "Talousjohtaja", "pekka@kunta.fi", ""],
    ["Rakennus Oy", "Olli Ohto", "Talousjohtaja", "olli@rakennus.fi", ""],
    ["Liikunta ry", "Liisa Laji", "Toiminnanjohtaja", "liisa@liikunta.fi", ""],
]
EMAILS = sorted(r[3] for r in ROWS)
MESSAGE = {
    "subject": "Kevään tarjous <kunnille>",
    "text": 'Hei,\n\nuusi palvelumme <b>säästää</b> aikaa & rahaa: "Kuntotimpurit".\nTervetuloa!',
}


@pytest.fixture(autouse=True)
def _no_waiting(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The job's waits (pacing, throttling backoff) are recorded, not slept, and the pacing
    clock stands still meanwhile, so each wait is exactly what the rate asks for."""
    waits: list[float] = []
    monkeypatch.setattr(campaign_send, "pause", waits.append)
    monkeypatch.setattr(campaign_send, "monotonic", lambda: 0.0)
    return waits


def _seed(stack: Stack) -> dict[str, str]:
    """acme's list of five; {email: prospect id}."""
    upload(stack, "incoming/acme/lista.csv", csv_bytes(ROWS))
    drain(stack)
    items = stack.table("prospects").scan()["Items"]
    return {i["email"]: i["prospect_id"] for i in items if i["sk"] == "PROFILE"}


def _campaign(client: Any, stack: Stack, tokens: Tokens, **message: str) -> str:
    campaign = ready_campaign(client, stack, tokens.staff)
    assert campaign["counts"]["audience"] == len(ROWS)
    status, started = call(
        client, "POST", f"/campaigns/{campaign['campaign_id']}/sending", tokens.staff, {**MESSAGE, **message}
    )
    assert status == 202, started
    assert started["sending"]["status"] == "sending"
    return str(campaign["campaign_id"])


def _mail() -> list[EmailMessage]:
    """The campaign's messages SES accepted (the fixture's customer got account mail before)."""
    return [m for m in sent_mail() if str(m["To"]) in EMAILS]


def _raw_mail() -> list[bytes]:
    """The exact bytes of each campaign message SES accepted (headers as sent, unparsed)."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ses.models import ses_backends

    backend = ses_backends[DEFAULT_ACCOUNT_ID][REGION]
    raws = [str(m.raw_data).encode() for m in backend.sent_messages if hasattr(m, "raw_data")]
    return [r for r in raws if any(f"To: {e}".encode() in r for e in EMAILS)]


def _header_lines(raw: bytes, name: str) -> list[str]:
    head = raw.split(b"\r\n\r\n", 1)[0].decode()
    return [line for line in head.split("\r\n") if line.lower().startswith(name.lower() + ":")]


def _sending(client: Any, tokens: Tokens, campaign_id: str) -> dict[str, Any]:
    status, campaign = call(client, "GET", f"/campaigns/{campaign_id}", tokens.staff)
    assert status == 200
    return dict(campaign["sending"])


def _one_click(client: Any, url: str, body: bytes = b"List-Unsubscribe=One-Click", **headers: str) -> Any:
    parts = urlsplit(url)
    return client.http.post(
        f"{parts.path}?{parts.query}",
        headers={"Content-Type": "application/x-www-form-urlencoded", **headers},
        body=body,
    )


def _unsubscribe_url(msg: EmailMessage) -> str:
    value = str(msg["List-Unsubscribe"])
    assert value.startswith("<") and value.endswith(">")
    return value[1:-1]


def test_every_marketing_message_carries_one_click_headers_and_a_visible_link_in_both_parts(
    client: Any, stack: Stack, tokens: Tokens
) -> None:
    ids = _seed(stack)
    cid = _campaign(client, stack, tokens)
    assert drain_mail(stack) == 1
    messages = _mail()
    assert sorted(str(m["To"]) for m in messages) == EMAILS
    for msg, raw in zip(messages, _raw_mail(), strict=True):
        # Both headers exactly as RFC 8058 has them, the URL on one line (never encoded words).
        [line] = _header_lines(raw, "List-Unsubscribe")
        assert line.startswith("List-Unsubscribe: <") and line.endswith(">") and "=?" not in line
        assert _header_lines(raw, "List-Unsubscribe-Post") == ["List-Unsubscribe-Post: List-Unsubscribe=One-Click"]
        url = _unsubscribe_url(msg)
        assert urlsplit(url).path == "/unsubscribe/one-click"
        token = parse_qs(urlsplit(url).query)["token"][0]
        assert str(msg["To"]).split("@")[0] not in url  # the address rides encrypted only
        assert "ilopiste@kuntotimpurit.fi" in str(msg["From"]) and "Kuntotimpurit" in str(msg["From"])
        assert msg["Subject"] == MESSAGE["subject"] and msg["Content-Language"] == "fi"
        plain = cast(EmailMessage, msg.get_body(preferencelist=("plain",))).get_content()
        rich = cast(EmailMessage, msg.get_body(preferencelist=("html",))).get_content()
        page = f"http://127.0.0.1:8000/unsubscribe?token={quote(token, safe='')}&lang=fi"
        assert MESSAGE["text"].split("\n")[2] in plain and page in plain
        assert "Peru markkinointi" in rich and f'href="{page.replace("&", "&amp;")}"' in rich
        # Staff's text is text in the HTML part: every character escaped, nothing interpreted.
        assert "&lt;b&gt;säästää&lt;/b&gt; aikaa &amp; rahaa: &quot;Kuntotimpurit&quot;" in rich
        assert "<b>" not in rich and "&lt;kunnille&gt;" in rich
    sending = _sending(client, tokens, cid)
    assert sending["status"] == "sent" and sending["finished_at"]
    assert sending["counts"] == {
        "sent": 5,
        "failed": 0,
        "unconfirmed": 0,
        "excluded": {"suppressed": 0, "restricted": 0, "erased": 0},
    }
    # Each send: the disclosure log (SES, the processor, for this campaign) and the last contact.
    for address, pid in ids.items():
        [entry] = [e for e in disclosures.recipients_of(pid) if e["purpose"] == "email"]
        assert entry["recipient"] == disclosures.SES and entry["campaign_id"] == cid
        status, prospect = call(client, "GET", f"/prospects/{pid}", tokens.staff)
        assert status == 200 and prospect["last_contacted_at"], address
        events = stack.table("audit").query(KeyConditionExpression=Key("pk").eq(f"RECORD#prospects#{pid}"))["Items"]
        assert any(e["action"] == "email" and e["campaign_id"] == cid for e in events)


def test_english_campaign_text_and_links(client: Any, stack: Stack, tokens: Tokens) -> None:
    _seed(stack)
    _campaign(client, stack, tokens, lang="en", subject="Spring offer", text="Hello,\n\nour new service.")
    drain_mail(stack)
    for msg in _mail():
        assert msg["Content-Language"] == "en"
        plain = cast(EmailMessage, msg.get_body(preferencelist=("plain",))).get_content()
        assert "object to direct marketing" in plain and "&lang=en" in plain


def test_a_one_click_post_from_a_100_day_old_message_objects_with_no_page(
    client: Any, stack: Stack, tokens: Tokens
) -> None:
    ids = _seed(stack)
    sent_at = datetime(2026, 3, 2, 9, tzinfo=UTC)
    with clock.frozen(sent_at):
        _campaign(client, stack, tokens)
        drain_mail(stack)
    [msg] = sent_mail("sari@sote.fi")
    url = _unsubscribe_url(msg)
    with clock.frozen(sent_at + timedelta(days=100)):
        # Not the mail program's POST: nothing happens.
        assert _one_click(client, url, b"List-Unsubscribe=Yes").status_code == 400
        assert _one_click(client, url.replace("token=", "token=x")).status_code == 400
        assert not suppression.is_suppressed("sari@sote.fi")
        resp = _one_click(client, url)
    assert resp.status_code == 200 and resp.headers["Content-Type"].startswith("application/json")
    assert "<html" not in resp.body.decode()
    assert suppression.is_suppressed("sari@sote.fi")
    status, _ = call(client, "GET", f"/prospects/{ids['sari@sote.fi']}", tokens.staff)
    assert status == 404  # the objection removed the prospect
    status, recorded = call(client, "GET", "/subject-requests", tokens.staff)
    [entry] = recorded["items"]
    assert entry["type"] == "objection" and entry["channel"] == "one_click_unsubscribe"
    # multipart/form-data (RFC 8058 allows either encoding) objects the same way.
    [other] = sent_mail("olli@rakennus.fi")
    boundary = "b0undary"
    part = 'Content-Disposition: form-data; name="List-Unsubscribe"\r\n\r\nOne-Click'
    body = f"--{boundary}\r\n{part}\r\n--{boundary}--\r\n".encode()
    resp = _one_click(
        client, _unsubscribe_url(other), body, **{"Content-Type": f"multipart/form-data; boundary={boundary}"}
    )
    assert resp.status_code == 200, resp.body
    assert suppression.is_suppressed("olli@rakennus.fi")


def test_an_objection_restriction_or_erasure_between_pages_stops_that_persons_message(
    client: Any, stack: Stack, tokens: Tokens, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = _seed(stack)
    monkeypatch.setattr(campaign_send, "SEND_PAGE", 1)
    cid = _campaign(client, stack, tokens)
    by_member = sorted(ids, key=lambda e: ids[e])  # the job's order: member keys
    first, later = by_member[0], by_member[1:]
    # One page per invocation: the function has too little time left to go on.
    resp = invoke(stack, receive(stack), ShortContext(1))
    assert resp["batchItemFailures"] == []
    assert [str(m["To"]) for m in _mail()] == [first]
    progress = _sending(client, tokens, cid)
    assert progress["status"] == "sending" and progress["segments"] == 1 and progress["counts"]["sent"] == 1

    # Mid-campaign: one objects with the one-click link (the objection removes the record),
    # one is put on the suppression list only, one is restricted, one is erased by staff.
    objector, suppressed, restricted, erased = later
    from chalicelib import unsubscribe

    resp = _one_click(client, unsubscribe.one_click_url(unsubscribe.issue(objector)))
    assert resp.status_code == 200
    suppression.suppress(suppressed, "objection", setup_actor())
    stack.table("prospects").update_item(
        Key={"pk": f"PROSPECT#{ids[restricted]}", "sk": "PROFILE"},
        UpdateExpression="SET restriction = :r",
        ExpressionAttributeValues={":r": {"reason": "accuracy_contested"}},
    )
    status, _ = call(client, "DELETE", f"/prospects/{ids[erased]}", tokens.staff)
    assert status == 200
    # The follow-ups, a page each; the last page is empty (a full page cannot know it was the last).
    assert drain_mail(stack, context=lambda: ShortContext(1)) == 5

    assert [str(m["To"]) for m in _mail()] == [first]
    sending = _sending(client, tokens, cid)
    assert sending["status"] == "sent" and sending["segments"] == 6
    assert sending["counts"]["sent"] == 1
    assert sending["counts"]["excluded"] == {"suppressed": 1, "restricted": 1, "erased": 2}
    assert ids[objector] not in str(sending) and objector not in str(sending)  # counts say why, never who


def test_a_retried_or_duplicated_job_sends_nothing_twice(client: Any, stack: Stack, tokens: Tokens) -> None:
    _seed(stack)
    cid = _campaign(client, stack, tokens)
    # The same job queued three times before any runs (staff clicked twice; a redelivery).
    status, again = call(client, "POST", f"/campaigns/{cid}/sending", tokens.staff, MESSAGE)
    assert status == 202 and again["sending"]["status"] == "sending"
    jobs.enqueue("campaign", {"campaign_id": cid})
    assert drain_mail(stack) == 3
    assert sorted(str(m["To"]) for m in _mail()) == EMAILS
    # Finished: running it again sends nothing, and staff cannot start it again.
    jobs.enqueue("campaign", {"campaign_id": cid})
    assert drain_mail(stack) == 1
    assert len(_mail()) == len(EMAILS)
    status, err = call(client, "POST", f"/campaigns/{cid}/sending", tokens.staff, MESSAGE)
    assert status == 409 and err["error"]["code"] == "already_sent"
    assert _sending(client, tokens, cid)["counts"]["sent"] == len(EMAILS)


def test_a_lost_ses_reply_is_never_resent_and_is_counted_unconfirmed(
    client: Any, stack: Stack, tokens: Tokens, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chalicelib import store

    _seed(stack)
    cid = _campaign(client, stack, tokens)
    injector = f.install(monkeypatch)
    injector.attach(store.send_once_client("sesv2"))
    # SES accepts the third message, then the reply is lost: the invocation fails there.
    injector.inject("sesv2", "SendEmail", f.LOST_REPLY, times=1, after=2)
    assert drain_mail(stack) == 2  # the failed delivery, then its retry
    assert sorted(str(m["To"]) for m in _mail()) == EMAILS  # each exactly once
    sending = _sending(client, tokens, cid)
    assert sending["status"] == "sent"
    assert sending["counts"]["sent"] == 4 and sending["counts"]["unconfirmed"] == 1


def test_throttling_is_retried_and_a_lasting_one_gives_the_message_back(
    client: Any, stack: Stack, tokens: Tokens, monkeypatch: pytest.MonkeyPatch, _no_waiting: list[float]
) -> None:
    from chalicelib import store

    _seed(stack)
    cid = _campaign(client, stack, tokens)
    injector = f.install(monkeypatch)
    injector.attach(store.send_once_client("sesv2"))
    injector.inject("sesv2", "SendEmail", f.TOO_MANY_REQUESTS, times=2)
    # Then SES stays throttled for one message past every retry: its invocation fails.
    injector.inject("sesv2", "SendEmail", f.TOO_MANY_REQUESTS, times=campaign_send.THROTTLE_ATTEMPTS, after=3)
    assert drain_mail(stack) == 2
    assert injector.total("sesv2") == 2 + campaign_send.THROTTLE_ATTEMPTS
    assert sorted(str(m["To"]) for m in _mail()) == EMAILS  # the given-back message went later, once
    assert 0.5 in _no_waiting and 1.0 in _no_waiting  # backed off
    sending = _sending(client, tokens, cid)
    assert sending["counts"]["sent"] == 5 and sending["counts"]["unconfirmed"] == 0


def test_messages_keep_to_the_ses_sending_rate(
    client: Any, stack: Stack, tokens: Tokens, monkeypatch: pytest.MonkeyPatch, _no_waiting: list[float]
) -> None:
    _seed(stack)
    monkeypatch.setenv("SES_MAX_SEND_RATE", "2")
    from chalicelib.config import settings

    settings.cache_clear()
    _campaign(client, stack, tokens)
    drain_mail(stack)
    assert len(_mail()) == 5
    # Waits are recorded, not slept, so each is due half a second after the one before.
    assert len(_no_waiting) == 4
    due = [b - a for a, b in zip([0.0, *_no_waiting], _no_waiting, strict=False)]
    assert all(0.3 < d <= 0.5 for d in due), due


def test_only_a_ready_email_campaign_is_sent(client: Any, stack: Stack, tokens: Tokens) -> None:
    _seed(stack)
    status, draft = call(client, "POST", "/campaigns", tokens.staff, {"name": "K", "purpose": "P", "channel": "email"})
    assert status == 201
    status, err = call(client, "POST", f"/campaigns/{draft['campaign_id']}/sending", tokens.staff, MESSAGE)
    assert status == 409 and err["error"]["code"] == "audience_not_available"
    phone = ready_campaign(client, stack, tokens.staff, channel="phone")
    status, err = call(client, "POST", f"/campaigns/{phone['campaign_id']}/sending", tokens.staff, MESSAGE)
    assert status == 409 and err["error"]["code"] == "not_an_email_campaign"
    status, err = call(client, "POST", f"/campaigns/{draft['campaign_id']}/sending", tokens.staff, {"subject": "x"})
    assert status == 400
    assert receive(stack) == []
    assert _mail() == []


def test_the_message_parses_as_the_recipient_reads_it(client: Any, stack: Stack, tokens: Tokens) -> None:
    """The raw bytes are one MIME message with a text and an HTML alternative, UTF-8 throughout."""
    _seed(stack)
    _campaign(client, stack, tokens)
    drain_mail(stack)
    raw = _raw_mail()[0]
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert msg.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain", "text/html"]
    assert all(p.get_content_charset() == "utf-8" for p in msg.iter_parts())
