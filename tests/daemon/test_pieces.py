"""The daemon's small parts: ping coalescing, the rate limiter's refill, secret masking in logs."""

from __future__ import annotations

import io
import json
import logging
from datetime import timedelta

import pytest

from novictl.daemon.http.ratelimit import RateLimiter
from novictl.daemon.logs import JsonFormatter, SecretFilter
from novictl.daemon.pings import PingBuffer
from tests.fixtures.store import sample_record


async def test_pings_coalesce_to_the_latest_per_instance_in_one_write(store, frozen_clock) -> None:
    now = frozen_clock.now()
    await store.put_many([sample_record("a", now), sample_record("b", now)])
    buffer = PingBuffer(store)
    for minutes in (5, 1, 3):
        buffer.add("a", now - timedelta(minutes=minutes), "job")
    buffer.add("b", now - timedelta(minutes=9), "nb")
    assert len(buffer) == 2

    assert await buffer.flush() == 2
    assert len(buffer) == 0
    assert (await store.get("a")).last_used_at == now - timedelta(minutes=1)
    assert (await store.get("b")).last_used_source == "nb"
    assert await buffer.flush() == 0


def test_rate_limiter_refills_over_time() -> None:
    clock = [0.0]
    limiter = RateLimiter(60, monotonic=lambda: clock[0])  # one a second, bursts of 60
    assert all(limiter.check("c") == 0.0 for _ in range(60))
    wait = limiter.check("c")
    assert 0.9 <= wait <= 1.0
    clock[0] += 1.0
    assert limiter.check("c") == 0.0
    assert limiter.check("other") == 0.0


def test_logs_mask_secrets_in_json_lines() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(SecretFilter(["tok-123456", "sk_live_abcdef"]))
    logger = logging.getLogger("test-daemon-secrets")  # not novictl's: its configuration stays untouched
    logger.addHandler(handler)
    try:
        logger.warning("header was Bearer %s and key %s", "tok-123456", "sk_live_abcdef")
    finally:
        logger.removeHandler(handler)
    line = json.loads(stream.getvalue().splitlines()[-1])
    assert line["level"] == "warning"
    assert line["message"] == "header was Bearer **** and key ****"


async def test_an_action_started_over_http_outlives_its_request(daemon_harness) -> None:
    import asyncio

    harness = await daemon_harness()
    ctx = harness.ctx
    release = asyncio.Event()
    finished: list[int] = []

    async def stop_things() -> int:
        await release.wait()
        finished.append(1)
        return 7

    request = asyncio.ensure_future(ctx.outlive_request(stop_things()))
    await asyncio.sleep(0)
    request.cancel()  # the client hung up, or uvicorn is shutting down
    with pytest.raises(asyncio.CancelledError):
        await request
    assert len(ctx.acting) == 1  # still running: shutdown waits for it before closing the store
    release.set()
    await asyncio.wait(set(ctx.acting))
    assert finished == [1]
    assert not ctx.acting
