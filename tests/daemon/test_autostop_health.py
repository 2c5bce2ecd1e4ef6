"""Whether auto-stop can act, said everywhere: ``/health`` is 503, ``daemon check`` fails and ``autostop
stats`` says so when Novita refuses the key or the last run failed; a daemon's first check on a new store
warns and stops nothing."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest

from novictl.clock import FrozenClock, utcnow
from novictl.core.autostop import autostop_stats
from novictl.daemon.heartbeat import check_heartbeat
from novictl.daemon.jobs import JobRunner, JobSchedule
from tests.fixtures.daemon import seed_running


async def adopted_long_ago(daemon_harness, emulator, count: int = 2, **overrides):
    clock = FrozenClock(utcnow())
    harness = await daemon_harness(overrides, clock=clock)
    ids = seed_running(emulator, count)
    assert (await harness.http.post("/api/instances/sync", json={})).status_code == 200
    clock.advance(days=1)
    runner = JobRunner(harness.ctx, JobSchedule.from_settings(harness.settings))
    return harness, clock, runner, ids


async def test_a_revoked_key_makes_health_503_and_daemon_check_fail_until_it_works_again(
    daemon_harness, emulator
) -> None:
    harness, clock, runner, _ = await adopted_long_ago(daemon_harness, emulator)
    assert await runner.autostop() == "ran"
    assert (await harness.http.get("/health")).status_code == 200

    emulator.state.script_fault("status", status=401, count=100)  # the key was revoked in the console
    clock.advance(minutes=5)  # the next tick
    assert await runner.autostop() == "failed"
    await runner.heartbeat()

    health = await harness.http.get("/health")
    assert health.status_code == 503
    assert health.json()["status"] == "degraded"
    assert health.json()["checks"]["autostop"].startswith("Novita refused the API key")
    verdict = await check_heartbeat(harness.ctx.store, now=clock.now(), heartbeat_seconds=30)
    assert verdict.fresh
    assert not verdict.healthy  # `novictl daemon check` exits 1
    assert verdict.to_dict()["autostopProblem"].startswith("Novita refused the API key")
    stats = await autostop_stats(harness.ctx.store, harness.settings.autostop, clock=clock)
    assert stats["health"]["ok"] is False

    emulator.state.clear_script()
    clock.advance(minutes=5)
    assert await runner.autostop() == "ran"
    await runner.heartbeat()
    assert (await harness.http.get("/health")).status_code == 200
    verdict = await check_heartbeat(harness.ctx.store, now=clock.now(), heartbeat_seconds=30)
    assert verdict.healthy


async def test_a_sync_refused_the_key_also_says_auto_stop_cannot_act(daemon_harness, emulator) -> None:
    harness, _, runner, _ = await adopted_long_ago(daemon_harness, emulator)
    emulator.state.script_fault("status", status=403, count=100)
    assert await runner.sync() == "failed"
    health = await harness.http.get("/health")
    assert health.status_code == 503
    assert "refused the API key" in health.json()["checks"]["autostop"]


async def test_the_first_check_on_a_new_store_warns_and_stops_nothing(
    daemon_harness, emulator, caplog: pytest.LogCaptureFixture
) -> None:
    harness, clock, runner, ids = await adopted_long_ago(
        daemon_harness, emulator, 3, **{"autostop.warn_before_minutes": 5}
    )
    with caplog.at_level(logging.WARNING, logger="novictl.daemon.operations"):
        assert await runner.autostop() == "ran"
    stop_at = (clock.now() + timedelta(minutes=5)).strftime("%H:%M UTC")
    assert any(
        r.getMessage().startswith("the first check would stop 3 instances ($")
        and r.getMessage().endswith(f") at {stop_at}")
        for r in caplog.records
    )
    assert emulator.state.calls["POST /gpu/instance/stop"] == 0
    warnings = await harness.ctx.store.list_events(types=["instance.autostop_pending"])
    assert {w.instance_id for w in warnings} == set(ids)
    assert harness.ctx.last_autostop_check is not None
    assert harness.ctx.last_autostop_check["dryRun"] is True

    clock.advance(minutes=5)
    assert await runner.autostop() == "ran"
    assert emulator.state.calls["POST /gpu/instance/stop"] == 3


async def test_a_store_that_ran_auto_stop_before_is_not_a_first_check(daemon_harness, emulator) -> None:
    harness, clock, runner, _ = await adopted_long_ago(daemon_harness, emulator, 2)
    assert await runner.autostop() == "ran"  # first: warnings only (none due with warn_before 0) …
    assert emulator.state.calls["POST /gpu/instance/stop"] == 0
    again = JobRunner(harness.ctx, JobSchedule.from_settings(harness.settings))  # a restarted daemon
    clock.advance(minutes=5)
    assert await again.autostop() == "ran"
    assert emulator.state.calls["POST /gpu/instance/stop"] == 2


async def test_no_gpu_metrics_on_the_account_is_said_not_failed(daemon_harness, emulator) -> None:
    harness, clock, runner, _ = await adopted_long_ago(daemon_harness, emulator, 1)
    emulator.app.state.metrics.set_mode("not_found")
    assert await runner.autostop() == "ran"
    health = await harness.http.get("/health")
    assert health.status_code == 200
    assert health.json()["gpuSource"].startswith("unavailable")
    stats = await autostop_stats(harness.ctx.store, harness.settings.autostop, clock=clock)
    assert stats["health"]["gpu"].startswith("unavailable")


async def test_metrics_count_what_kept_each_instance_and_its_gpu_use(
    daemon_harness, emulator_factory
) -> None:
    clock = FrozenClock(utcnow())
    server = emulator_factory(clock=lambda: clock.now().timestamp())
    busy, pinged = server.state.seed_instances(2)
    for instance_id in (busy, pinged):
        server.state.set_status(instance_id, "running")
    server.app.state.metrics.set_utilization(busy, gpu=80, at=clock.now().timestamp())
    harness = await daemon_harness(
        {"novita.base_url": server.base_url, "novita.api_key": server.api_key}, clock=clock
    )
    assert (await harness.http.post("/api/instances/sync", json={})).status_code == 200
    clock.advance(hours=2)
    await harness.http.put(f"/api/instances/{pinged}/last-used", json={"source": "job"})
    report = (await harness.http.post("/api/instances/auto-stop/trigger", json={"dryRun": False})).json()
    assert report["totals"]["keep"] == 2

    text = (await harness.http.get("/metrics")).text
    assert 'novictl_autostop_kept_total{reason="gpu"} 1.0' in text
    assert 'novictl_autostop_kept_total{reason="pings"} 1.0' in text
    assert f'novictl_instance_gpu_utilization_ratio{{instance="{busy}"}} 0.8' in text
    listed = {i["id"]: i for i in (await harness.http.get("/api/instances")).json()["instances"]}
    assert listed[busy]["lastGpuPercent"] == 80  # the run kept the sample it read


async def test_a_failed_first_check_leaves_the_next_one_to_warn_first(daemon_harness, emulator) -> None:
    harness, clock, runner, _ = await adopted_long_ago(daemon_harness, emulator, 2)
    emulator.state.script_fault("status", status=401, count=100)
    assert await runner.autostop() == "failed"
    emulator.state.clear_script()
    clock.advance(minutes=5)
    assert await runner.autostop() == "ran"  # still the first that ran: warnings only
    assert emulator.state.calls["POST /gpu/instance/stop"] == 0
    assert harness.ctx.last_autostop_check["dryRun"] is True
