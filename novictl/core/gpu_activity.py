"""What Novita's metrics say about an instance's GPUs lately: for ``show`` (and, later, auto-stop).

A failed read is never "idle": it is reported as unreadable. An endpoint that answers 404 (an account or
instance without metrics) or an empty series is "no GPU data", which is not evidence either way.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from novictl.errors import NovitaError, NovitaNotFound

if TYPE_CHECKING:
    from novictl.novita.client import NovitaClient

__all__ = ["RECENT_WINDOW", "GpuRecent", "read_recent_gpu"]

RECENT_WINDOW = timedelta(minutes=10)


@dataclass(frozen=True)
class GpuRecent:
    """The GPU utilisation of one instance over a recent window (busiest GPU at each sample)."""

    window_minutes: float
    samples: int = 0
    latest_percent: float | None = None
    latest_at: datetime | None = None
    peak_percent: float | None = None
    average_percent: float | None = None
    unavailable: str | None = None
    """Why there is nothing to show: ``"no gpu data"`` or ``"gpu metrics unreadable: …"``."""
    points: tuple[tuple[datetime, float], ...] = ()
    """Every sample in the window, oldest first (the page's sparkline)."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "windowMinutes": self.window_minutes,
            "samples": self.samples,
            "latestPercent": self.latest_percent,
            "latestAt": self.latest_at.isoformat() if self.latest_at else None,
            "peakPercent": self.peak_percent,
            "averagePercent": self.average_percent,
            "unavailable": self.unavailable,
            "points": [[when.isoformat(), round(value, 1)] for when, value in self.points],
        }


async def read_recent_gpu(
    client: NovitaClient, instance_id: str, *, now: datetime, window: timedelta = RECENT_WINDOW
) -> GpuRecent:
    """The last ``window`` of GPU utilisation from Novita; never raises for a Novita failure."""
    minutes = window.total_seconds() / 60
    try:
        metrics = await client.get_gpu_metrics(instance_id, start=now - window, end=now)
    except NovitaNotFound:
        return GpuRecent(minutes, unavailable="no gpu data")
    except NovitaError as error:
        return GpuRecent(minutes, unavailable=f"gpu metrics unreadable: {error.message}")
    samples = metrics.gpu_samples()
    if not samples:
        return GpuRecent(minutes, unavailable="no gpu data")
    values = [value for _, value in samples]
    latest_at, latest = samples[-1]
    return GpuRecent(
        minutes,
        samples=len(samples),
        latest_percent=round(latest, 1),
        latest_at=latest_at,
        peak_percent=round(max(values), 1),
        average_percent=round(sum(values) / len(values), 1),
        points=tuple(samples),
    )
