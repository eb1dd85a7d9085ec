"""The local stack (`python -m devstack`) as a subprocess on free ports, once per session."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any, cast

import pytest
import requests

from devstack.process import StackDidNotStart, aws_client, local_stack_process, login

PROJECT_DIR = Path(__file__).resolve().parents[2]
START_TIMEOUT = 60.0  # a bound on start-up, not a speed assertion (`make bench` measures speed)


@dataclass
class RunningStack:
    """A started local stack: its stack.json, and real clients for it."""

    info: dict[str, Any]
    # Everything the stack process wrote (stdout and stderr: API, worker, emulator).
    log_path: Path | None = None

    def client(self, service: str) -> Any:
        return aws_client(self.info, service)

    def login(self, kind: str) -> str:
        """An ID token for a demo user, through the emulated Cognito (USER_PASSWORD_AUTH)."""
        return login(self.info, kind)

    def outbox(self, to: str) -> list[EmailMessage]:
        """The `.eml` files the stack wrote for messages to `to`, oldest first."""
        found = []
        for path in sorted(Path(self.info["outbox_dir"]).glob("*.eml")):
            msg = cast(EmailMessage, email.message_from_bytes(path.read_bytes(), policy=email.policy.default))
            if str(msg["To"]).lower() == to.lower():
                found.append(msg)
        return found

    def http(self, method: str, path: str, token: str | None = None, body: Any = None) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        resp = requests.request(method, self.info["api_url"] + path, headers=headers, json=body, timeout=30)
        return resp.status_code, resp.json() if resp.content else None


def running_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    """Start `python -m devstack` on free ports; wait (bounded) for its stack.json; stop it after.

    The `local_stack` fixture (tests/conftest.py, once per session for tests/e2e and
    tests/browser alike) yields from this."""
    try:
        with local_stack_process(tmp_path_factory.mktemp("devstack"), START_TIMEOUT) as proc:
            yield RunningStack(info=proc.info, log_path=proc.log_path)
    except StackDidNotStart as exc:
        pytest.fail(str(exc))
