"""The auto-stop runner against the emulator over real HTTP, on both store backends.

The injected clock runs a week ahead of the emulator's real one, so every start time the emulator reports
lies far in the past: what an instance looks like to the policy is set by the records written here.
"""

from __future__ import annotations

import inspect
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from novictl.clock import FrozenClock
from novictl.config.models import AutoStopSettings
from novictl.core.autostop import (
    COUNTERS,
    LAST_RUN_META,
    OPEN_STOP_KEY,
    apply_autostop,
    autostop_stats,
    plan_autostop,
    record_ping,
    run_autostop,
)
from novictl.core.lifecycle import wait_for_status
from novictl.errors import StoreError
from novictl.novita import NovitaClient
from novictl.store import StateStore, StoreOptions, open_store
from tests.fixtures.redis_server import start_redis_server
from tests.fixtures.store import sample_record

SETTINGS = AutoStopSettings(warn_before_minutes=0, activity=["pings"])
"""Idle 20m, grace 45m, pings only and no warning gate: these tests are about what a stop does. The gate
(a stop only after a warning) has its own tests here, which pass ``warn_before_minutes=5``; the GPU source
has ``test_autostop_gpu.py``."""


@pytest.fixture
def clock(frozen_clock: FrozenClock) -> FrozenClock:
    frozen_clock.advance(days=7)
    return frozen_clock


def running_instances(emulator: Any, count: int) -> list[str]:
    ids: list[str] = emulator.state.seed_instances(count)
    for instance_id in ids:
        emulator.state.set_status(instance_id, "running")
    emulator.state.reset_calls()
    return ids


async def track(store: StateStore, clock: FrozenClock, instance_id: str, **fields: Any) -> None:
    """A record of a running instance started 3 hours ago; ``used=minutes`` sets a ping that long ago."""
    now = clock.now()
    used = fields.pop("used", None)
    if used is not None:
        fields["last_used_at"] = now - timedelta(minutes=used)
    values: dict[str, Any] = {"last_started_at": now - timedelta(hours=3), "price_per_hour": 0.5, **fields}
    await store.put(sample_record(instance_id, now - timedelta(hours=5), **values))


def hourly_saving_on_novita(emulator: Any, instance_id: str) -> float:
    """What stopping saves per hour by Novita's own prices for the instance: its running price less
    what its disk still costs while stopped (the emulator sends both, as GET /gpu/instance may)."""
    live = emulator.state.instance(instance_id)
    return round((int(live["instancePrice"]) - int(live["exitedLocalStoragePrice"])) / 100_000, 6)


def stops(emulator: Any, instance_id: str) -> int:
    return int(emulator.state.instance_calls[instance_id]["stop"])


async def run(
    client: NovitaClient, store: StateStore, clock: FrozenClock, *, dry_run: bool = False, **kw: Any
):
    settings = SETTINGS.model_copy(update=kw)
    return await run_autostop(
        client=client, store=store, settings_autostop=settings, clock=clock, dry_run=dry_run
    )


async def test_idle_instance_is_stopped_once_and_recorded(emulator, novita_client, store, clock) -> None:
    idle, busy, booting = running_instances(emulator, 3)
    await track(store, clock, idle, used=30)
    await track(store, clock, busy, used=5)
    await track(store, clock, booting, last_started_at=clock.now() - timedelta(minutes=30))

    report = await run(novita_client, store, clock)

    verdicts = {e.instance_id: (e.verdict, e.reason) for e in report.entries}
    assert verdicts == {
        idle: ("stopped", "idle 30m >= 20m"),
        busy: ("keep", "used 5m ago"),
        booting: ("keep", "started 30m ago (startup grace)"),
    }
    assert (stops(emulator, idle), stops(emulator, busy), stops(emulator, booting)) == (1, 0, 0)
    record = await store.get(idle)
    assert record is not None
    assert (record.stopped_by, record.last_stopped_at) == ("autostop", clock.now())
    # Novita's price for this very instance wins over the record's 0.5, less the disk a stop still pays.
    assert record.extra[OPEN_STOP_KEY]["pricePerHour"] == hourly_saving_on_novita(emulator, idle)
    assert (
        0 < record.extra[OPEN_STOP_KEY]["pricePerHour"] < int(emulator.state.instance(idle)["instancePrice"])
    )
    [event] = await store.list_events(instance_id=idle, types=["instance.auto_stopped"])
    assert (event.data["idleSeconds"], event.data["thresholdSeconds"]) == (1800.0, 1200.0)
    counters = await store.get_counters()
    assert (counters[COUNTERS["runs"]], counters[COUNTERS["stops"]]) == (1, 1)
    last = json.loads(await store.get_meta(LAST_RUN_META) or "{}")
    assert last["totals"]["stopped"] == 1
    assert last["dryRun"] is False

    clock.advance(minutes=5)
    again = await run(novita_client, store, clock)
    assert stops(emulator, idle) == 1  # stopping or exited now: not running, never stopped twice
    assert {e.instance_id: e.verdict for e in again.entries}[idle] == "skip"


class CountingStore:
    """Counts the store methods a run awaits (one round trip each; one transaction on SQLite)."""

    def __init__(self, inner: StateStore) -> None:
        self.inner = inner
        self.calls: dict[str, int] = {}

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.inner, name)
        if not inspect.iscoroutinefunction(attr):
            return attr

        async def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls[name] = self.calls.get(name, 0) + 1
            return await attr(*args, **kwargs)

        return counted


async def test_the_store_is_written_once_per_run_however_many_stop(
    emulator, novita_client, store, clock
) -> None:
    ids = running_instances(emulator, 5)
    for instance_id in ids:
        await track(store, clock, instance_id, used=30)
    counting: Any = CountingStore(store)

    report = await run(novita_client, counting, clock)

    assert report.totals["stopped"] == 5
    # Two reads (all records; the candidates again just before acting) and one write each of records,
    # events, counters and the run summary — not a record write and an event write per stop.
    assert counting.calls == {
        "get_all": 1, "get_many": 1, "put_many": 1, "append_events": 1, "incr_counters": 1, "set_meta": 1,
    }  # fmt: skip
    stored = await store.get_many(ids)
    assert {(r.status, r.stopped_by) for r in stored.values()} == {("toStop", "autostop")}
    kinds = [e.type for e in await store.list_events(types=["instance.stopped", "instance.auto_stopped"])]
    assert (kinds.count("instance.stopped"), kinds.count("instance.auto_stopped")) == (5, 5)


async def test_a_cancelled_run_still_records_the_stops_it_sent(emulator, novita_client, store, clock) -> None:
    import asyncio

    ids = running_instances(emulator, 3)
    for instance_id in ids:
        await track(store, clock, instance_id, used=30)
    emulator.state.script_fault("slow", path="POST /gpu/instance/stop", seconds=30)  # one stop hangs

    writing = asyncio.Event()
    written: list[str] = []  # the run's last write, noted when it has completed

    class NotingStore(CountingStore):
        async def set_meta(self, key: str, value: str) -> None:
            writing.set()
            await asyncio.sleep(0.05)  # a slow store: room for a second cancellation
            await self.inner.set_meta(key, value)
            written.append(key)

    run_task = asyncio.ensure_future(run(novita_client, NotingStore(store), clock))
    for _ in range(500):  # the other two stops answered (their status moved on)
        if sum(emulator.state.instance(i)["status"] != "running" for i in ids) == 2:
            break
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.05)  # …and their answers reached the run
    run_task.cancel()  # a daemon shutting down, Ctrl-C …
    await asyncio.wait_for(writing.wait(), 5)
    run_task.cancel()  # … and again, impatiently, while the run writes what it did
    with pytest.raises(asyncio.CancelledError):
        await run_task
    assert written == [LAST_RUN_META]  # the run ended only once its writes were done, not abandoned

    answered = [i for i in ids if emulator.state.instance(i)["status"] != "running"]
    stored = await store.get_many(ids)
    assert {i for i in ids if stored[i].stopped_by == "autostop"} == set(answered)
    events = await store.list_events(types=["instance.auto_stopped"])
    assert {e.instance_id for e in events} == set(answered)
    [hung] = set(ids) - set(answered)
    last = json.loads(await store.get_meta(LAST_RUN_META) or "{}")
    assert last["totals"]["stopped"] == 2
    assert any("may or may not have been sent" in error and hung in error for error in last["errors"])


async def test_dry_run_decides_the_same_and_acts_on_nothing(emulator, novita_client, store, clock) -> None:
    ids = running_instances(emulator, 4)
    for instance_id, used in zip(ids, (30, 25, 5, 1), strict=True):
        await track(store, clock, instance_id, used=used)

    dry = await run(novita_client, store, clock, dry_run=True)

    assert sum(emulator.state.instance_calls[i]["stop"] for i in ids) == 0
    assert await store.get_counters() == {}
    assert await store.get_meta(LAST_RUN_META) is None
    assert await store.list_events(types=["instance.auto_stopped"]) == []
    real = await run(novita_client, store, clock)
    assert [(e.instance_id, e.reason) for e in dry.entries] == [
        (e.instance_id, e.reason) for e in real.entries
    ]
    assert [e.verdict for e in dry.entries] == ["stop", "stop", "keep", "keep"]
    assert [e.verdict for e in real.entries] == ["stopped", "stopped", "keep", "keep"]


async def test_dry_run_setting_acts_on_nothing(emulator, novita_client, store, clock) -> None:
    [idle] = running_instances(emulator, 1)
    await track(store, clock, idle, used=60)
    settings = SETTINGS.model_copy(update={"dry_run": True})
    report = await run_autostop(
        client=novita_client, store=store, settings_autostop=settings, clock=clock, dry_run=False
    )
    assert report.dry_run is True
    assert report.entries[0].verdict == "stop"
    assert stops(emulator, idle) == 0


async def test_a_ping_between_check_and_act_keeps_it(emulator, novita_client, store, clock) -> None:
    [instance_id] = running_instances(emulator, 1)
    await track(store, clock, instance_id, used=45)
    plan = await plan_autostop(client=novita_client, store=store, settings_autostop=SETTINGS, clock=clock)
    assert [e.verdict for e in plan.candidates] == ["stop"]

    await record_ping(store, instance_id, source="jupyter", clock=clock)
    report = await apply_autostop(
        plan, client=novita_client, store=store, settings_autostop=SETTINGS, clock=clock
    )

    [entry] = report.entries
    assert (entry.verdict, entry.reason, entry.last_used_source) == (
        "keep",
        "ping from jupyter 0s ago",
        "jupyter",
    )
    assert stops(emulator, instance_id) == 0


async def test_a_pin_written_between_the_runs_read_and_its_write_survives(
    emulator, novita_client, store, clock
) -> None:
    import asyncio

    from novictl.core.autostop import pin_instance

    [instance_id] = running_instances(emulator, 1)
    await track(store, clock, instance_id, used=45)
    # The stop call hangs a moment: the run has read the record and will write it back afterwards.
    emulator.state.script_fault("slow", path="POST /gpu/instance/stop", seconds=0.3)
    running = asyncio.ensure_future(run(novita_client, store, clock))
    while stops(emulator, instance_id) == 0:
        await asyncio.sleep(0.005)
    until = clock.now() + timedelta(hours=2)
    await pin_instance(store, instance_id, until=until, clock=clock)

    report = await running
    assert report.entries[0].verdict == "stopped"
    stored = await store.get(instance_id)
    assert stored is not None
    assert (stored.stopped_by, OPEN_STOP_KEY in stored.extra) == ("autostop", True)  # the run's fields …
    assert (stored.pinned_until, stored.policy_changed_at) == (until, clock.now())  # … and the pin's


async def test_novita_get_failing_during_recheck_skips_without_stopping(
    emulator, novita_client, store, clock
) -> None:
    idle_a, idle_b = running_instances(emulator, 2)
    await track(store, clock, idle_a, used=40)
    await track(store, clock, idle_b, used=40)
    emulator.state.script_fault("status", status=503, count=100, path="/gpu/instance")

    report = await run(novita_client, store, clock)

    assert {e.verdict for e in report.entries} == {"skip"}
    assert all(e.reason.startswith("novita unreadable") for e in report.entries)
    assert emulator.state.calls["POST /gpu/instance/stop"] == 0
    assert (stops(emulator, idle_a), stops(emulator, idle_b)) == (0, 0)
    counters = await store.get_counters()
    assert (counters[COUNTERS["skips"]], counters.get(COUNTERS["stops"], 0)) == (2, 0)


async def test_instance_gone_before_the_recheck_is_not_stopped(emulator, novita_client, store, clock) -> None:
    [instance_id] = running_instances(emulator, 1)
    await track(store, clock, instance_id, used=40)
    plan = await plan_autostop(client=novita_client, store=store, settings_autostop=SETTINGS, clock=clock)
    emulator.state.set_status(instance_id, "exited")  # someone stopped it meanwhile

    report = await apply_autostop(
        plan, client=novita_client, store=store, settings_autostop=SETTINGS, clock=clock
    )

    assert (report.entries[0].verdict, report.entries[0].reason) == ("skip", "not running")
    assert stops(emulator, instance_id) == 0


async def test_store_unreadable_during_recheck_skips_without_stopping(
    emulator, novita_client, store_backend: str, tmp_path: Path, clock
) -> None:
    [instance_id] = running_instances(emulator, 1)
    server = start_redis_server(tmp_path / "doomed") if store_backend == "redis" else None
    url = server.url if server else ""
    store = await open_store(StoreOptions(url=url, sqlite_path=tmp_path / "s.db"), clock=clock)
    try:
        await track(store, clock, instance_id, used=40)
        plan = await plan_autostop(client=novita_client, store=store, settings_autostop=SETTINGS, clock=clock)
        assert len(plan.candidates) == 1
        if server is not None:
            server.stop()
        else:
            await store.close()

        report = await apply_autostop(
            plan, client=novita_client, store=store, settings_autostop=SETTINGS, clock=clock
        )

        assert (report.entries[0].verdict, report.entries[0].reason) == ("skip", "store unreadable")
        assert report.errors
        assert emulator.state.calls["POST /gpu/instance/stop"] == 0
        # Novita is re-read before the store (the store read must be the last look before acting).
        assert emulator.state.calls["GET /gpu/instance"] == 1
        with pytest.raises(StoreError):
            await plan_autostop(client=novita_client, store=store, settings_autostop=SETTINGS, clock=clock)
    finally:
        if server is not None:
            server.stop()
        await store.close()


async def test_a_repaired_garbage_timestamp_never_stops(
    emulator, novita_client, store, write_raw_record, clock
):
    [instance_id] = running_instances(emulator, 1)
    long_ago = (clock.now() - timedelta(hours=6)).isoformat()
    document = {
        "id": instance_id,
        "name": "legacy",
        "status": "running",
        "first_seen_at": long_ago,
        "last_started_at": long_ago,
        "last_used_at": "Invalid Date",
        "price_per_hour": 1.0,
    }
    await write_raw_record(instance_id, json.dumps(document))

    report = await run(novita_client, store, clock)

    assert report.entries[0].verdict == "keep"
    assert stops(emulator, instance_id) == 0


async def test_max_runtime_stops_an_active_instance(emulator, novita_client, store, clock) -> None:
    [instance_id] = running_instances(emulator, 1)
    await track(store, clock, instance_id, used=1)

    report = await run(novita_client, store, clock, max_runtime_minutes=120)

    assert (report.entries[0].verdict, report.entries[0].trigger) == ("stopped", "max-runtime")
    record = await store.get(instance_id)
    assert record is not None
    assert record.stopped_by == "max-runtime"
    assert (await store.get_counters())[COUNTERS["max_runtime_stops"]] == 1


async def test_warning_once_per_idle_period_and_not_after_a_ping(
    emulator, novita_client, store, clock
) -> None:
    [instance_id] = running_instances(emulator, 1)
    await track(store, clock, instance_id, used=16)

    async def warnings() -> int:
        return len(await store.list_events(instance_id=instance_id, types=["instance.autostop_pending"]))

    await run(novita_client, store, clock, warn_before_minutes=5)
    assert await warnings() == 1
    [event] = await store.list_events(types=["instance.autostop_pending"])
    assert event.data["stopAt"] == (clock.now() + timedelta(minutes=4)).isoformat()
    clock.advance(minutes=1)
    await run(novita_client, store, clock, warn_before_minutes=5)
    assert await warnings() == 1  # once per idle period
    await record_ping(store, instance_id, clock=clock)
    clock.advance(minutes=1)
    await run(novita_client, store, clock, warn_before_minutes=5)
    assert await warnings() == 1  # used again: nothing pending
    clock.advance(minutes=15)
    report = await run(novita_client, store, clock, warn_before_minutes=5)
    assert await warnings() == 2  # a new idle period
    assert report.entries[0].verdict == "keep"
    assert stops(emulator, instance_id) == 0
    assert (await store.get_counters())[COUNTERS["warnings"]] == 2


async def test_no_stop_before_its_warning_has_run_its_course(emulator, novita_client, store, clock) -> None:
    # Found far past its threshold, never warned: warned now, stopped no sooner than warn_before later.
    [instance_id] = running_instances(emulator, 1)
    await track(store, clock, instance_id, used=90)

    first = await run(novita_client, store, clock, warn_before_minutes=5)
    assert (first.entries[0].verdict, first.entries[0].reason) == (
        "keep",
        f"idle 1h30m >= 20m; warning first, stops at {(clock.now() + timedelta(minutes=5)):%H:%M} UTC",
    )
    assert len(await store.list_events(types=["instance.autostop_pending"])) == 1
    clock.advance(minutes=4)
    second = await run(novita_client, store, clock, warn_before_minutes=5)
    assert second.entries[0].verdict == "keep"
    assert "warned, stops at" in second.entries[0].reason
    assert stops(emulator, instance_id) == 0
    clock.advance(minutes=1)
    third = await run(novita_client, store, clock, warn_before_minutes=5)
    assert third.entries[0].verdict == "stopped"
    assert stops(emulator, instance_id) == 1
    assert len(await store.list_events(types=["instance.autostop_pending"])) == 1


async def test_an_adopted_instance_gets_a_full_threshold_from_first_sight(
    emulator, novita_client, store, clock
) -> None:
    # Started days ago (by Novita's clock and the record's), but novictl saw it only now.
    [instance_id] = running_instances(emulator, 1)
    now = clock.now()
    await store.put(
        sample_record(instance_id, now, last_started_at=now - timedelta(days=3), price_per_hour=0.5)
    )

    report = await run(novita_client, store, clock, warn_before_minutes=5)
    assert (report.entries[0].verdict, report.entries[0].reason) == (
        "keep",
        "first seen 0s ago (startup grace)",
    )
    clock.advance(minutes=20 + 45 - 5)
    await run(novita_client, store, clock, warn_before_minutes=5)  # warned now
    clock.advance(minutes=4)
    assert (await run(novita_client, store, clock, warn_before_minutes=5)).entries[0].verdict == "keep"
    clock.advance(minutes=1)
    assert (await run(novita_client, store, clock, warn_before_minutes=5)).entries[0].verdict == "stopped"


async def test_savings_accumulate_while_stopped_and_settle_on_the_next_start(
    emulator_factory, novita_client_factory, store, clock
) -> None:
    # This emulator lives on the injected clock, so start and stop times are exact.
    server = emulator_factory(clock=lambda: clock.now().timestamp(), step_delay=1.0)
    client = await novita_client_factory(base_url=server.base_url, api_key=server.api_key)
    [instance_id] = server.state.seed_instances(1)
    server.state.set_status(instance_id, "running")
    await track(store, clock, instance_id, used=60, price_per_hour=0.5)

    saving = hourly_saving_on_novita(server, instance_id)
    await run(client, store, clock)
    clock.advance(hours=2)
    stats = await autostop_stats(store, SETTINGS, clock=clock)
    assert stats["savings"] == {
        "settledUsd": 0.0,
        "openUsd": round(2 * saving, 4),
        "totalUsd": round(2 * saving, 4),
        "stillStopped": 1,
    }
    assert stats["counters"]["stops"] == 1

    await client.start_instance(instance_id)
    clock.advance(seconds=5)  # starting takes a few emulated seconds
    await wait_for_status(client, instance_id, {"running"}, poll_interval=0)
    clock.advance(hours=1)
    await record_ping(store, instance_id, clock=clock)
    await run(client, store, clock)

    stats = await autostop_stats(store, SETTINGS, clock=clock)
    assert stats["savings"]["stillStopped"] == 0
    assert stats["savings"]["settledUsd"] == pytest.approx(2 * saving, abs=0.01)  # 2 h stopped
    record = await store.get(instance_id)
    assert record is not None
    assert OPEN_STOP_KEY not in record.extra


async def test_a_confirmation_is_asked_before_the_lock_and_the_run_plans_again(
    emulator, novita_client, store, clock
) -> None:
    from novictl.core.autostop import AUTOSTOP_LOCK

    idle, pinged_meanwhile = running_instances(emulator, 2)
    await track(store, clock, idle, used=45)
    await track(store, clock, pinged_meanwhile, used=45)
    asked: list[tuple[list[str], str | None]] = []

    async def confirm(candidates) -> None:
        # A person reads the prompt: no run may be blocked meanwhile, and a ping may land.
        asked.append((sorted(e.instance_id for e in candidates), await store.lock_holder(AUTOSTOP_LOCK)))
        await record_ping(store, pinged_meanwhile, source="notebook", clock=clock)

    report = await run_autostop(
        client=novita_client,
        store=store,
        settings_autostop=SETTINGS,
        clock=clock,
        dry_run=False,
        confirm=confirm,
    )

    assert asked == [(sorted([idle, pinged_meanwhile]), None)]
    verdicts = {e.instance_id: e.verdict for e in report.entries}
    assert verdicts == {idle: "stopped", pinged_meanwhile: "keep"}
    assert stops(emulator, pinged_meanwhile) == 0


async def test_a_declined_confirmation_stops_nothing_and_writes_nothing(
    emulator, novita_client, store, clock
) -> None:
    [instance_id] = running_instances(emulator, 1)
    await track(store, clock, instance_id, used=45)

    class Declined(Exception):
        pass

    def decline(candidates) -> None:
        raise Declined

    with pytest.raises(Declined):
        await run_autostop(
            client=novita_client,
            store=store,
            settings_autostop=SETTINGS,
            clock=clock,
            dry_run=False,
            confirm=decline,
        )
    assert stops(emulator, instance_id) == 0
    assert (await store.get_counters()).get(COUNTERS["runs"], 0) == 0


async def test_the_run_stops_only_what_the_person_confirmed(emulator, novita_client, store, clock) -> None:
    shown, idle_since = running_instances(emulator, 2)
    await track(store, clock, shown, used=45)
    await track(store, clock, idle_since, used=19)  # one minute short at the prompt

    def confirm(candidates) -> None:
        assert [e.instance_id for e in candidates] == [shown]
        clock.advance(minutes=2)  # the person takes their time

    report = await run_autostop(
        client=novita_client,
        store=store,
        settings_autostop=SETTINGS,
        clock=clock,
        dry_run=False,
        confirm=confirm,
    )
    verdicts = {e.instance_id: e.verdict for e in report.entries}
    assert verdicts == {shown: "stopped", idle_since: "keep"}
    assert stops(emulator, idle_since) == 0
