"""Keep the store in step with Novita: read every page, upsert, adopt, confirm the missing, purge the old.

The rules (DESIGN.md, "Sync"):

- every page of ``GET /gpu/instances`` is read; if that fails nothing is marked terminated;
- each live instance is upserted; a status change becomes an event; an instance first seen is adopted;
- a record missing from the list is confirmed with a GET: "gone" (404 or 400 RESOURCE_NOT_FOUND) marks it
  terminated once (or removes it when ``remove_obsolete_instances``); any other error keeps it as it is;
- terminated records are purged ``obsolete_instance_retention_days`` after ``terminated_at``;
- one sync at a time across every process sharing the store (a lock with a TTL);
- a dry run computes the same result and writes nothing.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from novictl.clock import Clock, SystemClock
from novictl.core import events as audit
from novictl.core.bulk_gc import bulk_gc
from novictl.core.record_mapping import (
    NOVITA_FIELDS,
    RUNNING,
    TERMINATED,
    data_kept_until,
    record_from_instance,
    tracked_fields,
)
from novictl.errors import LockHeld, NovitaError, NovitaNotFound
from novictl.store.records import Event, InstanceRecord

if TYPE_CHECKING:
    from novictl.novita.client import NovitaClient
    from novictl.novita.models import Instance, Product
    from novictl.store.base import StateStore

__all__ = ["SYNC_LOCK", "SyncChange", "SyncOptions", "SyncResult", "sync_instances"]

log = logging.getLogger(__name__)

SYNC_LOCK = "sync"
# A stopped instance's data is about to go: warn this long before Novita deletes it.
DATA_EXPIRY_WARNING = timedelta(days=1)
_SPOT_NOTIFIED = "notified"
# Confirming missing instances one GET each is the only per-instance call sync makes; bound it.
_CONFIRM_CONCURRENCY = 8


class SyncSettingsLike(Protocol):
    """The part of ``settings.sync`` a sync needs."""

    @property
    def remove_obsolete_instances(self) -> bool: ...
    @property
    def obsolete_instance_retention_days(self) -> float: ...
    @property
    def lock_ttl_seconds(self) -> float: ...


@dataclass(frozen=True)
class SyncOptions:
    """What one sync does; built from ``settings.sync`` by :meth:`from_settings`, adjustable per call."""

    remove_obsolete: bool = False
    retention_days: float = 7
    lock_ttl_seconds: float = 300
    handle_obsolete: bool = True
    dry_run: bool = False
    page_size: int = 100

    @classmethod
    def from_settings(cls, sync: SyncSettingsLike, *, page_size: int = 100, **changes: Any) -> SyncOptions:
        options = cls(
            remove_obsolete=sync.remove_obsolete_instances,
            retention_days=sync.obsolete_instance_retention_days,
            lock_ttl_seconds=sync.lock_ttl_seconds,
            page_size=page_size,
        )
        return cls(**{**asdict(options), **changes})


@dataclass(frozen=True)
class SyncChange:
    """One thing a sync did (or would do, in a dry run) to one record."""

    instance_id: str
    name: str
    action: str  # adopted | updated | terminated | removed | purged | kept
    detail: str = ""


@dataclass
class SyncResult:
    """Counts of what a sync saw and did, and how long it took."""

    seen: int = 0
    adopted: int = 0
    updated: int = 0
    unchanged: int = 0
    terminated: int = 0
    removed: int = 0
    purged: int = 0
    kept_unconfirmed: int = 0
    dry_run: bool = False
    started_at: datetime | None = None
    duration_seconds: float = 0.0
    changes: list[SyncChange] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, camelCase keys (the CLI's ``--json`` and the HTTP API share this shape)."""
        return {
            "seen": self.seen,
            "adopted": self.adopted,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "terminated": self.terminated,
            "removed": self.removed,
            "purged": self.purged,
            "keptUnconfirmed": self.kept_unconfirmed,
            "dryRun": self.dry_run,
            "startedAt": self.started_at.isoformat() if self.started_at else None,
            "durationSeconds": round(self.duration_seconds, 3),
            "changes": [
                {"instanceId": c.instance_id, "name": c.name, "action": c.action, "detail": c.detail}
                for c in self.changes
            ],
        }


async def sync_instances(
    *,
    client: NovitaClient,
    store: StateStore,
    options: SyncOptions,
    clock: Clock | None = None,
) -> SyncResult:
    """Run one sync. Raises :class:`LockHeld` when another sync runs, ``NovitaUnavailable`` when the list
    cannot be read (and then nothing was changed)."""
    if options.dry_run:
        with bulk_gc(), store.repairs_unsaved():
            return await _sync(client, store, options, clock or SystemClock())
    async with store.lock(SYNC_LOCK, options.lock_ttl_seconds, held_message="sync already running") as token:

        async def still_ours() -> None:
            # A sync slowed past the lock's TTL (Novita retrying) must not write beside a newer sync.
            if not await store.extend_lock(SYNC_LOCK, token, options.lock_ttl_seconds):
                raise LockHeld(
                    "sync lost its lock (it ran longer than sync.lock_ttl_seconds); nothing was written",
                    hint="raise sync.lock_ttl_seconds if Novita is this slow",
                )

        with bulk_gc():
            return await _sync(client, store, options, clock or SystemClock(), before_write=still_ours)


async def _sync(
    client: NovitaClient,
    store: StateStore,
    options: SyncOptions,
    clock: Clock,
    *,
    before_write: Callable[[], Awaitable[None]] | None = None,
) -> SyncResult:
    started = time.perf_counter()
    now = clock.now()
    result = SyncResult(dry_run=options.dry_run, started_at=now)

    live = await client.list_all_instances(page_size=options.page_size)
    prices = await _prices(client)
    records = {record.id: record for record in await store.get_all()}
    result.seen = len(live)

    writes: list[InstanceRecord] = []
    events: list[Event] = []
    live_ids: set[str] = set()
    for instance in live:
        live_ids.add(instance.id)
        _apply_live(instance, records.get(instance.id), prices, now, result, writes, events)

    missing = [
        r
        for r in records.values()
        if r.id not in live_ids and r.terminated_at is None and r.status != TERMINATED
    ]
    removals: list[str] = []
    if options.handle_obsolete and missing:
        await _confirm_missing(client, missing, prices, options, now, result, writes, removals, events)

    # Whatever Novita just showed us is alive, however long ago its record was marked terminated.
    alive = live_ids | {record.id for record in writes if record.terminated_at is None}
    cutoff = now - timedelta(days=options.retention_days)
    for record in records.values():
        if (
            record.terminated_at is not None
            and record.terminated_at <= cutoff
            and record.id not in removals
            and record.id not in alive
        ):
            removals.append(record.id)
            result.purged += 1
            result.changes.append(
                SyncChange(record.id, record.name, "purged", f"terminated {record.terminated_at}")
            )

    warned = _data_expiry_warnings(records, writes, live_ids, now, events)

    if not options.dry_run:
        if before_write is not None:
            await before_write()
        if writes:
            await store.put_many(writes, fields=NOVITA_FIELDS)
        if warned:
            await store.put_many(warned, fields=("data_expiry_warned_at",))
        if removals:
            await store.delete_many(removals)
        await audit.record_events(store, events)
        result.duration_seconds = time.perf_counter() - started
        await store.incr_counters({"sync.runs": 1})
        await store.set_meta("last_sync", json.dumps({**result.to_dict(), "changes": []}))
    result.duration_seconds = time.perf_counter() - started
    log.info(
        "sync: %d seen, %d adopted, %d updated, %d terminated, %d removed, %d purged in %.2fs%s",
        result.seen, result.adopted, result.updated, result.terminated, result.removed, result.purged,
        result.duration_seconds, " (dry run)" if options.dry_run else "",
    )  # fmt: skip
    return result


async def _prices(client: NovitaClient) -> dict[str, Product]:
    """Products by id, for hourly prices. A failure here costs prices, not the sync."""
    try:
        return {product.id: product for product in await client.list_products()}
    except NovitaError as error:
        log.warning("sync: could not read products, keeping known prices: %s", error.message)
        return {}


def _apply_live(
    instance: Instance,
    record: InstanceRecord | None,
    prices: dict[str, Product],
    now: datetime,
    result: SyncResult,
    writes: list[InstanceRecord],
    events: list[Event],
) -> None:
    fresh = record_from_instance(instance, record, prices.get(instance.product_id or ""), now)
    if fresh.spot_status == _SPOT_NOTIFIED and (record is None or record.spot_status != _SPOT_NOTIFIED):
        reclaim = fresh.spot_reclaim_at.isoformat() if fresh.spot_reclaim_at else None
        events.append(_event(audit.SPOT_RECLAIM_NOTICE, fresh, now, {"reclaimAt": reclaim}))
    if record is None:
        result.adopted += 1
        writes.append(fresh)
        result.changes.append(SyncChange(fresh.id, fresh.name, "adopted", fresh.status))
        events.append(_event(audit.DISCOVERED, fresh, now, {"status": fresh.status}))
        return
    if tracked_fields(fresh) == tracked_fields(record):
        result.unchanged += 1
        return
    result.updated += 1
    writes.append(fresh)
    detail = "fields changed"
    if fresh.status != record.status:
        detail = f"{record.status} -> {fresh.status}"
        events.append(_event(audit.STATUS_CHANGED, fresh, now, {"from": record.status, "to": fresh.status}))
        if fresh.status == RUNNING:
            events.append(_event(audit.READY, fresh, now, {"from": record.status}))
    result.changes.append(SyncChange(fresh.id, fresh.name, "updated", detail))


async def _confirm_missing(
    client: NovitaClient,
    missing: Sequence[InstanceRecord],
    prices: dict[str, Product],
    options: SyncOptions,
    now: datetime,
    result: SyncResult,
    writes: list[InstanceRecord],
    removals: list[str],
    events: list[Event],
) -> None:
    gate = asyncio.Semaphore(_CONFIRM_CONCURRENCY)

    async def confirm(record: InstanceRecord) -> tuple[InstanceRecord, Instance | None, NovitaError | None]:
        async with gate:
            try:
                return record, await client.get_instance(record.id), None
            except NovitaError as error:
                return record, None, error

    for record, instance, error in await asyncio.gather(*(confirm(r) for r in missing)):
        if instance is not None:
            # Listed pages can miss an instance that moved between pages; the GET is the truth.
            _apply_live(instance, record, prices, now, result, writes, events)
        elif isinstance(error, NovitaNotFound):
            if options.remove_obsolete:
                result.removed += 1
                removals.append(record.id)
                result.changes.append(SyncChange(record.id, record.name, "removed", "gone from Novita"))
            else:
                result.terminated += 1
                writes.append(record.model_copy(update={"status": TERMINATED, "terminated_at": now}))
                result.changes.append(SyncChange(record.id, record.name, "terminated", "gone from Novita"))
            gone = record.model_copy(update={"status": TERMINATED, "terminated_at": now})
            data = {"from": record.status, "removed": options.remove_obsolete}
            events.append(_event(audit.TERMINATED, gone, now, data))
        else:
            result.kept_unconfirmed += 1
            reason = error.message if error else "unknown"
            result.changes.append(SyncChange(record.id, record.name, "kept", f"could not confirm: {reason}"))


def _data_expiry_warnings(
    records: dict[str, InstanceRecord],
    writes: Sequence[InstanceRecord],
    live_ids: set[str],
    now: datetime,
    events: list[Event],
) -> list[InstanceRecord]:
    """Stopped instances whose data Novita deletes within a day, warned once per stop: the records to
    mark (only ``data_expiry_warned_at`` is written) and an ``instance.data_expiring`` event each."""
    latest = {**records, **{record.id: record for record in writes}}
    warned: list[InstanceRecord] = []
    for record in latest.values():
        until = data_kept_until(record)
        if until is None or record.id not in live_ids or now < until - DATA_EXPIRY_WARNING:
            continue
        stopped = record.last_stopped_at
        if record.data_expiry_warned_at is not None and stopped and record.data_expiry_warned_at >= stopped:
            continue  # already warned for this stop
        marked = record.model_copy(update={"data_expiry_warned_at": now})
        warned.append(marked)
        data = {"dataKeptUntil": until.isoformat(), "stoppedAt": stopped.isoformat() if stopped else None}
        events.append(_event(audit.DATA_EXPIRING, marked, now, data))
    return warned


def _event(kind: str, record: InstanceRecord, now: datetime, data: dict[str, Any]) -> Event:
    return audit.instance_event(kind, record, actor="sync", now=now, **data)
