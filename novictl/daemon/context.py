"""What the HTTP routes and the scheduled jobs share: settings, store, client, clock, buffers, metrics,
and the follow-ups of lifecycle actions."""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import Awaitable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from novictl.daemon.index import InstanceIndex
from novictl.daemon.metrics import DaemonMetrics
from novictl.daemon.pings import PingBuffer
from novictl.daemon.settle import Settler

T = TypeVar("T")

if TYPE_CHECKING:
    from novictl.clock import Clock
    from novictl.config import Settings
    from novictl.core.autostop_health import AutoStopHealth
    from novictl.novita.client import NovitaClient
    from novictl.store.base import StateStore

__all__ = ["DaemonContext", "SchedulerStatus", "new_daemon_id"]


def new_daemon_id() -> str:
    """``host:pid:random`` — unique among daemons sharing a store, and readable in lock holders."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


@dataclass
class SchedulerStatus:
    """What /health says about the scheduler (the service keeps it current)."""

    expected: bool = False
    """Whether this process schedules jobs at all (an app built for a test does not)."""
    running: bool = False
    jobs: list[str] = field(default_factory=list)


@dataclass
class DaemonContext:
    """One daemon's shared state. Routes reach it as ``request.app.state.daemon``."""

    settings: Settings
    store: StateStore
    client: NovitaClient
    clock: Clock
    daemon_id: str
    metrics: DaemonMetrics
    index: InstanceIndex
    pings: PingBuffer
    started_at: datetime
    settler: Settler
    """Follows instances the daemon acted on until Novita reports them settled."""
    dry_run: bool = False
    """``novictl daemon --dry-run``: scheduled auto-stop checks decide and report but stop nothing."""
    scheduler: SchedulerStatus = field(default_factory=SchedulerStatus)
    last_autostop_check: dict[str, Any] | None = None
    """This daemon's latest scheduled auto-stop summary (dry runs included)."""
    autostop_health: AutoStopHealth | None = None
    """Whether this daemon's latest scheduled auto-stop could act (``/health`` says so)."""
    acting: set[asyncio.Task[Any]] = field(default_factory=set)
    """Actions started over HTTP that must run to the end (see :meth:`outlive_request`)."""

    async def outlive_request(self, work: Awaitable[T]) -> T:
        """Run ``work`` to the end even if the request that started it goes away (a client hanging up,
        uvicorn cancelling requests at shutdown): stops sent are then always recorded. The daemon waits
        for these before it closes the store."""
        task = asyncio.ensure_future(work)
        self.acting.add(task)
        task.add_done_callback(self.acting.discard)
        return await asyncio.shield(task)

    @classmethod
    def build(
        cls,
        *,
        settings: Settings,
        store: StateStore,
        client: NovitaClient,
        clock: Clock,
        daemon_id: str | None = None,
        dry_run: bool = False,
    ) -> DaemonContext:
        metrics = DaemonMetrics()
        index = InstanceIndex(store, client, clock=clock)
        metrics.watch_novita(client)
        metrics.watch_instances(index.counts_by_status)
        return cls(
            settings=settings,
            store=store,
            client=client,
            clock=clock,
            daemon_id=daemon_id or new_daemon_id(),
            metrics=metrics,
            index=index,
            pings=PingBuffer(store, metrics=metrics),
            started_at=clock.now(),
            settler=Settler(store, client, index, clock=clock),
            dry_run=dry_run,
        )

    @property
    def autostop_dry_run(self) -> bool:
        """Whether scheduled auto-stop checks only report (the flag or ``autostop.dry_run``)."""
        return self.dry_run or self.settings.autostop.dry_run
