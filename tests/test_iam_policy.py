"""The offline IAM evaluator on its own: the rules of AWS's policy evaluation logic it claims."""

from __future__ import annotations

import pytest

from tests.iam_policy import ALLOW, DENY, NO_MATCH, decide

TABLE = "arn:aws:dynamodb:eu-north-1:123456789012:table/Customers"
BUCKET = "arn:aws:s3:::uploads"


def policy(*statements: dict[str, object]) -> dict[str, object]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(action: object, resource: object, **extra: object) -> dict[str, object]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def test_nothing_is_allowed_without_a_matching_allow() -> None:
    assert decide(policy(), "dynamodb:GetItem", TABLE) == NO_MATCH
    assert decide(policy(allow("dynamodb:GetItem", TABLE)), "dynamodb:PutItem", TABLE) == NO_MATCH
    assert decide(policy(allow("dynamodb:GetItem", TABLE)), "dynamodb:GetItem", TABLE + "/index/x") == NO_MATCH


def test_actions_match_case_insensitively_with_wildcards() -> None:
    p = policy(allow(["dynamodb:Get*", "s3:???Object"], [TABLE, f"{BUCKET}/*"]))
    assert decide(p, "dynamodb:getitem", TABLE) == ALLOW
    assert decide(p, "s3:GetObject", f"{BUCKET}/a/b.csv") == ALLOW
    assert decide(p, "s3:PutObject", f"{BUCKET}/a") == ALLOW  # each `?` is one character
    assert decide(p, "s3:GetObjectVersion", f"{BUCKET}/a") == NO_MATCH


def test_resources_match_case_sensitively_and_star_spans_slashes() -> None:
    p = policy(allow("s3:GetObject", f"{BUCKET}/incoming/*"))
    assert decide(p, "s3:GetObject", f"{BUCKET}/incoming/acme/x/y.csv") == ALLOW
    assert decide(p, "s3:GetObject", f"{BUCKET}/Incoming/acme/y.csv") == NO_MATCH
    assert decide(p, "s3:GetObject", f"{BUCKET}/reports/acme/y.json") == NO_MATCH


def test_an_explicit_deny_wins_over_any_allow() -> None:
    p = policy(
        allow("dynamodb:*", TABLE),
        {"Effect": "Deny", "Action": "dynamodb:DeleteItem", "Resource": "*"},
    )
    assert decide(p, "dynamodb:PutItem", TABLE) == ALLOW
    assert decide(p, "dynamodb:DeleteItem", TABLE) == DENY


def test_not_action_and_not_resource() -> None:
    p = policy({"Effect": "Allow", "NotAction": "dynamodb:Delete*", "NotResource": f"{TABLE}/index/*"})
    assert decide(p, "dynamodb:Query", TABLE) == ALLOW
    assert decide(p, "dynamodb:DeleteItem", TABLE) == NO_MATCH
    assert decide(p, "dynamodb:Query", f"{TABLE}/index/by_email") == NO_MATCH


def test_an_allow_whose_condition_fails_does_not_deny_what_another_allows() -> None:
    # moto's evaluator gets this one wrong (a failed condition on an Allow counts as Deny).
    p = policy(
        allow("s3:ListBucket", BUCKET, Condition={"StringLike": {"s3:prefix": ["work/*"]}}),
        allow("s3:ListBucket", BUCKET, Condition={"StringLike": {"s3:prefix": ["incoming/*"]}}),
    )
    assert decide(p, "s3:ListBucket", BUCKET, {"s3:prefix": "incoming/acme/"}) == ALLOW
    assert decide(p, "s3:ListBucket", BUCKET, {"s3:prefix": "reports/"}) == NO_MATCH
    assert decide(p, "s3:ListBucket", BUCKET) == NO_MATCH  # a missing key fails a positive operator


def test_negated_and_if_exists_operators_match_a_missing_key() -> None:
    deny_other = {
        "Effect": "Deny",
        "Action": "s3:PutObject",
        "Resource": "*",
        "Condition": {"StringNotEquals": {"s3:x-amz-server-side-encryption": "aws:kms"}},
    }
    p = policy(allow("s3:PutObject", f"{BUCKET}/*"), deny_other)
    assert decide(p, "s3:PutObject", f"{BUCKET}/a") == DENY
    assert decide(p, "s3:PutObject", f"{BUCKET}/a", {"s3:x-amz-server-side-encryption": "aws:kms"}) == ALLOW
    only_kms = allow("s3:PutObject", f"{BUCKET}/*", Condition={"StringEqualsIfExists": {"k": "v"}})
    assert decide(policy(only_kms), "s3:PutObject", f"{BUCKET}/a") == ALLOW
    assert decide(policy(only_kms), "s3:PutObject", f"{BUCKET}/a", {"k": "w"}) == NO_MATCH


def test_null_and_bool_conditions() -> None:
    p = policy(allow("s3:GetObject", "*", Condition={"Null": {"aws:SourceVpc": "true"}, "Bool": {"tls": "true"}}))
    assert decide(p, "s3:GetObject", BUCKET, {"tls": "true"}) == ALLOW
    assert decide(p, "s3:GetObject", BUCKET, {"tls": "false"}) == NO_MATCH
    assert decide(p, "s3:GetObject", BUCKET, {"tls": "true", "aws:SourceVpc": "vpc-1"}) == NO_MATCH


def test_leading_keys_limit_an_action_to_one_partition() -> None:
    p = policy(
        allow(
            "dynamodb:PutItem",
            TABLE,
            Condition={"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": ["MARKER#PENDING"]}},
        )
    )
    assert decide(p, "dynamodb:PutItem", TABLE, {"dynamodb:LeadingKeys": "MARKER#PENDING"}) == ALLOW
    assert decide(p, "dynamodb:PutItem", TABLE, {"dynamodb:LeadingKeys": "CUSTOMER#1"}) == NO_MATCH
    any_of = policy(allow("s3:GetObject", "*", Condition={"ForAnyValue:StringLike": {"k": ["a*"]}}))
    assert decide(any_of, "s3:GetObject", BUCKET, {"k": "abc"}) == ALLOW
    assert decide(any_of, "s3:GetObject", BUCKET) == NO_MATCH


def test_an_unknown_condition_operator_is_refused_not_guessed() -> None:
    p = policy(allow("s3:GetObject", "*", Condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}))
    with pytest.raises(ValueError, match="IpAddress"):
        decide(p, "s3:GetObject", BUCKET, {"aws:SourceIp": "10.1.2.3"})
