"""The people a file has brought so far, as 64-bit fingerprints in 8 bytes each.

The import needs them twice: to spot the same person again in the file, and at the end of a
full refresh to tell who is missing. A Python `set[int]` costs about 60 bytes per row (a
1,000,000-row file: ~60 MiB, a Python object per row); here the fingerprints live in one
sorted `array('Q')`, searched by bisection, with the newest few in a small set that is
merged into the array when it fills. Memory is 8 bytes per distinct person plus the buffer,
and twice the array for the moment of a merge (the new array is built beside the old).
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

    def __contains__(self, fingerprint: int) -> bool:
        if fingerprint in self._recent:
            return True
        at = bisect_left(self._sorted, fingerprint)  # type: ignore[call-overload]
        return at < len(self._sorted) and bool(self._sorted[at] == fingerprint)

    def __len__(self) -> int:
        return len(self._sorted) + len(self._recent)

    def add(self, fingerprint: int) -> bool:
        """Add one fingerprint; False if it was held already."""
        if fingerprint in self:
            return False
        self._recent.add(fingerprint)
        if len(self._recent) >= self._buffer:
            self._merge()
        return True

    def update(self, fingerprints: Iterable[int]) -> None:
        for fingerprint in fingerprints:
            self.add(fingerprint)

    def load(self, windows: Iterable[bytes]) -> None:
        """Add earlier invocations' fingerprints (each work file an `array('Q')`'s bytes) at once.

        Each window is sorted alone, then all are merged with what is held in one pass, rather
        than added one by one: a segment resuming at row 900,000 loads in one merge.
        """
        sorted_runs = [self._sorted, array("Q", sorted(self._recent))]
        sorted_runs += [array("Q", sorted(array("Q", body))) for body in windows]
        merged, last = array("Q"), None
        for fingerprint in heapq.merge(*sorted_runs):
            if fingerprint != last:
                merged.append(fingerprint)
                last = fingerprint
        self._sorted, self._recent = merged, set()

    def nbytes(self) -> int:
        """The array's bytes (what stays; the buffer is bounded by `buffer`)."""
        return self._sorted.buffer_info()[1] * self._sorted.itemsize

    def _merge(self) -> None:
        # A streaming merge into a new array: no list of every fingerprint is ever built.
        self._sorted = array("Q", heapq.merge(self._sorted, sorted(self._recent)))
        self._recent = set()
