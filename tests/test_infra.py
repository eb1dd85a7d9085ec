"""The deployable template: least-privilege roles, partner roles, logs, alarms, region guard.

`chalice package` output (dist/sam.json, rebuilt here when missing or older than its
sources) is checked with intrinsic functions resolved to concrete ARNs, so a policy that
reaches the wrong table fails here rather than in production.
"""

from __future__ import annotations

import json
import re
from typing import Any

import boto3
import pytest
from moto import mock_aws

from chalicelib import retention
from chalicelib.config import EU_EEA_REGIONS
from chalicelib.imports.runs import RUN_RECORD_DAYS
from devstack import provision
from tests.iam_policy import allowed, as_list, conditions_hold, glob_match
from tests.template import (
    ACCOUNT,
    CHALICE_DIR,
    FUNCTION_HANDLERS,
    MERGE_TEMPLATE,
    REGION,
    ROOT,
    STAGE,
    Resolver,
    fake_arn,
    function_roles,
    packaged,
    policy_file,
    statements,
    table_arn,
)

PARTNER_TEMPLATE = MERGE_TEMPLATE.parent / "partner-role.json"
FUNCTIONS = tuple(FUNCTION_HANDLERS.values())
# Settings chalicelib/config.py reads that the template need not set: local-stack only, or tunables with defaults.
# AWS_ENDPOINT_URL(_S3): boto's own emulator address (the local stack), never set in AWS.
OPTIONAL_SETTINGS = {
    "COGNITO_JWKS_URL",
    "CUSTOMER_COGNITO_JWKS_URL",
    "COGNITO_ENDPOINT",
    "FREE_MAIL_DOMAINS",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3",
}
DATA_TABLES = (
    "CustomersTable",
    "ProspectsTable",
    "SuppressionTable",
    "AuditTable",
    "ImportRunsTable",
    "PartnersTable",
    "CampaignsTable",
    "RequestCasesTable",
)


@pytest.fixture(scope="module")
def sam() -> dict[str, Any]:
    return packaged()


# --- per-function roles ------------------------------------------------------------------


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_every_function_has_its_own_policy_file_in_every_stage(stage: str) -> None:
    config = json.loads((CHALICE_DIR / "config.json").read_text())
    assert config["autogen_policy"] is False
    functions = config["stages"][stage]["lambda_functions"]
    files = [functions[f]["iam_policy_file"] for f in FUNCTIONS]
    assert len(set(files)) == len(FUNCTIONS)
    for name in files:
        assert (CHALICE_DIR / name).is_file()


def test_each_packaged_function_runs_under_its_own_role(sam: dict[str, Any]) -> None:
    functions = {k: v for k, v in sam["Resources"].items() if v.get("Type") == "AWS::Serverless::Function"}
    assert set(functions) == {
        "APIHandler",
        "JwtAuthorizer",
        "PartnerImport",
        "RetentionSweeper",
        "Art14Notices",
        "RegisterBackfill",
        "PseudonymRekey",
        "CampaignMaterialiser",
        "MailSender",
        "MailEvents",
    }
    roles = [f["Properties"]["Role"]["Fn::GetAtt"][0] for f in functions.values()]
    assert len(set(roles)) == len(roles)


def test_no_wildcard_action_or_resource_on_dynamodb(sam: dict[str, Any]) -> None:
    for function, policy in function_roles(sam).items():
        for st in statements(policy):
            actions = as_list(st["Action"])
            resources = as_list(st["Resource"])
            assert "*" not in actions and "*" not in resources, (function, st.get("Sid"))
            if any(a.startswith("dynamodb:") for a in actions):
                assert not any("*" in a for a in actions), (function, st.get("Sid"))
                assert not any("*" in r for r in resources), (function, st.get("Sid"))
                assert all(r.startswith(f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/") for r in resources)


def test_partner_import_has_nothing_on_the_customers_table(sam: dict[str, Any]) -> None:
    raw = policy_file("partner_import")
    assert "CustomersTable" not in json.dumps(raw)
    customers = table_arn("CustomersTable")
    resolved = Resolver(sam, {"Stage": STAGE})(raw)
    for action in ("dynamodb:GetItem", "dynamodb:Query", "dynamodb:PutItem", "dynamodb:DeleteItem", "dynamodb:Scan"):
        assert not allowed(resolved, action, customers)
        assert not allowed(resolved, action, f"{customers}/index/by_email")
    # ... while it does what an import needs.
    assert allowed(resolved, "dynamodb:PutItem", table_arn("ProspectsTable"))
    assert allowed(resolved, "dynamodb:BatchGetItem", table_arn("SuppressionTable"))
    assert not allowed(resolved, "dynamodb:PutItem", table_arn("SuppressionTable"))
    assert allowed(resolved, "dynamodb:PutItem", table_arn("AuditTable"))
    assert not allowed(resolved, "dynamodb:DeleteItem", table_arn("AuditTable"))
    # Row events go out in batches, only into prospects' audit records (a batch may also delete).
    audit = table_arn("AuditTable")
    assert allowed(resolved, "dynamodb:BatchWriteItem", audit, {"dynamodb:LeadingKeys": "RECORD#prospects#p1"})
    for record in ("RECORD#customers#c1", "RECORD#system#sweeps", "RECORD#partners#acme"):
        assert not allowed(resolved, "dynamodb:BatchWriteItem", audit, {"dynamodb:LeadingKeys": record})
    assert not allowed(resolved, "dynamodb:BatchWriteItem", audit)  # no key given: not "for all of none"
    bucket = fake_arn("UploadBucket", {"Type": "AWS::S3::Bucket"})
    assert allowed(resolved, "s3:GetObject", f"{bucket}/incoming/acme/list.csv")
    assert allowed(resolved, "s3:PutObject", f"{bucket}/reports/acme/run.json")
    assert allowed(resolved, "s3:PutObject", f"{bucket}/work/run-1/chunk-0")
    assert allowed(resolved, "s3:ListBucketVersions", bucket, {"s3:prefix": "work/run-1/"})
    assert allowed(resolved, "s3:ListBucketVersions", bucket, {"s3:prefix": "incoming/acme/list.csv"})
    assert allowed(resolved, "s3:DeleteObjectVersion", f"{bucket}/incoming/acme/list.csv")
    assert not allowed(resolved, "s3:ListBucket", bucket, {"s3:prefix": "reports/"})
    assert not allowed(resolved, "s3:PutObject", f"{bucket}/incoming/acme/forged.csv")
    assert function_roles(sam)["PartnerImport"] == resolved


def test_authorizer_may_only_write_its_own_logs(sam: dict[str, Any]) -> None:
    policy = function_roles(sam)["JwtAuthorizer"]
    actions = {a for st in statements(policy) for a in as_list(st["Action"])}
    assert actions == {"logs:CreateLogStream", "logs:PutLogEvents"}
    group = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/ilopiste-{STAGE}-jwt_authorizer:log-stream:x"
    assert allowed(policy, "logs:PutLogEvents", group)
    assert not allowed(policy, "logs:PutLogEvents", group.replace("jwt_authorizer", "api_handler"))


def test_api_handler_signs_upload_forms_and_reads_only_run_reports(sam: dict[str, Any]) -> None:
    # Two S3 actions: the PutObject a partner's presigned POST is made with (chalicelib/uploads.py),
    # under incoming/ only (the form's conditions narrow it to one key of the partner's own), and
    # reading run reports (reports/ only) for a portal partner's rejected rows, which have no
    # other home (GET /partner/import-runs/{run_id}/rejected-rows; the route checks the run is
    # the caller's). Never the uploads themselves, the import's work files, a delete or a listing.
    policy = function_roles(sam)["APIHandler"]
    s3 = [
        (a, r)
        for st in statements(policy)
        for a in as_list(st["Action"])
        if a.startswith("s3:")
        for r in as_list(st["Resource"])
    ]
    bucket = fake_arn("UploadBucket", {"Type": "AWS::S3::Bucket"})
    assert s3 == [("s3:PutObject", f"{bucket}/incoming/*"), ("s3:GetObject", f"{bucket}/reports/*")]
    assert allowed(policy, "s3:PutObject", f"{bucket}/incoming/acme/0f1e/list.csv")
    assert allowed(policy, "s3:GetObject", f"{bucket}/reports/acme/20250101T000000Z-run.json")
    for elsewhere in ("reports/acme/run.json", "work/run-1/chunk-0", "list.csv"):
        assert not allowed(policy, "s3:PutObject", f"{bucket}/{elsewhere}"), elsewhere
    for action in ("s3:GetObject", "s3:GetObjectVersion", "s3:DeleteObject", "s3:ListBucket"):
        assert not allowed(policy, action, f"{bucket}/incoming/acme/0f1e/list.csv"), action
        assert not allowed(policy, action, f"{bucket}/work/run-1/chunk-0"), action
    for action in ("s3:DeleteObject", "s3:ListBucket", "s3:GetObjectVersion"):
        assert not allowed(policy, action, f"{bucket}/reports/acme/run.json"), action
    # Its queue calls: starting a campaign's materialisation and a mail job (messages naming a job).
    sqs = {
        (a, r)
        for st in statements(policy)
        for a in as_list(st["Action"])
        if a.startswith("sqs:")
        for r in as_list(st["Resource"])
    }
    assert sqs == {
        ("sqs:SendMessage", fake_arn("CampaignQueue", {"Type": "AWS::SQS::Queue"})),
        ("sqs:SendMessage", fake_arn("MailQueue", {"Type": "AWS::SQS::Queue"})),
    }
    # Customer logins only: the API administers the customer pool and never the staff pool.
    pool = fake_arn("CustomerUserPool", {"Type": "AWS::Cognito::UserPool"})
    staff_pool = fake_arn("UserPool", {"Type": "AWS::Cognito::UserPool"})
    for action in (
        "AdminCreateUser",
        "AdminSetUserPassword",
        "AdminAddUserToGroup",
        "AdminUpdateUserAttributes",
        "AdminDisableUser",
        "AdminEnableUser",
        "AdminDeleteUser",
    ):
        assert allowed(policy, f"cognito-idp:{action}", pool)
        assert not allowed(policy, f"cognito-idp:{action}", staff_pool)
    # Mail goes out only as the controller, from its verified domain.
    identity = "arn:aws:ses:eu-north-1:123456789012:identity/kuntotimpurit.fi"
    assert allowed(policy, "ses:SendEmail", identity, {"ses:FromAddress": "ilopiste@kuntotimpurit.fi"})
    assert not allowed(policy, "ses:SendEmail", identity, {"ses:FromAddress": "ceo@kuntotimpurit.fi"})
    assert not allowed(policy, "ses:SendEmail", identity.replace("kuntotimpurit.fi", "example.com"))
    # The audit trail is append-only for the API.
    assert not allowed(policy, "dynamodb:DeleteItem", table_arn("AuditTable"))
    assert not allowed(policy, "dynamodb:UpdateItem", table_arn("AuditTable"))


def test_sweeper_erases_through_the_retention_index(sam: dict[str, Any]) -> None:
    policy = function_roles(sam)["RetentionSweeper"]
    for table in ("CustomersTable", "ProspectsTable"):
        assert allowed(policy, "dynamodb:Query", f"{table_arn(table)}/index/retention_due")
        assert allowed(policy, "dynamodb:DeleteItem", table_arn(table))
        assert not allowed(policy, "dynamodb:Query", f"{table_arn(table)}/index/by_email")
    assert not allowed(policy, "dynamodb:GetItem", table_arn("SuppressionTable"))
    # An erasure's transaction puts a login-deletion marker, and may put nothing else.
    customers = table_arn("CustomersTable")
    marker = {"dynamodb:LeadingKeys": retention.LOGIN_DELETIONS}
    assert allowed(policy, "dynamodb:PutItem", customers, marker)
    assert not allowed(policy, "dynamodb:PutItem", customers, {"dynamodb:LeadingKeys": "CUSTOMER#c1"})
    assert not allowed(policy, "dynamodb:PutItem", table_arn("ProspectsTable"), marker)
    customer_pool = fake_arn("CustomerUserPool", {"Type": "AWS::Cognito::UserPool"})
    assert allowed(policy, "cognito-idp:AdminDeleteUser", customer_pool)
    assert not allowed(policy, "cognito-idp:AdminCreateUser", customer_pool)
    assert not allowed(policy, "cognito-idp:AdminDeleteUser", fake_arn("UserPool", {"Type": "AWS::Cognito::UserPool"}))


# --- the rest of the packaged stack --------------------------------------------------------


def test_functions_get_every_setting_from_the_resources(sam: dict[str, Any]) -> None:
    source = (ROOT / "chalicelib" / "config.py").read_text()
    read = set(re.findall(r'env\.get\("([A-Z_]+)"', source))
    variables = {**sam["Globals"]["Function"]["Environment"]["Variables"]}
    # A new setting must be either provided by the template or listed here as a tunable with a default.
    assert read - set(variables) <= OPTIONAL_SETTINGS
    assert {
        "CUSTOMERS_TABLE",
        "PROSPECTS_TABLE",
        "SUPPRESSION_TABLE",
        "AUDIT_TABLE",
        "IMPORT_RUNS_TABLE",
        "PARTNERS_TABLE",
        "UPLOAD_BUCKET",
        "IMPORT_QUEUE_URL",
        "USER_POOL_ID",
        "USER_POOL_CLIENT_ID",
        "CUSTOMER_USER_POOL_ID",
        "CUSTOMER_USER_POOL_CLIENT_ID",
        "MAIL_FROM",
        "PSEUDONYM_KEY_SECRET",
        "UNSUBSCRIBE_SECRET",
        "STAGE",
    } <= set(variables)
    for name in DATA_TABLES:
        assert {"Ref": name} in variables.values()
    for logical, res in sam["Resources"].items():
        if res.get("Type") == "AWS::Serverless::Function":
            assert res["Properties"]["Environment"]["Variables"]["STAGE"] == {"Ref": "Stage"}, logical
            assert "AWS_DEFAULT_REGION" not in res["Properties"]["Environment"]["Variables"]  # reserved by Lambda


def test_every_log_group_has_a_retention_and_matches_its_function(sam: dict[str, Any]) -> None:
    resolve = Resolver(sam, {"Stage": STAGE})
    groups = {
        resolve(r["Properties"]["LogGroupName"]): r["Properties"]
        for r in sam["Resources"].values()
        if r.get("Type") == "AWS::Logs::LogGroup"
    }
    assert groups
    assert all(isinstance(p.get("RetentionInDays"), int) for p in groups.values())
    for logical, res in sam["Resources"].items():
        if res.get("Type") == "AWS::Serverless::Function":
            assert f"/aws/lambda/{resolve(res['Properties']['FunctionName'])}" in groups, logical


def test_failed_imports_go_to_the_dead_letter_queue_and_alarm(sam: dict[str, Any]) -> None:
    res = sam["Resources"]
    redrive = res["ImportQueue"]["Properties"]["RedrivePolicy"]
    assert redrive["deadLetterTargetArn"] == {"Fn::GetAtt": ["ImportDeadLetterQueue", "Arn"]}
    assert 1 <= redrive["maxReceiveCount"] <= 10
    dims = res["ImportDeadLetterAlarm"]["Properties"]["Dimensions"]
    assert dims == [{"Name": "QueueName", "Value": {"Fn::GetAtt": ["ImportDeadLetterQueue", "QueueName"]}}]
    for logical, fn in res.items():
        if fn.get("Type") == "AWS::Serverless::Function":
            assert res[f"{logical}ErrorsAlarm"]["Properties"]["AlarmActions"] == [{"Ref": "AlarmTopic"}]
    (event,) = res["PartnerImport"]["Properties"]["Events"].values()
    assert event["Type"] == "SQS"
    assert Resolver(sam, {"Stage": STAGE})(event["Properties"]["Queue"]) == fake_arn("ImportQueue", res["ImportQueue"])
    # The handler answers with batchItemFailures: only failed messages are retried.
    assert event["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    # SQS needs the visibility timeout to outlast the function (AWS: at least six times).
    assert res["ImportQueue"]["Properties"]["VisibilityTimeout"] >= 6 * res["PartnerImport"]["Properties"]["Timeout"]


def test_campaign_materialisation_has_its_queue_dead_letters_alarm_and_narrow_role(sam: dict[str, Any]) -> None:
    res = sam["Resources"]
    redrive = res["CampaignQueue"]["Properties"]["RedrivePolicy"]
    assert redrive["deadLetterTargetArn"] == {"Fn::GetAtt": ["CampaignDeadLetterQueue", "Arn"]}
    assert 1 <= redrive["maxReceiveCount"] <= 10
    dims = res["CampaignDeadLetterAlarm"]["Properties"]["Dimensions"]
    assert dims == [{"Name": "QueueName", "Value": {"Fn::GetAtt": ["CampaignDeadLetterQueue", "QueueName"]}}]
    (event,) = res["CampaignMaterialiser"]["Properties"]["Events"].values()
    queue = fake_arn("CampaignQueue", res["CampaignQueue"])
    assert Resolver(sam, {"Stage": STAGE})(event["Properties"]["Queue"]) == queue
    assert event["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert (
        res["CampaignQueue"]["Properties"]["VisibilityTimeout"]
        >= 6 * res["CampaignMaterialiser"]["Properties"]["Timeout"]
    )
    # The messages name a campaign only; no personal data rides on the queue.
    assert res["CampaignQueue"]["Properties"]["SqsManagedSseEnabled"] is True
    policy = function_roles(sam)["CampaignMaterialiser"]
    prospects, campaigns = table_arn("ProspectsTable"), table_arn("CampaignsTable")
    # Reads the register through its selection indexes only: no Scan, no write, no other index.
    assert allowed(policy, "dynamodb:Query", f"{prospects}/index/by_list")
    assert allowed(policy, "dynamodb:Query", f"{prospects}/index/by_source")
    assert allowed(policy, "dynamodb:BatchGetItem", prospects)
    for action in ("dynamodb:Scan", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"):
        assert not allowed(policy, action, prospects)
    assert not allowed(policy, "dynamodb:Query", f"{prospects}/index/by_email")
    assert allowed(policy, "dynamodb:BatchGetItem", table_arn("SuppressionTable"))
    assert not allowed(policy, "dynamodb:PutItem", table_arn("SuppressionTable"))
    # Writes only campaign partitions, never deletes; nothing on the customer register.
    assert allowed(policy, "dynamodb:PutItem", campaigns, {"dynamodb:LeadingKeys": "CAMPAIGN#c1"})
    assert not allowed(policy, "dynamodb:PutItem", campaigns, {"dynamodb:LeadingKeys": "OTHER#c1"})
    assert not allowed(policy, "dynamodb:DeleteItem", campaigns, {"dynamodb:LeadingKeys": "CAMPAIGN#c1"})
    assert "CustomersTable" not in json.dumps(policy_file("campaign_materialiser"))
    assert allowed(policy, "sqs:SendMessage", queue)
    assert not allowed(policy, "sqs:SendMessage", fake_arn("ImportQueue", res["ImportQueue"]))


def test_mail_sending_has_its_queue_dead_letters_alarm_and_own_role(sam: dict[str, Any]) -> None:
    res = sam["Resources"]
    redrive = res["MailQueue"]["Properties"]["RedrivePolicy"]
    assert redrive["deadLetterTargetArn"] == {"Fn::GetAtt": ["MailDeadLetterQueue", "Arn"]}
    assert 1 <= redrive["maxReceiveCount"] <= 10
    dims = res["MailDeadLetterAlarm"]["Properties"]["Dimensions"]
    assert dims == [{"Name": "QueueName", "Value": {"Fn::GetAtt": ["MailDeadLetterQueue", "QueueName"]}}]
    assert res["MailSenderErrorsAlarm"]["Properties"]["Dimensions"][0]["Value"] == {"Ref": "MailSender"}
    (event,) = res["MailSender"]["Properties"]["Events"].values()
    queue = fake_arn("MailQueue", res["MailQueue"])
    assert Resolver(sam, {"Stage": STAGE})(event["Properties"]["Queue"]) == queue
    assert event["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert res["MailQueue"]["Properties"]["VisibilityTimeout"] >= 6 * res["MailSender"]["Properties"]["Timeout"]
    # The messages name a job only (a campaign, a service message); no personal data rides on the queue.
    assert res["MailQueue"]["Properties"]["SqsManagedSseEnabled"] is True
    policy = function_roles(sam)["MailSender"]
    assert allowed(policy, "sqs:ReceiveMessage", queue)
    assert allowed(policy, "sqs:SendMessage", queue)  # its own follow-ups
    for other in ("ImportQueue", "CampaignQueue"):
        assert not allowed(policy, "sqs:SendMessage", fake_arn(other, res[other]))
    assert not allowed(policy, "dynamodb:Scan", table_arn("ProspectsTable"))


def test_stack_refuses_regions_outside_the_eu_eea(sam: dict[str, Any]) -> None:
    for template in (sam, json.loads(PARTNER_TEMPLATE.read_text())):
        (assertion,) = template["Rules"]["EuEeaRegionOnly"]["Assertions"]
        regions, region = assertion["Assert"]["Fn::Contains"]
        assert tuple(regions) == EU_EEA_REGIONS
        assert region == {"Ref": "AWS::Region"}


def test_gateway_answers_in_the_apps_error_shape(sam: dict[str, Any]) -> None:
    responses = sam["Resources"]["RestAPI"]["Properties"]["GatewayResponses"]
    fixed_status = {"UNAUTHORIZED": "401", "ACCESS_DENIED": "403", "MISSING_AUTHENTICATION_TOKEN": "404"}
    assert {"DEFAULT_4XX", "DEFAULT_5XX", *fixed_status} <= set(responses)
    # Only these three are remapped; the others keep API Gateway's own status (429, 413, 502 ...).
    assert {k: v["StatusCode"] for k, v in responses.items() if "StatusCode" in v} == fixed_status
    for response in responses.values():
        template = response["ResponseTemplates"]["application/json"]
        # $context.error.messageString is API Gateway's message, already a quoted JSON string.
        body = json.loads(template.replace("$context.error.messageString", '"Missing body"'))
        assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
        assert re.fullmatch(r"[a-z_]+", body["error"]["code"])
        assert response["ResponseParameters"]["Headers"]["Content-Type"] == "'application/json'"
    assert (
        json.loads(responses["DEFAULT_5XX"]["ResponseTemplates"]["application/json"])["error"]["code"]
        == "internal_error"
    )


def test_upload_bucket_logs_access_to_a_separate_bucket(sam: dict[str, Any]) -> None:
    logging = sam["Resources"]["UploadBucket"]["Properties"]["LoggingConfiguration"]
    assert logging["DestinationBucketName"] == {"Ref": "AccessLogBucket"}
    (grant,) = [
        s
        for s in statements(sam["Resources"]["AccessLogBucketPolicy"]["Properties"]["PolicyDocument"])
        if s["Effect"] == "Allow"
    ]
    assert grant["Principal"] == {"Service": "logging.s3.amazonaws.com"}


def test_access_logs_are_kept_no_longer_than_the_runs_they_describe(sam: dict[str, Any]) -> None:
    """The upload bucket's access logs name partners' files (object keys): they expire with the
    import-run records and reports that name the same files, not later."""
    (rule,) = sam["Resources"]["AccessLogBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
    assert rule["Status"] == "Enabled" and "Prefix" not in rule
    assert rule["ExpirationInDays"] <= RUN_RECORD_DAYS
    assert rule["NoncurrentVersionExpiration"]["NoncurrentDays"] <= 1
    reports = {r["Id"]: r for r in sam["Resources"]["UploadBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]}
    assert rule["ExpirationInDays"] <= reports["reports"]["ExpirationInDays"]


# --- partner roles -------------------------------------------------------------------------


# The UploadKeyArn parameter a partner stack gets (the main stack's UploadsKeyArn output).
PARTNER_KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0"


@pytest.fixture(scope="module")
def partner_policy() -> dict[str, Any]:
    template = json.loads(PARTNER_TEMPLATE.read_text())
    params = {
        "PartnerId": "acme",
        "UploadBucketName": "ilopiste-prod-uploads-123456789012",
        "UploadKeyArn": PARTNER_KEY,
        "TrustedPrincipalArn": "arn:aws:iam::210987654321:root",
        "ExternalId": "x" * 16,
    }
    for name, value in params.items():
        assert re.fullmatch(template["Parameters"][name]["AllowedPattern"], value)
    (policy,) = template["Resources"]["PartnerRole"]["Properties"]["Policies"]
    return dict(Resolver(template, params)(policy["PolicyDocument"]))


def test_partner_role_uploads_only_under_its_own_prefix(partner_policy: dict[str, Any]) -> None:
    bucket = "arn:aws:s3:::ilopiste-prod-uploads-123456789012"
    assert allowed(partner_policy, "s3:PutObject", f"{bucket}/incoming/acme/list.csv")
    assert not allowed(partner_policy, "s3:PutObject", f"{bucket}/incoming/other/list.csv")
    assert not allowed(partner_policy, "s3:PutObject", f"{bucket}/incoming/acme-evil/list.csv")
    assert not allowed(partner_policy, "s3:PutObject", f"{bucket}/reports/acme/forged.json")
    assert not allowed(partner_policy, "s3:GetObject", f"{bucket}/incoming/acme/list.csv")
    assert not allowed(partner_policy, "s3:DeleteObject", f"{bucket}/incoming/acme/list.csv")


def test_partner_role_reads_only_its_own_reports(partner_policy: dict[str, Any]) -> None:
    bucket = "arn:aws:s3:::ilopiste-prod-uploads-123456789012"
    assert allowed(partner_policy, "s3:GetObject", f"{bucket}/reports/acme/run-1.json")
    assert not allowed(partner_policy, "s3:GetObject", f"{bucket}/reports/other/run-1.json")
    assert allowed(partner_policy, "s3:ListBucket", bucket, {"s3:prefix": "reports/acme/"})
    assert not allowed(partner_policy, "s3:ListBucket", bucket, {"s3:prefix": "reports/"})
    assert not allowed(partner_policy, "s3:ListBucket", bucket, {"s3:prefix": "incoming/other/"})
    assert not allowed(partner_policy, "s3:ListBucket", bucket)


def test_partner_role_has_nothing_on_any_table(partner_policy: dict[str, Any]) -> None:
    for table in DATA_TABLES:
        for action in ("dynamodb:GetItem", "dynamodb:Query", "dynamodb:PutItem", "dynamodb:Scan"):
            assert not allowed(partner_policy, action, table_arn(table))
    trust = json.loads(PARTNER_TEMPLATE.read_text())["Resources"]["PartnerRole"]["Properties"][
        "AssumeRolePolicyDocument"
    ]
    assert trust["Statement"][0]["Condition"]["StringEquals"]["sts:ExternalId"] == {"Ref": "ExternalId"}


# --- the tests' stack is the template's stack ---------------------------------------------


def test_devstack_creates_every_table_the_template_declares() -> None:
    template = provision.load_template()
    declared = provision.resources_of(template, "AWS::DynamoDB::Table")
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        names = provision.create_tables(dynamodb, "infra-test", template)
        assert set(names) == {res["Metadata"]["ilopiste:table"] for res in declared.values()}
        for res in declared.values():
            props = res["Properties"]
            table = dynamodb.describe_table(TableName=provision.table_name("infra-test", res))["Table"]
            assert table["KeySchema"] == props["KeySchema"]
            indexes = {i["IndexName"]: i["KeySchema"] for i in table.get("GlobalSecondaryIndexes", [])}
            assert indexes == {i["IndexName"]: i["KeySchema"] for i in props.get("GlobalSecondaryIndexes", [])}
            if "TimeToLiveSpecification" in props:
                ttl = dynamodb.describe_time_to_live(TableName=table["TableName"])["TimeToLiveDescription"]
                assert ttl["AttributeName"] == props["TimeToLiveSpecification"]["AttributeName"]


# --- customer-managed keys -------------------------------------------------------------------

ACCOUNT_ROOT = f"arn:aws:iam::{ACCOUNT}:root"
SERVICE_OF = {
    "AWS::DynamoDB::Table": "dynamodb",
    "AWS::S3::Bucket": "s3",
    "AWS::SQS::Queue": "sqs",
    "AWS::SecretsManager::Secret": "secretsmanager",
}
# What each function needs a key for: reading (Decrypt) always, writing (GenerateDataKey) where it writes.
KEY_USE = ("kms:Decrypt", "kms:GenerateDataKey")


def key_of(resource: dict[str, Any]) -> Any:
    """The template reference to the KMS key a data resource names, or None."""
    props = resource["Properties"]
    kind = resource["Type"]
    if kind == "AWS::DynamoDB::Table":
        sse = props.get("SSESpecification", {})
        return sse.get("KMSMasterKeyId") if sse.get("SSEType") == "KMS" else None
    if kind == "AWS::S3::Bucket":
        (rule,) = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        default = rule["ServerSideEncryptionByDefault"]
        return default.get("KMSMasterKeyID") if default["SSEAlgorithm"] == "aws:kms" else None
    if kind == "AWS::SQS::Queue":
        return props.get("KmsMasterKeyId")
    return props.get("KmsKeyId")  # secrets, log groups


def personal_data_resources(sam: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every resource that holds personal data: the tables, the upload bucket, the import queues,
    SES's bounce and complaint queues, the keyrings and the functions' log groups."""
    res = sam["Resources"]
    names = [
        *DATA_TABLES,
        "UploadBucket",
        "ImportQueue",
        "ImportDeadLetterQueue",
        "MailEventsQueue",
        "MailEventsDeadLetterQueue",
        "PseudonymKeySecret",
        "UnsubscribeTokenSecret",
        *(k for k, v in res.items() if v.get("Type") == "AWS::Logs::LogGroup"),
    ]
    return {name: res[name] for name in names}


def role_arns(sam: dict[str, Any]) -> dict[str, str]:
    """{function logical id: the ARN its role gets (path from the template, generated name)}."""
    resolve = Resolver(sam, {"Stage": STAGE})
    arns = {}
    for logical, res in sam["Resources"].items():
        if res.get("Type") == "AWS::Serverless::Function":
            role_id = res["Properties"]["Role"]["Fn::GetAtt"][0]
            path = resolve(sam["Resources"][role_id]["Properties"]["Path"])
            arns[logical] = f"arn:aws:iam::{ACCOUNT}:role{path}ilopiste-{STAGE}-{role_id}-AbC123"
    return arns


def key_allows(
    key_policy: dict[str, Any],
    key_arn: str,
    principal: dict[str, str],
    action: str,
    context: dict[str, str],
    identity_policy: dict[str, Any] | None = None,
) -> bool:
    """KMS's answer for one request: the key policy decides; a statement naming the account root
    delegates to IAM, so it counts only if the caller's own policy allows the call too."""

    def names(st: dict[str, Any]) -> str | None:
        """'direct' if the statement names this principal, 'account' if it delegates to IAM."""
        named = st["Principal"]
        if "Service" in principal:
            return "direct" if named.get("Service") == principal["Service"] else None
        if named.get("AWS") == principal["AWS"]:
            return "direct"
        if named.get("AWS") == ACCOUNT_ROOT and f":{ACCOUNT}:" in principal["AWS"]:
            return "account"
        return None

    allow = False
    for st in statements(key_policy):
        how = names(st)
        if how is None or not any(glob_match(a, action, ignore_case=True) for a in as_list(st["Action"])):
            continue
        if not conditions_hold(st, context):
            continue
        if st["Effect"] == "Deny":
            return False
        if how == "direct" or (identity_policy is not None and allowed(identity_policy, action, key_arn, context)):
            allow = True
    return allow


@pytest.fixture(scope="module")
def keys(sam: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """{key logical id: its resolved key policy}."""
    resolve = Resolver(sam, {"Stage": STAGE})
    return {
        logical: resolve(res["Properties"]["KeyPolicy"])
        for logical, res in sam["Resources"].items()
        if res.get("Type") == "AWS::KMS::Key"
    }


def key_arn(logical: str) -> str:
    return fake_arn(logical, {"Type": "AWS::KMS::Key"})


UPLOADS = f"arn:aws:s3:::ilopiste-{STAGE}-uploads-{ACCOUNT}"  # the bucket as the key policy names it


def via(service: str, caller: str) -> dict[str, str]:
    return {
        "kms:ViaService": f"{service}.{REGION}.amazonaws.com",
        "kms:CallerAccount": ACCOUNT,
        "aws:PrincipalArn": caller,
    }


def test_every_personal_data_resource_names_a_customer_managed_key(sam: dict[str, Any]) -> None:
    res = sam["Resources"]
    for name, resource in personal_data_resources(sam).items():
        ref = key_of(resource)
        assert ref is not None, f"{name} is not encrypted with a customer-managed key"
        assert set(ref) == {"Fn::GetAtt"} and ref["Fn::GetAtt"][1] == "Arn", name
        key = res[ref["Fn::GetAtt"][0]]
        assert key["Type"] == "AWS::KMS::Key", name
        assert key["Properties"]["EnableKeyRotation"] is True
        # The key outlives the stack as long as the retained data it protects.
        assert key["DeletionPolicy"] == "Retain"
    aliased = {a["Properties"]["TargetKeyId"]["Ref"] for a in res.values() if a.get("Type") == "AWS::KMS::Alias"}
    assert aliased == {k for k, v in res.items() if v.get("Type") == "AWS::KMS::Key"}
    # Every function's log group, not only the ones listed today.
    groups = [v for v in res.values() if v.get("Type") == "AWS::Logs::LogGroup"]
    assert len(groups) == len([v for v in res.values() if v.get("Type") == "AWS::Serverless::Function"])


def test_key_users_are_exactly_the_functions_that_reach_the_data(
    sam: dict[str, Any], keys: dict[str, dict[str, Any]]
) -> None:
    """For every key and every function: the function may use the key through the data's service
    if and only if its role reaches a resource that key encrypts (a key shared by several stores
    names the union of their users)."""
    resolve = Resolver(sam, {"Stage": STAGE})
    roles = function_roles(sam)
    callers = role_arns(sam)
    data = {name: r for name, r in personal_data_resources(sam).items() if r["Type"] != "AWS::Logs::LogGroup"}
    for key_logical, key_policy in keys.items():
        encrypted = {name: r for name, r in data.items() if key_of(r)["Fn::GetAtt"][0] == key_logical}
        services = {SERVICE_OF[r["Type"]] for r in encrypted.values()}
        for function, policy in roles.items():
            for service in services:
                arns = [
                    resolve({"Fn::GetAtt": [n, "Arn"]})
                    for n, r in encrypted.items()
                    if SERVICE_OF[r["Type"]] == service
                ]
                reaches = any(
                    st["Effect"] == "Allow"
                    and any(a.startswith(f"{service}:") for a in as_list(st["Action"]))
                    and any(r == arn or r.startswith(f"{arn}/") for r in as_list(st["Resource"]) for arn in arns)
                    for st in statements(policy)
                )
                context = via(service, callers[function])
                caller = {"AWS": callers[function]}
                # A role that only puts objects (the API signing a partner's upload form)
                # needs the key to encrypt, never to decrypt.
                reads = reaches and any(
                    st["Effect"] == "Allow"
                    and any(a.startswith(f"{service}:") and a != "s3:PutObject" for a in as_list(st["Action"]))
                    and any(r == arn or r.startswith(f"{arn}/") for r in as_list(st["Resource"]) for arn in arns)
                    for st in statements(policy)
                )
                # A read in the bucket: a run's report, the one object every reader reads.
                read = context | (
                    {"kms:EncryptionContext:aws:s3:arn": f"{UPLOADS}/reports/acme/run.json"} if service == "s3" else {}
                )
                may = key_allows(key_policy, key_arn(key_logical), caller, "kms:Decrypt", read, policy)
                assert may == reads, f"{function} on {key_logical} via {service}: key use {may}, data access {reads}"
                if service == "s3":
                    upload = context | {"kms:EncryptionContext:aws:s3:arn": f"{UPLOADS}/incoming/acme/list.csv"}
                    encrypts = key_allows(
                        key_policy, key_arn(key_logical), caller, "kms:GenerateDataKey", upload, policy
                    )
                    assert encrypts == reaches, (function, key_logical, "kms:GenerateDataKey")
                    if function == "APIHandler":
                        # The API reads reports only: never a partner's upload, never a work file.
                        for key in ("incoming/acme/0f1e/list.csv", "work/run-1/chunk-0"):
                            other = context | {"kms:EncryptionContext:aws:s3:arn": f"{UPLOADS}/{key}"}
                            assert not key_allows(
                                key_policy, key_arn(key_logical), caller, "kms:Decrypt", other, policy
                            ), key


def test_keys_are_used_only_through_their_service_and_only_by_this_stages_roles(
    sam: dict[str, Any], keys: dict[str, dict[str, Any]]
) -> None:
    roles = function_roles(sam)
    api = role_arns(sam)["APIHandler"]
    identity = roles["APIHandler"]
    customers = keys["CustomersKey"]
    arn = key_arn("CustomersKey")
    assert key_allows(customers, arn, {"AWS": api}, "kms:Decrypt", via("dynamodb", api), identity)
    # Not directly (kms:Decrypt on a stolen ciphertext), not through another service.
    direct = {"kms:CallerAccount": ACCOUNT, "aws:PrincipalArn": api}
    assert not key_allows(customers, arn, {"AWS": api}, "kms:Decrypt", direct, identity)
    assert not key_allows(customers, arn, {"AWS": api}, "kms:Decrypt", via("s3", api), identity)
    # A role of the dev stage, or one that merely shares the function's name, is not named.
    for other in (api.replace(f"/{STAGE}/", "/dev/"), f"arn:aws:iam::{ACCOUNT}:role/ilopiste-{STAGE}-api_handler"):
        everything = {"Statement": [{"Effect": "Allow", "Action": "kms:*", "Resource": "*"}]}
        assert not key_allows(customers, arn, {"AWS": other}, "kms:Decrypt", via("dynamodb", other), everything)
    # The authorizer touches no personal data store and may use no key at all.
    authorizer = role_arns(sam)["JwtAuthorizer"]
    assert not any(a.startswith("kms:") for st in statements(roles["JwtAuthorizer"]) for a in as_list(st["Action"]))
    for key_policy in keys.values():
        for service in SERVICE_OF.values():
            for action in KEY_USE:
                context = via(service, authorizer)
                assert not key_allows(key_policy, "*", {"AWS": authorizer}, action, context, roles["JwtAuthorizer"])


def test_the_account_administers_keys_but_cannot_read_with_them(keys: dict[str, dict[str, Any]]) -> None:
    """An administrator whose IAM policy allows kms:* on every key can manage the keys, create
    DynamoDB's table grants and write new secret values, but decrypts nothing."""
    admin = f"arn:aws:iam::{ACCOUNT}:role/administrator"
    everything = {"Statement": [{"Effect": "Allow", "Action": "kms:*", "Resource": "*"}]}
    for logical, key_policy in keys.items():
        base = {"kms:CallerAccount": ACCOUNT, "aws:PrincipalArn": admin}
        for action in ("kms:PutKeyPolicy", "kms:EnableKeyRotation", "kms:ScheduleKeyDeletion", "kms:DescribeKey"):
            assert key_allows(key_policy, key_arn(logical), {"AWS": admin}, action, base, everything), (logical, action)
        for service in (None, *SERVICE_OF.values()):
            context = base if service is None else via(service, admin)
            for action in ("kms:Decrypt", "kms:ReEncryptFrom", "kms:Encrypt"):
                assert not key_allows(key_policy, key_arn(logical), {"AWS": admin}, action, context, everything), (
                    logical,
                    service,
                )
            # Grants would hand use to anyone; only DynamoDB's own grants for a table are allowed.
            assert not key_allows(key_policy, key_arn(logical), {"AWS": admin}, "kms:CreateGrant", context, everything)
        grant = via("dynamodb", admin) | {"kms:GrantIsForAWSResource": "true"}
        creates_grant = key_allows(key_policy, key_arn(logical), {"AWS": admin}, "kms:CreateGrant", grant, everything)
        assert creates_grant == (logical in ("CustomersKey", "ProspectsKey", "AuditKey")), logical
        writes = key_allows(
            key_policy,
            key_arn(logical),
            {"AWS": admin},
            "kms:GenerateDataKey",
            via("secretsmanager", admin),
            everything,
        )
        assert writes == (logical == "SecretsKey"), logical


def test_logs_key_serves_only_this_stages_function_log_groups(keys: dict[str, dict[str, Any]]) -> None:
    logs = {"Service": f"logs.{REGION}.amazonaws.com"}
    group = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/ilopiste-{STAGE}-partner_import"
    context = {"kms:EncryptionContext:aws:logs:arn": group}
    for action in ("kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey"):
        assert key_allows(keys["LogsKey"], key_arn("LogsKey"), logs, action, context)
    for other in (group.replace(f"-{STAGE}-", "-dev-"), f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/x"):
        assert not key_allows(
            keys["LogsKey"], key_arn("LogsKey"), logs, "kms:Decrypt", {"kms:EncryptionContext:aws:logs:arn": other}
        )
    assert not key_allows(keys["LogsKey"], key_arn("LogsKey"), logs, "kms:Decrypt", {})
    for logical, key_policy in keys.items():
        if logical != "LogsKey":
            assert not key_allows(key_policy, key_arn(logical), logs, "kms:Decrypt", context), logical


def test_only_the_upload_bucket_may_notify_through_the_queue_key(keys: dict[str, dict[str, Any]]) -> None:
    s3 = {"Service": "s3.amazonaws.com"}
    ours = {"aws:SourceArn": f"arn:aws:s3:::ilopiste-{STAGE}-uploads-{ACCOUNT}", "aws:SourceAccount": ACCOUNT}
    for action in KEY_USE:
        assert key_allows(keys["ImportQueueKey"], key_arn("ImportQueueKey"), s3, action, ours)
    foreign = {"aws:SourceArn": "arn:aws:s3:::someone-elses-bucket", "aws:SourceAccount": "210987654321"}
    assert not key_allows(keys["ImportQueueKey"], key_arn("ImportQueueKey"), s3, "kms:GenerateDataKey", foreign)
    assert not key_allows(keys["UploadsKey"], key_arn("UploadsKey"), s3, "kms:GenerateDataKey", ours)


def test_upload_bucket_refuses_objects_under_another_key(sam: dict[str, Any]) -> None:
    resolve = Resolver(sam, {"Stage": STAGE})
    policy = resolve(sam["Resources"]["UploadBucketPolicy"]["Properties"]["PolicyDocument"])
    denies = {"Statement": [{**st, "Effect": "Allow"} for st in statements(policy) if st["Effect"] == "Deny"]}
    obj = f"{fake_arn('UploadBucket', {'Type': 'AWS::S3::Bucket'})}/incoming/acme/list.csv"
    tls = {"aws:SecureTransport": "true"}
    key = fake_arn("UploadsKey", {"Type": "AWS::KMS::Key"})
    # No header: the bucket's default (the uploads key) applies. Naming it is fine too.
    assert not allowed(denies, "s3:PutObject", obj, tls)
    named = {"s3:x-amz-server-side-encryption": "aws:kms", "s3:x-amz-server-side-encryption-aws-kms-key-id": key}
    assert not allowed(denies, "s3:PutObject", obj, tls | named)
    for header in (
        {"s3:x-amz-server-side-encryption": "AES256"},
        named | {"s3:x-amz-server-side-encryption-aws-kms-key-id": key.replace("UploadsKey", "Other")},
    ):
        assert allowed(denies, "s3:PutObject", obj, tls | header), header


def test_partner_role_uses_the_uploads_key_only_for_its_own_prefixes(
    keys: dict[str, dict[str, Any]], partner_policy: dict[str, Any]
) -> None:
    template = json.loads(PARTNER_TEMPLATE.read_text())
    path = template["Resources"]["PartnerRole"]["Properties"]["Path"]
    role = f"arn:aws:iam::{ACCOUNT}:role{path}ilopiste-{STAGE}-partner-acme-PartnerRole-AbC123"
    bucket = f"arn:aws:s3:::ilopiste-{STAGE}-uploads-{ACCOUNT}"

    def may(action: str, obj: str, caller: str = role) -> bool:
        context = via("s3", caller) | {"kms:EncryptionContext:aws:s3:arn": f"{bucket}/{obj}"}
        return key_allows(keys["UploadsKey"], PARTNER_KEY, {"AWS": caller}, action, context, partner_policy)

    assert may("kms:GenerateDataKey", "incoming/acme/list.csv")
    assert may("kms:Decrypt", "incoming/acme/big-list.csv")  # multipart uploads decrypt their data key
    assert may("kms:Decrypt", "reports/acme/run-1.json")
    assert not may("kms:GenerateDataKey", "incoming/other/list.csv")
    assert not may("kms:Decrypt", "reports/other/run-1.json")
    assert not may("kms:Decrypt", "work/run-1/chunk-0")
    # The same policy on a role outside the partner path is not named by the key.
    assert not may("kms:Decrypt", "reports/acme/run-1.json", f"arn:aws:iam::{ACCOUNT}:role/acme-copy")
    for logical, key_policy in keys.items():
        if logical != "UploadsKey":
            context = via("s3", role) | {"kms:EncryptionContext:aws:s3:arn": f"{bucket}/incoming/acme/x"}
            assert not key_allows(
                key_policy, PARTNER_KEY, {"AWS": role}, "kms:GenerateDataKey", context, partner_policy
            )


def test_devstack_encrypts_every_store_with_the_templates_keys() -> None:
    with mock_aws():
        session = boto3.session.Session()
        stack = provision.provision(session, "kms-test", REGION)
        keys = stack["kms_keys"]
        template = provision.load_template()
        assert set(keys) == set(provision.resources_of(template, "AWS::KMS::Key"))
        kms = session.client("kms", region_name=REGION)
        for arn in keys.values():
            assert kms.get_key_rotation_status(KeyId=arn)["KeyRotationEnabled"] is True
        dynamodb = session.client("dynamodb", region_name=REGION)
        tables = provision.resources_of(template, "AWS::DynamoDB::Table")
        for logical, res in tables.items():
            name = provision.table_name("kms-test", res)
            sse = dynamodb.describe_table(TableName=name)["Table"]["SSEDescription"]
            assert sse["SSEType"] == "KMS"
            assert sse["KMSMasterKeyArn"] == keys[key_of(res)["Fn::GetAtt"][0]], logical
        s3 = session.client("s3", region_name=REGION)
        s3.put_object(Bucket=stack["upload_bucket"], Key="reports/acme/run-1.json", Body=b"{}")
        head = s3.head_object(Bucket=stack["upload_bucket"], Key="reports/acme/run-1.json")
        assert head["ServerSideEncryption"] == "aws:kms" and head["SSEKMSKeyId"] == keys["UploadsKey"]
        sqs = session.client("sqs", region_name=REGION)
        for url in (stack["import_queue_url"], stack["import_dlq_url"]):
            attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["KmsMasterKeyId"])["Attributes"]
            assert attributes["KmsMasterKeyId"] == keys["ImportQueueKey"]
        secrets = session.client("secretsmanager", region_name=REGION)
        for name in (stack["pseudonym_key_secret"], stack["unsubscribe_secret"]):
            assert secrets.describe_secret(SecretId=name)["KmsKeyId"] == keys["SecretsKey"]


def test_ses_events_reach_mail_events_through_sns_and_its_queue(sam: dict[str, Any]) -> None:
    """Bounces and complaints: the identity's configuration set → SNS topic → queue (+DLQ) → mail_events."""
    res = sam["Resources"]
    assert res["SenderIdentity"]["Properties"]["ConfigurationSetAttributes"] == {
        "ConfigurationSetName": {"Ref": "MailConfigurationSet"}
    }
    destination = res["MailEventDestination"]["Properties"]
    assert destination["ConfigurationSetName"] == {"Ref": "MailConfigurationSet"}
    assert sorted(destination["EventDestination"]["MatchingEventTypes"]) == ["bounce", "complaint"]
    assert destination["EventDestination"]["SnsDestination"] == {"TopicARN": {"Ref": "MailEventsTopic"}}
    # The events name the recipient: the topic is encrypted with a key SES may use, nobody else publishes.
    assert res["MailEventsTopic"]["Properties"]["KmsMasterKeyId"] == {"Fn::GetAtt": ["MailEventsKey", "Arn"]}
    [publish] = res["MailEventsTopicPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert (
        publish["Principal"] == {"Service": "ses.amazonaws.com"} and "aws:SourceArn" in publish["Condition"]["ArnLike"]
    )
    subscription = res["MailEventsSubscription"]["Properties"]
    assert subscription["Protocol"] == "sqs" and subscription["Endpoint"] == {"Fn::GetAtt": ["MailEventsQueue", "Arn"]}
    # The queue holds the same events: under the same key, which SNS may use only for this topic.
    for queue in ("MailEventsQueue", "MailEventsDeadLetterQueue"):
        assert res[queue]["Properties"]["KmsMasterKeyId"] == {"Fn::GetAtt": ["MailEventsKey", "Arn"]}
    key = Resolver(sam, {"Stage": STAGE})(res["MailEventsKey"]["Properties"]["KeyPolicy"])
    sns = {"Service": "sns.amazonaws.com"}
    topic = Resolver(sam, {"Stage": STAGE})({"Ref": "MailEventsTopic"})
    for action in KEY_USE:
        assert key_allows(key, key_arn("MailEventsKey"), sns, action, {"aws:SourceArn": topic})
    other = f"arn:aws:sns:{REGION}:{ACCOUNT}:someone-elses-topic"
    assert not key_allows(key, key_arn("MailEventsKey"), sns, "kms:GenerateDataKey", {"aws:SourceArn": other})
    [deliver] = res["MailEventsQueuePolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert deliver["Principal"] == {"Service": "sns.amazonaws.com"}
    assert deliver["Condition"] == {"ArnEquals": {"aws:SourceArn": {"Ref": "MailEventsTopic"}}}
    redrive = res["MailEventsQueue"]["Properties"]["RedrivePolicy"]
    assert redrive["deadLetterTargetArn"] == {"Fn::GetAtt": ["MailEventsDeadLetterQueue", "Arn"]}
    dims = res["MailEventsDeadLetterAlarm"]["Properties"]["Dimensions"]
    assert dims == [{"Name": "QueueName", "Value": {"Fn::GetAtt": ["MailEventsDeadLetterQueue", "QueueName"]}}]
    assert res["MailEventsErrorsAlarm"]["Properties"]["Dimensions"][0]["Value"] == {"Ref": "MailEvents"}
    (event,) = res["MailEvents"]["Properties"]["Events"].values()
    queue = fake_arn("MailEventsQueue", res["MailEventsQueue"])
    assert Resolver(sam, {"Stage": STAGE})(event["Properties"]["Queue"]) == queue
    assert event["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert res["MailEventsQueue"]["Properties"]["VisibilityTimeout"] >= 6 * res["MailEvents"]["Properties"]["Timeout"]
    policy = function_roles(sam)["MailEvents"]
    assert allowed(policy, "sqs:ReceiveMessage", queue)
    assert not allowed(policy, "sqs:SendMessage", queue)
    assert not allowed(policy, "ses:SendEmail", "*")
    assert not allowed(policy, "dynamodb:Scan", table_arn("CustomersTable"))
    assert not allowed(policy, "dynamodb:DeleteItem", table_arn("CustomersTable"))


def test_api_role_uses_the_uploads_key_only_to_encrypt_partner_uploads(
    sam: dict[str, Any], keys: dict[str, dict[str, Any]]
) -> None:
    """The presigned POST is a PutObject by the API's role: S3 asks KMS for a data key on its
    behalf, for an object under incoming/ and nothing else; it never decrypts."""
    api = role_arns(sam)["APIHandler"]
    identity = function_roles(sam)["APIHandler"]

    def may(action: str, obj: str, caller: str = api, service: str = "s3") -> bool:
        context = via(service, caller) | {"kms:EncryptionContext:aws:s3:arn": f"{UPLOADS}/{obj}"}
        return key_allows(keys["UploadsKey"], key_arn("UploadsKey"), {"AWS": caller}, action, context, identity)

    assert may("kms:GenerateDataKey", "incoming/acme/0f1e/list.csv")
    assert not may("kms:Decrypt", "incoming/acme/0f1e/list.csv")
    assert not may("kms:GenerateDataKey", "reports/acme/run.json")
    assert not may("kms:GenerateDataKey", "work/run-1/chunk-0")
    assert not may("kms:GenerateDataKey", "incoming/acme/0f1e/list.csv", service="dynamodb")
    assert not may("kms:GenerateDataKey", "incoming/acme/x.csv", api.replace(f"/{STAGE}/", "/dev/"))


def test_upload_bucket_lets_only_the_public_origin_post_from_a_browser(sam: dict[str, Any]) -> None:
    rules = sam["Resources"]["UploadBucket"]["Properties"]["CorsConfiguration"]["CorsRules"]
    assert len(rules) == 1
    [rule] = rules
    assert rule["AllowedMethods"] == ["POST"]
    assert "AllowedHeaders" not in rule and "ExposedHeaders" not in rule
    # The origin of PublicBaseUrl (the API's and the console's domain), never a wildcard.
    [origin] = rule["AllowedOrigins"]
    assert origin == {
        "Fn::Join": ["", ["https://", {"Fn::Select": [2, {"Fn::Split": ["/", {"Ref": "PublicBaseUrl"}]}]}]]
    }
    base = sam["Parameters"]["PublicBaseUrl"]
    for url in (base["Default"], "https://rekisteri.example.fi/console"):
        assert re.match(base["AllowedPattern"], url)
        assert "https://" + url.split("/")[2] == "https://" + url.removeprefix("https://").split("/")[0]
