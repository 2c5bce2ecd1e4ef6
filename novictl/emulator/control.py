"""The runtime control API under ``/_emulator/`` (no auth; see the package docstring for the routes)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, HTTPException, Request, Response
from pydantic import BaseModel, Field

from novictl.emulator.config import FaultConfig
from novictl.emulator.state import EmulatorState

__all__ = ["router"]

router = APIRouter(prefix="/_emulator", tags=["emulator control"])


class SeedRequest(BaseModel):
    count: int = Field(ge=0, le=100_000)


class StatusRequest(BaseModel):
    status: str


class ScriptRequest(BaseModel):
    kind: Literal["status", "html", "drop", "slow"]
    status: int = Field(default=503, ge=400, le=599)
    count: int = Field(default=1, ge=1)
    path: str | None = None
    retry_after: float | None = Field(default=None, ge=0)
    seconds: float | None = Field(default=None, ge=0)


def _state(request: Request) -> EmulatorState:
    state: EmulatorState = request.app.state.emulator
    return state


def _faults_view(state: EmulatorState) -> dict[str, object]:
    return {**state.faults.model_dump(), "script": state.scripted_faults()}


@router.get("/health")
async def health(request: Request) -> dict[str, object]:
    """Liveness, and how many instances exist."""
    return {"status": "ok", "instances": len(_state(request))}


@router.get("/faults")
async def get_faults(request: Request) -> dict[str, object]:
    """The random fault settings and the scripted faults still pending."""
    return _faults_view(_state(request))


@router.put("/faults")
async def put_faults(faults: FaultConfig, request: Request) -> dict[str, object]:
    """Replace the random fault settings (fields left out go back to their defaults; the script stays)."""
    state = _state(request)
    state.set_faults(faults)
    return _faults_view(state)


@router.post("/faults/script")
async def add_scripted_fault(script: ScriptRequest, request: Request) -> dict[str, object]:
    """The next ``count`` calls to ``path`` (any route when omitted) answer the given fault, in order."""
    state = _state(request)
    state.script_fault(
        script.kind,
        status=script.status,
        count=script.count,
        path=script.path,
        retry_after=script.retry_after,
        seconds=script.seconds,
    )
    return _faults_view(state)


@router.delete("/faults/script", status_code=204)
async def clear_script(request: Request) -> Response:
    """Forget every pending scripted fault."""
    _state(request).clear_script()
    return Response(status_code=204)


@router.get("/calls")
async def get_calls(request: Request) -> dict[str, object]:
    """Requests received per endpoint and per instance/operation, faulted ones included."""
    state = _state(request)
    return {
        "calls": dict(state.calls),
        "instanceCalls": {iid: dict(ops) for iid, ops in state.instance_calls.items()},
    }


@router.post("/calls/reset")
async def reset_calls(request: Request) -> dict[str, object]:
    """Zero the call counters."""
    _state(request).reset_calls()
    return {}


@router.post("/reset")
async def reset(request: Request) -> dict[str, object]:
    """Back to the seed world: seeded instances only, counters zeroed, faults as configured at start."""
    _state(request).reset()
    return {}


@router.post("/instances")
async def seed_instances(body: SeedRequest, request: Request) -> dict[str, object]:
    """Add ``count`` generated instances; answers their ids."""
    return {"ids": _state(request).seed_instances(body.count)}


@router.delete("/instances/{instance_id}", status_code=204)
async def vanish(instance_id: str, request: Request) -> Response:
    """Make an instance disappear at once (GET answers 404, the list drops it), behind novictl's back."""
    if not _state(request).vanish(instance_id):
        raise HTTPException(404, f"no instance {instance_id}")
    return Response(status_code=204)


@router.post("/instances/{instance_id}/status")
async def set_status(instance_id: str, body: StatusRequest, request: Request) -> dict[str, object]:
    """Force an instance into a status right now; answers the instance as GET shows it."""
    state = _state(request)
    try:
        state.set_status(instance_id, body.status)
    except KeyError:
        raise HTTPException(404, f"no instance {instance_id}") from None
    except ValueError as error:
        raise HTTPException(400, str(error)) from None
    return state.instance(instance_id) or {}
