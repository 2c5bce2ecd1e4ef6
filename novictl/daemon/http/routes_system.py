"""``GET /health``, ``GET /metrics`` and ``GET /api/version`` (a trivial JSON route, the ping benchmark's
baseline)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from novictl import __version__
from novictl.daemon.health import health_report
from novictl.daemon.http.deps import daemon_of
from novictl.daemon.metrics import CONTENT_TYPE

__all__ = ["router"]

router = APIRouter()


@router.get("/health", tags=["system"], summary="Store, Novita and scheduler health (200 or 503)")
async def health(request: Request) -> JSONResponse:
    status, body = await health_report(daemon_of(request))
    return JSONResponse(body, status_code=status)


@router.get("/metrics", tags=["system"], summary="Prometheus metrics", response_class=Response)
async def metrics(request: Request) -> Response:
    return Response(daemon_of(request).metrics.render(), media_type=CONTENT_TYPE)


@router.get("/api/version", tags=["system"], summary="The daemon's version and id")
async def version(request: Request) -> dict[str, Any]:
    return {"version": __version__, "daemonId": daemon_of(request).daemon_id}
