"""The packaged CloudFormation template, with intrinsic functions resolved to concrete ARNs.

`chalice package` output (dist/sam.json, rebuilt into a temporary folder when missing or
older than its sources) is what AWS deploys, so roles are read from it rather than from
the policy files alone: a policy file wired to the wrong function fails here too.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
from functools import cache
from pathlib import Path
from typing import Any

from tests.iam_policy import as_list

ROOT = Path(__file__).resolve().parent.parent
CHALICE_DIR = ROOT / ".chalice"
MERGE_TEMPLATE = ROOT / "infra" / "resources.json"
ACCOUNT = "123456789012"
REGION = "eu-north-1"
STAGE = "prod"
# The Lambda functions by the names DESIGN.md fixes, and their handlers in the package.
FUNCTION_HANDLERS = {
    "app.app": "api_handler",
    "chalicelib.api.authorizer.jwt_authorizer": "jwt_authorizer",
    "chalicelib.events.partner_import": "partner_import",
    "chalicelib.events.retention_sweeper": "retention_sweeper",
    "chalicelib.events.art14_notices": "art14_notices",
    "chalicelib.events.register_backfill": "register_backfill",
    "chalicelib.events.pseudonym_rekey": "pseudonym_rekey",
    "chalicelib.events.campaign_materialiser": "campaign_materialiser",
    "chalicelib.events.mail_sender": "mail_sender",
    "chalicelib.events.mail_events": "mail_events",
}


def _sources_mtime() -> float:
    paths = [MERGE_TEMPLATE, ROOT / "app.py", *CHALICE_DIR.glob("*.json"), *(ROOT / "chalicelib").rglob("*.py")]
    return max(p.stat().st_mtime for p in paths)


@cache
def packaged() -> dict[str, Any]:
    """The packaged SAM template: dist/sam.json if fresh, else `chalice package` into a tmp dir."""
    dist = ROOT / "dist" / "sam.json"
    if dist.exists() and dist.stat().st_mtime >= _sources_mtime():
        return dict(json.loads(dist.read_text()))
    out = Path(tempfile.mkdtemp(prefix="ilopiste-package-")) / "dist"
    chalice = Path(sys.executable).parent / "chalice"
    result = subprocess.run(  # noqa: S603 (fixed argv, our own tool)
        [
            *(str(chalice), "--project-dir", str(ROOT), "package", "--stage", STAGE),
            *("--merge-template", str(MERGE_TEMPLATE), str(out)),
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
        return base.format("cognito-idp") + f"userpool/eu-north-1_{logical}"
    if kind == "AWS::SecretsManager::Secret":
        return base.format("secretsmanager") + f"secret:{logical}-AbCdEf"
    if kind == "AWS::KMS::Key":
        return base.format("kms") + f"key/{logical}"
    return base.format("other") + logical


def table_arn(logical: str) -> str:
    return fake_arn(logical, {"Type": "AWS::DynamoDB::Table"})


class Resolver:
    """Resolve Ref/Fn::GetAtt/Fn::Sub against fake physical ids and given parameters."""

    def __init__(self, template: dict[str, Any], parameters: dict[str, str]):
        self.resources = template["Resources"]
        self.values = {
            "AWS::AccountId": ACCOUNT,
            "AWS::Region": REGION,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            **{k: str(v["Default"]) for k, v in template.get("Parameters", {}).items() if "Default" in v},
            **parameters,
        }

    def ref(self, name: str) -> str:
        if name in self.values:
            return self.values[name]
        res = self.resources[name]
        if res.get("Type") == "AWS::SES::EmailIdentity":  # Ref: the identity (domain or address)
            return str(self(res["Properties"]["EmailIdentity"]))
        if res.get("Type") == "AWS::SNS::Topic" and "TopicName" in res["Properties"]:  # Ref: the topic's ARN
            return f"arn:aws:sns:{REGION}:{ACCOUNT}:{self(res['Properties']['TopicName'])}"
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


def statements(policy: dict[str, Any]) -> list[dict[str, Any]]:
    return list(as_list(policy["Statement"]))


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


def roles_by_function(sam: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """{function name (api_handler, …): its role's resolved policy document}."""
    roles = function_roles(sam)
    by_name = {}
    for logical, res in sam["Resources"].items():
        if res.get("Type") == "AWS::Serverless::Function":
            by_name[FUNCTION_HANDLERS[res["Properties"]["Handler"]]] = roles[logical]
    return by_name


def policy_file_name(function: str) -> str:
    config = json.loads((CHALICE_DIR / "config.json").read_text())
    return str(config["stages"][STAGE]["lambda_functions"][function]["iam_policy_file"])


def policy_file(function: str) -> dict[str, Any]:
    return dict(json.loads((CHALICE_DIR / policy_file_name(function)).read_text()))
