"""Fault injection for the in-process emulator: throttling, server errors, resets, lost replies.

The app's boto3 clients (chalicelib/store.py) keep their real retry configuration; the
faults enter below it, at botocore's `before-send` event, where moto answers requests.
On each app client the injector takes moto's place on that event and, per request,
either answers with a fault or hands the request to moto:

* `reject`: an error response the service sends *without* doing anything (throttling,
  500/503). botocore parses it like any response, so its retry handler really retries.
* `reset`: the connection drops before the request arrives (`ConnectionClosedError`).
* `lost_reply`: moto *does* the request, then the reply is lost (`ReadTimeoutError`):
  the retry repeats a request that already took effect, which is what makes
  conditional writes and counters go wrong.

DynamoDB's documented idempotency of TransactWriteItems (the same `ClientRequestToken`
within 10 minutes succeeds again without a second write; botocore fills the token in once
per call, so its retries carry it) is not emulated by moto, so the injector emulates it:
without that, a lost reply to a transaction would look like a conflict that real DynamoDB
never reports.

No sleeping: `install` replaces the sleep between botocore's retries and the adaptive
mode's client-side rate limiter wait (botocore.retries.bucket.TokenBucket) with recorders,
and the import pipeline's own backoff (`pipeline.pause`).
"""

from __future__ import annotations

import io
import json
from collections import Counter
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import botocore.endpoint
import botocore.retries.bucket
import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ConnectionClosedError, ReadTimeoutError
from moto.core.models import botocore_stubber


class LambdaKilled(BaseException):
    """The runtime stopping the function (timeout, out of memory): no `except Exception` sees it."""


@dataclass(frozen=True)
class Fault:
    """One kind of failure: an error code with its HTTP status, or a dropped connection."""

    kind: str  # "reject" | "reset" | "lost_reply"
    code: str = ""
    status: int = 0


# DynamoDB
PROVISIONED_THROUGHPUT = Fault("reject", "ProvisionedThroughputExceededException", 400)
THROTTLING = Fault("reject", "ThrottlingException", 400)
REQUEST_LIMIT = Fault("reject", "RequestLimitExceeded", 400)
INTERNAL_SERVER_ERROR = Fault("reject", "InternalServerError", 500)
# S3
SLOW_DOWN = Fault("reject", "SlowDown", 503)
S3_INTERNAL_ERROR = Fault("reject", "InternalError", 500)
SERVICE_UNAVAILABLE = Fault("reject", "ServiceUnavailable", 503)
# Cognito
TOO_MANY_REQUESTS = Fault("reject", "TooManyRequestsException", 400)
# Any service
CONNECTION_RESET = Fault("reset")
LOST_REPLY = Fault("lost_reply")

DYNAMODB_FAULTS = (PROVISIONED_THROUGHPUT, THROTTLING, REQUEST_LIMIT, INTERNAL_SERVER_ERROR, CONNECTION_RESET)
S3_FAULTS = (SLOW_DOWN, S3_INTERNAL_ERROR, SERVICE_UNAVAILABLE, CONNECTION_RESET)
RETRY_BUDGET = 11  # store.RETRY_CONFIG max_attempts=10 counts retries: 11 attempts per call in all


@dataclass
class Plan:
    """Fail `times` matching requests (after letting `after` through), then pass them."""

    service: str  # botocore's hyphenated service id: dynamodb, s3, cognito-identity-provider
    operation: str  # e.g. PutItem, or "*"
    fault: Fault
    times: int
    after: int = 0
    every: int = 1  # with `every` = k, only each k-th matching request fails
    url_contains: str = ""  # only requests whose URL holds this (an S3 key, say)
    body_contains: str = ""  # only requests whose body holds this (a DynamoDB table's name, say)
    seen: int = 0
    injected: int = 0

    def matches(self, service: str, operation: str, url: str, body: bytes) -> bool:
        return (
            self.service == service
            and self.operation in ("*", operation)
            and self.url_contains in url
            and self.body_contains.encode() in body
        )

    def fires(self) -> bool:
        """Count one matching request; True if this one should fail."""
        self.seen += 1
        if self.injected >= self.times or self.seen <= self.after:
            return False
        if (self.seen - self.after) % self.every:
            return False
        self.injected += 1
        return True


class _Raw(io.BytesIO):
    def stream(self, **_: Any) -> Any:
        yield self.read()


def _error_response(url: str, service: str, fault: Fault) -> AWSResponse:
    if service == "s3":
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>'
            f"<Error><Code>{fault.code}</Code><Message>Injected fault</Message>"
            "<RequestId>FAULT</RequestId></Error>"
        ).encode()
        headers = {"Content-Type": "application/xml", "x-amz-request-id": "FAULT"}
    else:
        prefix = "com.amazonaws.dynamodb.v20120810#" if service == "dynamodb" else ""
        body = json.dumps({"__type": f"{prefix}{fault.code}", "message": "Injected fault"}).encode()
        headers = {"Content-Type": "application/x-amz-json-1.1", "x-amzn-RequestId": "FAULT"}
    return AWSResponse(url, fault.status, headers, _Raw(body))


def _ok(url: str) -> AWSResponse:
    return AWSResponse(url, 200, {"Content-Type": "application/x-amz-json-1.0"}, _Raw(b"{}"))


@dataclass
class FaultInjector:
    """Faults on the app's clients; `injected` counts what was injected per (service, op)."""

    plans: list[Plan] = field(default_factory=list)
    calls: Counter[tuple[str, str]] = field(default_factory=Counter)
    injected: Counter[tuple[str, str]] = field(default_factory=Counter)
    retry_sleeps: list[float] = field(default_factory=list)
    _committed_tokens: set[str] = field(default_factory=set)

    def attach(self, client: Any) -> None:
        """Stand between `client` and moto (idempotent per client)."""
        events = client.meta.events
        events.unregister("before-send", botocore_stubber)
        events.unregister("before-send", unique_id="fault-injector")
        events.register_first("before-send", self._before_send, unique_id="fault-injector")

    def inject(
        self,
        service: str,
        operation: str,
        fault: Fault,
        times: int = 1,
        *,
        after: int = 0,
        every: int = 1,
        url_contains: str = "",
        body_contains: str = "",
    ) -> Plan:
        plan = Plan(service, operation, fault, times, after, every, url_contains, body_contains)
        self.plans.append(plan)
        return plan

    def clear(self) -> None:
        self.plans.clear()

    def total(self, service: str | None = None) -> int:
        return sum(n for (s, _), n in self.injected.items() if service in (None, s))

    def _before_send(self, request: Any, event_name: str, **kwargs: Any) -> Any:
        _, service, operation = event_name.split(".", 2)
        self.calls[(service, operation)] += 1
        token = self._transaction_token(operation, request)
        if token and token in self._committed_tokens:
            return _ok(request.url)  # DynamoDB: the same token again succeeds without writing
        body = request.body if isinstance(request.body, bytes) else str(request.body or "").encode()
        plan = next((p for p in self.plans if p.matches(service, operation, request.url, body) and p.fires()), None)
        if plan is None:
            return self._emulate(event_name, request, token)
        self.injected[(service, operation)] += 1
        if plan.fault.kind == "reject":
            return _error_response(request.url, service, plan.fault)
        if plan.fault.kind == "reset":
            raise ConnectionClosedError(endpoint_url=request.url)
        self._emulate(event_name, request, token)
        raise ReadTimeoutError(endpoint_url=request.url)

    def _emulate(self, event_name: str, request: Any, token: str | None) -> Any:
        response = botocore_stubber(event_name=event_name, request=request)
        if token and response is not None and response.status_code == 200:
            self._committed_tokens.add(token)
        return response

    @staticmethod
    def _transaction_token(operation: str, request: Any) -> str | None:
        if operation != "TransactWriteItems" or not request.body:
            return None
        body = request.body if isinstance(request.body, bytes) else str(request.body).encode()
        return json.loads(body).get("ClientRequestToken")


def install(monkeypatch: pytest.MonkeyPatch) -> FaultInjector:
    """Attach a fresh injector to every client of chalicelib.store, with retries that never sleep."""
    from chalicelib import store
    from chalicelib.imports import pipeline

    injector = FaultInjector()
    monkeypatch.setattr(botocore.endpoint, "time", SimpleNamespace(sleep=injector.retry_sleeps.append))
    monkeypatch.setattr(botocore.retries.bucket.TokenBucket, "acquire", lambda self, amount=1, block=True: True)
    monkeypatch.setattr(pipeline, "pause", injector.retry_sleeps.append)
    for service in ("dynamodb", "s3", "cognito-idp", "sqs"):
        injector.attach(store.client(service))
    injector.attach(store.resource("dynamodb").meta.client)
    return injector
