"""docs/phone-campaigns.md end to end against `make run`'s stack: real HTTP, the worker forming
the audience, the call list's bytes through the local API Gateway both ways."""

from __future__ import annotations

import io
import time
from typing import Any

import requests
from openpyxl import load_workbook

from chalicelib import call_lists
from tests.e2e.conftest import RunningStack


def _file(local_stack: RunningStack, method: str, path: str, token: str, **kwargs: Any) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}", **kwargs.pop("headers", {})}
    return requests.request(method, local_stack.info["api_url"] + path, headers=headers, timeout=30, **kwargs)


def test_a_phone_campaign_with_a_marketing_partner(local_stack: RunningStack) -> None:
    staff, partner = local_stack.login("staff"), local_stack.login("marketing")
    person = {
        "organization": "Kainuun hyvinvointialue",
        "contact_name": "Jörö Äijälä",
        "title": "Hyvinvointijohtaja",
        "email": "joro.e2e@kainuu.fi",
        "phone": "040 765 4321",
    }
    status, prospect = local_stack.http("POST", "/prospects", staff, person)
    assert status == 201, prospect
    body = {"name": "E2E soitot", "purpose": "Esittely", "channel": "phone", "selection": {"organization": "Kainuu"}}
    status, campaign = local_stack.http("POST", "/campaigns", staff, body)
    assert status == 201, campaign
    path = f"/campaigns/{campaign['campaign_id']}"
    assert local_stack.http("POST", f"{path}/materialisation", staff)[0] == 202
    got: dict[str, Any] = campaign
    for _ in range(120):  # a bound on waiting for the worker's long poll, not a speed claim
        got = local_stack.http("GET", path, staff)[1]
        if got["status"] == "ready":
            break
        time.sleep(0.25)
    assert got["status"] == "ready", got
    status, _ = local_stack.http("PUT", f"{path}/assignment", staff, {"partner_id": "kampanja"})
    assert status == 200

    mine = f"/marketing{path}"
    resp = _file(local_stack, "GET", f"{mine}/call-list?format=xlsx", partner, headers={"Accept": "*/*"})
    assert resp.status_code == 200, resp.text
    assert resp.headers["Content-Type"] == call_lists.XLSX_TYPE
    book = load_workbook(io.BytesIO(resp.content))
    sheet = book[call_lists.LIST_SHEET]
    header = [c.value for c in sheet[1]]
    row = {h: c.value for h, c in zip(header, sheet[2], strict=True)}
    assert row["Yhteyshenkilön nimi"] == "Jörö Äijälä" and row[call_lists.ID_COLUMN] == prospect["prospect_id"]
    sheet.cell(2, header.index(call_lists.OUTCOME_COLUMN) + 1).value = "do_not_call"
    filled = io.BytesIO()
    book.save(filled)

    resp = _file(
        local_stack,
        "POST",
        f"{mine}/outcomes",
        partner,
        data=filled.getvalue(),
        headers={"Content-Type": call_lists.XLSX_TYPE},
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["counts"] == {"applied": 1, "unchanged": 0, "blank": 0, "rejected": 0}
    resp = _file(local_stack, "GET", f"{mine}/call-list?format=csv", partner, headers={"Accept": "text/csv"})
    assert resp.status_code == 200 and resp.content.startswith(b"\xef\xbb\xbf")
    assert prospect["prospect_id"] not in resp.content.decode("utf-8-sig")  # the number is blocked now

    assert local_stack.http("DELETE", f"{path}/assignment", staff)[0] == 200
    assert local_stack.http("GET", mine, partner)[0] == 404
