"""The StateStore contract, run against both backends: records, bulk operations, names, last use, counters,
meta."""

from __future__ import annotations

from datetime import UTC, timedelta

from novictl.clock import FrozenClock
from novictl.store import InstanceRecord, StateStore
from tests.fixtures.store import StoreFactory, sample_record


async def test_put_get_round_trip_keeps_every_field(store: StateStore, frozen_clock: FrozenClock) -> None:
    now = frozen_clock.now()
    record = sample_record(
        "a1",
        now - timedelta(hours=2),
        created_at=now - timedelta(hours=3),
        last_used_at=now - timedelta(minutes=5),
        last_used_source="api",
        webhook_url="https://hooks.example/secret-path",
        autostop_idle_minutes=30,
        pinned_until=now + timedelta(hours=1),
        extra={"tags": ["a", "b"], "n": 1},
    )
    assert await store.get("a1") is None
    await store.put(record)
    assert await store.get("a1") == record
    assert (await store.get("a1")).last_used_at.tzinfo is UTC  # type: ignore[union-attr]


async def test_put_replaces_the_whole_record(store: StateStore, frozen_clock: FrozenClock) -> None:
    now = frozen_clock.now()
    await store.put(sample_record("a1", now, status="running", stopped_by=None))
    await store.put(sample_record("a1", now, status="exited", stopped_by="user"))
    stored = await store.get("a1")
    assert stored is not None
    assert (stored.status, stored.stopped_by) == ("exited", "user")
    assert len(await store.get_all()) == 1


async def test_bulk_operations_with_many_records(store: StateStore, frozen_clock: FrozenClock) -> None:
    now = frozen_clock.now()
    records = [sample_record(f"i{n:05d}", now, name=f"box-{n % 7}") for n in range(1500)]
    await store.put_many(records)

    everything = await store.get_all()
    assert len(everything) == 1500
    assert {r.id: r for r in everything} == {r.id: r for r in records}

    wanted = [f"i{n:05d}" for n in range(0, 1500, 3)] + ["missing-1", "missing-2"]
    found = await store.get_many(wanted)
    assert set(found) == set(wanted) - {"missing-1", "missing-2"}
    assert found["i00003"] == records[3]

    await store.put_many(r.model_copy(update={"status": "exited"}) for r in records[:1200])
    statuses = [r.status for r in await store.get_all()]
    assert statuses.count("exited") == 1200
    assert statuses.count("running") == 300

    assert await store.delete_many([r.id for r in records[:1100]] + ["missing"]) == 1100
    assert len(await store.get_all()) == 400
    assert await store.get_many([]) == {}
    await store.put_many([])
    assert await store.delete_many([]) == 0


async def test_find_by_name_is_exact_and_follows_renames(
    store: StateStore, frozen_clock: FrozenClock
) -> None:
    now = frozen_clock.now()
    await store.put_many(
        [
            sample_record("a", now, name="trainer"),
            sample_record("b", now, name="trainer"),
            sample_record("c", now, name="trainer-2"),
            sample_record("d", now, name="Trainer"),
        ]
    )
    assert [r.id for r in await store.find_by_name("trainer")] == ["a", "b"]
    assert await store.find_by_name("train") == []

    await store.put(sample_record("b", now, name="evaluator"))
    assert [r.id for r in await store.find_by_name("trainer")] == ["a"]
    assert [r.id for r in await store.find_by_name("evaluator")] == ["b"]

    await store.delete_many(["a"])
    assert await store.find_by_name("trainer") == []


async def test_update_last_used_only_moves_forward(store: StateStore, frozen_clock: FrozenClock) -> None:
    now = frozen_clock.now()
    await store.put_many(
        [sample_record("a", now), sample_record("b", now, last_used_at=now, last_used_source="x")]
    )

    changed = await store.update_last_used(
        {
            "a": (now - timedelta(minutes=1), "api"),
            "b": (now - timedelta(minutes=1), "api"),
            "ghost": (now, "api"),
        }
    )
    assert changed == 1  # a moved; b already had a later use; ghost does not exist
    a, b = (await store.get("a")), (await store.get("b"))
    assert a is not None
    assert (a.last_used_at, a.last_used_source) == (now - timedelta(minutes=1), "api")
    assert b is not None
    assert (b.last_used_at, b.last_used_source) == (now, "x")
    assert await store.get("ghost") is None

    assert await store.update_last_used({"a": (now, "touch")}) == 1
    assert await store.update_last_used({"a": (now - timedelta(hours=1), "old")}) == 0
    a = await store.get("a")
    assert a is not None
    assert (a.last_used_at, a.last_used_source) == (now, "touch")


async def test_a_ping_survives_a_later_put_of_an_older_copy(
    store: StateStore, frozen_clock: FrozenClock
) -> None:
    """A sync that read the record before a ping and writes it back after must not erase the ping."""
    now = frozen_clock.now()
    await store.put(sample_record("a", now, last_used_at=now - timedelta(hours=1), last_used_source="old"))
    stale_copy = await store.get("a")
    assert stale_copy is not None
    assert await store.update_last_used({"a": (now, "ping")}) == 1
    await store.put(stale_copy.model_copy(update={"status": "exited"}))
    stored = await store.get("a")
    assert stored is not None
    assert (stored.status, stored.last_used_at, stored.last_used_source) == ("exited", now, "ping")
    assert (await store.get_all())[0].last_used_at == now
    assert (await store.find_by_name(stored.name))[0].last_used_at == now


async def test_bulk_last_used_updates(store: StateStore, frozen_clock: FrozenClock) -> None:
    now = frozen_clock.now()
    await store.put_many(sample_record(f"i{n}", now) for n in range(1200))
    assert await store.update_last_used({f"i{n}": (now, "bulk") for n in range(1200)}) == 1200
    assert all(r.last_used_source == "bulk" for r in await store.get_all())


async def test_deleted_record_forgets_its_last_use(store: StateStore, frozen_clock: FrozenClock) -> None:
    now = frozen_clock.now()
    await store.put(sample_record("a", now))
    await store.update_last_used({"a": (now, "api")})
    await store.delete_many(["a"])
    await store.put(sample_record("a", now))
    stored = await store.get("a")
    assert stored is not None
    assert stored.last_used_at is None


async def test_counters_add_up(store: StateStore) -> None:
    assert await store.get_counters() == {}
    await store.incr_counters({"autostop.runs": 1, "autostop.savings_usd": 0.25})
    await store.incr_counters({"autostop.runs": 1, "autostop.savings_usd": 1.5, "autostop.stops": 3})
    assert await store.get_counters() == {
        "autostop.runs": 2,
        "autostop.savings_usd": 1.75,
        "autostop.stops": 3,
    }
    await store.incr_counters({})


async def test_meta_values(store: StateStore) -> None:
    assert await store.get_meta("last_sync") is None
    await store.set_meta("last_sync", "2024-09-01T10:00:00+00:00")
    await store.set_meta("heartbeat:d1", "x")
    await store.set_meta("last_sync", "2024-09-02T10:00:00+00:00")
    assert await store.get_meta("last_sync") == "2024-09-02T10:00:00+00:00"
    assert await store.get_meta("heartbeat:d1") == "x"


async def test_two_store_objects_see_the_same_data(
    make_store: StoreFactory, frozen_clock: FrozenClock
) -> None:
    first, second = await make_store(), await make_store()
    await first.put(sample_record("shared", frozen_clock.now()))
    assert isinstance(await second.get("shared"), InstanceRecord)
    await second.ping()
    assert first.backend == second.backend
    assert first.backend in {"sqlite", "redis"}


async def test_both_backends_implement_the_protocol(store: StateStore) -> None:
    assert isinstance(store, StateStore)
    assert store.backend in repr(store).lower()


def test_a_record_repr_hides_its_webhook_url(frozen_clock: FrozenClock) -> None:
    record = sample_record("a", frozen_clock.now(), webhook_url="https://hooks.example/T000/B000/s3cret")
    assert "s3cret" not in repr(record)
    assert "s3cret" not in str(record)


async def test_put_many_with_fields_merges_only_those_fields(
    store: StateStore, frozen_clock: FrozenClock
) -> None:
    now = frozen_clock.now()
    pin = now + timedelta(hours=1)
    await store.put(sample_record("a1", now, status="running", extra={"tags": [], "big": 12345678901234567}))
    # Another writer pins it after our writer read it...
    await store.put(
        sample_record(
            "a1", now, status="running", pinned_until=pin, extra={"tags": [], "big": 12345678901234567}
        )
    )
    # ...then our writer, which owns only `status`, writes its stale copy with a new status.
    stale = sample_record("a1", now, status="exited", pinned_until=None, name="renamed")
    fresh = sample_record("b2", now, status="running")

    await store.put_many([stale, fresh], fields={"status", "name"})

    merged = await store.get("a1")
    assert merged is not None
    assert (merged.status, merged.name, merged.pinned_until) == ("exited", "renamed", pin)
    assert merged.extra == {"tags": [], "big": 12345678901234567}
    assert await store.find_by_name("renamed") == [merged]
    assert await store.get("b2") == fresh  # absent records are stored whole


async def test_concurrent_merge_writers_neither_fail_nor_lose_fields(
    store: StateStore, frozen_clock: FrozenClock
) -> None:
    import asyncio

    now = frozen_clock.now()
    await store.put_many([sample_record(f"r{n}", now, status="running") for n in range(40)])
    pin = now + timedelta(hours=1)

    async def stop(n: int) -> None:
        await store.put_many([sample_record(f"r{n}", now, status="exited")], fields={"status"})

    async def pin_it(n: int) -> None:
        await store.put_many([sample_record(f"r{n}", now, pinned_until=pin)], fields={"pinned_until"})

    # Many writers at once, on different records and twice on each record, each owning other fields.
    await asyncio.gather(*(stop(n) for n in range(40)), *(pin_it(n) for n in range(40)))

    records = {r.id: r for r in await store.get_all()}
    assert all(records[f"r{n}"].status == "exited" for n in range(40))
    assert all(records[f"r{n}"].pinned_until == pin for n in range(40))
