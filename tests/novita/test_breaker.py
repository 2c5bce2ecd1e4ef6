"""The circuit breaker's state machine, driven by an injected clock."""

from __future__ import annotations

import asyncio

import pytest

from novictl.errors import CircuitOpen, NovitaBadRequest, NovitaNotFound, NovitaUnavailable
from novictl.novita import BreakerState, CircuitBreaker


class ManualClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def state_of(breaker: CircuitBreaker) -> BreakerState:
    """Read afresh each time (mypy would keep the narrowing of ``breaker.state`` across calls)."""
    return breaker.state


def fail(breaker: CircuitBreaker, error: Exception | None = None) -> None:
    with pytest.raises(type(error) if error else NovitaUnavailable), breaker.guard():
        raise error or NovitaUnavailable("down", status=503)


def test_opens_after_threshold_consecutive_failures_and_fails_fast() -> None:
    clock = ManualClock()
    breaker = CircuitBreaker(failure_threshold=3, reset_seconds=30, clock=clock)
    for _ in range(2):
        fail(breaker)
    assert state_of(breaker) is BreakerState.CLOSED

    fail(breaker)
    assert state_of(breaker) is BreakerState.OPEN
    assert breaker.times_opened == 1

    clock.now += 10
    ran = False
    with pytest.raises(CircuitOpen) as caught, breaker.guard():
        ran = True
    assert not ran
    assert caught.value.retry_in == pytest.approx(20)
    assert caught.value.exit_code == 6


def test_success_resets_the_count() -> None:
    breaker = CircuitBreaker(failure_threshold=2, clock=ManualClock())
    fail(breaker)
    with breaker.guard():
        pass
    fail(breaker)
    assert state_of(breaker) is BreakerState.CLOSED
    assert breaker.consecutive_failures == 1


def test_client_errors_are_not_failures() -> None:
    breaker = CircuitBreaker(failure_threshold=1, clock=ManualClock())
    fail(breaker, NovitaBadRequest("bad", status=400))
    fail(breaker, NovitaNotFound("gone", status=404))
    assert state_of(breaker) is BreakerState.CLOSED


def test_half_open_lets_one_probe_through_then_closes_on_success() -> None:
    clock = ManualClock()
    breaker = CircuitBreaker(failure_threshold=1, reset_seconds=30, clock=clock)
    fail(breaker)
    clock.now += 30
    assert state_of(breaker) is BreakerState.HALF_OPEN

    breaker.acquire()  # the probe
    with pytest.raises(CircuitOpen):
        breaker.acquire()  # everyone else still fails fast
    breaker.record_success()

    assert state_of(breaker) is BreakerState.CLOSED
    breaker.acquire()
    breaker.acquire()  # closed: no limit


def test_failed_probe_reopens_for_a_full_cool_down() -> None:
    clock = ManualClock()
    breaker = CircuitBreaker(failure_threshold=5, reset_seconds=30, clock=clock)
    for _ in range(5):
        fail(breaker)
    clock.now += 31
    fail(breaker)  # the probe fails: one failure is enough to re-open

    assert state_of(breaker) is BreakerState.OPEN
    assert breaker.retry_in() == pytest.approx(30)
    assert breaker.times_opened == 2


async def test_cancelled_probe_frees_the_slot() -> None:
    clock = ManualClock()
    breaker = CircuitBreaker(failure_threshold=1, reset_seconds=5, clock=clock)
    fail(breaker)
    clock.now += 5

    async def probe() -> None:
        with breaker.guard():
            await asyncio.sleep(10)

    task = asyncio.create_task(probe())
    await asyncio.sleep(0)
    with pytest.raises(CircuitOpen):
        breaker.acquire()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    breaker.acquire()  # a new probe may go


def test_rejects_nonsense_settings() -> None:
    with pytest.raises(ValueError, match="failure_threshold"):
        CircuitBreaker(failure_threshold=0)
