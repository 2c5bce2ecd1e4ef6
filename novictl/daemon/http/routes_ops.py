"""Operations: auto-stop stats and trigger, sync, stop-all, and the audit log."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request

from novictl.daemon.http.deps import daemon_of
from novictl.daemon.http.schemas import StopAllBody, SyncBody, TriggerBody, event_view
from novictl.daemon.operations import run_autostop_check, run_sync
from novictl.daemon.settle import UNSETTLED

__all__ = ["router"]

router = APIRouter(prefix="/api")


@router.get("/instances/auto-stop/stats", tags=["auto-stop"], summary="Settings, last run, counters, savings")
async def autostop_stats(request: Request) -> dict[str, Any]:
    """The same figures as ``novictl autostop stats --json``; ``lastRun`` is the last real run (or, for a
    daemon in dry-run mode, its last scheduled check, marked ``dryRun``), never an on-demand dry run."""
    from novictl.core.autostop_controls import autostop_stats as stats

    ctx = daemon_of(request)
    return await stats(ctx.store, ctx.settings.autostop, clock=ctx.clock, dry_run=ctx.autostop_dry_run)


@router.post("/instances/auto-stop/trigger", tags=["auto-stop"], summary="Run an auto-stop check now")
async def autostop_trigger(
    request: Request, body: Annotated[TriggerBody | None, Body()] = None
) -> dict[str, Any]:
    """Runs synchronously and returns the report. A dry run (the default) decides and stops nothing, and
    is not recorded as a run. A real run answers 409 while another one (a scheduled check, ``novictl
    autostop run``, another daemon's) is under way."""
    dry_run = True if body is None else body.dry_run
    ctx = daemon_of(request)
    check = run_autostop_check(ctx, dry_run=dry_run)
    report = await (check if dry_run else ctx.outlive_request(check))
    return report.to_dict()


@router.post("/instances/sync", tags=["sync"], summary="Sync the store with Novita (409 while one runs)")
async def sync(request: Request, body: Annotated[SyncBody | None, Body()] = None) -> dict[str, Any]:
    ctx = daemon_of(request)
    body = body or SyncBody()
    return await run_sync(ctx, dry_run=body.dry_run, handle_obsolete=body.handle_obsolete_instances)


@router.post("/instances/stop-all", tags=["instances"], summary="Stop every running instance")
async def stop_all(request: Request, body: Annotated[StopAllBody | None, Body()] = None) -> dict[str, Any]:
    """``count`` is how many were stopped (or would be, in a dry run), ``failed`` how many could not be,
    ``usdPerHour`` what they burn together. With ``instanceIds`` only those are stopped (the ones of them
    still running): a confirmation built from a dry run stops exactly what it named, nothing started since.
    Every stopped instance is followed until Novita reports it exited."""
    from novictl.core.stop_all import find_stop_all_targets, stop_all

    ctx = daemon_of(request)
    body = body or StopAllBody()
    targets = await find_stop_all_targets(
        ctx.client, ctx.store, instance_ids=body.instance_ids, clock=ctx.clock
    )
    result = await ctx.outlive_request(
        stop_all(ctx.client, ctx.store, targets, dry_run=body.dry_run, clock=ctx.clock)
    )
    for outcome in result.outcomes:
        if outcome.success and outcome.status in UNSETTLED:
            ctx.settler.follow(outcome.instance_id)
    return result.to_dict()


@router.get("/events", tags=["events"], summary="The audit log, newest first")
async def events(
    request: Request,
    instance_id: Annotated[str | None, Query(alias="instanceId", max_length=256)] = None,
    event_type: Annotated[str | None, Query(alias="type", max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    ctx = daemon_of(request)
    found = await ctx.store.list_events(
        instance_id=instance_id, types=[event_type] if event_type else None, limit=limit
    )
    return {"events": [event_view(e) for e in found], "total": len(found)}
