"""chalicelib/imports/seen.py: the people a file has brought, in 8 bytes each."""

from __future__ import annotations

import random

from chalicelib.imports.seen import SeenRows


def test_membership_across_merges_matches_a_set() -> None:
    rng = random.Random(13)
    seen, reference = SeenRows(buffer=64), set()
    for _ in range(5000):
        fingerprint = rng.getrandbits(64)
        if rng.random() < 0.2 and reference:
            fingerprint = rng.choice(sorted(reference))  # again: must be found, and held once
        assert (fingerprint in seen) == (fingerprint in reference)
        seen.add(fingerprint)
        reference.add(fingerprint)
    assert len(seen) == len(reference)
    assert all(f in seen for f in reference)
    assert 0 not in seen and 2**64 - 1 not in seen


def test_the_extremes_of_64_bits_are_held() -> None:
    seen = SeenRows(buffer=2)
    seen.update([0, 2**64 - 1, 5])
    assert 0 in seen and 2**64 - 1 in seen and 5 in seen and 6 not in seen
    assert len(seen) == 3


def test_memory_is_eight_bytes_a_person_past_the_buffer() -> None:
    """What stays is the sorted arrays: 8 bytes per distinct fingerprint, no object per row
    (measured as allocated: a `set[int]` of the same people holds ~60 bytes each)."""
    import tracemalloc

    rng = random.Random(5)
    fingerprints = [rng.getrandbits(64) for _ in range(100_000)]
    tracemalloc.start()
    try:
        seen = SeenRows(buffer=1024)
        seen.update(fingerprints)
        allocated, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    held_in_arrays = len(seen) - len(seen._recent)
    assert len(seen._recent) < 1024 and len(seen) == 100_000
    assert seen.nbytes() == 8 * held_in_arrays
    # The arrays, their 256 headers and a buffer of under 1,024 ints: nothing per person beyond 8 bytes.
    assert allocated < 8 * held_in_arrays + 256 * 100 + 1024 * 120, allocated


def test_an_empty_set_is_falsy_and_finds_nothing() -> None:
    seen = SeenRows()
    assert not seen and 42 not in seen
    seen.add(42)
    assert seen and 42 in seen


def test_work_files_load_once_each_with_what_is_held() -> None:
    """A resuming segment loads earlier windows' files (unsorted, overlapping), each person once."""
    from array import array

    rng = random.Random(9)
    windows = [[rng.getrandbits(64) for _ in range(300)] for _ in range(5)]
    windows[3][:50] = windows[1][:50]  # a person kept under two windows (several key versions)
    seen = SeenRows(buffer=64)
    held = [rng.getrandbits(64) for _ in range(100)]
    seen.update(held)
    seen.load(array("Q", w).tobytes() for w in windows)
    everyone = set(held).union(*windows)
    assert len(seen) == len(everyone) and all(f in seen for f in everyone)
    assert not seen._recent and sorted(f for bucket in seen._buckets for f in bucket) == sorted(everyone)
    assert all(list(bucket) == sorted(bucket) for bucket in seen._buckets)
    assert seen.add(held[0]) is False and seen.add(1) is True


def test_loading_holds_each_person_about_once() -> None:
    """Loading 200,000 people from 50 work files peaks near 8 bytes a person, not twice that."""
    import tracemalloc
    from array import array

    rng = random.Random(3)
    windows = [array("Q", (rng.getrandbits(64) for _ in range(4000))).tobytes() for _ in range(50)]
    people = 50 * 4000
    seen = SeenRows()
    tracemalloc.start()
    try:
        seen.load(iter(windows))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(seen) == people
    assert peak < 10 * people + 512 * 1024, peak  # the old merged-beside-the-windows load: > 16
