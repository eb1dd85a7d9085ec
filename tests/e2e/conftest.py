"""The local stack (`python -m devstack`) as a subprocess on free ports, once per session."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests

PROJECT_DIR = Path(__file__).resolve().parents[2]
START_TIMEOUT = 60.0  # a bound on start-up, not a speed assertion (`make bench` measures speed)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class RunningStack:
    """A started local stack: its stack.json, and real clients for it."""

    info: dict[str, Any]
    # Everything the stack process wrote (stdout and stderr: API, worker, emulator).
    log_path: Path | None = None

    def client(self, service: str) -> Any:
        return boto3.client(
            service,
            region_name=self.info["region"],
            endpoint_url=self.info["aws_endpoint_url"],
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def login(self, kind: str) -> str:
        """An ID token for a demo user, through the emulated Cognito (USER_PASSWORD_AUTH)."""
        user = self.info["users"][kind]
        resp = self.client("cognito-idp").initiate_auth(
            ClientId=self.info["user_pool_client_id"],
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": user["username"], "PASSWORD": user["password"]},
        )
        return str(resp["AuthenticationResult"]["IdToken"])

    def http(self, method: str, path: str, token: str | None = None, body: Any = None) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        resp = requests.request(method, self.info["api_url"] + path, headers=headers, json=body, timeout=30)
        return resp.status_code, resp.json() if resp.content else None


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@pytest.fixture(scope="session")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    """Start `python -m devstack` on free ports; wait (bounded) for its stack.json; stop it after."""
    state_dir = tmp_path_factory.mktemp("devstack")
    log_path = state_dir / "devstack.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        DEVSTACK_AWS_PORT=str(free_port()),
        DEVSTACK_API_PORT=str(free_port()),
        DEVSTACK_STATE_DIR=str(state_dir),
        PYTHONUNBUFFERED="1",
    )
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "devstack"], cwd=PROJECT_DIR, env=env, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            stack_file = state_dir / "stack.json"
            deadline = time.monotonic() + START_TIMEOUT
            while not stack_file.exists():
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"local stack did not start (exit {proc.poll()}):\n{log_path.read_text()[-4000:]}")
                time.sleep(0.1)
            yield RunningStack(info=json.loads(stack_file.read_text()), log_path=log_path)
        finally:
            _stop(proc)
