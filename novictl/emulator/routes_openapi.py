"""Novita's second namespace (under ``/openapi/v1``): GPU metrics and the account balance.

As in :mod:`novictl.emulator.routes`, queries are read by hand so that every error is Novita's envelope.
Only ``instanceId`` is required; a ``startTime``, ``endTime`` or ``interval`` that is missing, not a
number or out of range falls back to its default (see :meth:`MetricsBook.series
<novictl.emulator.utilization_book.MetricsBook.series>`), as Novita documents.
"""

from __future__ import annotations

import math

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse

from novictl.emulator.billing import BillingBook
from novictl.emulator.gateway import OPENAPI_BASE_PATH
from novictl.emulator.responses import NovitaApiError
from novictl.emulator.utilization_book import MetricsBook

__all__ = ["router"]

router = APIRouter(prefix=OPENAPI_BASE_PATH)


def _metrics(request: Request) -> MetricsBook:
    book: MetricsBook = request.app.state.metrics
    return book


def _billing(request: Request) -> BillingBook:
    book: BillingBook = request.app.state.billing
    return book


def _number_query(request: Request, name: str) -> float | None:
    """The query parameter as a finite number, or ``None`` when missing or not one (the default applies)."""
    raw = request.query_params.get(name)
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


@router.get("/metrics/gpu/instance")
async def gpu_instance_metrics(request: Request) -> JSONResponse:
    instance_id = request.query_params.get("instanceId")
    if not instance_id:
        raise NovitaApiError(400, "VALIDATOR_PARAM", "instanceId is required")
    answer = _metrics(request).series(
        instance_id,
        start_time=_number_query(request, "startTime"),
        end_time=_number_query(request, "endTime"),
        interval=_number_query(request, "interval"),
    )
    return JSONResponse(answer)


@router.get("/billing/balance/detail")
async def balance_detail(request: Request) -> JSONResponse:
    return JSONResponse(_billing(request).balance())
