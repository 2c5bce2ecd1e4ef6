"""The emulator's FastAPI application."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI, Request
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, Response

from novictl.emulator import control, routes
from novictl.emulator.config import EmulatorConfig
from novictl.emulator.gateway import BASE_PATH, NovitaGateway, quiet_dropped_connections
from novictl.emulator.responses import NovitaApiError, error_response
from novictl.emulator.state import EmulatorState

__all__ = ["create_app"]


def create_app(config: EmulatorConfig, *, clock: Callable[[], float] | None = None) -> FastAPI:
    """A fresh emulator: ``app.state.emulator`` is its :class:`EmulatorState`.

    ``clock`` returns unix seconds (default ``time.time``); lifecycle steps and timestamps follow it.
    """
    state = EmulatorState(config, clock=clock)
    app = FastAPI(
        title="novictl Novita emulator",
        description="A local imitation of the Novita.ai GPU instance API, with fault injection.",
        docs_url="/_emulator/docs",
        redoc_url=None,
        openapi_url="/_emulator/openapi.json",
    )
    app.state.emulator = state
    app.include_router(routes.router)
    app.include_router(control.router)
    app.add_middleware(NovitaGateway, state=state)
    app.add_exception_handler(NovitaApiError, _novita_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    quiet_dropped_connections()
    return app


async def _novita_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, NovitaApiError)
    return error.response()


async def _http_error(request: Request, error: Exception) -> Response:
    """Novita's envelope under the API prefix (unknown route, wrong method); FastAPI's elsewhere."""
    assert isinstance(error, StarletteHTTPException)
    if request.url.path.startswith(BASE_PATH):
        reason = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}.get(error.status_code, "ERROR")
        return error_response(error.status_code, reason, str(error.detail))
    return JSONResponse({"detail": error.detail}, status_code=error.status_code, headers=error.headers)
