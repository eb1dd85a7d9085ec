"""The one source of "now", so tests and the sweeper's `as_of` can move time."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

# The controller's calendar: "due today", fiscal years and order dates are Finnish dates.
HELSINKI = ZoneInfo("Europe/Helsinki")

_source: Callable[[], datetime] = lambda: datetime.now(UTC)  # noqa: E731


def now() -> datetime:
    """Current time, timezone-aware UTC."""
    return _source()


def local_date(moment: datetime | None = None) -> date:
    """The Finnish calendar date at `moment` (default now)."""
    return (moment or now()).astimezone(HELSINKI).date()


def iso(moment: datetime | None = None) -> str:
    """`moment` (default now) as an ISO 8601 UTC timestamp with seconds."""
    return (moment or now()).astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def sortable(moment: datetime | None = None) -> str:
    """`moment` (default now) with microseconds, for sort keys that must keep creation order."""
    return (moment or now()).astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


@contextmanager
def frozen(moment: datetime) -> Iterator[None]:
    """Fix the clock at `moment` inside the block (tests, `as_of` runs)."""
    global _source
    previous = _source
    _source = lambda: moment  # noqa: E731
    try:
        yield
    finally:
        _source = previous
