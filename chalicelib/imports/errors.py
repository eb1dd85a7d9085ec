"""What stops reading an upload: the file itself (`UnreadableFile`), or the clock (`OutOfTime`)."""

from __future__ import annotations


class UnreadableFile(ValueError):
    """The file as a whole cannot be imported (format, encoding, columns, bounds); carries a code."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


class OutOfTime(Exception):
    """This invocation's share of time ran out while reading; the run continues from its checkpoint."""
