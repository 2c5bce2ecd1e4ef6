"""What the HTTP routes and the scheduled jobs both run: a sync, the scheduled auto-stop check."""

from __future__ import annotations

import contextlib
import json
import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from novictl.core.autostop_policy import AutoStopReport
    from novictl.daemon.context import DaemonContext

__all__ = [
    "count_autostop_report",
    "json_or_none",
    "run_autostop_check",
    "run_scheduled_autostop",
    "run_sync",
]

log = logging.getLogger(__name__)


async def run_sync(
    ctx: DaemonContext, *, dry_run: bool = False, handle_obsolete: bool = True
) -> dict[str, Any]:
    """One sync (``LockHeld`` → 409 when another runs); refreshes the in-memory index afterwards."""
    from novictl.core.sync import SyncOptions, sync_instances

    options = SyncOptions.from_settings(
        ctx.settings.sync,
        page_size=ctx.settings.novita.page_size,
        dry_run=dry_run,
        handle_obsolete=handle_obsolete,
    )
    result = await sync_instances(client=ctx.client, store=ctx.store, options=options, clock=ctx.clock)
    ctx.metrics.sync_runs.labels("dry-run" if dry_run else "ok").inc()
    if not dry_run:
        ctx.metrics.sync_duration.observe(result.duration_seconds)
        await ctx.index.refresh()
    return result.to_dict()


async def run_autostop_check(ctx: DaemonContext, *, dry_run: bool, warn_only: bool = False) -> AutoStopReport:
    """One auto-stop run, logged in one line. Buffered pings are written before the plan and again right
    before the candidates are re-read: every ping acknowledged before the re-check counts. A real run
    holds the store's auto-stop lock (``LockHeld``, HTTP 409, while another run has it)."""
    from novictl.core.autostop_runner import run_autostop

    await ctx.pings.flush()
    report = await run_autostop(
        client=ctx.client,
        store=ctx.store,
        settings_autostop=ctx.settings.autostop,
        clock=ctx.clock,
        dry_run=dry_run,
        page_size=ctx.settings.novita.page_size,
        before_recheck=ctx.pings.flush,
        lock_owner=ctx.daemon_id,
        warn_only=warn_only,
    )
    count_autostop_report(ctx, report)
    log.info("%s", report.summary_line())
    return report


async def run_scheduled_autostop(ctx: DaemonContext, *, first: bool = False) -> dict[str, Any]:
    """The scheduled check: real unless the daemon or the settings say dry run. Returns the summary.

    A scheduled dry run (``novictl daemon --dry-run``) is recorded as the last run, marked dry. The
    ``first`` check of a daemon on a store that never ran one sends the due warnings and stops nothing:
    a daemon pointed at an account full of old instances says what it will stop, and when, first."""
    from novictl.core.autostop_health import AutoStopHealth
    from novictl.core.autostop_runner import COUNTERS, record_dry_run

    # "Never ran one": no real run counted (a dry-run daemon's reports do not count).
    never_ran = not (await ctx.store.get_counters()).get(COUNTERS["runs"])
    warn_only = first and not ctx.autostop_dry_run and never_ran
    report = await run_autostop_check(ctx, dry_run=ctx.autostop_dry_run, warn_only=warn_only)
    if warn_only:
        log.warning("%s", report.first_check_line())
    elif report.dry_run:
        await record_dry_run(ctx.store, report)
    # One instance's failed stop is in the report; auto-stop could still act. A store it could not write
    # or read to re-check is auto-stop unable to act.
    store_errors = [e for e in report.errors if e.startswith(("store unreadable", "could not record"))]
    problem = f"last run failed: {store_errors[0]}" if store_errors else None
    # A run that needed no metrics read keeps what the last read found.
    last = ctx.autostop_health.gpu_source if ctx.autostop_health else None
    ctx.autostop_health = AutoStopHealth(ctx.clock.now(), problem, report.gpu_source or last)
    await ctx.autostop_health.save(ctx.store)
    return {"summary": report.summary_line(), **report.summary()}


def count_autostop_report(ctx: DaemonContext, report: AutoStopReport) -> None:
    """Add a run's figures to the metrics."""
    totals = report.totals
    ctx.metrics.autostop_runs.labels("dry-run" if report.dry_run else "real").inc()
    ctx.metrics.autostop_stops.inc(totals.get("stopped", 0))
    ctx.metrics.autostop_skips.inc(report.held_back)
    ctx.metrics.autostop_errors.inc(len(report.errors))
    for entry in report.entries:
        if entry.verdict == "keep" and entry.kept_by:
            ctx.metrics.autostop_kept.labels(entry.kept_by).inc()
        if entry.verdict == "stopped":
            with contextlib.suppress(KeyError):  # a stopped GPU has no utilisation to report
                ctx.metrics.gpu_utilization.remove(entry.instance_id)
        elif entry.gpu_percent is not None:
            ctx.metrics.gpu_utilization.labels(entry.instance_id).set(round(entry.gpu_percent / 100, 4))


def json_or_none(raw: str | None) -> Any:
    """Stored JSON decoded, or ``None`` when absent or not JSON."""
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return None
