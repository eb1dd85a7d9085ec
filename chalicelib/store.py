"""DynamoDB and other AWS clients, created once per process with retrying config.

Tables are named by the infrastructure (environment variables set from the merge
template); nothing here declares a key schema.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import operator
import os
from collections.abc import Callable
from decimal import Decimal
from functools import cache
from typing import Any

import boto3
from boto3.dynamodb.conditions import Attr, Key
from boto3.dynamodb.types import TypeSerializer
from botocore.config import Config
from botocore.exceptions import ClientError

from chalicelib.config import settings
from chalicelib.errors import Conflict, ValidationFailed

# Adaptive mode backs off on throttling (ProvisionedThroughputExceeded, ThrottlingException)
# instead of failing the request; 10 attempts ride out a burst.
RETRY_CONFIG = Config(retries={"mode": "adaptive", "max_attempts": 10}, connect_timeout=5, read_timeout=30)
# Amazon SES has no idempotency token: a SendEmail repeated after a lost reply can send the
# message twice. Campaign mail goes through a client that never repeats a request by itself;
# its caller retries only the refusals that prove nothing was sent (throttling).
SEND_ONCE_CONFIG = Config(retries={"mode": "standard", "total_max_attempts": 1}, connect_timeout=5, read_timeout=30)

_SERIALIZER = TypeSerializer()


def typed(values: dict[str, Any]) -> dict[str, Any]:
    """Plain values in DynamoDB's typed form, for client calls (transactions, expression values)."""
    return {k: _SERIALIZER.serialize(v) for k, v in values.items()}


def typed_item(item: dict[str, Any]) -> dict[str, Any]:
    """An item to store in typed form; absent (None) attributes are left out, not written as NULL."""
    return typed({k: v for k, v in item.items() if v is not None})


def condition_failed(exc: ClientError) -> bool:
    """True if a write, or a transaction, was refused because one of its conditions did not hold."""
    code = exc.response.get("Error", {}).get("Code")
    if code == "ConditionalCheckFailedException":
        return True
    if code == "TransactionCanceledException":
        return any(r.get("Code") == "ConditionalCheckFailed" for r in exc.response.get("CancellationReasons") or [])
    return False


def transact(items: list[dict[str, Any]], conflict_message: str) -> None:
    """One TransactWriteItems (a change and its audit event commit together); a failed
    condition is a `Conflict` with `conflict_message`."""
    try:
        client("dynamodb").transact_write_items(TransactItems=items)
    except ClientError as exc:
        if condition_failed(exc):
            raise Conflict(conflict_message) from None
        raise


@cache
def resource(service: str) -> Any:
    return boto3.resource(service, region_name=settings().region, config=RETRY_CONFIG)


@cache
def client(service: str) -> Any:
    return boto3.client(service, region_name=settings().region, config=RETRY_CONFIG)


@cache
def send_once_client(service: str) -> Any:
    """A client that makes each request once (no automatic retries): see SEND_ONCE_CONFIG."""
    return boto3.client(service, region_name=settings().region, config=SEND_ONCE_CONFIG)


@cache
def s3_signer() -> Any:
    """S3 for signing browser forms (presigned POSTs): SigV4, and in AWS the bucket's regional
    virtual-hosted address (`https://<bucket>.s3.<region>.amazonaws.com/`). botocore's default
    for a POST is the global s3.amazonaws.com, which redirects for a new bucket outside
    us-east-1, and a browser's cross-origin POST cannot follow that. An emulator's endpoint
    (`AWS_ENDPOINT_URL`, an IP and port) takes path-style addresses."""
    emulated = bool(os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL"))
    signing = Config(signature_version="s3v4", s3={"addressing_style": "path" if emulated else "virtual"})
    return boto3.client("s3", region_name=settings().region, config=RETRY_CONFIG.merge(signing))


@cache
def table(name: str) -> Any:
    """A boto3 Table by its deployed name; built once (boto3 builds a resource class from its
    model for every `Table(...)`, about 1.5 ms, paid per call in the sending loop otherwise)."""
    return resource("dynamodb").Table(name)


def customers() -> Any:
    return table(settings().customers_table)


def prospects() -> Any:
    return table(settings().prospects_table)


def suppression() -> Any:
    return table(settings().suppression_table)


def audit() -> Any:
    return table(settings().audit_table)


def import_runs() -> Any:
    return table(settings().import_runs_table)


def partners() -> Any:
    return table(settings().partners_table)


def campaigns() -> Any:
    return table(settings().campaigns_table)


def request_cases() -> Any:
    return table(settings().request_cases_table)


def reset() -> None:
    """Forget cached clients and settings (tests switch emulators between cases)."""
    from chalicelib import secrets

    resource.cache_clear()
    table.cache_clear()
    client.cache_clear()
    send_once_client.cache_clear()
    s3_signer.cache_clear()
    settings.cache_clear()
    secrets.clear_cache()


def encode_cursor(last_key: dict[str, Any] | None) -> str | None:
    """An opaque pagination cursor from DynamoDB's LastEvaluatedKey."""
    if not last_key:
        return None
    raw = json.dumps(last_key, sort_keys=True, separators=(",", ":"), default=str).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


# A name search is a filter over the register's list index (no name is indexed): one request
# reads the list NAME_SEARCH_PAGE items at a time until NAME_SEARCH_MATCHES are found or
# NAME_SEARCH_READ items are read, so an answer holds at most MATCHES + PAGE - 1 records and
# may hold none with a cursor to follow.
NAME_SEARCH_PAGE = 100
NAME_SEARCH_MATCHES = 25
NAME_SEARCH_READ = 1000


def gather_matches(read_page: Callable[[int, str | None], dict[str, Any]], cursor: str | None) -> dict[str, Any]:
    """Pages of a filtered list (`read_page(limit, cursor)`, the limit counting items read)
    until enough matches or the read budget: `{"items", "next_cursor"}`."""
    items: list[dict[str, Any]] = []
    read = 0
    while True:
        page = read_page(NAME_SEARCH_PAGE, cursor)
        items.extend(page["items"])
        read += NAME_SEARCH_PAGE
        cursor = page["next_cursor"]
        if not cursor or len(items) >= NAME_SEARCH_MATCHES or read >= NAME_SEARCH_READ:
            return {"items": items, "next_cursor": cursor}


def text_contains(attribute: str, text: str) -> Any:
    """A filter: `attribute` contains `text` as typed, in lower case, or capitalised.
    DynamoDB's `contains` is case-sensitive and names are stored as people wrote them."""
    variants = sorted({text, text.lower(), text.title(), text.capitalize()})
    return functools.reduce(operator.or_, (Attr(attribute).contains(v) for v in variants))


def query_page(table: Any, cursor: str | None, key_names: set[str], **query: Any) -> dict[str, Any]:
    """One page of a Query: `{"items", "next_cursor"}`, resuming after `cursor`.

    `key_names` are the attributes a valid cursor may hold (table keys plus index keys).
    With a FilterExpression a page can hold fewer than `Limit` items; follow the cursor.
    """
    start = decode_cursor(cursor, key_names)
    if start:
        query["ExclusiveStartKey"] = start
    try:
        resp = table.query(**query)
    except ClientError as exc:
        # A well-formed cursor of another partition or index: DynamoDB refuses the start key.
        if start and exc.response["Error"]["Code"] == "ValidationException":
            raise ValidationFailed("The cursor is not valid.", code="invalid_cursor") from None
        raise
    return {"items": resp["Items"], "next_cursor": encode_cursor(resp.get("LastEvaluatedKey"))}


def query_all(table: Any, **query: Any) -> list[dict[str, Any]]:
    """Every item a Query matches, across all pages (for one partition: small by design)."""
    items: list[dict[str, Any]] = []
    while True:
        resp = table.query(**query)
        items.extend(resp["Items"])
        if "LastEvaluatedKey" not in resp:
            return items
        query["ExclusiveStartKey"] = resp["LastEvaluatedKey"]


def partition_keys(table: Any, pk: str) -> list[dict[str, str]]:
    """The keys of every item under one partition key."""
    items = query_all(table, KeyConditionExpression=Key("pk").eq(pk), ProjectionExpression="pk, sk")
    return [{"pk": i["pk"], "sk": i["sk"]} for i in items]


def decode_cursor(cursor: str | None, allowed_keys: set[str]) -> dict[str, Any] | None:
    """Parse a cursor from `encode_cursor`; anything else is a 400, not a 500."""
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        key = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise ValidationFailed("The cursor is not valid.", code="invalid_cursor") from None
    if (
        not isinstance(key, dict)
        or set(key) != allowed_keys
        or not all(isinstance(v, str) and len(v) <= 1024 for v in key.values())
    ):
        raise ValidationFailed("The cursor is not valid.", code="invalid_cursor")
    return key


def plain(value: Any) -> Any:
    """DynamoDB's Decimals back to ints (or floats), so numbers read as numbers in JSON.

    The one copy: imports' run summaries and the retention sweep's summaries use it.
    """
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value
