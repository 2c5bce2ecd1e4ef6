"""The retry policy on its own: what is retried, how long it waits, and when it gives up."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from novictl.errors import CircuitOpen, NovitaBadRequest, NovitaRateLimited, NovitaUnavailable
from novictl.novita import RetryPolicy, is_retryable, parse_retry_after
from tests.fixtures.novita import RecordingSleep


class FailingThen:
    """An attempt that raises the given errors in turn, then returns "ok"."""

    def __init__(self, *errors: Exception):
        self.errors = list(errors)
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "ok"


def unavailable(status: int | None = 503) -> NovitaUnavailable:
    return NovitaUnavailable("down", status=status)


async def test_backoff_grows_with_jitter_and_then_succeeds() -> None:
    sleeps = RecordingSleep()
    policy = RetryPolicy(max_attempts=4, initial_wait=0.5, jitter=0.5, sleep=sleeps)
    attempt = FailingThen(unavailable(), unavailable(None), unavailable(502))

    assert await policy.call(attempt) == "ok"

    assert attempt.calls == 4
    assert len(sleeps.calls) == 3
    for wait, floor in zip(sleeps.calls, (0.5, 1.0, 2.0), strict=True):
        assert floor <= wait <= floor + 0.5


async def test_retry_after_is_honoured_and_capped() -> None:
    sleeps = RecordingSleep()
    policy = RetryPolicy(max_retry_after=5, sleep=sleeps)
    attempt = FailingThen(
        NovitaRateLimited("slow down", retry_after=3), NovitaRateLimited("x", retry_after=99)
    )

    assert await policy.call(attempt) == "ok"
    assert sleeps.calls == [3, 5]


async def test_gives_up_after_max_attempts_with_the_last_error() -> None:
    sleeps = RecordingSleep()
    retries: list[int] = []
    policy = RetryPolicy(max_attempts=3, sleep=sleeps)
    attempt = FailingThen(*(unavailable() for _ in range(5)))

    with pytest.raises(NovitaUnavailable) as caught:
        await policy.call(attempt, on_retry=lambda error, number, wait: retries.append(number))

    assert attempt.calls == 3
    assert retries == [1, 2]
    assert caught.value.details["attempts"] == 3


async def test_total_time_cap_counts_the_waits() -> None:
    sleeps = RecordingSleep()
    policy = RetryPolicy(max_attempts=10, max_total_seconds=4, max_retry_after=30, sleep=sleeps)
    attempt = FailingThen(*(NovitaRateLimited("x", retry_after=3) for _ in range(10)))

    with pytest.raises(NovitaRateLimited) as caught:
        await policy.call(attempt)

    # 3s fits in the 4s budget, a second 3s would not.
    assert sleeps.calls == [3]
    assert attempt.calls == 2
    assert caught.value.retry_after == 3


@pytest.mark.parametrize(
    "error",
    [
        NovitaBadRequest("bad", status=400),
        NovitaUnavailable("not implemented", status=501),
        CircuitOpen(12),
        ValueError("a bug"),
    ],
)
async def test_never_retries_the_rest(error: Exception) -> None:
    sleeps = RecordingSleep()
    attempt = FailingThen(error)
    with pytest.raises(type(error)):
        await RetryPolicy(sleep=sleeps).call(attempt)
    assert attempt.calls == 1
    assert sleeps.calls == []
    assert not is_retryable(error)


async def test_only_if_narrows_what_is_retried() -> None:
    sleeps = RecordingSleep()
    policy = RetryPolicy(sleep=sleeps).only_if(lambda error: isinstance(error, NovitaRateLimited))
    attempt = FailingThen(NovitaRateLimited("x", retry_after=1), unavailable(None))

    with pytest.raises(NovitaUnavailable) as caught:
        await policy.call(attempt)

    assert attempt.calls == 2
    assert not isinstance(caught.value, NovitaRateLimited)


def test_parse_retry_after() -> None:
    now = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("7") == 7
    assert parse_retry_after("1.5") == 1.5
    assert parse_retry_after("-3") == 0
    assert parse_retry_after("Wed, 01 Jan 2025 12:00:10 GMT", now=now) == 10
    assert parse_retry_after("") is None
    assert parse_retry_after(None) is None
    assert parse_retry_after("later") is None
