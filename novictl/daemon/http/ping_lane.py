"""The ping's fast lane: a well-formed ``PUT /api/instances/{ref}/last-used`` answered before FastAPI.

Pings are the daemon's hot path (every notebook and job pings), and FastAPI's routing, dependency solving
and body handling cost more than the ping itself. This ASGI middleware sits inside the guard (so the rate
limit, token and body cap have already run) and answers the requests it fully understands: a ref of 1 to 256
characters, and a body that is empty or a JSON object :class:`PingBody` accepts. Anything else — bad JSON,
an invalid field, another content type — goes on to the FastAPI route, which gives the usual error
answers; both answer a good ping through :func:`answer_ping`, so they cannot drift apart.
"""

from __future__ import annotations

import logging

from pydantic import ValidationError
from starlette.responses import JSONResponse

from novictl.daemon.context import DaemonContext
from novictl.daemon.http.errors import error_response, request_id_of
from novictl.daemon.http.middleware import ASGIApp, Message, Receive, Scope, Send, header, replay
from novictl.daemon.http.schemas import PingBody
from novictl.errors import NovictlError

__all__ = ["MAX_REF_LENGTH", "PingFastLane", "answer_ping", "ping_ref"]

log = logging.getLogger(__name__)

MAX_REF_LENGTH = 256
_PREFIX = "/api/instances/"
_SUFFIX = "/last-used"
_MAX_PING_BODY = 4096
"""A ping's body is a few dozen bytes; a larger one is left to the route (and the guard's cap)."""


async def answer_ping(ctx: DaemonContext, ref: str, body: PingBody | None) -> JSONResponse:
    """Resolve ``ref`` from memory, buffer the ping (a future time counts as now) and answer it."""
    instance_id = await ctx.index.resolve(ref)
    now = ctx.clock.now()
    used_at = body.last_used_at if body is not None and body.last_used_at is not None else now
    used_at = min(used_at, now)
    source = (body.source if body is not None else None) or "api"
    ctx.pings.add(instance_id, used_at, source)
    # A ready JSONResponse skips FastAPI's generic encoding of a return value.
    return JSONResponse(
        {"instanceId": instance_id, "lastUsedAt": used_at.isoformat(), "message": "last used time updated"}
    )


def ping_ref(path: str) -> str | None:
    """The ``ref`` of a ping path the route would accept, else ``None``."""
    if not (path.startswith(_PREFIX) and path.endswith(_SUFFIX)):
        return None
    ref = path[len(_PREFIX) : -len(_SUFFIX)]
    if not ref or len(ref) > MAX_REF_LENGTH or "/" in ref:
        return None
    return ref


class PingFastLane:
    """Answers well-formed pings directly; passes everything else, untouched, to ``app``."""

    def __init__(self, app: ASGIApp, *, ctx: DaemonContext):
        self.app = app
        self._ctx = ctx

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") != "PUT" or scope.get("root_path"):
            await self.app(scope, receive, send)
            return
        ref = ping_ref(scope["path"])
        if ref is None:
            await self.app(scope, receive, send)
            return
        messages, body = await _read_body(receive)
        parsed = _DECLINED if body is None else _parse(scope, body)
        if parsed is _DECLINED:
            await self.app(scope, replay(messages, receive), send)
            return
        try:
            response = await answer_ping(self._ctx, ref, parsed if isinstance(parsed, PingBody) else None)
        except NovictlError as error:
            if error.http_status >= 500:
                log.warning(
                    "PUT %s -> %d %s: %s", scope["path"], error.http_status, error.code, error.message
                )
            response = error_response(error, request_id_of(scope))
        await response(scope, receive, send)


_DECLINED = object()
""":func:`_parse` declines a request the route should answer (with its error)."""


async def _read_body(receive: Receive) -> tuple[list[Message], bytes | None]:
    """The messages read and the whole body; ``None`` when it is not a small, complete request body."""
    messages: list[Message] = []
    size = 0
    while True:
        message = await receive()
        messages.append(message)
        if message.get("type") != "http.request":
            return messages, None
        size += len(message.get("body", b""))
        if size > _MAX_PING_BODY:
            return messages, None
        if not message.get("more_body", False):
            return messages, b"".join(m.get("body", b"") for m in messages)


def _parse(scope: Scope, body: bytes) -> object:
    """``None`` for an empty body, a :class:`PingBody`, or :data:`_DECLINED`."""
    if not body:
        return None
    content_type = header(scope, b"content-type")
    if content_type is not None and content_type.split(";", 1)[0].strip().lower() != "application/json":
        return _DECLINED
    if not body.lstrip().startswith(b"{"):
        return _DECLINED
    try:
        return PingBody.model_validate_json(body)
    except ValidationError:
        return _DECLINED
