"""Locks with a TTL and an owner token, on both backends: exclusive, expiring, released only by the owner,
and never blocked for long by a holder that was killed."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import timedelta

import pytest

from novictl.clock import FrozenClock, utcnow
from novictl.errors import LockHeld
from novictl.store import StateStore, StoreOptions
from tests.fixtures.store import StoreFactory

REDIS_TTL = 0.05  # Redis expires keys by its own clock: a tiny real TTL


async def expire(store: StateStore, clock: FrozenClock, ttl: float) -> None:
    """Let a lock of ``ttl`` seconds run out: move the injected clock (SQLite) or wait it out (Redis)."""
    clock.advance(seconds=ttl + 0.001)
    if store.backend == "redis":
        await asyncio.sleep(ttl + 0.03)


async def test_lock_is_exclusive_until_released(make_store: StoreFactory) -> None:
    first, second = await make_store(), await make_store()
    token = await first.acquire_lock("sync", 60, owner="cli@host")
    assert token is not None
    assert token.startswith("cli@host:")
    assert await second.acquire_lock("sync", 60) is None
    assert await first.acquire_lock("sync", 60) is None  # not re-entrant either
    assert await second.lock_holder("sync") == token
    assert await second.acquire_lock("autostop", 60) is not None  # other names are independent

    assert await first.release_lock("sync", token) is True
    assert await second.lock_holder("sync") is None
    assert await second.acquire_lock("sync", 60) is not None


async def test_only_the_owner_releases_or_extends(store: StateStore) -> None:
    token = await store.acquire_lock("sync", 60)
    assert token is not None
    assert await store.release_lock("sync", "someone-else") is False
    assert await store.extend_lock("sync", "someone-else", 60) is False
    assert await store.acquire_lock("sync", 60) is None
    assert await store.release_lock("sync", token) is True
    assert await store.release_lock("sync", token) is False  # already released


async def test_lock_expires_after_its_ttl(store: StateStore, frozen_clock: FrozenClock) -> None:
    ttl = REDIS_TTL if store.backend == "redis" else 30
    token = await store.acquire_lock("sync", ttl)
    assert token is not None
    await expire(store, frozen_clock, ttl)
    assert await store.lock_holder("sync") is None
    new_token = await store.acquire_lock("sync", 60)
    assert new_token is not None
    assert new_token != token
    # the expired holder can no longer release or extend what is now someone else's
    assert await store.release_lock("sync", token) is False
    assert await store.extend_lock("sync", token, 60) is False
    assert await store.lock_holder("sync") == new_token


async def test_extend_keeps_the_lock_past_its_first_ttl(store: StateStore, frozen_clock: FrozenClock) -> None:
    ttl = REDIS_TTL if store.backend == "redis" else 30
    token = await store.acquire_lock("sync", ttl)
    assert token is not None
    assert await store.extend_lock("sync", token, 60) is True
    await expire(store, frozen_clock, ttl)
    assert await store.acquire_lock("sync", 60) is None
    assert await store.lock_holder("sync") == token


async def test_lock_context_raises_lock_held_and_releases_on_exit(make_store: StoreFactory) -> None:
    first, second = await make_store(), await make_store()
    async with first.lock("sync", 60) as token:
        assert await second.lock_holder("sync") == token
        with pytest.raises(LockHeld, match="sync already running") as caught:
            async with second.lock("sync", 60, held_message="sync already running"):
                pytest.fail("entered a held lock")
        assert caught.value.exit_code == 5
        assert caught.value.http_status == 409
    assert await second.lock_holder("sync") is None

    with pytest.raises(RuntimeError):
        async with first.lock("sync", 60):
            raise RuntimeError("the guarded work failed")
    assert await second.lock_holder("sync") is None  # released on error too


_HOLDER = textwrap.dedent(
    """
    import asyncio, sys, time
    from pathlib import Path
    from novictl.store import StoreOptions, open_store

    async def main():
        url, prefix, path, ttl = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
        store = await open_store(StoreOptions(url=url, key_prefix=prefix, sqlite_path=Path(path)))
        token = await store.acquire_lock("sync", ttl, owner="doomed")
        print("HELD" if token else "BUSY", flush=True)
        time.sleep(600)  # until killed

    asyncio.run(main())
    """
)


async def test_a_killed_holder_blocks_nobody_past_the_ttl(
    make_store: StoreFactory, store_options: StoreOptions
) -> None:
    ttl = 1.0 if store_options.backend == "redis" else 30
    store = await make_store(clock=FrozenClock(utcnow()))  # SQLite: the holder used the real clock
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            _HOLDER,
            store_options.url,
            store_options.key_prefix,
            str(store_options.sqlite_path),
            str(ttl),
        ],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": os.getcwd()},
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "HELD"
        assert await store.acquire_lock("sync", 60) is None
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=10)
        assert holder.returncode == -signal.SIGKILL
        assert await store.acquire_lock("sync", 60) is None  # the dead holder's TTL still runs

        if store.backend == "sqlite":
            store.clock.advance(timedelta(seconds=ttl + 1))  # type: ignore[attr-defined]
        token = None
        deadline = time.monotonic() + ttl + 5
        while token is None and time.monotonic() < deadline:
            token = await store.acquire_lock("sync", 60)
            if token is None:
                await asyncio.sleep(0.05)
        assert token is not None
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
