"""The auto-stop policy: a pure function of (records, live Novita states, settings, now) → a report.

The rules (DESIGN.md, "Auto-stop"), for each instance whose **live** Novita status is ``running``:

1. skip when auto-stop is off (globally or for the instance); keep while it is pinned;
2. ``active_at`` = the latest of ``last_used_at`` (pings), the latest busy GPU sample (when the runner
   read Novita's metrics: :class:`GpuEvidence`), the last start, ``first_seen_at`` (always: what happened
   before novictl watched is unknown), the last policy change and the end of the last pin;
3. the threshold is the instance's override or the global one, plus the startup grace when the instance
   was never pinged since its last start;
4. idle iff ``now - active_at >= threshold``; a max runtime (when set) stops it regardless, unless pinned;
5. nothing is stopped unless its ``instance.autostop_pending`` warning went out at least ``warn_before``
   earlier in the same idle period: one found past its threshold unwarned is warned now and kept.

Anything unknown counts as activity: an unreadable Novita state skips the instance, an instance novictl
does not track yet is skipped (sync adopts it first), and a start time from Novita only ever moves
``active_at`` later. Nothing here does I/O; the runner (:mod:`novictl.core.autostop_runner`) acts on it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, Protocol, TypeAlias

from novictl.clock import iso_or_none
from novictl.core.durations import format_duration
from novictl.core.record_mapping import RUNNING, TERMINATED
from novictl.novita.models import Instance
from novictl.store.records import InstanceRecord

__all__ = [
    "AUTOSTOP",
    "MAX_RUNTIME",
    "AutoStopEntry",
    "AutoStopReport",
    "AutoStopSettingsLike",
    "AutoStopView",
    "GpuEvidence",
    "LiveState",
    "Unreadable",
    "Verdict",
    "activity_of",
    "describe_autostop",
    "evaluate",
    "judge",
]

Verdict = Literal["stop", "stopped", "keep", "skip"]

AUTOSTOP = "autostop"
"""``stopped_by`` of an instance stopped for idleness."""
MAX_RUNTIME = "max-runtime"
"""``stopped_by`` of an instance stopped because it ran longer than ``max_runtime_minutes``."""

_VERDICT_ORDER: dict[str, int] = {"stopped": 0, "stop": 1, "keep": 2, "skip": 3}
_NOT_RUNNING = "not running"
_NOT_LISTED = "not listed by Novita"
_GONE = "gone from Novita"
_PINNED = "pinned until"
# Skips that only say "there was nothing to stop": not counted as auto-stop holding back.
_NOTHING_TO_STOP = frozenset({_NOT_RUNNING, _NOT_LISTED, _GONE})
# The first word of a keep reason's driver → the ``kept_by`` label.
_KEPT_BY = {
    "ping": "pings",
    "used": "pings",
    "gpu": "gpu",
    "started": "started",
    "first": "first-seen",
    "policy": "policy-change",
    "pin": "pin",
}


class AutoStopSettingsLike(Protocol):
    """The part of ``settings.autostop`` the policy reads."""

    @property
    def enabled(self) -> bool: ...
    @property
    def dry_run(self) -> bool: ...
    @property
    def idle_threshold(self) -> timedelta: ...
    @property
    def startup_grace(self) -> timedelta: ...
    @property
    def warn_before(self) -> timedelta: ...
    @property
    def max_runtime(self) -> timedelta | None: ...
    @property
    def activity(self) -> Sequence[str]: ...
    @property
    def gpu_busy_percent(self) -> float: ...


@dataclass(frozen=True)
class _Limits:
    """The settings read once per evaluation (the settings' properties build a timedelta per access)."""

    enabled: bool
    dry_run: bool
    idle_threshold: timedelta
    startup_grace: timedelta
    warn_before: timedelta
    max_runtime: timedelta | None
    activity: Sequence[str] = ("pings", "gpu")
    gpu_busy_percent: float = 10.0

    @classmethod
    def of(cls, settings: AutoStopSettingsLike) -> _Limits:
        if isinstance(settings, _Limits):
            return settings
        return cls(
            settings.enabled,
            settings.dry_run,
            settings.idle_threshold,
            settings.startup_grace,
            settings.warn_before,
            settings.max_runtime,
            tuple(settings.activity),
            settings.gpu_busy_percent,
        )


@dataclass(frozen=True)
class Unreadable:
    """Novita could not tell this instance's state; unknown means active, so it is skipped."""

    reason: str = "novita unreadable"


@dataclass(frozen=True)
class GpuEvidence:
    """What Novita's GPU metrics said about one instance in this run (read only for instances the other
    sources judge idle). ``unreadable``: the read failed after retries, so the instance is kept this run;
    ``no_data``: a 404 or an empty series, no evidence either way (the other sources decide)."""

    busy_at: datetime | None = None
    """The latest sample at or above ``autostop.gpu_busy_percent``."""
    busy_percent: float | None = None
    unreadable: str | None = None
    no_data: bool = False
    latest_percent: float | None = None
    """The newest sample (busiest GPU), busy or not: what ``list`` and ``/metrics`` show."""
    latest_at: datetime | None = None

    @property
    def note(self) -> str | None:
        """What the report says about this source when it did not decide: ``no gpu data`` …"""
        if self.unreadable:
            return "gpu metrics unreadable"
        return "no gpu data" if self.no_data else None


LiveState: TypeAlias = Instance | Unreadable | None
"""What Novita says about one instance: an ``Instance``, ``None`` (not listed) or :class:`Unreadable`."""


@dataclass
class AutoStopEntry:
    """The verdict on one instance, and the figures that explain it."""

    instance_id: str
    name: str
    status: str
    verdict: Verdict
    reason: str
    active_at: datetime | None = None
    idle_seconds: float | None = None
    threshold_seconds: float | None = None
    price_per_hour: float | None = None
    stop_at: datetime | None = None
    """When the policy stops it if nothing happens (for a pinned one: after the pin)."""
    last_used_at: datetime | None = None
    last_used_source: str | None = None
    trigger: str | None = None
    """For ``stop``/``stopped``: the ``stopped_by`` recorded — ``autostop`` or ``max-runtime``."""
    warn: bool = False
    """The instance crossed ``stop_at - warn_before`` and was not warned in this idle period yet."""
    kept_by: str | None = None
    """For ``keep``: what kept it — ``pings``, ``gpu``, ``started``, ``first-seen``, ``policy-change``,
    ``pin``, ``warning`` (due, warned first) or ``gpu-unreadable`` (the ``reason`` label of
    ``novictl_autostop_kept_total``)."""
    gpu_percent: float | None = None
    """The GPU's newest sample when this run read it."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, camelCase keys."""
        return {
            "instanceId": self.instance_id,
            "name": self.name,
            "status": self.status,
            "verdict": self.verdict,
            "reason": self.reason,
            "trigger": self.trigger,
            "activeAt": iso_or_none(self.active_at),
            "lastUsedAt": iso_or_none(self.last_used_at),
            "lastUsedSource": self.last_used_source,
            "idleSeconds": None if self.idle_seconds is None else round(self.idle_seconds, 3),
            "thresholdSeconds": self.threshold_seconds,
            "stopAt": iso_or_none(self.stop_at),
            "pricePerHour": self.price_per_hour,
            "keptBy": self.kept_by,
            "gpuPercent": self.gpu_percent,
        }


@dataclass
class AutoStopReport:
    """What one auto-stop run decided (and, unless a dry run, did)."""

    entries: list[AutoStopEntry]
    dry_run: bool
    ran_at: datetime
    errors: list[str] = field(default_factory=list)
    duration_seconds: float = 0.0
    gpu_source: str | None = None
    """How Novita's GPU metrics fared: ``ok``, ``unavailable`` (no data for any instance), ``unreadable``
    (a read failed), ``None`` (not read: nothing was idle by the other sources, or the source is off)."""

    @property
    def totals(self) -> dict[str, float]:
        """Instances per verdict, and the hourly burn of the ones stopped (or to stop)."""
        counts: dict[str, float] = {
            "instances": len(self.entries),
            "stop": 0,
            "stopped": 0,
            "keep": 0,
            "skip": 0,
        }
        burn = 0.0
        for entry in self.entries:
            counts[entry.verdict] += 1
            if entry.verdict in ("stop", "stopped"):
                burn += entry.price_per_hour or 0.0
        counts["stopUsdPerHour"] = round(burn, 6)
        return counts

    @property
    def held_back(self) -> int:
        """Instances auto-stop left alone for a reason: pinned, auto-stop off, or a state it could not
        know (unreadable, not tracked yet). Ones that simply are not running do not count."""
        return sum(
            1
            for e in self.entries
            if (e.verdict == "skip" and e.reason not in _NOTHING_TO_STOP)
            or (e.verdict == "keep" and e.reason.startswith(_PINNED))
        )

    def by_verdict(self, *verdicts: Verdict) -> list[AutoStopEntry]:
        return [entry for entry in self.entries if entry.verdict in verdicts]

    def sort(self) -> None:
        """Stopped and to-stop first, then kept, then skipped; by name within each."""
        self.entries.sort(key=lambda e: (_VERDICT_ORDER[e.verdict], e.name, e.instance_id))

    def summary(self) -> dict[str, Any]:
        """The report without its entries (what ``meta last_autostop`` keeps)."""
        return {
            "ranAt": self.ran_at.isoformat(),
            "dryRun": self.dry_run,
            "durationSeconds": round(self.duration_seconds, 3),
            "totals": self.totals,
            "errors": list(self.errors),
            "gpuSource": self.gpu_source,
        }

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, camelCase keys: the CLI's ``--json`` and the daemon's trigger route return this."""
        return {**self.summary(), "entries": [entry.to_dict() for entry in self.entries]}

    def first_check_line(self) -> str:
        """What a daemon's first check (warnings only) says: ``the first check would stop 3 instances
        ($2.10/h) at 14:05 UTC`` — the ones to stop now and the ones just warned, unless used meanwhile."""
        due = [e for e in self.entries if e.verdict == "stop" or (e.verdict == "keep" and e.warn)]
        burn = sum(e.price_per_hour or 0.0 for e in due)
        times = [max(e.stop_at, self.ran_at) for e in due if e.stop_at is not None]
        when = _clock_time(max(times), self.ran_at) if times else "once warned"
        noun = "instance" if len(due) == 1 else "instances"
        return f"the first check would stop {len(due)} {noun} (${burn:.2f}/h) at {when}"

    def summary_line(self) -> str:
        """One line for logs: ``auto-stop: 2 stopped, 5 kept, 1 skipped (1 not running), 0 errors ($0.70/h
        no longer billed) in 0.31s``."""
        totals = self.totals
        acted = f"{totals['stop']:.0f} would stop" if self.dry_run else f"{totals['stopped']:.0f} stopped"
        idle = sum(1 for e in self.entries if e.verdict == "skip" and e.reason in _NOTHING_TO_STOP)
        skipped = f"{totals['skip']:.0f} skipped" + (f" ({idle} not running)" if idle else "")
        burn = f"${totals['stopUsdPerHour']:.2f}/h " + (
            "would no longer be billed" if self.dry_run else "no longer billed"
        )
        return (
            f"auto-stop{' (dry run)' if self.dry_run else ''}: {acted}, {totals['keep']:.0f} kept, "
            f"{skipped}, {len(self.errors)} errors ({burn}) in {self.duration_seconds:.2f}s"
        )


@dataclass(frozen=True)
class AutoStopView:
    """Auto-stop as ``list``/``show``/the web page show it for one record (no live Novita read)."""

    label: str
    """``in 12m`` | ``due now`` | ``pinned until 14:05 UTC`` | ``off`` | ``not running``."""
    eta: datetime | None
    idle_seconds: float | None
    last_used_at: datetime | None
    last_used_source: str | None
    threshold_seconds: float | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "eta": iso_or_none(self.eta),
            # Whole seconds, as the instance summary around it shows them.
            "idleSeconds": None if self.idle_seconds is None else round(self.idle_seconds),
            "lastUsedAt": iso_or_none(self.last_used_at),
            "lastUsedSource": self.last_used_source,
            "thresholdSeconds": self.threshold_seconds,
        }


def evaluate(
    records: Sequence[InstanceRecord],
    live: Mapping[str, LiveState],
    settings: AutoStopSettingsLike,
    now: datetime,
) -> AutoStopReport:
    """Judge every tracked instance (terminated ones left out) and every live one not tracked yet.

    ``live`` maps an instance id to what Novita says; an id missing from it means "not listed".
    """
    entries: list[AutoStopEntry] = []
    tracked: set[str] = set()
    settings = _Limits.of(settings)
    for record in records:
        tracked.add(record.id)
        state = live.get(record.id)
        if state is None and (record.terminated_at is not None or record.status == TERMINATED):
            continue
        entries.append(judge(record, state, settings, now))
    for instance_id, state in live.items():
        if instance_id not in tracked and state is not None and not isinstance(state, Unreadable):
            entries.append(
                AutoStopEntry(
                    instance_id, state.name or instance_id, state.status, "skip", "not tracked yet (run sync)"
                )
            )
    report = AutoStopReport(entries=entries, dry_run=True, ran_at=now)
    report.sort()
    return report


def judge(
    record: InstanceRecord,
    live: LiveState,
    settings: AutoStopSettingsLike,
    now: datetime,
    gpu: GpuEvidence | None = None,
) -> AutoStopEntry:
    """The verdict on one instance: ``stop`` (idle or over its max runtime), ``keep`` or ``skip``."""
    entry = AutoStopEntry(
        instance_id=record.id,
        name=record.name,
        status=record.status,
        verdict="skip",
        reason="",
        price_per_hour=record.price_per_hour,
        last_used_at=record.last_used_at,
        last_used_source=record.last_used_source,
    )
    if isinstance(live, Unreadable):
        entry.reason = live.reason
        return entry
    if live is None:
        entry.reason = _NOT_LISTED
        return entry
    entry.status = live.status
    if live.status != RUNNING:
        entry.reason = _NOT_RUNNING
        return entry
    if not settings.enabled:
        entry.reason = "auto-stop is off"
        return entry
    if record.autostop_disabled:
        entry.reason = "auto-stop off for this instance"
        return entry
    _judge_running(entry, record, live.last_started_at, _Limits.of(settings), now, gpu)
    if gpu is not None:
        entry.gpu_percent = gpu.latest_percent
    return entry


def describe_autostop(record: InstanceRecord, settings: AutoStopSettingsLike, now: datetime) -> AutoStopView:
    """Auto-stop's outlook for one record, from the store alone (its last known status)."""
    label = "not running"
    entry = AutoStopEntry(record.id, record.name, record.status, "skip", "")
    if record.status == RUNNING and record.terminated_at is None:
        if not settings.enabled or record.autostop_disabled:
            label = "off"
        else:
            _judge_running(entry, record, None, _Limits.of(settings), now)
            if record.pinned_until is not None and record.pinned_until > now:
                label = f"pinned until {_clock_time(record.pinned_until, now)}"
            elif entry.verdict == "stop" or (
                entry.idle_seconds is not None
                and entry.threshold_seconds is not None
                and entry.idle_seconds >= entry.threshold_seconds
            ):
                label = "due now"
            elif entry.stop_at is not None:
                label = f"in {format_duration(entry.stop_at - now)}"
    idle = max(0.0, (now - entry.active_at).total_seconds()) if entry.active_at is not None else None
    return AutoStopView(
        label=label,
        eta=entry.stop_at,
        idle_seconds=idle,
        last_used_at=record.last_used_at,
        last_used_source=record.last_used_source,
        threshold_seconds=entry.threshold_seconds,
    )


# -- the rules ----------------------------------------------------------------------------------------


def _judge_running(
    entry: AutoStopEntry,
    record: InstanceRecord,
    live_started: datetime | None,
    settings: _Limits,
    now: datetime,
    gpu: GpuEvidence | None = None,
) -> None:
    """Fill ``entry`` for a running instance whose auto-stop is on."""
    started = _latest(record.last_started_at, live_started) or record.first_seen_at
    activity = [(record.first_seen_at, "first seen"), (started, "started")]
    used = "used" if not record.last_used_source else f"ping from {record.last_used_source}"
    sources = activity_of(record, settings)
    pings = "pings" in sources
    # A busy sample read by an earlier run still counts once it falls out of this run's read window.
    gpu_busy = _latest(gpu.busy_at if gpu else None, record.last_gpu_busy_at if "gpu" in sources else None)
    fresh_busy = gpu is not None and gpu.busy_at is not None and gpu.busy_at == gpu_busy
    for when, what in (
        (record.last_used_at if pings else None, used),
        (gpu_busy, f"gpu {gpu.busy_percent:.0f}%" if fresh_busy and gpu and gpu.busy_percent else "gpu busy"),
        (record.policy_changed_at, "policy changed"),
        (record.pinned_until, "pin ended"),
    ):
        if when is not None:
            activity.append((when, what))
    # On a tie the more telling reason wins ("used" over "started" over "first seen"): max() keeps the
    # first maximum of the reversed list, so later entries win.
    active_at, driver = max(reversed(activity), key=lambda item: item[0])
    kept_by = _KEPT_BY.get(driver.split(" ")[0], "pings")
    threshold = (
        timedelta(minutes=record.autostop_idle_minutes)
        if record.autostop_idle_minutes is not None
        else settings.idle_threshold
    )
    in_grace = record.last_used_at is None or record.last_used_at < started
    if in_grace:
        threshold += settings.startup_grace  # booting and pulling an image is not idleness
    stop_at = active_at + threshold
    max_runtime = settings.max_runtime
    if max_runtime is not None:
        stop_at = min(stop_at, max(started + max_runtime, record.pinned_until or started))
    idle = now - active_at
    entry.active_at = active_at
    # While pinned, active_at lies ahead (the pin's end): the idle clock has not started, it is not negative.
    entry.idle_seconds = max(0.0, idle.total_seconds())
    entry.threshold_seconds = threshold.total_seconds()
    entry.stop_at = stop_at

    if record.pinned_until is not None and record.pinned_until > now:
        entry.verdict, entry.kept_by = "keep", "pin"
        entry.reason = f"{_PINNED} {_clock_time(record.pinned_until, now)}"
        return
    running_for = now - started
    if idle >= threshold:
        trigger, why = AUTOSTOP, f"idle {format_duration(idle)} >= {format_duration(threshold)}"
    elif max_runtime is not None and running_for >= max_runtime:
        trigger = MAX_RUNTIME
        why = f"running {format_duration(running_for)} >= max runtime {format_duration(max_runtime)}"
    else:
        entry.verdict, entry.kept_by = "keep", kept_by
        ago = format_duration(max(idle, timedelta(0)))
        startup = (
            " (startup grace)"
            if driver in ("started", "first seen") and threshold > settings.idle_threshold
            else ""
        )
        entry.reason = f"{driver} {ago} ago{startup}"
        warned = record.warned_at is not None and record.warned_at >= active_at
        warn_before = settings.warn_before
        entry.warn = bool(warn_before) and now >= stop_at - warn_before and not warned
        return
    note = gpu.note if gpu else None
    if gpu is not None and gpu.unreadable and trigger == AUTOSTOP:
        # Unknown means active: a failed metrics read never lets an instance look idle.
        entry.verdict, entry.reason, entry.kept_by = (
            "keep",
            f"{why}, but gpu metrics unreadable",
            "gpu-unreadable",
        )
        return
    # The warning must belong to this idle period (for a max-runtime stop: to this run of the instance).
    period = active_at if trigger == AUTOSTOP else started
    warned_at = record.warned_at if record.warned_at is not None and record.warned_at >= period else None
    warn_before = settings.warn_before
    if warn_before and (warned_at is None or now - warned_at < warn_before):
        # No stop without a warning at least warn_before earlier in this idle period.
        due = (warned_at or now) + warn_before
        entry.stop_at = max(stop_at, due)
        entry.verdict, entry.kept_by = "keep", "warning"
        entry.warn = warned_at is None
        entry.reason = (
            f"{why}; {'warned' if warned_at else 'warning first'}, stops at {_clock_time(due, now)}"
        )
        return
    entry.verdict, entry.trigger = "stop", trigger
    entry.reason = f"{why} ({note})" if note else why


def activity_of(record: InstanceRecord, settings: AutoStopSettingsLike) -> Sequence[str]:
    """The signs of use read for this instance: its own choice, else ``autostop.activity``."""
    return record.autostop_activity if record.autostop_activity is not None else settings.activity


def _latest(*times: datetime | None) -> datetime | None:
    known = [when for when in times if when is not None]
    return max(known) if known else None


def _clock_time(when: datetime, now: datetime) -> str:
    """``14:05 UTC`` today, ``2024-06-01 14:05 UTC`` on another day."""
    when, now = when.astimezone(UTC), now.astimezone(UTC)
    if when.date() == now.date():
        return when.strftime("%H:%M UTC")
    return when.strftime("%Y-%m-%d %H:%M UTC")
