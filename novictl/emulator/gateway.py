"""The layer in front of the Novita routes: counting, fault injection, then the Bearer key check.

It guards both of Novita's prefixes: :data:`BASE_PATH` (the GPU instance API) and :data:`OPENAPI_BASE_PATH`
(metrics and billing). A route is counted and matched against fault paths without its prefix
(``"GET /gpu/instances"``, ``"GET /metrics/gpu/instance"``).

A pure ASGI middleware, because two of its faults cannot be expressed as responses: a dropped connection
(headers go out, then the connection dies — the client sees a transport error) and a hang.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from starlette.responses import HTMLResponse

from novictl.emulator.responses import error_response

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

    from novictl.emulator.state import EmulatorState

__all__ = [
    "API_PREFIXES",
    "BASE_PATH",
    "OPENAPI_BASE_PATH",
    "DroppedConnection",
    "NovitaGateway",
    "api_prefix",
    "quiet_dropped_connections",
]

BASE_PATH = "/gpu-instance/openapi/v1"
"""The GPU instance API: clusters, products, instances, templates, repository auths."""
OPENAPI_BASE_PATH = "/openapi/v1"
"""Novita's other namespace on the same host: GPU metrics and billing."""
API_PREFIXES = (BASE_PATH, OPENAPI_BASE_PATH)

# Prefix → route → the operation name instance_calls counts under.
_OPERATIONS: dict[str, dict[tuple[str, str], str]] = {
    BASE_PATH: {
        ("GET", "/gpu/instance"): "get",
        ("POST", "/gpu/instance/start"): "start",
        ("POST", "/gpu/instance/stop"): "stop",
        ("POST", "/gpu/instance/restart"): "restart",
        ("POST", "/gpu/instance/delete"): "delete",
    },
    OPENAPI_BASE_PATH: {
        ("GET", "/metrics/gpu/instance"): "metrics",
    },
}


def api_prefix(path: str) -> str | None:
    """The Novita prefix ``path`` lies under (:data:`BASE_PATH` or :data:`OPENAPI_BASE_PATH`), or ``None``."""
    for prefix in API_PREFIXES:
        if path == prefix or path.startswith(prefix + "/"):
            return prefix
    return None


class DroppedConnection(Exception):
    """Raised after the response headers went out, so uvicorn closes the socket mid-response."""


class _DropFilter(logging.Filter):
    """Keeps uvicorn from logging tracebacks for what the emulator does on purpose: connections it drops,
    and "slow" requests still hanging when the server stops (they are cancelled)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.exc_info:
            return True
        _, error, trace = record.exc_info
        if isinstance(error, DroppedConnection):
            return False
        if isinstance(error, asyncio.CancelledError):
            while trace is not None:
                if trace.tb_frame.f_code is NovitaGateway.__call__.__code__:
                    return False
                trace = trace.tb_next
        return True


_DROP_FILTER = _DropFilter()


def quiet_dropped_connections() -> None:
    """Install the filter on uvicorn's error logger (idempotent; it only hides :class:`DroppedConnection`)."""
    logger = logging.getLogger("uvicorn.error")
    if _DROP_FILTER not in logger.filters:
        logger.addFilter(_DROP_FILTER)


class NovitaGateway:
    """Counts every request under :data:`BASE_PATH` and :data:`OPENAPI_BASE_PATH`, applies faults, checks
    the key, then routes it."""

    def __init__(self, app: ASGIApp, state: EmulatorState):
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        prefix = api_prefix(path) if scope["type"] == "http" else None
        if prefix is None:
            await self.app(scope, receive, send)
            return
        method: str = scope["method"]
        route = path[len(prefix) :] or "/"
        body = await _read_body(receive)
        operation = _OPERATIONS[prefix].get((method, route))
        instance_id = _instance_id(scope, body) if operation else None
        self.state.record_call(f"{method} {route}", instance_id, operation)

        decision = self.state.decide_fault(method, route, path)
        if decision.latency:
            await asyncio.sleep(decision.latency)
        if decision.kind == "slow":
            await asyncio.sleep(decision.seconds)
        elif decision.kind == "drop":
            await send(
                {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"64")]}
            )
            raise DroppedConnection(f"emulator dropped {method} {route}")
        elif decision.kind == "status":
            headers = {}
            if decision.retry_after is not None:
                headers["Retry-After"] = _seconds_text(decision.retry_after)
            reason = (
                "RATE_LIMIT_EXCEEDED" if decision.status == 429 else _REASONS.get(decision.status, "ERROR")
            )
            response = error_response(decision.status, reason, "injected by the emulator", headers=headers)
            await response(scope, _replay(body, receive), send)
            return
        elif decision.kind == "html":
            page = f"<html><body><h1>{decision.status}</h1><p>nginx</p></body></html>"
            await HTMLResponse(page, status_code=decision.status)(scope, _replay(body, receive), send)
            return

        if not self._authorized(scope):
            await error_response(401, "UNAUTHORIZED", "invalid or missing API key")(
                scope, _replay(body, receive), send
            )
            return
        await self.app(scope, _replay(body, receive), send)

    def _authorized(self, scope: Scope) -> bool:
        expected = f"Bearer {self.state.api_key}".encode()
        for key, value in scope.get("headers", []):
            if key == b"authorization":
                return hmac.compare_digest(value, expected)
        return False


_REASONS = {
    500: "INTERNAL_SERVER_ERROR",
    502: "BAD_GATEWAY",
    503: "SERVICE_UNAVAILABLE",
    504: "GATEWAY_TIMEOUT",
}


def _seconds_text(seconds: float) -> str:
    return str(int(seconds)) if float(seconds).is_integer() else f"{seconds:g}"


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands the already-read body to the app, then defers to the real one."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def _instance_id(scope: Scope, body: bytes) -> str | None:
    if scope["method"] == "GET":
        values = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("instanceId")
        return values[0] if values else None
    try:
        data: Any = json.loads(body) if body else None
    except ValueError:
        return None
    value = data.get("instanceId") if isinstance(data, dict) else None
    return value if isinstance(value, str) else None
