"""The local stack as a subprocess on free ports: for end-to-end tests and benchmarks."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

PROJECT_DIR = Path(__file__).resolve().parent.parent


class StackDidNotStart(RuntimeError):
    """The stack exited or did not write its stack.json in time; the message has its log's tail."""


@dataclass
class StackProcess:
    info: dict[str, Any]  # the stack's stack.json
    log_path: Path  # everything the process wrote: API, worker, emulator


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@contextmanager
def local_stack_process(state_dir: Path, start_timeout: float) -> Iterator[StackProcess]:
    """Start `python -m devstack` in `state_dir`; wait (bounded) for stack.json; always stop it."""
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
            deadline = time.monotonic() + start_timeout
            while not stack_file.exists():
                if proc.poll() is not None or time.monotonic() > deadline:
                    tail = log_path.read_text(errors="replace")[-4000:]
                    raise StackDidNotStart(f"local stack did not start (exit {proc.poll()}):\n{tail}")
                time.sleep(0.1)
            yield StackProcess(info=json.loads(stack_file.read_text()), log_path=log_path)
        finally:
            _stop(proc)


def aws_client(info: dict[str, Any], service: str) -> Any:
    """A real boto3 client for the stack's emulator (dummy credentials)."""
    return boto3.client(
        service,
        region_name=info["region"],
        endpoint_url=info["aws_endpoint_url"],
        aws_access_key_id="testing",
        aws_secret_access_key="testing",  # noqa: S106 - the emulator's dummy credentials
    )


def login(info: dict[str, Any], kind: str) -> str:
    """An ID token for a demo user of the stack, through the emulated Cognito (USER_PASSWORD_AUTH)."""
    user = info["users"][kind]
    client_id = info["customer_user_pool_client_id"] if user.get("pool") == "customer" else info["user_pool_client_id"]
    resp = aws_client(info, "cognito-idp").initiate_auth(
        ClientId=client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": user["username"], "PASSWORD": user["password"]},
    )
    return str(resp["AuthenticationResult"]["IdToken"])
