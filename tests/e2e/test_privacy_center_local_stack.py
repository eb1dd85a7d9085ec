"""The privacy center over the running local stack: a prospect with no login asks to see their
data, reads the one-time link from the outbox, confirms it, sees their data with its source,
objects, and the cases end `done`; the answer to a stranger's address is the same, and the
stack's logs never name the person."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
import requests

from tests.e2e.conftest import RunningStack
from tests.e2e.test_no_personal_data_in_logs import wait_for

pytestmark = pytest.mark.e2e

EMAIL = "paula.pyytaja@pyyntokunta.fi"
STRANGER = "ei.ketaan@tuntematon.fi"


def _link(stack: RunningStack, address: str) -> str:
    def mailed() -> Any:
        for msg in stack.outbox(address):
            text = msg.get_body(preferencelist=("plain",)).get_content()
            for word in text.split():
                if "/privacy-center/link?" in word:
                    return word
        return None

    link: str = wait_for("the privacy center's link in the outbox", mailed)
    return link


def _stored_case(stack: RunningStack, case_id: str) -> dict[str, Any]:
    """The case item as the table holds it (top-level strings plain, maps as DynamoDB gives them)."""
    item = stack.client("dynamodb").get_item(
        TableName=stack.info["tables"]["request_cases"], Key={"case_id": {"S": case_id}}, ConsistentRead=True
    )["Item"]
    return {k: v.get("S", v) for k, v in item.items()}


def _act(stack: RunningStack, session: str, body: dict[str, Any]) -> tuple[int, Any]:
    resp = requests.post(
        stack.info["api_url"] + "/privacy-center/case/actions",
        headers={"X-Case-Session": session},
        json=body,
        timeout=30,
    )
    return resp.status_code, resp.json()


def test_a_prospect_with_no_login_sees_their_data_and_objects(local_stack: RunningStack) -> None:
    staff = local_stack.login("staff")
    new = {"organization": "Pyyntökunta", "contact_name": "Paula Pyytäjä", "title": "Sivistysjohtaja", "email": EMAIL}
    status, created = local_stack.http("POST", "/prospects", staff, new)
    assert status == 201, created

    status, asked = local_stack.http("POST", "/privacy-center/requests", None, {"email": EMAIL, "type": "access"})
    status_stranger, stranger = local_stack.http(
        "POST", "/privacy-center/requests", None, {"email": STRANGER, "type": "access"}
    )
    assert (status, asked) == (status_stranger, stranger) and status == 202, asked

    link = _link(local_stack, EMAIL)
    _link(local_stack, STRANGER)  # the stranger's address got its own link: the same work either way
    page = requests.get(link, headers={"Accept": "text/html"}, timeout=30)
    assert page.status_code == 200 and 'action="link"' in page.text
    token = parse_qs(urlparse(link).query)["token"][0]
    status, redeemed = local_stack.http("POST", "/privacy-center/link", None, {"token": token})
    assert status == 200, redeemed
    access_case = redeemed["case"]["case_id"]
    assert redeemed["case"]["status"] == "open"
    session = redeemed["session"]

    status, seen = _act(local_stack, session, {"type": "access"})
    assert status == 200, seen
    [part] = seen["answer"]["parts"]
    assert part["data"]["contact_name"] == "Paula Pyytäjä" and "disclosures" in part
    assert seen["case"]["status"] == "done"

    status, objected = _act(local_stack, session, {"type": "objection"})
    assert status == 200, objected
    assert objected["case"]["status"] == "done"

    for case_id, kind in ((access_case, "access"), (objected["case"]["case_id"], "objection")):
        case = _stored_case(local_stack, case_id)
        assert case["type"] == kind and case["status"] == "done" and case["channel"] == "privacy_center"
        assert case["verification"]["M"]["method"]["S"] == "email_link" and case["delivery"] == "privacy_center"
        assert "contact" not in case  # closing removed the address

    status, again = local_stack.http("POST", "/privacy-center/link", None, {"token": token})
    assert status == 400 and again["error"]["code"] == "invalid_link"
    status, me = local_stack.http("POST", "/subject-requests", staff, {"type": "access", "email": EMAIL})
    assert status == 200 and me["answer"]["suppression"]["on_list"] is True, me

    if local_stack.log_path is not None:
        logged = local_stack.log_path.read_text(errors="replace").lower()
        assert "paula" not in logged and "pyyntokunta" not in logged and token.split(".")[1].lower() not in logged
