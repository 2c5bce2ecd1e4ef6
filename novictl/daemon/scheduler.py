"""APScheduler's ``AsyncIOScheduler`` with the daemon's jobs: sync (at startup, then every interval),
auto-stop check, purge, heartbeat, the settle sweep and webhook delivery. Each job runs at most once at a
time; missed ticks coalesce."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from novictl.daemon.jobs import JobOutcome, JobRunner

__all__ = ["build_scheduler"]

# A tick missed by more than this (a suspended laptop, a long job) is dropped, not run late in a burst.
_MISFIRE_GRACE_SECONDS = 30
_running: set[asyncio.Future[JobOutcome]] = set()


def build_scheduler(runner: JobRunner) -> Any:
    """A configured, not yet started ``AsyncIOScheduler`` (start it inside the running event loop)."""
    from apscheduler.schedulers.asyncio import AsyncIOScheduler
    from apscheduler.triggers.interval import IntervalTrigger

    schedule = runner.schedule
    now = datetime.now(UTC)
    scheduler = AsyncIOScheduler(
        timezone=UTC,
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": _MISFIRE_GRACE_SECONDS},
    )

    def every(seconds: float, job: Callable[[], Awaitable[JobOutcome]], name: str, first: datetime) -> None:
        scheduler.add_job(_shielded(job), IntervalTrigger(seconds=seconds, timezone=UTC), id=name, name=name,
                          next_run_time=first)  # fmt: skip

    every(schedule.heartbeat_seconds, runner.heartbeat, "heartbeat", now)
    if schedule.sync_seconds is not None:
        every(schedule.sync_seconds, runner.sync, "sync", now)
    # The first check waits one interval: the startup sync adopts instances before they are judged.
    every(
        schedule.autostop_seconds,
        runner.autostop,
        "autostop",
        now + timedelta(seconds=schedule.autostop_seconds),
    )
    every(
        schedule.purge_seconds,
        runner.purge,
        "purge",
        now + timedelta(seconds=min(60.0, schedule.purge_seconds)),
    )
    every(
        schedule.settle_sweep_seconds,
        runner.settle,
        "settle",
        now + timedelta(seconds=schedule.settle_sweep_seconds),
    )
    every(
        schedule.webhook_seconds,
        runner.webhooks_tick,
        "webhooks",
        now + timedelta(seconds=schedule.webhook_seconds),
    )
    return scheduler


def _shielded(job: Callable[[], Awaitable[JobOutcome]]) -> Callable[[], Awaitable[JobOutcome]]:
    """APScheduler cancels running jobs when it shuts down; a job must instead be allowed to finish (the
    daemon waits for it, bounded), so the scheduler only ever awaits a shield around it."""

    async def run() -> JobOutcome:
        task = asyncio.ensure_future(job())
        _running.add(task)  # asyncio keeps only weak references to tasks
        task.add_done_callback(_running.discard)
        return await asyncio.shield(task)

    return run
