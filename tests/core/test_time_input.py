"""User-given times and durations: out-of-range values are clear errors, never an OverflowError."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from novictl.clock import as_utc
from novictl.core.durations import MAX_DURATION, parse_duration
from novictl.core.pings import parse_timestamp
from novictl.errors import UsageError


@pytest.mark.parametrize("text", ["99999999999d", "1e400", "inf", "nan", "9" * 400 + "s"])
def test_absurd_durations_are_value_errors(text: str) -> None:
    with pytest.raises(ValueError, match=r"not a duration|longer than"):
        parse_duration(text)


def test_the_longest_duration_still_adds_to_now() -> None:
    assert parse_duration(f"{MAX_DURATION.days}d") == MAX_DURATION
    assert datetime.now(UTC) + MAX_DURATION > datetime.now(UTC)


@pytest.mark.parametrize("text", ["9999-12-31T23:59:59-05:00", "0001-01-01T00:00:00+01:00"])
def test_times_utc_cannot_hold_are_usage_errors(text: str) -> None:
    with pytest.raises(UsageError, match="out of range"):
        parse_timestamp(text)
    with pytest.raises(ValueError, match="out of range"):
        as_utc(datetime.fromisoformat(text))


def test_times_are_utc_and_a_naive_one_is_taken_as_utc() -> None:
    assert parse_timestamp("2024-06-01T16:05:00+02:00") == datetime(2024, 6, 1, 14, 5, tzinfo=UTC)
    assert parse_timestamp("2024-06-01T14:05:00") == datetime(2024, 6, 1, 14, 5, tzinfo=UTC)
    assert as_utc(datetime(9999, 12, 31, 23, 0, tzinfo=UTC)).year == 9999
