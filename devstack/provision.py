"""Create the merge template's resources in an AWS emulator (moto), from the template itself.

The tests (in-process `mock_aws`) and the local stack (moto server) both call
`provision`, so neither can drift from the tables, indexes, bucket, queues and user
pool that production gets.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

TEMPLATE = Path(__file__).resolve().parent.parent / "infra" / "resources.json"


def load_template(path: Path = TEMPLATE) -> dict[str, Any]:
    return json.loads(path.read_text())


def resources_of(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {name: res for name, res in template["Resources"].items() if res.get("Type") == kind}


def key_arn(keys: dict[str, str], reference: dict[str, Any]) -> str:
    """The emulated key's ARN for a template reference to it (`Fn::GetAtt [Key, Arn]` or `Ref`)."""
    logical = reference["Fn::GetAtt"][0] if "Fn::GetAtt" in reference else reference["Ref"]
    return keys[logical]


def create_keys(kms: Any, prefix: str, template: dict[str, Any] | None = None) -> dict[str, str]:
    """The template's customer-managed keys (rotation on) and their aliases; returns {logical id: key ARN}.

    The key policies are not copied: moto does not enforce them (tests/test_infra.py checks them).
    """
    template = template or load_template()
    keys: dict[str, str] = {}
    for logical, res in resources_of(template, "AWS::KMS::Key").items():
        props = res["Properties"]
        meta = kms.create_key(Description=props["Description"], Tags=[{"TagKey": "ilopiste:key", "TagValue": logical}])
        key_id = meta["KeyMetadata"]["KeyId"]
        if props.get("EnableKeyRotation"):
            kms.enable_key_rotation(KeyId=key_id)
        keys[logical] = meta["KeyMetadata"]["Arn"]
    for res in resources_of(template, "AWS::KMS::Alias").values():
        props = res["Properties"]
        name = props["AliasName"]["Fn::Sub"].replace("ilopiste-${Stage}", prefix)
        kms.create_alias(AliasName=name, TargetKeyId=key_arn(keys, props["TargetKeyId"]))
    return keys


def table_name(prefix: str, resource: dict[str, Any]) -> str:
    return f"{prefix}-{resource['Metadata']['ilopiste:table']}"


def create_tables(
    dynamodb: Any, prefix: str, template: dict[str, Any] | None = None, keys: dict[str, str] | None = None
) -> dict[str, str]:
    """Create every table of the template, encrypted with its key from `keys` ({logical id: ARN}) when
    given; returns {logical table key: table name}."""
    template = template or load_template()
    names: dict[str, str] = {}
    for res in resources_of(template, "AWS::DynamoDB::Table").values():
        props = res["Properties"]
        name = table_name(prefix, res)
        kwargs: dict[str, Any] = {
            "TableName": name,
            "KeySchema": props["KeySchema"],
            "AttributeDefinitions": props["AttributeDefinitions"],
            "BillingMode": props["BillingMode"],
        }
        if "GlobalSecondaryIndexes" in props:
            kwargs["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
        sse = props.get("SSESpecification", {})
        if sse.get("SSEEnabled"):
            kwargs["SSESpecification"] = {"Enabled": True}
            if keys is not None and "KMSMasterKeyId" in sse:
                kwargs["SSESpecification"] |= {"SSEType": "KMS", "KMSMasterKeyId": key_arn(keys, sse["KMSMasterKeyId"])}
        if props.get("DeletionProtectionEnabled"):
            kwargs["DeletionProtectionEnabled"] = True
        dynamodb.create_table(**kwargs)
        if "TimeToLiveSpecification" in props:
            dynamodb.update_time_to_live(TableName=name, TimeToLiveSpecification=props["TimeToLiveSpecification"])
        names[res["Metadata"]["ilopiste:table"]] = name
    return names


def create_upload_path(
    s3: Any,
    sqs: Any,
    bucket: str,
    region: str,
    template: dict[str, Any] | None = None,
    keys: dict[str, str] | None = None,
) -> dict[str, str]:
    """Bucket (encryption, lifecycle, versioning) → notification → import queue with its DLQ.

    With `keys` ({logical id: ARN}) the bucket and the queues use the template's customer-managed
    keys (SSE-KMS); without, the bucket falls back to SSE-S3 and the queues to SSE-SQS.
    """
    template = template or load_template()
    queue_props = template["Resources"]["ImportQueue"]["Properties"]
    dlq_props = template["Resources"]["ImportDeadLetterQueue"]["Properties"]

    def queue_encryption(props: dict[str, Any]) -> dict[str, str]:
        if keys is None or "KmsMasterKeyId" not in props:
            return {"SqsManagedSseEnabled": "true"}
        return {
            "KmsMasterKeyId": key_arn(keys, props["KmsMasterKeyId"]),
            "KmsDataKeyReusePeriodSeconds": str(props["KmsDataKeyReusePeriodSeconds"]),
        }

    dlq_url = sqs.create_queue(
        QueueName=f"{bucket}-imports-dlq",
        Attributes={"MessageRetentionPeriod": str(dlq_props["MessageRetentionPeriod"]), **queue_encryption(dlq_props)},
    )["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    redrive = queue_props["RedrivePolicy"]
    queue_url = sqs.create_queue(
        QueueName=f"{bucket}-imports",
        Attributes={
            "VisibilityTimeout": str(queue_props["VisibilityTimeout"]),
            **queue_encryption(queue_props),
            "RedrivePolicy": json.dumps(
                {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(redrive["maxReceiveCount"])}
            ),
        },
    )["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    bucket_props = template["Resources"]["UploadBucket"]["Properties"]
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region})

    def default_encryption(rule: dict[str, Any]) -> dict[str, Any]:
        default = rule["ServerSideEncryptionByDefault"]
        if default["SSEAlgorithm"] != "aws:kms":
            return {"ApplyServerSideEncryptionByDefault": default}
        if keys is None:
            return {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
        return {
            "ApplyServerSideEncryptionByDefault": {
                "SSEAlgorithm": "aws:kms",
                "KMSMasterKeyID": key_arn(keys, default["KMSMasterKeyID"]),
            },
            "BucketKeyEnabled": rule["BucketKeyEnabled"],
        }

    s3.put_bucket_encryption(
        Bucket=bucket,
        ServerSideEncryptionConfiguration={
            "Rules": [
                default_encryption(rule)
                for rule in bucket_props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
            ]
        },
    )
    s3.put_public_access_block(
        Bucket=bucket, PublicAccessBlockConfiguration=bucket_props["PublicAccessBlockConfiguration"]
    )
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration=bucket_props["VersioningConfiguration"])
    s3.put_bucket_lifecycle_configuration(
        Bucket=bucket,
        LifecycleConfiguration={
            "Rules": [
                {
                    "ID": rule["Id"],
                    "Status": rule["Status"],
                    "Filter": {"Prefix": rule["Prefix"]},
                    "Expiration": {"Days": rule["ExpirationInDays"]},
                }
                for rule in bucket_props["LifecycleConfiguration"]["Rules"]
            ]
        },
    )
    notification = bucket_props["NotificationConfiguration"]["QueueConfigurations"][0]
    s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={
            "QueueConfigurations": [
                {
                    "QueueArn": queue_arn,
                    "Events": [notification["Event"]],
                    "Filter": {"Key": {"FilterRules": notification["Filter"]["S3Key"]["Rules"]}},
                }
            ]
        },
    )
    return {"upload_bucket": bucket, "import_queue_url": queue_url, "import_dlq_url": dlq_url}


def create_job_queue(
    sqs: Any, prefix: str, resource: str, name: str, template: dict[str, Any] | None = None
) -> dict[str, str]:
    """A job queue (`resource`, e.g. CampaignQueue) with its dead-letter queue
    (`resource` with "DeadLetter" before "Queue"), as the template declares them.

    Their messages name a job only (a campaign, a service message; no personal data), so
    SQS-managed encryption serves.
    """
    template = template or load_template()
    queue_props = template["Resources"][resource]["Properties"]
    dlq_props = template["Resources"][resource.replace("Queue", "DeadLetterQueue")]["Properties"]
    dlq_url = sqs.create_queue(
        QueueName=f"{prefix}-{name}-dlq",
        Attributes={"MessageRetentionPeriod": str(dlq_props["MessageRetentionPeriod"]), "SqsManagedSseEnabled": "true"},
    )["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    redrive = queue_props["RedrivePolicy"]
    queue_url = sqs.create_queue(
        QueueName=f"{prefix}-{name}",
        Attributes={
            "VisibilityTimeout": str(queue_props["VisibilityTimeout"]),
            "SqsManagedSseEnabled": "true",
            "RedrivePolicy": json.dumps(
                {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(redrive["maxReceiveCount"])}
            ),
        },
    )["QueueUrl"]
    return {"queue_url": queue_url, "dlq_url": dlq_url}


def create_campaign_queue(sqs: Any, prefix: str, template: dict[str, Any] | None = None) -> dict[str, str]:
    """The campaign materialisation queue with its dead-letter queue."""
    urls = create_job_queue(sqs, prefix, "CampaignQueue", "campaigns", template)
    return {"campaign_queue_url": urls["queue_url"], "campaign_dlq_url": urls["dlq_url"]}


def create_mail_events_queue(sqs: Any, prefix: str, template: dict[str, Any] | None = None) -> dict[str, str]:
    """The queue of SES bounce and complaint events (`mail_events`) with its dead-letter queue.

    In AWS the configuration set's SNS topic delivers to it; the emulated SES bounces
    nothing, so locally only a test or a person puts an SES event (its SNS envelope) on it.
    """
    urls = create_job_queue(sqs, prefix, "MailEventsQueue", "mail-events", template)
    return {"mail_events_queue_url": urls["queue_url"], "mail_events_dlq_url": urls["dlq_url"]}


def create_mail_queue(sqs: Any, prefix: str, template: dict[str, Any] | None = None) -> dict[str, str]:
    """The mail queue (`mail_sender`'s jobs: campaigns, service messages) with its dead-letter queue."""
    urls = create_job_queue(sqs, prefix, "MailQueue", "mail", template)
    return {"mail_queue_url": urls["queue_url"], "mail_dlq_url": urls["dlq_url"]}


CLIENT_SESSION_SETTINGS = (
    "IdTokenValidity",
    "AccessTokenValidity",
    "RefreshTokenValidity",
    "TokenValidityUnits",
    "EnableTokenRevocation",
)


def create_user_pool(
    cognito: Any,
    name: str,
    template: dict[str, Any] | None = None,
    pool: str = "UserPool",
    client: str = "UserPoolClient",
) -> dict[str, str]:
    """The template's user pool `pool` with its password policy, custom attributes, client and groups."""
    template = template or load_template()
    pool_props = template["Resources"][pool]["Properties"]
    pool_id = cognito.create_user_pool(
        PoolName=name,
        Policies=pool_props["Policies"],
        Schema=[
            {
                "Name": a["Name"],
                "AttributeDataType": a["AttributeDataType"],
                "Mutable": a["Mutable"],
                "StringAttributeConstraints": a["StringAttributeConstraints"],
            }
            for a in pool_props["Schema"]
        ],
        AdminCreateUserConfig=pool_props["AdminCreateUserConfig"],
        UsernameConfiguration=pool_props["UsernameConfiguration"],
    )["UserPool"]["Id"]
    client_props = template["Resources"][client]["Properties"]
    client_id = cognito.create_user_pool_client(
        UserPoolId=pool_id,
        ClientName=client_props["ClientName"],
        GenerateSecret=False,
        ExplicitAuthFlows=client_props["ExplicitAuthFlows"],
        ReadAttributes=client_props["ReadAttributes"],
        WriteAttributes=client_props["WriteAttributes"],
        # Session lifetimes and revocation as deployed (moto stores them; its tokens last 1 h).
        **{key: client_props[key] for key in CLIENT_SESSION_SETTINGS},
    )["UserPoolClient"]["ClientId"]
    for res in resources_of(template, "AWS::Cognito::UserPoolGroup").values():
        props = res["Properties"]
        if props["UserPoolId"] != {"Ref": pool}:
            continue
        cognito.create_group(
            UserPoolId=pool_id,
            GroupName=props["GroupName"],
            Description=props["Description"],
            Precedence=props["Precedence"],
        )
    return {"user_pool_id": pool_id, "user_pool_client_id": client_id}


def mail_from(template: dict[str, Any] | None = None) -> str:
    """The sender address the template gives the functions (MAIL_FROM), from its parameter defaults."""
    template = template or load_template()
    params = template["Parameters"]
    return f"{params['MailFromLocalPart']['Default']}@{params['MailDomain']['Default']}"


def create_sender(sesv2: Any, template: dict[str, Any] | None = None) -> dict[str, str]:
    """The template's SES identity (the controller's mail domain), verified so sending works."""
    template = template or load_template()
    domain = template["Parameters"]["MailDomain"]["Default"]
    (identity,) = resources_of(template, "AWS::SES::EmailIdentity").values()
    assert identity["Properties"]["EmailIdentity"] == {"Ref": "MailDomain"}
    sesv2.create_email_identity(EmailIdentity=domain)
    return {"mail_from": mail_from(template)}


SECRETS = {"pseudonym_key_secret": "PseudonymKeySecret", "unsubscribe_secret": "UnsubscribeTokenSecret"}


def create_secrets(
    secretsmanager: Any, prefix: str, template: dict[str, Any] | None = None, keys: dict[str, str] | None = None
) -> dict[str, str]:
    """The template's generated secrets, with fresh random values, under their key from `keys` when given."""
    template = template or load_template()
    names = {}
    for key, logical in SECRETS.items():
        name = f"{prefix}/{key}"
        kwargs: dict[str, Any] = {"Name": name, "SecretString": secrets.token_urlsafe(48)}
        kms_key = template["Resources"][logical]["Properties"].get("KmsKeyId")
        if keys is not None and kms_key is not None:
            kwargs["KmsKeyId"] = key_arn(keys, kms_key)
        secretsmanager.create_secret(**kwargs)
        names[key] = name
    return names


def register_partners(dynamodb: Any, table: str, partners: list[dict[str, Any]]) -> None:
    """Put partners in the registry table as staff's POST /partners would: validated by the
    same model and rules (EU/EEA country, kind-specific fields), but not audited (set-up)."""
    from boto3.dynamodb.types import TypeSerializer

    from chalicelib.partners import NewPartner, new_item

    serializer = TypeSerializer()
    for data in partners:
        item = new_item(NewPartner.model_validate(data).model_dump(mode="json"))
        dynamodb.put_item(TableName=table, Item={k: serializer.serialize(v) for k, v in item.items()})


def provision(session: Any, prefix: str, region: str, endpoint_url: str | None = None) -> dict[str, Any]:
    """Everything the app needs, created through `session`'s clients; returns the stack info."""

    def client(service: str) -> Any:
        return session.client(service, region_name=region, endpoint_url=endpoint_url)

    template = load_template()
    keys = create_keys(client("kms"), prefix, template)
    tables = create_tables(client("dynamodb"), prefix, template, keys)
    upload = create_upload_path(client("s3"), client("sqs"), f"{prefix}-uploads", region, template, keys)
    campaign_queue = create_campaign_queue(client("sqs"), prefix, template)
    mail_queue = create_mail_queue(client("sqs"), prefix, template)
    mail_events_queue = create_mail_events_queue(client("sqs"), prefix, template)
    pool = create_user_pool(client("cognito-idp"), prefix, template)
    customer_pool = create_user_pool(
        client("cognito-idp"), f"{prefix}-customers", template, "CustomerUserPool", "CustomerUserPoolClient"
    )
    sender = create_sender(client("sesv2"), template)
    secret_names = create_secrets(client("secretsmanager"), prefix, template, keys)
    return {
        "region": region,
        "tables": tables,
        "kms_keys": keys,
        **upload,
        **campaign_queue,
        **mail_queue,
        **mail_events_queue,
        **pool,
        "customer_user_pool_id": customer_pool["user_pool_id"],
        "customer_user_pool_client_id": customer_pool["user_pool_client_id"],
        **sender,
        **secret_names,
    }


def app_environment(
    stack: dict[str, Any], stage: str = "local", public_base_url: str = "http://127.0.0.1:8000"
) -> dict[str, str]:
    """Environment variables that point the app at a provisioned stack (as Lambda's would);
    `public_base_url` is where the API is reached (links in messages)."""
    tables = stack["tables"]
    env = {
        "STAGE": stage,
        "AWS_DEFAULT_REGION": stack["region"],
        "AWS_REGION": stack["region"],
        "CUSTOMERS_TABLE": tables["customers"],
        "PROSPECTS_TABLE": tables["prospects"],
        "SUPPRESSION_TABLE": tables["suppression"],
        "AUDIT_TABLE": tables["audit"],
        "IMPORT_RUNS_TABLE": tables["import_runs"],
        "PARTNERS_TABLE": tables["partners"],
        "CAMPAIGNS_TABLE": tables["campaigns"],
        "REQUEST_CASES_TABLE": tables["request_cases"],
        "UPLOAD_BUCKET": stack["upload_bucket"],
        "IMPORT_QUEUE_URL": stack["import_queue_url"],
        "CAMPAIGN_QUEUE_URL": stack["campaign_queue_url"],
        "MAIL_QUEUE_URL": stack["mail_queue_url"],
        "USER_POOL_ID": stack["user_pool_id"],
        "USER_POOL_CLIENT_ID": stack["user_pool_client_id"],
        "CUSTOMER_USER_POOL_ID": stack["customer_user_pool_id"],
        "CUSTOMER_USER_POOL_CLIENT_ID": stack["customer_user_pool_client_id"],
        "MAIL_FROM": stack["mail_from"],
        "PSEUDONYM_KEY_SECRET": stack["pseudonym_key_secret"],
        "UNSUBSCRIBE_SECRET": stack["unsubscribe_secret"],
        "PUBLIC_BASE_URL": public_base_url,
    }
    if stack.get("aws_endpoint_url"):
        env["AWS_ENDPOINT_URL"] = stack["aws_endpoint_url"]
        # The staff console's browser code signs in against the emulator's Cognito.
        env["COGNITO_ENDPOINT"] = stack["aws_endpoint_url"]
        env["COGNITO_JWKS_URL"] = f"{stack['aws_endpoint_url']}/{stack['user_pool_id']}/.well-known/jwks.json"
        env["CUSTOMER_COGNITO_JWKS_URL"] = (
            f"{stack['aws_endpoint_url']}/{stack['customer_user_pool_id']}/.well-known/jwks.json"
        )
    return env
