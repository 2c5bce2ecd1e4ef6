"""The one retry policy for calls to Novita (built on tenacity).

Retried: timeouts and dropped or refused connections, 429 (waiting what ``Retry-After`` asks, capped),
and 500/502/503/504. Never retried: any other 4xx, and an open circuit breaker (the point of the breaker
is to fail fast). Waits grow exponentially with jitter; both the number of attempts and the total time
(time spent plus the next wait) are capped. ``sleep`` is injectable so tests can record the waits
instead of sleeping them.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TypeVar

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt, stop_any
from tenacity.stop import stop_base

from novictl.errors import CircuitOpen, NovitaRateLimited, NovitaUnavailable

__all__ = [
    "RETRYABLE_STATUSES",
    "RetryPolicy",
    "Sleep",
    "is_retryable",
    "parse_retry_after",
]

log = logging.getLogger(__name__)

T = TypeVar("T")
Sleep = Callable[[float], Awaitable[None]]

RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})


def is_retryable(error: BaseException) -> bool:
    """Whether another attempt could succeed: Novita was unavailable, and not by the breaker's verdict."""
    if isinstance(error, CircuitOpen):
        return False
    if isinstance(error, NovitaUnavailable):
        # Timeouts and transport errors carry no status.
        return error.status is None or error.status in RETRYABLE_STATUSES
    return False


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP date; ``None`` if unusable."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if seconds != seconds:  # NaN
        return None
    return max(0.0, seconds)


class _StopWhen(stop_base):
    """A tenacity stop condition from a plain predicate."""

    def __init__(self, predicate: Callable[[RetryCallState], bool]):
        self._predicate = predicate

    def __call__(self, retry_state: RetryCallState) -> bool:
        return self._predicate(retry_state)


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry. One instance per client; cheap to build per call.

    ``max_attempts`` counts the first try. ``max_total_seconds`` bounds the time from the first attempt
    until the next one would start. A 429's ``Retry-After`` is honoured up to ``max_retry_after``.
    """

    max_attempts: int = 4
    max_total_seconds: float = 60.0
    initial_wait: float = 0.5
    max_wait: float = 10.0
    jitter: float = 0.5
    max_retry_after: float = 30.0
    sleep: Sleep = asyncio.sleep
    retry_if: Callable[[BaseException], bool] = is_retryable
    """Which errors are worth another attempt; narrowed per call with :meth:`only_if`."""

    def only_if(self, predicate: Callable[[BaseException], bool]) -> RetryPolicy:
        """The same policy, retrying only errors that are retryable *and* satisfy ``predicate``."""
        base = self.retry_if
        return replace(self, retry_if=lambda error: base(error) and predicate(error))

    def wait_seconds(self, retry_state: RetryCallState) -> float:
        """The wait before the next attempt: ``Retry-After`` for a 429 when given, else backoff."""
        error = retry_state.outcome.exception() if retry_state.outcome else None
        if isinstance(error, NovitaRateLimited) and error.retry_after is not None:
            return min(error.retry_after, self.max_retry_after)
        exponent = max(0, retry_state.attempt_number - 1)
        backoff: float = min(self.max_wait, self.initial_wait * 2.0**exponent)
        return backoff + random.uniform(0, self.jitter)

    def out_of_time(self, retry_state: RetryCallState) -> bool:
        """Whether the next attempt would start past ``max_total_seconds``.

        Counts both wall time and the waits handed to ``sleep``, so an injected sleep that returns at once
        still runs into the cap exactly as a real one would.
        """
        elapsed = max(retry_state.seconds_since_start or 0.0, retry_state.idle_for)
        return elapsed + retry_state.upcoming_sleep > self.max_total_seconds

    async def call(
        self,
        attempt: Callable[[], Awaitable[T]],
        *,
        on_retry: Callable[[BaseException, int, float], None] | None = None,
    ) -> T:
        """Run ``attempt`` until it succeeds, fails for good, or the budget is spent.

        On giving up, the last error is raised as it was (a ``NovitaUnavailable`` or
        ``NovitaRateLimited``), with ``details["attempts"]`` telling how many were made.
        ``on_retry(error, attempt_number, wait)`` is called before each wait.
        """

        def before_sleep(retry_state: RetryCallState) -> None:
            error = retry_state.outcome.exception() if retry_state.outcome else None
            if error is None:
                return
            log.debug(
                "attempt %d/%d failed (%s); retrying in %.2fs",
                retry_state.attempt_number,
                self.max_attempts,
                error,
                retry_state.upcoming_sleep,
            )
            if on_retry is not None:
                on_retry(error, retry_state.attempt_number, retry_state.upcoming_sleep)

        retrying = AsyncRetrying(
            stop=stop_any(stop_after_attempt(self.max_attempts), _StopWhen(self.out_of_time)),
            wait=self.wait_seconds,
            retry=retry_if_exception(self.retry_if),
            sleep=self.sleep,
            before_sleep=before_sleep,
            reraise=True,
        )
        attempts = 0

        async def counted() -> T:
            nonlocal attempts
            attempts += 1
            return await attempt()

        try:
            return await retrying(counted)
        except NovitaUnavailable as error:
            if attempts > 1:
                error.details["attempts"] = attempts
            raise
