"""GPU metrics: each instance's utilisation over time, and the series ``GET /metrics/gpu/instance`` answers.

Tests set an instance's utilisation at run time (``PUT /_emulator/instances/{id}/utilization`` or
:meth:`MetricsBook.set_utilization`); every change is kept with the time it was made, so a series over a
past window shows what was set then. Before the first change everything is 0.

A series is computed only when asked, from four intervals that all must hold for a sample at time ``t``:

- the grid: ``t`` is a multiple of ``metrics_interval`` (unix time);
- the lag: ``t <= now - metrics_lag`` (Novita's data is about a minute behind);
- the window: ``startTime <= t <= endTime``;
- the run: the instance was up at ``t``. Only the latest run is known, read from the instance itself:
  ``start = lastStartedAt`` (``createdAt`` when that is unset, as after a forced status); when the status is
  one of :data:`UP_STATUSES` the run lasts until now, otherwise it is ``[start, lastStoppedAt]`` if
  ``lastStoppedAt >= start``, and there is none at all if not. Runs before the latest start (a restart
  counts as one) are forgotten.

When the requested ``interval`` is longer than ``metrics_interval``, samples are grouped in buckets of
``interval`` seconds (aligned to multiples of it): each point is the average of the samples in its bucket,
stamped with the first of them, so every timestamp is still a real sample time. Answers keep the newest
:data:`MAX_POINTS` points.
"""

from __future__ import annotations

import bisect
import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal

from novictl.emulator.responses import NovitaApiError

if TYPE_CHECKING:
    from novictl.emulator.state import EmulatorState

__all__ = [
    "DEFAULT_INTERVAL",
    "DEFAULT_WINDOW",
    "MAX_POINTS",
    "MIN_INTERVAL",
    "UP_STATUSES",
    "MetricsBook",
    "MetricsMode",
    "Utilization",
]

MetricsMode = Literal["normal", "not_found", "empty"]
"""``normal``: series as described; ``not_found``: 404 for every instance (an account or endpoint without
metrics); ``empty``: the right shape with empty lists."""

MIN_INTERVAL = 15
"""The smallest ``interval`` (seconds) a query gets; anything smaller, or missing, means this."""
DEFAULT_INTERVAL = MIN_INTERVAL
DEFAULT_WINDOW = 60
"""Seconds before ``endTime`` that a query without a usable ``startTime`` covers."""
MAX_POINTS = 2000
"""The most points one series holds (the newest are kept)."""
UP_STATUSES = frozenset({"running", "toStop", "stopping", "toRestart", "restarting"})
"""Statuses in which the instance's latest run is still going on (its containers have not stopped yet)."""


@dataclass(frozen=True)
class Utilization:
    """Percentages (0 to 100) from some time on: one value per GPU for ``gpu`` and ``gpu_mem``."""

    gpu: tuple[float, ...] = ()
    gpu_mem: tuple[float, ...] = ()
    cpu: float = 0.0
    mem: float = 0.0
    root_disk: float = 0.0

    def json(self) -> dict[str, Any]:
        return {
            "gpu": _mean(self.gpu),
            "perGpu": list(self.gpu),
            "gpuMem": _mean(self.gpu_mem),
            "perGpuMem": list(self.gpu_mem),
            "cpu": self.cpu,
            "mem": self.mem,
            "rootDisk": self.root_disk,
        }


_ZERO = Utilization()


class _History:
    """``values[i]`` holds from ``times[i]`` on; before ``times[0]`` everything is 0."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self.values: list[Utilization] = []

    def at(self, t: float) -> Utilization:
        index = bisect.bisect_right(self.times, t) - 1
        return self.values[index] if index >= 0 else _ZERO

    def set(self, t: float, value: Utilization) -> None:
        index = bisect.bisect_left(self.times, t)
        if index < len(self.times) and self.times[index] == t:
            self.values[index] = value
        else:
            self.times.insert(index, t)
            self.values.insert(index, value)


class MetricsBook:
    """Utilisation history per instance, the metrics mode, and the series built from them. Thread-safe.

    ``app.state.metrics`` of :func:`~novictl.emulator.create_app`; it clears itself on every
    :meth:`EmulatorState.reset <novictl.emulator.EmulatorState.reset>`.
    """

    def __init__(self, state: EmulatorState):
        self._state = state
        self._lock = threading.Lock()
        self._history: dict[str, _History] = {}
        self._mode: MetricsMode = "normal"

    # --- control -----------------------------------------------------------------------------------

    def reset(self) -> None:
        """Forget every utilisation change; the mode goes back to ``normal``."""
        with self._lock:
            self._history = {}
            self._mode = "normal"

    @property
    def mode(self) -> MetricsMode:
        return self._mode

    def set_mode(self, mode: MetricsMode) -> None:
        if mode not in ("normal", "not_found", "empty"):
            raise ValueError(f"unknown metrics mode {mode!r}")
        with self._lock:
            self._mode = mode

    def settings(self) -> dict[str, Any]:
        """The mode, and the sampling settings of the current config."""
        config = self._state.config
        return {"mode": self._mode, "interval": config.metrics_interval, "lag": config.metrics_lag}

    def set_utilization(
        self,
        instance_id: str,
        *,
        gpu: float | None = None,
        gpu_mem: float | None = None,
        cpu: float | None = None,
        mem: float | None = None,
        root_disk: float | None = None,
        per_gpu: Sequence[float] | None = None,
        per_gpu_mem: Sequence[float] | None = None,
        at: float | None = None,
    ) -> Utilization:
        """Change an instance's utilisation from ``at`` (default now) on; fields left ``None`` keep their
        value. ``gpu`` sets every GPU, then ``per_gpu[i]`` sets GPU ``i`` (at most one value per GPU); the
        same for ``gpu_mem``/``per_gpu_mem``. KeyError for an unknown instance, ValueError for a value
        outside 0 to 100. Returns the utilisation now in force from ``at``."""
        for value in (gpu, gpu_mem, cpu, mem, root_disk, *(per_gpu or ()), *(per_gpu_mem or ())):
            if value is not None and not (isinstance(value, int | float) and 0 <= value <= 100):
                raise ValueError(f"a utilisation is a percentage from 0 to 100, not {value!r}")
        instance = self._state.instance(instance_id)
        if instance is None:
            raise KeyError(instance_id)
        gpu_num = _int(instance.get("gpuNum"), 1)
        for name, values in (("perGpu", per_gpu), ("perGpuMem", per_gpu_mem)):
            if values is not None and len(values) > gpu_num:
                raise ValueError(f"{name} has {len(values)} values but the instance has {gpu_num} GPUs")
        when = self._state.clock() if at is None else at
        with self._lock:
            history = self._history.setdefault(instance_id, _History())
            current = history.at(when)
            updated = replace(
                current,
                gpu=_per_gpu(current.gpu, gpu_num, gpu, per_gpu),
                gpu_mem=_per_gpu(current.gpu_mem, gpu_num, gpu_mem, per_gpu_mem),
                cpu=current.cpu if cpu is None else float(cpu),
                mem=current.mem if mem is None else float(mem),
                root_disk=current.root_disk if root_disk is None else float(root_disk),
            )
            history.set(when, updated)
            return updated

    def utilization(self, instance_id: str, at: float | None = None) -> Utilization:
        """The utilisation in force at ``at`` (default now), GPU tuples sized to the instance; KeyError
        for an unknown instance."""
        instance = self._state.instance(instance_id)
        if instance is None:
            raise KeyError(instance_id)
        gpu_num = _int(instance.get("gpuNum"), 1)
        when = self._state.clock() if at is None else at
        with self._lock:
            history = self._history.get(instance_id)
            value = history.at(when) if history else _ZERO
        return _sized(value, gpu_num)

    # --- what the route calls ----------------------------------------------------------------------

    def series(
        self,
        instance_id: str,
        *,
        start_time: float | None = None,
        end_time: float | None = None,
        interval: float | None = None,
    ) -> dict[str, Any]:
        """The ``GET /metrics/gpu/instance`` answer. Out-of-range arguments fall back to the defaults:
        ``end_time`` to now (when missing, not positive or in the future), ``start_time`` to
        ``end_time - 60`` (when missing, negative or not before ``end_time``), ``interval`` to at least 15.
        Raises :class:`NovitaApiError` 404 for an unknown instance, or for any in mode ``not_found``."""
        state = self._state
        config = state.config
        if self._mode == "not_found":
            raise NovitaApiError(404, "NOT_FOUND", f"no metrics for instance {instance_id}")
        instance = state.instance(instance_id)
        if instance is None:
            raise NovitaApiError(404, "NOT_FOUND", f"instance {instance_id} not found")
        gpu_num = max(1, _int(instance.get("gpuNum"), 1))
        if self._mode == "empty":
            return _answer([], gpu_num)

        now = state.clock()
        end = end_time if end_time is not None and 0 < end_time <= now else now
        start = start_time if start_time is not None and 0 <= start_time < end else end - DEFAULT_WINDOW
        run = _latest_run(instance, now)
        if run is None:
            return _answer([], gpu_num)
        low = max(start, run[0])
        high = min(end, run[1], now - config.metrics_lag)
        step = float(config.metrics_interval)
        first, last = math.ceil(low / step - 1e-9), math.floor(high / step + 1e-9)
        if last < first:
            return _answer([], gpu_num)

        width = max(float(interval or DEFAULT_INTERVAL), MIN_INTERVAL)
        with self._lock:
            history = self._history.get(instance_id) or _History()
            points = _buckets(history, first, last, step, width, gpu_num)
        return _answer(points, gpu_num)


# --- series ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Point:
    t: float
    value: Utilization


def _buckets(
    history: _History, first: int, last: int, step: float, width: float, gpu_num: int
) -> list[_Point]:
    """Samples ``first..last`` (indexes on the ``step`` grid), averaged in buckets of ``width`` seconds when
    that is longer than ``step``; the newest :data:`MAX_POINTS`."""
    if width <= step:
        first = max(first, last - MAX_POINTS + 1)
        return [_Point(k * step, _sized(history.at(k * step), gpu_num)) for k in range(first, last + 1)]
    first_bucket = math.floor(first * step / width)
    last_bucket = math.floor(last * step / width)
    points: list[_Point] = []
    for bucket in range(max(first_bucket, last_bucket - MAX_POINTS + 1), last_bucket + 1):
        ka = max(first, math.ceil(bucket * width / step - 1e-9))
        kb = min(last, math.ceil((bucket + 1) * width / step - 1e-9) - 1)
        if kb >= ka:
            points.append(_Point(ka * step, _average(history, ka, kb, step, gpu_num)))
    return points


def _average(history: _History, ka: int, kb: int, step: float, gpu_num: int) -> Utilization:
    """The mean of the samples ``ka..kb``: piecewise constant, so a sum over the changes in that range."""
    weights: list[tuple[int, Utilization]] = []
    k = ka
    while k <= kb:
        t = k * step
        value = history.at(t)
        index = bisect.bisect_right(history.times, t)  # the next change after t
        if index < len(history.times):
            upto = min(kb, math.ceil(history.times[index] / step - 1e-9) - 1)
        else:
            upto = kb
        upto = max(upto, k)
        weights.append((upto - k + 1, _sized(value, gpu_num)))
        k = upto + 1
    total = kb - ka + 1

    def mean(pick: Any) -> float:
        return float(sum(count * pick(value) for count, value in weights) / total)

    return Utilization(
        gpu=tuple(mean(lambda v, i=i: v.gpu[i]) for i in range(gpu_num)),
        gpu_mem=tuple(mean(lambda v, i=i: v.gpu_mem[i]) for i in range(gpu_num)),
        cpu=mean(lambda v: v.cpu),
        mem=mean(lambda v: v.mem),
        root_disk=mean(lambda v: v.root_disk),
    )


def _answer(points: list[_Point], gpu_num: int) -> dict[str, Any]:
    def series(pick: Any) -> list[dict[str, Any]]:
        return [{"timestamp": _stamp(point.t), "value": _number(pick(point.value))} for point in points]

    def per_gpu(field: str) -> dict[str, Any]:
        return {
            "avg": series(lambda v: _mean(getattr(v, field))),
            "gpuIds": [
                {"gpuId": str(i), "items": series(lambda v, i=i: getattr(v, field)[i])}
                for i in range(gpu_num)
            ],
        }

    return {
        "gpuUtilization": per_gpu("gpu"),
        "gpuMemUtilization": per_gpu("gpu_mem"),
        "cpuUtilization": series(lambda v: v.cpu),
        "memUtilization": series(lambda v: v.mem),
        "rootDiskUtilization": series(lambda v: v.root_disk),
    }


def _latest_run(instance: dict[str, Any], now: float) -> tuple[float, float] | None:
    """``[start, end]`` of the instance's latest run as far as its own fields tell (see the module doc)."""
    started = _int(instance.get("lastStartedAt"), 0) or _int(instance.get("createdAt"), 0)
    if instance.get("status") in UP_STATUSES:
        return (started, now)
    stopped = _int(instance.get("lastStoppedAt"), 0)
    if stopped and stopped >= started:
        return (started, stopped)
    return None


# --- small helpers --------------------------------------------------------------------------------


def _per_gpu(
    current: tuple[float, ...], gpu_num: int, every: float | None, each: Sequence[float] | None
) -> tuple[float, ...]:
    values = list(current[:gpu_num]) + [0.0] * max(0, gpu_num - len(current))
    if every is not None:
        values = [float(every)] * gpu_num
    for index, value in enumerate(each or ()):
        values[index] = float(value)
    return tuple(values)


def _sized(value: Utilization, gpu_num: int) -> Utilization:
    if len(value.gpu) == gpu_num and len(value.gpu_mem) == gpu_num:
        return value
    return replace(
        value,
        gpu=_per_gpu(value.gpu, gpu_num, None, None),
        gpu_mem=_per_gpu(value.gpu_mem, gpu_num, None, None),
    )


def _mean(values: Sequence[float]) -> float:
    return float(sum(values) / len(values)) if values else 0.0


def _number(value: float) -> float | int:
    rounded = round(float(value), 2)
    return int(rounded) if rounded.is_integer() else rounded


def _stamp(t: float) -> str:
    rounded = round(float(t), 3)
    return str(int(rounded)) if rounded.is_integer() else f"{rounded:.3f}".rstrip("0")


def _int(value: Any, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default
