"""A request case over the running local stack: staff open a case for a letter, verify it,
wait for the person and resume, extend the deadline (the person's message lands in the
stack's outbox with the reason and the new date), carry out the rectification and close the
case; the list by due date and the case's audit trail follow, and the address stays out of
what staff are shown and out of the stack's logs."""

from __future__ import annotations

import json

import pytest

from tests.e2e.conftest import RunningStack
from tests.e2e.test_no_personal_data_in_logs import wait_for

pytestmark = pytest.mark.e2e

EMAIL = "kirsi.kirje@kirjekunta.fi"


def test_a_letter_becomes_a_case_that_is_extended_carried_out_and_closed(local_stack: RunningStack) -> None:
    staff, dpo = local_stack.login("staff"), local_stack.login("dpo")
    body = {
        "type": "rectification",
        "email": EMAIL,
        "channel": "staff_letter",
        "lang": "en",
        "details": {"changes": {"title": "Kunnanjohtaja"}},
    }
    status, case = local_stack.http("POST", "/cases", staff, body)
    assert status == 201, case
    case_id, due = case["case_id"], case["due_at"]
    assert case["status"] == "unverified" and "kirsi" not in json.dumps(case).lower()

    for step, payload in (("verify", {}), ("wait", {"reason": "Which organisation?"}), ("resume", None)):
        status, case = local_stack.http("POST", f"/cases/{case_id}/{step}", staff, payload)
        assert status == 200, (step, case)
    assert case["status"] == "open" and case["due_at"] == due  # resumed the same day: no day waited

    reason = "Your letter names several organisations; we check each register."
    status, case = local_stack.http("POST", f"/cases/{case_id}/extend", staff, {"months": 1, "reason": reason})
    assert status == 200, case
    [msg] = wait_for("the extension message in the outbox", lambda: local_stack.outbox(EMAIL))
    text = str(msg.get_body(preferencelist=("plain",)).get_content())  # type: ignore[union-attr]
    assert reason in text and case["due_at"] in text and case_id in text

    status, page = local_stack.http("GET", "/cases", staff)
    assert status == 200 and case_id in [i["case_id"] for i in page["items"]]
    status, done = local_stack.http("POST", f"/cases/{case_id}/carry-out", staff, {})
    assert status == 200 and done["case"]["status"] == "open", done
    status, closed = local_stack.http(
        "POST",
        f"/cases/{case_id}/close",
        dpo,
        {"outcome": "Nothing to correct: not in the registers.", "delivery": "letter"},
    )
    assert status == 200 and closed["status"] == "done" and closed["delivery"] == "letter"

    status, events = local_stack.http("GET", f"/audit/records/cases/{case_id}", dpo)
    actions = {e["action"] for e in events["items"]}
    assert {"create", "verify", "wait", "resume", "extend", "carry_out", "close"} <= actions
    if local_stack.log_path is not None:
        assert EMAIL not in local_stack.log_path.read_text(errors="replace")
