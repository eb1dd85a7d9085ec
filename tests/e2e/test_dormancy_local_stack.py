"""Over the running local stack (issue 11): an unused account is told by email and erased on
schedule unless the person keeps it with the link from the message (read from the outbox).

The stack's clock is the real one, and its sweeps run for today (the stack is shared with the
other e2e tests, whose records a future day's sweep could remove), so the passing of time is
the one thing set by hand: a profile's due date is moved to yesterday, as 24 months without
use (and then the notice's 30 days) would have moved it.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
import requests

from tests.e2e.conftest import RunningStack
from tests.e2e.test_no_personal_data_in_logs import request_sweep, wait_for

pytestmark = pytest.mark.e2e


def _customer(stack: RunningStack, staff: str, username: str) -> str:
    body = {
        "organization": "Lepäävä Oy",
        "contact_name": "Leo Lepääjä",
        "email": f"{username}@lepaava.fi",
        "username": username,
    }
    status, created = stack.http("POST", "/customers", staff, body)
    assert status == 201, created
    return str(created["customer_id"])


def _profile(stack: RunningStack, customer_id: str) -> dict[str, Any]:
    item = stack.client("dynamodb").get_item(
        TableName=stack.info["tables"]["customers"],
        Key={"pk": {"S": f"CUSTOMER#{customer_id}"}, "sk": {"S": "PROFILE"}},
        ConsistentRead=True,
    )["Item"]
    return {k: next(iter(v.values())) for k, v in item.items()}


def _time_passes(stack: RunningStack, customer_id: str) -> None:
    """The profile's due date, whatever its rule, is yesterday."""
    stack.client("dynamodb").update_item(
        TableName=stack.info["tables"]["customers"],
        Key={"pk": {"S": f"CUSTOMER#{customer_id}"}, "sk": {"S": "PROFILE"}},
        UpdateExpression="SET retention_due_at = :d",
        ExpressionAttributeValues={":d": {"S": (date.today() - timedelta(days=1)).isoformat()}},
    )


def _keep_link(stack: RunningStack, address: str) -> str:
    def notice() -> Any:
        for msg in stack.outbox(address):
            text = msg.get_body(preferencelist=("plain",)).get_content()
            for word in text.split():
                if "/keep-account?" in word:
                    return word
        return None

    link: str = wait_for("the keep-account notice in the outbox", notice)
    return link


def test_an_unused_account_is_told_then_erased_unless_kept(local_stack: RunningStack) -> None:
    staff = local_stack.login("staff")
    left = _customer(local_stack, staff, "e2e-lepaava-a")
    kept = _customer(local_stack, staff, "e2e-lepaava-b")
    assert _profile(local_stack, left)["retention_rule"] == "customer_dormant"

    for cid in (left, kept):
        _time_passes(local_stack, cid)
    outcome = request_sweep(local_stack, {})
    assert outcome.get("result", {}).get("rules", {}).get("customer_dormant", {}).get("done", 0) >= 2, outcome
    for cid in (left, kept):
        assert _profile(local_stack, cid)["retention_rule"] == "customer_dormant_notice"

    # The person who wants the account opens the link from the message and confirms.
    link = _keep_link(local_stack, "e2e-lepaava-b@lepaava.fi")
    _keep_link(local_stack, "e2e-lepaava-a@lepaava.fi")
    token = parse_qs(urlparse(link).query)["token"][0]
    page = requests.get(link, headers={"Accept": "text/html"}, timeout=30)
    assert page.status_code == 200 and 'action="keep-account"' in page.text
    status, answer = local_stack.http("POST", "/keep-account", None, {"token": token})
    assert status == 200 and answer == {"kept": True}, answer

    # The notice's 30 days pass for the other one: the next sweep erases it.
    _time_passes(local_stack, left)
    outcome = request_sweep(local_stack, {})
    assert outcome.get("result", {}).get("rules", {}).get("customer_dormant_notice", {}).get("done", 0) >= 1, outcome
    status, erased = local_stack.http("GET", f"/customers/{left}", staff)
    assert status == 200 and erased["status"] == "erased" and "email" not in erased, erased
    status, still = local_stack.http("GET", f"/customers/{kept}", staff)
    assert status == 200 and still["status"] == "active" and still["email"] == "e2e-lepaava-b@lepaava.fi", still
    assert _profile(local_stack, kept)["retention_rule"] == "customer_dormant"
