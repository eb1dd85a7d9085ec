"""No personal data in logs: a full flow through the running local stack (registration,
staff work on customers, a partner import, every kind of subject request, a sweep), then
all the stack process wrote (stdout and stderr of the API, the worker and the emulator)
is searched for every name, email and phone number the flow used, in every form it sent
them and in the forms the system stores (E.164, lower case, JSON-escaped).
"""

from __future__ import annotations

import json
import os
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from devstack.outbox import CONFIRMATION_CODE
from tests.e2e.conftest import RunningStack

pytestmark = pytest.mark.e2e

WAIT_LIMIT = 60.0  # a bound on waiting for the worker, not a speed claim

# Distinctive values: none can occur in the logs by chance.
REGISTRANT = {
    "name": "Reija Rekisteröityjä",
    "email": "Reija.Rekisteroityja@Lokitesti.fi",
    "phone": "040 555 0101",
    "e164": "+358405550101",
}
CUSTOMER = {
    "name": "Kalle Kustomoija",
    "email": "kalle.kustomoija@lokitesti.fi",
    "phone": "+358 50 555 0202",
    "e164": "+358505550202",
}
CUSTOMER_NEW = {"name": "Kalle K. Kustomoija", "phone": "0505550909", "e164": "+358505550909"}
PROSPECT = {
    "name": "Pirjo Prospektinen",
    "email": "Pirjo.Prospektinen@Kuntalokitesti.fi",
    "phone": "044-555 0303",
    "e164": "+358445550303",
}
PROSPECT_NEW = {"phone": "(044) 555 0404", "e164": "+358445550404"}
OBJECTOR = {
    "name": "Olli Vastustaja",
    "email": "olli.vastustaja@kuntalokitesti.fi",
    "phone": "+358445550505",
    "e164": "+358445550505",
}
ALL = (REGISTRANT, CUSTOMER, CUSTOMER_NEW, PROSPECT, PROSPECT_NEW, OBJECTOR)
UPLOAD = (
    "organization;contact_name;title;email;phone\r\n"
    f"Lokitestin kunta;{PROSPECT['name']};sosiaalijohtaja;{PROSPECT['email']};{PROSPECT['phone']}\r\n"
    f"Lokitestin kunta;{OBJECTOR['name']};talousjohtaja;{OBJECTOR['email']};{OBJECTOR['phone']}\r\n"
).encode()


def needles() -> set[str]:
    """Every form of every value: as sent, lower case, JSON-escaped, phones also as E.164."""
    found: set[str] = set()
    for person in ALL:
        for value in person.values():
            found |= {value, value.lower(), json.dumps(value)[1:-1], json.dumps(value)[1:-1].lower()}
        if "e164" in person:
            found.add(person["e164"].lstrip("+"))  # E.164 without its plus
        if "name" in person:
            found |= set(person["name"].split()[-1:])  # the distinctive surname alone
    return {n for n in found if len(n) >= 6}


def wait_for(what: str, probe: Any) -> Any:
    deadline = time.monotonic() + WAIT_LIMIT
    while time.monotonic() < deadline:
        result = probe()
        if result:
            return result
        time.sleep(0.25)
    pytest.fail(f"gave up waiting for {what}")


def request_sweep(stack: RunningStack, payload: dict[str, Any]) -> dict[str, Any]:
    """Run the sweeper now through the local stack's sweep request file; its outcome."""
    request = Path(stack.info["sweep_request_file"])
    result = request.with_name("sweep-result.json")
    result.unlink(missing_ok=True)
    tmp = request.with_suffix(".tmp")
    tmp.write_text(json.dumps(payload))
    os.replace(tmp, request)
    wait_for("the requested sweep", result.exists)
    outcome: dict[str, Any] = json.loads(result.read_text())
    return outcome


def test_a_full_flow_leaves_no_personal_data_in_the_logs(local_stack: RunningStack) -> None:
    assert local_stack.log_path is not None
    http = local_stack.http
    staff = local_stack.login("staff")
    dpo = local_stack.login("dpo")

    # Registration, then the same again (a refused duplicate must not log it either).
    registration = {
        "organization": "Lokitesti Oy",
        "business_id": "0112038-9",
        "contact_name": REGISTRANT["name"],
        "email": REGISTRANT["email"],
        "phone": REGISTRANT["phone"],
        "username": "lokitesti-reija",
        "password": "Lokitesti-Salasana-7x!",
        "consent_service_messages": True,
    }
    status, accepted = http("POST", "/registrations", body=registration)
    assert status == 202, accepted
    (message,) = wait_for("the confirmation message in the outbox", lambda: local_stack.outbox(REGISTRANT["email"]))
    code = CONFIRMATION_CODE.search(message.get_body().get_content())
    assert code, "no confirmation code in the message"
    status, confirmed = http("POST", "/registrations/confirm", body={"token": code.group(0)})
    assert status == 200, confirmed
    registered = confirmed["customer"]
    # The same again: the same answer, and the owner is told by email (neither may log the address).
    status, again = http("POST", "/registrations", body=registration)
    assert (status, again) == (202, accepted)

    # Staff create, find, read and update a customer; then its contract ends.
    status, created = http(
        "POST",
        "/customers",
        staff,
        {
            "organization": "Kustomoija Oy",
            "business_id": "0112038-9",
            "contact_name": CUSTOMER["name"],
            "email": CUSTOMER["email"],
            "phone": CUSTOMER["phone"],
            "username": "lokitesti-kalle",
        },
    )
    assert status == 201, created
    customer_id = created["customer_id"]
    status, found = http("POST", "/customers/search", staff, {"email": CUSTOMER["email"]})
    assert status == 200 and [c["customer_id"] for c in found["items"]] == [customer_id], found
    status, read = http("GET", f"/customers/{customer_id}", staff)
    assert status == 200 and read["phone"] == CUSTOMER["e164"], read
    changes = {"contact_name": CUSTOMER_NEW["name"], "phone": CUSTOMER_NEW["phone"]}
    status, updated = http("PATCH", f"/customers/{customer_id}", staff, changes)
    assert status == 200 and updated["phone"] == CUSTOMER_NEW["e164"], updated
    ended_path = f"/customers/{registered['customer_id']}/contract-end"
    # The earliest end date the API accepts (a year back), so today's sweep is past the
    # 12-month grace; the stack runs on the real clock, in Finnish dates.
    a_year_ago = datetime.now(ZoneInfo("Europe/Helsinki")).date() - timedelta(days=366)
    status, ended = http("POST", ended_path, staff, {"end_date": a_year_ago.isoformat()})
    assert status == 200, ended

    # A partner upload, imported by the worker.
    bucket = local_stack.info["upload_bucket"]
    local_stack.client("s3").put_object(Bucket=bucket, Key="incoming/acme/lokitesti.csv", Body=UPLOAD)

    def import_done() -> dict[str, Any] | None:
        status, runs = http("GET", "/import-runs?partner_id=acme", staff)
        assert status == 200, runs
        mine = [r for r in runs["items"] if r.get("file_name") == "lokitesti.csv"]
        return mine[0] if mine and mine[0]["state"] in ("done", "failed") else None

    run = wait_for("the import run", import_done)
    assert run["state"] == "done", run
    assert run["counts"]["inserted"] == 2, run

    # Subject requests: access, rectification, objection, erasure.
    status, access = http("POST", "/subject-requests", staff, {"type": "access", "email": REGISTRANT["email"]})
    assert status == 200 and REGISTRANT["e164"] in json.dumps(access), access
    status, rectified = http(
        "POST",
        "/subject-requests",
        staff,
        {"type": "rectification", "email": PROSPECT["email"], "changes": {"phone": PROSPECT_NEW["phone"]}},
    )
    assert status == 200, rectified
    status, objected = http("POST", "/subject-requests", staff, {"type": "objection", "email": OBJECTOR["email"]})
    assert status == 200, objected
    status, erased = http("POST", "/subject-requests", staff, {"type": "erasure", "email": CUSTOMER["email"]})
    assert status == 200, erased
    status, gone = http("POST", "/customers/search", staff, {"email": CUSTOMER["email"]})
    assert status == 200 and gone["items"] == [], gone

    # The DPO's preview, then today's sweep: the contract ended a year ago, past its grace
    # period, so the profile is erased. (Today, not a future day: the stack is shared by
    # the other e2e tests of this worker, whose records a future sweep could remove.)
    status, preview = http("GET", "/retention/preview", dpo)
    assert status == 200, preview
    outcome = request_sweep(local_stack, {})
    assert outcome.get("result", {}).get("rules", {}).get("customer_grace", {}).get("done", 0) >= 1, outcome
    status, after = http("GET", f"/customers/{registered['customer_id']}", staff)
    assert status in (200, 404), after
    assert REGISTRANT["email"].lower() not in json.dumps(after).lower(), after

    # Everything the stack process wrote, from its start to now.
    time.sleep(0.5)  # let the worker's last log lines reach the file (not a speed assertion)
    logs = local_stack.log_path.read_text(encoding="utf-8", errors="replace")
    assert "retention_sweeper" in logs and "/registrations" in logs  # the capture really has the flow
    leaked = sorted(n for n in needles() if n.lower() in logs.lower())
    assert leaked == [], f"personal data in the stack's logs: {leaked}"
