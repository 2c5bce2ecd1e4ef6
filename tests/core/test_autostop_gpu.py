"""Auto-stop with GPU activity and the warning gate, against an emulator that lives on the injected clock
(so its metrics series and start times line up with the policy's ``now``).

Every instance here was made outside novictl and never pinged: GPU use is the only sign of work.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from novictl.clock import FrozenClock
from novictl.config.models import AutoStopSettings
from novictl.core.autostop import run_autostop
from novictl.core.sync import SyncOptions, sync_instances
from novictl.novita import NovitaClient
from novictl.store import StateStore

SETTINGS = AutoStopSettings()  # pings + gpu, idle 20m + grace 45m (never pinged), warned 5m before
THRESHOLD = timedelta(minutes=20 + 45)


class World:
    def __init__(self, server: Any, client: NovitaClient, store: StateStore, clock: FrozenClock):
        self.server, self.client, self.store, self.clock = server, client, store, clock

    async def run(self, **settings: Any) -> Any:
        return await run_autostop(
            client=self.client,
            store=self.store,
            settings_autostop=SETTINGS.model_copy(update=settings),
            clock=self.clock,
            dry_run=False,
        )

    def calls(self, instance_id: str, what: str) -> int:
        return int(self.server.state.instance_calls[instance_id][what])


@pytest.fixture
async def world(
    emulator_factory: Any, novita_client_factory: Any, store: StateStore, frozen_clock: FrozenClock
) -> World:
    clock = frozen_clock  # the store's clock too
    server = emulator_factory(clock=lambda: clock.now().timestamp())
    client = await novita_client_factory(base_url=server.base_url, api_key=server.api_key)
    return World(server, client, store, clock)


async def adopt(world: World, count: int, *, utilization: float = 0) -> list[str]:
    """``count`` instances running since a day ago, adopted by a sync now, at ``utilization`` % since."""
    ids: list[str] = world.server.state.seed_instances(count)
    world.clock.advance(days=-1)
    for instance_id in ids:
        world.server.state.set_status(instance_id, "running")
        world.server.app.state.metrics.set_utilization(
            instance_id, gpu=utilization, at=world.clock.now().timestamp()
        )
    world.clock.advance(days=1)
    await sync_instances(client=world.client, store=world.store, options=SyncOptions(), clock=world.clock)
    world.server.state.reset_calls()
    return ids


async def test_a_never_pinged_instance_busy_on_its_gpu_is_kept_for_hours(world: World) -> None:
    [instance_id] = await adopt(world, 1, utilization=80)
    world.clock.advance(THRESHOLD)
    for _ in range(6):  # three hours of checks past the threshold since first sight
        report = await world.run()
        [entry] = report.entries
        assert (entry.verdict, entry.kept_by) == ("keep", "gpu")
        # Read when the pings say idle ("gpu 80% 1m ago"); until that sample is a threshold old, the
        # stored one keeps it without a new read ("gpu busy 31m ago").
        assert entry.reason.startswith(("gpu 80% ", "gpu busy "))
        assert entry.reason.endswith(" ago")
        assert report.gpu_source in ("ok", None)  # None: nothing needed a read this run
        world.clock.advance(minutes=30)
    assert world.calls(instance_id, "stop") == 0
    assert world.server.state.instance(instance_id)["status"] == "running"


async def test_an_idle_gpu_is_stopped_after_its_threshold_and_only_after_its_warning(world: World) -> None:
    [instance_id] = await adopt(world, 1, utilization=0)
    world.clock.advance(THRESHOLD - timedelta(minutes=10))
    assert (await world.run()).entries[0].verdict == "keep"  # not idle a full threshold since first sight
    assert world.calls(instance_id, "metrics") == 0  # pings still say active: no read

    world.clock.advance(minutes=10)
    [entry] = (await world.run()).entries
    assert (entry.verdict, entry.warn) == ("keep", True)
    assert "warning first, stops at" in entry.reason
    [warning] = await world.store.list_events(types=["instance.autostop_pending"])
    assert warning.instance_id == instance_id

    world.clock.advance(minutes=4)
    assert (await world.run()).entries[0].verdict == "keep"
    assert world.calls(instance_id, "stop") == 0

    world.clock.advance(minutes=1)
    [entry] = (await world.run()).entries
    assert (entry.verdict, entry.reason) == ("stopped", "idle 1h10m >= 1h05m")
    assert world.calls(instance_id, "stop") == 1


async def test_a_failing_metrics_read_keeps_the_instance(world: World) -> None:
    [instance_id] = await adopt(world, 1)
    world.server.state.script_fault("status", status=503, count=1000, path="/metrics/gpu/instance")
    world.clock.advance(hours=3)
    for _ in range(3):
        report = await world.run()
        [entry] = report.entries
        assert entry.verdict == "keep"
        assert entry.reason.endswith("but gpu metrics unreadable")
        assert report.gpu_source == "unreadable"
        world.clock.advance(minutes=10)
    assert world.calls(instance_id, "stop") == 0


async def test_no_metrics_on_the_account_falls_back_to_pings(world: World) -> None:
    idle, pinged = await adopt(world, 2)
    world.server.app.state.metrics.set_mode("not_found")
    world.clock.advance(hours=3)
    from novictl.core.autostop import record_ping

    await record_ping(world.store, pinged, source="notebook", clock=world.clock)
    await world.run()  # warns the idle one
    world.clock.advance(minutes=5)
    await record_ping(world.store, pinged, source="notebook", clock=world.clock)
    report = await world.run()

    verdicts = {e.instance_id: (e.verdict, e.reason) for e in report.entries}
    assert verdicts[idle] == ("stopped", "idle 3h05m >= 1h05m (no gpu data)")
    assert verdicts[pinged] == ("keep", "ping from notebook 0s ago")
    assert report.gpu_source == "unavailable"
    assert world.calls(pinged, "metrics") == 0  # only the ping-idle instances are read


async def test_adopting_a_thousand_old_instances_stops_none_before_a_threshold_and_a_warning(
    world: World,
) -> None:
    ids = await adopt(world, 1000)
    stops = lambda: world.server.state.calls["POST /gpu/instance/stop"]  # noqa: E731

    first = await world.run(activity=["pings"])
    assert (first.totals["keep"], stops()) == (1000, 0)
    world.clock.advance(THRESHOLD)
    warned = await world.run(activity=["pings"])
    assert (warned.totals["keep"], stops()) == (1000, 0)
    assert all(e.warn for e in warned.entries)
    world.clock.advance(minutes=4, seconds=59)
    assert (await world.run(activity=["pings"])).totals["keep"] == 1000
    assert stops() == 0
    world.clock.advance(seconds=1)
    assert (await world.run(activity=["pings"])).totals["stopped"] == 1000
    assert all(world.calls(i, "stop") == 1 for i in ids)


async def test_gpu_use_seen_by_an_earlier_run_still_counts_when_metrics_go_missing(world: World) -> None:
    [instance_id] = await adopt(world, 1, utilization=80)
    world.clock.advance(THRESHOLD)
    assert (await world.run()).entries[0].reason.startswith("gpu 80% ")
    world.server.app.state.metrics.set_mode("not_found")  # the account's metrics vanish
    world.clock.advance(minutes=30)
    [entry] = (await world.run()).entries
    assert entry.verdict == "keep"
    assert entry.reason.startswith("gpu busy ")  # the busy sample the last run saw, 31 minutes ago
    assert world.calls(instance_id, "stop") == 0
