"""The :class:`StateStore` protocol every backend implements, and the settings it is opened with.

Semantics shared by both backends (one contract test suite holds them to it):

- Records are upserted whole. ``last_used_at`` is special: it only ever moves forward. A ping recorded
  with :meth:`StateStore.update_last_used` survives a concurrent ``put`` of an older copy of the record.
- Reads repair broken timestamps (see :mod:`novictl.store.repair`), write the repaired record back once,
  count the repairs (``store.repairs`` on the instance and the ``store.repairs`` counter) and log them.
  A record that cannot be decoded at all is skipped, counted (``store.corrupt_records``) and logged.
- Locks have a TTL and an owner token; only the token's holder can release or extend them, and a crashed
  holder blocks nobody past the TTL.
- The event log is append-only and capped by count and by age; the oldest events go first.
- The webhook outbox (see :mod:`novictl.store.outbox`) is filled in the same write as the events it
  carries; claiming due deliveries is atomic; finished deliveries are capped like events.
- Any backend failure surfaces as :class:`novictl.errors.StoreError`, never as a driver exception.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Protocol, runtime_checkable

from novictl.store.outbox import Delivery, DeliveryState
from novictl.store.records import Event, InstanceRecord

__all__ = ["REPAIRS_COUNTER", "StateStore", "StoreOptions", "StoreSettingsLike", "default_sqlite_path"]

REPAIRS_COUNTER = "store.repairs"
"""Counter (in :meth:`StateStore.get_counters`) of timestamp fields repaired and written back."""


def default_sqlite_path() -> Path:
    """``$XDG_STATE_HOME/novictl/state.db``, i.e. ``~/.local/state/novictl/state.db`` by default."""
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "novictl" / "state.db"


class StoreSettingsLike(Protocol):
    """The part of the settings the store needs (``settings.store`` satisfies it)."""

    @property
    def url(self) -> str:
        """``""`` (SQLite at :attr:`sqlite_path`), ``sqlite:///path``, ``redis://…``, ``rediss://…``."""
        ...

    @property
    def key_prefix(self) -> str:
        """Prefix of every Redis key (``novictl:``)."""
        ...

    @property
    def events_max(self) -> int:
        """How many events the log keeps at most."""
        ...

    @property
    def events_max_age_days(self) -> float:
        """Events older than this are dropped."""
        ...

    @property
    def sqlite_path(self) -> Path:
        """The SQLite file used when :attr:`url` is empty."""
        ...


@dataclass(frozen=True)
class StoreOptions:
    """A plain :class:`StoreSettingsLike`, for tests, benchmarks and tools without a full settings object."""

    url: str = ""
    key_prefix: str = "novictl:"
    events_max: int = 10_000
    events_max_age_days: float = 30
    sqlite_path: Path = field(default_factory=default_sqlite_path)

    @property
    def backend(self) -> str:
        return "redis" if self.url.startswith(("redis://", "rediss://", "unix://")) else "sqlite"


@runtime_checkable
class StateStore(Protocol):
    """Durable state shared by the CLI and the daemon: instance records, locks, events, counters, meta."""

    backend: str
    """``"sqlite"`` or ``"redis"``."""

    async def close(self) -> None:
        """Release the connection. The store is unusable afterwards."""
        ...

    async def ping(self) -> None:
        """Check the store answers; raise ``StoreError`` when it does not."""
        ...

    async def get(self, instance_id: str) -> InstanceRecord | None:
        """One record, or ``None`` when unknown (or corrupt)."""
        ...

    async def get_many(self, ids: Iterable[str]) -> dict[str, InstanceRecord]:
        """The records among ``ids`` that exist, by id. One round trip per large chunk."""
        ...

    async def get_all(self) -> list[InstanceRecord]:
        """Every record (terminated ones included), in one round trip."""
        ...

    async def find_by_name(self, name: str) -> list[InstanceRecord]:
        """Records whose name is exactly ``name`` (names are not unique on Novita)."""
        ...

    async def put(self, record: InstanceRecord) -> None:
        """Insert or replace one record (``last_used_at`` never moves backwards)."""
        ...

    async def put_many(
        self, records: Iterable[InstanceRecord], *, fields: Collection[str] | None = None
    ) -> None:
        """Insert or replace many records in one round trip per large chunk.

        With ``fields``, a record that already exists gets only those fields written, merged atomically
        into what is stored now — so a writer that owns some fields (sync owns what Novita says) never
        undoes a concurrent change to others (a pin, an override, ``stopped_by``). Absent records are
        inserted whole.
        """
        ...

    async def delete_many(self, ids: Iterable[str]) -> int:
        """Remove records; returns how many existed."""
        ...

    async def update_last_used(self, updates: Mapping[str, tuple[datetime, str | None]]) -> int:
        """Record activity: ``{id: (used_at, source)}``. Only moves ``last_used_at`` forward, ignores unknown
        ids, returns how many records changed."""
        ...

    async def acquire_lock(self, name: str, ttl_seconds: float, *, owner: str | None = None) -> str | None:
        """Take the lock for ``ttl_seconds``; the owner token, or ``None`` if someone else holds it.
        ``owner`` (e.g. ``"daemon@host"``) is folded into the token so holders are recognisable."""
        ...

    async def release_lock(self, name: str, token: str) -> bool:
        """Release the lock if ``token`` still holds it; ``False`` otherwise (expired, or not ours)."""
        ...

    async def extend_lock(self, name: str, token: str, ttl_seconds: float) -> bool:
        """Reset the TTL of a lock ``token`` still holds; ``False`` if it no longer does."""
        ...

    async def lock_holder(self, name: str) -> str | None:
        """The token holding the lock now, or ``None`` when it is free."""
        ...

    def repairs_unsaved(self) -> AbstractContextManager[None]:
        """``with store.repairs_unsaved():`` — reads inside return repaired timestamps without writing the
        repairs back (dry runs write nothing)."""
        ...

    def lock(
        self, name: str, ttl_seconds: float, *, owner: str | None = None, held_message: str | None = None
    ) -> AbstractAsyncContextManager[str]:
        """``async with store.lock("sync", 600) as token:`` — raises ``LockHeld`` (with ``held_message``,
        e.g. "sync already running") if it is taken; releases it on exit."""
        ...

    async def append_events(self, events: Sequence[Event], *, deliveries: Sequence[Delivery] = ()) -> None:
        """Append to the event log, then drop the oldest beyond the count cap and everything too old.
        ``deliveries`` enter the webhook outbox in the same atomic write (one round trip)."""
        ...

    async def claim_deliveries(
        self, *, now: datetime, lease_seconds: float, limit: int = 50
    ) -> list[Delivery]:
        """Pending deliveries due at ``now`` (oldest due first), atomically leased: their next attempt moves
        ``lease_seconds`` ahead, so no other deliverer takes them meanwhile. One round trip."""
        ...

    async def save_deliveries(self, deliveries: Sequence[Delivery]) -> None:
        """Write back claimed deliveries (state, attempts, next attempt), then prune finished ones beyond
        the event caps (count and age). One round trip."""
        ...

    async def list_deliveries(
        self, *, states: Sequence[DeliveryState] | None = None, limit: int = 50
    ) -> list[Delivery]:
        """Deliveries in ``states`` (all when ``None``), newest first."""
        ...

    async def delivery_counts(self) -> dict[str, int]:
        """How many deliveries the outbox holds in each state (every state present, maybe 0)."""
        ...

    async def list_events(
        self,
        *,
        instance_id: str | None = None,
        types: Sequence[str] | None = None,
        since: datetime | None = None,
        limit: int = 100,
    ) -> list[Event]:
        """Events, newest first, optionally for one instance, of some types, at or after ``since``."""
        ...

    async def incr_counters(self, deltas: Mapping[str, float]) -> None:
        """Add to named counters (created at zero)."""
        ...

    async def get_counters(self) -> dict[str, float]:
        """Every counter."""
        ...

    async def set_meta(self, key: str, value: str) -> None:
        """Store a small string, e.g. ``last_sync`` or ``heartbeat:<daemon>``."""
        ...

    async def get_meta(self, key: str) -> str | None:
        """A value set with :meth:`set_meta`, or ``None``."""
        ...
