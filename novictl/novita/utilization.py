"""Models of Novita's per-instance utilisation (``GET /openapi/v1/metrics/gpu/instance``).

Series are lists of ``{"timestamp": "<unix s>", "value": <percent>}``; the GPU series come as an average
and per GPU. Timestamps and values are read leniently: a point whose time or value cannot be read is
dropped, never taken as "0 %" (an unreadable sample must not make an instance look idle).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field, field_validator

from novictl.novita.fields import LenientFloat, OptionalStr, UnixTime
from novictl.novita.model_base import NovitaModel

__all__ = ["GpuSeries", "InstanceMetrics", "MetricPoint", "PerGpuSeries"]

MIN_INTERVAL_SECONDS = 30
"""Novita documents the interval as "greater than 15"; 30 s is what the client asks for at least."""


class MetricPoint(NovitaModel):
    """One sample: when, and the utilisation in percent (0-100)."""

    timestamp: UnixTime = None
    value: LenientFloat = None


def _points(value: Any) -> Any:
    if value in (None, "", {}):
        return []
    if isinstance(value, list):
        return [item for item in value if isinstance(item, dict)]
    return value


def _readable(points: list[MetricPoint]) -> list[MetricPoint]:
    return [point for point in points if point.timestamp is not None and point.value is not None]


class PerGpuSeries(NovitaModel):
    """The samples of one GPU of the instance."""

    gpu_id: OptionalStr = None
    items: list[MetricPoint] = Field(default_factory=list)

    @field_validator("items", mode="before")
    @classmethod
    def _list(cls, value: Any) -> Any:
        return _points(value)


class GpuSeries(NovitaModel):
    """A GPU measure (utilisation or memory): the average over the GPUs, and each GPU's own series."""

    avg: list[MetricPoint] = Field(default_factory=list)
    gpu_ids: list[PerGpuSeries] = Field(default_factory=list)

    @field_validator("avg", mode="before")
    @classmethod
    def _avg_list(cls, value: Any) -> Any:
        return _points(value)

    @field_validator("gpu_ids", mode="before")
    @classmethod
    def _gpu_list(cls, value: Any) -> Any:
        return [] if value in (None, "") else value


class InstanceMetrics(NovitaModel):
    """What Novita measured on one instance over a window (about a minute behind real time)."""

    gpu_utilization: GpuSeries = Field(default_factory=GpuSeries)
    gpu_mem_utilization: GpuSeries = Field(default_factory=GpuSeries)
    cpu_utilization: list[MetricPoint] = Field(default_factory=list)
    mem_utilization: list[MetricPoint] = Field(default_factory=list)
    root_disk_utilization: list[MetricPoint] = Field(default_factory=list)

    @field_validator("gpu_utilization", "gpu_mem_utilization", mode="before")
    @classmethod
    def _series(cls, value: Any) -> Any:
        return {} if value in (None, "", []) else value

    @field_validator("cpu_utilization", "mem_utilization", "root_disk_utilization", mode="before")
    @classmethod
    def _list(cls, value: Any) -> Any:
        return _points(value)

    def gpu_samples(self) -> list[tuple[datetime, float]]:
        """``(time, percent)`` per sample time, oldest first: the busiest GPU at that time.

        The busiest GPU, not the average: one GPU at 90 % on an 8-GPU box is a job running. Falls back to
        the average series when Novita sends no per-GPU series.
        """
        busiest: dict[datetime, float] = {}
        per_gpu = [_readable(series.items) for series in self.gpu_utilization.gpu_ids]
        sources = [points for points in per_gpu if points] or [_readable(self.gpu_utilization.avg)]
        for points in sources:
            for point in points:
                assert point.timestamp is not None
                assert point.value is not None
                busiest[point.timestamp] = max(point.value, busiest.get(point.timestamp, 0.0))
        return sorted(busiest.items())

    @property
    def has_gpu_data(self) -> bool:
        """Whether any GPU sample could be read (an empty answer is "no evidence", not "idle")."""
        return bool(self.gpu_samples())

    def latest_gpu(self) -> tuple[datetime, float] | None:
        """The newest GPU sample (busiest GPU), or ``None`` when there is none."""
        samples = self.gpu_samples()
        return samples[-1] if samples else None
