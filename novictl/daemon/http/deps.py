"""Small helpers the routes share."""

from __future__ import annotations

from fastapi import Request

from novictl.daemon.context import DaemonContext

__all__ = ["daemon_of"]


def daemon_of(request: Request) -> DaemonContext:
    """The :class:`DaemonContext` the app was built with."""
    ctx = request.app.state.daemon
    assert isinstance(ctx, DaemonContext)
    return ctx
