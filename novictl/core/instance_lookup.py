"""Finding instances and keeping the store fresh: resolve an id or name, list the running ones, refresh.

Names are not unique on Novita. A name that matches several instances that still exist is ambiguous
(exit 2, the candidates listed); an unknown id or name is looked up on Novita once before it is "not
found" (exit 4), and whatever Novita knows is recorded in the store on the way.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from novictl.clock import Clock, SystemClock
from novictl.core import events as audit
from novictl.core.record_mapping import NOVITA_FIELDS, TERMINATED, record_from_instance
from novictl.errors import AmbiguousName, LockHeld, NotFoundError, NovitaError, NovitaNotFound
from novictl.novita.models import InstanceStatus
from novictl.store.records import InstanceRecord

if TYPE_CHECKING:
    from novictl.novita.client import NovitaClient
    from novictl.novita.models import Instance, Product
    from novictl.store.base import StateStore

__all__ = [
    "LIST_CACHE_TTL_SECONDS",
    "UNSETTLED_TTL_SECONDS",
    "is_listed",
    "needs_refresh",
    "refresh_store",
    "resolve",
    "running_instances",
]

log = logging.getLogger(__name__)

LIST_CACHE_TTL_SECONDS = 30.0
"""``novictl list`` reads Novita again when the store's last sync is older than this."""
UNSETTLED_TTL_SECONDS = 3.0
"""… or older than this, while an instance it lists is between states (``toStop``, ``pulling`` …): a
status that changes within seconds is not shown stale for half a minute."""

_INSTANCE_ID = re.compile(r"^[0-9a-f]{16}$")


def select_listed(
    records: Iterable[InstanceRecord],
    *,
    include_terminated: bool = False,
    status: str | None = None,
    name: str | None = None,
) -> list[InstanceRecord]:
    """What ``novictl list`` and ``GET /api/instances`` show: the instances that still exist (all with
    ``include_terminated``), of one status, whose name contains ``name`` (both case-blind), by name."""
    shown = [
        r
        for r in records
        if (include_terminated or is_listed(r))
        and (status is None or r.status.lower() == status.lower())
        and (name is None or name.lower() in r.name.lower())
    ]
    shown.sort(key=lambda r: (r.name.lower(), r.id))
    return shown


def is_listed(record: InstanceRecord) -> bool:
    """Whether a record stands for an instance that still exists (not terminated, not being deleted)."""
    return (
        record.terminated_at is None
        and record.status != TERMINATED
        and not InstanceStatus.is_gone(record.status)
    )


def _describe(record: InstanceRecord) -> str:
    return f"{record.name} ({record.id}, {record.status})"


# -- finding instances ---------------------------------------------------------------------------------


async def resolve(
    store: StateStore,
    client: NovitaClient | None,
    ref: str,
    *,
    refresh: bool = True,
    clock: Clock | None = None,
) -> InstanceRecord:
    """The instance ``ref`` names: an exact id, else an exact name among instances that still exist. The
    one resolver of every face: the CLI, the daemon's routes (its index is a cache in front of this) and
    pings from a job without an API key (``client=None``: the store alone answers).

    When the store does not know ``ref`` and a client is given, Novita is asked once (a GET by id, then a
    name-filtered list) and what it finds is recorded (adopted, with its price). Several instances with
    that name → :class:`AmbiguousName` (exit 2) listing them; none → :class:`NotFoundError` (exit 4).
    """
    ref = ref.strip()
    if not ref:
        raise NotFoundError("no instance id or name given")
    record = await store.get(ref)
    if record is not None and is_listed(record):
        return record
    named = [r for r in await store.find_by_name(ref) if is_listed(r)]
    if len(named) == 1:
        return named[0]
    if len(named) > 1:
        raise AmbiguousName(ref, [_describe(r) for r in sorted(named, key=lambda r: r.id)])
    if refresh and client is not None:
        found = await _resolve_live(store, client, ref, clock or SystemClock())
        if found is not None:
            return found
    raise NotFoundError(
        f"no instance with id or name {ref!r}",
        hint="see your instances with: novictl list --refresh",
    )


async def _resolve_live(
    store: StateStore, client: NovitaClient, ref: str, clock: Clock
) -> InstanceRecord | None:
    now = clock.now()
    if _INSTANCE_ID.match(ref):
        try:
            instance = await client.get_instance(ref)
        except NovitaNotFound:
            instance = None
        if instance is not None and not instance.is_gone:
            (record,) = await _upsert(client, store, [instance], now)
            return record
    matches = [i for i in await client.list_all_instances(name=ref) if i.name == ref and not i.is_gone]
    if not matches:
        return None
    records = await _upsert(client, store, matches, now)
    if len(records) > 1:
        raise AmbiguousName(ref, [_describe(r) for r in sorted(records, key=lambda r: r.id)])
    return records[0]


async def _upsert(
    client: NovitaClient, store: StateStore, instances: Sequence[Instance], now: datetime
) -> list[InstanceRecord]:
    """Record what Novita said about ``instances``; new ones are adopted (priced, when prices can be read)."""
    existing = await store.get_many(i.id for i in instances)
    needs_price = any(i.id not in existing or existing[i.id].price_per_hour is None for i in instances)
    prices = await _price_book(client) if needs_price else {}
    records = [
        record_from_instance(i, existing.get(i.id), prices.get(i.product_id or ""), now) for i in instances
    ]
    discovered = [
        audit.instance_event(audit.DISCOVERED, r, actor="novictl", now=now, status=r.status)
        for r in records
        if r.id not in existing
    ]
    # Only Novita's fields of known records: a pin, override or ping written meanwhile survives.
    await store.put_many(records, fields=NOVITA_FIELDS)
    await audit.record_events(store, discovered)
    return records


async def _price_book(client: NovitaClient) -> dict[str, Product]:
    """Products by id, for hourly prices; an unreadable catalogue costs prices, not the operation."""
    try:
        return {p.id: p for p in await client.list_products()}
    except NovitaError as error:
        log.warning("could not read products for prices: %s", error.message)
        return {}


async def running_instances(
    client: NovitaClient, store: StateStore, *, clock: Clock | None = None
) -> list[InstanceRecord]:
    """Every instance Novita says is running now (all pages), recorded in the store, sorted by name."""
    live = await client.list_all_instances(status=InstanceStatus.RUNNING)
    records = await _upsert(client, store, live, (clock or SystemClock()).now()) if live else []
    return sorted(records, key=lambda r: (r.name, r.id))


# -- keeping the store fresh for list ------------------------------------------------------------------


async def needs_refresh(
    store: StateStore, *, clock: Clock | None = None, max_age_seconds: float | None
) -> bool:
    """Whether the store's last sync ended more than ``max_age_seconds`` ago (always, when that is
    ``None``). Counted from its end: a sync of a large account may itself take longer than a short TTL."""
    if max_age_seconds is None:
        return True
    raw = await store.get_meta("last_sync")
    try:
        last = json.loads(raw) if raw else {}
        started = datetime.fromisoformat(last["startedAt"]) if last else None
        took = float(last.get("durationSeconds") or 0.0) if last else 0.0
    except (ValueError, KeyError, TypeError, AttributeError):
        started, took = None, 0.0
    if started is None:
        return True
    age = ((clock or SystemClock()).now() - started).total_seconds() - max(0.0, took)
    return age < -took or age > max_age_seconds


async def refresh_store(
    client: NovitaClient, store: StateStore, *, clock: Clock | None = None, max_age_seconds: float | None
) -> None:
    """Bring the store in step with Novita (a full sync) unless it was synced within ``max_age_seconds``.

    When another process is syncing right now, its result is as good as ours: nothing is done.
    """
    from novictl.core.sync import SyncOptions, sync_instances

    if not await needs_refresh(store, clock=clock, max_age_seconds=max_age_seconds):
        return
    try:
        await sync_instances(client=client, store=store, options=SyncOptions(), clock=clock)
    except LockHeld:
        log.info("a sync is already running; listing what the store has")
