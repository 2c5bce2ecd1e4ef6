"""The daemon's periodic jobs: auto-stop check, sync, purge of old terminated records, heartbeat, the
re-read of instances stuck in a transitional status (``settle``), and webhook delivery (unlocked: the outbox
leases what it hands out, so daemons never send the same one twice).

Every job but the heartbeat takes a store lock first (``daemon-job:<name>``, TTL a little under its
interval) and keeps it after finishing, so among several daemons sharing one Redis exactly one acts per
tick; a daemon that cannot take the lock skips the tick. A store that cannot be reached means no lock, so no
auto-stop happens while the state is unreadable. Locks still held are released on a graceful shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Literal

from novictl import __version__
from novictl.core.autostop_health import AutoStopHealth, why_it_cannot_act
from novictl.core.webhooks import WebhookSender
from novictl.daemon.heartbeat import Heartbeat, write_heartbeat
from novictl.daemon.operations import run_scheduled_autostop, run_sync
from novictl.daemon.settle import SETTLE_POLL_SECONDS
from novictl.errors import LockHeld, NovictlError, NovitaAuthError, StoreError

if TYPE_CHECKING:
    from novictl.config import Settings
    from novictl.daemon.context import DaemonContext

__all__ = ["JOB_LOCK_PREFIX", "JobName", "JobOutcome", "JobRunner", "JobSchedule"]

log = logging.getLogger(__name__)

JOB_LOCK_PREFIX = "daemon-job:"
JobName = Literal["sync", "autostop", "purge", "heartbeat", "webhooks", "settle"]
JobOutcome = Literal["ran", "skipped", "failed"]
_LOCK_SHARE = 0.9
"""A job's lock lives this share of its interval: gone before the holder's next tick, held through others'."""


@dataclass(frozen=True)
class JobSchedule:
    """Intervals in seconds (tests pass small ones). ``sync_seconds=None``: no automatic sync."""

    autostop_seconds: float
    sync_seconds: float | None
    purge_seconds: float
    heartbeat_seconds: float
    flush_seconds: float = 1.0
    index_refresh_seconds: float = 10.0
    shutdown_grace_seconds: float = 20.0
    webhook_seconds: float = 2.0
    """How often the outbox is polled for due webhook deliveries."""
    settle_poll_seconds: float = SETTLE_POLL_SECONDS
    """Time between reads of an instance followed after a lifecycle action."""
    settle_sweep_seconds: float = 60.0
    """How often instances recorded in a transitional status for over a minute are re-read."""

    @classmethod
    def from_settings(cls, settings: Settings, **changes: Any) -> JobSchedule:
        sync = settings.sync
        values: dict[str, Any] = {
            "autostop_seconds": settings.autostop.check_interval_minutes * 60,
            "sync_seconds": sync.interval_minutes * 60 if sync.enable_automatic_sync else None,
            "purge_seconds": 3600.0,
            "heartbeat_seconds": settings.daemon.heartbeat_seconds,
        }
        values.update(changes)
        return cls(**values)


class JobRunner:
    """Runs the jobs of one daemon, each under its lock; counts outcomes; knows when none is running."""

    def __init__(self, ctx: DaemonContext, schedule: JobSchedule, *, address: str = ""):
        self.ctx = ctx
        self.schedule = schedule
        self.address = address
        self._held: dict[str, str] = {}
        self._active = 0
        self._running: set[asyncio.Task[Any]] = set()
        self._idle = asyncio.Event()
        self._idle.set()
        self.webhooks_sender = WebhookSender(ctx.store, ctx.settings.webhook, clock=ctx.clock)
        ctx.metrics.watch_webhooks(self.webhooks_sender.outcome_counts)
        self._webhook_pass: asyncio.Future[JobOutcome] | None = None
        self._failures: dict[JobName, BaseException] = {}
        self._checked = False

    async def sync(self) -> JobOutcome:
        seconds = self.schedule.sync_seconds or self.schedule.autostop_seconds
        outcome = await self._locked("sync", seconds, self._sync)
        if isinstance(self._failures.get("sync"), NovitaAuthError):
            await self._cannot_act(self._failures["sync"])  # a revoked key stops auto-stop too
        return outcome

    async def autostop(self) -> JobOutcome:
        outcome = await self._locked("autostop", self.schedule.autostop_seconds, self._autostop)
        if outcome == "failed":
            await self._cannot_act(self._failures["autostop"])
        return outcome

    async def _cannot_act(self, error: BaseException) -> None:
        """Say (on ``/health``, and in the store for ``daemon check`` and ``stats``) why auto-stop
        cannot act; the next run that can clears it."""
        last = self.ctx.autostop_health
        health = AutoStopHealth(
            self.ctx.clock.now(), why_it_cannot_act(error), last.gpu_source if last else None
        )
        self.ctx.autostop_health = health
        with contextlib.suppress(StoreError):  # the store being down is the problem, said on /health
            await health.save(self.ctx.store)

    async def purge(self) -> JobOutcome:
        return await self._locked("purge", self.schedule.purge_seconds, self._purge)

    async def settle(self) -> JobOutcome:
        """Re-read (a bounded batch of) instances stuck in a transitional status for over a minute."""
        return await self._locked("settle", self.schedule.settle_sweep_seconds, self._settle)

    async def webhooks(self) -> JobOutcome:
        """Send the due webhook deliveries (each attempt bounded by ``webhook.timeout_seconds``)."""
        return await self._tracked("webhooks", self._deliver_webhooks)

    async def webhooks_tick(self) -> JobOutcome:
        """The scheduled form of :meth:`webhooks`: starts a pass in the background unless one still waits
        on a slow receiver, and returns at once (ticks never pile up behind a receiver)."""
        if self._webhook_pass is not None and not self._webhook_pass.done():
            return "skipped"
        self._webhook_pass = asyncio.ensure_future(self.webhooks())
        return "ran"

    async def heartbeat(self) -> JobOutcome:
        """Per daemon, so no lock. A failure marks the store unhealthy so pings are refused, not lost."""
        return await self._tracked("heartbeat", self._beat)

    async def run_all_once(self) -> dict[str, JobOutcome]:
        """One tick of every job, in startup order (tests, and ``novictl daemon --once``)."""
        outcomes: dict[str, JobOutcome] = {"heartbeat": await self.heartbeat()}
        if self.schedule.sync_seconds is not None:
            outcomes["sync"] = await self.sync()
        outcomes["autostop"] = await self.autostop()
        outcomes["purge"] = await self.purge()
        return outcomes

    async def wait_idle(self, seconds: float) -> bool:
        """Wait (at most ``seconds``) for running jobs to finish; ``False`` if one still runs."""
        try:
            await asyncio.wait_for(self._idle.wait(), seconds)
        except TimeoutError:
            return False
        return True

    async def cancel_running(self, seconds: float = 10.0) -> None:
        """Cancel the jobs still running and wait (at most ``seconds``) while they record what they did —
        an auto-stop run writes the stops it already sent — before the store closes."""
        running = [task for task in self._running if not task.done()]
        for task in running:
            task.cancel()
        if running:
            await asyncio.wait(running, timeout=seconds)

    async def release_locks(self) -> None:
        """Give up the job locks this daemon holds, so another daemon can act on the next tick."""
        held, self._held = self._held, {}
        for name, token in held.items():
            with contextlib.suppress(StoreError):  # they expire by themselves anyway
                await self.ctx.store.release_lock(name, token)

    # -- the jobs --------------------------------------------------------------------------------------

    async def _sync(self) -> None:
        await run_sync(self.ctx)

    async def _autostop(self) -> None:
        # run_scheduled_autostop logs the run's one-line summary.
        # Only a check that ran counts as the first: a failed or skipped one leaves the next to warn first.
        self.ctx.last_autostop_check = await run_scheduled_autostop(self.ctx, first=not self._checked)
        self._checked = True

    async def _settle(self) -> None:
        read = await self.ctx.settler.sweep()
        if read:
            log.info("re-read %d instance(s) stuck in a transitional status", read)

    async def _purge(self) -> None:
        ctx = self.ctx
        cutoff = ctx.clock.now() - timedelta(days=ctx.settings.sync.obsolete_instance_retention_days)
        old = [
            r.id
            for r in await ctx.store.get_all()
            if r.terminated_at is not None and r.terminated_at <= cutoff
        ]
        if old:
            removed = await ctx.store.delete_many(old)
            log.info("purged %d terminated record(s) older than the retention", removed)

    async def _deliver_webhooks(self) -> None:
        report = await self.webhooks_sender.deliver_due()
        if report.attempted:
            log.info(
                "webhooks: %d delivered, %d to retry, %d failed",
                report.delivered, report.retrying, report.failed,
            )  # fmt: skip

    async def _beat(self) -> None:
        beat = Heartbeat(self.ctx.daemon_id, self.ctx.clock.now(), self.address, __version__)
        try:
            await write_heartbeat(self.ctx.store, beat)
        except StoreError:
            self.ctx.pings.store_healthy = False
            raise

    # -- plumbing --------------------------------------------------------------------------------------

    async def _locked(self, job: JobName, interval: float, work: Callable[[], Awaitable[None]]) -> JobOutcome:
        async def guarded() -> None:
            name = JOB_LOCK_PREFIX + job
            token = await self.ctx.store.acquire_lock(
                name, max(0.5, interval * _LOCK_SHARE), owner=self.ctx.daemon_id
            )
            if token is None:
                raise _Skipped
            self._held[name] = token
            await work()

        return await self._tracked(job, guarded)

    async def _tracked(self, job: JobName, work: Callable[[], Awaitable[None]]) -> JobOutcome:
        self._active += 1
        self._idle.clear()
        outcome: JobOutcome = "ran"
        task = asyncio.current_task()
        if task is not None:
            self._running.add(task)
        self._failures.pop(job, None)
        try:
            await work()
        except (_Skipped, LockHeld):
            outcome = "skipped"
            log.debug("%s: another daemon has this tick", job)
        except StoreError as error:
            outcome = "failed"
            self._failures[job] = error
            self.ctx.metrics.store_errors.inc()
            log.warning("%s skipped: the state store is unavailable: %s", job, error.message)
        except NovictlError as error:
            outcome = "failed"
            self._failures[job] = error
            log.warning("%s failed: %s", job, error.message)
        except Exception as error:
            outcome = "failed"
            self._failures[job] = error
            log.exception("%s failed unexpectedly", job)
        finally:
            self._running.discard(task)
            self._active -= 1
            if self._active == 0:
                self._idle.set()
        self.ctx.metrics.jobs.labels(job, outcome).inc()
        return outcome


class _Skipped(Exception):
    """Another daemon holds this tick's lock."""
