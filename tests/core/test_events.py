"""The audit trail: every stop path names who stopped, the pre-stop warning fires once per idle period, the
log is capped oldest first, and webhook events carry the instance as it is after the action."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from novictl.clock import FrozenClock
from novictl.config.models import AutoStopSettings
from novictl.core import events, instances
from novictl.core.autostop import record_ping, run_autostop
from novictl.novita import NovitaClient
from novictl.store import StateStore
from tests.fixtures.store import StoreFactory, sample_record

SETTINGS = AutoStopSettings(warn_before_minutes=0, activity=["pings"])  # idle 20m, grace 45m; stops at once


@pytest.fixture
def clock(frozen_clock: FrozenClock) -> FrozenClock:
    frozen_clock.advance(days=7)  # every time the emulator reports lies far in the past
    return frozen_clock


def running(emulator: Any, count: int) -> list[str]:
    ids: list[str] = emulator.state.seed_instances(count)
    for instance_id in ids:
        emulator.state.set_status(instance_id, "running")
    return ids


async def track(store: StateStore, clock: FrozenClock, instance_id: str, used_minutes_ago: float) -> None:
    now = clock.now()
    await store.put(
        sample_record(
            instance_id, now - timedelta(hours=5), last_started_at=now - timedelta(hours=3),
            last_used_at=now - timedelta(minutes=used_minutes_ago),
        )
    )  # fmt: skip


async def autostop(client: NovitaClient, store: StateStore, clock: FrozenClock, **changes: Any) -> None:
    settings = SETTINGS.model_copy(update=changes)
    await run_autostop(client=client, store=store, settings_autostop=settings, clock=clock, dry_run=False)


async def stopped_by(store: StateStore, instance_id: str) -> list[str]:
    logged = await store.list_events(instance_id=instance_id, types=[events.STOPPED])
    return [e.data["stoppedBy"] for e in logged]


async def test_every_stop_path_names_who_stopped(
    emulator: Any, novita_client: NovitaClient, store: StateStore, clock: FrozenClock
) -> None:
    by_user, by_all, idle, too_long = running(emulator, 4)
    for instance_id in (by_user, by_all):
        await track(store, clock, instance_id, used_minutes_ago=1)
    await track(store, clock, idle, used_minutes_ago=30)
    record = await store.get(by_user)
    assert record is not None
    await instances.stop(novita_client, store, record, stopped_by="user", clock=clock)
    all_record = await store.get(by_all)
    assert all_record is not None
    await instances.stop_many(novita_client, store, [all_record], stopped_by="stop-all", clock=clock)
    await autostop(novita_client, store, clock)
    await track(store, clock, too_long, used_minutes_ago=1)
    await autostop(novita_client, store, clock, max_runtime_minutes=60)

    assert await stopped_by(store, by_user) == ["user"]
    assert await stopped_by(store, by_all) == ["stop-all"]
    assert await stopped_by(store, idle) == ["autostop"]
    assert await stopped_by(store, too_long) == ["max-runtime"]
    (auto,) = await store.list_events(instance_id=idle, types=[events.AUTO_STOPPED])
    assert auto.data["idleSeconds"] == 30 * 60
    assert auto.data["thresholdSeconds"] == 20 * 60
    assert auto.instance is not None
    assert auto.instance["stoppedBy"] == "autostop"
    (user_stop,) = await store.list_events(instance_id=by_user, types=[events.STOPPED])
    # The snapshot is the instance after the action; the body has the documented shape.
    assert user_stop.instance is not None
    assert user_stop.instance["stoppedBy"] == "user"
    assert user_stop.actor == "user"
    assert user_stop.data["from"] == "running"
    body = events.webhook_body(user_stop)
    assert list(body) == ["id", "type", "occurredAt", "instance", "data"]
    # Every one of those is a webhook, queued in the outbox.
    queued = {(d.instance_id, d.event_type) for d in await store.list_deliveries(limit=100)}
    assert {(i, events.STOPPED) for i in (by_user, by_all, idle, too_long)} <= queued
    assert (idle, events.AUTO_STOPPED) in queued


async def test_the_pending_warning_fires_once_per_idle_period(
    emulator: Any, novita_client: NovitaClient, store: StateStore, clock: FrozenClock
) -> None:
    (instance_id,) = running(emulator, 1)
    await track(store, clock, instance_id, used_minutes_ago=16)  # warns from 15m, stops at 20m

    async def warnings() -> list[Any]:
        return await store.list_events(instance_id=instance_id, types=[events.AUTOSTOP_PENDING], limit=10)

    await autostop(novita_client, store, clock, warn_before_minutes=5)
    (warning,) = await warnings()
    assert warning.data["stopAt"] == (clock.now() + timedelta(minutes=4)).isoformat()
    assert warning.data["keep"]["touch"] == f"novictl touch {instance_id}"
    assert f"/api/instances/{instance_id}/last-used" in warning.data["keep"]["ping"]
    assert "novictl autostop pin" in warning.data["keep"]["pin"]

    clock.advance(minutes=2)
    await autostop(novita_client, store, clock, warn_before_minutes=5)
    assert len(await warnings()) == 1  # same idle period: no second warning

    await record_ping(store, instance_id, at=clock.now(), source="test", clock=clock)
    await autostop(novita_client, store, clock, warn_before_minutes=5)
    clock.advance(minutes=10)
    await autostop(novita_client, store, clock, warn_before_minutes=5)
    assert len(await warnings()) == 1  # the ping reset it: not idle enough yet

    clock.advance(minutes=6)  # 16 minutes since the ping: a new idle period reaches its warning
    await autostop(novita_client, store, clock, warn_before_minutes=5)
    assert len(await warnings()) == 2
    assert await stopped_by(store, instance_id) == []
    pending = [d for d in await store.list_deliveries() if d.event_type == events.AUTOSTOP_PENDING]
    assert len(pending) == 2


async def test_the_log_cap_drops_the_oldest_first(make_store: StoreFactory, clock: FrozenClock) -> None:
    store = await make_store(events_max=3)
    record = sample_record("i1", clock.now())
    made = []
    for minute in range(5):
        made.append(
            events.instance_event(
                events.PINNED, record, actor="user", now=clock.now() + timedelta(minutes=minute)
            )
        )
        await events.record_events(store, [made[-1]])
    assert [e.id for e in await store.list_events()] == [e.id for e in reversed(made[2:])]


def test_descriptions_read_as_a_story() -> None:
    from datetime import UTC, datetime

    now = datetime(2024, 6, 1, tzinfo=UTC)
    record = sample_record("i1", now, stopped_by="autostop")
    auto = events.instance_event(
        events.AUTO_STOPPED, record, actor="autostop", now=now, stoppedBy="autostop", idleSeconds=2220,
        thresholdSeconds=1200,
    )  # fmt: skip
    assert events.describe_event(auto) == "autostop: idle 37m >= 20m"
    stop = events.instance_event(events.STOPPED, record, actor="stop-all", now=now, stoppedBy="stop-all")
    assert events.describe_event(stop) == "by stop-all"
    assert set(events.WEBHOOK_TYPES) < set(events.EVENT_TYPES)
    assert events.DISCOVERED not in events.WEBHOOK_TYPES
