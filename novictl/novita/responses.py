"""Turning Novita's HTTP answers into data or into novictl errors.

Error bodies look like ``{"code", "reason", "message", "metadata"}``, but a gateway may answer with an
empty body, HTML or plain text; everything here tolerates that. The text shown to people is read from
``message``, then ``reason``, then ``error``.
"""

from __future__ import annotations

import json
import re
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from novictl.errors import (
    NovitaAuthError,
    NovitaBadRequest,
    NovitaError,
    NovitaNotFound,
    NovitaRateLimited,
    NovitaStateConflict,
    NovitaUnavailable,
)
from novictl.novita.retry import parse_retry_after

__all__ = ["error_from_response", "error_text", "field", "parse_model", "parse_models", "read_json"]

ModelT = TypeVar("ModelT", bound=BaseModel)

_NOT_FOUND_REASONS = frozenset({"RESOURCE_NOT_FOUND", "INSTANCE_NOT_FOUND", "NOT_FOUND"})
# What Novita's 4xx reasons mean for the person reading the error.
_REASON_HINTS = {
    "CREATE_INSTANCE_LIMIT": "your account reached Novita's limit on instances; delete ones you no longer "
    "need (novictl list --status exited) or ask Novita to raise it",
    "BALANCE_NOT_ENOUGH": "top up your Novita balance (see it with: novictl balance)",
    "INSUFFICIENT_RESOURCE": "Novita has no free GPU of that kind there now; try later, another region "
    "(--region) or another product (novictl products)",
}
_STATE_CONFLICT_MESSAGE = "invalid state change"
_MAX_TEXT = 300


def read_json(response: httpx.Response) -> Any:
    """The decoded JSON body, ``None`` for an empty one; raises ``ValueError`` for anything else."""
    if not response.content.strip():
        return None
    return json.loads(response.content)


def error_text(response: httpx.Response) -> tuple[str, str | None]:
    """``(message, reason)`` from an error answer, whatever shape its body has."""
    try:
        body = read_json(response)
    except ValueError:
        body = None
        text = _plain_text(response.text)
    else:
        text = ""
    reason: str | None = None
    message: str | None = None
    if isinstance(body, dict):
        reason = _clean(body.get("reason"))
        nested = body.get("error")
        nested_text = _clean(nested.get("message")) if isinstance(nested, dict) else _clean(nested)
        message = _clean(body.get("message")) or reason or nested_text
    elif isinstance(body, str):
        message = _clean(body)
    return message or text or response.reason_phrase or f"HTTP {response.status_code}", reason


def error_from_response(response: httpx.Response, *, action: str) -> NovitaError:
    """The novictl error for a non-2xx answer. ``action`` names the call, e.g. ``"GET /gpu/instance"``."""
    status = response.status_code
    message, reason = error_text(response)
    label = f"{message} (HTTP {status}{', ' + reason if reason and reason != message else ''}; {action})"
    if status == 401 or (status == 403 and _about_the_key(reason, message)):
        return NovitaAuthError(f"Novita refused the API key: {label}", status=status, reason=reason)
    if status == 403:
        return NovitaAuthError(
            f"Novita does not allow this for your API key: {label}",
            status=status,
            reason=reason,
            hint="check the key's permissions in Novita's console (key management)",
        )
    if status == 404 or (status == 400 and (reason or "").upper() in _NOT_FOUND_REASONS):
        return NovitaNotFound(f"not found on Novita: {label}", status=status, reason=reason)
    if status in (400, 409) and (
        _STATE_CONFLICT_MESSAGE in message.lower() or (reason or "").upper() == "CONFLICT"
    ):
        return NovitaStateConflict(
            f"Novita refused: {label}",
            status=status,
            reason=reason,
            hint="the instance is not in a state that allows this; check its status with `novictl show`",
        )
    if status == 429:
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        return NovitaRateLimited(f"Novita is rate limiting requests: {label}", retry_after=retry_after)
    if status >= 500:
        return NovitaUnavailable(
            f"Novita is having trouble: {label}",
            status=status,
            reason=reason,
            hint="try again in a minute; Novita's status page may say more",
        )
    if 400 <= status < 500:
        return NovitaBadRequest(
            f"Novita rejected the request: {label}",
            status=status,
            reason=reason,
            hint=_REASON_HINTS.get((reason or "").upper()),
        )
    return NovitaError(f"unexpected answer from Novita: {label}", status=status, reason=reason)


def _about_the_key(reason: str | None, message: str) -> bool:
    """A 403 that blames the key itself (other Novita products answer a bad key with 403 INVALID_API_KEY)."""
    text = f"{reason or ''} {message}".upper().replace(" ", "_").replace("-", "_")
    return "API_KEY" in text or "APIKEY" in text or "INVALID_KEY" in text or "TOKEN" in text


def _clean(value: Any) -> str | None:
    if value is None or isinstance(value, dict | list):
        return None
    text = str(value).strip()
    return text[:_MAX_TEXT] if text else None


def _plain_text(text: str) -> str:
    """A short one-line version of a non-JSON body; HTML pages say nothing useful, so they give ""."""
    stripped = text.strip()
    if stripped.startswith("<"):
        return ""
    return re.sub(r"\s+", " ", stripped)[:_MAX_TEXT]


def field(data: Any, key: str, *, default: Any = ...) -> Any:
    if isinstance(data, dict) and key in data:
        return data[key]
    if default is ...:
        raise NovitaError(f"Novita's answer has no {key!r} field", details={"body_type": type(data).__name__})
    return default


def parse_model(model: type[ModelT], data: Any, what: str) -> ModelT:
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise NovitaError(f"Novita sent an unreadable {what}: {error.error_count()} problem(s)") from error


def parse_models(model: type[ModelT], data: Any, what: str) -> list[ModelT]:
    if data is None:
        return []
    if not isinstance(data, list):
        raise NovitaError(f"Novita sent {what} as {type(data).__name__}, not a list")
    return [parse_model(model, item, what) for item in data]
