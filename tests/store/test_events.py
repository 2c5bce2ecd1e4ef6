"""The event log on both backends: append-only, newest first, filtered, capped by count and by age."""

from __future__ import annotations

from datetime import datetime, timedelta

from novictl.clock import FrozenClock
from novictl.store import Event, StateStore
from tests.fixtures.store import StoreFactory


def event(kind: str, at: datetime, instance_id: str | None = "a", **data: object) -> Event:
    return Event(type=kind, occurred_at=at, instance_id=instance_id, actor="test", data=dict(data))


async def test_events_come_back_newest_first_and_whole(store: StateStore, frozen_clock: FrozenClock) -> None:
    now = frozen_clock.now()
    older = event("instance.created", now - timedelta(minutes=2), n=1)
    newer = event("instance.stopped", now - timedelta(minutes=1), n=2)
    await store.append_events([newer])
    await store.append_events([older])  # appended later but happened earlier
    assert await store.list_events() == [newer, older]
    assert await store.list_events(limit=1) == [newer]
    assert await store.list_events(limit=0) == []
    assert len(newer.id) == 32
    assert newer.id != older.id
    await store.append_events([])


async def test_events_filter_by_instance_type_and_time(store: StateStore, frozen_clock: FrozenClock) -> None:
    now = frozen_clock.now()
    events = [
        event("instance.created", now - timedelta(minutes=50), "a"),
        event("instance.created", now - timedelta(minutes=40), "b"),
        event("instance.stopped", now - timedelta(minutes=30), "a"),
        event("instance.auto_stopped", now - timedelta(minutes=20), "b"),
        event("sync.completed", now - timedelta(minutes=10), None),
    ]
    await store.append_events(events)
    assert [e.id for e in await store.list_events(instance_id="a")] == [events[2].id, events[0].id]
    by_type = await store.list_events(types=["instance.stopped", "instance.auto_stopped"])
    assert [e.id for e in by_type] == [events[3].id, events[2].id]
    since = await store.list_events(since=now - timedelta(minutes=30))
    assert [e.id for e in since] == [events[4].id, events[3].id, events[2].id]
    combined = await store.list_events(
        instance_id="b", types=["instance.created"], since=now - timedelta(hours=1)
    )
    assert [e.id for e in combined] == [events[1].id]
    assert await store.list_events(instance_id="zzz") == []


async def test_filtered_listing_reaches_past_the_first_page(
    store: StateStore, frozen_clock: FrozenClock
) -> None:
    now = frozen_clock.now()
    noise = [event("instance.status_changed", now - timedelta(seconds=n), "busy") for n in range(1200)]
    rare = event("instance.deleted", now - timedelta(hours=1), "quiet")
    await store.append_events([rare, *noise])
    assert await store.list_events(instance_id="quiet") == [rare]
    assert len(await store.list_events(instance_id="busy", limit=1100)) == 1100


async def test_log_is_capped_by_count_dropping_the_oldest(
    make_store: StoreFactory, frozen_clock: FrozenClock
) -> None:
    store = await make_store(events_max=5)
    now = frozen_clock.now()
    events = [event("instance.status_changed", now - timedelta(minutes=n), n=n) for n in range(8)]
    await store.append_events(events[:4])
    await store.append_events(events[4:])
    kept = await store.list_events(limit=100)
    assert [e.data["n"] for e in kept] == [0, 1, 2, 3, 4]  # the 5 most recent


async def test_log_is_capped_by_age(make_store: StoreFactory, frozen_clock: FrozenClock) -> None:
    store = await make_store(events_max_age_days=1)
    now = frozen_clock.now()
    await store.append_events(
        [
            event("old", now - timedelta(days=3)),
            event("edge", now - timedelta(hours=23)),
            event("fresh", now - timedelta(minutes=1)),
        ]
    )
    assert [e.type for e in await store.list_events()] == ["fresh", "edge"]
    frozen_clock.advance(hours=2)  # "edge" is now older than a day; trimming happens on the next append
    await store.append_events([event("newest", frozen_clock.now())])
    assert [e.type for e in await store.list_events()] == ["newest", "fresh"]
