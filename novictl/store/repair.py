"""Timestamp repair: turn whatever a stored timestamp holds into an aware UTC datetime, safely.

Records written by the seed service (or by hand, or by a bug) can carry ``null``, ``""``, ``"Invalid Date"``,
unix epochs as strings or numbers, naive datetimes, or times in the future. Reading such a record must never
raise, and the repaired value must never make an instance look idle *earlier* than the truth would: when in
doubt, an activity timestamp (see :data:`~novictl.store.records.ACTIVITY_TIMESTAMPS`) becomes "now", so the
instance gets a full idle period before auto-stop considers it. Informational timestamps (``created_at``,
``warned_at`` …) become ``None`` instead: nothing is better than a made-up value there.

These are pure functions; the backends apply them on read, count the repairs and log them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from novictl.store.records import ACTIVITY_TIMESTAMPS, TIMESTAMP_FIELDS

__all__ = [
    "FUTURE_TOLERANCE",
    "MIN_PLAUSIBLE",
    "TimestampRepair",
    "parse_epoch",
    "repair_record_timestamps",
    "repair_timestamp",
]

MIN_PLAUSIBLE = datetime(2000, 1, 1, tzinfo=UTC)
"""Anything earlier is a sentinel (epoch 0, year 1) rather than a real time."""

FUTURE_TOLERANCE = timedelta(minutes=5)
"""Clock skew between hosts sharing a store; a time further ahead than this is garbage."""

# Timestamps that legitimately lie ahead: a pin lasts until some future moment.
_FUTURE_ALLOWED = frozenset({"pinned_until"})

# What novictl itself writes (pydantic's JSON form of an aware UTC datetime); checked first because it is
# what nearly every stored value looks like, and a record has eleven timestamps to check on every read.
_CANONICAL = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?(?:Z|\+00:00)")


@dataclass(frozen=True)
class TimestampRepair:
    """One repaired field: what was stored, what is used instead, and why."""

    field: str
    original: object
    repaired: datetime | None
    reason: str
    """``missing`` | ``empty`` | ``unparseable`` | ``epoch`` | ``naive`` | ``implausible`` | ``future``."""

    def describe(self) -> str:
        """One line for the log, e.g. ``last_used_at: 'Invalid Date' -> 2024-… (unparseable)``."""
        original = repr(self.original)
        if len(original) > 40:
            original = original[:37] + "..."
        repaired = self.repaired.isoformat() if self.repaired else "None"
        return f"{self.field}: {original} -> {repaired} ({self.reason})"


def parse_epoch(value: float) -> datetime:
    """A unix epoch in seconds, milliseconds, microseconds or nanoseconds (guessed by magnitude), as UTC.

    Raises ``ValueError`` for values no datetime can hold.
    """
    if not math.isfinite(value):
        raise ValueError(f"not a finite epoch: {value!r}")
    magnitude = abs(value)
    if magnitude >= 1e17:
        value /= 1e9
    elif magnitude >= 1e14:
        value /= 1e6
    elif magnitude >= 1e11:
        value /= 1e3
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError) as exc:
        raise ValueError(f"epoch out of range: {value!r}") from exc


def _interpret(value: object) -> tuple[datetime | None, str | None]:
    """Parse a non-null stored value; ``(None, reason)`` when it cannot be read at all."""
    if isinstance(value, datetime):
        return value, None
    if isinstance(value, bool):  # bool is an int subclass, but never a timestamp
        return None, "unparseable"
    if isinstance(value, int | float):
        try:
            return parse_epoch(float(value)), "epoch"
        except ValueError:
            return None, "unparseable"
    if not isinstance(value, str):
        return None, "unparseable"
    text = value.strip()
    if not text:
        return None, "empty"
    try:
        return datetime.fromisoformat(text), None
    except ValueError:
        pass
    try:
        return parse_epoch(float(text)), "epoch"
    except ValueError:  # float() of "Invalid Date", or an epoch out of range
        return None, "unparseable"


def _assume_zone(field: str, naive: datetime) -> datetime:
    """Give a naive datetime a zone. It was written as UTC or as the writer's local time; for activity
    timestamps take the later reading, so a guess can only make the instance look more recently active."""
    as_utc = naive.replace(tzinfo=UTC)
    if field not in ACTIVITY_TIMESTAMPS:
        return as_utc
    try:
        as_local = naive.astimezone(UTC)  # interprets the naive value in the system's local zone
    except (OverflowError, ValueError, OSError):
        return as_utc
    return max(as_utc, as_local)


def repair_timestamp(field: str, value: object, now: datetime) -> tuple[datetime | None, str | None]:
    """The usable value of one stored timestamp field, and why it needed repair (``None`` when it did not).

    ``null`` is a legitimate "never" for every field but ``first_seen_at``, which becomes ``now``.
    """
    in_doubt = now if field in ACTIVITY_TIMESTAMPS else None
    if value is None:
        return (now, "missing") if field == "first_seen_at" else (None, None)
    parsed, reason = _interpret(value)
    if parsed is None:
        return in_doubt, reason
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        parsed, reason = _assume_zone(field, parsed), "naive"
    try:
        parsed = parsed.astimezone(UTC)
    except (OverflowError, ValueError):
        return in_doubt, "unparseable"
    if parsed < MIN_PLAUSIBLE:
        return in_doubt, "implausible"
    if field not in _FUTURE_ALLOWED and parsed > now + FUTURE_TOLERANCE:
        return now, "future"
    return parsed, reason


def repair_record_timestamps(
    data: Mapping[str, Any], now: datetime
) -> tuple[dict[str, Any], list[TimestampRepair]]:
    """Every timestamp field of a raw record (a decoded JSON object) made usable.

    Returns a new mapping with each timestamp field set to an aware UTC datetime or ``None``, and the list
    of repairs made (empty for a healthy record). Other fields are passed through untouched.
    """
    fixed = dict(data)
    repairs: list[TimestampRepair] = []
    latest_sane = now + FUTURE_TOLERANCE
    for field in TIMESTAMP_FIELDS:
        original = data.get(field)
        if original is None and field != "first_seen_at":
            fixed[field] = None
            continue
        if type(original) is str and _CANONICAL.fullmatch(original):
            try:
                parsed = datetime.fromisoformat(original)
            except ValueError:  # the right shape but no such day, e.g. 2024-02-30: the slow path says so
                pass
            else:
                if parsed >= MIN_PLAUSIBLE and (parsed <= latest_sane or field in _FUTURE_ALLOWED):
                    fixed[field] = parsed.astimezone(UTC)
                    continue
        value, reason = repair_timestamp(field, original, now)
        fixed[field] = value
        if reason is not None:
            repairs.append(TimestampRepair(field, original, value, reason))
    return fixed, repairs
