"""The one place the HTTP API turns an error into a response: ``{"error": {"code", "message", "requestId"}}``.

Route code raises :class:`~novictl.errors.NovictlError` subclasses; FastAPI's validation errors and
Starlette's HTTP exceptions are translated into the same shape; anything else is a 500 that says nothing
about internals (the traceback goes to the log). The middlewares use :func:`error_response` too.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from novictl.errors import (
    CircuitOpen,
    NovictlError,
    NovitaRateLimited,
    NovitaUnavailable,
    StoreError,
    UsageError,
)

__all__ = [
    "AuthRequired",
    "BodyTooLarge",
    "TooManyRequests",
    "error_body",
    "error_response",
    "install_error_handlers",
    "request_id_of",
]

log = logging.getLogger("novictl.daemon.http")

_UNAVAILABLE_RETRY_SECONDS = 5
_STARLETTE_CODES = {
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    415: "unsupported_media",
}


class AuthRequired(NovictlError):
    """The API token is missing or wrong."""

    code = "unauthorized"
    exit_code = 3
    http_status = 401


class TooManyRequests(NovictlError):
    """The client went over its request budget; ``retry_after`` says when to come back."""

    code = "rate_limited"
    http_status = 429

    def __init__(self, retry_after: float):
        super().__init__("too many requests; slow down", hint=f"retry after {retry_after:.0f}s")
        self.retry_after = retry_after


class BodyTooLarge(NovictlError):
    """The request body is larger than ``daemon.max_body_bytes``."""

    code = "body_too_large"
    http_status = 413

    def __init__(self, limit: int):
        super().__init__(f"request body larger than {limit} bytes")


def request_id_of(scope_or_request: Any) -> str:
    """The request's id (set by the request-id middleware), or ``""``."""
    scope = scope_or_request.scope if isinstance(scope_or_request, Request) else scope_or_request
    state = scope.get("state") or {}
    return str(state.get("request_id", ""))


def error_body(error: NovictlError, request_id: str) -> dict[str, Any]:
    data: dict[str, Any] = {"code": error.code, "message": error.message, "requestId": request_id}
    if error.hint:
        data["hint"] = error.hint
    if error.details:
        data["details"] = error.details
    return {"error": data}


def _retry_after(error: NovictlError) -> float | None:
    if isinstance(error, TooManyRequests):
        return error.retry_after
    if isinstance(error, CircuitOpen):
        return error.retry_in
    if isinstance(error, NovitaRateLimited) and error.retry_after:
        return error.retry_after
    if isinstance(error, StoreError | NovitaUnavailable):
        return _UNAVAILABLE_RETRY_SECONDS
    return None


def error_response(error: NovictlError, request_id: str) -> JSONResponse:
    """The response for ``error``: its HTTP status, the JSON body, and ``Retry-After`` when it helps."""
    headers: dict[str, str] = {}
    retry_after = _retry_after(error)
    if retry_after is not None:
        headers["Retry-After"] = str(max(1, round(retry_after + 0.499)))
    if isinstance(error, AuthRequired):
        headers["WWW-Authenticate"] = 'Bearer realm="novictl"'
    return JSONResponse(error_body(error, request_id), status_code=error.http_status, headers=headers)


def _validation_message(error: RequestValidationError) -> tuple[str, list[dict[str, Any]]]:
    problems: list[dict[str, Any]] = []
    for item in error.errors():
        location = ".".join(str(part) for part in item.get("loc", ()) if part != "body") or "body"
        problems.append({"field": location, "problem": str(item.get("msg", "invalid"))})
    if any(item.get("type") == "json_invalid" for item in error.errors()):
        return "the request body is not valid JSON", problems
    summary = "; ".join(f"{p['field']}: {p['problem']}" for p in problems[:3])
    return f"invalid request: {summary}", problems


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers that give every error the same JSON shape."""

    async def on_novictl_error(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, NovictlError)
        if error.http_status >= 500:
            log.warning("%s %s -> %d %s: %s", request.method, request.url.path, error.http_status,
                        error.code, error.message)  # fmt: skip
        return error_response(error, request_id_of(request))

    async def on_validation_error(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, RequestValidationError)
        message, problems = _validation_message(error)
        return error_response(UsageError(message, details={"problems": problems}), request_id_of(request))

    async def on_http_exception(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, StarletteHTTPException)
        status = error.status_code
        code = _STARLETTE_CODES.get(status, "usage" if status < 500 else "error")
        body = {"error": {"code": code, "message": str(error.detail), "requestId": request_id_of(request)}}
        return JSONResponse(body, status_code=status, headers=dict(error.headers or {}))

    async def on_unexpected(request: Request, error: Exception) -> JSONResponse:
        log.error("%s %s failed unexpectedly", request.method, request.url.path, exc_info=error)
        internal = NovictlError("internal error; see the daemon's log")
        return error_response(internal, request_id_of(request))

    app.add_exception_handler(NovictlError, on_novictl_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(StarletteHTTPException, on_http_exception)
    app.add_exception_handler(Exception, on_unexpected)
