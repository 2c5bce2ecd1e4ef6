"""Garbage written straight into each backend: timestamps are repaired on read (once, counted, logged,
never making an instance look idle earlier) and an undecodable record is skipped, not fatal."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from novictl.clock import FrozenClock
from novictl.store import REPAIRS_COUNTER, StateStore
from tests.fixtures.store import RawRecordWriter, sample_record

GARBAGE: list[Any] = [None, "", "Invalid Date", "1700000000", "2024-09-01T10:00:00", "2099-01-01T00:00:00Z"]


def raw_record(instance_id: str, **timestamps: Any) -> str:
    doc: dict[str, Any] = {"id": instance_id, "name": f"box-{instance_id}", "status": "running"}
    doc.update(timestamps)
    return json.dumps(doc)


@pytest.mark.parametrize("garbage", GARBAGE, ids=repr)
async def test_garbage_activity_timestamps_never_make_an_instance_look_idle_earlier(
    store: StateStore,
    write_raw_record: RawRecordWriter,
    frozen_clock: FrozenClock,
    garbage: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = frozen_clock.now()
    await write_raw_record(
        "g1",
        raw_record(
            "g1", last_used_at=garbage, last_started_at=garbage, first_seen_at=garbage, created_at=garbage
        ),
    )
    with caplog.at_level(logging.WARNING, logger="novictl.store"):
        (record,) = await store.get_all()
    assert record.id == "g1"
    assert record.first_seen_at.tzinfo is UTC
    for field in ("last_used_at", "last_started_at", "first_seen_at"):
        value = getattr(record, field)
        assert value is None or value.tzinfo is UTC
        assert value is None or value <= now + timedelta(minutes=5)  # never in the future
    if garbage is None:
        # null is a legitimate "never used / never started"; only the required first_seen_at is filled in
        assert (record.last_used_at, record.last_started_at, record.first_seen_at) == (None, None, now)
        assert record.created_at is None
    elif garbage == "1700000000":
        exact = datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)
        assert (record.last_used_at, record.last_started_at, record.created_at) == (exact, exact, exact)
    elif garbage == "2024-09-01T10:00:00":
        assert record.last_used_at is not None
        assert record.last_used_at >= datetime(2024, 9, 1, 10, tzinfo=UTC)
    else:  # unreadable or future: treated as active right now
        assert (record.last_used_at, record.last_started_at, record.first_seen_at) == (now, now, now)

    repaired_fields = store.repairs  # type: ignore[attr-defined]
    assert repaired_fields >= 1
    assert "repaired" in caplog.text
    assert "g1" in caplog.text
    assert (await store.get_counters())[REPAIRS_COUNTER] == repaired_fields

    # The repair was written back: a later read (even much later) sees the same values and repairs nothing.
    frozen_clock.advance(hours=1)
    assert await store.get("g1") == record
    assert store.repairs == repaired_fields  # type: ignore[attr-defined]
    assert (await store.get_counters())[REPAIRS_COUNTER] == repaired_fields


async def test_reads_inside_repairs_unsaved_write_nothing_back(
    store: StateStore, write_raw_record: RawRecordWriter, frozen_clock: FrozenClock
) -> None:
    await write_raw_record("g2", raw_record("g2", last_used_at="Invalid Date"))
    with store.repairs_unsaved():
        (record,) = await store.get_all()
        assert record.last_used_at == frozen_clock.now()  # repaired in what is returned
    assert store.repairs >= 1  # type: ignore[attr-defined]  # still seen and counted (and logged)
    assert REPAIRS_COUNTER not in await store.get_counters()  # nothing written, not even the counter

    frozen_clock.advance(hours=1)
    (later,) = await store.get_all()  # an ordinary read repairs it again, and writes it back
    assert later.last_used_at == frozen_clock.now()
    assert (await store.get_counters())[REPAIRS_COUNTER] >= 1
    frozen_clock.advance(hours=1)
    assert (await store.get("g2")) == later


async def test_repairs_unsaved_covers_only_the_task_that_asked(
    store: StateStore, write_raw_record: RawRecordWriter
) -> None:
    import asyncio

    await write_raw_record("g3", raw_record("g3", last_used_at="Invalid Date"))
    inside = asyncio.Event()
    done = asyncio.Event()

    async def dry_run() -> None:
        with store.repairs_unsaved():
            inside.set()
            await done.wait()

    other = asyncio.ensure_future(dry_run())
    await inside.wait()
    await store.get_all()  # a real job reading meanwhile writes its repairs back
    done.set()
    await other
    assert (await store.get_counters())[REPAIRS_COUNTER] >= 1


async def test_repair_write_back_keeps_names_and_last_use_working(
    store: StateStore, write_raw_record: RawRecordWriter, frozen_clock: FrozenClock
) -> None:
    now = frozen_clock.now()
    await store.put(sample_record("g2", now - timedelta(days=1), name="legacy"))
    await write_raw_record("g2", raw_record("g2", name="legacy", last_used_at="Invalid Date"))
    (found,) = await store.find_by_name("legacy")
    assert found.last_used_at == now
    assert await store.update_last_used({"g2": (now + timedelta(minutes=1), "api")}) == 1
    stored = await store.get("g2")
    assert stored is not None
    assert stored.last_used_source == "api"


async def test_a_healthy_record_is_not_counted_as_repaired(
    store: StateStore, frozen_clock: FrozenClock
) -> None:
    await store.put(sample_record("ok", frozen_clock.now()))
    await store.get_all()
    assert store.repairs == 0  # type: ignore[attr-defined]
    assert REPAIRS_COUNTER not in await store.get_counters()


@pytest.mark.parametrize(
    "document",
    ["{not json", "[1, 2, 3]", '"a string"', json.dumps({"id": "bad", "status": "running"}), ""],
    ids=["broken-json", "array", "string", "missing-name", "empty"],
)
async def test_a_corrupt_record_is_skipped_counted_and_logged(
    store: StateStore,
    write_raw_record: RawRecordWriter,
    frozen_clock: FrozenClock,
    document: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await store.put_many(
        [sample_record("good-1", frozen_clock.now()), sample_record("good-2", frozen_clock.now())]
    )
    await write_raw_record("bad", document)
    with caplog.at_level(logging.ERROR, logger="novictl.store"):
        records = await store.get_all()
    assert sorted(r.id for r in records) == ["good-1", "good-2"]
    assert await store.get("bad") is None
    assert set(await store.get_many(["bad", "good-1"])) == {"good-1"}
    assert store.corrupt_records == 3  # type: ignore[attr-defined]
    assert "corrupt" in caplog.text
    assert "bad" in caplog.text

    # writing a good record over it heals it
    await store.put(sample_record("bad", frozen_clock.now()))
    assert len(await store.get_all()) == 3
