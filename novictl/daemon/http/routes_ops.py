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
    from novictl.core.instances import running_instances, stop_many

    ctx = daemon_of(request)
    body = body or StopAllBody()
    records = await running_instances(ctx.client, ctx.store, clock=ctx.clock)
    if body.instance_ids is not None:
        wanted = set(body.instance_ids)
        records = [r for r in records if r.id in wanted]
    burn = round(sum(r.price_per_hour or 0.0 for r in records), 4)
    if body.dry_run:
        results = [
            {"instanceId": r.id, "name": r.name, "pricePerHour": r.price_per_hour, "success": True}
            for r in records
        ]
        return {"count": len(results), "failed": 0, "dryRun": True, "usdPerHour": burn, "results": results}
    outcomes = await ctx.outlive_request(
        stop_many(ctx.client, ctx.store, records, stopped_by="stop-all", clock=ctx.clock)
    )
    results = []
    for outcome in outcomes:
        item: dict[str, Any] = {
            "instanceId": outcome.instance_id,
            "name": outcome.name,
            "success": outcome.success,
        }
        if outcome.error is not None:
            item["error"] = outcome.error.message
        elif outcome.status in UNSETTLED:
            ctx.settler.follow(outcome.instance_id)
        results.append(item)
    failed = sum(1 for outcome in outcomes if not outcome.success)
    return {
        "count": len(outcomes) - failed, "failed": failed, "dryRun": False, "usdPerHour": burn,
        "results": results,
    }  # fmt: skip


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
