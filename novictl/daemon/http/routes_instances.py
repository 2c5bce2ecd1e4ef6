"""Instance routes: the last-used ping (the hot path), listing, and the lifecycle (by id or by name)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query, Request
from fastapi.responses import JSONResponse

from novictl.daemon.context import DaemonContext
from novictl.daemon.http.deps import daemon_of
from novictl.daemon.http.ping_lane import MAX_REF_LENGTH, answer_ping
from novictl.daemon.http.schemas import (
    CreateBody,
    InstanceNameBody,
    PinBody,
    PingAnswer,
    PingBody,
    record_view,
)
from novictl.daemon.settle import UNSETTLED
from novictl.store.records import InstanceRecord

__all__ = ["router"]

router = APIRouter(prefix="/api/instances", tags=["instances"])

Ref = Annotated[
    str, Path(min_length=1, max_length=MAX_REF_LENGTH, description="An instance id or its exact name")
]


@router.put(
    "/{ref}/last-used",
    summary="Record that an instance was used (auto-stop counts from it)",
    response_model=PingAnswer,
)
async def ping(request: Request, ref: Ref, body: Annotated[PingBody | None, Body()] = None) -> JSONResponse:
    """Answered from memory: the id comes from the in-memory index and the ping joins a buffer written to
    the store at least every second. A future time counts as now. 404 for an instance neither the store
    nor Novita knows; 503 with ``Retry-After`` while the store is failing. (A well-formed ping is answered
    by :class:`~novictl.daemon.http.ping_lane.PingFastLane` before it gets here; this route answers the
    rest, and documents the API.)"""
    return await answer_ping(daemon_of(request), ref, body)


@router.get("", summary="Every known instance, with idle time, auto-stop ETA and price")
async def list_instances(
    request: Request,
    status: Annotated[str | None, Query(max_length=64)] = None,
    include_terminated: Annotated[bool, Query(alias="all")] = False,
) -> dict[str, Any]:
    from novictl.core.instance_lookup import select_listed

    ctx = daemon_of(request)
    records = await ctx.store.get_all()
    ctx.index.replace(records)
    shown = select_listed(records, include_terminated=include_terminated, status=status)
    return {"instances": [_view(ctx, r) for r in shown], "total": len(shown)}


@router.get("/{ref}", summary="One instance")
async def show_instance(request: Request, ref: Ref) -> dict[str, Any]:
    ctx = daemon_of(request)
    return _view(ctx, await _resolve(ctx, ref), detail=True)


@router.get("/{ref}/gpu", summary="GPU utilisation over the last minutes (busiest GPU per sample)")
async def instance_gpu(
    request: Request, ref: Ref, minutes: Annotated[int, Query(ge=1, le=1440)] = 60
) -> dict[str, Any]:
    """Novita's GPU metrics for one instance (the page's sparkline); ``unavailable`` says why when there
    are none (``no gpu data``, or unreadable) — never an error for a Novita failure."""
    from datetime import timedelta

    from novictl.core.gpu_activity import read_recent_gpu

    ctx = daemon_of(request)
    record = await _resolve(ctx, ref)
    recent = await read_recent_gpu(
        ctx.client, record.id, now=ctx.clock.now(), window=timedelta(minutes=minutes)
    )
    return {"instanceId": record.id, **recent.to_dict()}


@router.get("/{ref}/auto-stop", summary="Auto-stop's verdict on one instance, and every figure behind it")
async def explain_instance_autostop(request: Request, ref: Ref) -> dict[str, Any]:
    """What ``novictl autostop why`` shows: each activity source's latest sign of use, the threshold and
    how it was made, pin, max runtime, the warning sent and the next check (reads Novita; acts on nothing)."""
    from novictl.core.autostop_why import explain_autostop

    ctx = daemon_of(request)
    settings = ctx.settings.autostop
    explained = await explain_autostop(
        await _resolve(ctx, ref),
        store=ctx.store,
        client=ctx.client,
        settings=settings,
        check_interval=settings.check_interval,
        clock=ctx.clock,
    )
    return explained.to_dict()


@router.post(
    "", status_code=201, summary="Create an instance (cheapest product for a GPU name, or a product)"
)
async def create_instance(request: Request, body: CreateBody) -> JSONResponse:
    from novictl.core.instances import CreateSpec, create

    ctx = daemon_of(request)
    spec = CreateSpec(
        name=body.name,
        product_id=body.product_id,
        gpu=body.gpu,
        regions=tuple(body.regions),
        billing=body.billing,
        image=body.image,
        template_id=body.template_id,
        gpus=body.gpus,
        disk_gb=body.disk_gb,
        ports=tuple(body.ports),
        envs=tuple(body.envs.items()),
        webhook_url=body.webhook_url,
        allow_duplicate_name=body.allow_duplicate_name,
        actor="api",
        face="api",
    )
    record = await create(ctx.client, ctx.store, spec, clock=ctx.clock)
    ctx.index.add(record)
    ctx.settler.follow(record.id)  # records running (and instance.ready) without waiting for a sync
    return JSONResponse(_view(ctx, record), status_code=201)


@router.post("/start", status_code=202, summary="Start an instance named in the body (seed route)")
async def start_named(request: Request, body: InstanceNameBody) -> dict[str, Any]:
    return await _lifecycle(daemon_of(request), body.instance_name, "start")


@router.post("/stop", status_code=202, summary="Stop an instance named in the body (seed route)")
async def stop_named(request: Request, body: InstanceNameBody) -> dict[str, Any]:
    return await _lifecycle(daemon_of(request), body.instance_name, "stop")


@router.post("/delete", status_code=202, summary="Delete an instance named in the body (seed route)")
async def delete_named(request: Request, body: InstanceNameBody) -> dict[str, Any]:
    return await _lifecycle(daemon_of(request), body.instance_name, "delete")


@router.post("/{ref}/start", status_code=202, summary="Start an instance")
async def start_instance(request: Request, ref: Ref) -> dict[str, Any]:
    return await _lifecycle(daemon_of(request), ref, "start")


@router.post("/{ref}/stop", status_code=202, summary="Stop an instance")
async def stop_instance(request: Request, ref: Ref) -> dict[str, Any]:
    return await _lifecycle(daemon_of(request), ref, "stop")


@router.post("/{ref}/pin", summary="Keep an instance running for a while or until a time (auto-stop waits)")
async def pin_instance(request: Request, ref: Ref, body: PinBody) -> dict[str, Any]:
    """``{"for": "1h"}`` or ``{"until": ISO-8601}``; idle time counts from the end of the pin."""
    from datetime import timedelta

    from novictl.core.autostop import pin_instance as pin
    from novictl.core.durations import parse_duration
    from novictl.errors import UsageError

    ctx = daemon_of(request)
    if (body.for_ is None) == (body.until is None):
        raise UsageError('give exactly one of "for" (a duration, e.g. 1h) and "until" (an ISO-8601 time)')
    if body.until is not None:
        until = body.until
    else:
        try:
            length = parse_duration(body.for_ or "")
        except ValueError as error:
            raise UsageError(f'"for": {error}') from None
        if length <= timedelta(0):
            raise UsageError('"for" must be a positive duration, e.g. 1h')
        until = ctx.clock.now() + length
    record = await _resolve(ctx, ref)
    return _view(ctx, await pin(ctx.store, record.id, until=until, clock=ctx.clock))


@router.post("/{ref}/unpin", summary="End an instance's pin now (it gets a full idle period from now)")
async def unpin_instance(request: Request, ref: Ref) -> dict[str, Any]:
    from novictl.core.autostop import unpin_instance as unpin

    ctx = daemon_of(request)
    record = await _resolve(ctx, ref)
    return _view(ctx, await unpin(ctx.store, record.id, clock=ctx.clock))


@router.delete("/{ref}", status_code=202, summary="Delete an instance (its data goes with it)")
async def delete_instance(request: Request, ref: Ref) -> dict[str, Any]:
    return await _lifecycle(daemon_of(request), ref, "delete")


async def _resolve(ctx: DaemonContext, ref: str) -> InstanceRecord:
    from novictl.core.instances import resolve

    record = await resolve(ctx.store, ctx.client, ref, clock=ctx.clock)
    ctx.index.add(record)
    return record


async def _lifecycle(ctx: DaemonContext, ref: str, action: str) -> dict[str, Any]:
    from novictl.core import instances

    record = await _resolve(ctx, ref)
    if action == "start":
        outcome = await instances.start(ctx.client, ctx.store, record, clock=ctx.clock)
    elif action == "stop":
        outcome = await instances.stop(ctx.client, ctx.store, record, stopped_by="user", clock=ctx.clock)
    else:
        outcome = await instances.delete(ctx.client, ctx.store, record, clock=ctx.clock)
    # A deleted instance leaves the index now, so a namesake created next is not "ambiguous".
    ctx.index.add(record.model_copy(update={"status": outcome.status}))
    if outcome.success and outcome.status in UNSETTLED:
        # Novita only accepted the action: follow the instance until it settles (and record that).
        ctx.settler.follow(record.id)
    return outcome.to_dict()


def _view(ctx: DaemonContext, record: InstanceRecord, *, detail: bool = False) -> dict[str, Any]:
    return record_view(record, ctx.settings.autostop, ctx.clock.now(), detail=detail)
