"""Timestamp repair, as pure functions: every kind of garbage becomes a safe, aware UTC value."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from novictl.store.records import TIMESTAMP_FIELDS, InstanceRecord
from novictl.store.repair import parse_epoch, repair_record_timestamps, repair_timestamp

NOW = datetime(2024, 9, 10, 12, 0, tzinfo=UTC)


def test_timestamp_fields_list_every_datetime_field_of_the_record() -> None:
    datetime_fields = {
        name for name, info in InstanceRecord.model_fields.items() if "datetime" in str(info.annotation)
    }
    assert set(TIMESTAMP_FIELDS) == datetime_fields


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-09-01T10:00:00Z", datetime(2024, 9, 1, 10, tzinfo=UTC)),
        ("2024-09-01T10:00:00.123456+00:00", datetime(2024, 9, 1, 10, 0, 0, 123456, tzinfo=UTC)),
        ("2024-09-01T12:00:00+02:00", datetime(2024, 9, 1, 10, tzinfo=UTC)),
        (
            datetime(2024, 9, 1, 10, tzinfo=timezone(timedelta(hours=-4))),
            datetime(2024, 9, 1, 14, tzinfo=UTC),
        ),
    ],
)
def test_healthy_values_pass_unrepaired_and_normalised_to_utc(value: object, expected: datetime) -> None:
    repaired, reason = repair_timestamp("last_used_at", value, NOW)
    assert reason is None
    assert repaired == expected
    assert repaired is not None
    assert repaired.tzinfo is UTC


@pytest.mark.parametrize(
    "value", ["", "   ", "Invalid Date", "not a time", [], {}, True, "1e400", float("nan")]
)
def test_unreadable_activity_timestamp_becomes_now(value: object) -> None:
    repaired, reason = repair_timestamp("last_used_at", value, NOW)
    assert repaired == NOW
    assert reason in {"empty", "unparseable"}


@pytest.mark.parametrize(
    "field", ["created_at", "last_stopped_at", "last_synced_at", "warned_at", "pinned_at"]
)
def test_unreadable_informational_timestamp_becomes_none(field: str) -> None:
    assert repair_timestamp(field, "Invalid Date", NOW) == (None, "unparseable")


def test_null_is_a_legitimate_never_except_for_first_seen() -> None:
    assert repair_timestamp("last_used_at", None, NOW) == (None, None)
    assert repair_timestamp("first_seen_at", None, NOW) == (NOW, "missing")


@pytest.mark.parametrize(
    "value", ["1700000000", 1700000000, 1700000000.0, "1700000000000", 1700000000000000, " 1700000000 "]
)
def test_epochs_in_any_unit_are_read_exactly(value: object) -> None:
    repaired, reason = repair_timestamp("last_used_at", value, NOW)
    assert reason == "epoch"
    assert repaired == datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)


@pytest.mark.parametrize("value", ["0", -1, "-1", "1970-01-01T00:00:00Z", "0001-01-01T00:00:00+00:00"])
def test_sentinel_times_are_implausible_and_count_as_recent_activity(value: object) -> None:
    assert repair_timestamp("last_started_at", value, NOW) == (NOW, "implausible")
    assert repair_timestamp("created_at", value, NOW) == (None, "implausible")


def test_naive_time_is_never_read_earlier_than_as_utc() -> None:
    repaired, reason = repair_timestamp("last_used_at", "2024-09-01T10:00:00", NOW)
    assert reason == "naive"
    assert repaired is not None
    assert repaired >= datetime(2024, 9, 1, 10, tzinfo=UTC)
    # an informational field takes the plain UTC reading
    assert repair_timestamp("created_at", "2024-09-01T10:00:00", NOW) == (
        datetime(2024, 9, 1, 10, tzinfo=UTC),
        "naive",
    )


def test_future_times_clamp_to_now_but_small_skew_and_pins_are_kept() -> None:
    assert repair_timestamp("last_used_at", "2031-01-01T00:00:00Z", NOW) == (NOW, "future")
    assert repair_timestamp("created_at", NOW + timedelta(hours=1), NOW) == (NOW, "future")
    skewed = NOW + timedelta(seconds=30)
    assert repair_timestamp("last_used_at", skewed, NOW) == (skewed, None)
    pin = NOW + timedelta(days=3)
    assert repair_timestamp("pinned_until", pin, NOW) == (pin, None)


def test_parse_epoch_refuses_out_of_range_values() -> None:
    with pytest.raises(ValueError):
        parse_epoch(1e30)
    with pytest.raises(ValueError):
        parse_epoch(float("inf"))


def test_record_repair_reports_each_field_and_keeps_other_fields() -> None:
    raw = {
        "id": "abc",
        "name": "trainer",
        "last_used_at": "Invalid Date",
        "last_started_at": "1700000000",
        "created_at": "2024-09-01T10:00:00Z",
        "warned_at": "",
    }
    fixed, repairs = repair_record_timestamps(raw, NOW)
    assert fixed["name"] == "trainer"
    assert fixed["last_used_at"] == NOW
    assert fixed["last_started_at"] == datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)
    assert fixed["created_at"] == datetime(2024, 9, 1, 10, tzinfo=UTC)
    assert fixed["warned_at"] is None
    assert fixed["first_seen_at"] == NOW
    assert {(r.field, r.reason) for r in repairs} == {
        ("last_used_at", "unparseable"),
        ("last_started_at", "epoch"),
        ("warned_at", "empty"),
        ("first_seen_at", "missing"),
    }
    assert raw["last_used_at"] == "Invalid Date"  # the input is not modified
    assert "Invalid Date" in next(r for r in repairs if r.field == "last_used_at").describe()
    InstanceRecord.model_validate({**fixed, "status": "running"})  # the result is a valid record


def test_record_repair_of_a_well_formed_but_impossible_date() -> None:
    fixed, repairs = repair_record_timestamps({"first_seen_at": "2024-02-30T10:00:00Z"}, NOW)
    assert fixed["first_seen_at"] == NOW
    assert [(r.field, r.reason) for r in repairs] == [("first_seen_at", "unparseable")]
