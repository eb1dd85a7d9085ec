"""The people a file has brought so far, as 64-bit fingerprints in 8 bytes each.

The import needs them twice: to spot the same person again in the file, and at the end of a
full refresh to tell who is missing. A Python `set[int]` costs about 60 bytes per row (a
1,000,000-row file: ~60 MiB, a Python object per row); here the fingerprints live in sorted
`array('Q')`s, searched by bisection, with the newest few in a small set that is merged into
the arrays when it fills. The arrays are 256 buckets by the fingerprint's top byte (hashes
spread evenly), so a merge or a load rebuilds one bucket at a time: memory is 8 bytes per
distinct person, plus the buffer and about 1/256 of the set while a bucket is rebuilt.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections.abc import Iterable
from itertools import chain

BUFFER = 1 << 16  # fingerprints held as Python ints before a merge (~4 MiB)
_SHIFT = 56  # a fingerprint's bucket is its top byte: 256 buckets


class SeenRows:
    """A set of 64-bit fingerprints: membership and adding, in flat memory."""

    def __init__(self, buffer: int = BUFFER) -> None:
        self._buckets = [array("Q") for _ in range(1 << (64 - _SHIFT))]
        self._recent: set[int] = set()
        self._buffer = buffer

    def __contains__(self, fingerprint: int) -> bool:
        if fingerprint in self._recent:
            return True
        bucket = self._buckets[fingerprint >> _SHIFT]
        at = bisect_left(bucket, fingerprint)  # type: ignore[call-overload]
        return at < len(bucket) and bool(bucket[at] == fingerprint)

    def __len__(self) -> int:
        return sum(len(bucket) for bucket in self._buckets) + len(self._recent)

    def add(self, fingerprint: int) -> bool:
        """Add one fingerprint; False if it was held already."""
        if fingerprint in self:
            return False
        self._recent.add(fingerprint)
        if len(self._recent) >= self._buffer:
            self._merge(self._recent)
            self._recent = set()
        return True

    def update(self, fingerprints: Iterable[int]) -> None:
        for fingerprint in fingerprints:
            self.add(fingerprint)

    def load(self, windows: Iterable[bytes]) -> None:
        """Add earlier invocations' fingerprints (each work file an `array('Q')`'s bytes) at once.

        The windows are read one at a time into per-bucket arrays (8 bytes a fingerprint, no
        object per row), then each bucket is rebuilt once: a segment resuming at row 900,000
        holds its 900,000 fingerprints once, not once per window and again merged.
        """
        additions = [array("Q") for _ in self._buckets]
        for body in windows:
            for fingerprint in array("Q", body):
                additions[fingerprint >> _SHIFT].append(fingerprint)
        for fingerprint in self._recent:
            additions[fingerprint >> _SHIFT].append(fingerprint)
        self._recent = set()
        for at in range(len(self._buckets)):
            added, additions[at] = additions[at], array("Q")  # freed bucket by bucket
            if added:
                self._rebuild(at, added)

    def nbytes(self) -> int:
        """The arrays' bytes (what stays; the buffer is bounded by `buffer`)."""
        return sum(bucket.buffer_info()[1] * bucket.itemsize for bucket in self._buckets)

    def _merge(self, fingerprints: Iterable[int]) -> None:
        # `add` let in only fingerprints not held: each bucket is its sorted run and the new
        # ones sorted, which Python's sort merges in linear time.
        by_bucket: dict[int, list[int]] = {}
        for fingerprint in fingerprints:
            by_bucket.setdefault(fingerprint >> _SHIFT, []).append(fingerprint)
        for at, added in by_bucket.items():
            self._buckets[at] = array("Q", sorted(chain(self._buckets[at], sorted(added))))

    def _rebuild(self, at: int, added: Iterable[int]) -> None:
        # Work files may hold a person twice (several key versions): duplicates go here. Only
        # this bucket exists twice for the moment (~1/256 of the set).
        self._buckets[at] = array("Q", sorted(set(self._buckets[at]).union(added)))
