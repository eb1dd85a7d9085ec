"""Restriction of processing (GDPR Art. 18) over the running local stack: a partner's file brings
two people, staff restrict one of them, and from then on that record is absent from the
partner's list, the call lists of a campaign formed before, and the audience of a campaign formed
after, while the partner's next file leaves it exactly as it was; staff still see it, marked."""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests

from tests.e2e.conftest import RunningStack
from tests.e2e.test_erasure_local_stack import HEADER, _upload_and_report

pytestmark = pytest.mark.e2e

RESTRICTED = "rauha.rajoitettu@rajakunta.fi"
OTHER = "kalle.kelpo@rajakunta.fi"
FIRST = (
    HEADER
    + f"Rajakunta;Rauha Rajoitettu;Hallintojohtaja;{RESTRICTED};040 555 0202\r\n"
    + f"Rajakunta;Kalle Kelpo;Talousjohtaja;{OTHER};040 555 0303\r\n"
)
# The partner's next file changes the restricted person's title: an import must not change it.
SECOND = HEADER + f"Rajakunta;Rauha Rajoitettu;Kunnanjohtaja;{RESTRICTED};040 555 0202\r\n"


def _prospect_id(stack: RunningStack, staff: str, email: str) -> str:
    status, found = stack.http("POST", "/prospects/search", staff, {"email": email})
    assert status == 200 and len(found["items"]) == 1, found
    return str(found["items"][0]["prospect_id"])


def _ready_campaign(stack: RunningStack, staff: str, name: str, channel: str) -> dict[str, Any]:
    body = {"name": name, "purpose": "Esittely", "channel": channel, "selection": {"organization": "Rajakunta"}}
    status, campaign = stack.http("POST", "/campaigns", staff, body)
    assert status == 201, campaign
    path = f"/campaigns/{campaign['campaign_id']}"
    assert stack.http("POST", f"{path}/materialisation", staff)[0] == 202
    got: dict[str, Any] = campaign
    for _ in range(120):  # a bound on waiting for the worker's long poll, not a speed claim
        got = stack.http("GET", path, staff)[1]
        if got["status"] == "ready":
            break
        time.sleep(0.25)
    assert got["status"] == "ready", got
    return got


def _csv(stack: RunningStack, path: str, token: str) -> str:
    resp = requests.get(
        stack.info["api_url"] + f"{path}?format=csv",
        headers={"Authorization": f"Bearer {token}", "Accept": "text/csv"},
        timeout=30,
    )
    assert resp.status_code == 200, resp.text
    return resp.content.decode("utf-8-sig")


def test_a_restricted_record_is_absent_from_every_list_and_untouched_by_an_import(
    local_stack: RunningStack,
) -> None:
    staff, partner, marketing = (local_stack.login(k) for k in ("staff", "partner", "marketing"))
    first = _upload_and_report(local_stack, "rajoitus-1.csv", FIRST)
    assert first["state"] == "done" and first["counts"]["inserted"] == 2, first
    restricted, other = (_prospect_id(local_stack, staff, e) for e in (RESTRICTED, OTHER))

    # A phone campaign formed before the restriction, with a marketing partner.
    phone = _ready_campaign(local_stack, staff, "Rajoitus soitot", "phone")
    path = f"/campaigns/{phone['campaign_id']}"
    assert local_stack.http("PUT", f"{path}/assignment", staff, {"partner_id": "kampanja"})[0] == 200
    assert restricted in _csv(local_stack, f"/marketing{path}/call-list", marketing)

    status, body = local_stack.http(
        "PUT", f"/restrictions/prospect/{restricted}", staff, {"reason": "accuracy_contested"}
    )
    assert status == 200, body

    # The data provider: not in its list, not found on its own.
    status, mine = local_stack.http("GET", "/partner/prospects?limit=100", partner)
    assert status == 200, mine
    listed = {p["prospect_id"] for p in mine["items"]}
    assert other in listed and restricted not in listed
    assert local_stack.http("GET", f"/partner/prospects/{restricted}", partner)[0] == 404

    # The call lists of the campaign formed before: the partner's and staff's downloads.
    for csv_path, token in ((f"/marketing{path}/call-list", marketing), (f"{path}/call-list", staff)):
        rows = _csv(local_stack, csv_path, token)
        assert other in rows and restricted not in rows and RESTRICTED not in rows

    # A campaign formed after leaves the person out, counted as restricted.
    email = _ready_campaign(local_stack, staff, "Rajoitus viestit", "email")
    assert email["counts"]["excluded"]["restricted"] == 1, email
    status, audience = local_stack.http("GET", f"/campaigns/{email['campaign_id']}/audience", staff)
    assert status == 200 and [m["prospect_id"] for m in audience["items"]] == [other]

    # The partner's next file does not change the record; the report names no one.
    status, before = local_stack.http("GET", f"/prospects/{restricted}", staff)
    assert status == 200 and before["restricted"] is True, before
    second = _upload_and_report(local_stack, "rajoitus-2.csv", SECOND)
    assert second["state"] == "done" and second["rejected_by_reason"] == {"restricted": 1}, second
    assert "rauha" not in str(second).lower()
    status, after = local_stack.http("GET", f"/prospects/{restricted}", staff)
    assert status == 200 and after == before

    if local_stack.log_path is not None:
        assert "rauha" not in local_stack.log_path.read_text(errors="replace").lower()
