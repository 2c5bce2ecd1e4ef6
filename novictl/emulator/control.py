"""The runtime control API under ``/_emulator/`` (no auth; see the package docstring for the routes)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Request, Response
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, model_validator

from novictl.emulator.billing import BillingBook, parse_units
from novictl.emulator.config import FaultConfig
from novictl.emulator.state import EmulatorState
from novictl.emulator.utilization_book import MetricsBook, MetricsMode

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


Percent = Annotated[float, Field(ge=0, le=100)]


class UtilizationRequest(BaseModel):
    """Each field optional (left out: unchanged); ``gpu`` sets every GPU, ``perGpu[i]`` then GPU ``i``."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    gpu: Percent | None = None
    gpu_mem: Percent | None = Field(default=None, alias="gpuMem")
    cpu: Percent | None = None
    mem: Percent | None = None
    root_disk: Percent | None = Field(default=None, alias="rootDisk")
    per_gpu: list[Percent] | None = Field(default=None, alias="perGpu")
    per_gpu_mem: list[Percent] | None = Field(default=None, alias="perGpuMem")


class MetricsModeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mode: MetricsMode


class BalanceRequest(BaseModel):
    """Each field optional: an int or a numeric string, in 1/10000 USD."""

    model_config = ConfigDict(extra="forbid")

    availableBalance: StrictInt | StrictStr | None = None
    cashBalance: StrictInt | StrictStr | None = None
    creditLimit: StrictInt | StrictStr | None = None
    outstandingInvoices: StrictInt | StrictStr | None = None

    @model_validator(mode="after")
    def _whole_numbers(self) -> BalanceRequest:
        for name, value in self.model_dump(exclude_none=True).items():
            parse_units(value, name)
        return self


def _state(request: Request) -> EmulatorState:
    state: EmulatorState = request.app.state.emulator
    return state


def _metrics(request: Request) -> MetricsBook:
    book: MetricsBook = request.app.state.metrics
    return book


def _billing(request: Request) -> BillingBook:
    book: BillingBook = request.app.state.billing
    return book


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


class CapacityRequest(BaseModel):
    taken: bool = True


class SpotNoticeRequest(BaseModel):
    in_seconds: float = Field(default=3600, ge=0, alias="inSeconds")


@router.post("/instances/{instance_id}/capacity")
async def set_capacity(instance_id: str, body: CapacityRequest, request: Request) -> dict[str, object]:
    """``{"taken": true}``: starting this stopped instance answers 400 INSUFFICIENT_RESOURCE (its GPU went
    to someone else, as happens on live Novita) until ``{"taken": false}``."""
    try:
        _state(request).take_capacity(instance_id, body.taken)
    except KeyError:
        raise HTTPException(404, f"no instance {instance_id}") from None
    return {"taken": body.taken}


@router.post("/instances/{instance_id}/spot-notice")
async def spot_notice(instance_id: str, body: SpotNoticeRequest, request: Request) -> dict[str, object]:
    """Give a spot instance Novita's reclaim notice (``spotStatus: notified``, reclaimed in
    ``inSeconds``, default an hour); answers the instance as GET shows it."""
    state = _state(request)
    try:
        state.notify_spot_reclaim(instance_id, in_seconds=body.in_seconds)
    except KeyError:
        raise HTTPException(404, f"no instance {instance_id}") from None
    return state.instance(instance_id) or {}


@router.get("/instances/{instance_id}/utilization")
async def get_utilization(instance_id: str, request: Request) -> dict[str, object]:
    """The instance's utilisation now (percentages; per GPU too)."""
    try:
        return _metrics(request).utilization(instance_id).json()
    except KeyError:
        raise HTTPException(404, f"no instance {instance_id}") from None


@router.put("/instances/{instance_id}/utilization")
async def set_utilization(instance_id: str, body: UtilizationRequest, request: Request) -> dict[str, object]:
    """Change the instance's utilisation from now on (metrics series follow it); answers it as now set."""
    try:
        value = _metrics(request).set_utilization(
            instance_id,
            gpu=body.gpu,
            gpu_mem=body.gpu_mem,
            cpu=body.cpu,
            mem=body.mem,
            root_disk=body.root_disk,
            per_gpu=body.per_gpu,
            per_gpu_mem=body.per_gpu_mem,
        )
    except KeyError:
        raise HTTPException(404, f"no instance {instance_id}") from None
    except ValueError as error:
        raise HTTPException(400, str(error)) from None
    return value.json()


@router.get("/metrics")
async def get_metrics_settings(request: Request) -> dict[str, object]:
    """The metrics mode and the sampling settings (``interval``, ``lag`` in seconds)."""
    return _metrics(request).settings()


@router.put("/metrics")
async def put_metrics_settings(body: MetricsModeRequest, request: Request) -> dict[str, object]:
    """Switch the metrics mode: ``normal``, ``not_found`` (404 for every instance) or ``empty``."""
    book = _metrics(request)
    book.set_mode(body.mode)
    return book.settings()


@router.get("/balance")
async def get_balance(request: Request) -> dict[str, str]:
    """The balance ``GET /openapi/v1/billing/balance/detail`` answers."""
    return _billing(request).balance()


@router.put("/balance")
async def put_balance(body: BalanceRequest, request: Request) -> dict[str, str]:
    """Change some balance fields (the rest stay); answers the new balance."""
    return _billing(request).set_balance(**body.model_dump(exclude_none=True))


@router.get("/config")
async def get_config(request: Request) -> dict[str, object]:
    """The settings the emulator runs with (as at start or the last reset), without the API key."""
    return _state(request).config.model_dump(exclude={"api_key"})
