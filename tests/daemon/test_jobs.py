"""The scheduled jobs: one daemon per tick on a shared Redis, and a Redis outage under a running daemon."""

from __future__ import annotations

import shutil
import subprocess
import uuid

import pytest

from novictl.clock import FrozenClock, utcnow
from novictl.core.autostop import run_autostop
from novictl.core.sync import SyncOptions, sync_instances
from novictl.daemon.heartbeat import check_heartbeat
from novictl.daemon.jobs import JobRunner, JobSchedule
from novictl.daemon.service import Daemon
from novictl.errors import StoreError
from novictl.store import open_store
from tests.fixtures.daemon import seed_running
from tests.fixtures.redis_server import restart_redis_server, start_redis_server

pytestmark = pytest.mark.redis

IDLE_AT_ONCE = {"autostop.idle_minutes": 0.01, "autostop.startup_grace_minutes": 0}


async def test_two_daemons_on_one_redis_act_once_per_tick(
    daemon_settings, redis_url, emulator, novita_client
) -> None:
    ids = seed_running(emulator, 5)
    settings = daemon_settings(
        {"store.url": redis_url, "store.key_prefix": f"ha-{uuid.uuid4().hex[:8]}:", **IDLE_AT_ONCE}
    )
    # Adopted an hour ago (auto-stop never stops on first sight).
    clock = FrozenClock(utcnow())
    store = await open_store(settings.store, clock=clock)
    try:
        await sync_instances(client=novita_client, store=store, options=SyncOptions(), clock=clock)
        # And a run then (nothing stopped on first sight): the runs below are not a new store's first.
        await run_autostop(
            client=novita_client, store=store, settings_autostop=settings.autostop, clock=clock, dry_run=False
        )
    finally:
        await store.close()
    clock.advance(hours=1)
    first = Daemon(settings, daemon_id="daemon-a", clock=clock)
    second = Daemon(settings, daemon_id="daemon-b", clock=clock)

    outcomes_a = await first.run_once()
    outcomes_b = await second.run_once()

    assert outcomes_a == {"heartbeat": "ran", "sync": "ran", "autostop": "ran", "purge": "ran"}
    assert outcomes_b == {"heartbeat": "ran", "sync": "skipped", "autostop": "skipped", "purge": "skipped"}
    assert emulator.state.calls["POST /gpu/instance/stop"] == len(ids)
    assert all(emulator.state.instance_calls[i]["stop"] == 1 for i in ids)


async def test_run_once_writes_a_fresh_heartbeat(daemon_settings, emulator) -> None:
    from novictl.clock import SystemClock
    from novictl.store import open_store

    settings = daemon_settings()
    await Daemon(settings, daemon_id="beater").run_once()
    store = await open_store(settings.store)
    try:
        verdict = await check_heartbeat(store, now=SystemClock().now(), heartbeat_seconds=30)
    finally:
        await store.close()
    assert verdict.fresh
    assert verdict.latest is not None
    assert verdict.latest.daemon_id == "beater"


async def test_redis_outage_refuses_pings_skips_autostop_and_recovers(
    daemon_harness, daemon_settings, emulator, tmp_path
) -> None:
    if shutil.which("redis-cli") is None:
        pytest.fail("redis-cli not found: apt-get install -y redis-tools")
    server = start_redis_server(tmp_path / "redis")
    revived: subprocess.Popen[bytes] | None = None
    try:
        harness = await daemon_harness({"store.url": server.url, **IDLE_AT_ONCE})
        ctx = harness.ctx
        (instance_id,) = seed_running(emulator, 1)
        assert (await harness.http.post("/api/instances/sync")).status_code == 200
        runner = JobRunner(ctx, JobSchedule.from_settings(ctx.settings))

        # Snapshot the data so the restarted server has it (the test server runs without persistence).
        subprocess.run(["redis-cli", "-p", str(server.port), "save"], capture_output=True, check=True)
        server.stop()
        acknowledged = await harness.http.put(f"/api/instances/{instance_id}/last-used")
        assert acknowledged.status_code == 200  # known id, buffered: the outage is not known yet
        with pytest.raises(StoreError):
            await ctx.pings.flush()
        assert len(ctx.pings) == 1  # kept, not dropped

        refused = await harness.http.put(f"/api/instances/{instance_id}/last-used")
        assert refused.status_code == 503
        assert refused.headers["retry-after"]
        health = await harness.http.get("/health")
        assert health.status_code == 503
        assert health.json()["checks"]["store"].startswith("unavailable")
        assert await runner.autostop() == "failed"
        # No auto-stop while the state is unreadable.
        assert emulator.state.calls["POST /gpu/instance/stop"] == 0

        revived = restart_redis_server(server, tmp_path / "redis")
        assert await ctx.pings.flush() == 1  # the acknowledged ping reaches the store
        await ctx.pings.probe()
        assert (await harness.http.put(f"/api/instances/{instance_id}/last-used")).status_code == 200
        # The store answers again, but auto-stop's last attempt failed: degraded until a run can act.
        health = await harness.http.get("/health")
        assert health.status_code == 503
        assert health.json()["checks"]["store"] == "ok"
        assert health.json()["checks"]["autostop"].startswith("store unavailable")
        assert await runner.autostop() == "ran"
        assert (await harness.http.get("/health")).status_code == 200
        await ctx.pings.flush()
        stored = await ctx.store.get(instance_id)
        assert stored is not None
        assert stored.last_used_at is not None
        assert stored.last_used_at.isoformat() >= acknowledged.json()["lastUsedAt"]
    finally:
        if revived is not None:
            revived.terminate()
            revived.wait(timeout=5)
        server.stop()


async def test_shutdown_cancels_a_long_autostop_run_after_it_records_what_it_stopped(
    daemon_harness, emulator
) -> None:
    import asyncio

    clock = FrozenClock(utcnow())
    harness = await daemon_harness(IDLE_AT_ONCE, clock=clock)
    ctx = harness.ctx
    ids = seed_running(emulator, 2)
    assert (await harness.http.post("/api/instances/sync")).status_code == 200
    # A real run at adoption (it stops nothing on first sight): the scheduled one below is not the first.
    assert (await harness.http.post("/api/instances/auto-stop/trigger", json={"dryRun": False})).is_success
    clock.advance(hours=1)
    emulator.state.script_fault("slow", path="POST /gpu/instance/stop", seconds=30)  # one stop hangs
    runner = JobRunner(ctx, JobSchedule.from_settings(ctx.settings))

    job = asyncio.ensure_future(runner.autostop())
    for _ in range(500):
        if any(emulator.state.instance(i)["status"] != "running" for i in ids):
            break
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.05)
    assert not await runner.wait_idle(0.01)  # still running: one stop hangs
    await runner.cancel_running()

    assert job.done()
    [answered] = [i for i in ids if emulator.state.instance(i)["status"] != "running"]
    stored = await ctx.store.get(answered)
    assert stored is not None
    assert stored.stopped_by == "autostop"
