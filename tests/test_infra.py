"""The deployable template: least-privilege roles, partner roles, logs, alarms, region guard.

`chalice package` output (dist/sam.json, rebuilt here when missing or older than its
sources) is checked with intrinsic functions resolved to concrete ARNs, so a policy that
reaches the wrong table fails here rather than in production.
"""

from __future__ import annotations

import fnmatch
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from chalicelib.config import EU_EEA_REGIONS
from devstack import provision

ROOT = Path(__file__).resolve().parent.parent
CHALICE_DIR = ROOT / ".chalice"
MERGE_TEMPLATE = ROOT / "infra" / "resources.json"
PARTNER_TEMPLATE = ROOT / "infra" / "partner-role.json"
ACCOUNT = "123456789012"
REGION = "eu-north-1"
STAGE = "prod"
FUNCTIONS = ("api_handler", "jwt_authorizer", "partner_import", "retention_sweeper")
# Settings chalicelib/config.py reads that the template need not set: local-stack only, or tunables with defaults.
OPTIONAL_SETTINGS = {"COGNITO_JWKS_URL", "FREE_MAIL_DOMAINS"}
DATA_TABLES = ("CustomersTable", "ProspectsTable", "SuppressionTable", "AuditTable", "ImportRunsTable", "PartnersTable")


# --- building and resolving the template -------------------------------------------------


def _sources_mtime() -> float:
    paths = [MERGE_TEMPLATE, ROOT / "app.py", *CHALICE_DIR.glob("*.json"), *(ROOT / "chalicelib").rglob("*.py")]
    return max(p.stat().st_mtime for p in paths)


@pytest.fixture(scope="module")
def sam(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The packaged SAM template: dist/sam.json if fresh, else `chalice package` into a tmp dir."""
    dist = ROOT / "dist" / "sam.json"
    if dist.exists() and dist.stat().st_mtime >= _sources_mtime():
        return dict(json.loads(dist.read_text()))
    out = tmp_path_factory.mktemp("package") / "dist"
    chalice = Path(sys.executable).parent / "chalice"
    result = subprocess.run(  # noqa: S603 (fixed argv, our own tool)
        [
            str(chalice),
            "--project-dir",
            str(ROOT),
            "package",
            "--stage",
            STAGE,
            "--merge-template",
            str(MERGE_TEMPLATE),
            str(out),
        ],
        capture_output=True,
        text=True,
        env={"AWS_DEFAULT_REGION": REGION, "PATH": "/usr/bin:/bin"},
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, f"chalice package failed:\n{result.stdout}\n{result.stderr}"
    return dict(json.loads((out / "sam.json").read_text()))


def fake_arn(logical: str, resource: dict[str, Any]) -> str:
    """A concrete ARN for a template resource, shaped like the real one."""
    kind = resource.get("Type", "")
    base = f"arn:aws:{{}}:{REGION}:{ACCOUNT}:"
    if kind == "AWS::DynamoDB::Table":
        return base.format("dynamodb") + f"table/{logical}-physical"
    if kind == "AWS::S3::Bucket":
        return f"arn:aws:s3:::{logical.lower()}-physical"
    if kind == "AWS::SQS::Queue":
        return base.format("sqs") + f"{logical}-physical"
    if kind == "AWS::Cognito::UserPool":
        return base.format("cognito-idp") + "userpool/eu-north-1_Pool"
    if kind == "AWS::SecretsManager::Secret":
        return base.format("secretsmanager") + f"secret:{logical}-AbCdEf"
    return base.format("other") + logical


class Resolver:
    """Resolve Ref/Fn::GetAtt/Fn::Sub against fake physical ids and given parameters."""

    def __init__(self, template: dict[str, Any], parameters: dict[str, str]):
        self.resources = template["Resources"]
        self.values = {
            "AWS::AccountId": ACCOUNT,
            "AWS::Region": REGION,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            **parameters,
        }

    def ref(self, name: str) -> str:
        if name in self.values:
            return self.values[name]
        res = self.resources[name]
        if res.get("Type") in ("AWS::DynamoDB::Table", "AWS::S3::Bucket"):
            return fake_arn(name, res).rsplit("/", 1)[-1].rsplit(":", 1)[-1]
        return fake_arn(name, res)

    def getatt(self, name: str, attr: str) -> str:
        assert attr == "Arn", f"unexpected GetAtt {name}.{attr}"
        return fake_arn(name, self.resources[name])

    def __call__(self, node: Any) -> Any:
        if isinstance(node, list):
            return [self(n) for n in node]
        if not isinstance(node, dict):
            return node
        if set(node) == {"Ref"}:
            return self.ref(node["Ref"])
        if set(node) == {"Fn::GetAtt"}:
            return self.getatt(*node["Fn::GetAtt"])
        if set(node) == {"Fn::Sub"}:

            def sub(m: re.Match[str]) -> str:
                name = m.group(1)
                return self.getatt(*name.split(".", 1)) if "." in name else self.ref(name)

            return re.sub(r"\$\{([^}]+)\}", sub, node["Fn::Sub"])
        return {k: self(v) for k, v in node.items()}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def statements(policy: dict[str, Any]) -> list[dict[str, Any]]:
    return list(as_list(policy["Statement"]))


def allowed(policy: dict[str, Any], action: str, resource: str, context: dict[str, str] | None = None) -> bool:
    """IAM's answer for one request against one identity policy (Allow/Deny, StringLike only)."""
    context = context or {}

    def matches(st: dict[str, Any]) -> bool:
        if not any(fnmatch.fnmatchcase(action, a) for a in as_list(st["Action"])):
            return False
        if not any(fnmatch.fnmatchcase(resource, r) for r in as_list(st["Resource"])):
            return False
        for operator, conditions in st.get("Condition", {}).items():
            assert operator == "StringLike", f"evaluator does not know {operator}"
            for key, patterns in conditions.items():
                if key not in context or not any(fnmatch.fnmatchcase(context[key], p) for p in as_list(patterns)):
                    return False
        return True

    hits = [st for st in statements(policy) if matches(st)]
    return any(st["Effect"] == "Allow" for st in hits) and not any(st["Effect"] == "Deny" for st in hits)


def function_roles(sam: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """{function logical id: its role's resolved policy document}."""
    resolve = Resolver(sam, {"Stage": STAGE})
    roles = {}
    for logical, res in sam["Resources"].items():
        if res.get("Type") != "AWS::Serverless::Function":
            continue
        role_id = res["Properties"]["Role"]["Fn::GetAtt"][0]
        policies = sam["Resources"][role_id]["Properties"]["Policies"]
        assert len(policies) == 1
        roles[logical] = resolve(policies[0]["PolicyDocument"])
    return roles


def policy_file(function: str) -> dict[str, Any]:
    config = json.loads((CHALICE_DIR / "config.json").read_text())
    name = config["stages"][STAGE]["lambda_functions"][function]["iam_policy_file"]
    return dict(json.loads((CHALICE_DIR / name).read_text()))


def table_arn(logical: str) -> str:
    return fake_arn(logical, {"Type": "AWS::DynamoDB::Table"})


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
    assert set(functions) == {"APIHandler", "JwtAuthorizer", "PartnerImport", "RetentionSweeper"}
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


def test_api_handler_touches_no_uploads_or_reports(sam: dict[str, Any]) -> None:
    # Partners read their reports with their own roles; the API never reads the bucket.
    policy = function_roles(sam)["APIHandler"]
    assert not any(a.startswith("s3:") for st in statements(policy) for a in as_list(st["Action"]))
    assert not any(a.startswith("sqs:") for st in statements(policy) for a in as_list(st["Action"]))
    pool = fake_arn("UserPool", {"Type": "AWS::Cognito::UserPool"})
    for action in (
        "AdminCreateUser",
        "AdminSetUserPassword",
        "AdminAddUserToGroup",
        "AdminUpdateUserAttributes",
        "AdminDeleteUser",
    ):
        assert allowed(policy, f"cognito-idp:{action}", pool)
    assert not allowed(policy, "cognito-idp:AdminAddUserToGroup", pool.replace("Pool", "Other"))
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
    assert allowed(policy, "cognito-idp:AdminDeleteUser", fake_arn("UserPool", {"Type": "AWS::Cognito::UserPool"}))
    assert not allowed(policy, "cognito-idp:AdminCreateUser", fake_arn("UserPool", {"Type": "AWS::Cognito::UserPool"}))


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


# --- partner roles -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def partner_policy() -> dict[str, Any]:
    template = json.loads(PARTNER_TEMPLATE.read_text())
    params = {
        "PartnerId": "acme",
        "UploadBucketName": "ilopiste-prod-uploads-123456789012",
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
