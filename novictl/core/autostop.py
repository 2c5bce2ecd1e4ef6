"""Auto-stop, the heart of novictl: stop idle running instances, safely (DESIGN.md, "Auto-stop").

One import for everything others call:

- the policy, a pure function: :func:`evaluate`, :func:`judge`, :func:`describe_autostop`;
- the runner: :func:`run_autostop` (= :func:`plan_autostop` then :func:`apply_autostop`);
- pings: :func:`record_ping`;
- per-instance controls and statistics: :func:`set_autostop_policy`, :func:`pin_instance`,
  :func:`unpin_instance`, :func:`autostop_stats`.
"""

from novictl.core.autostop_controls import (
    POLICY_EVENT,
    autostop_stats,
    pin_instance,
    policy_dict,
    set_autostop_activity,
    set_autostop_policy,
    unpin_instance,
)
from novictl.core.autostop_policy import (
    AUTOSTOP,
    MAX_RUNTIME,
    AutoStopEntry,
    AutoStopReport,
    AutoStopSettingsLike,
    AutoStopView,
    LiveState,
    Unreadable,
    Verdict,
    describe_autostop,
    evaluate,
    judge,
)
from novictl.core.autostop_runner import (
    AUTOSTOP_LOCK,
    COUNTERS,
    LAST_RUN_META,
    OPEN_STOP_KEY,
    AutoStopPlan,
    apply_autostop,
    autostop_lock,
    plan_autostop,
    record_dry_run,
    run_autostop,
    settle_saving,
)
from novictl.core.pings import find_record, parse_timestamp, record_ping

__all__ = [
    "AUTOSTOP",
    "AUTOSTOP_LOCK",
    "COUNTERS",
    "LAST_RUN_META",
    "MAX_RUNTIME",
    "OPEN_STOP_KEY",
    "POLICY_EVENT",
    "AutoStopEntry",
    "AutoStopPlan",
    "AutoStopReport",
    "AutoStopSettingsLike",
    "AutoStopView",
    "LiveState",
    "Unreadable",
    "Verdict",
    "apply_autostop",
    "autostop_lock",
    "autostop_stats",
    "describe_autostop",
    "evaluate",
    "find_record",
    "judge",
    "parse_timestamp",
    "pin_instance",
    "plan_autostop",
    "policy_dict",
    "record_dry_run",
    "record_ping",
    "run_autostop",
    "set_autostop_activity",
    "set_autostop_policy",
    "settle_saving",
    "unpin_instance",
]
