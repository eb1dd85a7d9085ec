"""Every AWS call a function makes, checked against that function's own IAM role.

moto does not enforce IAM on DynamoDB (nor on most services), so a call the deployed
role forbids passes every emulated test and fails only in AWS. This plugin closes that
gap for the whole suite:

1. **Attribution.** The Lambda entry points (`Chalice.__call__` → `api_handler`,
   the authorizer → `jwt_authorizer`, the event handlers → `partner_import` /
   `retention_sweeper` / `pseudonym_rekey` / `campaign_materialiser` / `mail_sender` /
   `mail_events`) and the
   domain entries tests call directly (`retention.sweep`, `imports.messages.handle_message`,
   `rekeying.run`, `campaigns.run`, `mail.jobs.handle`, `mail.feedback.handle`) set the function in a
   context variable; the outermost entry wins.
2. **Recording.** A botocore `before-parameter-build` handler, registered as a built-in
   handler so every session's clients carry it (`chalicelib.store`'s included), records
   each call made while a function is set, once per call (retries are below this event), with the emulator's
   physical names translated to the template's resources through the functions'
   environment variables (`CUSTOMERS_TABLE` → `CustomersTable`, …).
3. **Expansion** to the requests IAM authorises, the way AWS evaluates them: each item
   of TransactWriteItems/TransactGetItems/BatchWriteItem/BatchGetItem as its own action
   on its own table, index queries on the index ARN, S3 object ARNs with their keys and
   versioned actions, `s3:prefix` for listings, a presigned POST as the PutObject of its
   key by the function that signed it (S3 authorises the form's upload against the
   signer's role), SQS queue ARNs, Cognito admin actions
   on the pool, Secrets Manager on the secret. An operation it does not know is
   reported, never waved through.
4. **Check.** After every test, each recorded request is evaluated (tests/iam_policy.py)
   against the function's role in the packaged template; a request the role does not
   allow fails the test, naming function, action, resource and policy file.
"""

from __future__ import annotations

import functools
import json
import os
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

import botocore.handlers
import botocore.signers
import pytest

from tests.iam_policy import allowed
from tests.template import (
    ACCOUNT,
    FUNCTION_HANDLERS,
    MERGE_TEMPLATE,
    REGION,
    fake_arn,
    packaged,
    policy_file_name,
    roles_by_function,
)

CURRENT_FUNCTION: ContextVar[str | None] = ContextVar("current_function", default=None)
FUNCTIONS = tuple(FUNCTION_HANDLERS.values())

# Cognito's user-facing operations are authorised by the caller's token or are public
# (sign-up, sign-in); IAM plays no part in them.
COGNITO_WITHOUT_IAM = {
    "SignUp",
    "ConfirmSignUp",
    "ResendConfirmationCode",
    "InitiateAuth",
    "RespondToAuthChallenge",
    "ForgotPassword",
    "ConfirmForgotPassword",
    "GetUser",
    "ChangePassword",
    "GlobalSignOut",
    "RevokeToken",
    "VerifyUserAttribute",
    "GetUserAttributeVerificationCode",
    "UpdateUserAttributes",
    "AssociateSoftwareToken",
    "VerifySoftwareToken",
    "SetUserMFAPreference",
}
DYNAMODB_SINGLE_TABLE = {
    "GetItem",
    "PutItem",
    "UpdateItem",
    "DeleteItem",
    "Query",
    "Scan",
    "DescribeTable",
    "DescribeTimeToLive",
}
TRANSACT_ACTIONS = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
}
SQS_ACTIONS = {
    "SendMessage": "SendMessage",
    "SendMessageBatch": "SendMessage",
    "ReceiveMessage": "ReceiveMessage",
    "DeleteMessage": "DeleteMessage",
    "DeleteMessageBatch": "DeleteMessage",
    "ChangeMessageVisibility": "ChangeMessageVisibility",
    "ChangeMessageVisibilityBatch": "ChangeMessageVisibility",
    "GetQueueAttributes": "GetQueueAttributes",
}


@dataclass(frozen=True)
class IamRequest:
    """One authorisation IAM makes: an action on a resource, with its condition keys."""

    action: str
    resource: str
    context: tuple[tuple[str, str], ...] = ()
    part: str = ""  # which part of the API call it comes from, e.g. "TransactWriteItems item 3"

    def describe(self) -> str:
        where = f" ({self.part})" if self.part else ""
        keys = "".join(f" with {k}={v!r}" for k, v in self.context)
        return f"{self.action} on {self.resource}{keys}{where}"


@dataclass(frozen=True)
class Call:
    function: str
    operation: str  # service:Operation, as the SDK names it
    requests: tuple[IamRequest, ...]


# -- physical names → template resources ---------------------------------------------------


@functools.cache
def _environment_resources() -> dict[str, tuple[str, dict[str, Any]]]:
    """{environment variable: (logical id, resource)} for every resource the functions name."""
    template = json.loads(MERGE_TEMPLATE.read_text())
    variables = template["Globals"]["Function"]["Environment"]["Variables"]
    return {
        name: (value["Ref"], template["Resources"][value["Ref"]])
        for name, value in variables.items()
        if isinstance(value, dict) and value.get("Ref") in template["Resources"]
    }


def resource_arn(physical: str) -> str:
    """The template ARN of the resource whose emulated name, URL or id is `physical`."""
    for variable, (logical, resource) in _environment_resources().items():
        value = os.environ.get(variable)
        if value and physical in (value, value.rsplit(":", 1)[-1]):
            return fake_arn(logical, resource)
    return f"unknown-resource:{physical}"


# -- one SDK call → the IAM requests AWS makes of it -----------------------------------------


def _leading_key(body: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    """`dynamodb:LeadingKeys` of an item operation: its partition key value (ours is `pk`)."""
    item = body.get("Key") or body.get("Item") or {}
    value = item.get("pk")
    if isinstance(value, dict):  # the client's typed form, {"S": "..."}
        value = value.get("S")
    return (("dynamodb:LeadingKeys", value),) if isinstance(value, str) else ()


def _dynamodb(operation: str, params: dict[str, Any]) -> list[IamRequest]:
    if operation in DYNAMODB_SINGLE_TABLE:
        arn = resource_arn(params["TableName"])
        if params.get("IndexName"):
            arn = f"{arn}/index/{params['IndexName']}"
        return [IamRequest(f"dynamodb:{operation}", arn, _leading_key(params))]
    if operation == "BatchWriteItem":
        # IAM evaluates `dynamodb:LeadingKeys` for each put and delete of the batch.
        return [
            IamRequest(
                "dynamodb:BatchWriteItem",
                resource_arn(table),
                _leading_key(next(iter(request.values()), {})),
                part=f"{operation} item {n}",
            )
            for table, requests in params["RequestItems"].items()
            for n, request in enumerate(requests)
        ]
    if operation == "BatchGetItem":
        return [
            IamRequest(f"dynamodb:{operation}", resource_arn(table), part=f"{operation} table {n}")
            for n, table in enumerate(params["RequestItems"])
        ]
    if operation in ("TransactWriteItems", "TransactGetItems"):
        requests = []
        for n, item in enumerate(params["TransactItems"]):
            ((kind, body),) = item.items()
            action = "GetItem" if kind == "Get" else TRANSACT_ACTIONS[kind]
            requests.append(
                IamRequest(
                    f"dynamodb:{action}", resource_arn(body["TableName"]), _leading_key(body), f"{operation} item {n}"
                )
            )
        return requests
    return [IamRequest(f"unknown-operation:dynamodb:{operation}", "*")]


def _s3(operation: str, params: dict[str, Any]) -> list[IamRequest]:
    bucket = resource_arn(params["Bucket"])

    def versioned(action: str, version: Any) -> str:
        return f"{action}Version" if version else action

    if operation in ("GetObject", "HeadObject"):
        return [IamRequest(versioned("s3:GetObject", params.get("VersionId")), f"{bucket}/{params['Key']}")]
    if operation in ("PutObject", "CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload"):
        return [IamRequest("s3:PutObject", f"{bucket}/{params['Key']}")]
    if operation == "AbortMultipartUpload":
        return [IamRequest("s3:AbortMultipartUpload", f"{bucket}/{params['Key']}")]
    if operation == "DeleteObject":
        return [IamRequest(versioned("s3:DeleteObject", params.get("VersionId")), f"{bucket}/{params['Key']}")]
    if operation == "DeleteObjects":
        return [
            IamRequest(versioned("s3:DeleteObject", o.get("VersionId")), f"{bucket}/{o['Key']}", part=f"object {n}")
            for n, o in enumerate(params["Delete"]["Objects"])
        ]
    if operation == "CopyObject":
        source = params["CopySource"]
        if isinstance(source, str):
            path, _, query = unquote(source).lstrip("/").partition("?versionId=")
            source = {"Bucket": path.split("/", 1)[0], "Key": path.split("/", 1)[1], "VersionId": query or None}
        return [
            IamRequest("s3:PutObject", f"{bucket}/{params['Key']}"),
            IamRequest(
                versioned("s3:GetObject", source.get("VersionId")),
                f"{resource_arn(source['Bucket'])}/{source['Key']}",
                part="copy source",
            ),
        ]
    if operation in ("ListObjects", "ListObjectsV2", "ListObjectVersions"):
        action = "s3:ListBucketVersions" if operation == "ListObjectVersions" else "s3:ListBucket"
        context = (("s3:prefix", params["Prefix"]),) if "Prefix" in params else ()
        return [IamRequest(action, bucket, context)]
    return [IamRequest(f"unknown-operation:s3:{operation}", bucket)]


def _sqs(operation: str, params: dict[str, Any]) -> list[IamRequest]:
    if operation not in SQS_ACTIONS:
        return [IamRequest(f"unknown-operation:sqs:{operation}", "*")]
    return [IamRequest(f"sqs:{SQS_ACTIONS[operation]}", resource_arn(params["QueueUrl"]))]


def _cognito(operation: str, params: dict[str, Any]) -> list[IamRequest]:
    if operation in COGNITO_WITHOUT_IAM:
        return []
    if operation.startswith("Admin") or operation in ("ListUsers", "ListUsersInGroup", "DescribeUserPool"):
        return [IamRequest(f"cognito-idp:{operation}", resource_arn(params["UserPoolId"]))]
    return [IamRequest(f"unknown-operation:cognito-idp:{operation}", "*")]


def _secretsmanager(operation: str, params: dict[str, Any]) -> list[IamRequest]:
    if operation in ("GetSecretValue", "DescribeSecret"):
        return [IamRequest(f"secretsmanager:{operation}", resource_arn(params["SecretId"]))]
    return [IamRequest(f"unknown-operation:secretsmanager:{operation}", "*")]


def _sesv2(operation: str, params: dict[str, Any]) -> list[IamRequest]:
    if operation == "SendEmail":
        # Authorised on the sending identity (our verified domain), with the From address as a key.
        sender = str(params["FromEmailAddress"])
        identity = f"arn:aws:ses:{REGION}:{ACCOUNT}:identity/{sender.rsplit('@', 1)[-1]}"
        return [IamRequest("ses:SendEmail", identity, (("ses:FromAddress", sender),))]
    return [IamRequest(f"unknown-operation:sesv2:{operation}", "*")]


EXPANSIONS: dict[str, Callable[[str, dict[str, Any]], list[IamRequest]]] = {
    "dynamodb": _dynamodb,
    "s3": _s3,
    "sqs": _sqs,
    "cognito-idp": _cognito,
    "secretsmanager": _secretsmanager,
    "sesv2": _sesv2,
}


def iam_requests(service: str, operation: str, params: dict[str, Any]) -> list[IamRequest]:
    """The authorisations AWS makes for one SDK call."""
    expand = EXPANSIONS.get(service)
    if expand is None:
        return [IamRequest(f"unknown-operation:{service}:{operation}", "*")]
    return expand(operation, params)


# -- recording ----------------------------------------------------------------------------


@dataclass
class Recorder:
    calls: list[Call] = field(default_factory=list)
    invocations: Counter[str] = field(default_factory=Counter)

    def on_parameter_build(self, params: dict[str, Any], model: Any, context: Any = None, **_: Any) -> None:
        function = CURRENT_FUNCTION.get()
        if function is None:
            return
        service = model.service_model.service_name
        operation = model.name
        if service == "s3" and operation == "CreateBucket" and (context or {}).get("is_presign_request"):
            # botocore builds a presigned POST's URL from CreateBucket's model; no bucket is
            # created. The form itself is recorded by `on_presigned_post`.
            return
        requests = tuple(iam_requests(service, operation, params))
        self.calls.append(Call(function, f"{service}:{operation}", requests))

    def on_presigned_post(self, fields: dict[str, Any], conditions: list[Any]) -> None:
        """A presigned POST: a PutObject S3 will authorise against the signer's role when the
        form is posted, so it is the signing function's call (on the form's key)."""
        function = CURRENT_FUNCTION.get()
        if function is None:
            return
        bucket = next(c["bucket"] for c in conditions if isinstance(c, dict) and "bucket" in c)
        keys = tuple((f"s3:{name}", str(fields[name])) for name in ("x-amz-server-side-encryption",) if name in fields)
        request = IamRequest("s3:PutObject", f"{resource_arn(bucket)}/{fields['key']}", keys, "presigned POST")
        self.calls.append(Call(function, "s3:PresignedPost", (request,)))

    def denials(self, roles: dict[str, dict[str, Any]], calls: list[Call] | None = None) -> list[str]:
        """One line per request a function's role does not allow."""
        lines = []
        for call in self.calls if calls is None else calls:
            for request in call.requests:
                if not allowed(roles[call.function], request.action, request.resource, dict(request.context)):
                    lines.append(
                        f"{call.function} ({policy_file_name(call.function)}): {call.operation} needs "
                        f"{request.describe()}, which its role does not allow"
                    )
        return sorted(set(lines))


RECORDER = Recorder()


@functools.cache
def function_roles() -> dict[str, dict[str, Any]]:
    """Each function's resolved role policy in the packaged template (packaged once per process)."""
    return roles_by_function(packaged())


def attributed(function: str | Callable[..., str], original: Callable[..., Any]) -> Callable[..., Any]:
    """`original`, run as `function` (a name, or a function of the call's args naming it)."""

    @functools.wraps(original)
    def entry(*args: Any, **kwargs: Any) -> Any:
        if CURRENT_FUNCTION.get() is not None:
            return original(*args, **kwargs)
        name = function if isinstance(function, str) else function(*args)
        RECORDER.invocations[name] += 1
        token = CURRENT_FUNCTION.set(name)
        try:
            return original(*args, **kwargs)
        finally:
            CURRENT_FUNCTION.reset(token)

    return entry


@contextmanager
def as_function(name: str | None) -> Iterator[None]:
    """Run test code that stands for another actor (a staff action or an objection arriving
    while an import runs) as `name`'s calls (None: no function's), even inside another's."""
    token = CURRENT_FUNCTION.set(name)
    try:
        yield
    finally:
        CURRENT_FUNCTION.reset(token)


def _handler_name(handler: Any, *_: Any) -> str:
    """The function an event handler is: its own name, or a pure Lambda function's."""
    func = getattr(handler.func, "_original_func", handler.func)  # chalice's PureLambdaWrapper
    return str(func.__name__)


@pytest.fixture(scope="session", autouse=True)
def _record_aws_calls() -> Iterator[Recorder]:
    """Attribute calls to the four functions and record them, for the whole session."""
    from chalice import app as chalice_app

    from chalicelib import backfill, campaigns, rekeying, retention
    from chalicelib.imports import messages
    from chalicelib.mail import feedback, jobs

    with pytest.MonkeyPatch.context() as mp:
        # Every botocore session registers the built-in handlers when it is made (moto's own
        # stubber enters the same way), so clients of sessions made later record too.
        mp.setattr(
            botocore.handlers,
            "BUILTIN_HANDLERS",
            [*botocore.handlers.BUILTIN_HANDLERS, ("before-parameter-build", RECORDER.on_parameter_build)],
        )
        mp.setattr(chalice_app.Chalice, "__call__", attributed("api_handler", chalice_app.Chalice.__call__))
        mp.setattr(
            chalice_app.ChaliceAuthorizer,
            "__call__",
            attributed("jwt_authorizer", chalice_app.ChaliceAuthorizer.__call__),
        )
        mp.setattr(
            chalice_app.EventSourceHandler,
            "__call__",
            attributed(_handler_name, chalice_app.EventSourceHandler.__call__),
        )
        mp.setattr(
            chalice_app.LambdaFunction,
            "__call__",
            attributed(lambda f, *_: f.name, chalice_app.LambdaFunction.__call__),
        )
        presign_post = botocore.signers.S3PostPresigner.generate_presigned_post

        def recorded_post(signer: Any, request_dict: Any, fields: Any = None, conditions: Any = None, **kw: Any) -> Any:
            RECORDER.on_presigned_post(fields or {}, conditions or [])
            return presign_post(signer, request_dict, fields=fields, conditions=conditions, **kw)

        mp.setattr(botocore.signers.S3PostPresigner, "generate_presigned_post", recorded_post)
        mp.setattr(retention, "sweep", attributed("retention_sweeper", retention.sweep))
        mp.setattr(rekeying, "run", attributed("pseudonym_rekey", rekeying.run))
        mp.setattr(backfill, "run", attributed("register_backfill", backfill.run))
        mp.setattr(campaigns, "run", attributed("campaign_materialiser", campaigns.run))
        mp.setattr(jobs, "handle", attributed("mail_sender", jobs.handle))
        mp.setattr(feedback, "handle", attributed("mail_events", feedback.handle))
        mp.setattr(messages, "handle_message", attributed("partner_import", messages.handle_message))
        yield RECORDER


@pytest.fixture(autouse=True)
def calls_against_roles(_record_aws_calls: Recorder) -> Iterator[Recorder]:
    """After each test: every call a function made is allowed by that function's role."""
    start = len(_record_aws_calls.calls)
    yield _record_aws_calls
    calls = _record_aws_calls.calls[start:]
    del _record_aws_calls.calls[start:]
    if calls:
        denied = _record_aws_calls.denials(function_roles(), calls)
        if denied:
            pytest.fail("calls their roles do not allow:\n" + "\n".join(denied), pytrace=False)
