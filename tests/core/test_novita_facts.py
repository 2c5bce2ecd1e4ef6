"""The facts of live Novita that cost money or leak secrets, end to end against the emulator."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from typing import Any

import pytest

from novictl.core import events as audit
from novictl.core import instances
from novictl.core.record_mapping import record_from_instance
from novictl.core.sync import SyncOptions, sync_instances
from novictl.errors import NovictlError
from novictl.novita.models import Instance

OPTIONS = SyncOptions(page_size=100)


async def _raw_store_text(store_options: Any) -> str:
    """Everything the backend holds, as text: the SQLite file's bytes, or every Redis value under the
    prefix (hashes, sorted sets, strings)."""
    text: str
    if store_options.backend == "sqlite":
        with sqlite3.connect(store_options.sqlite_path) as connection:
            dump = "\n".join(connection.iterdump())
        text = dump + store_options.sqlite_path.read_bytes().decode("latin-1")
        return text
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(store_options.url, decode_responses=True)
    texts: list[str] = []
    try:
        async for key in client.scan_iter(match=store_options.key_prefix + "*"):
            kind = await client.type(key)
            values: Any = None
            if kind == "hash":
                values = [f"{k!s}={v!s}" for k, v in (await client.hgetall(key)).items()]
            elif kind == "zset":
                values = await client.zrange(key, 0, -1)
            elif kind == "string":
                values = [await client.get(key) or ""]
            elif kind == "list":
                values = await client.lrange(key, 0, -1)
            texts.extend(str(value) for value in values or ())
    finally:
        await client.aclose()
    return "\n".join(texts)


async def test_ssh_passwords_from_the_list_are_never_stored(
    emulator: Any, novita_client: Any, store: Any, store_options: Any
) -> None:
    ids = emulator.state.seed_instances(5)
    listed, _ = emulator.state.list_instances(page_size=100, page_index=0)
    passwords = [item["sshPassword"] for item in listed]
    assert all(len(password) >= 8 for password in passwords)  # the list really carries them

    await sync_instances(client=novita_client, store=store, options=OPTIONS)
    live = await novita_client.get_instance(ids[0])
    assert live.ssh_password is not None  # read, but hidden:
    assert "ssh_password" not in live.model_dump()
    assert passwords[-1] not in repr(live) + str(live.model_dump())

    raw = await _raw_store_text(store_options)
    assert ids[0] in raw  # the dump does hold the records
    assert not [password for password in passwords if password in raw]


def test_instance_price_and_stopped_price_win_over_the_product() -> None:
    instance = Instance.model_validate(
        {
            "id": "a" * 16,
            "status": "exited",
            "gpuNum": "2",
            "instancePrice": "70000",
            "exitedLocalStoragePrice": "840",
            "clusterId": "us-ca-6",
            "clusterName": "US-CA-06 (California)",
        }
    )
    record = record_from_instance(instance, None, None, _now())
    assert record.price_per_hour == pytest.approx(0.7)
    assert record.stopped_price_per_hour == pytest.approx(0.0084)
    assert record.region == "US-CA-06"  # the readable code, not Novita's cluster id


async def test_spot_reclaim_notice_becomes_one_event_and_webhook(
    emulator: Any, novita_client: Any, store: Any
) -> None:
    [instance_id] = emulator.state.seed_instances(1)
    await sync_instances(client=novita_client, store=store, options=OPTIONS)
    emulator.state.notify_spot_reclaim(instance_id)

    await sync_instances(client=novita_client, store=store, options=OPTIONS)
    await sync_instances(client=novita_client, store=store, options=OPTIONS)

    [event] = await store.list_events(types=[audit.SPOT_RECLAIM_NOTICE])
    assert event.instance_id == instance_id
    assert event.data["reclaimAt"]
    assert audit.SPOT_RECLAIM_NOTICE in audit.WEBHOOK_TYPES
    record = await store.get(instance_id)
    assert record is not None
    assert record.spot_status == "notified"


async def test_data_expiring_fires_once_a_day_before_novita_deletes_it(
    emulator_factory: Any, novita_client_factory: Any, store: Any, frozen_clock: Any
) -> None:
    clock = frozen_clock
    server = emulator_factory(clock=lambda: clock.now().timestamp(), step_delay=1.0)
    client = await novita_client_factory(base_url=server.base_url, api_key=server.api_key)
    [instance_id] = server.state.seed_instances(1)
    server.state.set_status(instance_id, "running")
    await client.stop_instance(instance_id)
    clock.advance(seconds=3)  # stopping takes two emulated steps

    await sync_instances(client=client, store=store, options=OPTIONS, clock=clock)
    record = await store.get(instance_id)
    assert record is not None
    assert record.last_stopped_at is not None
    stopped_at = record.last_stopped_at
    clock.advance(days=5, hours=23)
    await sync_instances(client=client, store=store, options=OPTIONS, clock=clock)
    assert await store.list_events(types=[audit.DATA_EXPIRING]) == []

    clock.advance(hours=1, minutes=1)  # now less than a day is left
    await sync_instances(client=client, store=store, options=OPTIONS, clock=clock)
    clock.advance(hours=1)
    await sync_instances(client=client, store=store, options=OPTIONS, clock=clock)

    [event] = await store.list_events(types=[audit.DATA_EXPIRING])
    assert event.data["dataKeptUntil"] == (stopped_at + timedelta(days=7)).isoformat()
    assert audit.DATA_EXPIRING in audit.WEBHOOK_TYPES


async def test_a_start_without_capacity_says_so_and_deletes_nothing(
    emulator: Any, novita_client: Any, store: Any
) -> None:
    [instance_id] = emulator.state.seed_instances(1)
    emulator.state.set_status(instance_id, "exited")
    await sync_instances(client=novita_client, store=store, options=OPTIONS)
    emulator.state.take_capacity(instance_id)
    record = await store.get(instance_id)

    with pytest.raises(NovictlError) as caught:
        await instances.start(novita_client, store, record)

    assert caught.value.exit_code == 1
    assert "taken" in caught.value.message
    assert "nothing was deleted" in caught.value.message
    assert "later" in (caught.value.hint or "")
    assert emulator.state.instance_calls[instance_id]["delete"] == 0
    assert emulator.state.instance(instance_id)["status"] == "exited"
    assert (await store.get(instance_id)).status == "exited"

    emulator.state.take_capacity(instance_id, taken=False)
    outcome = await instances.start(novita_client, store, record)
    assert outcome.success


def _now() -> Any:
    from novictl.clock import utcnow

    return utcnow()
