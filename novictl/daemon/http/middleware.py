"""The edge of the HTTP API, as plain ASGI middlewares (cheap enough for the ping hot path).

- :class:`RequestContextMiddleware` (outermost): gives each request an id (a sane incoming ``X-Request-ID``
  is kept), echoes it, adds the security headers to every response;
- CORS (Starlette's), only when ``daemon.cors_origins`` names origins;
- :class:`GuardMiddleware`: per-client rate limit (429 + ``Retry-After``), body cap (413), and the Bearer
  token on ``/api/*`` (and ``/metrics`` when configured), compared in constant time.
"""

from __future__ import annotations

import hmac
import re
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from novictl.daemon.http.errors import (
    AuthRequired,
    BodyTooLarge,
    TooManyRequests,
    error_response,
    request_id_of,
)
from novictl.daemon.http.ratelimit import RateLimiter
from novictl.errors import NovictlError

__all__ = ["SECURITY_HEADERS", "GuardMiddleware", "RequestContextMiddleware", "header", "replay"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

SECURITY_HEADERS: dict[str, str] = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "content-security-policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    "cross-origin-opener-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=()",
}
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_UNLIMITED_PATHS = frozenset({"/health", "/metrics"})


class RequestContextMiddleware:
    """Request id in ``scope["state"]["request_id"]`` and the ``X-Request-ID`` header; security headers."""

    def __init__(self, app: ASGIApp):
        self.app = app
        self._static = [(k.encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = header(scope, b"x-request-id")
        request_id = incoming if incoming and _SAFE_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        extra = [(b"x-request-id", request_id.encode())]
        if scope["path"].startswith("/api/"):
            extra.append((b"cache-control", b"no-store"))

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [(k, v) for k, v in self._static + extra if k not in present]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


class GuardMiddleware:
    """Rate limit, body cap and token check, before any route runs."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        api_token: str | None,
        metrics_require_token: bool,
        rate_limit_per_minute: int,
        max_body_bytes: int,
        ping_rate_limit_per_minute: int | None = None,
        on_error: Callable[[int], None] | None = None,
    ):
        self.app = app
        self._token = api_token.encode() if api_token else None
        self._metrics_require_token = metrics_require_token
        self._limiter = RateLimiter(rate_limit_per_minute)
        # Every notebook and job on one host pings from the same address: pings get their own, larger
        # bucket, so a busy machine's pings are not refused (and its instances then stopped as idle).
        self._ping_limiter = RateLimiter(ping_rate_limit_per_minute or rate_limit_per_minute * 10)
        self._max_body = max_body_bytes
        self._on_error = on_error

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            receive = await self._check(scope, receive)
        except NovictlError as error:
            if self._on_error is not None:
                self._on_error(error.http_status)
            await error_response(error, request_id_of(scope))(scope, receive, send)
            return
        await self.app(scope, receive, send)

    async def _check(self, scope: Scope, receive: Receive) -> Receive:
        path: str = scope["path"]
        if path not in _UNLIMITED_PATHS:
            client = scope.get("client")
            is_ping = scope.get("method") == "PUT" and path.endswith("/last-used")
            limiter = self._ping_limiter if is_ping else self._limiter
            wait = limiter.check(client[0] if client else "unknown")
            if wait > 0:
                raise TooManyRequests(wait)
        declared = header(scope, b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self._max_body):
            raise BodyTooLarge(self._max_body)
        if self._token is not None and self._needs_token(path):
            self._authenticate(scope)
        return await self._buffer_body(receive)

    def _needs_token(self, path: str) -> bool:
        if path.startswith("/api/") or path == "/api":
            return True
        return path == "/metrics" and self._metrics_require_token

    def _authenticate(self, scope: Scope) -> None:
        assert self._token is not None
        given_header = header(scope, b"authorization") or ""
        scheme, _, given = given_header.partition(" ")
        # compare_digest takes the same time wherever the first difference is: no timing oracle.
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), self._token):
            raise AuthRequired(
                "missing or wrong API token",
                hint="send the header 'Authorization: Bearer <daemon.api_token>'",
            )

    async def _buffer_body(self, receive: Receive) -> Receive:
        """Read the body up to the cap (chunked uploads have no Content-Length to trust), then replay it."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return replay([message], receive)
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self._max_body:
                raise BodyTooLarge(self._max_body)
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return replay([{"type": "http.request", "body": b"".join(chunks), "more_body": False}], receive)


def replay(messages: list[Message], receive: Receive) -> Receive:
    """A ``receive`` that hands out ``messages`` first, then reads on."""
    queue = list(messages)

    async def replayed() -> Message:
        if queue:
            return queue.pop(0)
        return await receive()

    return replayed


def header(scope: Scope, name: bytes) -> str | None:
    """The first value of header ``name`` (lower case), decoded as latin-1."""
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None
