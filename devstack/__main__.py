"""`python -m devstack` (what `make run` calls): the local stack in the foreground.

Ports and the state directory come from flags or the environment (DEVSTACK_HOST,
DEVSTACK_AWS_PORT, DEVSTACK_API_PORT, DEVSTACK_STATE_DIR), so tests can run a stack on
free ports beside a developer's. Ctrl-C or SIGTERM stops the worker, the API and the
emulator, and removes the stack file.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from devstack.stack import LocalStack, Options, PortInUse


def parse_options(argv: list[str] | None = None) -> Options:
    defaults = Options()
    env = os.environ
    parser = argparse.ArgumentParser(prog="python -m devstack", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=env.get("DEVSTACK_HOST", defaults.host))
    parser.add_argument("--aws-port", type=int, default=int(env.get("DEVSTACK_AWS_PORT", defaults.aws_port)))
    parser.add_argument("--api-port", type=int, default=int(env.get("DEVSTACK_API_PORT", defaults.api_port)))
    parser.add_argument("--state-dir", type=Path, default=Path(env.get("DEVSTACK_STATE_DIR", defaults.state_dir)))
    args = parser.parse_args(argv)
    return Options(host=args.host, aws_port=args.aws_port, api_port=args.api_port, state_dir=args.state_dir)


def banner(stack: LocalStack) -> str:
    """What a developer needs to start calling the stack (demo credentials of an emulator)."""
    info = stack.info
    users = info["users"]
    ep = info["aws_endpoint_url"]
    staff, dpo = users["staff"], users["dpo"]
    lines = [
        "",
        "Ilopiste local stack is up",
        f"  open {info['console_url']} and sign in as {staff['username']} / {staff['password']}",
        f"    (or the DPO: {dpo['username']} / {dpo['password']})",
        "",
        f"  API                {info['api_url']}",
        f"  AWS emulator       {ep}   (region {info['region']})",
        f"  user pool          {info['user_pool_id']}   client {info['user_pool_client_id']}",
        f"  customer pool      {info['customer_user_pool_id']}   client {info['customer_user_pool_client_id']}",
        f"  outbox (.eml)      {info['outbox_dir']}",
        f"  upload bucket      {info['upload_bucket']}",
        f"  import queue       {info['import_queue_url']}",
        f"  stack file         {stack.stack_file}",
        f"  partners           {', '.join(info['partners'])}   (registry: GET /partners as staff)",
        "  demo users (password):",
    ]
    for kind, user in users.items():
        extra = f" partner_id={user['partner_id']}" if "partner_id" in user else ""
        extra += f" customer_id={user['customer_id']}" if "customer_id" in user else ""
        lines.append(f"    {kind:<9} {user['username']:<14} {user['password']}{extra}")
    lines += [
        "  try:",
        "    export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION=" + info["region"],
        f"    TOKEN=$(.venv/bin/aws --endpoint-url {ep} cognito-idp initiate-auth --auth-flow USER_PASSWORD_AUTH \\",
        f"      --client-id {info['user_pool_client_id']} \\",
        f"      --auth-parameters USERNAME={staff['username']},PASSWORD={staff['password']} \\",
        "      --query AuthenticationResult.IdToken --output text)",
        f'    curl -H "Authorization: Bearer $TOKEN" {info["api_url"]}/customers',
        f"    .venv/bin/aws --endpoint-url {ep} s3 cp list.csv s3://{info['upload_bucket']}/incoming/acme/",
        "  Ctrl-C stops everything.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(stream=sys.stdout, level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    stack = LocalStack(parse_options(argv))
    stopping = threading.Event()
    started = threading.Event()

    def on_signal(signum: int, _frame: Any) -> None:
        stopping.set()
        if not started.is_set():
            raise KeyboardInterrupt  # interrupt a start-up that is still waiting on something

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        stack.start()
        started.set()
        print(banner(stack), flush=True)
        while not stopping.wait(1):
            pass
    except PortInUse as exc:
        print(f"devstack: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        pass
    finally:
        logging.getLogger("devstack").info("stopping the local stack")
        stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
