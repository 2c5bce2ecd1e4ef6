"""The daemon's auto-stop: runs take the store's auto-stop lock, the re-check sees every acknowledged ping,
the stats are the CLI's, only real runs (and a dry-run daemon's scheduled checks) count as the last run,
one log line per run, and the skips metric counts only skips for a reason."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from novictl.clock import FrozenClock, utcnow
from novictl.core.autostop import AUTOSTOP_LOCK, autostop_stats, pin_instance, set_autostop_policy
from novictl.daemon.jobs import JobRunner, JobSchedule
from tests.fixtures.daemon import seed_running

TRIGGER = "/api/instances/auto-stop/trigger"


async def idle_world(daemon_harness, emulator, count: int = 1):
    """A harness whose ``count`` running instances have been idle for days."""
    clock = FrozenClock(utcnow())
    harness = await daemon_harness(clock=clock)
    ids = seed_running(emulator, count)
    assert (await harness.http.post("/api/instances/sync", json={})).status_code == 200
    clock.advance(days=3)
    return harness, clock, ids


async def wait_for(condition, seconds: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.005)


async def test_a_ping_acknowledged_while_the_run_rechecks_keeps_the_instance(
    daemon_harness, emulator
) -> None:
    harness, _, (instance_id,) = await idle_world(daemon_harness, emulator)
    # The run's re-read of the candidate from Novita hangs a moment; a job pings the daemon meanwhile.
    emulator.state.script_fault("slow", path="GET /gpu/instance", seconds=0.4)
    run = asyncio.ensure_future(harness.http.post(TRIGGER, json={"dryRun": False}))
    await wait_for(lambda: emulator.state.instance_calls[instance_id]["get"] >= 1)

    ping = await harness.http.put(f"/api/instances/{instance_id}/last-used", json={"source": "job"})
    assert ping.status_code == 200
    assert len(harness.ctx.pings) == 1  # acknowledged into the buffer, not in the store yet

    report = (await run).json()
    [entry] = report["entries"]
    assert (entry["verdict"], entry["lastUsedSource"]) == ("keep", "job")
    assert emulator.state.instance_calls[instance_id]["stop"] == 0
    assert emulator.state.instance(instance_id)["status"] == "running"


async def test_a_real_run_is_409_while_another_holds_the_lock_and_a_dry_run_is_not(
    daemon_harness, emulator
) -> None:
    harness, _, (instance_id,) = await idle_world(daemon_harness, emulator)
    token = await harness.ctx.store.acquire_lock(AUTOSTOP_LOCK, 60, owner="cli@elsewhere")
    assert token is not None

    busy = await harness.http.post(TRIGGER, json={"dryRun": False})
    assert busy.status_code == 409
    assert busy.json()["error"]["code"] == "lock_held"
    assert busy.json()["error"]["message"] == "auto-stop already running"
    dry = await harness.http.post(TRIGGER, json={"dryRun": True})
    assert dry.status_code == 200
    assert dry.json()["totals"]["stop"] == 1
    # The scheduled job takes the same lock: it skips this tick rather than run beside the holder.
    runner = JobRunner(harness.ctx, JobSchedule.from_settings(harness.settings))
    assert await runner.autostop() == "skipped"
    assert emulator.state.instance_calls[instance_id]["stop"] == 0

    assert await harness.ctx.store.release_lock(AUTOSTOP_LOCK, token)
    real = await harness.http.post(TRIGGER, json={"dryRun": False})
    assert real.status_code == 200
    assert real.json()["totals"]["stopped"] == 1
    assert await harness.ctx.store.lock_holder(AUTOSTOP_LOCK) is None  # released after the run


async def test_stats_are_the_clis_with_int_counters_and_savings_so_far(daemon_harness, emulator) -> None:
    harness, clock, ids = await idle_world(daemon_harness, emulator, 2)
    assert (await harness.http.post(TRIGGER, json={"dryRun": False})).json()["totals"]["stopped"] == 2
    clock.advance(hours=2)

    stats = (await harness.http.get("/api/instances/auto-stop/stats")).json()
    assert stats == await autostop_stats(harness.ctx.store, harness.settings.autostop, clock=clock)
    assert stats["counters"]["runs"] == 1
    assert all(type(value) is int for value in stats["counters"].values())
    assert stats["savings"]["stillStopped"] == 2
    # What a stop saves per hour: Novita's price for each instance less what its disk costs stopped.
    lives = [emulator.state.instance(instance_id) for instance_id in ids]
    hourly = sum(
        round((int(live["instancePrice"]) - int(live["exitedLocalStoragePrice"])) / 100_000, 6)
        for live in lives
    )
    assert hourly > 0
    assert stats["savings"]["openUsd"] == round(2 * hourly, 4)  # two hours stopped "so far"


async def test_only_real_runs_and_scheduled_dry_runs_are_the_last_run(daemon_harness, emulator) -> None:
    harness, clock, _ = await idle_world(daemon_harness, emulator)

    async def last_run():
        return (await harness.http.get("/api/instances/auto-stop/stats")).json()["lastRun"]

    assert (await harness.http.post(TRIGGER)).status_code == 200  # the page's "Dry run" button
    assert await last_run() is None
    await harness.http.post(TRIGGER, json={"dryRun": False})
    real = await last_run()
    assert (real["dryRun"], real["totals"]["stopped"]) == (False, 1)
    clock.advance(minutes=5)
    await harness.http.post(TRIGGER)
    assert await last_run() == real  # a preview does not hide the last real run

    harness.ctx.dry_run = True  # `novictl daemon --dry-run`: its scheduled checks are its runs
    emulator.state.set_status((await harness.ctx.store.get_all())[0].id, "running")
    assert await JobRunner(harness.ctx, JobSchedule.from_settings(harness.settings)).autostop() == "ran"
    scheduled = await last_run()
    assert scheduled["dryRun"] is True
    assert scheduled["ranAt"] == clock.now().isoformat()
    assert (await harness.http.get("/health")).json()["lastAutoStopCheck"]["dryRun"] is True


async def test_one_log_line_per_run(daemon_harness, emulator) -> None:
    harness, clock, _ = await idle_world(daemon_harness, emulator)
    lines: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(record.getMessage())

    handler = Collect(logging.INFO)
    logger = logging.getLogger("novictl")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    runner = JobRunner(harness.ctx, JobSchedule.from_settings(harness.settings))
    try:
        assert await runner.autostop() == "ran"  # a new store's first check: warnings only
        first = list(lines)
        lines.clear()
        clock.advance(minutes=5)
        assert await runner.autostop() == "ran"
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    assert [line for line in first if line.startswith("auto-stop")] == [first[-2]]
    assert first[-2].startswith("auto-stop (dry run): 1 would stop")
    assert first[-1].startswith("the first check would stop 1 instance ($")
    summaries = [line for line in lines if line.startswith("auto-stop")]
    assert len(summaries) == 1, lines
    assert summaries[0].startswith("auto-stop: 1 stopped")


async def test_the_skips_metric_counts_pinned_off_and_unknown_not_stopped_ones(
    daemon_harness, emulator
) -> None:
    harness, clock, (pinned, off, stopped_a, stopped_b) = await idle_world(daemon_harness, emulator, 4)
    store = harness.ctx.store
    await pin_instance(store, pinned, until=clock.now() + timedelta(hours=1), clock=clock)
    await set_autostop_policy(store, off, off=True, clock=clock)
    for instance_id in (stopped_a, stopped_b):
        emulator.state.set_status(instance_id, "exited")

    report = (await harness.http.post(TRIGGER)).json()
    assert sorted(e["reason"] for e in report["entries"] if e["verdict"] == "skip") == [
        "auto-stop off for this instance",
        "not running",
        "not running",
    ]
    metrics = (await harness.http.get("/metrics")).text
    assert "novictl_autostop_skips_total 2.0" in metrics  # the pinned and the off one
