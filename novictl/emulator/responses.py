"""Novita's error envelope, and an exception the routes raise to answer with it."""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse

__all__ = ["NovitaApiError", "error_response"]


class NovitaApiError(Exception):
    """Answer the request with Novita's error body: ``{"code", "reason", "message", "metadata"}``."""

    def __init__(self, status: int, reason: str, message: str, *, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.message = message
        self.headers = headers or {}

    def response(self) -> JSONResponse:
        return error_response(self.status, self.reason, self.message, headers=self.headers)


def error_response(
    status: int, reason: str, message: str, *, headers: dict[str, str] | None = None
) -> JSONResponse:
    body: dict[str, Any] = {"code": status, "reason": reason, "message": message, "metadata": {}}
    return JSONResponse(body, status_code=status, headers=headers)
