"""The local stack's outbox: every message the emulated SES accepted, one `.eml` file each.

moto runs in this process, so its SES backend's sent messages are read directly and
copied, in the order SES accepted them, to `<state_dir>/outbox/NNNNN-<message id>.eml`,
where a person can open exactly what would have been sent (DESIGN §3, `outbox_dir`).
"""

from __future__ import annotations

import email
import email.policy
import re
import threading
from pathlib import Path
from typing import Any

from moto.core import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends

CONFIRMATION_CODE = re.compile(r"\b[0-9a-f]{32}\.[A-Za-z0-9_-]{20,100}")


class Outbox:
    """Copies the emulated SES's sent messages to `directory` (on `flush`, or every second)."""

    def __init__(self, directory: Path, region: str) -> None:
        self.directory = directory
        self.region = region
        self._written = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        directory.mkdir(parents=True, exist_ok=True)
        for old in directory.glob("*.eml"):
            old.unlink()  # a fresh stack: messages of an earlier run are not this emulator's

    def _sent(self) -> list[Any]:
        return [m for m in ses_backends[DEFAULT_ACCOUNT_ID][self.region].sent_messages if hasattr(m, "raw_data")]

    def flush(self) -> list[Path]:
        """Write the messages accepted since the last flush; returns their files."""
        with self._lock:
            new = self._sent()[self._written :]
            paths = []
            for n, message in enumerate(new, start=self._written + 1):
                path = self.directory / f"{n:05d}-{message.id}.eml"
                path.write_text(message.raw_data)
                paths.append(path)
            self._written += len(new)
            return paths

    def confirmation_code(self, to: str) -> str:
        """The confirmation code in the latest message to `to` (the demo customer's own step)."""
        self.flush()
        for message in reversed(self._sent()):
            parsed = email.message_from_string(message.raw_data, policy=email.policy.default)
            body = parsed.get_body(preferencelist=("plain",))
            if str(parsed["To"]).lower() == to.lower() and body is not None:
                match = CONFIRMATION_CODE.search(body.get_content())
                if match:
                    return match.group(0)
        raise LookupError("no confirmation message to that address")

    def start(self) -> None:
        def run() -> None:
            while not self._stop.wait(1.0):
                self.flush()

        self._thread = threading.Thread(target=run, name="devstack-outbox", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.flush()
