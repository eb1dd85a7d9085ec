"""The people a file has brought so far, as 64-bit fingerprints in 8 bytes each.

The import needs them twice: to spot the same person again in the file, and at the end of a
full refresh to tell who is missing. A Python `set[int]` costs about 60 bytes per row (a
1,000,000-row file: ~60 MiB, a Python object per row); here the fingerprints live in one
sorted `array('Q')`, searched by bisection, with the newest few in a small set that is
merged into the array when it fills. Memory is 8 bytes per distinct person plus the buffer.
"""

from __future__ import annotations

import heapq
from array import array
from bisect import bisect_left
from collections.abc import Iterable

BUFFER = 1 << 16  # fingerprints held as Python ints before a merge (~4 MiB)


class SeenRows:
    """A set of 64-bit fingerprints: membership and adding, in flat memory."""

    def __init__(self, buffer: int = BUFFER) -> None:
        self._sorted = array("Q")
        self._recent: set[int] = set()
        self._buffer = buffer

    def __contains__(self, fingerprint: object) -> bool:
        if fingerprint in self._recent:
            return True
        at = bisect_left(self._sorted, fingerprint)  # type: ignore[call-overload]
        return at < len(self._sorted) and bool(self._sorted[at] == fingerprint)

    def __len__(self) -> int:
        return len(self._sorted) + len(self._recent)

    def add(self, fingerprint: int) -> None:
        """Add one fingerprint (one already held is left as it is)."""
        if fingerprint in self:
            return
        self._recent.add(fingerprint)
        if len(self._recent) >= self._buffer:
            self._merge()

    def update(self, fingerprints: Iterable[int]) -> None:
        for fingerprint in fingerprints:
            self.add(fingerprint)

    def nbytes(self) -> int:
        """The array's bytes (what stays; the buffer is bounded by `buffer`)."""
        return self._sorted.buffer_info()[1] * self._sorted.itemsize

    def _merge(self) -> None:
        # A streaming merge into a new array: no list of every fingerprint is ever built.
        self._sorted = array("Q", heapq.merge(self._sorted, sorted(self._recent)))
        self._recent = set()
