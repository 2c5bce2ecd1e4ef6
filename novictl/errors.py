"""The errors novictl raises, in one tree.

Every error carries a stable machine-readable ``code``, a human ``message``, an optional ``hint`` (what to
do about it), the CLI ``exit_code`` and the HTTP ``http_status`` the daemon answers with. The faces (CLI,
HTTP API) translate a :class:`NovictlError` in exactly one place each; nothing else catches them to print.

::

    NovictlError                      exit 1   http 500
    ├── UsageError                    exit 2   http 400   bad input from the caller
    ├── ConfigError                   exit 3   http 500   a bad setting, named with its source
    ├── NotFoundError                 exit 4   http 404
    │   └── NovitaNotFound                                404, or 400 RESOURCE_NOT_FOUND from Novita
    ├── ConflictError                 exit 5   http 409
    │   ├── AmbiguousName             exit 2              a name that matches several instances
    │   ├── LockHeld                                      e.g. "sync already running"
    │   └── NovitaStateConflict                           Novita's "invalid state change"
    ├── StoreError                    exit 1   http 503   the state store cannot be read or written
    ├── WaitTimeout                   exit 1   http 504   an instance did not reach a state in time
    └── NovitaError                   exit 1   http 502   anything Novita answered that we cannot use
        ├── NovitaAuthError           exit 3   http 502   401 / 403: a missing or wrong API key
        ├── NovitaBadRequest          exit 1   http 400   another 4xx, with Novita's reason and message
        └── NovitaUnavailable         exit 6   http 503   5xx, timeouts, dropped connections, after retries
            ├── NovitaRateLimited                         429 that outlasted the retries
            └── CircuitOpen                               the breaker is failing fast

``NovitaNotFound`` and ``NovitaStateConflict`` are also :class:`NovitaError` subclasses, so code talking to
Novita can catch the whole family at once.
"""

from __future__ import annotations

from typing import Any, ClassVar

__all__ = [
    "AmbiguousName",
    "CircuitOpen",
    "ConfigError",
    "ConflictError",
    "LockHeld",
    "NotFoundError",
    "NovictlError",
    "NovitaAuthError",
    "NovitaBadRequest",
    "NovitaError",
    "NovitaNotFound",
    "NovitaRateLimited",
    "NovitaStateConflict",
    "NovitaUnavailable",
    "StoreError",
    "UsageError",
    "WaitTimeout",
]


class NovictlError(Exception):
    """Base of every error novictl raises on purpose."""

    code: ClassVar[str] = "error"
    exit_code: ClassVar[int] = 1
    http_status: ClassVar[int] = 500

    def __init__(self, message: str, *, hint: str | None = None, details: dict[str, Any] | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.details: dict[str, Any] = details or {}

    def to_dict(self) -> dict[str, Any]:
        """The error as JSON-ready data: what ``--json`` prints and the API serves."""
        data: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.hint:
            data["hint"] = self.hint
        if self.details:
            data["details"] = self.details
        return data


class UsageError(NovictlError):
    """The caller asked for something that cannot be done as asked."""

    code = "usage"
    exit_code = 2
    http_status = 400


class ConfigError(NovictlError):
    """A setting is missing or invalid; the message names the key and where its value came from."""

    code = "config"
    exit_code = 3
    http_status = 500


class NotFoundError(NovictlError):
    """No instance (or other object) answers to the given id or name."""

    code = "not_found"
    exit_code = 4
    http_status = 404


class ConflictError(NovictlError):
    """The request conflicts with the current state of things."""

    code = "conflict"
    exit_code = 5
    http_status = 409


class AmbiguousName(ConflictError):
    """A name matches several instances; the caller must use an id."""

    code = "ambiguous_name"
    exit_code = 2

    def __init__(self, name: str, candidates: list[str]):
        super().__init__(
            f"the name {name!r} matches {len(candidates)} instances: {', '.join(candidates)}",
            hint="use the instance id instead",
            details={"candidates": candidates},
        )


class LockHeld(ConflictError):
    """Another process holds the lock this operation needs (for example: a sync is already running)."""

    code = "lock_held"


class StoreError(NovictlError):
    """The state store cannot be reached, read or written."""

    code = "store_unavailable"
    http_status = 503


class WaitTimeout(NovictlError):
    """An instance did not reach the wanted state before the timeout; nothing was undone."""

    code = "wait_timeout"
    http_status = 504


class NovitaError(NovictlError):
    """Novita answered something novictl cannot use. Carries the HTTP status and Novita's reason."""

    code = "novita_error"
    http_status = 502

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        reason: str | None = None,
        hint: str | None = None,
        details: dict[str, Any] | None = None,
    ):
        super().__init__(message, hint=hint, details=details)
        self.status = status
        self.reason = reason


class NovitaAuthError(NovitaError):
    """Novita refused the API key (HTTP 401 or 403)."""

    code = "novita_auth"
    exit_code = 3

    def __init__(
        self, message: str, *, status: int | None = None, reason: str | None = None, hint: str | None = None
    ):
        super().__init__(
            message,
            status=status,
            reason=reason,
            hint=hint or "set NOVITA_API_KEY (or novita.api_key in the config file) to a valid key",
        )


class NovitaBadRequest(NovitaError):
    """Novita rejected the request (a 4xx other than auth, not-found, state conflict or rate limit)."""

    code = "novita_bad_request"
    http_status = 400


class NovitaNotFound(NovitaError, NotFoundError):
    """The instance (or template, product …) does not exist on Novita: HTTP 404 or 400 RESOURCE_NOT_FOUND."""

    code = "not_found"
    exit_code = 4
    http_status = 404


class NovitaStateConflict(NovitaError, ConflictError):
    """Novita answered "invalid state change": the instance is not in a state that allows the operation."""

    code = "invalid_state"
    exit_code = 5
    http_status = 409


class NovitaUnavailable(NovitaError):
    """Novita could not be reached or kept failing (5xx, timeouts, dropped connections) after retries."""

    code = "novita_unavailable"
    exit_code = 6
    http_status = 503


class NovitaRateLimited(NovitaUnavailable):
    """Novita kept answering 429 until the retry budget ran out."""

    code = "novita_rate_limited"

    def __init__(self, message: str, *, retry_after: float | None = None, status: int | None = 429):
        super().__init__(message, status=status, reason="RATE_LIMIT_EXCEEDED")
        self.retry_after = retry_after


class CircuitOpen(NovitaUnavailable):
    """The circuit breaker is open after repeated failures; calls fail fast until the cool-down ends."""

    code = "novita_circuit_open"

    def __init__(self, retry_in: float):
        super().__init__(
            f"Novita is failing; not calling it for another {retry_in:.0f}s (circuit breaker open)",
            hint="check your network and Novita's status, then try again in a moment",
        )
        self.retry_in = retry_in
