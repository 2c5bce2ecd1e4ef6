"""The auto-stop policy as a pure function: one row per rule of DESIGN.md "Auto-stop"."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from novictl.config.models import AutoStopSettings
from novictl.core.autostop import Unreadable, describe_autostop, evaluate, judge
from novictl.core.autostop_policy import GpuEvidence, LiveState
from novictl.novita.models import Instance
from novictl.store.records import InstanceRecord

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
DEFAULTS = AutoStopSettings()  # idle 20m, grace 45m, warn 5m, max runtime off
# The idleness rules alone; the warning that must precede every stop has tests of its own below.
UNWARNED = DEFAULTS.model_copy(update={"warn_before_minutes": 0})


def ago(minutes: float) -> datetime:
    return NOW - timedelta(minutes=minutes)


def record(**fields: Any) -> InstanceRecord:
    values: dict[str, Any] = {
        "id": "i1",
        "name": "trainer",
        "status": "running",
        "price_per_hour": 0.5,
        "first_seen_at": ago(600),
        "last_started_at": ago(180),
    }
    values.update(fields)
    return InstanceRecord(**values)


def running(**fields: Any) -> Instance:
    return Instance(**{"id": "i1", "name": "trainer", "status": "running", **fields})


@dataclass
class Row:
    rule: str
    record: dict[str, Any]
    verdict: str
    reason: str
    live: dict[str, Any] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    trigger: str | None = None


ROWS = [
    Row("pinged 19 min ago", {"last_used_at": ago(19)}, "keep", "used 19m ago"),
    Row("pinged 20 min ago", {"last_used_at": ago(20)}, "stop", "idle 20m >= 20m", trigger="autostop"),
    Row(
        "never pinged: start + grace + threshold not reached",
        {"last_started_at": ago(64)},
        "keep",
        "started 1h04m ago (startup grace)",
    ),
    Row(
        "never pinged: start + grace + threshold reached",
        {"last_started_at": ago(65)},
        "stop",
        "idle 1h05m >= 1h05m",
        trigger="autostop",
    ),
    Row(
        "pinged only before the last start still gets the grace",
        {"last_used_at": ago(300), "last_started_at": ago(60)},
        "keep",
        "started 1h00m ago (startup grace)",
    ),
    Row(
        "no start time known: counted from first seen",
        {"last_started_at": None, "first_seen_at": ago(66)},
        "stop",
        "idle 1h06m >= 1h05m",
        trigger="autostop",
    ),
    Row(
        "pinned: kept while the pin lasts",
        {"last_used_at": ago(170), "pinned_until": NOW + timedelta(hours=1)},
        "keep",
        "pinned until 13:00 UTC",
    ),
    Row(
        "pin ended 19 min ago: counted from the pin's end",
        {"last_used_at": ago(170), "pinned_until": ago(19)},
        "keep",
        "pin ended 19m ago",
    ),
    Row(
        "pin ended 20 min ago",
        {"last_used_at": ago(170), "pinned_until": ago(20)},
        "stop",
        "idle 20m >= 20m",
        trigger="autostop",
    ),
    Row(
        "override 2h: 119 min",
        {"last_used_at": ago(119), "autostop_idle_minutes": 120},
        "keep",
        "used 1h59m ago",
    ),
    Row(
        "override 2h: 120 min",
        {"last_used_at": ago(120), "autostop_idle_minutes": 120},
        "stop",
        "idle 2h00m >= 2h00m",
        trigger="autostop",
    ),
    Row(
        "override off",
        {"last_used_at": ago(900), "autostop_disabled": True},
        "skip",
        "auto-stop off for this instance",
    ),
    Row("global off", {"last_used_at": ago(900)}, "skip", "auto-stop is off", settings={"enabled": False}),
    Row(
        "max runtime stops an active instance",
        {"last_used_at": ago(1), "last_started_at": ago(240)},
        "stop",
        "running 4h00m >= max runtime 4h00m",
        settings={"max_runtime_minutes": 240},
        trigger="max-runtime",
    ),
    Row(
        "max runtime not reached",
        {"last_used_at": ago(1), "last_started_at": ago(239)},
        "keep",
        "used 1m ago",
        settings={"max_runtime_minutes": 240},
    ),
    Row(
        "max runtime yields to a pin",
        {"last_used_at": ago(1), "last_started_at": ago(600), "pinned_until": NOW + timedelta(minutes=5)},
        "keep",
        "pinned until 12:05 UTC",
        settings={"max_runtime_minutes": 240},
    ),
    Row(
        "a policy change restarts the clock",
        {"last_used_at": ago(170), "policy_changed_at": ago(19)},
        "keep",
        "policy changed 19m ago",
    ),
    Row(
        "a policy change 20 min ago",
        {"last_used_at": ago(170), "policy_changed_at": ago(20)},
        "stop",
        "idle 20m >= 20m",
        trigger="autostop",
    ),
    Row(
        "Novita's later start time wins over the record's",
        {"last_used_at": ago(300), "last_started_at": ago(300)},
        "keep",
        "started 10m ago (startup grace)",
        live={"last_started_at": ago(10)},
    ),
    Row(
        "an earlier start time from Novita changes nothing",
        {"last_used_at": ago(10)},
        "keep",
        "used 10m ago",
        live={"last_started_at": ago(900)},
    ),
    Row(
        "a future ping (clock skew) keeps it",
        {"last_used_at": NOW + timedelta(minutes=3)},
        "keep",
        "used 0s ago",
    ),
]


@pytest.mark.parametrize("row", ROWS, ids=[row.rule for row in ROWS])
def test_policy_rule(row: Row) -> None:
    settings = UNWARNED.model_copy(update=row.settings)
    entry = judge(record(**row.record), running(**row.live), settings, NOW)
    assert (entry.verdict, entry.reason) == (row.verdict, row.reason)
    assert entry.trigger == row.trigger


@pytest.mark.parametrize(
    "status", ["toStart", "starting", "toStop", "stopping", "exited", "toRestart", "pulling", "migrating"]
)
def test_transitional_and_stopped_statuses_are_skipped(status: str) -> None:
    entry = judge(record(last_used_at=ago(900)), running(status=status), DEFAULTS, NOW)
    assert (entry.verdict, entry.reason, entry.status) == ("skip", "not running", status)


def test_the_live_status_counts_not_the_stored_one() -> None:
    entry = judge(record(status="exited", last_used_at=ago(900)), running(), UNWARNED, NOW)
    assert entry.verdict == "stop"


def test_unreadable_novita_state_is_a_skip_never_a_stop() -> None:
    entry = judge(record(last_used_at=ago(900)), Unreadable(), DEFAULTS, NOW)
    assert (entry.verdict, entry.reason) == ("skip", "novita unreadable")


def test_evaluate_covers_tracked_untracked_and_unlisted_instances() -> None:
    records = [
        record(id="idle", name="idle", last_used_at=ago(30)),
        record(id="busy", name="busy", last_used_at=ago(2)),
        record(id="unlisted", name="unlisted", last_used_at=ago(900)),
        record(id="gone", name="gone", status="terminated", terminated_at=ago(5)),
        record(id="blind", name="blind", last_used_at=ago(900)),
    ]
    live: dict[str, LiveState] = {
        "idle": running(id="idle"),
        "busy": running(id="busy"),
        "stranger": running(id="stranger", name="made-in-console"),
        "blind": Unreadable(),
    }
    report = evaluate(records, live, UNWARNED, NOW)
    verdicts = {e.instance_id: (e.verdict, e.reason) for e in report.entries}
    assert verdicts == {
        "idle": ("stop", "idle 30m >= 20m"),
        "busy": ("keep", "used 2m ago"),
        "unlisted": ("skip", "not listed by Novita"),
        "stranger": ("skip", "not tracked yet (run sync)"),
        "blind": ("skip", "novita unreadable"),
    }
    assert report.entries[0].instance_id == "idle"  # what would be stopped comes first
    assert report.totals == {
        "instances": 5,
        "stop": 1,
        "stopped": 0,
        "keep": 1,
        "skip": 3,
        "stopUsdPerHour": 0.5,
    }
    report.dry_run = True
    line = report.summary_line()
    assert line.startswith("auto-stop (dry run): 1 would stop, 1 kept, 3 skipped (1 not running), 0 errors")
    assert "($0.50/h would no longer be billed)" in line


@pytest.mark.parametrize(
    ("fields", "warn"),
    [
        ({"last_used_at": ago(14)}, False),  # stop at +6m: not yet within warn_before (5m)
        ({"last_used_at": ago(15)}, True),
        ({"last_used_at": ago(16), "warned_at": ago(1)}, False),  # already warned in this idle period
        ({"last_used_at": ago(16), "warned_at": ago(30)}, True),  # warned in an earlier period, pinged since
        ({"last_used_at": ago(16), "pinned_until": NOW + timedelta(hours=1)}, False),
    ],
)
def test_warning_flag_once_per_idle_period(fields: dict[str, Any], warn: bool) -> None:
    entry = judge(record(**fields), running(), DEFAULTS, NOW)
    assert entry.verdict == "keep"
    assert entry.warn is warn
    assert entry.stop_at == fields["last_used_at"] + timedelta(minutes=20) or "pinned_until" in fields


def test_no_warning_when_warn_before_is_zero() -> None:
    entry = judge(
        record(last_used_at=ago(19)), running(), DEFAULTS.model_copy(update={"warn_before_minutes": 0}), NOW
    )
    assert entry.warn is False


@pytest.mark.parametrize(
    ("fields", "label", "eta"),
    [
        ({"last_used_at": ago(8)}, "in 12m", ago(8) + timedelta(minutes=20)),
        ({"last_used_at": ago(25)}, "due now", NOW + timedelta(minutes=5)),  # after its warning
        ({"pinned_until": datetime(2024, 6, 1, 14, 5, tzinfo=UTC)}, "pinned until 14:05 UTC",
         datetime(2024, 6, 1, 14, 25, tzinfo=UTC)),
        ({"pinned_until": datetime(2024, 6, 2, 9, 0, tzinfo=UTC)}, "pinned until 2024-06-02 09:00 UTC",
         datetime(2024, 6, 2, 9, 20, tzinfo=UTC)),
        ({"autostop_disabled": True}, "off", None),
        ({"status": "exited"}, "not running", None),
    ],
)  # fmt: skip
def test_describe_autostop(fields: dict[str, Any], label: str, eta: datetime | None) -> None:
    base = {"last_used_at": ago(170)} if "last_used_at" not in fields else {}
    view = describe_autostop(record(**{**base, **fields}), DEFAULTS, NOW)
    assert view.label == label
    assert view.eta == eta


def test_describe_autostop_global_off() -> None:
    view = describe_autostop(record(), DEFAULTS.model_copy(update={"enabled": False}), NOW)
    assert (view.label, view.eta) == ("off", None)


def test_report_json_schema() -> None:
    report = evaluate(
        [record(last_used_at=ago(30), last_used_source="jupyter")], {"i1": running()}, UNWARNED, NOW
    )
    data = report.to_dict()
    assert set(data) == {"ranAt", "dryRun", "durationSeconds", "totals", "errors", "gpuSource", "entries"}
    [entry] = data["entries"]
    assert entry == {
        "instanceId": "i1",
        "name": "trainer",
        "status": "running",
        "verdict": "stop",
        "reason": "idle 30m >= 20m",
        "trigger": "autostop",
        "activeAt": ago(30).isoformat(),
        "lastUsedAt": ago(30).isoformat(),
        "lastUsedSource": "jupyter",
        "idleSeconds": 1800.0,
        "thresholdSeconds": 1200.0,
        "stopAt": ago(10).isoformat(),
        "pricePerHour": 0.5,
        "keptBy": None,
        "gpuPercent": None,
    }
    assert report.summary_line().startswith("auto-stop (dry run): 1 would stop, 0 kept, 0 skipped")


# -- issue "Auto-stop that knows when an instance is working" ------------------------------------------


def test_an_idle_instance_is_warned_first_and_stopped_only_warn_before_later() -> None:
    idle = record(last_used_at=ago(30))
    first = judge(idle, running(), DEFAULTS, NOW)
    assert (first.verdict, first.warn) == ("keep", True)
    assert first.reason == "idle 30m >= 20m; warning first, stops at 12:05 UTC"
    assert first.stop_at == NOW + timedelta(minutes=5)

    warned = record(last_used_at=ago(30), warned_at=ago(4))
    soon = judge(warned, running(), DEFAULTS, NOW)
    assert (soon.verdict, soon.warn) == ("keep", False)  # warned, but not 5 minutes ago yet
    assert soon.reason == "idle 30m >= 20m; warned, stops at 12:01 UTC"

    due = judge(record(last_used_at=ago(30), warned_at=ago(5)), running(), DEFAULTS, NOW)
    assert (due.verdict, due.trigger) == ("stop", "autostop")

    # A warning from an earlier idle period does not count: the ping since started a new one.
    stale = judge(record(last_used_at=ago(30), warned_at=ago(40)), running(), DEFAULTS, NOW)
    assert (stale.verdict, stale.warn) == ("keep", True)


def test_max_runtime_also_waits_for_its_warning() -> None:
    settings = DEFAULTS.model_copy(update={"max_runtime_minutes": 240})
    busy = {"last_used_at": ago(1), "last_started_at": ago(250)}
    assert judge(record(**busy), running(), settings, NOW).verdict == "keep"
    entry = judge(record(**busy, warned_at=ago(6)), running(), settings, NOW)
    assert (entry.verdict, entry.trigger) == ("stop", "max-runtime")


def test_first_sight_counts_as_activity_even_with_an_old_start() -> None:
    # Started three days ago in Novita's console, adopted by novictl ten minutes ago, never pinged.
    adopted = record(first_seen_at=ago(10), last_started_at=ago(3 * 24 * 60))
    entry = judge(adopted, running(), UNWARNED, NOW)
    assert (entry.verdict, entry.reason) == ("keep", "first seen 10m ago (startup grace)")
    assert entry.stop_at == ago(10) + timedelta(minutes=65)  # a full threshold plus the grace
    assert judge(
        record(first_seen_at=ago(66), last_started_at=ago(4000)), running(), UNWARNED, NOW
    ).verdict == ("stop")


def test_a_busy_gpu_is_activity_at_its_sample_time() -> None:
    never_pinged = record(last_started_at=ago(180))
    busy = GpuEvidence(busy_at=ago(2), busy_percent=87)
    entry = judge(never_pinged, running(), UNWARNED, NOW, busy)
    assert (entry.verdict, entry.reason) == ("keep", "gpu 87% 2m ago")
    assert entry.active_at == ago(2)

    idle_gpu = judge(never_pinged, running(), UNWARNED, NOW, GpuEvidence(busy_at=ago(70), busy_percent=50))
    assert idle_gpu.verdict == "stop"  # its last busy sample is older than the threshold


def test_unreadable_gpu_metrics_keep_and_missing_ones_defer_to_pings() -> None:
    idle = record(last_used_at=ago(30))
    unreadable = judge(idle, running(), UNWARNED, NOW, GpuEvidence(unreadable="HTTP 503"))
    assert (unreadable.verdict, unreadable.reason) == ("keep", "idle 30m >= 20m, but gpu metrics unreadable")
    no_data = judge(idle, running(), UNWARNED, NOW, GpuEvidence(no_data=True))
    assert (no_data.verdict, no_data.reason) == ("stop", "idle 30m >= 20m (no gpu data)")


def test_the_ping_source_is_named() -> None:
    entry = judge(record(last_used_at=ago(3), last_used_source="notebook"), running(), DEFAULTS, NOW)
    assert entry.reason == "ping from notebook 3m ago"


def test_a_kept_instance_says_what_kept_it() -> None:
    pinged = judge(record(last_used_at=ago(5), last_used_source="nb"), running(), DEFAULTS, NOW)
    assert (pinged.verdict, pinged.kept_by) == ("keep", "pings")
    busy = judge(
        record(last_used_at=ago(90)), running(), DEFAULTS, NOW, GpuEvidence(busy_at=ago(2), busy_percent=87)
    )
    assert (busy.verdict, busy.kept_by, busy.reason) == ("keep", "gpu", "gpu 87% 2m ago")
    due = judge(record(last_used_at=ago(90)), running(), DEFAULTS, NOW, GpuEvidence(latest_percent=0.0))
    assert (due.verdict, due.kept_by, due.gpu_percent) == ("keep", "warning", 0.0)
    blind = judge(record(last_used_at=ago(90)), running(), DEFAULTS, NOW, GpuEvidence(unreadable="503"))
    assert (blind.verdict, blind.kept_by) == ("keep", "gpu-unreadable")
