"""A circuit breaker, so a Novita outage costs one fast failure per call instead of a pile of timeouts.

::

    closed ──N consecutive failures──▶ open ──reset_seconds later──▶ half-open
      ▲                                 ▲                               │ lets exactly ONE probe through
      └──────── probe succeeds ─────────┼───────── probe fails ─────────┘ (others fail fast meanwhile)

Only "Novita is unavailable" failures count (5xx, timeouts, dropped connections, 429): a 4xx answer
means Novita is up and said no, which is a success as far as the breaker is concerned.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum

from novictl.errors import CircuitOpen, NovitaUnavailable

__all__ = ["BreakerState", "CircuitBreaker", "counts_as_failure"]


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


def counts_as_failure(error: BaseException) -> bool:
    """Whether ``error`` says Novita is unavailable (and so should trip the breaker)."""
    return isinstance(error, NovitaUnavailable) and not isinstance(error, CircuitOpen)


class CircuitBreaker:
    """Fails fast with :class:`~novictl.errors.CircuitOpen` after repeated unavailability.

    ``clock`` returns monotonic seconds; inject one to test the cool-down without waiting.
    Not thread-safe: one breaker belongs to one event loop.
    """

    def __init__(
        self,
        failure_threshold: int = 5,
        reset_seconds: float = 30,
        clock: Callable[[], float] = time.monotonic,
    ):
        if failure_threshold < 1:
            raise ValueError("failure_threshold must be at least 1")
        if reset_seconds < 0:
            raise ValueError("reset_seconds must not be negative")
        self.failure_threshold = failure_threshold
        self.reset_seconds = reset_seconds
        self._clock = clock
        self._consecutive_failures = 0
        self._opened_at: float | None = None
        self._probe_in_flight = False
        self.times_opened = 0
        """How often the breaker has tripped (for metrics)."""

    def __repr__(self) -> str:
        return (
            f"CircuitBreaker(state={self.state.value}, failures={self._consecutive_failures}/"
            f"{self.failure_threshold}, reset_seconds={self.reset_seconds})"
        )

    @property
    def state(self) -> BreakerState:
        if self._opened_at is None:
            return BreakerState.CLOSED
        if self._clock() - self._opened_at < self.reset_seconds:
            return BreakerState.OPEN
        return BreakerState.HALF_OPEN

    @property
    def consecutive_failures(self) -> int:
        return self._consecutive_failures

    def retry_in(self) -> float:
        """Seconds until the breaker lets a probe through (0 when closed or half-open)."""
        if self._opened_at is None:
            return 0.0
        return max(0.0, self._opened_at + self.reset_seconds - self._clock())

    def acquire(self) -> None:
        """Ask to make a call: returns when allowed, raises :class:`CircuitOpen` when not.

        In half-open state the first caller becomes the probe; everyone else fails fast until the
        probe reports back through :meth:`record_success`, :meth:`record_failure` or :meth:`release`.
        """
        state = self.state
        if state is BreakerState.CLOSED:
            return
        if state is BreakerState.HALF_OPEN and not self._probe_in_flight:
            self._probe_in_flight = True
            return
        raise CircuitOpen(self.retry_in() if state is BreakerState.OPEN else self.reset_seconds)

    def record_success(self) -> None:
        """Novita answered: close the breaker and forget earlier failures."""
        self._consecutive_failures = 0
        self._opened_at = None
        self._probe_in_flight = False

    def record_failure(self) -> None:
        """Novita was unavailable: count it; trip (or re-trip, after a failed probe) at the threshold."""
        self._consecutive_failures += 1
        state = self.state
        if state is BreakerState.HALF_OPEN or (
            state is BreakerState.CLOSED and self._consecutive_failures >= self.failure_threshold
        ):
            self._trip()
        self._probe_in_flight = False

    def release(self) -> None:
        """The call ended without a verdict (cancelled): let another caller be the probe."""
        self._probe_in_flight = False

    @contextmanager
    def guard(self, is_failure: Callable[[BaseException], bool] = counts_as_failure) -> Iterator[None]:
        """Run one call under the breaker: ``with breaker.guard(): await send()``.

        Raises :class:`CircuitOpen` before the call when the breaker is open; afterwards records the
        outcome: an exception for which ``is_failure`` holds is a failure, any other ``Exception`` (a 4xx)
        or a normal return is a success, and cancellation is neither.
        """
        self.acquire()
        with self.recording(is_failure):
            yield

    @contextmanager
    def recording(self, is_failure: Callable[[BaseException], bool] = counts_as_failure) -> Iterator[None]:
        """Record the outcome of a call already let through by :meth:`acquire` (see :meth:`guard`)."""
        try:
            yield
        except Exception as error:
            if is_failure(error):
                self.record_failure()
            else:
                self.record_success()
            raise
        except BaseException:
            self.release()
            raise
        self.record_success()

    def _trip(self) -> None:
        self._opened_at = self._clock()
        self.times_opened += 1
