"""The privacy notice and the Art. 30 record come from the register definitions."""

from __future__ import annotations

import html
from typing import Any

from chalicelib import notice
from chalicelib.registers import BACKUP_RETENTION, CONTROLLER, REGISTERS
from devstack import provision
from tests.conftest import Tokens, call


def test_json_notice_in_finnish_by_default_holds_every_definition(client: Any) -> None:
    status, doc = call(client, "GET", "/privacy-notice")
    assert status == 200
    assert doc["lang"] == "fi" and doc["title"] == "Tietosuojaseloste"
    assert doc["controller"]["contact_email"] == CONTROLLER.contact_email
    for reg, shown in zip(REGISTERS, doc["registers"], strict=True):
        assert shown["purpose"] == reg.purpose.fi
        assert shown["sources"] == reg.sources.fi
        assert shown["security"] == reg.security.fi
        assert [r["rule"] for r in shown["retention"]] == [r.name for r in reg.retention]
        assert [r["after"] for r in shown["retention"]] == [r.after.text.fi for r in reg.retention]
        fields = [f for part in shown["content"] for f in part["fields"]]
        assert fields == [f.label.fi for rt in reg.record_types for f in rt.fields]


def test_english_html_for_a_browser(client: Any) -> None:
    resp = client.http.get("/privacy-notice?lang=en", headers={"Accept": "text/html,application/xhtml+xml"})
    assert resp.status_code == 200
    assert resp.headers["Content-Type"].startswith("text/html")
    page = resp.body.decode()
    assert '<html lang="en">' in page
    for reg in REGISTERS:
        assert html.escape(reg.purpose.en) in page
        for rule in reg.retention:
            assert html.escape(rule.then.en) in page
    assert "6 years" in page and "1 year" in page and "2 years" in page  # from the rules' periods
    assert "Contract ended" in page


def test_unknown_language_is_400(client: Any) -> None:
    status, body = call(client, "GET", "/privacy-notice?lang=sv")
    assert status == 400 and body["error"]["code"] == "invalid_query"


def test_html_escapes_values() -> None:
    doc = notice.notice("en")
    doc["registers"][0]["purpose"] = "<script>x</script>"
    assert "<script>" not in notice.render_html(doc)


def test_records_of_processing_for_the_dpo_only(client: Any, tokens: Tokens) -> None:
    status, doc = call(client, "GET", "/records-of-processing", tokens.dpo)
    assert status == 200
    [customers, prospects] = doc["processing_activities"]
    assert customers["categories_of_personal_data"]["Customer"] == [
        "Contact person's name",
        "Address",
        "Phone",
        "Email address",
        "Billing address",
        "Username",
        "Consent to service-related messages",
        "Consent history: given or withdrawn, when, through which channel, the wording seen and its version",
        "Flag that email to the address cannot be delivered (a permanent bounce)",
        "The last day the person used the service (signed in to their own data)",
    ]
    # Categories of people, not record types: a campaign audience, the do-not-call list and
    # the disclosure log hold data about prospects, not further categories of people.
    assert customers["categories_of_data_subjects"] == [
        "Customers (registered customers)",
        "Contact persons of customer organisations",
        "Resellers' end users",
    ]
    assert prospects["categories_of_data_subjects"] == [
        "Prospects: contact persons at organisations (never private individuals)"
    ]
    assert "Campaign audience and contacts" in prospects["categories_of_personal_data"]
    assert any("eu-north-1" in m for m in customers["security_measures"])
    # Consent history, service messages and bounce handling are described (issue 10).
    assert doc["consent_records"]["wording_version"] == notice.version()
    assert "GDPR 7(1)" in doc["consent_records"]["kept"]
    assert {"service_messages", "bounces", "complaints", "art14_notices", "dormant_accounts"} == set(doc["mail"])
    assert "2 years" in doc["mail"]["dormant_accounts"] and "30 days" in doc["mail"]["dormant_accounts"]
    assert "prospect_bounced" in {r["rule"] for r in prospects["retention"]}
    assert "GDPR 6(1)(a)" in customers["legal_basis"]
    assert {r["rule"] for r in prospects["retention"]} == {r.name for r in REGISTERS[1].retention}
    status, _ = call(client, "GET", "/records-of-processing", tokens.staff)
    assert status == 403


def test_notice_says_how_long_backups_keep_erased_data(client: Any) -> None:
    for lang, period in (("fi", "35 päivää"), ("en", "35 days")):
        status, doc = call(client, "GET", f"/privacy-notice?lang={lang}")
        assert status == 200
        assert doc["backups"]["retention"] == BACKUP_RETENTION.text.get(lang) == period
        assert period in doc["backups"]["text"]
    page = client.http.get("/privacy-notice?lang=en", headers={"Accept": "text/html"}).body.decode()
    assert "<h2>Backups</h2>" in page and "at most 35 days after its erasure" in page


def test_backup_period_in_the_notice_is_the_tables_recovery_window() -> None:
    """The notice's promise is the template's setting: every table keeps point-in-time backups
    for exactly the period the notice states, and no longer."""
    template = provision.load_template()
    tables = provision.resources_of(template, "AWS::DynamoDB::Table")
    assert tables
    for logical, res in tables.items():
        pitr = res["Properties"]["PointInTimeRecoverySpecification"]
        assert pitr == {"PointInTimeRecoveryEnabled": True, "RecoveryPeriodInDays": BACKUP_RETENTION.days}, logical
    record = notice.records_of_processing()["processing_activities"][0]["security_measures"]
    assert any("35 days" in m and "backups" in m for m in record)


def test_the_notice_carries_its_version_in_both_languages_and_forms(client: Any) -> None:
    """The version a data provider's delivery records (chalicelib/partners.py): one per content."""
    fi = call(client, "GET", "/privacy-notice")[1]
    en = call(client, "GET", "/privacy-notice?lang=en")[1]
    assert fi["version"] == en["version"] == notice.version()
    assert len(notice.version()) == 16 and int(notice.version(), 16) >= 0
    page = client.http.get("/privacy-notice", headers={"Accept": "text/html"}).body.decode()
    assert f"<code>{notice.version()}</code>" in page
    assert notice.is_known(fi["version"]) and not notice.is_known("2021-04-15")


def test_the_version_changes_when_the_content_does(monkeypatch: Any) -> None:
    from chalicelib import registers

    before = notice.version()
    monkeypatch.setattr(notice, "_RIGHTS", registers.Text("Muutettu oikeuksista.", "Changed rights."))
    notice.version.cache_clear()
    try:
        assert notice.version() != before
    finally:
        monkeypatch.undo()
        notice.version.cache_clear()
    assert notice.version() == before


def test_what_is_kept_about_contacts_is_in_the_notice_and_the_record(client: Any, tokens: Tokens) -> None:
    status, doc = call(client, "GET", "/privacy-notice?lang=en")
    assert status == 200
    prospects = next(r for r in doc["registers"] if r["key"] == "prospects")
    content = {part["record_type"]: part["fields"] for part in prospects["content"]}
    assert content["Do-not-call entry"][0] == "Keyed hash of the phone number (not the number)"
    assert "Recipient" in content["Disclosure log entry"]
    assert "Prospect id" in content["Notice to a recipient (GDPR Art. 19)"]
    after = {r["rule"]: r["after"] for r in prospects["retention"]}
    assert after["do_not_call"] == "As long as the register is kept"
    assert after["disclosure_log"] == "As long as the person's record"
    assert after["recipient_notice"] == "1 year"
    status, record = call(client, "GET", "/records-of-processing", tokens.dpo)
    activity = record["processing_activities"][1]
    # Data kept about prospects, not further categories of people.
    assert activity["categories_of_data_subjects"] == [
        "Prospects: contact persons at organisations (never private individuals)"
    ]
    personal = activity["categories_of_personal_data"]
    assert personal["Disclosure log entry"] == [
        "Recipient",
        "Purpose of the handover",
        "Campaign",
        "Date and time of the handover",
    ]
    actions = {r["rule"]: r["action"] for r in activity["retention"]}
    assert actions["do_not_call"] == "keep" and actions["recipient_notice"] == "delete"


def test_the_notice_states_how_long_campaign_audiences_and_outcomes_are_kept(client: Any) -> None:
    """Campaign audiences and contact outcomes (chalicelib/campaigns.py) are in the notice with
    their periods: closed after six months if left open, deleted twelve months after closing."""
    status, doc = call(client, "GET", "/privacy-notice?lang=en")
    assert status == 200
    prospects = next(r for r in doc["registers"] if r["key"] == "prospects")
    rules = {r["event"]: r for r in prospects["retention"] if r["data"] == "Campaign audience and contacts"}
    assert rules["Campaign closed"]["after"] == "1 year"
    assert rules["Campaign not closed by staff after its audience was formed"]["after"] == "6 months"
    assert "Outcome of the contact" in str(prospects)
    page = client.http.get("/privacy-notice?lang=fi", headers={"Accept": "text/html"}).body.decode()
    assert "Kampanja suljettu" in page and "Yhteydenoton tulos" in page


def test_the_notice_and_the_record_describe_marketing_email(client: Any, tokens: Tokens) -> None:
    """Sending (chalicelib/mail/campaign_send.py): the processor, the disclosure log, the
    message's state, the last contact, and an unsubscribe that does not expire."""
    for lang, ses, unsubscribe in (("en", "Amazon SES", "does not expire"), ("fi", "Amazon SES", "ei vanhene")):
        status, doc = call(client, "GET", f"/privacy-notice?lang={lang}")
        assert status == 200
        prospects = next(r for r in doc["registers"] if r["key"] == "prospects")
        assert ses in prospects["recipients"]
        assert unsubscribe in str(doc)
    status, record = call(client, "GET", "/records-of-processing", tokens.dpo)
    activity = next(a for a in record["processing_activities"] if a["register"] == "prospects")
    assert "Amazon SES" in activity["recipients"]
    assert any("RFC 8058" in m for m in activity["security_measures"])
    other = activity["other_data"] | activity["categories_of_personal_data"]
    assert any("email campaign" in f for f in other["Campaign audience and contacts"])
    assert any("marketing email" in f for f in other["Contact history"])
    rules = {r["rule"]: r for r in activity["retention"]}
    assert "marketing email" in rules["disclosure_log"]["event"]


def test_the_notice_names_each_source_and_each_kind_of_recipient(client: Any) -> None:
    """Issue 11: staff and resellers are sources too; partners by kind, processors with the region."""
    doc = call(client, "GET", "/privacy-notice?lang=en")[1]
    customers, prospects = doc["registers"]
    assert "All data is given by the person themself" not in customers["sources"]
    assert [s["source"] for s in customers["source_list"]] == [
        "The person, at registration and in their own data",
        "Our staff, at the person's request",
        "A reseller, about its own end users",
    ]
    assert customers["source_list"][2]["data"] == "The end user's name and email address"
    kinds = {(r["kind"], r["name"]) for r in customers["recipient_list"]}
    assert ("partner", "Resellers") in kinds
    assert ("processor", "Amazon Web Services EMEA SARL (AWS)") in kinds
    processors = [r for r in customers["recipient_list"] if r["kind"] == "processor"]
    assert processors and all(r["region"] == "eu-north-1 (Stockholm, Sweden)" for r in processors)
    assert all(r["region"] is None for r in customers["recipient_list"] if r["kind"] != "processor")
    assert {r["name"] for r in prospects["recipient_list"] if r["kind"] == "partner"} == {
        "Marketing partners",
        "Partners who supplied the data (data providers and resellers)",
    }
    assert any("Amazon SES" in r["name"] for r in prospects["recipient_list"] if r["kind"] == "processor")
    fi = call(client, "GET", "/privacy-notice")[1]["registers"][0]
    assert fi["recipient_list"][-1]["region"] == "eu-north-1 (Tukholma, Ruotsi)"
    page = client.http.get("/privacy-notice?lang=en", headers={"Accept": "text/html"}).body.decode()
    assert "Our staff, at the person&#x27;s request" in page
    assert "Processors: <strong>Amazon Web Services EMEA SARL (AWS)</strong>" in page
    assert "AWS region: eu-north-1 (Stockholm, Sweden)" in page


def test_the_record_lists_processors_and_recipients_by_kind(client: Any, tokens: Tokens) -> None:
    doc = call(client, "GET", "/records-of-processing", tokens.dpo)[1]
    for activity in doc["processing_activities"]:
        assert [p["name"] for p in activity["processors"]] == [
            "Amazon Web Services EMEA SARL (AWS)",
            "Amazon Simple Email Service (Amazon SES, AWS)",
        ]
        assert all(p["region"] == "eu-north-1 (Stockholm, Sweden)" for p in activity["processors"])
        assert {r["kind"] for r in activity["categories_of_recipients"]} == {"staff", "partner"}
        assert activity["sources_by_kind"]
    customers = doc["processing_activities"][0]
    assert "Resellers" in {r["name"] for r in customers["categories_of_recipients"]}


def test_every_allowed_region_is_named_in_the_notice() -> None:
    from chalicelib.config import EU_EEA_REGIONS

    assert set(notice.REGION_NAMES) == set(EU_EEA_REGIONS)


def test_the_notice_and_the_record_state_the_unused_account_rules(client: Any, tokens: Tokens) -> None:
    """Issue 11: the dormancy rules live in the register definitions, so both documents state them."""
    doc = call(client, "GET", "/privacy-notice?lang=en")[1]
    rules = {r["rule"]: r for r in doc["registers"][0]["retention"]}
    assert rules["customer_dormant"]["after"] == "2 years"
    assert rules["customer_dormant"]["event"] == "No contract with services in effect, no order and no sign-in"
    assert "link to keep the account" in rules["customer_dormant"]["then"]
    assert rules["customer_dormant_notice"]["after"] == "30 days"
    assert "The message with the confirmation code is the notice" in rules["customer_unconfirmed"]["then"]
    fi = call(client, "GET", "/privacy-notice")[1]
    assert {r["rule"]: r["after"] for r in fi["registers"][0]["retention"]}["customer_dormant"] == "2 vuotta"
    record = call(client, "GET", "/records-of-processing", tokens.dpo)[1]
    actions = {r["rule"]: r["action"] for r in record["processing_activities"][0]["retention"]}
    assert actions["customer_dormant"] == "notify_dormant" and actions["customer_dormant_notice"] == "erase_contact"
