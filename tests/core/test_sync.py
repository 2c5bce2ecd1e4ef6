"""Sync against the emulator over real HTTP, on both store backends."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import pytest

from novictl.core.sync import SYNC_LOCK, SyncOptions, sync_instances
from novictl.emulator import FaultConfig
from novictl.errors import LockHeld, NovitaUnavailable
from novictl.store import REPAIRS_COUNTER

OPTIONS = SyncOptions(page_size=100)


async def test_adopts_every_instance_across_pages(emulator, novita_client, store) -> None:
    ids = emulator.state.seed_instances(250)
    emulator.state.reset_calls()

    result = await sync_instances(client=novita_client, store=store, options=OPTIONS)

    assert result.seen == 250
    assert result.adopted == 250
    assert emulator.state.calls["GET /gpu/instances"] == 3
    records = await store.get_all()
    assert {r.id for r in records} == set(ids)
    events = await store.list_events(types=["instance.discovered"], limit=1000)
    assert len(events) == 250


async def test_second_sync_changes_nothing_and_writes_no_records(emulator, novita_client, store) -> None:
    emulator.state.seed_instances(30)
    await sync_instances(client=novita_client, store=store, options=OPTIONS)

    again = await sync_instances(client=novita_client, store=store, options=OPTIONS)

    assert (again.adopted, again.updated, again.unchanged, again.terminated) == (0, 0, 30, 0)


async def test_status_change_updates_record_and_logs_event(emulator, novita_client, store) -> None:
    [instance_id] = emulator.state.seed_instances(1)
    emulator.state.set_status(instance_id, "running")
    await sync_instances(client=novita_client, store=store, options=OPTIONS)
    emulator.state.set_status(instance_id, "exited")

    result = await sync_instances(client=novita_client, store=store, options=OPTIONS)

    assert result.updated == 1
    record = await store.get(instance_id)
    assert record is not None
    assert record.status == "exited"
    [event] = await store.list_events(instance_id=instance_id, types=["instance.status_changed"])
    assert event.data["from"] == "running"
    assert event.data["to"] == "exited"


async def test_instances_deleted_behind_our_back_are_marked_terminated_once(
    emulator, novita_client, store
) -> None:
    ids = emulator.state.seed_instances(20)
    await sync_instances(client=novita_client, store=store, options=OPTIONS)
    gone = ids[:5]
    for instance_id in gone:
        emulator.state.vanish(instance_id)

    result = await sync_instances(client=novita_client, store=store, options=OPTIONS)

    assert result.terminated == 5
    for instance_id in gone:
        record = await store.get(instance_id)
        assert record is not None
        assert record.status == "terminated"
        assert record.terminated_at is not None
    first_marks = {i: (await store.get(i)).terminated_at for i in gone}
    again = await sync_instances(client=novita_client, store=store, options=OPTIONS)
    assert again.terminated == 0
    assert {i: (await store.get(i)).terminated_at for i in gone} == first_marks


async def test_remove_obsolete_deletes_the_records(emulator, novita_client, store) -> None:
    ids = emulator.state.seed_instances(8)
    await sync_instances(client=novita_client, store=store, options=OPTIONS)
    for instance_id in ids[:5]:
        emulator.state.vanish(instance_id)

    result = await sync_instances(
        client=novita_client, store=store, options=SyncOptions(page_size=100, remove_obsolete=True)
    )

    assert result.removed == 5
    assert {r.id for r in await store.get_all()} == set(ids[5:])


async def test_a_record_whose_get_fails_is_kept(emulator, novita_client, store) -> None:
    ids = emulator.state.seed_instances(3)
    await sync_instances(client=novita_client, store=store, options=OPTIONS)
    emulator.state.vanish(ids[0])
    emulator.state.script_fault("status", status=503, count=50, path="/gpu/instance")

    result = await sync_instances(client=novita_client, store=store, options=OPTIONS)

    assert result.terminated == 0
    assert result.kept_unconfirmed == 1
    record = await store.get(ids[0])
    assert record is not None
    assert record.terminated_at is None


async def test_list_failure_marks_nothing_terminated(emulator, novita_client, store) -> None:
    ids = emulator.state.seed_instances(4)
    await sync_instances(client=novita_client, store=store, options=OPTIONS)
    emulator.state.vanish(ids[0])
    emulator.state.script_fault("status", status=503, count=50, path="/gpu/instances")

    with pytest.raises(NovitaUnavailable):
        await sync_instances(client=novita_client, store=store, options=OPTIONS)

    assert all(r.terminated_at is None for r in await store.get_all())


async def test_retention_purges_only_records_terminated_long_enough(
    emulator, novita_client, store, frozen_clock
) -> None:
    clock = frozen_clock
    ids = emulator.state.seed_instances(4)
    await sync_instances(client=novita_client, store=store, options=OPTIONS, clock=clock)
    emulator.state.vanish(ids[0])
    await sync_instances(client=novita_client, store=store, options=OPTIONS, clock=clock)  # ids[0] terminated
    clock.advance(days=5)
    emulator.state.vanish(ids[1])
    await sync_instances(client=novita_client, store=store, options=OPTIONS, clock=clock)  # ids[1] terminated
    clock.advance(days=2, minutes=1)

    result = await sync_instances(
        client=novita_client, store=store, options=SyncOptions(page_size=100, retention_days=7), clock=clock
    )

    assert result.purged == 1
    remaining = {r.id for r in await store.get_all()}
    assert ids[0] not in remaining
    assert ids[1] in remaining


async def test_dry_run_writes_nothing(emulator, novita_client, store) -> None:
    emulator.state.seed_instances(12)

    result = await sync_instances(
        client=novita_client, store=store, options=SyncOptions(page_size=100, dry_run=True)
    )

    assert result.adopted == 12
    assert result.dry_run
    assert await store.get_all() == []
    assert await store.list_events() == []
    assert await store.get_meta("last_sync") is None


async def test_dry_run_leaves_a_garbage_timestamp_unrepaired_in_the_store(
    emulator, novita_client, store, write_raw_record
) -> None:
    [instance_id] = emulator.state.seed_instances(1)
    garbage = {"id": instance_id, "name": "box", "status": "running", "last_used_at": "Invalid Date"}
    await write_raw_record(instance_id, json.dumps(garbage))

    await sync_instances(client=novita_client, store=store, options=SyncOptions(page_size=100, dry_run=True))

    assert REPAIRS_COUNTER not in await store.get_counters()  # the repair was not written back
    await sync_instances(client=novita_client, store=store, options=OPTIONS)
    assert (await store.get_counters())[REPAIRS_COUNTER] >= 1


async def test_sync_while_lock_is_held_reports_already_running(emulator, novita_client, store) -> None:
    token = await store.acquire_lock(SYNC_LOCK, 60)
    assert token is not None

    with pytest.raises(LockHeld, match="already running"):
        await sync_instances(client=novita_client, store=store, options=OPTIONS)


async def test_two_concurrent_syncs_one_runs_one_is_refused(emulator, novita_client, store) -> None:
    emulator.state.seed_instances(10)
    emulator.state.set_faults(FaultConfig(latency_ms=150))

    outcomes = await asyncio.gather(
        sync_instances(client=novita_client, store=store, options=OPTIONS),
        sync_instances(client=novita_client, store=store, options=OPTIONS),
        return_exceptions=True,
    )

    refused = [o for o in outcomes if isinstance(o, LockHeld)]
    done = [o for o in outcomes if not isinstance(o, BaseException)]
    assert len(refused) == 1
    assert len(done) == 1
    assert done[0].adopted == 10


async def test_an_instance_back_on_novita_is_revived_not_purged(
    emulator, novita_client, store, frozen_clock
) -> None:
    [instance_id] = emulator.state.seed_instances(1)
    await sync_instances(client=novita_client, store=store, options=OPTIONS, clock=frozen_clock)
    record = await store.get(instance_id)
    assert record is not None
    # Long ago marked terminated (say, Novita briefly lost it), with the user's own opt-out on it.
    await store.put(
        record.model_copy(
            update={
                "status": "terminated",
                "terminated_at": frozen_clock.now() - timedelta(days=30),
                "autostop_disabled": True,
            }
        )
    )

    result = await sync_instances(client=novita_client, store=store, options=OPTIONS, clock=frozen_clock)

    assert result.purged == 0
    revived = await store.get(instance_id)
    assert revived is not None
    assert revived.terminated_at is None
    assert revived.status != "terminated"
    assert revived.autostop_disabled is True


async def test_a_pin_written_while_sync_runs_survives_its_write(emulator, novita_client, store) -> None:
    ids = emulator.state.seed_instances(3)
    emulator.state.set_status(ids[0], "running")
    await sync_instances(client=novita_client, store=store, options=OPTIONS)
    emulator.state.set_status(ids[0], "exited")  # so this sync rewrites ids[0]
    emulator.state.vanish(ids[1])  # so this sync confirms ids[1] with a slow GET after reading records
    emulator.state.set_faults(FaultConfig(latency_ms=300, paths=["GET /gpu/instance"]))

    running = asyncio.create_task(sync_instances(client=novita_client, store=store, options=OPTIONS))
    while emulator.state.calls["GET /gpu/instance"] == 0:
        await asyncio.sleep(0.01)
    pinned_until = datetime.now(UTC) + timedelta(hours=2)
    record = await store.get(ids[0])
    assert record is not None
    await store.put(record.model_copy(update={"pinned_until": pinned_until}))
    result = await running

    assert result.updated == 1
    after = await store.get(ids[0])
    assert after is not None
    assert after.status == "exited"
    assert after.pinned_until == pinned_until


async def test_a_sync_that_outlives_its_lock_writes_nothing(
    emulator, novita_client, store, frozen_clock
) -> None:
    emulator.state.seed_instances(5)
    emulator.state.set_faults(FaultConfig(latency_ms=400, paths=["GET /gpu/instances"]))
    options = SyncOptions(page_size=100, lock_ttl_seconds=0.2)

    running = asyncio.create_task(sync_instances(client=novita_client, store=store, options=options))
    while emulator.state.calls["GET /gpu/instances"] == 0:
        await asyncio.sleep(0.01)
    frozen_clock.advance(seconds=1)  # SQLite's lock expiry follows the store's clock; Redis's PX is real
    thief = None
    for _ in range(100):
        thief = await store.acquire_lock(SYNC_LOCK, 60)
        if thief is not None:
            break
        await asyncio.sleep(0.02)
    assert thief is not None

    with pytest.raises(LockHeld, match="lost its lock"):
        await running
    assert await store.get_all() == []
