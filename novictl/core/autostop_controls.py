"""Per-instance auto-stop controls (override, off, pin, unpin) and the auto-stop statistics.

Every control counts as a policy change: ``policy_changed_at`` is set to now, so the instance gets a full
idle period from this moment (unpinning an instance last used hours ago must not stop it on the spot).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from novictl.clock import Clock, SystemClock
from novictl.config.models import AutoStopSettings
from novictl.core import events
from novictl.core.autostop_health import read_autostop_health
from novictl.core.autostop_runner import COUNTERS, LAST_RUN_META, OPEN_STOP_KEY, settle_saving
from novictl.core.durations import MAX_DURATION
from novictl.errors import NotFoundError, UsageError
from novictl.store.base import StateStore
from novictl.store.records import InstanceRecord

__all__ = [
    "POLICY_EVENT",
    "autostop_stats",
    "pin_instance",
    "policy_dict",
    "set_autostop_activity",
    "set_autostop_policy",
    "unpin_instance",
]

POLICY_EVENT = events.POLICY_CHANGED
"""The audit event of a threshold change (pins write ``instance.pinned`` / ``instance.unpinned``)."""


async def set_autostop_policy(
    store: StateStore,
    instance_id: str,
    *,
    idle_minutes: int | None = None,
    off: bool = False,
    clock: Clock | None = None,
) -> InstanceRecord:
    """Give the instance its own idle threshold (``idle_minutes``), turn auto-stop off for it (``off``),
    or, with neither, put it back on the global default."""
    if off and idle_minutes is not None:
        raise UsageError("choose one of an idle threshold and off")
    if idle_minutes is not None and idle_minutes < 1:
        raise UsageError("the idle threshold must be at least one minute")
    if idle_minutes is not None and idle_minutes * 60 > MAX_DURATION.total_seconds():
        raise UsageError(
            f"the idle threshold cannot be longer than {MAX_DURATION.days} days",
            hint="to never auto-stop it, turn auto-stop off for it instead",
        )
    return await _change(
        store,
        instance_id,
        {"autostop_idle_minutes": None if off else idle_minutes, "autostop_disabled": off},
        clock,
    )


ACTIVITY_SOURCES = ("pings", "gpu")


async def set_autostop_activity(
    store: StateStore, instance_id: str, activity: list[str] | None, *, clock: Clock | None = None
) -> InstanceRecord:
    """Choose the signs of use auto-stop reads for this instance (``None``: the global setting)."""
    if activity is not None:
        unknown = sorted(set(activity) - set(ACTIVITY_SOURCES))
        if unknown or not activity:
            raise UsageError(
                f"unknown activity source {', '.join(unknown)}" if unknown else "name at least one source",
                hint="choose from pings, gpu (comma-separated), or default",
            )
        activity = [source for source in ACTIVITY_SOURCES if source in activity]
    return await _change(store, instance_id, {"autostop_activity": activity}, clock)


async def pin_instance(
    store: StateStore, instance_id: str, *, until: datetime, clock: Clock | None = None
) -> InstanceRecord:
    """Keep the instance running until ``until`` whatever its activity; idle time counts from then."""
    now = (clock or SystemClock()).now()
    if until.tzinfo is None or until.utcoffset() is None:
        raise UsageError("a pin end needs a timezone (e.g. 2024-06-01T18:00:00Z)")
    if until <= now:
        raise UsageError(f"the pin would end in the past ({until.isoformat()})")
    # Idle time counts from the pin's end: a pin near year 9999 would overflow that arithmetic.
    if until - now > MAX_DURATION:
        raise UsageError(
            f"a pin cannot end more than {MAX_DURATION.days} days from now",
            hint="to never auto-stop it, turn auto-stop off for it instead",
        )
    changes = {"pinned_until": until, "pinned_at": now}
    return await _change(store, instance_id, changes, clock, kind=events.PINNED)


async def unpin_instance(
    store: StateStore, instance_id: str, *, clock: Clock | None = None
) -> InstanceRecord:
    """End a pin now; the instance gets a full idle period from this moment."""
    changes = {"pinned_until": None, "pinned_at": None}
    return await _change(store, instance_id, changes, clock, kind=events.UNPINNED)


def policy_dict(record: InstanceRecord) -> dict[str, Any]:
    """The instance's own auto-stop settings, JSON-ready."""
    return {
        "instanceId": record.id,
        "name": record.name,
        "idleMinutes": record.autostop_idle_minutes,
        "disabled": record.autostop_disabled,
        "activity": record.autostop_activity,
        "pinnedUntil": record.pinned_until.isoformat() if record.pinned_until else None,
        "policyChangedAt": record.policy_changed_at.isoformat() if record.policy_changed_at else None,
    }


async def autostop_stats(
    store: StateStore,
    settings: AutoStopSettings,
    *,
    clock: Clock | None = None,
    dry_run: bool | None = None,
) -> dict[str, Any]:
    """Settings, the last run's summary, the counters (ints), and the estimated savings in USD: what
    ``novictl autostop stats`` and ``GET /api/instances/auto-stop/stats`` both serve.

    ``savings.settledUsd`` are periods that ended (the instance was started again or deleted);
    ``savings.openUsd`` counts instances still stopped by auto-stop, "so far", up to now. ``dry_run``
    overrides ``settings.dry_run`` in the answer (a daemon started with ``--dry-run``).
    """
    now = (clock or SystemClock()).now()
    counters = await store.get_counters()
    raw_last = await store.get_meta(LAST_RUN_META)
    records = await store.get_all()
    try:
        last_run = json.loads(raw_last) if raw_last else None
    except ValueError:
        last_run = None
    open_usd = 0.0
    open_instances = 0
    for record in records:
        if OPEN_STOP_KEY not in record.extra:
            continue
        ended = settle_saving(record, None, now)
        open_usd += ended if ended is not None else _saved_so_far(record, now)
        open_instances += 1
    settled = counters.get(COUNTERS["savings"], 0.0)
    health = await read_autostop_health(store)
    return {
        "health": None if health is None else health.to_dict(),
        "settings": {
            "enabled": settings.enabled,
            "idleMinutes": settings.idle_minutes,
            "checkIntervalMinutes": settings.check_interval_minutes,
            "startupGraceMinutes": settings.startup_grace_minutes,
            "warnBeforeMinutes": settings.warn_before_minutes,
            "maxRuntimeMinutes": settings.max_runtime_minutes,
            "dryRun": settings.dry_run if dry_run is None else dry_run,
            "activity": list(settings.activity),
            "gpuBusyPercent": settings.gpu_busy_percent,
        },
        "lastRun": last_run,
        "counters": {
            "runs": int(counters.get(COUNTERS["runs"], 0)),
            "stops": int(counters.get(COUNTERS["stops"], 0)),
            "maxRuntimeStops": int(counters.get(COUNTERS["max_runtime_stops"], 0)),
            "skips": int(counters.get(COUNTERS["skips"], 0)),
            "warnings": int(counters.get(COUNTERS["warnings"], 0)),
            "errors": int(counters.get(COUNTERS["errors"], 0)),
        },
        "savings": {
            "settledUsd": round(settled, 4),
            "openUsd": round(open_usd, 4),
            "totalUsd": round(settled + open_usd, 4),
            "stillStopped": open_instances,
        },
    }


def _saved_so_far(record: InstanceRecord, now: datetime) -> float:
    # settle_saving said the period is still open, so the mark is readable.
    mark = record.extra[OPEN_STOP_KEY]
    stopped_at = datetime.fromisoformat(str(mark["at"]))
    hours = max(now - stopped_at, timedelta(0)).total_seconds() / 3600
    return hours * float(mark.get("pricePerHour") or 0.0)


async def _change(
    store: StateStore,
    instance_id: str,
    changes: dict[str, Any],
    clock: Clock | None,
    *,
    kind: str = POLICY_EVENT,
) -> InstanceRecord:
    now = (clock or SystemClock()).now()
    # Re-read right before writing: the narrowest window for losing someone else's change.
    record = await store.get(instance_id)
    if record is None:
        raise NotFoundError(f"no instance {instance_id} in the store", hint="run `novictl sync` first")
    changes = {**changes, "policy_changed_at": now}
    updated = record.model_copy(update=changes)
    # Only the fields this control owns: a ping or a sync written since the read above survives.
    await store.put_many([updated], fields=changes.keys())
    event = events.instance_event(kind, updated, actor="user", now=now, **policy_dict(updated))
    await events.record_events(store, [event])
    return updated
