"""Running auto-stop: read Novita and the store once, judge, re-check each candidate live, stop, account.

A run is a plan and an act. :func:`plan_autostop` reads Novita's list (every page, one pass) and the store
(one round trip) and judges every instance. :func:`apply_autostop` then re-reads only the candidates —
from Novita (one GET each), then from the store (one ``get_many`` for all of them: the last look before
acting, so a ping or pin that landed meanwhile counts) — and stops an instance only if it is *still*
running and *still* idle. A failing read skips that instance with the reason in the report and no stop
call: unknown means active. Afterwards: the records (only the fields the run changed — ``stopped_by``,
``warned_at``, savings bookkeeping — merged into what is stored, one write per set of fields), then in one
round trip each the events (``instance.auto_stopped``, ``instance.autostop_pending``), the counters, and
``meta last_autostop``. A real run holds the store lock :data:`AUTOSTOP_LOCK`, whoever starts it.

Savings: an instance auto-stopped at ``t0`` saves its hourly price for as long as it stays stopped. The
stop time and price are kept on the record (``extra["autostop_stop"]``); when a later run sees the
instance started again (or deleted), the period is settled into the ``autostop.savings_usd`` counter.
Periods still open are counted "so far" up to now by :func:`novictl.core.autostop_controls.autostop_stats`.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from novictl.clock import Clock, SystemClock
from novictl.core import events as audit
from novictl.core import instances
from novictl.core.autostop_accounting import (
    AUTOSTOP_LOCK,
    COUNTERS,
    LAST_RUN_META,
    RunChanges,
    account_run,
    autostop_lock,
    record_dry_run,
)
from novictl.core.autostop_gpu import add_gpu_evidence
from novictl.core.autostop_policy import (
    AutoStopEntry,
    AutoStopReport,
    AutoStopSettingsLike,
    GpuEvidence,
    LiveState,
    Unreadable,
    evaluate,
    judge,
)
from novictl.core.bulk_gc import bulk_gc
from novictl.core.record_mapping import RUNNING
from novictl.errors import NovictlError, NovitaError, NovitaNotFound, StoreError
from novictl.novita.client import NovitaClient
from novictl.novita.models import Instance
from novictl.store.base import StateStore
from novictl.store.records import Event, InstanceRecord

__all__ = [
    "AUTOSTOP_LOCK",
    "COUNTERS",
    "LAST_RUN_META",
    "OPEN_STOP_KEY",
    "AutoStopPlan",
    "BeforeRecheck",
    "apply_autostop",
    "autostop_lock",
    "hourly_saving",
    "plan_autostop",
    "record_dry_run",
    "run_autostop",
    "settle_saving",
]

log = logging.getLogger(__name__)

OPEN_STOP_KEY = "autostop_stop"
"""``record.extra`` key of an auto-stop whose saving is not settled yet: ``{"at": ISO, "pricePerHour"}``."""
BeforeRecheck = Callable[[], Awaitable[object]]
"""Called right before the candidates' records are re-read (the daemon flushes its ping buffer there)."""
# One GET and one stop per candidate; bounded so a burst of idle instances cannot flood Novita.
_NOVITA_CONCURRENCY = 16


@dataclass
class AutoStopPlan:
    """What the first pass saw and decided; :func:`apply_autostop` acts on it."""

    report: AutoStopReport
    records: dict[str, InstanceRecord]
    live: dict[str, Instance]
    started: float = field(default_factory=time.perf_counter)
    gpu: dict[str, GpuEvidence] = field(default_factory=dict)
    """What the GPU source said about the ping-idle instances (the re-check before a stop reuses it)."""

    @property
    def candidates(self) -> list[AutoStopEntry]:
        """The instances the policy would stop."""
        return self.report.by_verdict("stop")


async def plan_autostop(
    *,
    client: NovitaClient,
    store: StateStore,
    settings_autostop: AutoStopSettingsLike,
    clock: Clock | None = None,
    page_size: int = 100,
) -> AutoStopPlan:
    """Read Novita (all pages) and the store (one round trip) and judge every instance; acts on nothing.

    Raises ``NovitaError`` / ``StoreError`` when either cannot be read at all (then nothing is decided).
    """
    started = time.perf_counter()
    with bulk_gc():
        # Both reads at once: with Redis the store answers while Novita's pages arrive.
        listed, records = await asyncio.gather(
            client.list_all_instances(page_size=page_size), store.get_all()
        )
        now = (clock or SystemClock()).now()
        live = {instance.id: instance for instance in listed}
        report = evaluate(records, live, settings_autostop, now)
        by_id = {r.id: r for r in records}
        # Per instance: its own autostop.activity may name the GPU when the global one does not.
        gpu, report.gpu_source = await add_gpu_evidence(
            client, report, by_id, live, settings_autostop, now,
            busy_percent=settings_autostop.gpu_busy_percent,
        )  # fmt: skip
    report.duration_seconds = time.perf_counter() - started
    return AutoStopPlan(report, by_id, live, started, gpu)


async def run_autostop(
    *,
    client: NovitaClient,
    store: StateStore,
    settings_autostop: AutoStopSettingsLike,
    clock: Clock | None = None,
    dry_run: bool,
    page_size: int = 100,
    before_recheck: BeforeRecheck | None = None,
    lock_owner: str | None = None,
    warn_only: bool = False,
    confirm: Callable[[list[AutoStopEntry]], object] | None = None,
) -> AutoStopReport:
    """One auto-stop run. ``dry_run`` (or ``settings_autostop.dry_run``) decides the same and acts on
    nothing, writes nothing. A real run holds :data:`AUTOSTOP_LOCK` throughout (``LockHeld`` when another
    run has it); ``before_recheck``: see :func:`apply_autostop`. ``warn_only``: a real run that sends the
    due warnings and stops nothing (reported as a dry run) — a daemon's first check on a new store.

    ``confirm(candidates)`` (a person at a prompt) is asked on a preview, before the lock is taken — a
    daemon's runs must not wait on someone's answer — and may raise to cancel; then the run plans again
    under the lock and acts on what is true by then."""
    confirmed: set[str] | None = None
    if confirm is not None and not (dry_run or settings_autostop.dry_run):
        with store.repairs_unsaved():
            preview = await plan_autostop(
                client=client, store=store, settings_autostop=settings_autostop, clock=clock,
                page_size=page_size,
            )  # fmt: skip
        confirmed = {entry.instance_id for entry in preview.candidates}
        if confirmed:
            answer = confirm(preview.candidates)
            if inspect.isawaitable(answer):
                await answer
    if dry_run or settings_autostop.dry_run:
        with store.repairs_unsaved():
            plan = await plan_autostop(
                client=client, store=store, settings_autostop=settings_autostop, clock=clock,
                page_size=page_size,
            )  # fmt: skip
        return plan.report
    async with autostop_lock(store, owner=lock_owner):
        plan = await plan_autostop(
            client=client, store=store, settings_autostop=settings_autostop, clock=clock, page_size=page_size
        )
        if confirmed is not None:
            for entry in plan.candidates:
                if entry.instance_id not in confirmed:  # idle since the prompt: not what the person saw
                    entry.verdict, entry.trigger = "keep", None
                    entry.reason += "; not in the confirmed list, the next run stops it"
        return await apply_autostop(
            plan, client=client, store=store, settings_autostop=settings_autostop, clock=clock,
            before_recheck=before_recheck, warn_only=warn_only,
        )  # fmt: skip


async def apply_autostop(
    plan: AutoStopPlan,
    *,
    client: NovitaClient,
    store: StateStore,
    settings_autostop: AutoStopSettingsLike,
    clock: Clock | None = None,
    before_recheck: BeforeRecheck | None = None,
    warn_only: bool = False,
) -> AutoStopReport:
    """Act on a plan: re-check and stop its candidates, send due warnings, settle savings, account.

    Novita is re-read first, then the store, so the records judged are the latest there are;
    ``before_recheck`` runs right before that store read (the daemon writes its buffered pings there, so
    every ping it acknowledged before the re-check counts). If it raises ``StoreError``, the store counts
    as unreadable: nothing is stopped. The caller holds :func:`autostop_lock`.
    """
    with bulk_gc():  # the plan's 10,000 models stay alive until the run ends
        return await _apply(
            plan, client, store, settings_autostop, clock or SystemClock(), before_recheck, warn_only
        )


async def _apply(
    plan: AutoStopPlan,
    client: NovitaClient,
    store: StateStore,
    settings_autostop: AutoStopSettingsLike,
    clock: Clock,
    before_recheck: BeforeRecheck | None,
    warn_only: bool = False,
) -> AutoStopReport:
    report = plan.report
    report.dry_run = warn_only
    candidates = {} if warn_only else {entry.instance_id: entry for entry in plan.candidates}
    warned = {e.instance_id: e for e in report.by_verdict("keep") if e.warn}
    settling = [r.id for r in plan.records.values() if OPEN_STOP_KEY in r.extra]
    counters: dict[str, float] = {COUNTERS["runs"]: 1}
    events: list[Event] = []
    changed = RunChanges()

    ids = [*candidates, *warned, *settling]
    # Novita first: the store read below must be the last look before acting, so that a ping arriving
    # while Novita answers still counts.
    live = await _recheck(client, list(candidates))
    fresh: dict[str, InstanceRecord] | None = None
    if ids:
        try:
            if before_recheck is not None:
                await before_recheck()
            fresh = await store.get_many(ids)
        except StoreError as error:
            report.errors.append(f"store unreadable: {error.message}")
    if fresh is not None:
        counters[COUNTERS["savings"]] = _settle(settling, fresh, plan.live, clock.now(), changed)
        _warn(warned, fresh, plan.live, settings_autostop, clock.now(), changed, events, plan.gpu)
    gate = asyncio.Semaphore(_NOVITA_CONCURRENCY)

    async def act(instance_id: str, entry: AutoStopEntry) -> None:
        record = _current(changed, fresh, instance_id)
        if fresh is None:
            _skip(entry, "store unreadable")
        elif record is None:
            _skip(entry, "record gone from the store")
        else:
            async with gate:
                await _stop_if_still_idle(
                    entry, record, live[instance_id], client, settings_autostop, clock,
                    changed, events, report.errors, plan.gpu.get(instance_id),
                )  # fmt: skip

    finished = False
    try:
        # A task group: when one stop fails unexpectedly (or the run is cancelled) the others are cancelled
        # and waited for, so nothing is still being stopped once the run writes what it did.
        async with asyncio.TaskGroup() as group:
            for instance_id, entry in candidates.items():
                group.create_task(act(instance_id, entry))
        finished = True
    finally:
        # What was done is recorded even when the run is cancelled (a daemon shutting down, Ctrl-C).
        if not finished:
            _unconfirmed(candidates.values(), report)
        report.sort()
        _note_gpu(plan, fresh, changed)
        stopped = report.by_verdict("stopped")
        counters[COUNTERS["stops"]] = len(stopped)
        counters[COUNTERS["max_runtime_stops"]] = sum(1 for e in stopped if e.trigger == "max-runtime")
        counters[COUNTERS["skips"]] = sum(1 for e in candidates.values() if e.verdict == "skip")
        counters[COUNTERS["warnings"]] = sum(1 for e in events if e.type == audit.AUTOSTOP_PENDING)
        report.duration_seconds = time.perf_counter() - plan.started
        await _to_the_end(account_run(store, report, changed, events, counters))
    return report


def _note_gpu(plan: AutoStopPlan, fresh: dict[str, InstanceRecord] | None, changed: RunChanges) -> None:
    """Keep the newest GPU sample read for each instance (``list`` and the page show it)."""
    for instance_id, evidence in plan.gpu.items():
        if evidence.latest_percent is None:
            continue
        record = (
            changed.records.get(instance_id)
            or (fresh or {}).get(instance_id)
            or plan.records.get(instance_id)
        )
        if record is None:
            continue
        updates: dict[str, Any] = {
            "last_gpu_percent": evidence.latest_percent,
            "last_gpu_at": evidence.latest_at,
        }
        busy, known = evidence.busy_at, record.last_gpu_busy_at
        if busy is not None and (known is None or busy > known):
            updates["last_gpu_busy_at"] = busy
        changed.update(record, **updates)


def _unconfirmed(entries: Iterable[AutoStopEntry], report: AutoStopReport) -> None:
    """Candidates whose stop had not been confirmed when the run was interrupted: their stop may or may
    not have reached Novita, so they are reported as such (the next sync records their status)."""
    left = [entry for entry in entries if entry.verdict == "stop"]
    for entry in left:
        _skip(entry, "run interrupted before its stop was confirmed")
    if left:
        names = ", ".join(f"{e.name} ({e.instance_id})" for e in left)
        report.errors.append(f"run interrupted; these stops may or may not have been sent: {names}")


async def _to_the_end(write: Awaitable[None]) -> None:
    """Await ``write`` until it is done, however often this task is cancelled meanwhile (then re-raise
    the cancellation): the record of stops already sent must not be abandoned halfway."""
    task = asyncio.ensure_future(write)
    cancelled = False
    while not task.done():
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            cancelled = True
    task.result()
    if cancelled:
        raise asyncio.CancelledError


# -- steps ---------------------------------------------------------------------------------------------


async def _recheck(client: NovitaClient, ids: Sequence[str]) -> dict[str, LiveState]:
    """Each candidate as Novita says it is now; a failed read is :class:`Unreadable` (never a stop)."""
    gate = asyncio.Semaphore(_NOVITA_CONCURRENCY)

    async def read(instance_id: str) -> LiveState:
        async with gate:
            try:
                return await client.get_instance(instance_id)
            except NovitaNotFound:
                return None
            except NovitaError as error:
                return Unreadable(f"novita unreadable: {error.message}")

    states = await asyncio.gather(*(read(instance_id) for instance_id in ids))
    return dict(zip(ids, states, strict=True))


async def _stop_if_still_idle(
    entry: AutoStopEntry,
    record: InstanceRecord,
    state: LiveState,
    client: NovitaClient,
    settings: AutoStopSettingsLike,
    clock: Clock,
    changed: RunChanges,
    events: list[Event],
    errors: list[str],
    gpu: GpuEvidence | None = None,
) -> None:
    now = clock.now()
    second = judge(record, state, settings, now, gpu)
    if second.verdict != "stop":
        # A ping, a pin or a start landed since the plan: report what is true now.
        _replace(entry, second)
        if second.verdict == "skip" and state is None:
            entry.reason = "gone from Novita"
        return
    _replace(entry, second)
    trigger = second.trigger or "autostop"
    try:
        # Written with the rest of the run by account_run: one round trip for all stops, not two each.
        sent = await instances.stop_unsaved(client, record, stopped_by=trigger, clock=clock)
    except NovictlError as error:
        _skip(entry, f"stop failed: {error.message}")
        errors.append(f"{record.name} ({record.id}): stop failed: {error.message}")
        data = {"stoppedBy": trigger, "error": error.to_dict(), **_figures(second)}
        events.append(_event(audit.STOP_FAILED, record, now, data))
        return
    if sent.outcome.already:
        changed.update(record, **sent.changes)
        _skip(entry, f"already {sent.outcome.status}")
        return
    entry.verdict = "stopped"
    entry.status = sent.outcome.status  # what Novita said to the stop (toStop …), not "running"
    live = state if isinstance(state, Instance) else None
    stop_mark = {"at": now.isoformat(), "pricePerHour": hourly_saving(record, live)}
    stopped = changed.update(
        record, **sent.changes, warned_at=None, extra={**record.extra, OPEN_STOP_KEY: stop_mark}
    )
    if sent.event is not None:
        events.append(sent.event)
    events.append(_event(audit.AUTO_STOPPED, stopped, now, {"stoppedBy": trigger, **_figures(second)}))


def _warn(
    warned: dict[str, AutoStopEntry],
    fresh: dict[str, InstanceRecord],
    live: dict[str, Instance],
    settings: AutoStopSettingsLike,
    now: datetime,
    changed: RunChanges,
    events: list[Event],
    gpu: dict[str, GpuEvidence],
) -> None:
    """``instance.autostop_pending`` once per idle period, re-judged on the fresh record (a ping since
    the plan cancels it)."""
    for instance_id in warned:
        record = _current(changed, fresh, instance_id)
        if record is None:
            continue
        entry = judge(record, live.get(instance_id), settings, now, gpu.get(instance_id))
        if not entry.warn:
            continue
        changed.update(record, warned_at=now)
        data = {
            **_figures(entry),
            "stopAt": entry.stop_at.isoformat() if entry.stop_at else None,
            "keep": audit.keep_alive_hints(record.id),
        }
        events.append(_event(audit.AUTOSTOP_PENDING, record, now, data))


def _settle(
    ids: Iterable[str],
    fresh: dict[str, InstanceRecord],
    live: dict[str, Instance],
    now: datetime,
    changed: RunChanges,
) -> float:
    """Close the savings periods of auto-stopped instances that were started (or deleted) since."""
    total = 0.0
    for instance_id in ids:
        record = _current(changed, fresh, instance_id)
        if record is None:
            continue
        saving = settle_saving(record, live.get(instance_id), now)
        if saving is None:
            continue
        total += saving
        extra = {k: v for k, v in record.extra.items() if k != OPEN_STOP_KEY}
        changed.update(record, extra=extra)
    return round(total, 6)


def hourly_saving(record: InstanceRecord, live: Instance | None = None) -> float | None:
    """What a stop saves per hour: the running price, less what the stopped instance still pays for its
    disk (Novita's ``exitedLocalStoragePrice``, when it said). Prices Novita gave for this very instance
    in the re-read (``instancePrice``) win over the record's."""
    running = (live.running_price_usd if live else None) or record.price_per_hour
    if running is None:
        return None
    stopped = live.stopped_price_usd if live and live.stopped_price_usd is not None else None
    if stopped is None:
        stopped = record.stopped_price_per_hour or 0.0
    return round(max(0.0, running - stopped), 6)


def settle_saving(record: InstanceRecord, live: Instance | None, now: datetime) -> float | None:
    """The USD an auto-stop saved, once its period has ended (the instance started again, or was
    deleted); ``None`` while it is still stopped, or when the record has no open auto-stop."""
    mark = record.extra.get(OPEN_STOP_KEY)
    if not isinstance(mark, dict):
        return None
    try:
        stopped_at = datetime.fromisoformat(str(mark["at"]))
        price = float(mark.get("pricePerHour") or 0.0)
    except (KeyError, TypeError, ValueError):
        return 0.0  # an unreadable mark is dropped rather than counted
    starts = [t for t in (record.last_started_at, live.last_started_at if live else None) if t is not None]
    ended: datetime | None = max(starts) if starts and max(starts) > stopped_at else None
    if ended is None and live is not None and live.status == RUNNING:
        ended = now  # running again and Novita did not say since when: count up to now
    if ended is None and record.terminated_at is not None:
        ended = record.terminated_at
    if ended is None:
        return None
    return max(0.0, (ended - stopped_at).total_seconds()) / 3600 * price


# -- helpers -------------------------------------------------------------------------------------------


def _current(
    changed: RunChanges, fresh: dict[str, InstanceRecord] | None, instance_id: str
) -> InstanceRecord | None:
    if instance_id in changed.records:
        return changed.records[instance_id]
    return None if fresh is None else fresh.get(instance_id)


def _replace(entry: AutoStopEntry, other: AutoStopEntry) -> None:
    for name in ("status", "verdict", "reason", "active_at", "idle_seconds", "threshold_seconds", "stop_at",
                 "last_used_at", "last_used_source", "trigger", "price_per_hour"):  # fmt: skip
        setattr(entry, name, getattr(other, name))


def _skip(entry: AutoStopEntry, reason: str) -> None:
    entry.verdict = "skip"
    entry.reason = reason
    entry.trigger = None


def _figures(entry: AutoStopEntry) -> dict[str, Any]:
    return {
        "reason": entry.reason,
        "trigger": entry.trigger,
        "idleSeconds": entry.idle_seconds,
        "thresholdSeconds": entry.threshold_seconds,
        "activeAt": entry.active_at.isoformat() if entry.active_at else None,
        "pricePerHour": entry.price_per_hour,
    }


def _event(kind: str, record: InstanceRecord, now: datetime, data: dict[str, Any]) -> Event:
    return audit.instance_event(kind, record, actor="autostop", now=now, **data)
