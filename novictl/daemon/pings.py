"""The ping buffer: last-used pings coalesced per instance in memory, written in one pipelined batch.

Last-used is a maximum, so pings for one instance merge into the latest. The buffer is flushed with one
``store.update_last_used`` call at least every second and on shutdown. While the store is failing, pings
already acknowledged stay buffered and are retried; new ones are refused (``StoreError``, HTTP 503 with
``Retry-After``) rather than acknowledged into a buffer that might never reach the store.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import TYPE_CHECKING

from novictl.errors import StoreError

if TYPE_CHECKING:
    from novictl.daemon.metrics import DaemonMetrics
    from novictl.store.base import StateStore

__all__ = ["PingBuffer"]

log = logging.getLogger(__name__)

Ping = tuple[datetime, str | None]


class PingBuffer:
    """Acknowledged pings not yet in the store, at most one per instance (the latest)."""

    def __init__(self, store: StateStore, *, metrics: DaemonMetrics | None = None):
        self._store = store
        self._metrics = metrics
        self._pending: dict[str, Ping] = {}
        self._flush_lock = asyncio.Lock()
        self.store_healthy = True
        """False while the last flush failed: new pings are refused until a flush works again."""
        self.flushed = 0
        """Coalesced pings written so far."""

    def __len__(self) -> int:
        return len(self._pending)

    def add(self, instance_id: str, used_at: datetime, source: str | None) -> None:
        """Buffer a ping. Raises ``StoreError`` while the store is failing (the ping is not taken)."""
        if not self.store_healthy:
            raise StoreError(
                "the state store is unavailable; the ping was not recorded",
                hint="retry in a few seconds",
            )
        _merge(self._pending, instance_id, (used_at, source))
        if self._metrics is not None:
            self._metrics.pings.inc()

    async def flush(self) -> int:
        """Write every buffered ping in one store call; returns how many instances it covered.

        On a store failure the pings go back into the buffer (merged with newer ones) and ``StoreError``
        is raised."""
        async with self._flush_lock:
            batch, self._pending = self._pending, {}
            if not batch:
                return 0
            try:
                await self._store.update_last_used(batch)
            except StoreError:
                for instance_id, ping in batch.items():
                    _merge(self._pending, instance_id, ping)
                if self.store_healthy:
                    log.warning("could not write %d ping(s); keeping them and retrying", len(batch))
                self.store_healthy = False
                if self._metrics is not None:
                    self._metrics.store_errors.inc()
                raise
            if not self.store_healthy:
                log.info("the state store answers again; buffered pings written")
            self.store_healthy = True
            self.flushed += len(batch)
            if self._metrics is not None:
                self._metrics.pings_flushed.inc(len(batch))
            return len(batch)

    async def probe(self) -> None:
        """With nothing buffered a failed store is noticed by no flush; let a successful ping of the store
        re-open the buffer."""
        if self.store_healthy or self._pending:
            return
        await self._store.ping()
        self.store_healthy = True

    async def run(self, interval: float) -> None:
        """Flush every ``interval`` seconds until cancelled (then the owner calls :meth:`drain`)."""
        while True:
            await asyncio.sleep(interval)
            try:
                await self.flush()
                await self.probe()
            except StoreError:
                pass  # logged by flush; the pings stay buffered

    async def drain(self, *, attempts: int = 5, pause: float = 0.5) -> int:
        """Flush on shutdown, retrying a failing store a few times; returns pings left unwritten."""
        for attempt in range(attempts):
            try:
                await self.flush()
                return 0
            except StoreError:
                if attempt + 1 < attempts:
                    await asyncio.sleep(pause)
        log.error("shutting down with %d ping(s) the store would not take", len(self._pending))
        return len(self._pending)


def _merge(pending: dict[str, Ping], instance_id: str, ping: Ping) -> None:
    current = pending.get(instance_id)
    if current is None or ping[0] > current[0]:
        pending[instance_id] = ping
