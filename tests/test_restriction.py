"""Restriction of processing (GDPR Art. 18) through the API: set and lifted by staff and the
DPO, audited, the person told before it is lifted; a restricted record stays stored and
marked for staff, and is absent from partners' views, campaigns, call lists and imports."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from boto3.dynamodb.conditions import Key

from chalicelib import clock, retention, store
from chalicelib.mail import campaign_send
from tests.campaigns_helpers import drain_campaigns, ready_campaign
from tests.conftest import Stack, Tokens, call, register_customer, register_partner, sent_mail, setup_actor
from tests.imports_helpers import csv_bytes, drain, report, runs_of, upload
from tests.mail_helpers import drain_mail

ACME_ROWS = [
    ["Kunta Oy", "Äijä Öhman", "Toimitusjohtaja", "aija@kunta.fi", "040 123 4567"],
    ["Sote Oy", "Sari Sote", "Sosiaalijohtaja", "sari@sote.fi", "040 765 4321"],
]
NEW = {
    "organization": "Hyvinvointialue",
    "contact_name": "Veera Virta",
    "title": "Johtaja",
    "email": "veera.virta@hva.fi",
    "phone": "09 123 4567",
}


def _events(client: Any, token: str, register: str, record_id: str) -> dict[str, dict[str, Any]]:
    status, page = call(client, "GET", f"/audit/records/{register}/{record_id}", token)
    assert status == 200, page
    return {e["action"]: e for e in page["items"]}


def _partition(stack: Stack, prospect_id: str) -> list[dict[str, Any]]:
    resp = stack.table("prospects").query(
        KeyConditionExpression=Key("pk").eq(f"PROSPECT#{prospect_id}"), ConsistentRead=True
    )
    return sorted(resp["Items"], key=lambda i: str(i["sk"]))


def _run(stack: Stack, file_name: str) -> dict[str, Any]:
    [run] = [r for r in runs_of(stack, "acme") if r["file_name"] == file_name]
    return run


def _acme_ids(client: Any, tokens: Tokens) -> dict[str, str]:
    status, body = call(client, "POST", "/prospects/search", tokens.staff, {"email": "aija@kunta.fi"})
    assert status == 200 and body["items"], body
    aija = body["items"][0]["prospect_id"]
    status, body = call(client, "POST", "/prospects/search", tokens.staff, {"email": "sari@sote.fi"})
    return {"aija": aija, "sari": body["items"][0]["prospect_id"]}


def test_staff_restrict_and_the_dpo_lifts_after_telling_the_person(client: Any, tokens: Tokens) -> None:
    status, created = call(client, "POST", "/prospects", tokens.staff, NEW)
    assert status == 201, created
    pid = created["prospect_id"]
    review = (clock.local_date() + timedelta(days=60)).isoformat()

    status, body = call(
        client, "PUT", f"/restrictions/prospect/{pid}", tokens.staff, {"reason": "accuracy_contested", "until": review}
    )
    assert status == 200, body
    assert body["restriction"]["reason"] == "accuracy_contested" and body["restriction"]["until"] == review

    # Staff still see the record, marked, in the list and on its own.
    status, page = call(client, "GET", "/prospects", tokens.staff)
    [listed] = [i for i in page["items"] if i["prospect_id"] == pid]
    assert listed["restricted"] is True
    assert listed["restriction"]["reason"] == "accuracy_contested" and listed["restriction"]["until"] == review
    status, got = call(client, "GET", f"/prospects/{pid}", tokens.dpo)
    assert got["restricted"] is True and got["restriction"]["since"]

    event = _events(client, tokens.dpo, "prospects", pid)["restrict"]
    assert event["reason"] == "accuracy_contested" and "veera" not in str(event).lower()

    before = len(sent_mail("veera.virta@hva.fi"))
    status, body = call(client, "POST", f"/restrictions/prospect/{pid}/lift", tokens.dpo, {})
    assert status == 200, body
    assert body["restriction"] is None and body["person_told"] == "email"
    [told] = sent_mail("veera.virta@hva.fi")[before:]
    text = told.get_body(preferencelist=("plain",))
    assert text is not None and "18 artiklan 3 kohta" in text.get_content()
    assert str(told["Subject"]) == "Tietojesi käsittelyn rajoitus poistetaan"

    lifted = _events(client, tokens.dpo, "prospects", pid)["lift_restriction"]
    assert lifted["reason"] == "accuracy_contested" and lifted["summary"] == {"told": "email"}
    status, got = call(client, "GET", f"/prospects/{pid}", tokens.staff)
    assert got["restricted"] is False and "restriction" not in got
    status, body = call(client, "POST", f"/restrictions/prospect/{pid}/lift", tokens.dpo, {})
    assert status == 409 and body["error"]["code"] == "not_restricted"


def test_only_staff_and_the_dpo_restrict_with_a_ground_of_article_18(client: Any, tokens: Tokens) -> None:
    status, created = call(client, "POST", "/prospects", tokens.staff, NEW)
    pid = created["prospect_id"]
    path = f"/restrictions/prospect/{pid}"
    good = {"reason": "objection_pending"}
    for token in (tokens.partner, tokens.reseller, tokens.marketing, tokens.customer):
        assert call(client, "PUT", path, token, good)[0] == 403
        assert call(client, "POST", f"{path}/lift", token, {})[0] == 403
    assert call(client, "PUT", path, tokens.staff, {"reason": "because"})[0] == 400
    assert call(client, "PUT", path, tokens.staff, {})[0] == 400
    assert call(client, "PUT", path, tokens.staff, {**good, "until": "2020-01-01"})[0] == 400
    assert call(client, "PUT", f"/restrictions/order/{pid}", tokens.staff, good)[0] == 400
    assert call(client, "PUT", "/restrictions/prospect/" + "0" * 32, tokens.staff, good)[0] == 404
    assert call(client, "PUT", "/restrictions/customer/nosuch", tokens.staff, good)[0] == 404
    status, got = call(client, "GET", f"/prospects/{pid}", tokens.staff)
    assert status == 200
    assert got["restricted"] is False  # nothing refused changed anything


def test_a_customer_restricted_for_legal_claims_is_kept_from_the_sweeper(client: Any, tokens: Tokens) -> None:
    cid = tokens.customer_id
    with clock.frozen(datetime(2024, 1, 15, 9, tzinfo=UTC)):
        status, body = call(client, "POST", f"/customers/{cid}/contract-end", tokens.staff, {"end_date": "2024-01-15"})
    assert status == 200, body
    status, body = call(
        client, "PUT", f"/restrictions/customer/{cid}", tokens.dpo, {"reason": "needed_for_legal_claims"}
    )
    assert status == 200, body

    status, page = call(client, "GET", "/customers", tokens.staff)
    [listed] = [c for c in page["items"] if c["customer_id"] == cid]
    assert listed["restricted"] is True and listed["restriction"]["reason"] == "needed_for_legal_claims"
    assert _events(client, tokens.dpo, "customers", cid)["restrict"]["reason"] == "needed_for_legal_claims"

    # Its access answer says so, without who set it.
    status, body = call(
        client, "POST", "/subject-requests", tokens.staff, {"type": "access", "email": "asiakas@yritys.fi"}
    )
    assert status == 200, body
    record = body["answer"]["parts"][0]["record"]
    assert record["restriction"]["reason"] == "needed_for_legal_claims" and "by" not in record["restriction"]
    status, mine = call(client, "GET", "/me", tokens.customer)
    assert status == 200 and mine["restriction"] == record["restriction"]

    status, preview = call(client, "GET", "/retention/preview?as_of=2026-01-01", tokens.dpo)
    assert preview["rules"]["customer_grace"]["held"] == 1
    with clock.frozen(datetime(2026, 1, 1, 0, tzinfo=UTC)):
        run = retention.sweep(retention.today())
    assert run["rules"]["customer_grace"]["held"] == 1
    profile = store.customers().get_item(Key={"pk": f"CUSTOMER#{cid}", "sk": "PROFILE"})["Item"]
    assert profile["status"] == "ended" and profile["email"] == "asiakas@yritys.fi"

    before = len(sent_mail("asiakas@yritys.fi"))
    status, body = call(client, "POST", f"/restrictions/customer/{cid}/lift", tokens.staff, {})
    assert status == 200 and body["person_told"] == "email", body
    assert len(sent_mail("asiakas@yritys.fi")) == before + 1
    with clock.frozen(datetime(2026, 1, 2, 0, tzinfo=UTC)):
        run = retention.sweep(retention.today())
    assert run["rules"]["customer_grace"]["done"] == 1  # the next sweep does what it held


def test_a_restriction_that_does_not_hold_lets_retention_run() -> None:
    assert retention.held({"restriction": {"reason": "needed_for_legal_claims"}})
    assert retention.held({"restriction": {"reason": "unlawful_processing_opposed_erasure"}})
    assert not retention.held({"restriction": {"reason": "accuracy_contested"}})
    assert not retention.held({"restriction": {"reason": "objection_pending"}})
    assert retention.held({"legal_hold": {"reason": "x"}}) and not retention.held({})


def test_lifting_without_an_address_needs_the_person_told_otherwise(client: Any, tokens: Tokens) -> None:
    cid = tokens.customer_id
    assert call(client, "PUT", f"/restrictions/customer/{cid}", tokens.dpo, {"reason": "objection_pending"})[0] == 200
    store.customers().update_item(Key={"pk": f"CUSTOMER#{cid}", "sk": "PROFILE"}, UpdateExpression="REMOVE email")
    status, body = call(client, "POST", f"/restrictions/customer/{cid}/lift", tokens.dpo, {})
    assert status == 409 and body["error"]["code"] == "person_not_told"
    status, got = call(client, "GET", f"/customers/{cid}", tokens.staff)
    assert got["restricted"] is True  # not lifted before the person is told
    status, body = call(client, "POST", f"/restrictions/customer/{cid}/lift", tokens.dpo, {"told_otherwise": True})
    assert status == 200 and body["person_told"] == "otherwise"
    assert _events(client, tokens.dpo, "customers", cid)["lift_restriction"]["summary"] == {"told": "otherwise"}


def test_a_restricted_prospect_is_left_out_of_partner_views_campaigns_and_call_lists(
    client: Any, stack: Stack, tokens: Tokens
) -> None:
    register_partner(stack, "kampanja", "marketing")
    upload(stack, "incoming/acme/lista.csv", csv_bytes(ACME_ROWS))
    drain(stack)
    ids = _acme_ids(client, tokens)
    status, page = call(client, "GET", "/partner/prospects", tokens.partner)
    assert {i["prospect_id"] for i in page["items"]} == set(ids.values())  # the partner read them

    # A phone campaign formed before the restriction, assigned to a marketing partner.
    status, body = call(
        client, "POST", "/campaigns", tokens.staff, {"name": "Soitot", "purpose": "Esittely", "channel": "phone"}
    )
    phone_id = body["campaign_id"]
    assert call(client, "POST", f"/campaigns/{phone_id}/materialisation", tokens.staff)[0] == 202
    drain_campaigns(stack)
    assert call(client, "PUT", f"/campaigns/{phone_id}/assignment", tokens.staff, {"partner_id": "kampanja"})[0] == 200

    status, body = call(
        client, "PUT", f"/restrictions/prospect/{ids['aija']}", tokens.staff, {"reason": "objection_pending"}
    )
    assert status == 200, body
    # The partner that sent the person is told (Art. 19), without personal data.
    status, notes = call(client, "GET", "/partner/notifications", tokens.partner)
    assert [(n["prospect_id"], n["change"]) for n in notes["items"]] == [(ids["aija"], "restricted")]
    # A changed reason keeps `since` and is no new notice.
    status, again = call(
        client, "PUT", f"/restrictions/prospect/{ids['aija']}", tokens.staff, {"reason": "accuracy_contested"}
    )
    assert status == 200 and again["restriction"]["since"] == body["restriction"]["since"]
    status, notes = call(client, "GET", "/partner/notifications", tokens.partner)
    assert len(notes["items"]) == 1

    # Partners: not in the list, not found on its own.
    status, page = call(client, "GET", "/partner/prospects", tokens.partner)
    assert [i["prospect_id"] for i in page["items"]] == [ids["sari"]]
    assert call(client, "GET", f"/partner/prospects/{ids['aija']}", tokens.partner)[0] == 404

    # Call lists (staff's and the marketing partner's downloads) and the partner's audience view.
    for path, token in (
        (f"/campaigns/{phone_id}/call-list", tokens.staff),
        (f"/marketing/campaigns/{phone_id}/call-list", tokens.marketing),
    ):
        resp = client.http.request(
            "GET", f"{path}?format=csv", headers={"Authorization": f"Bearer {token}", "Accept": "text/csv"}, body=b""
        )
        assert resp.status_code == 200, resp.body
        rows = list(csv.reader(io.StringIO(resp.body.decode("utf-8-sig")), delimiter=";"))
        listed = {cell for row in rows[1:] for cell in row}
        assert ids["sari"] in listed and ids["aija"] not in listed and "aija@kunta.fi" not in resp.body.decode()
    status, page = call(client, "GET", f"/marketing/campaigns/{phone_id}/audience", tokens.marketing)
    assert status == 200 and ids["aija"] not in str(page)

    # A campaign formed after the restriction leaves the person out, counted as restricted.
    campaign = ready_campaign(client, stack, tokens.staff, selection={"title_words": ["johtaja"]})
    assert campaign["counts"]["excluded"]["restricted"] == 1
    status, members = call(client, "GET", f"/campaigns/{campaign['campaign_id']}/audience", tokens.staff)
    assert [m["prospect_id"] for m in members["items"]] == [ids["sari"]]

    # Staff still see the record, marked.
    status, got = call(client, "GET", f"/prospects/{ids['aija']}", tokens.staff)
    assert got["restricted"] is True


def test_an_import_leaves_a_restricted_prospect_as_it_is(client: Any, stack: Stack, tokens: Tokens) -> None:
    upload(stack, "incoming/acme/lista.csv", csv_bytes(ACME_ROWS))
    drain(stack)
    ids = _acme_ids(client, tokens)
    assert (
        call(client, "PUT", f"/restrictions/prospect/{ids['aija']}", tokens.staff, {"reason": "accuracy_contested"})[0]
        == 200
    )
    kept = _partition(stack, ids["aija"])
    assert {i["sk"] for i in kept} >= {"PROFILE", "SOURCE#acme"}

    # A changed row for the person and a full refresh without them: neither touches the record.
    changed = [["Kunta Oy", "Äijä Öhman", "Hallintojohtaja", "aija@kunta.fi", "040 123 4567"], ACME_ROWS[1]]
    upload(stack, "incoming/acme/lista2.csv", csv_bytes(changed))
    drain(stack)
    run = _run(stack, "lista2.csv")
    assert run["rejected_by_reason"] == {"restricted": 1}
    doc = report(stack, run)
    assert "aija" not in str(doc).lower() and "Öhman" not in str(doc)
    assert _partition(stack, ids["aija"]) == kept

    upload(stack, "incoming/acme/full-lista3.csv", csv_bytes([ACME_ROWS[1]]))
    drain(stack)
    run = _run(stack, "full-lista3.csv")
    assert run["state"] == "done" and run["counts"]["held"] == 1, run
    assert _partition(stack, ids["aija"]) == kept


def test_a_person_restricted_after_the_campaign_formed_gets_no_message(
    client: Any, stack: Stack, tokens: Tokens, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(campaign_send, "pause", lambda seconds: None)
    upload(stack, "incoming/acme/lista.csv", csv_bytes(ACME_ROWS))
    drain(stack)
    ids = _acme_ids(client, tokens)
    campaign = ready_campaign(client, stack, tokens.staff, selection={"title_words": ["johtaja"]})
    assert campaign["counts"]["audience"] == 2
    status, body = call(
        client, "PUT", f"/restrictions/prospect/{ids['aija']}", tokens.staff, {"reason": "objection_pending"}
    )
    assert status == 200, body

    message = {"subject": "Tervehdys", "text": "Hei,\n\nesittelemme palvelumme."}
    status, body = call(client, "POST", f"/campaigns/{campaign['campaign_id']}/sending", tokens.staff, message)
    assert status == 202, body
    drain_mail(stack)
    status, got = call(client, "GET", f"/campaigns/{campaign['campaign_id']}", tokens.staff)
    assert got["sending"]["counts"]["excluded"]["restricted"] == 1
    assert sent_mail("aija@kunta.fi") == [] and len(sent_mail("sari@sote.fi")) == 1


def test_a_restricted_customer_gets_no_service_message(client: Any, stack: Stack, tokens: Tokens) -> None:
    other = register_customer(client, "toinen", "toinen@yritys.fi")
    assert (
        call(client, "PUT", f"/restrictions/customer/{other}", tokens.staff, {"reason": "accuracy_contested"})[0] == 200
    )
    message = {"subject": {"fi": "Huoltokatko", "en": "Maintenance"}, "body": {"fi": "Katko.", "en": "Break."}}
    status, body = call(client, "POST", "/service-messages", tokens.staff, message)
    assert status == 202, body
    drain_mail(stack)
    got = sorted(str(m["To"]) for m in sent_mail() if str(m["Subject"]) == "Huoltokatko")
    assert got == ["asiakas@yritys.fi"]  # the fixture's consenting customer only


def test_a_restriction_set_while_a_file_imports_is_respected(
    client: Any, stack: Stack, tokens: Tokens, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chalicelib import prospects, restriction
    from chalicelib.imports import pipeline
    from tests.aws_calls import as_function

    upload(stack, "incoming/acme/lista.csv", csv_bytes(ACME_ROWS))
    drain(stack)
    ids = _acme_ids(client, tokens)
    kept = _partition(stack, ids["aija"])
    real = pipeline.batch_get
    pending = [lambda: restriction.restrict("prospect", ids["aija"], "accuracy_contested", None, setup_actor())]

    def batch_get(keys: Any, projection: Any, sleep: Any, **kwargs: Any) -> Any:
        found = real(keys, projection, sleep, **kwargs)
        if projection == prospects.META and pending:  # right after the chunk's read, before its writes
            with as_function("api_handler"):
                pending.pop()()
        return found

    monkeypatch.setattr(pipeline, "batch_get", batch_get)
    changed = [["Kunta Oy", "Äijä Öhman", "Hallintojohtaja", "aija@kunta.fi", "040 123 4567"]]
    upload(stack, "incoming/acme/lista2.csv", csv_bytes(changed))
    drain(stack)
    assert not pending
    run = _run(stack, "lista2.csv")
    assert run["rejected_by_reason"] == {"restricted": 1} and run["counts"]["updated"] == 0
    now = _partition(stack, ids["aija"])
    assert [i["title"] for i in now if "title" in i] == [i["title"] for i in kept if "title" in i]
    assert all("restriction" in i for i in now if i["sk"] in ("PROFILE", "SOURCE#acme"))


def test_the_review_date_is_checked_on_a_leap_day_too(client: Any, tokens: Tokens) -> None:
    from chalicelib import restriction
    from chalicelib.errors import ValidationFailed

    cid = tokens.customer_id
    with clock.frozen(datetime(2028, 2, 29, 9, tzinfo=UTC)):
        done = restriction.restrict("customer", cid, "objection_pending", date(2038, 2, 28), setup_actor())
        assert done["restriction"]["until"] == "2038-02-28"
        with pytest.raises(ValidationFailed):
            restriction.restrict("customer", cid, "objection_pending", date(2038, 3, 1), setup_actor())
        with pytest.raises(ValidationFailed):
            restriction.restrict("customer", cid, "objection_pending", date(2028, 2, 29), setup_actor())
