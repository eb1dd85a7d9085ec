"""One cold start, in a fresh interpreter (bench/coldstart.py runs it once per sample).

argv: function name, a JSON file of its first event(s). Working directory: the code tree.
The clock starts before the Lambda's handler module is imported and stops when its first
event has been handled, so work moved from import time to the first call is still counted.
Prints one JSON object: seconds (wall clock and this process's CPU), and what the event
returned (checked by the caller).
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import time
import uuid
from typing import Any

# The tree under test, not bench/ of the tree running the benchmark. Run as deployed (`-I -S`,
# BENCH_SYS_PATH set) the path has no script folder: the package, then what the runtime gives.
if os.environ.get("BENCH_SYS_PATH"):
    sys.path[:0] = [os.getcwd(), *os.environ["BENCH_SYS_PATH"].split(os.pathsep)]
else:
    sys.path[0] = os.getcwd()

# The module and handler each Lambda's handler string names (dist/sam.json).
HANDLERS = {
    "bare_chalice": ("app", "app"),
    "api_handler": ("app", "app"),
    "jwt_authorizer": ("chalicelib.api.authorizer", "jwt_authorizer"),
    "partner_import": ("chalicelib.events", "partner_import"),
    "retention_sweeper": ("chalicelib.events", "retention_sweeper"),
    "art14_notices": ("chalicelib.events", "art14_notices"),
    "register_backfill": ("chalicelib.events", "register_backfill"),
    "pseudonym_rekey": ("chalicelib.events", "pseudonym_rekey"),
}


class Context:
    """The parts of a Lambda context object the handlers read."""

    function_name = "bench"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:eu-north-1:123456789012:function:bench"

    def __init__(self) -> None:
        self.aws_request_id = str(uuid.uuid4())
        self._deadline = time.monotonic() + 900

    def get_remaining_time_in_millis(self) -> int:
        return int((self._deadline - time.monotonic()) * 1000)


def _sqs_event(body: str) -> dict[str, Any]:
    """The import queue's event for one S3 notification."""
    return {
        "Records": [
            {
                "messageId": str(uuid.uuid4()),
                "receiptHandle": "bench",
                "body": body,
                "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": str(int(time.time() * 1000))},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:eu-north-1:123456789012:ilopiste-imports",
                "awsRegion": "eu-north-1",
            }
        ]
    }


def main(function: str, event_file: str) -> dict[str, Any]:
    """Import the handler's module, handle the first event(s); the seconds both took."""
    with open(event_file, encoding="utf-8") as f:
        given = json.load(f)
    events = given if isinstance(given, list) else [given]
    if function == "partner_import":
        events = [_sqs_event(body) for body in events]
    module_name, handler_name = HANDLERS[function]
    started, cpu_started = time.perf_counter(), time.process_time()
    handler = getattr(importlib.import_module(module_name), handler_name)
    answers = [handler(event, Context()) for event in events]
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    return {"seconds": seconds, "cpu_seconds": cpu_seconds, "answers": answers}


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], sys.argv[2]), default=str))
