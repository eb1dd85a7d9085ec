"""A partner's IAM role (infra/partner-role.json) under moto's own IAM enforcement on S3.

The template is resolved for one partner, the role is created from it, the partner's
principal assumes it through STS (trust policy and ExternalId checked by moto), and
S3 calls are made with the temporary credentials while moto authorises every call.
What moto cannot enforce (DynamoDB, the StringLike condition on s3:prefix) is checked on
the policy document, with moto's policy evaluator where it applies.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.core import set_initial_no_auth_action_count
from moto.iam.access_control import IAMPolicy, PermissionResult

TEMPLATE = Path(__file__).resolve().parent.parent / "infra" / "partner-role.json"
REGION = "eu-north-1"
ACCOUNT = "123456789012"  # moto's default account
BUCKET = f"ilopiste-dev-uploads-{ACCOUNT}"
PARTNER = "acme-data"
OTHER_PARTNER = "rival-leads"
EXTERNAL_ID = "acme-external-id-0001"
PARTNER_USER = "acme-uploader"
PARAMETERS = {
    "PartnerId": PARTNER,
    "UploadBucketName": BUCKET,
    "UploadKeyArn": f"arn:aws:kms:{REGION}:{ACCOUNT}:key/0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0",
    "TrustedPrincipalArn": f"arn:aws:iam::{ACCOUNT}:user/{PARTNER_USER}",
    "ExternalId": EXTERNAL_ID,
    "AWS::Partition": "aws",
    "AWS::Region": REGION,
    "AWS::AccountId": ACCOUNT,
}
# Objects the bucket holds before the partner acts: its own report, the other partner's
# upload and report, and a file under a prefix no partner owns.
SEEDED_KEYS = (
    f"reports/{PARTNER}/summary.csv",
    f"reports/{OTHER_PARTNER}/summary.csv",
    f"incoming/{OTHER_PARTNER}/upload.csv",
    "exports/all-customers.csv",
)
# Unauthenticated calls made by _deploy before moto starts enforcing IAM:
# create_bucket, one put_object per seeded key, create_role, put_role_policy,
# create_user, put_user_policy, create_access_key.
SETUP_ACTIONS = 1 + len(SEEDED_KEYS) + 2 + 3


def _resolve(node: Any) -> Any:
    """Resolve the template's Ref and Fn::Sub for PARAMETERS, as CloudFormation would."""
    if isinstance(node, list):
        return [_resolve(item) for item in node]
    if not isinstance(node, dict):
        return node
    if set(node) == {"Ref"}:
        return PARAMETERS[node["Ref"]]
    if set(node) == {"Fn::Sub"}:
        return re.sub(r"\$\{([^}]+)\}", lambda m: PARAMETERS[m.group(1)], node["Fn::Sub"])
    return {key: _resolve(value) for key, value in node.items()}


def _role_properties() -> dict[str, Any]:
    """The PartnerRole resource's properties, resolved for PARTNER."""
    template = json.loads(TEMPLATE.read_text())
    role = template["Resources"]["PartnerRole"]
    assert role["Type"] == "AWS::IAM::Role"
    resolved: dict[str, Any] = _resolve(role["Properties"])
    return resolved


def _permissions_policy() -> dict[str, Any]:
    """The role's only inline policy document, resolved for PARTNER."""
    policies = _role_properties()["Policies"]
    assert len(policies) == 1
    document: dict[str, Any] = policies[0]["PolicyDocument"]
    return document


def _deploy() -> dict[str, str]:
    """Create the bucket, seed it, create the role from the template and the partner's
    principal; return the principal's long-term credentials. Makes SETUP_ACTIONS calls."""
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    for key in SEEDED_KEYS:
        s3.put_object(Bucket=BUCKET, Key=key, Body=b"id;status\n")
    props = _role_properties()
    iam = boto3.client("iam", region_name=REGION)
    iam.create_role(
        RoleName=f"ilopiste-dev-partner-{PARTNER}",
        AssumeRolePolicyDocument=json.dumps(props["AssumeRolePolicyDocument"]),
        MaxSessionDuration=props["MaxSessionDuration"],
    )
    policy = props["Policies"][0]
    iam.put_role_policy(
        RoleName=f"ilopiste-dev-partner-{PARTNER}",
        PolicyName=policy["PolicyName"],
        PolicyDocument=json.dumps(policy["PolicyDocument"]),
    )
    iam.create_user(UserName=PARTNER_USER)
    iam.put_user_policy(
        UserName=PARTNER_USER,
        PolicyName="assume-partner-role",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}],
            }
        ),
    )
    key = iam.create_access_key(UserName=PARTNER_USER)["AccessKey"]
    return {"aws_access_key_id": key["AccessKeyId"], "aws_secret_access_key": key["SecretAccessKey"]}


def _assume(principal: dict[str, str], external_id: str) -> dict[str, str]:
    """Assume the partner role as the partner's principal; return temporary credentials."""
    sts = boto3.client("sts", region_name=REGION, **principal)
    creds = sts.assume_role(
        RoleArn=f"arn:aws:iam::{ACCOUNT}:role/ilopiste-dev-partner-{PARTNER}",
        RoleSessionName="upload",
        ExternalId=external_id,
    )["Credentials"]
    return {
        "aws_access_key_id": creds["AccessKeyId"],
        "aws_secret_access_key": creds["SecretAccessKey"],
        "aws_session_token": creds["SessionToken"],
    }


def _partner_s3() -> Any:
    """An S3 client holding the partner role's temporary credentials."""
    return boto3.client("s3", region_name=REGION, **_assume(_deploy(), EXTERNAL_ID))


def _denied(call: Callable[[], Any]) -> None:
    """Assert that moto refuses the call with AccessDenied."""
    with pytest.raises(ClientError) as refused:
        call()
    assert refused.value.response["Error"]["Code"] == "AccessDenied"


@set_initial_no_auth_action_count(SETUP_ACTIONS)
@mock_aws
def test_partner_uploads_only_under_its_own_incoming_prefix() -> None:
    s3 = _partner_s3()
    s3.put_object(Bucket=BUCKET, Key=f"incoming/{PARTNER}/2026-11-25.csv", Body=b"x")
    for key in (
        f"incoming/{OTHER_PARTNER}/2026-11-25.csv",
        f"incoming/{PARTNER}-evil/2026-11-25.csv",  # prefix of a prefix is not the same prefix
        f"reports/{PARTNER}/forged.csv",
        "incoming/2026-11-25.csv",
        "exports/all-customers.csv",
    ):
        _denied(lambda key=key: s3.put_object(Bucket=BUCKET, Key=key, Body=b"x"))


@set_initial_no_auth_action_count(SETUP_ACTIONS)
@mock_aws
def test_partner_reads_only_its_own_reports() -> None:
    s3 = _partner_s3()
    own = s3.get_object(Bucket=BUCKET, Key=f"reports/{PARTNER}/summary.csv")
    assert own["Body"].read() == b"id;status\n"
    for key in (
        f"reports/{OTHER_PARTNER}/summary.csv",
        f"incoming/{OTHER_PARTNER}/upload.csv",
        "exports/all-customers.csv",
    ):
        _denied(lambda key=key: s3.get_object(Bucket=BUCKET, Key=key))


@set_initial_no_auth_action_count(SETUP_ACTIONS)
@mock_aws
def test_partner_lists_its_own_reports() -> None:
    s3 = _partner_s3()
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix=f"reports/{PARTNER}/")
    assert [obj["Key"] for obj in listed["Contents"]] == [f"reports/{PARTNER}/summary.csv"]


@set_initial_no_auth_action_count(SETUP_ACTIONS)
@mock_aws
def test_partner_cannot_delete_anything_not_even_its_own_files() -> None:
    s3 = _partner_s3()
    s3.put_object(Bucket=BUCKET, Key=f"incoming/{PARTNER}/mine.csv", Body=b"x")
    for key in (
        f"incoming/{PARTNER}/mine.csv",
        f"reports/{PARTNER}/summary.csv",
        f"incoming/{OTHER_PARTNER}/upload.csv",
    ):
        _denied(lambda key=key: s3.delete_object(Bucket=BUCKET, Key=key))
    _denied(lambda: s3.delete_bucket(Bucket=BUCKET))


@set_initial_no_auth_action_count(SETUP_ACTIONS)
@mock_aws
def test_role_is_assumable_only_with_the_shared_external_id() -> None:
    principal = _deploy()
    _denied(lambda: _assume(principal, "guessed-external-id-0000"))
    assert _assume(principal, EXTERNAL_ID)["aws_session_token"]


def test_listing_is_limited_to_own_reports_prefix_by_condition() -> None:
    """moto ignores StringLike conditions, so the s3:prefix limit is checked on the
    document: ListBucket is granted only with a condition naming reports/<PartnerId>/."""
    listing = [
        s
        for s in _permissions_policy()["Statement"]
        if s["Effect"] == "Allow" and "s3:ListBucket" in json.dumps(s["Action"])
    ]
    assert len(listing) == 1
    assert listing[0]["Resource"] == f"arn:aws:s3:::{BUCKET}"
    assert listing[0]["Condition"] == {"StringLike": {"s3:prefix": [f"reports/{PARTNER}/*", f"reports/{PARTNER}/"]}}


def test_role_has_no_dynamodb_access() -> None:
    """moto does not enforce IAM on DynamoDB: the document must deny dynamodb:* explicitly,
    and moto's policy evaluator must find every table action denied."""
    document = _permissions_policy()
    denies = [s for s in document["Statement"] if s["Effect"] == "Deny"]
    assert {"Sid": "NoRegisterTables", "Effect": "Deny", "Action": "dynamodb:*", "Resource": "*"} in denies
    evaluator = IAMPolicy(json.dumps(document))
    table = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/ilopiste-dev-customers"
    for action in ("dynamodb:GetItem", "dynamodb:Query", "dynamodb:Scan", "dynamodb:PutItem"):
        assert evaluator.is_action_permitted(action, table) == PermissionResult.DENIED
    assert evaluator.is_action_permitted("s3:PutObject", f"arn:aws:s3:::{BUCKET}/x") == (PermissionResult.NEUTRAL)
