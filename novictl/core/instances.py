"""Instance use cases shared by the CLI and the daemon: find, start, stop, restart, delete, stop many.

Every lifecycle operation is idempotent in the way a person expects: asking for the state an instance is
already in (or already heading to) succeeds with ``already=True``. Novita's "invalid state change" is
resolved by re-reading the instance; only a real conflict (stopping an instance that is being deleted,
say) becomes a :class:`~novictl.errors.ConflictError` naming the current status. Nothing here ever deletes
an instance it was not asked to delete: a failed start stays a failed start.

Creating instances lives in :mod:`novictl.core.instance_create`, finding them in
:mod:`novictl.core.instance_lookup`; both are re-exported here, so callers need only this module.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from novictl.clock import Clock, SystemClock
from novictl.core import events
from novictl.core.instance_create import CreateSpec, create, parse_env, parse_port
from novictl.core.instance_lookup import (
    LIST_CACHE_TTL_SECONDS,
    UNSETTLED_TTL_SECONDS,
    is_listed,
    needs_refresh,
    refresh_store,
    resolve,
    running_instances,
)
from novictl.core.lifecycle import wait_for_status
from novictl.core.record_mapping import (
    DEFAULT_KEEP_DATA_DAYS,
    NOVITA_FIELDS,
    TERMINATED,
    data_kept_until,
    record_from_instance,
)
from novictl.errors import (
    NovictlError,
    NovitaBadRequest,
    NovitaNotFound,
    NovitaStateConflict,
    StoreError,
)
from novictl.novita.models import InstanceStatus
from novictl.store.records import Event, InstanceRecord

if TYPE_CHECKING:
    from novictl.novita.client import NovitaClient
    from novictl.novita.models import Instance
    from novictl.store.base import StateStore

__all__ = [
    "LIST_CACHE_TTL_SECONDS",
    "UNSETTLED_TTL_SECONDS",
    "CreateSpec",
    "LifecycleOutcome",
    "create",
    "delete",
    "is_listed",
    "mark_gone",
    "needs_refresh",
    "parse_env",
    "parse_port",
    "refresh_store",
    "resolve",
    "restart",
    "running_instances",
    "start",
    "stop",
    "stop_many",
    "wait_and_record",
]

log = logging.getLogger(__name__)

# Where each action is headed: an instance already there (or on its way) needs nothing more.
_HEADING: dict[str, frozenset[str]] = {
    "start": frozenset({InstanceStatus.RUNNING, InstanceStatus.TO_START, InstanceStatus.STARTING})
    | InstanceStatus.CREATING_PHASES,
    "stop": frozenset({InstanceStatus.EXITED, InstanceStatus.TO_STOP, InstanceStatus.STOPPING}),
    "restart": frozenset({InstanceStatus.TO_RESTART, InstanceStatus.RESTARTING}),
    "delete": InstanceStatus.GONE,
}
# The status Novita moves an instance to when it accepts the action (we record it without another GET).
_ACCEPTED_STATUS = {
    "start": InstanceStatus.TO_START,
    "stop": InstanceStatus.TO_STOP,
    "restart": InstanceStatus.TO_RESTART,
    "delete": InstanceStatus.TO_REMOVE,
}


@dataclass
class LifecycleOutcome:
    """What one lifecycle action did to one instance."""

    instance_id: str
    name: str
    action: str
    success: bool
    already: bool = False
    status: str = ""
    error: NovictlError | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, camelCase keys (the CLI's ``--json`` and the HTTP API share this shape)."""
        data: dict[str, Any] = {
            "instanceId": self.instance_id,
            "name": self.name,
            "action": self.action,
            "success": self.success,
            "already": self.already,
            "status": self.status,
        }
        if self.error is not None:
            data["error"] = self.error.to_dict()
        return data


# -- lifecycle -------------------------------------------------------------------------------------------


async def _act(
    client: NovitaClient,
    record: InstanceRecord,
    action: str,
    call: Callable[[str], Awaitable[None]],
) -> LifecycleOutcome:
    """Send ``action``; resolve "invalid state change" by re-reading the instance."""
    try:
        await call(record.id)
    except NovitaStateConflict as conflict:
        current = await client.get_instance(record.id)
        if current.status in _HEADING[action]:
            return LifecycleOutcome(record.id, record.name, action, True, already=True, status=current.status)
        raise NovitaStateConflict(
            f"cannot {action} {record.name} ({record.id}): it is {current.status}",
            status=conflict.status,
            reason=conflict.reason,
            hint=f"wait until it settles, then try again; see it with: novictl show {record.id}",
            details={"status": current.status},
        ) from conflict
    except NovitaNotFound as gone:
        if action != "delete":
            raise NovitaNotFound(
                f"instance {record.name} ({record.id}) no longer exists on Novita",
                status=gone.status,
                reason=gone.reason,
                hint="run `novictl sync` to bring the local state up to date",
            ) from gone
        return LifecycleOutcome(record.id, record.name, action, True, already=True, status=TERMINATED)
    return LifecycleOutcome(record.id, record.name, action, True, status=_ACCEPTED_STATUS[action])


@dataclass(frozen=True)
class _EventSpec:
    """The event an action writes; made from the record as it is after the action."""

    kind: str
    actor: str
    now: datetime
    data: dict[str, Any]


def _applied(
    record: InstanceRecord, changes: dict[str, Any], event: _EventSpec | None
) -> tuple[InstanceRecord, Event | None]:
    """The record with ``changes``, and the audit event they make (if any)."""
    updated = record.model_copy(update=changes)
    if event is None:
        return updated, None
    data = {"from": record.status, **event.data}
    return updated, events.instance_event(event.kind, updated, actor=event.actor, now=event.now, **data)


async def _save(
    store: StateStore, record: InstanceRecord, changes: dict[str, Any], event: _EventSpec | None
) -> InstanceRecord:
    """Write only the changed fields (merged into the stored record: a pin, an override or a ping written
    since ``record`` was read survives), then the event."""
    updated, made = _applied(record, changes, event)
    await store.put_many([updated], fields=changes.keys())
    if made is not None:
        await events.record_events(store, [made])
    return updated


def _stop_changes(
    outcome: LifecycleOutcome, stopped_by: str, now: datetime
) -> tuple[dict[str, Any], _EventSpec | None]:
    if outcome.already:
        return {"status": outcome.status}, None
    event = _EventSpec(events.STOPPED, stopped_by, now, {"stoppedBy": stopped_by})
    return {"status": outcome.status, "last_stopped_at": now, "stopped_by": stopped_by}, event


@dataclass(frozen=True)
class UnsavedStop:
    """A stop that was sent, and what it should record: for callers that write many at once."""

    outcome: LifecycleOutcome
    record: InstanceRecord
    """The record with ``changes`` applied."""
    changes: dict[str, Any]
    event: Event | None


async def stop_unsaved(
    client: NovitaClient, record: InstanceRecord, *, stopped_by: str, clock: Clock
) -> UnsavedStop:
    """Send a stop as :func:`stop` does, but write nothing: the caller records ``changes`` (only those
    fields, merged) and ``event`` with the rest of its batch."""
    outcome = await _act(client, record, "stop", client.stop_instance)
    changes, spec = _stop_changes(outcome, stopped_by, clock.now())
    updated, event = _applied(record, changes, spec)
    return UnsavedStop(outcome, updated, changes, event)


async def start(
    client: NovitaClient, store: StateStore, record: InstanceRecord, *, clock: Clock | None = None
) -> LifecycleOutcome:
    """Start a stopped instance; already running (or starting) → success with ``already=True``.

    Records ``last_started_at`` (auto-stop's startup grace counts from it) and clears ``stopped_by``.
    """
    now = (clock or SystemClock()).now()
    try:
        outcome = await _act(client, record, "start", client.start_instance)
    except NovitaBadRequest as refused:
        if (refused.reason or "").upper() != "INSUFFICIENT_RESOURCE":
            raise
        raise _no_gpu_to_start(record, refused) from refused
    if outcome.already:
        await _save(store, record, {"status": outcome.status}, None)
        return outcome
    event = _EventSpec(events.STATUS_CHANGED, "user", now, {"to": outcome.status, "action": "start"})
    changes = {"status": outcome.status, "last_started_at": now, "stopped_by": None, "warned_at": None}
    await _save(store, record, changes, event)
    return outcome


def _no_gpu_to_start(record: InstanceRecord, refused: NovitaBadRequest) -> NovictlError:
    """A stopped instance is not promised its GPU back: say what is kept, until when, and what to do."""
    until = data_kept_until(record)
    kept = (
        f"Novita keeps its data until {until.strftime('%Y-%m-%d %H:%M UTC')}"
        if until
        else f"Novita keeps a stopped instance's data {record.keep_data_days or DEFAULT_KEEP_DATA_DAYS} days"
    )
    return NovictlError(
        f"cannot start {record.name} ({record.id}): the GPU it ran on is taken by someone else; "
        f"nothing was deleted, {kept}",
        hint=(
            f"try again later (novictl start {record.id}), or create a new instance elsewhere "
            "(novictl create --gpu … --region …) and copy what you need before the data goes"
        ),
        details={
            "reason": refused.reason,
            "dataKeptUntil": until.isoformat() if until else None,
        },
    )


async def stop(
    client: NovitaClient,
    store: StateStore,
    record: InstanceRecord,
    *,
    stopped_by: str = "user",
    clock: Clock | None = None,
) -> LifecycleOutcome:
    """Stop a running instance; already stopped (or stopping) → success with ``already=True``.

    Records ``stopped_by``, ``last_stopped_at`` and an ``instance.stopped`` event (actor ``stopped_by``).
    """
    now = (clock or SystemClock()).now()
    outcome = await _act(client, record, "stop", client.stop_instance)
    changes, event = _stop_changes(outcome, stopped_by, now)
    await _save(store, record, changes, event)
    return outcome


async def restart(
    client: NovitaClient, store: StateStore, record: InstanceRecord, *, clock: Clock | None = None
) -> LifecycleOutcome:
    """Restart a running instance (a restart already under way counts as done)."""
    now = (clock or SystemClock()).now()
    outcome = await _act(client, record, "restart", client.restart_instance)
    event: _EventSpec | None = None
    changes: dict[str, Any] = {"status": outcome.status}
    if not outcome.already:
        changes["last_started_at"] = now
        event = _EventSpec(events.STATUS_CHANGED, "user", now, {"to": outcome.status, "action": "restart"})
    await _save(store, record, changes, event)
    return outcome


async def delete(
    client: NovitaClient, store: StateStore, record: InstanceRecord, *, clock: Clock | None = None
) -> LifecycleOutcome:
    """Delete an instance (its data goes with it); one already being deleted or gone counts as done."""
    now = (clock or SystemClock()).now()
    outcome = await _act(client, record, "delete", client.delete_instance)
    changes: dict[str, Any] = {"status": outcome.status}
    if outcome.status == TERMINATED:
        changes["terminated_at"] = record.terminated_at or now
    event: _EventSpec | None = None
    if not outcome.already:
        event = _EventSpec(events.DELETED, "user", now, {})
    await _save(store, record, changes, event)
    return outcome


async def mark_gone(store: StateStore, record: InstanceRecord, *, clock: Clock | None = None) -> None:
    """Record that a deleted instance is gone for good (after waiting for it)."""
    now = (clock or SystemClock()).now()
    await _save(store, record, {"status": TERMINATED, "terminated_at": record.terminated_at or now}, None)


async def stop_many(
    client: NovitaClient,
    store: StateStore,
    records: Iterable[InstanceRecord],
    *,
    stopped_by: str = "stop-all",
    concurrency: int = 8,
    clock: Clock | None = None,
) -> list[LifecycleOutcome]:
    """Stop every record, at most ``concurrency`` at a time; one failure never stops the rest.

    Outcomes come back in the order of ``records``; a failed one has ``success=False`` and its ``error``.
    The store is written once for the whole batch (the changed fields of every record, then every event),
    not per instance. Raises ``StoreError`` if that write fails: the stops were sent but not recorded.
    """
    clock = clock or SystemClock()
    gate = asyncio.Semaphore(max(1, concurrency))
    writes: list[tuple[InstanceRecord, frozenset[str]]] = []
    made: list[Event] = []

    async def one(record: InstanceRecord) -> LifecycleOutcome:
        async with gate:
            try:
                sent = await stop_unsaved(client, record, stopped_by=stopped_by, clock=clock)
            except NovictlError as error:
                failed = events.instance_event(
                    events.STOP_FAILED, record, actor=stopped_by, now=clock.now(), stoppedBy=stopped_by,
                    error=error.to_dict(),
                )  # fmt: skip
                made.append(failed)
                return LifecycleOutcome(
                    record.id, record.name, "stop", False, status=record.status, error=error
                )
            except Exception as error:  # a bug must not leave the other instances running
                log.exception("stopping %s failed unexpectedly", record.id)
                wrapped = NovictlError(f"unexpected error: {type(error).__name__}")
                return LifecycleOutcome(
                    record.id, record.name, "stop", False, status=record.status, error=wrapped
                )
        writes.append((sent.record, frozenset(sent.changes)))
        if sent.event is not None:
            made.append(sent.event)
        return sent.outcome

    outcomes = list(await asyncio.gather(*(one(record) for record in records)))
    try:
        await _save_batch(store, writes, made)
    except StoreError as error:
        sent = sum(1 for outcome in outcomes if outcome.success)
        what = f"{sent} instance(s) were told to stop, but the state store could not record it"
        raise StoreError(
            f"{what}: {error.message}", hint="run `novictl sync` once the store answers again"
        ) from error
    return outcomes


async def _save_batch(
    store: StateStore, writes: Sequence[tuple[InstanceRecord, frozenset[str]]], made: Sequence[Event]
) -> None:
    """One ``put_many`` per set of changed fields (at most two: stopped, already stopped), one append."""
    groups: dict[frozenset[str], list[InstanceRecord]] = {}
    for record, fields in writes:
        groups.setdefault(fields, []).append(record)
    for fields, batch in groups.items():
        await store.put_many(batch, fields=fields)
    if made:
        await events.record_events(store, made)


async def wait_and_record(
    client: NovitaClient,
    store: StateStore,
    record: InstanceRecord,
    targets: Collection[str],
    *,
    timeout_seconds: float,
    poll_interval: float,
    quick_start: bool = False,
    on_status: Callable[[Instance], None] | None = None,
    clock: Clock | None = None,
) -> InstanceRecord:
    """Wait until the instance reaches one of ``targets`` and record what it looks like then.

    An instance that disappears (HTTP 404) while ``"removed"`` is a target counts as arrived: it is
    recorded as terminated. Raises ``WaitTimeout`` (nothing is undone) or the failure Novita reports.
    """
    clock = clock or SystemClock()
    try:
        instance = await wait_for_status(
            client, record.id, targets, timeout_seconds=timeout_seconds, poll_interval=poll_interval,
            quick_start=quick_start, on_status=on_status,
        )  # fmt: skip
    except NovitaNotFound:
        if InstanceStatus.REMOVED not in targets:
            raise
        await mark_gone(store, record, clock=clock)
        return record.model_copy(update={"status": TERMINATED})
    if instance.status == InstanceStatus.REMOVED:
        await mark_gone(store, record, clock=clock)
        return record.model_copy(update={"status": TERMINATED})
    latest = await store.get(record.id) or record
    now = clock.now()
    updated = record_from_instance(instance, latest, None, now)
    await store.put_many([updated], fields=NOVITA_FIELDS)  # what Novita says; a pin made meanwhile stays
    if updated.status == InstanceStatus.RUNNING and latest.status != InstanceStatus.RUNNING:
        ready = events.instance_event(events.READY, updated, actor="user", now=now, **{"from": latest.status})
        await events.record_events(store, [ready])
    return updated
