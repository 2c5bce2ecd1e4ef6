"""What only the Redis backend does: few round trips for bulk work, the key prefix, passwords kept out of
messages, lost scripts, and a server that is down."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from novictl.clock import FrozenClock
from novictl.errors import StoreError
from novictl.store import StoreOptions, open_store
from novictl.store.redis_backend import SCHEMA_VERSION, RedisStore, redact_url
from tests.fixtures.redis_server import RedisServer, free_port, start_redis_server
from tests.fixtures.store import sample_record

pytestmark = pytest.mark.redis


@pytest.fixture
async def raw(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_url, decode_responses=True)
    yield client
    await client.aclose()


@pytest.fixture
async def redis_store(
    redis_url: str, frozen_clock: FrozenClock, raw: aioredis.Redis
) -> AsyncIterator[RedisStore]:
    prefix = f"rt-{uuid.uuid4().hex[:12]}:"
    store = await open_store(StoreOptions(url=redis_url, key_prefix=prefix), clock=frozen_clock)
    assert isinstance(store, RedisStore)
    yield store
    await store.close()
    keys = [key async for key in raw.scan_iter(match=prefix + "*")]
    if keys:
        await raw.delete(*keys)


async def command_calls(raw: aioredis.Redis) -> dict[str, int]:
    stats = await raw.info("commandstats")
    return {name.removeprefix("cmdstat_"): int(values["calls"]) for name, values in stats.items()}


def delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {
        name: calls - before.get(name, 0) for name, calls in after.items() if calls != before.get(name, 0)
    }


async def test_bulk_operations_cost_one_round_trip(
    redis_store: RedisStore, raw: aioredis.Redis, frozen_clock: FrozenClock
) -> None:
    now = frozen_clock.now()
    records = [sample_record(f"i{n:05d}", now) for n in range(2500)]
    ids = [r.id for r in records]

    before, trips = await command_calls(raw), redis_store.round_trips
    await redis_store.put_many(records)
    assert redis_store.round_trips - trips == 1
    assert delta(before, await command_calls(raw)).get("evalsha") == 3  # one script call per 1000 records

    before, trips = await command_calls(raw), redis_store.round_trips
    assert len(await redis_store.get_all()) == 2500
    assert redis_store.round_trips - trips == 1
    calls = delta(before, await command_calls(raw))
    assert calls.get("hgetall") == 2
    assert "hget" not in calls
    assert "hmget" not in calls

    trips = redis_store.round_trips
    assert len(await redis_store.get_many(ids)) == 2500
    assert await redis_store.update_last_used(dict.fromkeys(ids, (now, "bulk"))) == 2500
    assert await redis_store.delete_many(ids[:2000]) == 2000
    assert redis_store.round_trips - trips == 3


async def test_every_key_is_under_the_prefix(
    redis_store: RedisStore, raw: aioredis.Redis, frozen_clock: FrozenClock
) -> None:
    from novictl.store import Event

    now = frozen_clock.now()
    await redis_store.put(sample_record("a", now))
    await redis_store.update_last_used({"a": (now, "api")})
    await redis_store.acquire_lock("sync", 60)
    await redis_store.append_events([Event(type="x", occurred_at=now)])
    await redis_store.incr_counters({"n": 1})
    await redis_store.set_meta("k", "v")
    keys = [key async for key in raw.scan_iter(match=redis_store.prefix + "*")]
    assert len(keys) >= 9
    assert await raw.get(redis_store.prefix + "schema") == str(SCHEMA_VERSION)


async def test_scripts_lost_by_redis_are_reloaded(
    redis_store: RedisStore, raw: aioredis.Redis, frozen_clock: FrozenClock
) -> None:
    await raw.script_flush()
    await redis_store.put(sample_record("a", frozen_clock.now()))
    token = await redis_store.acquire_lock("sync", 60)
    assert token is not None
    await raw.script_flush()
    assert await redis_store.release_lock("sync", token) is True
    assert await redis_store.get("a") is not None


async def test_a_newer_layout_is_refused(redis_url: str, raw: aioredis.Redis) -> None:
    prefix = f"v-{uuid.uuid4().hex[:12]}:"
    await raw.set(prefix + "schema", SCHEMA_VERSION + 1)
    try:
        with pytest.raises(StoreError, match="layout version"):
            await open_store(StoreOptions(url=redis_url, key_prefix=prefix))
    finally:
        await raw.delete(prefix + "schema")


def test_redact_url_hides_only_the_password() -> None:
    assert redact_url("redis://:s3cret@host:6380/2") == "redis://:****@host:6380/2"
    assert (
        redact_url("rediss://user:s3cret@host/0?ssl_cert_reqs=none")
        == "rediss://user:****@host/0?ssl_cert_reqs=none"
    )
    assert redact_url("redis://host:6379/0") == "redis://host:6379/0"


async def test_password_comes_with_the_url_and_stays_out_of_messages(tmp_path: Path) -> None:
    password = "pw-" + uuid.uuid4().hex
    server = start_redis_server(tmp_path / "auth", password=password)
    try:
        store = await open_store(StoreOptions(url=server.url))
        try:
            await store.ping()
            assert password not in repr(store)
            assert password not in str(vars(store))
        finally:
            await store.close()

        wrong = server.url.replace(password, "wrong-" + password[:6])
        with pytest.raises(StoreError) as caught:
            await open_store(StoreOptions(url=wrong))
        assert caught.value.hint is not None
        assert "password" in caught.value.hint
        assert password[:6] not in caught.value.message
    finally:
        server.stop()


async def test_redis_down_is_a_store_error(tmp_path: Path, frozen_clock: FrozenClock) -> None:
    with pytest.raises(StoreError, match="Redis state store"):
        await open_store(StoreOptions(url=f"redis://127.0.0.1:{free_port()}/0"))

    server: RedisServer = start_redis_server(tmp_path / "doomed")
    store = await open_store(StoreOptions(url=server.url), clock=frozen_clock)
    try:
        await store.put(sample_record("a", frozen_clock.now()))
        server.stop()
        for operation in (
            store.get_all(),
            store.get("a"),
            store.put(sample_record("b", frozen_clock.now())),
            store.acquire_lock("sync", 60),
            store.ping(),
        ):
            with pytest.raises(StoreError) as caught:
                await operation
            assert caught.value.http_status == 503
    finally:
        server.stop()
        await store.close()
