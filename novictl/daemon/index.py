"""An in-memory index of known instance ids and names, so a ping resolves without a store round trip.

Only instances that still exist are resolvable (as in the CLI): a deleted or terminated record keeps
neither its id nor its name here, so ``delete t3`` then ``create t3`` leaves one ``t3``, not an ambiguity.
The index is rebuilt from the store (after each sync, periodically, and on a miss at most once a second).
A reference still unknown then gets one look at Novita: an instance that exists there is adopted into the
store (as sync would); one that does not is remembered as missing for a while, so a client pinging a dead
id cannot make the daemon hammer Novita.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from novictl.core.instance_lookup import is_listed
from novictl.errors import AmbiguousName, NotFoundError
from novictl.store.records import InstanceRecord

if TYPE_CHECKING:
    from novictl.clock import Clock
    from novictl.novita.client import NovitaClient
    from novictl.store.base import StateStore

__all__ = ["InstanceIndex"]

log = logging.getLogger(__name__)


class InstanceIndex:
    """Ids, names and statuses of the records in the store, held in memory."""

    def __init__(
        self,
        store: StateStore,
        client: NovitaClient | None,
        *,
        clock: Clock,
        min_refresh_seconds: float = 1.0,
        miss_memory_seconds: float = 30.0,
        monotonic: Callable[[], float] = time.monotonic,
    ):
        self._store = store
        self._client = client
        self._clock = clock
        self._min_refresh = min_refresh_seconds
        self._miss_memory = miss_memory_seconds
        self._monotonic = monotonic
        self._ids: set[str] = set()
        self._names: dict[str, list[str]] = {}
        self._statuses: dict[str, str] = {}
        self._refreshed_at = float("-inf")
        self._refresh_lock = asyncio.Lock()
        self._misses: dict[str, float] = {}
        self._lookups: dict[str, asyncio.Task[str]] = {}

    def __len__(self) -> int:
        return len(self._ids)

    def replace(self, records: Iterable[InstanceRecord]) -> None:
        """Rebuild from ``records`` (the whole store)."""
        ids: set[str] = set()
        names: dict[str, list[str]] = {}
        statuses: dict[str, str] = {}
        for record in records:
            statuses[record.id] = record.status
            if is_listed(record):
                ids.add(record.id)
                names.setdefault(record.name, []).append(record.id)
        self._ids, self._names, self._statuses = ids, names, statuses
        self._refreshed_at = self._monotonic()

    def add(self, record: InstanceRecord) -> None:
        """Learn (or update) one record; one that no longer exists (deleted, terminated) is forgotten."""
        self._statuses[record.id] = record.status
        if not is_listed(record):
            self._forget(record.id)
            return
        if record.id not in self._ids:
            self._ids.add(record.id)
            self._names.setdefault(record.name, []).append(record.id)
        self._misses.pop(record.id, None)
        self._misses.pop(record.name, None)

    def _forget(self, instance_id: str) -> None:
        if instance_id not in self._ids:
            return
        self._ids.discard(instance_id)
        for name, ids in list(self._names.items()):
            if instance_id in ids:
                remaining = [other for other in ids if other != instance_id]
                if remaining:
                    self._names[name] = remaining
                else:
                    del self._names[name]

    def counts_by_status(self) -> dict[str, int]:
        return dict(Counter(self._statuses.values()))

    async def refresh(self) -> None:
        """Re-read every record from the store (raises ``StoreError`` when it cannot)."""
        self.replace(await self._store.get_all())

    def lookup(self, ref: str) -> str | None:
        """The id ``ref`` names (an id, or a unique name), ``None`` when unknown; ``AmbiguousName`` when
        several instances carry that name."""
        if ref in self._ids:
            return ref
        matches = self._names.get(ref)
        if not matches:
            return None
        if len(matches) > 1:
            raise AmbiguousName(ref, sorted(matches))
        return matches[0]

    async def resolve(self, ref: str) -> str:
        """The instance id for ``ref``: from memory, else the store, else Novita (adopting it).

        Raises ``NotFoundError`` (404) when neither knows it, ``AmbiguousName`` (409) for a shared name,
        ``StoreError``/``NovitaUnavailable`` (503) when they cannot be asked.
        """
        found = self.lookup(ref)
        if found is not None:
            return found
        missed_at = self._misses.get(ref)
        if missed_at is not None and self._monotonic() - missed_at < self._miss_memory:
            raise _not_found(ref)
        # Concurrent pings for the same unknown reference share one look.
        task = self._lookups.get(ref)
        if task is None:
            task = asyncio.ensure_future(self._look_everywhere(ref))
            self._lookups[ref] = task
            task.add_done_callback(lambda _done: self._lookups.pop(ref, None))
        return await asyncio.shield(task)

    async def _look_everywhere(self, ref: str) -> str:
        async with self._refresh_lock:
            if self._monotonic() - self._refreshed_at >= self._min_refresh:
                await self.refresh()
        found = self.lookup(ref)
        if found is not None:
            return found
        if self._client is not None:
            from novictl.core.instance_lookup import resolve

            # The one resolver: Novita by id, then by exact name; adopted with its price and one
            # ``instance.discovered`` event; a shared name is AmbiguousName (409).
            try:
                record = await resolve(self._store, self._client, ref, clock=self._clock)
            except NotFoundError:
                pass
            else:
                self.add(record)
                return record.id
        self._misses[ref] = self._monotonic()
        raise _not_found(ref)


def _not_found(ref: str) -> NotFoundError:
    return NotFoundError(
        f"no instance with id or name {ref!r}",
        hint="check the id with `novictl list`; instances made elsewhere appear after a sync",
    )
