"""The FastAPI app factory: routes, the error handlers, and the middlewares in their order."""

from __future__ import annotations

import importlib
import logging

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware

from novictl import __version__
from novictl.daemon.context import DaemonContext
from novictl.daemon.http import routes_account, routes_instances, routes_ops, routes_system
from novictl.daemon.http.errors import install_error_handlers
from novictl.daemon.http.middleware import GuardMiddleware, RequestContextMiddleware
from novictl.daemon.http.ping_lane import PingFastLane

__all__ = ["create_app"]

log = logging.getLogger(__name__)

_WEB_MODULE = "novictl.daemon.web"
"""The web page (``GET /``) lives there; it exposes ``install(app)``. Absent until it is written."""

_DESCRIPTION = """\
novictl's daemon: last-used pings, instance lifecycle, auto-stop, sync, audit log, health and metrics.

With `daemon.api_token` set, every `/api/*` route needs `Authorization: Bearer <token>`. Errors are
`{"error": {"code", "message", "requestId"}}`.
"""


def create_app(ctx: DaemonContext) -> FastAPI:
    """The HTTP app of one daemon; ``app.state.daemon`` is ``ctx``."""
    app = FastAPI(
        title="novictl daemon",
        version=__version__,
        description=_DESCRIPTION,
        openapi_url="/openapi.json",
        docs_url=None,  # the interactive docs load scripts from a CDN, which the CSP (rightly) forbids
        redoc_url=None,
    )
    app.state.daemon = ctx
    install_error_handlers(app)
    app.include_router(routes_system.router)
    app.include_router(routes_ops.router)
    app.include_router(routes_instances.router)
    app.include_router(routes_account.router)
    _install_web_page(app)

    settings = ctx.settings.daemon
    token = settings.api_token.get_secret_value() if settings.api_token is not None else None
    # Starlette runs the last middleware added first: the request id and security headers wrap everything;
    # the ping's fast lane runs right after the guard.
    app.add_middleware(PingFastLane, ctx=ctx)
    app.add_middleware(
        GuardMiddleware,
        api_token=token or None,
        metrics_require_token=settings.metrics_require_token,
        rate_limit_per_minute=settings.rate_limit_per_minute,
        ping_rate_limit_per_minute=settings.ping_rate_limit_per_minute,
        max_body_bytes=settings.max_body_bytes,
        on_error=lambda status: ctx.metrics.http_errors.labels(str(status)).inc(),
    )
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST", "PUT", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "X-Request-ID"],
            expose_headers=["X-Request-ID", "Retry-After"],
            max_age=600,
        )
    app.add_middleware(RequestContextMiddleware)
    return app


def _install_web_page(app: FastAPI) -> None:
    try:
        module = importlib.import_module(_WEB_MODULE)
    except ModuleNotFoundError as error:
        if error.name != _WEB_MODULE:
            raise
        return
    module.install(app)
