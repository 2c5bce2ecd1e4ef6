"""Following an instance after the daemon acted on it, until Novita reports where it ended up.

A lifecycle call only records the status Novita accepted (``toStop``, ``toStart`` …). Without a follow-up
the page and the API would show that status until the next sync, and ``instance.ready`` would wait for it
too. :class:`Settler` runs one background task per acted instance that polls Novita (through
:func:`novictl.core.instances.wait_and_record`) until the instance settles, bounded in time. A second action
on an instance already followed does not start a second poller: the running one polls one more round.

:meth:`Settler.sweep` is the safety net the daemon schedules: instances recorded in a transitional status for
more than a minute (an action by the CLI, another daemon, a poller that gave up) are re-read, a bounded batch
per sweep. Only those instances cost a round trip; the rest are judged from one store read.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from novictl.core.record_mapping import UNSETTLED
from novictl.errors import NovictlError, WaitTimeout
from novictl.novita.models import InstanceStatus

if TYPE_CHECKING:
    from novictl.clock import Clock
    from novictl.daemon.index import InstanceIndex
    from novictl.novita.client import NovitaClient
    from novictl.store.base import StateStore
    from novictl.store.records import InstanceRecord

__all__ = [
    "SETTLE_POLL_SECONDS",
    "SETTLE_TIMEOUT_SECONDS",
    "STALE_AFTER_SECONDS",
    "SWEEP_BATCH",
    "UNSETTLED",
    "Settler",
]

log = logging.getLogger(__name__)

SETTLE_POLL_SECONDS = 2.0
"""Time between two reads of one followed instance (Novita's transitions take seconds to minutes)."""
SETTLE_TIMEOUT_SECONDS = 600.0
"""A follow-up gives up after this long; the sweep (and the next sync) still catch the final status."""
STALE_AFTER_SECONDS = 60.0
"""An instance recorded in a transitional status for longer than this is re-read by the sweep."""
SWEEP_BATCH = 20
"""At most this many instances are re-read per sweep (one GET each)."""

_SETTLED: frozenset[str] = (
    InstanceStatus.ALL - UNSETTLED
)  # UNSETTLED: the daemon keeps reading until it leaves them
"""Where a follow-up stops: running, exited, removed (a 404 counts as removed)."""


class Settler:
    """The daemon's follow-up tasks, one per instance at most. ``poll_seconds`` and ``timeout_seconds`` may
    be changed at any time (tests make them small); a running task uses the values it started with."""

    def __init__(self, store: StateStore, client: NovitaClient, index: InstanceIndex, *, clock: Clock):
        self._store = store
        self._client = client
        self._index = index
        self._clock = clock
        self.poll_seconds = SETTLE_POLL_SECONDS
        self.timeout_seconds = SETTLE_TIMEOUT_SECONDS
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._again: set[str] = set()
        self._closed = False

    @property
    def following(self) -> frozenset[str]:
        """The ids being followed right now."""
        return frozenset(self._tasks)

    def follow(self, instance_id: str) -> None:
        """Follow ``instance_id`` until it settles (no-op once closed). Already followed: one more round
        after the current one, since the new action may have come after its last read."""
        if self._closed:
            return
        if instance_id in self._tasks:
            self._again.add(instance_id)
            return
        task = asyncio.create_task(self._follow(instance_id), name=f"settle-{instance_id}")
        self._tasks[instance_id] = task
        task.add_done_callback(lambda _done: self._tasks.pop(instance_id, None))

    async def wait_idle(self) -> None:
        """Wait for every follow-up running now (tests)."""
        while self._tasks:
            await asyncio.gather(*self._tasks.values(), return_exceptions=True)

    async def close(self) -> None:
        """Cancel the follow-ups and wait for them to end (a graceful shutdown)."""
        self._closed = True
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def sweep(self, *, batch: int = SWEEP_BATCH) -> int:
        """Re-read instances stuck in a transitional status for over a minute; returns how many were read.

        One store read decides; only the stale transitional instances (at most ``batch``) cost a GET."""
        cutoff = self._clock.now() - timedelta(seconds=STALE_AFTER_SECONDS)
        stale = [
            record
            for record in await self._store.get_all()
            if record.status in UNSETTLED
            and record.terminated_at is None
            and record.id not in self._tasks
            and _recorded_at(record) <= cutoff
        ]
        stale.sort(key=_recorded_at)
        for record in stale[:batch]:
            await self._read_once(record)
        return min(len(stale), batch)

    # -- plumbing --------------------------------------------------------------------------------------

    async def _follow(self, instance_id: str) -> None:
        poll, timeout = self.poll_seconds, self.timeout_seconds
        try:
            while True:
                self._again.discard(instance_id)
                await asyncio.sleep(poll)  # Novita has not moved yet right after accepting the action
                record = await self._store.get(instance_id)
                if record is None:
                    return
                await self._record_final(record, poll=poll, limit=timeout)
                if instance_id not in self._again:
                    return
        except WaitTimeout:
            log.info("instance %s did not settle within %gs; the sweep will look again", instance_id, timeout)
        except NovictlError as error:
            log.warning("following instance %s: %s", instance_id, error.message)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("following instance %s failed unexpectedly", instance_id)
        finally:
            self._again.discard(instance_id)

    async def _record_final(
        self, record: InstanceRecord, *, poll: float, limit: float, targets: frozenset[str] = _SETTLED
    ) -> None:
        from novictl.core.instances import wait_and_record

        updated = await wait_and_record(
            self._client, self._store, record, targets, timeout_seconds=limit, poll_interval=poll,
            clock=self._clock,
        )  # fmt: skip
        self._index.add(updated)

    async def _read_once(self, record: InstanceRecord) -> None:
        """One GET: record whatever status the instance has now (any known status is accepted)."""
        try:
            await self._record_final(record, poll=0.0, limit=0.0, targets=InstanceStatus.ALL)
        except WaitTimeout:
            pass  # a status novictl does not know: the next sync records it
        except NovictlError as error:
            log.warning("re-reading instance %s: %s", record.id, error.message)


def _recorded_at(record: InstanceRecord) -> datetime:
    """The latest time novictl wrote this record's status (sync, start, stop), or first saw it."""
    stamps = [record.last_synced_at, record.last_started_at, record.last_stopped_at, record.first_seen_at]
    return max(stamp for stamp in stamps if stamp is not None)
