"""End-to-end: the local stack as a developer meets it, through real boto3 and HTTP."""

from __future__ import annotations

import time
from typing import Any

import jwt
import pytest
import requests

from tests.e2e.conftest import RunningStack

pytestmark = pytest.mark.e2e

PROSPECT_LIST = (
    "organization,contact_name,title,email,phone,source_url\n"
    "Acme Oy,Matti Myyjä,toimitusjohtaja,matti.myyja@acme.example,040 111 2222,https://acme.example/yhteystiedot\n"
).encode()
DESIGN_KEYS = {
    "api_url",
    "aws_endpoint_url",
    "region",
    "user_pool_id",
    "user_pool_client_id",
    "upload_bucket",
    "import_queue_url",
    "tables",
    "outbox_dir",
}


def new_customer(username: str) -> dict[str, object]:
    return {
        "organization": "Testi Oy",
        "business_id": "0112038-9",
        "contact_name": "Teemu Testaaja",
        "email": f"{username}@testi.fi",
        "phone": "+358 40 765 4321",
        "username": username,
    }


def test_stack_file_has_the_interface_contract_keys(local_stack: RunningStack) -> None:
    info = local_stack.info
    assert set(info) >= DESIGN_KEYS
    assert {"customers", "prospects", "suppression", "audit", "import_runs"} <= set(info["tables"])
    tables = local_stack.client("dynamodb").list_tables()["TableNames"]
    assert set(info["tables"].values()) <= set(tables)
    queues = local_stack.client("sqs").list_queues()["QueueUrls"]
    assert info["import_queue_url"] in queues


def test_staff_creates_a_customer_and_the_dpo_sees_the_audit_trail(local_stack: RunningStack) -> None:
    staff = local_stack.login("staff")
    status, created = local_stack.http("POST", "/customers", staff, new_customer("e2e-teemu"))
    assert status == 201, created
    customer_id = created["customer_id"]

    status, read = local_stack.http("GET", f"/customers/{customer_id}", staff)
    assert status == 200, read
    assert read["email"] == "e2e-teemu@testi.fi"
    assert read["phone"] == "+358407654321"

    dpo = local_stack.login("dpo")
    status, trail = local_stack.http("GET", f"/audit/records/customers/{customer_id}", dpo)
    assert status == 200, trail
    actions = sorted(e["action"] for e in trail["items"])
    assert actions == ["create", "read"]
    staff_sub = jwt.decode(staff, options={"verify_signature": False})["sub"]
    assert {e["principal_id"] for e in trail["items"]} == {staff_sub}
    # Field names only, never values.
    assert "email" in next(e for e in trail["items"] if e["action"] == "read")["fields"]
    assert "e2e-teemu@testi.fi" not in str(trail)


def test_the_demo_customer_confirmed_through_its_mail_and_signs_in_to_the_customer_pool(
    local_stack: RunningStack,
) -> None:
    # The stack registered it through the API; the confirmation it used is in the outbox.
    (confirmation,) = local_stack.outbox("demo.asiakas@example.com")
    assert confirmation["From"].addresses[0].addr_spec == local_stack.info["mail_from"]
    status, me = local_stack.http("GET", "/me", local_stack.login("customer"))
    assert status == 200 and me["customer"]["status"] == "active", me
    # Its username is not a staff login, and no staff username is a customer's.
    cognito = local_stack.client("cognito-idp")
    staff_users = cognito.list_users(UserPoolId=local_stack.info["user_pool_id"])["Users"]
    assert "demo-customer" not in {u["Username"] for u in staff_users}


def test_staff_may_not_read_the_audit_trail(local_stack: RunningStack) -> None:
    status, body = local_stack.http("GET", "/audit/records/customers/x", local_stack.login("staff"))
    assert status == 403
    assert body["error"]["code"] == "forbidden"


def test_forged_token_is_401(local_stack: RunningStack) -> None:
    token = local_stack.login("staff")
    header, payload, _signature = token.split(".")
    forged_payload = jwt.utils.base64url_encode(
        jwt.utils.base64url_decode(payload).replace(b'"staff"', b'"dpo"')
    ).decode()
    for forged in (f"{header}.{forged_payload}.{_signature}", token[:-4] + "AAAA"):
        status, body = local_stack.http("GET", "/customers", forged)
        assert status == 401
        assert body == {"error": {"code": "unauthorized", "message": "Missing or invalid credentials."}}


def test_customer_token_on_customers_is_403(local_stack: RunningStack) -> None:
    token = local_stack.login("customer")
    status, body = local_stack.http("GET", "/customers", token)
    assert status == 403
    assert body["error"]["code"] == "forbidden"
    # …while the same token reads its own data.
    status, me = local_stack.http("GET", "/me", token)
    assert status == 200, me
    assert me["customer"]["customer_id"] == local_stack.info["users"]["customer"]["customer_id"]


def queue_depth(sqs: Any, url: str) -> int:
    attrs = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]) + int(attrs["ApproximateNumberOfMessagesNotVisible"])


def test_upload_under_incoming_reaches_the_import_path(local_stack: RunningStack) -> None:
    """The emulator itself turns the S3 upload into the ObjectCreated event on the queue;
    when the app has `partner_import`, the worker consumes it (and leaves nothing behind)."""
    info = local_stack.info
    s3 = local_stack.client("s3")
    sqs = local_stack.client("sqs")
    s3.put_object(Bucket=info["upload_bucket"], Key="reports/acme/not-an-import.txt", Body=b"x")
    s3.put_object(Bucket=info["upload_bucket"], Key="incoming/acme/e2e-list.csv", Body=PROSPECT_LIST)
    if not info["worker"]["partner_import"]:
        # Peek without consuming: a zero visibility timeout leaves the messages where they are.
        seen: list[str] = []
        for _ in range(10):
            msgs = sqs.receive_message(
                QueueUrl=info["import_queue_url"], MaxNumberOfMessages=10, VisibilityTimeout=0, WaitTimeSeconds=1
            ).get("Messages", [])
            seen += [m["Body"] for m in msgs]
            if any("e2e-list.csv" in b for b in seen):
                break
        assert any("incoming%2Facme%2Fe2e-list.csv" in b and "ObjectCreated:Put" in b for b in seen), seen
        assert not any("not-an-import" in b for b in seen)
    else:
        # Each poll long-polls for up to a couple of seconds; the bound is generous, not a speed claim.
        for _ in range(60):
            if queue_depth(sqs, info["import_queue_url"]) == 0:
                break
            time.sleep(0.25)
        assert queue_depth(sqs, info["import_queue_url"]) == 0
        assert queue_depth(sqs, info["import_dlq_url"]) == 0
        # DESIGN §2: the raw upload is deleted once imported, and the run is recorded.
        remaining = s3.list_objects_v2(Bucket=info["upload_bucket"], Prefix="incoming/acme/").get("KeyCount", 0)
        assert remaining == 0
        runs = local_stack.client("dynamodb").scan(TableName=info["tables"]["import_runs"], Select="COUNT")
        assert runs["Count"] >= 1


def test_a_campaign_is_materialised_by_the_worker(local_stack: RunningStack) -> None:
    """`make run` end to end: staff start a materialisation, the worker runs
    `campaign_materialiser` from the campaign queue, the campaign becomes ready."""
    staff = local_stack.login("staff")
    body = {"name": "E2E", "purpose": "Paikallinen kokeilu", "channel": "email"}
    status, campaign = local_stack.http("POST", "/campaigns", staff, body)
    assert status == 201, campaign
    path = f"/campaigns/{campaign['campaign_id']}"
    status, started = local_stack.http("POST", f"{path}/materialisation", staff)
    assert status == 202, started
    got: dict[str, Any] = started
    for _ in range(120):  # a bound on waiting for the worker's long poll, not a speed claim
        status, got = local_stack.http("GET", path, staff)
        if got["status"] == "ready":
            break
        time.sleep(0.25)
    assert got["status"] == "ready", got
    assert got["counts"]["selected"] >= got["counts"]["audience"] >= 0
    status, page = local_stack.http("GET", f"{path}/audience", staff)
    assert status == 200 and "excluded" in page


def test_an_email_campaign_is_sent_into_the_outbox_and_its_one_click_link_objects(local_stack: RunningStack) -> None:
    """`make run` end to end: staff send an email campaign, the worker runs `mail_sender` from
    the mail queue, the message is in the outbox as an .eml with its one-click header, and a
    POST to that header's URL (what a mail program does) objects."""
    staff = local_stack.login("staff")
    address = "e2e.kampanja@sahkoposti-e2e.fi"
    prospect = {"organization": "Sähköposti E2E Oy", "contact_name": "Eetu Kaksi", "email": address}
    status, created = local_stack.http("POST", "/prospects", staff, prospect)
    assert status == 201, created
    body = {"name": "E2E mail", "purpose": "Paikallinen kokeilu", "channel": "email"}
    body["selection"] = {"organization": "Sähköposti E2E"}
    status, campaign = local_stack.http("POST", "/campaigns", staff, body)
    assert status == 201, campaign
    path = f"/campaigns/{campaign['campaign_id']}"
    assert local_stack.http("POST", f"{path}/materialisation", staff)[0] == 202
    got: dict[str, Any] = {}
    for _ in range(120):  # a bound on waiting for the worker's long poll, not a speed claim
        got = local_stack.http("GET", path, staff)[1]
        if got["status"] == "ready":
            break
        time.sleep(0.25)
    assert got["counts"]["audience"] == 1, got
    status, started = local_stack.http("POST", f"{path}/sending", staff, {"subject": "Tervehdys", "text": "Hei!"})
    assert status == 202, started
    for _ in range(120):
        got = local_stack.http("GET", path, staff)[1]
        if got["sending"]["status"] == "sent":
            break
        time.sleep(0.25)
    assert got["sending"]["counts"]["sent"] == 1, got
    for _ in range(120):  # the outbox copies what SES accepted on its own thread
        if local_stack.outbox(address):
            break
        time.sleep(0.25)
    [msg] = local_stack.outbox(address)
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    url = str(msg["List-Unsubscribe"]).strip("<>")
    assert url.startswith(local_stack.info["api_url"] + "/unsubscribe/one-click?token=")
    resp = requests.post(
        url,
        data="List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        timeout=30,
    )
    assert resp.status_code == 200 and resp.json()["unsubscribed"] is True
    assert local_stack.http("GET", f"/prospects/{created['prospect_id']}", staff)[0] == 404
