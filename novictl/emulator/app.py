"""The emulator's FastAPI application."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI, Request
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, Response

from novictl.emulator import control, routes, routes_openapi
from novictl.emulator.billing import BillingBook
from novictl.emulator.config import EmulatorConfig
from novictl.emulator.gateway import NovitaGateway, api_prefix, quiet_dropped_connections
from novictl.emulator.responses import NovitaApiError, error_response
from novictl.emulator.state import EmulatorState
from novictl.emulator.utilization_book import MetricsBook

__all__ = ["create_app"]


def create_app(config: EmulatorConfig, *, clock: Callable[[], float] | None = None) -> FastAPI:
    """A fresh emulator: ``app.state.emulator`` is its :class:`EmulatorState`, ``app.state.metrics`` its
    :class:`~novictl.emulator.utilization_book.MetricsBook` (utilisation, metrics mode) and
    ``app.state.billing`` its :class:`~novictl.emulator.billing.BillingBook` (balance); both books clear
    on every state reset.

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
    metrics, billing = MetricsBook(state), BillingBook(state)
    state.reset_hooks.extend((metrics.reset, billing.reset))
    app.state.emulator = state
    app.state.metrics = metrics
    app.state.billing = billing
    app.include_router(routes.router)
    app.include_router(routes_openapi.router)
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
    """Novita's envelope under the API prefixes (unknown route, wrong method); FastAPI's elsewhere."""
    assert isinstance(error, StarletteHTTPException)
    if api_prefix(request.url.path) is not None:
        reason = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}.get(error.status_code, "ERROR")
        return error_response(error.status_code, reason, str(error.detail))
    return JSONResponse({"detail": error.detail}, status_code=error.status_code, headers=error.headers)
