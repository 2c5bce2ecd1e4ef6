"""``novictl autostop check|run|stats|set|pin|unpin``: see and steer the stopping of idle instances."""

import math
import sys
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from novictl.cli.context import App, JsonFlag, get_app, run_async
from novictl.cli.instance_support import YesOption, confirm, seconds
from novictl.cli.output import print_json, print_table
from novictl.errors import UsageError

if TYPE_CHECKING:
    from novictl.core.autostop import AutoStopEntry, AutoStopReport
    from novictl.core.autostop_why import AutoStopExplanation
    from novictl.store.base import StateStore
    from novictl.store.records import InstanceRecord

__all__ = ["app", "print_report", "resolve_record"]

app = typer.Typer(
    help="Stop idle instances: what would stop and why, run it, statistics, per-instance rules and pins.",
    no_args_is_help=True,
)

RefArgument = Annotated[str, typer.Argument(help="Instance id or exact name.", metavar="ID|NAME")]


@app.command("check")
def check(
    ctx: typer.Context,
    fail_on_idle: Annotated[
        bool, typer.Option("--fail-on-idle", help="Exit 1 when an instance would be stopped.")
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Accepted for cron lines that say it; check never acts.")
    ] = False,
    json_output: JsonFlag = False,
) -> None:
    """Show what auto-stop would do now, and why: a dry run that acts on nothing.

    One row per instance: status, last used, idle for, threshold, verdict (stop, keep, skip), reason and
    hourly price. Safe for cron: no colour when the output is not a terminal; exits 0, or 1 with
    --fail-on-idle when something would be stopped.
    """
    from novictl.core.autostop import run_autostop

    state = get_app(ctx)

    async def go() -> "AutoStopReport":
        async with state.novita_client() as client, state.open_store() as store:
            return await run_autostop(
                client=client,
                store=store,
                settings_autostop=state.settings.autostop,
                dry_run=True,
                page_size=state.settings.novita.page_size,
            )

    report = run_async(go())
    print_report(state, report, as_json=state.wants_json(json_output))
    if fail_on_idle and report.by_verdict("stop"):
        _exit_failed()


@app.command("why")
def why(ctx: typer.Context, ref: RefArgument, json_output: JsonFlag = False) -> None:
    """Explain auto-stop's verdict on one instance: each activity source's latest sign of use and where
    it came from, the threshold and how it was made, pin, max runtime, the warning sent, the next check.

    Reads Novita's live state and GPU metrics for it (with an API key), as a run would; acts on nothing.
    """
    from novictl.core.autostop_why import explain_autostop
    from novictl.errors import ConfigError

    state = get_app(ctx)
    settings = state.settings.autostop

    async def go() -> "AutoStopExplanation":
        async with state.open_store() as store:
            record = await resolve_record(state, store, ref)
            try:
                client = state.novita_client()
            except ConfigError:
                return await explain_autostop(
                    record,
                    store=store,
                    client=None,
                    settings=settings,
                    check_interval=settings.check_interval,
                )
            async with client:
                return await explain_autostop(
                    record,
                    store=store,
                    client=client,
                    settings=settings,
                    check_interval=settings.check_interval,
                )

    explained = run_async(go())
    if state.wants_json(json_output):
        print_json(explained.to_dict())
        return
    print_table(state, ["", "auto-stop"], _why_rows(explained), show_header=False)


def _why_rows(explained: "AutoStopExplanation") -> list[tuple[str, str]]:
    from novictl.core.durations import format_duration
    from novictl.core.instance_view import ago

    entry, record, now = explained.entry, explained.record, explained.now
    rows = [
        ("instance", f"{record.name} ({record.id}), {entry.status}"),
        ("verdict", f"{entry.verdict}: {entry.reason}"),
        ("activity read", ", ".join(explained.activity)),
    ]
    for source in explained.sources():
        when = source["at"]
        seen = ago(datetime.fromisoformat(when), now) if when else "never"
        detail = f" ({source['detail']})" if source["detail"] else ""
        rows.append((f"  {source['source']}", f"{seen}{detail}"))
    threshold = format_duration(explained.threshold_base_seconds)
    made = "this instance's own" if explained.threshold_from == "instance" else "global autostop.idle_minutes"
    grace = explained.startup_grace_seconds
    rows.append(
        (
            "threshold",
            f"{threshold} ({made})" + (f" + {format_duration(grace)} startup grace" if grace else ""),
        )
    )
    if entry.idle_seconds is not None:
        rows.append(("idle for", format_duration(entry.idle_seconds)))
    if entry.stop_at is not None and entry.verdict == "keep":
        rows.append(("stops at", f"{entry.stop_at:%Y-%m-%d %H:%M UTC} unless used"))
    pinned = record.pinned_until
    rows.append(("pinned", f"until {pinned:%Y-%m-%d %H:%M UTC}" if pinned and pinned > now else "no"))
    runtime = explained.max_runtime_seconds
    rows.append(("max runtime", format_duration(runtime) if runtime else "off"))
    warned = explained.warned_at
    rows.append(("warning sent", f"{ago(warned, now)} ({warned:%H:%M UTC})" if warned else "no"))
    check = explained.next_check_at
    rows.append(("next check", f"{check:%H:%M UTC}" if check else "when a daemon runs (none recorded yet)"))
    return rows


@app.command("run")
def run(ctx: typer.Context, yes: YesOption = False, json_output: JsonFlag = False) -> None:
    """Stop the idle instances now (asks first unless --yes).

    Each instance to stop is re-read from Novita and from the store first and stopped only if it is still
    running and still idle; one that cannot be read is left alone and reported. With autostop.dry_run set,
    nothing is stopped. Exits 1 when a stop or a write failed, 5 when another run (a daemon's scheduled
    check, say) is under way.
    """
    from novictl.core.autostop import run_autostop

    state = get_app(ctx)
    settings = state.settings.autostop
    if not yes and not settings.dry_run and not sys.stdin.isatty():
        confirm("", yes=False, what="stop idle instances")  # refuses: cron must say --yes

    def ask(candidates: list["AutoStopEntry"]) -> None:
        _show_candidates(candidates)
        burn = sum(e.price_per_hour or 0.0 for e in candidates)
        count = len(candidates)
        confirm(
            f"Stop {count} idle instance{'s' * (count != 1)} (${burn:.2f}/h)?",
            yes=False,
            what="stop idle instances",
        )

    async def go() -> "AutoStopReport":
        async with state.novita_client() as client, state.open_store() as store:
            # The core run: asks before it takes the daemon's lock, then plans again under it.
            return await run_autostop(
                client=client,
                store=store,
                settings_autostop=settings,
                dry_run=False,
                page_size=state.settings.novita.page_size,
                confirm=None if yes else ask,
            )

    if settings.dry_run:
        sys.stderr.write("autostop.dry_run is set: nothing is stopped\n")
    report = run_async(go())
    print_report(state, report, as_json=state.wants_json(json_output))
    if report.errors:
        _exit_failed()


@app.command("stats")
def stats(ctx: typer.Context, json_output: JsonFlag = False) -> None:
    """Auto-stop settings, the last run, stops so far and the estimated savings in USD.

    Savings are the hourly price of each auto-stopped instance times the time it stayed stopped: settled
    once it was started again (or deleted), and counted so far for the ones still stopped.
    """
    from novictl.core.autostop import autostop_stats

    state = get_app(ctx)

    async def go() -> dict[str, Any]:
        async with state.open_store() as store:
            return await autostop_stats(store, state.settings.autostop)

    data = run_async(go())
    if state.wants_json(json_output):
        print_json(data)
        return
    conf, counters, savings, last = data["settings"], data["counters"], data["savings"], data["lastRun"]
    max_runtime = conf["maxRuntimeMinutes"]
    rows: list[tuple[str, Any]] = [
        ("enabled", "yes" if conf["enabled"] else "no"),
        (
            "idle threshold",
            f"{_minutes(conf['idleMinutes'])} (startup grace {_minutes(conf['startupGraceMinutes'])})",
        ),
        (
            "check every",
            f"{_minutes(conf['checkIntervalMinutes'])}"
            f" (warning {_minutes(conf['warnBeforeMinutes'])} before)",
        ),
        ("max runtime", "off" if max_runtime is None else _minutes(max_runtime)),
        ("dry run", "yes" if conf["dryRun"] else "no"),
        ("last run", _last_run(last)),
        ("can act", _can_act(data["health"])),
        ("gpu source", _gpu_source(data["health"], conf)),
        ("runs", counters["runs"]),
        ("stops so far", f"{counters['stops']} ({counters['maxRuntimeStops']} for max runtime)"),
        ("skipped (unknown state)", counters["skips"]),
        ("warnings", counters["warnings"]),
        ("errors", counters["errors"]),
        ("estimated savings", _usd(savings["totalUsd"])),
        ("  settled", _usd(savings["settledUsd"])),
        ("  so far, still stopped", f"{_usd(savings['openUsd'])} ({savings['stillStopped']} instances)"),
    ]
    print_table(state, ["", "auto-stop"], rows)


@app.command("set")
def set_policy(
    ctx: typer.Context,
    ref: RefArgument,
    idle: Annotated[
        str | None,
        typer.Option("--idle", help="This instance's idle threshold, e.g. 2h.", metavar="DURATION"),
    ] = None,
    off: Annotated[bool, typer.Option("--off", help="Never auto-stop this instance.")] = False,
    default: Annotated[bool, typer.Option("--default", help="Back to the global threshold.")] = False,
    activity: Annotated[
        str | None,
        typer.Option(
            "--activity",
            help="Signs of use read for it: pings, gpu, pings,gpu, or default (autostop.activity).",
            metavar="SOURCES",
        ),
    ] = None,
    json_output: JsonFlag = False,
) -> None:
    """Give one instance its own idle threshold (--idle 2h), turn auto-stop off for it (--off), put it
    back on the global setting (--default), or choose which signs of use count for it (--activity pings:
    a job whose GPU sits busy for no reason). Idle time counts afresh from now."""
    from novictl.core.autostop import set_autostop_activity, set_autostop_policy

    threshold_changes = sum((idle is not None, off, default))
    if threshold_changes > 1 or (threshold_changes == 0 and activity is None):
        raise UsageError("give one of --idle DURATION, --off, --default (and/or --activity SOURCES)")
    # Whole minutes, rounded up: never stop earlier than asked.
    minutes = math.ceil(seconds(idle, "--idle") / 60) if idle is not None else None
    sources = None if activity in (None, "default") else [s.strip() for s in (activity or "").split(",")]
    state = get_app(ctx)

    async def go(store: "StateStore", record: "InstanceRecord") -> "InstanceRecord":
        if activity is not None or default:
            record = await set_autostop_activity(store, record.id, sources)
        if threshold_changes:
            record = await set_autostop_policy(store, record.id, idle_minutes=minutes, off=off)
        return record

    _control(state, ref, go, json_output)


@app.command("pin")
def pin(
    ctx: typer.Context,
    ref: RefArgument,
    for_: Annotated[
        str | None, typer.Option("--for", help="Keep it running this long, e.g. 4h.", metavar="DURATION")
    ] = None,
    until: Annotated[
        str | None,
        typer.Option(
            "--until", help="Keep it running until this ISO-8601 time (UTC if no zone).", metavar="TIME"
        ),
    ] = None,
    json_output: JsonFlag = False,
) -> None:
    """Keep an instance running, used or not, for a while (--for 4h) or until a time (--until); idle time
    counts from the end of the pin."""
    from datetime import timedelta

    from novictl.clock import utcnow
    from novictl.core.autostop import parse_timestamp, pin_instance

    if (for_ is None) == (until is None):
        raise UsageError("give exactly one of --for DURATION and --until TIME")
    end = (
        parse_timestamp(until)
        if until is not None
        else utcnow() + timedelta(seconds=seconds(for_ or "", "--for"))
    )
    state = get_app(ctx)

    async def go(store: "StateStore", record: "InstanceRecord") -> "InstanceRecord":
        return await pin_instance(store, record.id, until=end)

    _control(state, ref, go, json_output)


@app.command("unpin")
def unpin(ctx: typer.Context, ref: RefArgument, json_output: JsonFlag = False) -> None:
    """End an instance's pin now; it gets a full idle period from this moment."""
    from novictl.core.autostop import unpin_instance

    state = get_app(ctx)

    async def go(store: "StateStore", record: "InstanceRecord") -> "InstanceRecord":
        return await unpin_instance(store, record.id)

    _control(state, ref, go, json_output)


# -- shared with touch --------------------------------------------------------------------------------


async def resolve_record(state: App, store: "StateStore", ref: str) -> "InstanceRecord":
    """The instance ``ref`` names. Asks Novita only when the store does not know it and an API key is set;
    without a key (a job pinging from inside an instance, say) the store alone answers."""
    from novictl.core.instances import resolve
    from novictl.core.pings import find_record
    from novictl.errors import ConfigError

    try:
        client = state.novita_client()
    except ConfigError:
        return await find_record(store, ref)
    async with client:
        return await resolve(store, client, ref)


def print_report(state: App, report: "AutoStopReport", *, as_json: bool) -> None:
    """An auto-stop report as JSON, or as a table with a one-line summary under it."""
    if as_json:
        print_json(report.to_dict())
        return
    from novictl.core.durations import format_duration
    from novictl.core.instance_view import ago, money

    now = report.ran_at
    rows = [
        (
            entry.name,
            entry.status,
            ago(entry.last_used_at, now) + (f" ({entry.last_used_source})" if entry.last_used_source else ""),
            "" if entry.idle_seconds is None else format_duration(max(entry.idle_seconds, 0.0)),
            "" if entry.threshold_seconds is None else format_duration(entry.threshold_seconds),
            entry.verdict,
            entry.reason,
            money(entry.price_per_hour),
        )
        for entry in report.entries
    ]
    # The ids are in --json; a 16-digit column would squeeze the reasons in an 80-column cron mail.
    columns = ["instance", "status", "last used", "idle for", "threshold", "verdict", "reason", "$/h"]
    print_table(state, columns, rows, empty="no instances")
    sys.stdout.write(report.summary_line() + "\n")
    for error in report.errors:
        sys.stderr.write(f"error: {error}\n")


# -- helpers ------------------------------------------------------------------------------------------


def _control(state: App, ref: str, change: Any, json_output: bool) -> None:
    """Resolve ``ref``, apply ``change(store, record)``, print the instance's auto-stop settings."""
    from novictl.clock import utcnow
    from novictl.core.autostop import describe_autostop, policy_dict

    async def go() -> "InstanceRecord":
        async with state.open_store() as store:
            record = await resolve_record(state, store, ref)
            updated: InstanceRecord = await change(store, record)
            return updated

    record = run_async(go())
    view = describe_autostop(record, state.settings.autostop, utcnow())
    if state.wants_json(json_output):
        print_json({**policy_dict(record), "autostop": view.to_dict()})
        return
    sys.stdout.write(f"{record.name} ({record.id}): {_rule(state, record)}; auto-stop: {view.label}\n")


def _rule(state: App, record: "InstanceRecord") -> str:
    """The instance's idle rule in words, startup grace included (the check's threshold adds it)."""
    from novictl.core.durations import format_duration

    if record.autostop_disabled:
        return "auto-stop off"
    conf = state.settings.autostop
    if not conf.enabled:
        return "auto-stop is off for every instance (autostop.enabled = false)"
    idle = (
        f"{format_duration(record.autostop_idle_minutes * 60)} idle"
        if record.autostop_idle_minutes is not None
        else f"the default {format_duration(conf.idle_threshold)} idle"
    )
    if not conf.startup_grace:
        return f"stops after {idle}"
    grace = format_duration(conf.startup_grace)
    return f"stops after {idle} (plus {grace} of startup grace until its first ping after a start)"


def _exit_failed() -> NoReturn:
    # SystemExit, not typer.Exit: in standalone_mode=False click *returns* a typer.Exit's code, and
    # novictl.cli.app.main does not pass that return value on (it exits 0).
    sys.stdout.flush()
    raise SystemExit(1)


def _show_candidates(candidates: "list[AutoStopEntry]") -> None:
    sys.stderr.write("would stop:\n")
    for entry in candidates:
        price = f", ${entry.price_per_hour:.2f}/h" if entry.price_per_hour is not None else ""
        sys.stderr.write(f"  {entry.name} ({entry.instance_id}): {entry.reason}{price}\n")


def _last_run(last: dict[str, Any] | None) -> str:
    if not last:
        return "never"
    from datetime import UTC, datetime

    from novictl.clock import utcnow
    from novictl.core.instance_view import ago

    totals = last.get("totals", {})
    counts = ", ".join(f"{totals.get(key, 0):.0f} {label}" for key, label in _LAST_RUN_COUNTS)
    try:
        ran = datetime.fromisoformat(str(last["ranAt"])).astimezone(UTC)
        when = f"{ran:%Y-%m-%d %H:%M} UTC ({ago(ran, utcnow())})"
    except (KeyError, ValueError):
        when = "?"
    dry = " (dry run)" if last.get("dryRun") else ""
    return f"{when}{dry}: {counts}, {len(last.get('errors', []))} errors"


_LAST_RUN_COUNTS = (("stopped", "stopped"), ("keep", "kept"), ("skip", "skipped"))


def _usd(amount: float) -> str:
    """Cents, except for a saving that has only just begun (seconds after a stop it is a fraction of a
    cent, and "$0.00" would read as "nothing saved")."""
    if 0 < amount < 0.0001:
        return "< $0.0001"
    if 0 < amount < 0.01:
        return f"${amount:.4f}"
    return f"${amount:.2f}"


def _can_act(health: dict[str, Any] | None) -> str:
    if health is None:
        return "not checked by a daemon yet"
    return "yes" if health["ok"] else f"NO: {health['problem']}"


def _gpu_source(health: dict[str, Any] | None, conf: dict[str, Any]) -> str:
    if "gpu" not in conf["activity"]:
        return "off (autostop.activity)"
    return (health or {}).get("gpu") or "not read yet"


def _minutes(minutes: float) -> str:
    from novictl.core.durations import format_duration

    return format_duration(minutes * 60)
