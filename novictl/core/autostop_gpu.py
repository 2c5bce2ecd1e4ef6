"""The GPU activity source of auto-stop: Novita's utilisation of the instances the other sources judge
idle (or about to be warned), read once per run with bounded concurrency.

A sample at or above ``autostop.gpu_busy_percent`` on any GPU is activity at that sample's time. A read
that fails after the client's retries is :attr:`GpuEvidence.unreadable` (the instance is kept this run);
a 404 or an empty series is :attr:`GpuEvidence.no_data` (the other sources decide). Only the window since
the instance's ``active_at`` by the other sources is read, at most one threshold long.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Literal

from novictl.core.autostop_policy import AutoStopEntry, AutoStopReport, GpuEvidence, activity_of, judge
from novictl.errors import NovitaError, NovitaNotFound

if TYPE_CHECKING:
    from novictl.core.autostop_policy import AutoStopSettingsLike, LiveState
    from novictl.novita.client import NovitaClient
    from novictl.store.records import InstanceRecord

__all__ = ["METRICS_CONCURRENCY", "GpuSource", "add_gpu_evidence", "gpu_candidates", "read_gpu_evidence"]

METRICS_CONCURRENCY = 32
GpuSource = Literal["ok", "unavailable", "unreadable"]
"""How the source fared in a run: ``ok`` (some instance had data), ``unavailable`` (every read was a 404
or empty: this account has no GPU metrics), ``unreadable`` (a read failed)."""


def gpu_candidates(report: AutoStopReport) -> list[AutoStopEntry]:
    """The entries worth a metrics read: would be stopped, or would be warned, by the other sources."""
    return [e for e in report.entries if e.verdict == "stop" or (e.verdict == "keep" and e.warn)]


async def read_gpu_evidence(
    client: NovitaClient,
    entry: AutoStopEntry,
    now: datetime,
    busy_percent: float,
    gate: asyncio.Semaphore | None = None,
) -> GpuEvidence:
    """What the GPU says about one instance since ``entry.active_at`` (at most one threshold back)."""
    gate = gate or asyncio.Semaphore(1)
    window = timedelta(seconds=entry.threshold_seconds or 0)
    start = now - window if entry.active_at is None else max(entry.active_at, now - window)
    if start >= now:
        return GpuEvidence(no_data=True)
    async with gate:
        try:
            metrics = await client.get_gpu_metrics(entry.instance_id, start=start, end=now)
        except NovitaNotFound:
            return GpuEvidence(no_data=True)
        except NovitaError as error:
            return GpuEvidence(unreadable=error.message)
    samples = metrics.gpu_samples()
    if not samples:
        return GpuEvidence(no_data=True)
    latest_at, latest = samples[-1]
    busy = [(when, value) for when, value in samples if value >= busy_percent]
    if not busy:
        return GpuEvidence(latest_percent=latest, latest_at=latest_at)
    when, value = busy[-1]
    return GpuEvidence(busy_at=min(when, now), busy_percent=value, latest_percent=latest, latest_at=latest_at)


async def add_gpu_evidence(
    client: NovitaClient,
    report: AutoStopReport,
    records: Mapping[str, InstanceRecord],
    live: Mapping[str, LiveState],
    settings: AutoStopSettingsLike,
    now: datetime,
    *,
    busy_percent: float,
) -> tuple[dict[str, GpuEvidence], GpuSource | None]:
    """Read the GPU source for the ping-idle entries and judge them again with it (in place).

    Returns the evidence per instance (the run's re-check before a stop uses it too) and how the source
    fared; ``None`` when nothing needed reading.
    """
    candidates = [
        e
        for e in gpu_candidates(report)
        if e.instance_id in records and "gpu" in activity_of(records[e.instance_id], settings)
    ]
    if not candidates:
        return {}, None
    gate = asyncio.Semaphore(METRICS_CONCURRENCY)
    found = await asyncio.gather(
        *(read_gpu_evidence(client, entry, now, busy_percent, gate) for entry in candidates)
    )
    evidence = {entry.instance_id: item for entry, item in zip(candidates, found, strict=True)}
    index = {id(entry): position for position, entry in enumerate(report.entries)}
    for entry in candidates:
        again = judge(
            records[entry.instance_id],
            live.get(entry.instance_id),
            settings,
            now,
            evidence[entry.instance_id],
        )
        report.entries[index[id(entry)]] = again
    report.sort()
    source: GpuSource
    if any(item.unreadable for item in found):
        source = "unreadable"
    elif all(item.no_data for item in found):
        source = "unavailable"
    else:
        source = "ok"
    return evidence, source
