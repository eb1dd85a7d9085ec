"""The DPO's retention routes: legal holds (audited with the reason), preview, last runs."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from chalicelib import audit, auth, cases, clock, retention, store
from chalicelib.audit import Access
from tests.conftest import Tokens, call, sent_mail, setup_actor


def end_contract(client: Any, tokens: Tokens, day: str) -> None:
    """Staff end the contract on `day` itself (an end date far from today is refused)."""
    with clock.frozen(datetime.fromisoformat(day).replace(hour=9, tzinfo=UTC)):
        status, body = call(
            client, "POST", f"/customers/{tokens.customer_id}/contract-end", tokens.staff, {"end_date": day}
        )
    assert status == 200, body


def test_hold_set_and_lifted_with_reasons_in_the_audit_trail(client: Any, tokens: Tokens) -> None:
    end_contract(client, tokens, "2024-01-15")
    status, body = call(
        client, "PUT", f"/legal-holds/customer/{tokens.customer_id}", tokens.dpo, {"reason": "Riita 7/2026"}
    )
    assert status == 200, body
    assert body["legal_hold"]["reason"] == "Riita 7/2026"

    status, preview = call(client, "GET", "/retention/preview?as_of=2026-01-01", tokens.dpo)
    assert status == 200
    assert preview["rules"]["customer_grace"]["held"] == 1
    assert preview["rules"]["customer_grace"]["record_ids"] == []

    with clock.frozen(datetime(2026, 1, 1, 0, tzinfo=UTC)):
        run = retention.sweep(retention.today())
    assert run["rules"]["customer_grace"]["held"] == 1

    status, body = call(
        client, "POST", f"/legal-holds/customer/{tokens.customer_id}/lift", tokens.dpo, {"reason": "Sovittu"}
    )
    assert status == 200 and body["legal_hold"] is None
    status, events = call(client, "GET", f"/audit/records/customers/{tokens.customer_id}", tokens.dpo)
    held = {e["action"]: e for e in events["items"] if e["action"].startswith("legal_hold")}
    assert held["legal_hold_set"]["reason"] == "Riita 7/2026"
    assert held["legal_hold_lifted"]["reason"] == "Sovittu"

    status, preview = call(client, "GET", "/retention/preview?as_of=2026-01-01", tokens.dpo)
    assert preview["rules"]["customer_grace"] == {
        "due": 1,
        "held": 0,
        "record_ids": [tokens.customer_id],
        "action": "erase_contact",
        "after": "1 year",
    }
    profile = store.customers().get_item(Key={"pk": f"CUSTOMER#{tokens.customer_id}", "sk": "PROFILE"})["Item"]
    assert profile["status"] == "ended"  # a preview changes nothing


def test_the_preview_counts_the_request_case_rules_and_changes_nothing(client: Any, tokens: Tokens) -> None:
    with clock.frozen(datetime(2026, 1, 1, 9, tzinfo=UTC)):
        waiting = cases.open_case(
            "access", "odottaja@kunta.fi", "staff_letter", setup_actor(), verified_by="staff_checked"
        )
        cases.wait_for_person(waiting["case_id"], "Mikä asiakasnumero?", setup_actor())
        cases.open_case("erasure", "vahvistamaton@kunta.fi", "staff_letter", setup_actor())
    status, preview = call(client, "GET", "/retention/preview?as_of=2026-03-02", tokens.dpo)
    assert status == 200, preview
    assert preview["rules"]["case_waiting"] == {
        "due": 1,
        "held": 0,
        "record_ids": [],
        "action": "close_and_tell",
        "after": "60 days",
        "period": {"fi": "60 päivää", "en": "60 days"},
    }
    assert preview["rules"]["case_unverified"]["due"] == 1 and preview["rules"]["case_closed"]["due"] == 0
    status, early = call(client, "GET", "/retention/preview?as_of=2026-01-30", tokens.dpo)
    assert early["rules"]["case_waiting"]["due"] == 0 and early["rules"]["case_unverified"]["due"] == 0
    assert cases.get(waiting["case_id"])["status"] == "waiting_for_person"  # a preview changes nothing
    assert not sent_mail("odottaja@kunta.fi")


def test_last_runs_show_counts_per_rule(client: Any, tokens: Tokens) -> None:
    end_contract(client, tokens, "2024-01-15")
    retention.sweep(retention.parse_as_of("2025-06-01", today=retention.today(), is_prod=False))
    status, runs = call(client, "GET", "/retention/runs", tokens.dpo)
    assert status == 200
    [latest] = runs["items"]
    assert latest["summary"]["rules"]["customer_grace"]["done"] == 1
    assert latest["summary"]["as_of"] == "2025-06-01"
    assert latest["summary"]["audit_events"]["mechanism"] == "ttl"


def test_a_preview_is_audited_but_is_not_a_sweep(client: Any, tokens: Tokens) -> None:
    retention.sweep(retention.parse_as_of("2025-06-01", today=retention.today(), is_prod=False))
    for _ in range(3):
        assert call(client, "GET", "/retention/preview?as_of=2025-07-01", tokens.dpo)[0] == 200
    # The previews have their own audit record; the runs record holds the sweep only.
    previews = audit.by_record("system", retention.PREVIEWS_RECORD, 10, None)["items"]
    assert [e["action"] for e in previews] == ["preview"] * 3
    trail = audit.by_record("system", retention.RUNS_RECORD, 10, None)["items"]
    assert [e["action"] for e in trail] == ["sweep"]
    # A preview audited on the runs record before they were kept apart is still not a sweep.
    audit.append(auth.ANONYMOUS, Access("preview", "system", retention.RUNS_RECORD), "old-preview")
    status, runs = call(client, "GET", "/retention/runs", tokens.dpo)
    assert status == 200 and [r["summary"]["as_of"] for r in runs["items"]] == ["2025-06-01"]
    status, first = call(client, "GET", "/retention/runs?limit=1", tokens.dpo)
    assert status == 200 and first["items"] == [] and first["next_cursor"]
    status, rest = call(client, "GET", f"/retention/runs?limit=1&cursor={first['next_cursor']}", tokens.dpo)
    assert [r["action"] for r in rest["items"]] == ["sweep"]


def test_dpo_routes_refuse_staff_and_bad_input(client: Any, tokens: Tokens) -> None:
    assert call(client, "GET", "/retention/runs", tokens.staff)[0] == 403
    assert (
        call(client, "PUT", f"/legal-holds/customer/{tokens.customer_id}", tokens.staff, {"reason": "x" * 5})[0] == 403
    )
    assert call(client, "PUT", f"/legal-holds/order/{tokens.customer_id}", tokens.dpo, {"reason": "x" * 5})[0] == 400
    assert call(client, "PUT", "/legal-holds/customer/nosuch", tokens.dpo, {"reason": "x" * 5})[0] == 404
    assert call(client, "PUT", f"/legal-holds/customer/{tokens.customer_id}", tokens.dpo, {})[0] == 400
    assert call(client, "GET", "/retention/preview?as_of=2026-13-01", tokens.dpo)[0] == 400
