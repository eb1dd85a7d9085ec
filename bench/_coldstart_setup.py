"""Set-up for one code tree's cold-start probes (bench/coldstart.py), run by that tree's own
interpreter with the tree as working directory, so the stack is provisioned by the tree's own
devstack and the events are built by its own code: the same script serves the current code
and the older commit it is compared with.

argv: endpoint URL of the running emulator, a stack prefix, how many uploads to prepare.
Prints one JSON object: the Lambda environment and every function's first event.
"""

from __future__ import annotations

import gzip
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path[0] = os.getcwd()  # the tree under test, not bench/ of the tree running the benchmark

REGION = "eu-north-1"
PARTNER = "bench"


def _api_event(path: str, context: dict[str, str] | None) -> dict[str, Any]:
    """An API Gateway proxy event as API Gateway sends it to the API's Lambda."""
    request_context: dict[str, Any] = {
        "resourcePath": path,
        "httpMethod": "GET",
        "path": f"/api{path}",
        "stage": "api",
        "requestId": "bench",
        "identity": {"sourceIp": "127.0.0.1"},
    }
    if context is not None:
        request_context["authorizer"] = {**context, "principalId": context.get("principal_id", "bench")}
    return {
        "resource": path,
        "path": path,
        "httpMethod": "GET",
        "headers": {"Host": "bench.example.com", "Accept": "application/json"},
        "multiValueHeaders": {},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": request_context,
        "body": None,
        "isBase64Encoded": False,
    }


def _token(env: dict[str, str]) -> str:
    """An ID token for a staff user, signed with the emulator's Cognito key (whose JWKS the
    emulator serves at COGNITO_JWKS_URL), so the authorizer verifies it for real."""
    import jwt
    import moto.cognitoidp

    keys = Path(moto.cognitoidp.__file__).parent / "resources" / "jwks-private.json.gz"
    private = json.loads(gzip.decompress(keys.read_bytes()))
    key = jwt.PyJWK(private["keys"][0] if "keys" in private else private)
    now = int(time.time())
    claims = {
        "sub": "bench-staff",
        "iss": f"https://cognito-idp.{REGION}.amazonaws.com/{env['USER_POOL_ID']}",
        "aud": env["USER_POOL_CLIENT_ID"],
        "token_use": "id",
        "cognito:username": "bench-staff",
        "cognito:groups": ["staff"],
        "iat": now,
        "exp": now + 6 * 3600,
    }
    return jwt.encode(claims, key.key, algorithm="RS256", headers={"kid": key.key_id})


def _uploads(stack: dict[str, Any], count: int) -> list[str]:
    """`count` small CSV uploads of distinct rows, each the S3 notification its queue got."""
    import boto3

    s3 = boto3.client("s3", region_name=REGION)
    sqs = boto3.client("sqs", region_name=REGION)
    bodies: list[str] = []
    for n in range(count):
        rows = ["Organisaatio;Nimi;Titteli;Sähköposti;Puhelin"]
        rows += [f"Kunta {n}-{i};Henkilö {n} Nro{i};Johtaja;johtaja.{n}.{i}@kunta{i}.fi;" for i in range(10)]
        s3.put_object(Bucket=stack["upload_bucket"], Key=f"incoming/{PARTNER}/lista-{n}.csv", Body="\r\n".join(rows))
        deadline = time.monotonic() + 30
        while True:
            got = sqs.receive_message(QueueUrl=stack["import_queue_url"], MaxNumberOfMessages=1, WaitTimeSeconds=1)
            message = (got.get("Messages") or [None])[0]
            if message:
                sqs.delete_message(QueueUrl=stack["import_queue_url"], ReceiptHandle=message["ReceiptHandle"])
                if json.loads(message["Body"]).get("Event") == "s3:TestEvent":
                    continue  # S3's message when the notification was set up, not an upload
                bodies.append(message["Body"])
                break
            if time.monotonic() > deadline:
                raise RuntimeError("no S3 notification reached the import queue")
    return bodies


def main(endpoint: str, prefix: str, uploads: int) -> dict[str, Any]:
    """Provision, register the data provider, build every first event."""
    import boto3

    from devstack import provision

    stack = provision.provision(boto3.session.Session(), prefix, REGION, endpoint_url=endpoint)
    stack["aws_endpoint_url"] = endpoint
    env = provision.app_environment(stack, stage="bench")
    os.environ.update(env)

    from chalicelib import clock
    from chalicelib.auth import Principal
    from chalicelib.partners import NewPartner
    from chalicelib.registers import Role

    partner: dict[str, Any] = {
        "partner_id": PARTNER,
        "name": "Bench Oy",
        "kind": "data_provider",
        "contact": {"email": "info@bench.example.com"},
        "country": "FI",
        "notice_delivered_at": clock.local_date().isoformat(),
    }
    try:
        from chalicelib import notice

        partner["notice_version"] = notice.version()
    except (ImportError, AttributeError):
        pass
    fields = NewPartner.model_fields
    partner = {k: v for k, v in partner.items() if k in fields}  # the older commit knows fewer fields
    provision.register_partners(boto3.client("dynamodb", region_name=REGION), stack["tables"]["partners"], [partner])
    staff = Principal(principal_id="bench-staff", roles=frozenset({Role.STAFF}), username="bench-staff")
    return {
        "env": env,
        "events": {
            "jwt_authorizer": {
                "type": "TOKEN",
                "authorizationToken": f"Bearer {_token(env)}",
                "methodArn": "arn:aws:execute-api:eu-north-1:123456789012:bench/api/GET/customers",
            },
            "api_handler": [_api_event("/privacy-notice", None), _api_event("/customers", staff.to_context())],
            "partner_import": _uploads(stack, uploads),
            "retention_sweeper": {"dry_run": True},
            "art14_notices": {},
            "register_backfill": {},
            "pseudonym_rekey": {},
        },
    }


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], sys.argv[2], int(sys.argv[3]))))
