"""Time, injectable: the core asks a :class:`Clock` for ``now`` so tests never sleep for real minutes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol

__all__ = ["Clock", "FrozenClock", "SystemClock", "as_utc", "iso_or_none", "utcnow"]


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def iso_or_none(when: datetime | None) -> str | None:
    """ISO-8601 for JSON answers; ``None`` stays ``None``."""
    return None if when is None else when.isoformat()


def as_utc(when: datetime) -> datetime:
    """A user-given time as aware UTC (a time without a zone is taken as UTC).

    Raises ``ValueError`` for a time UTC cannot hold: ``9999-12-31T23:59:59-05:00`` is a valid ISO-8601
    string, but it lies after year 9999 in UTC, where ``astimezone`` overflows.
    """
    if when.tzinfo is None or when.utcoffset() is None:
        return when.replace(tzinfo=UTC)
    try:
        return when.astimezone(UTC)
    except OverflowError:
        raise ValueError(f"{when.isoformat()} is out of range (years 1 to 9999 in UTC)") from None


class Clock(Protocol):
    """Anything that tells the current time as an aware UTC datetime."""

    def now(self) -> datetime: ...


class SystemClock:
    """The real wall clock."""

    def now(self) -> datetime:
        return utcnow()


class FrozenClock:
    """A clock that only moves when told to; for tests and benchmarks."""

    def __init__(self, start: datetime | None = None):
        start = start or utcnow()
        if start.tzinfo is None:
            raise ValueError("FrozenClock needs an aware datetime")
        self._now = start.astimezone(UTC)

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta | None = None, /, **kwargs: float) -> datetime:
        """Move forward by ``delta`` or by ``timedelta(**kwargs)``; returns the new time."""
        self._now += delta if delta is not None else timedelta(**kwargs)
        return self._now

    def set(self, when: datetime) -> None:
        self._now = when.astimezone(UTC)
