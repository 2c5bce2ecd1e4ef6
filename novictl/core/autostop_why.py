"""``novictl autostop why`` and ``GET /api/instances/{id}/auto-stop``: auto-stop's verdict on one instance,
and every figure behind it — each activity source's latest sign of use, the threshold and how it was made,
pins, max runtime, the warning sent, and the next check."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from novictl.clock import Clock, SystemClock, iso_or_none
from novictl.core.autostop_accounting import LAST_RUN_META
from novictl.core.autostop_gpu import read_gpu_evidence
from novictl.core.autostop_policy import (
    AutoStopEntry,
    AutoStopSettingsLike,
    GpuEvidence,
    LiveState,
    Unreadable,
    activity_of,
    judge,
)
from novictl.core.record_mapping import RUNNING
from novictl.errors import NovitaError, NovitaNotFound

if TYPE_CHECKING:
    from novictl.novita.client import NovitaClient
    from novictl.store.base import StateStore
    from novictl.store.records import InstanceRecord

__all__ = ["AutoStopExplanation", "explain_autostop"]


@dataclass
class AutoStopExplanation:
    entry: AutoStopEntry
    record: InstanceRecord
    activity: list[str]
    gpu: GpuEvidence | None
    threshold_base_seconds: float
    threshold_from: str
    """``global`` (``autostop.idle_minutes``) or ``instance`` (``autostop set --idle``)."""
    startup_grace_seconds: float | None
    max_runtime_seconds: float | None
    warned_at: datetime | None
    next_check_at: datetime | None
    now: datetime

    def sources(self) -> list[dict[str, Any]]:
        """Each sign of use: what it is, when it last said "in use", and where that came from."""
        record, gpu = self.record, self.gpu
        rows: list[dict[str, Any]] = []
        if "pings" in self.activity:
            source = record.last_used_source
            rows.append(_source("pings", record.last_used_at, f"ping from {source}" if source else None))
        if "gpu" in self.activity:
            if gpu is None:
                detail = "not read (not running, or Novita not asked)"
            elif gpu.note:
                detail = gpu.note
            elif gpu.busy_at is None:
                detail = "no sample at or above the busy level in the window"
            else:
                detail = f"gpu {gpu.busy_percent:.0f}%"
            rows.append(_source("gpu", gpu.busy_at if gpu else None, detail))
        rows.append(_source("started", record.last_started_at, None))
        rows.append(_source("first seen", record.first_seen_at, "novictl cannot know what came before"))
        if record.policy_changed_at:
            rows.append(_source("policy changed", record.policy_changed_at, None))
        return rows

    def to_dict(self) -> dict[str, Any]:
        record = self.record
        return {
            **self.entry.to_dict(),
            "activity": self.activity,
            "sources": self.sources(),
            "threshold": {
                "seconds": self.entry.threshold_seconds,
                "baseSeconds": self.threshold_base_seconds,
                "from": self.threshold_from,
                "startupGraceSeconds": self.startup_grace_seconds,
            },
            "pinnedUntil": iso_or_none(record.pinned_until),
            "maxRuntimeSeconds": self.max_runtime_seconds,
            "warnedAt": iso_or_none(self.warned_at),
            "nextCheckAt": iso_or_none(self.next_check_at),
        }


async def explain_autostop(
    record: InstanceRecord,
    *,
    store: StateStore,
    client: NovitaClient | None,
    settings: AutoStopSettingsLike,
    check_interval: timedelta,
    clock: Clock | None = None,
) -> AutoStopExplanation:
    """Judge one instance as a run would now (Novita's live state and GPU metrics when ``client`` is
    given; without it, the state is unknown, so the verdict is a skip) and gather the figures."""
    now = (clock or SystemClock()).now()
    live: LiveState = Unreadable("Novita not asked (no API key)")
    gpu: GpuEvidence | None = None
    activity = list(activity_of(record, settings))
    if client is not None:
        try:
            live = await client.get_instance(record.id)
        except NovitaNotFound:
            live = None
        except NovitaError as error:
            live = Unreadable(f"novita unreadable: {error.message}")
        if (
            "gpu" in activity
            and live is not None
            and not isinstance(live, Unreadable)
            and live.status == RUNNING
        ):
            # The whole threshold back, whatever the pings say: "why" shows the GPU's latest busy sample.
            window = replace(judge(record, live, settings, now), active_at=None)
            gpu = await read_gpu_evidence(client, window, now, settings.gpu_busy_percent)
    entry = judge(record, live, settings, now, gpu)
    base = (
        timedelta(minutes=record.autostop_idle_minutes)
        if record.autostop_idle_minutes is not None
        else settings.idle_threshold
    )
    grace = None
    if entry.threshold_seconds is not None and entry.threshold_seconds > base.total_seconds():
        grace = entry.threshold_seconds - base.total_seconds()
    period = entry.active_at
    warned = record.warned_at if record.warned_at and (period is None or record.warned_at >= period) else None
    max_runtime = settings.max_runtime
    return AutoStopExplanation(
        entry=entry,
        record=record,
        activity=activity,
        gpu=gpu,
        threshold_base_seconds=base.total_seconds(),
        threshold_from="instance" if record.autostop_idle_minutes is not None else "global",
        startup_grace_seconds=grace,
        max_runtime_seconds=max_runtime.total_seconds() if max_runtime else None,
        warned_at=warned,
        next_check_at=await _next_check(store, check_interval, now),
        now=now,
    )


async def _next_check(store: StateStore, interval: timedelta, now: datetime) -> datetime | None:
    """The last run plus the check interval (not before now); ``None`` when no run was recorded."""
    raw = await store.get_meta(LAST_RUN_META)
    try:
        ran_at = datetime.fromisoformat(json.loads(raw)["ranAt"]) if raw else None
    except (ValueError, TypeError, KeyError):
        ran_at = None
    if ran_at is None:
        return None
    due = ran_at + interval
    if due < now and interval > timedelta(0):
        due += interval * math.ceil((now - due) / interval)
    return max(due, now)


def _source(name: str, at: datetime | None, detail: str | None) -> dict[str, Any]:
    return {"source": name, "at": iso_or_none(at), "detail": detail}
