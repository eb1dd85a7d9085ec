"""The calls-against-roles check (tests/aws_calls.py) itself: it sees every function, expands
calls the way IAM authorises them, and fails when a role loses an action a function uses.

The check runs after every test of the suite; these tests prove it is not blind.
"""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime
from typing import Any

import pytest

from chalicelib import accounts, cases, clock, customers
from tests import aws_calls
from tests.aws_calls import IamRequest, Recorder, iam_requests
from tests.campaigns_helpers import drain_campaigns
from tests.conftest import PASSWORD, Stack, Tokens, call, setup_actor
from tests.imports_helpers import csv_bytes, drain, upload
from tests.mail_helpers import deliver_ses_event, drain_mail, ses_event
from tests.template import fake_arn, table_arn

CUSTOMERS = table_arn("CustomersTable")
PROSPECTS = table_arn("ProspectsTable")
REQUEST_CASES = table_arn("RequestCasesTable")
BUCKET = fake_arn("UploadBucket", {"Type": "AWS::S3::Bucket"})


def requests_of(recorder: Recorder, function: str, start: int) -> set[tuple[str, str]]:
    return {(r.action, r.resource) for c in recorder.calls[start:] if c.function == function for r in c.requests}


def erase_due_customer(tokens: Tokens) -> None:
    """A customer whose contract ended over 12 months ago, with a login: the sweeper erases it."""
    with clock.frozen(datetime(2024, 1, 2, 9, tzinfo=UTC)):
        item = customers.create_customer(
            {
                "organization": "Esimerkki Oy",
                "contact_name": "Maija Meikäläinen",
                "email": "maija.sweep@yritys.fi",
                "username": "maija-sweep",
            },
            setup_actor(),
        )
        accounts.create_customer_login("maija-sweep", "maija.sweep@yritys.fi", item["customer_id"], PASSWORD)
        customers.end_contract(item["customer_id"], date(2024, 1, 15), setup_actor())


def lapse_waiting_case() -> None:
    """A request case that has waited for the person's answer past its period: the sweeper
    mails the person and closes it."""
    with clock.frozen(datetime(2025, 10, 1, 9, tzinfo=UTC)):
        case = cases.open_case(
            "access", "odottaja@kunta.fi", "staff_letter", setup_actor(), verified_by="staff_checked"
        )
        cases.wait_for_person(case["case_id"], "Which customer number?", setup_actor())


def test_every_function_is_attributed_and_its_calls_expanded(
    stack: Stack, client: Any, tokens: Tokens, calls_against_roles: Recorder
) -> None:
    start = len(calls_against_roles.calls)
    before = calls_against_roles.invocations.copy()

    status, _ = call(client, "GET", "/customers", tokens.staff)
    assert status == 200
    upload(stack, "incoming/acme/list.csv", csv_bytes([["Kunta", "Olli Ohto", "Johtaja", "olli@kunta.fi", ""]]))
    drain(stack)
    erase_due_customer(tokens)
    lapse_waiting_case()
    result = client.lambda_.invoke("retention_sweeper", {"as_of": "2026-01-01"}).payload
    assert result["rules"]["customer_grace"]["done"] == 1
    assert result["request_cases"]["rules"][cases.RULE_WAITING]["done"] == 1
    # The test client gives a pure function 3 seconds: enough to start, maybe not to finish.
    assert "rekeyed" in client.lambda_.invoke("pseudonym_rekey", {}).payload
    assert "customers" in client.lambda_.invoke("register_backfill", {}).payload
    status, campaign = call(
        client, "POST", "/campaigns", tokens.staff, {"name": "K", "purpose": "P", "channel": "email"}
    )
    assert status == 201
    status, _ = call(client, "POST", f"/campaigns/{campaign['campaign_id']}/materialisation", tokens.staff)
    assert status == 202 and drain_campaigns(stack) == 1
    status, _ = call(
        client, "POST", f"/campaigns/{campaign['campaign_id']}/sending", tokens.staff, {"subject": "S", "text": "T"}
    )
    assert status == 202 and drain_mail(stack) == 1
    # The night's Art. 14 job: the schedule only queues it, mail_sender reads the index.
    assert client.lambda_.invoke("art14_notices", {"as_of": "2026-01-01"}).payload["queued"] == "art14_notices"
    assert drain_mail(stack) == 1
    # A permanent bounce of the prospect the upload added: removed as an outdated contact.
    assert deliver_ses_event(stack, ses_event("Bounce", ["olli@kunta.fi"])) == {"batchItemFailures": []}

    ran = calls_against_roles.invocations - before
    assert set(ran) == set(aws_calls.FUNCTIONS)
    api = requests_of(calls_against_roles, "api_handler", start)
    assert ("dynamodb:Query", f"{CUSTOMERS}/index/by_list") in api
    imports = requests_of(calls_against_roles, "partner_import", start)
    assert any(a == "s3:GetObject" and r.startswith(f"{BUCKET}/incoming/acme/") for a, r in imports)
    assert ("dynamodb:BatchWriteItem", PROSPECTS) in imports or ("dynamodb:PutItem", PROSPECTS) in imports
    assert {a for a, _ in requests_of(calls_against_roles, "art14_notices", start)} == {"sqs:SendMessage"}
    assert ("dynamodb:Query", f"{PROSPECTS}/index/art14_due") in requests_of(calls_against_roles, "mail_sender", start)
    sweeper = requests_of(calls_against_roles, "retention_sweeper", start)
    # The erasure transaction's login-deletion marker is a Put: authorised as PutItem on its table.
    assert ("dynamodb:PutItem", CUSTOMERS) in sweeper
    assert ("dynamodb:Query", f"{CUSTOMERS}/index/retention_due") in sweeper
    customer_pool = fake_arn("CustomerUserPool", {"Type": "AWS::Cognito::UserPool"})
    assert ("cognito-idp:AdminDeleteUser", customer_pool) in sweeper
    # A lapsed case: read (the index holds keys only), then closed by a Put in its transaction.
    assert {("dynamodb:GetItem", REQUEST_CASES), ("dynamodb:PutItem", REQUEST_CASES)} <= sweeper
    assert "ses:SendEmail" in {action for action, _ in sweeper}
    materialiser = requests_of(calls_against_roles, "campaign_materialiser", start)
    assert ("dynamodb:Query", f"{PROSPECTS}/index/by_list") in materialiser
    assert ("dynamodb:PutItem", table_arn("CampaignsTable")) in materialiser  # the page's member
    sender = requests_of(calls_against_roles, "mail_sender", start)
    assert "ses:SendEmail" in {action for action, _ in sender}
    assert ("dynamodb:UpdateItem", f"{PROSPECTS}") in sender  # the prospect's last contact
    assert not calls_against_roles.denials(aws_calls.function_roles(), calls_against_roles.calls[start:])


def test_a_role_that_loses_an_action_its_function_uses_fails_naming_it(
    stack: Stack, client: Any, tokens: Tokens, calls_against_roles: Recorder
) -> None:
    start = len(calls_against_roles.calls)
    erase_due_customer(tokens)
    client.lambda_.invoke("retention_sweeper", {"as_of": "2026-01-01"})
    sweep_calls = calls_against_roles.calls[start:]

    roles = copy.deepcopy(aws_calls.function_roles())
    for statement in roles["retention_sweeper"]["Statement"]:
        statement["Action"] = [a for a in statement["Action"] if a != "dynamodb:PutItem"] or ["none:None"]
    denied = calls_against_roles.denials(roles, sweep_calls)
    assert denied
    assert all(line.startswith("retention_sweeper (policy-retention-sweeper.json): ") for line in denied)
    assert any(f"dynamodb:PutItem on {CUSTOMERS}" in line and "TransactWriteItems item" in line for line in denied)
    # With the role as deployed, the same calls pass.
    assert not calls_against_roles.denials(aws_calls.function_roles(), sweep_calls)


# -- expansion, one SDK call at a time -------------------------------------------------------


@pytest.fixture
def names(stack: Stack) -> dict[str, str]:
    return {"customers": stack.info["tables"]["customers"], "audit": stack.info["tables"]["audit"]}


def test_transactions_are_authorised_item_by_item_on_each_items_table(names: dict[str, str]) -> None:
    requests = iam_requests(
        "dynamodb",
        "TransactWriteItems",
        {
            "TransactItems": [
                {"Update": {"TableName": names["customers"], "Key": {}}},
                {"Put": {"TableName": names["audit"], "Item": {}}},
                {"ConditionCheck": {"TableName": names["customers"], "Key": {}}},
                {"Delete": {"TableName": names["customers"], "Key": {}}},
            ]
        },
    )
    audit = table_arn("AuditTable")
    assert [(r.action, r.resource) for r in requests] == [
        ("dynamodb:UpdateItem", CUSTOMERS),
        ("dynamodb:PutItem", audit),
        ("dynamodb:ConditionCheckItem", CUSTOMERS),
        ("dynamodb:DeleteItem", CUSTOMERS),
    ]
    (get,) = iam_requests("dynamodb", "TransactGetItems", {"TransactItems": [{"Get": {"TableName": names["audit"]}}]})
    assert (get.action, get.resource) == ("dynamodb:GetItem", audit)


def test_batches_index_queries_and_unknown_names(names: dict[str, str]) -> None:
    batch = iam_requests(
        "dynamodb",
        "BatchWriteItem",
        {"RequestItems": {names["audit"]: [{"PutRequest": {}}, {"PutRequest": {}}], names["customers"]: [{}]}},
    )
    assert {(r.action, r.resource) for r in batch} == {
        ("dynamodb:BatchWriteItem", table_arn("AuditTable")),
        ("dynamodb:BatchWriteItem", CUSTOMERS),
    }
    assert len(batch) == 3
    # Each put or delete of a batch carries its partition key, as IAM evaluates LeadingKeys per item.
    keyed = iam_requests(
        "dynamodb",
        "BatchWriteItem",
        {
            "RequestItems": {
                names["audit"]: [
                    {"PutRequest": {"Item": {"pk": {"S": "RECORD#prospects#p1"}, "sk": {"S": "e"}}}},
                    {"DeleteRequest": {"Key": {"pk": {"S": "RECORD#customers#c1"}, "sk": {"S": "e"}}}},
                ]
            }
        },
    )
    assert [r.context for r in keyed] == [
        (("dynamodb:LeadingKeys", "RECORD#prospects#p1"),),
        (("dynamodb:LeadingKeys", "RECORD#customers#c1"),),
    ]
    (query,) = iam_requests("dynamodb", "Query", {"TableName": names["customers"], "IndexName": "by_email"})
    assert query.resource == f"{CUSTOMERS}/index/by_email"
    (stray,) = iam_requests("dynamodb", "GetItem", {"TableName": "some-other-table"})
    assert stray.resource == "unknown-resource:some-other-table"
    (unknown,) = iam_requests("dynamodb", "ExecuteStatement", {"Statement": "SELECT"})
    assert unknown.action == "unknown-operation:dynamodb:ExecuteStatement"


def test_s3_objects_versions_and_listing_prefixes(stack: Stack) -> None:
    bucket = stack.info["upload_bucket"]
    (get,) = iam_requests("s3", "GetObject", {"Bucket": bucket, "Key": "incoming/acme/a.csv", "VersionId": "v1"})
    assert get == IamRequest("s3:GetObjectVersion", f"{BUCKET}/incoming/acme/a.csv")
    deletes = iam_requests(
        "s3", "DeleteObjects", {"Bucket": bucket, "Delete": {"Objects": [{"Key": "work/r/1", "VersionId": "x"}]}}
    )
    assert [(r.action, r.resource) for r in deletes] == [("s3:DeleteObjectVersion", f"{BUCKET}/work/r/1")]
    (listing,) = iam_requests("s3", "ListObjectVersions", {"Bucket": bucket, "Prefix": "work/r/"})
    assert listing == IamRequest("s3:ListBucketVersions", BUCKET, (("s3:prefix", "work/r/"),))


def test_queues_secrets_and_cognito(stack: Stack) -> None:
    (send,) = iam_requests("sqs", "SendMessageBatch", {"QueueUrl": stack.info["import_queue_url"]})
    assert send.action == "sqs:SendMessage" and send.resource == fake_arn("ImportQueue", {"Type": "AWS::SQS::Queue"})
    (secret,) = iam_requests("secretsmanager", "GetSecretValue", {"SecretId": stack.env["PSEUDONYM_KEY_SECRET"]})
    assert secret.resource == fake_arn("PseudonymKeySecret", {"Type": "AWS::SecretsManager::Secret"})
    (admin,) = iam_requests("cognito-idp", "AdminGetUser", {"UserPoolId": stack.info["user_pool_id"]})
    assert admin.action == "cognito-idp:AdminGetUser"
    assert iam_requests("cognito-idp", "SignUp", {"ClientId": "x"}) == []  # public: no IAM
