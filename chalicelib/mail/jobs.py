"""The mail queue: jobs that send email, queued by the API and run by `mail_sender`.

A job is one SQS message `{"kind": <kind>, "body": {...}}` on the mail queue
(`settings().mail_queue_url`). Each kind has one handler, registered with
`register(kind, handler)` by the module that implements it; the modules are listed in
`JOB_MODULES` and imported when `mail_sender` first handles a message, so the function's
cold start loads only what sending needs.

A handler is `handler(body, time_left) -> done`: `time_left()` is the seconds the
invocation has left. It does what it can in that time and returns True when the job is
finished, False when it stopped to continue: `handle` then queues a follow-up message with
the same body, and the next invocation goes on. Handlers must be idempotent: SQS delivers
at least once, a failed invocation is retried (after the queue's visibility timeout; five
receives, then the dead-letter queue), and staff may start the same job twice. Bodies name
the job (a campaign id, a service message id), never personal data.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable
from typing import Any

from chalicelib import store
from chalicelib.config import settings

Handler = Callable[[dict[str, Any], Callable[[], float]], bool]

# The modules whose import registers a kind (each calls `register` at import time).
JOB_MODULES: tuple[str, ...] = (
    "chalicelib.mail.campaign_send",
    "chalicelib.service_messages",
    "chalicelib.mail.art14_notices",
)

_HANDLERS: dict[str, Handler] = {}


def register(kind: str, handler: Handler) -> None:
    """Make `handler` the one handler of `kind` (registering another for it is a bug)."""
    existing = _HANDLERS.get(kind)
    if existing is not None and existing is not handler:
        raise ValueError(f"mail job kind {kind} already has a handler")
    _HANDLERS[kind] = handler


def enqueue(kind: str, body: dict[str, Any]) -> None:
    """Queue a job of `kind` for `mail_sender` (the body names the job; no personal data)."""
    store.client("sqs").send_message(
        QueueUrl=settings().mail_queue_url, MessageBody=json.dumps({"kind": kind, "body": body})
    )


def _load() -> None:
    for module in JOB_MODULES:
        importlib.import_module(module)


def parse(raw: str) -> tuple[str, dict[str, Any]]:
    """The kind and body of a queue message; ValueError if it is not a job."""
    message = json.loads(raw)
    if not isinstance(message, dict):
        raise ValueError("a mail job is a JSON object")
    kind, body = message.get("kind"), message.get("body")
    if not isinstance(kind, str) or not isinstance(body, dict):
        raise ValueError("a mail job names its kind and has a body")
    return kind, body


def handle(raw: str, time_left: Callable[[], float]) -> dict[str, Any]:
    """Run the job in one queue message; queue its follow-up if it stopped to continue.

    An unknown kind or a malformed message raises (the message goes to the dead-letter
    queue after its retries, and the alarm fires); so does a handler's failure.
    """
    kind, body = parse(raw)
    _load()
    handler = _HANDLERS.get(kind)
    if handler is None:
        raise ValueError(f"no handler for mail job kind {kind}")
    done = handler(body, time_left)
    if not done:
        enqueue(kind, body)
    return {"kind": kind, "done": done}
