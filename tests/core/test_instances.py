"""The instance use cases against the emulator over real HTTP, on both store backends."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from novictl.clock import FrozenClock
from novictl.core import instances
from novictl.core.instances import CreateSpec
from novictl.errors import (
    AmbiguousName,
    ConflictError,
    NotFoundError,
    NovitaBadRequest,
    NovitaStateConflict,
    NovitaUnavailable,
)
from novictl.novita import NovitaClient
from novictl.store import StateStore

MakeInstance = Callable[..., str]


async def test_resolve_by_id_name_and_live_lookup(
    novita_client: NovitaClient, store: StateStore, make_instance: MakeInstance, frozen_clock: FrozenClock
) -> None:
    instance_id = make_instance("trainer")
    # Not in the store yet: found on Novita by name, then recorded (with its price).
    record = await instances.resolve(store, novita_client, "trainer", clock=frozen_clock)
    assert record.id == instance_id
    stored = await store.get(instance_id)
    assert stored is not None
    assert stored.price_per_hour == 0.35
    assert (await instances.resolve(store, novita_client, instance_id)).name == "trainer"
    # Known now: no further call to Novita.
    calls = sum(novita_client.stats.values())
    assert (await instances.resolve(store, novita_client, "trainer")).id == instance_id
    assert sum(novita_client.stats.values()) == calls


async def test_resolve_unknown_is_not_found_after_one_refresh(
    novita_client: NovitaClient, store: StateStore, emulator: Any
) -> None:
    with pytest.raises(NotFoundError) as info:
        await instances.resolve(store, novita_client, "nosuch")
    assert info.value.exit_code == 4
    assert info.value.message == "no instance with id or name 'nosuch'"
    assert emulator.state.calls["GET /gpu/instances"] == 1
    with pytest.raises(NotFoundError):
        await instances.resolve(store, novita_client, "0123456789abcdef")
    assert emulator.state.calls["GET /gpu/instance"] == 1


async def test_ambiguous_name_lists_candidates(
    novita_client: NovitaClient, store: StateStore, make_instance: MakeInstance
) -> None:
    first, second = make_instance("twin"), make_instance("twin", status="exited")
    with pytest.raises(AmbiguousName) as info:
        await instances.resolve(store, novita_client, "twin")
    assert info.value.exit_code == 2
    assert f"twin ({first}, running)" in info.value.details["candidates"]
    assert f"twin ({second}, exited)" in info.value.details["candidates"]
    # Both were recorded, so the store alone now answers the same way.
    with pytest.raises(AmbiguousName):
        await instances.resolve(store, novita_client, "twin", refresh=False)


async def test_stop_records_who_and_when_and_is_idempotent(
    novita_client: NovitaClient, store: StateStore, make_instance: MakeInstance, emulator: Any,
    frozen_clock: FrozenClock,
) -> None:  # fmt: skip
    instance_id = make_instance("box")
    record = await instances.resolve(store, novita_client, instance_id)
    outcome = await instances.stop(novita_client, store, record, clock=frozen_clock)
    assert (outcome.success, outcome.already, outcome.status) == (True, False, "toStop")
    stored = await store.get(instance_id)
    assert stored is not None
    assert stored.stopped_by == "user"
    assert stored.last_stopped_at == frozen_clock.now()
    events = await store.list_events(instance_id=instance_id, types=["instance.stopped"])
    assert [(e.actor, e.data["stoppedBy"]) for e in events] == [("user", "user")]

    # Stopping again: Novita says "invalid state change"; re-reading shows it is on its way → success.
    again = await instances.stop(novita_client, store, stored, clock=frozen_clock)
    assert again.success
    assert again.already
    assert emulator.state.instance_calls[instance_id]["stop"] == 2
    assert len(await store.list_events(instance_id=instance_id, types=["instance.stopped"])) == 1


async def test_start_records_last_started_and_clears_stopped_by(
    novita_client: NovitaClient, store: StateStore, make_instance: MakeInstance, frozen_clock: FrozenClock
) -> None:
    instance_id = make_instance("box", status="exited")
    record = await instances.resolve(store, novita_client, instance_id)
    await store.put(record.model_copy(update={"stopped_by": "autostop"}))
    record = await instances.resolve(store, novita_client, instance_id)
    frozen_clock.advance(minutes=5)
    outcome = await instances.start(novita_client, store, record, clock=frozen_clock)
    assert outcome.success
    assert not outcome.already
    stored = await store.get(instance_id)
    assert stored is not None
    assert stored.last_started_at == frozen_clock.now()
    assert stored.stopped_by is None
    # Already running → success, already.
    running = make_instance("other")
    other = await instances.resolve(store, novita_client, running)
    assert (await instances.start(novita_client, store, other)).already


async def test_real_state_conflict_names_the_status(
    novita_client: NovitaClient, store: StateStore, make_instance: MakeInstance, emulator: Any
) -> None:
    instance_id = make_instance("box", status="exited")
    record = await instances.resolve(store, novita_client, instance_id)
    with pytest.raises(NovitaStateConflict) as info:
        await instances.restart(novita_client, store, record)
    assert info.value.exit_code == 5
    assert info.value.message == f"cannot restart box ({instance_id}): it is exited"


async def test_failed_start_deletes_nothing(
    novita_client: NovitaClient, store: StateStore, make_instance: MakeInstance, emulator: Any
) -> None:
    instance_id = make_instance("box", status="exited")
    record = await instances.resolve(store, novita_client, instance_id)
    emulator.state.script_fault("status", status=400, path="/gpu/instance/start")
    with pytest.raises(NovitaBadRequest):
        await instances.start(novita_client, store, record)
    assert emulator.state.calls["POST /gpu/instance/delete"] == 0
    assert emulator.state.instance(instance_id)["status"] == "exited"


async def test_delete_records_an_event_and_wait_marks_it_gone(
    novita_client: NovitaClient, store: StateStore, make_instance: MakeInstance, frozen_clock: FrozenClock
) -> None:
    instance_id = make_instance("box")
    record = await instances.resolve(store, novita_client, instance_id)
    outcome = await instances.delete(novita_client, store, record, clock=frozen_clock)
    assert outcome.status == "toRemove"
    final = await instances.wait_and_record(
        novita_client, store, record, {"removed"}, timeout_seconds=5, poll_interval=0.01, clock=frozen_clock
    )
    assert final.status == "terminated"
    stored = await store.get(instance_id)
    assert stored is not None
    assert stored.terminated_at == frozen_clock.now()
    deleted = await store.list_events(instance_id=instance_id, types=["instance.deleted"])
    assert [(e.actor, e.data["from"]) for e in deleted] == [("user", "running")]
    # Gone: its name no longer resolves.
    with pytest.raises(NotFoundError):
        await instances.resolve(store, novita_client, "box")


class _InFlightCounter(httpx.AsyncBaseTransport):
    """A real HTTP transport that counts concurrent stop requests (the most seen at once)."""

    def __init__(self) -> None:
        self._inner = httpx.AsyncHTTPTransport()
        self.now = 0
        self.most = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        counted = request.url.path.endswith("/gpu/instance/stop")
        if counted:
            self.now += 1
            self.most = max(self.most, self.now)
        try:
            response = await self._inner.handle_async_request(request)
            await response.aread()
            return response
        finally:
            if counted:
                self.now -= 1

    async def aclose(self) -> None:
        await self._inner.aclose()


async def test_stop_many_is_bounded_and_survives_a_failure(
    novita_client_factory: Callable[..., Any], store: StateStore, make_instance: MakeInstance, emulator: Any
) -> None:
    from novictl.emulator import FaultConfig

    ids = [make_instance(f"box-{n}") for n in range(6)]
    transport = _InFlightCounter()
    client = await novita_client_factory(transport=transport)
    records = [await instances.resolve(store, client, instance_id) for instance_id in ids]
    emulator.state.set_faults(FaultConfig(latency_ms=40, paths=["POST /gpu/instance/stop"]))
    emulator.state.script_fault("status", status=400, path="/gpu/instance/stop")
    outcomes = await instances.stop_many(client, store, records, concurrency=2)
    assert transport.most == 2
    assert [o.instance_id for o in outcomes] == [r.id for r in records]
    failed = [o for o in outcomes if not o.success]
    assert len(failed) == 1
    assert isinstance(failed[0].error, NovitaBadRequest)
    assert failed[0].to_dict()["error"]["code"] == "novita_bad_request"
    for outcome in outcomes:
        if outcome.success:
            stored = await store.get(outcome.instance_id)
            assert stored is not None
            assert stored.stopped_by == "stop-all"
    stopped = [i for i in ids if emulator.state.instance(i)["status"] != "running"]
    assert len(stopped) == 5


async def test_create_picks_cheapest_available_in_region_order(
    novita_client: NovitaClient, store: StateStore, emulator: Any, frozen_clock: FrozenClock
) -> None:
    # EU-SE-01's H100 is cheaper but sold out: the next region's H100 is chosen instead.
    spec = CreateSpec(name="h", gpu="H100", regions=("EU-SE-01", "US-CA-06"), image="ubuntu",
                      webhook_url="https://hooks.example/abc")  # fmt: skip
    record = await instances.create(novita_client, store, spec, clock=frozen_clock)
    assert (record.product_id, record.region, record.price_per_hour) == ("h100-80g.16c200g", "US-CA-06", 2.49)
    live = emulator.state.instance(record.id)
    assert live["productId"] == "h100-80g.16c200g"
    assert (live["clusterId"], live["clusterName"]) == (
        "us-ca-6",
        "US-CA-06 (California)",
    )  # the id, not the code
    stored = await store.get(record.id)
    assert stored is not None
    assert stored.webhook_url == "https://hooks.example/abc"
    events = await store.list_events(instance_id=record.id)
    assert [e.type for e in events] == ["instance.created"]
    # Without regions the cheapest 4090 anywhere wins (Singapore's); in region order, California's.
    anywhere = await instances.create(novita_client, store, CreateSpec(name="a", gpu="4090", image="u"))
    assert anywhere.product_id == "4090.12c50g.sgp"
    ordered = await instances.create(
        novita_client, store, CreateSpec(name="b", gpu="4090", regions=("US-CA-06", "AS-SGP-02"), image="u")
    )
    assert (ordered.product_id, ordered.region) == ("4090.16c62g", "US-CA-06")


async def test_create_from_template_takes_image_ports_envs_and_auth(
    novita_client: NovitaClient, store: StateStore, emulator: Any
) -> None:
    spec = CreateSpec(name="priv", product_id="3090.8c40g", template_id="2", envs=(("A", "1"),))
    record = await instances.create(novita_client, store, spec)
    live = emulator.state.instance(record.id)
    assert live["imageUrl"] == "registry.acme.example/ml/trainer:1.4"
    assert live["imageAuthId"] == "auth-7f3a"
    assert [m["port"] for m in live["portMappings"]] == [8080]
    assert {"key": "A", "value": "1"} in live["envs"]
    assert live["rootfsSize"] == 100


async def test_duplicate_name_is_a_conflict_unless_allowed(
    novita_client: NovitaClient, store: StateStore, make_instance: MakeInstance, emulator: Any
) -> None:
    taken = make_instance("dup")
    with pytest.raises(ConflictError) as info:
        await instances.create(novita_client, store, CreateSpec(name="dup", gpu="3090", image="u"))
    assert info.value.exit_code == 5
    assert info.value.message == f"the name 'dup' is already used by {taken} (running)"
    assert emulator.state.calls["POST /gpu/instance/create"] == 0
    spec = CreateSpec(name="dup", gpu="3090", image="u", allow_duplicate_name=True)
    assert (await instances.create(novita_client, store, spec)).id != taken


async def test_lost_create_answer_makes_exactly_one_instance(
    novita_client_factory: Callable[..., Any], store: StateStore, emulator: Any
) -> None:
    async def short_sleep(seconds: float) -> None:
        await asyncio.sleep(min(seconds, 0.3))

    # The create hangs past the client's timeout, then happens: the answer is lost, the instance exists.
    client = await novita_client_factory(timeout=0.15, sleep=short_sleep)
    emulator.state.script_fault("slow", path="/gpu/instance/create", seconds=0.3)
    record = await instances.create(client, store, CreateSpec(name="once", gpu="3090", image="u"))
    assert emulator.state.calls["POST /gpu/instance/create"] == 1
    assert len(emulator.state) == 1
    assert emulator.state.instance(record.id)["name"] == "once"
    assert (await store.get(record.id)) is not None


async def test_dropped_create_is_never_posted_twice(
    novita_client: NovitaClient, store: StateStore, emulator: Any
) -> None:
    emulator.state.script_fault("drop", path="/gpu/instance/create")
    with pytest.raises(NovitaUnavailable) as info:
        await instances.create(novita_client, store, CreateSpec(name="once", gpu="3090", image="u"))
    assert info.value.exit_code == 6
    assert "may or may not have worked" in info.value.message
    assert emulator.state.calls["POST /gpu/instance/create"] == 1
    assert await store.get_all() == []


async def test_refresh_store_honours_its_ttl(
    novita_client: NovitaClient, store: StateStore, make_instance: MakeInstance, emulator: Any,
    frozen_clock: FrozenClock,
) -> None:  # fmt: skip
    make_instance("one")
    assert await instances.needs_refresh(store, clock=frozen_clock, max_age_seconds=30)
    await instances.refresh_store(novita_client, store, clock=frozen_clock, max_age_seconds=30)
    assert [r.name for r in await store.get_all()] == ["one"]
    lists = emulator.state.calls["GET /gpu/instances"]
    frozen_clock.advance(seconds=10)
    await instances.refresh_store(novita_client, store, clock=frozen_clock, max_age_seconds=30)
    assert emulator.state.calls["GET /gpu/instances"] == lists
    frozen_clock.advance(seconds=60)
    await instances.refresh_store(novita_client, store, clock=frozen_clock, max_age_seconds=30)
    assert emulator.state.calls["GET /gpu/instances"] == lists + 1


async def test_a_deleted_namesake_is_never_a_candidate(
    novita_client: NovitaClient, store: StateStore, make_instance: MakeInstance, frozen_clock: FrozenClock
) -> None:
    from novictl.core.pings import find_record

    old = await instances.resolve(store, novita_client, make_instance("t3"))
    await instances.delete(novita_client, store, old, clock=frozen_clock)  # recorded as toRemove
    new_id = make_instance("t3")
    assert (await instances.resolve(store, novita_client, "t3")).id == new_id
    assert (await find_record(store, "t3")).id == new_id  # touch, pin, set: the same answer
    await store.put_many(
        [old.model_copy(update={"status": "terminated", "terminated_at": frozen_clock.now()})]
    )
    assert (await find_record(store, "t3")).id == new_id


async def test_a_pin_written_while_a_stop_is_under_way_survives(
    novita_client: NovitaClient, store: StateStore, make_instance: MakeInstance, emulator: Any,
    frozen_clock: FrozenClock,
) -> None:  # fmt: skip
    from datetime import timedelta

    from novictl.core.autostop import pin_instance

    record = await instances.resolve(store, novita_client, make_instance("box"))
    emulator.state.script_fault("slow", path="POST /gpu/instance/stop", seconds=0.3)
    stopping = asyncio.ensure_future(instances.stop(novita_client, store, record, clock=frozen_clock))
    while emulator.state.calls["POST /gpu/instance/stop"] == 0:
        await asyncio.sleep(0.005)
    until = frozen_clock.now() + timedelta(hours=2)
    await pin_instance(store, record.id, until=until, clock=frozen_clock)  # lands before the stop's write

    assert (await stopping).status == "toStop"
    stored = await store.get(record.id)
    assert stored is not None
    assert (stored.status, stored.stopped_by) == ("toStop", "user")
    assert (stored.pinned_until, stored.policy_changed_at) == (until, frozen_clock.now())


async def test_stop_many_writes_the_store_once_for_the_whole_batch(
    novita_client: NovitaClient, store: StateStore, make_instance: MakeInstance, emulator: Any
) -> None:
    ids = [make_instance(f"box-{n}") for n in range(12)]
    records = [await instances.resolve(store, novita_client, instance_id) for instance_id in ids]
    emulator.state.script_fault("status", status=400, path="/gpu/instance/stop")  # one fails outright

    counted: Any = store
    trips = getattr(counted, "round_trips", None)  # Redis counts its round trips
    outcomes = await instances.stop_many(novita_client, store, records, concurrency=4)
    if trips is not None:
        # One merge of the changed fields (read, compare-and-set write) and one append of every event: the
        # same three round trips for 12 instances as for 1, where it was two (or more) per instance.
        assert counted.round_trips - trips == 2 + 1
    assert [o.success for o in outcomes].count(True) == 11
    stored = await store.get_many(ids)
    assert sum(1 for r in stored.values() if r.stopped_by == "stop-all") == 11
    events = await store.list_events(types=["instance.stopped", "instance.stop_failed"], limit=50)
    assert [e.type for e in events].count("instance.stopped") == 11
    assert [e.type for e in events].count("instance.stop_failed") == 1


async def test_an_unknown_template_is_not_found_and_named(
    novita_client: NovitaClient, store: StateStore
) -> None:
    with pytest.raises(NotFoundError) as info:
        await instances.create(novita_client, store, CreateSpec(name="t", gpu="4090", template_id="nope"))
    assert info.value.exit_code == 4
    assert info.value.message == "no template 'nope' on Novita"


async def test_the_store_is_as_fresh_as_the_end_of_its_last_sync(
    store: StateStore, frozen_clock: FrozenClock
) -> None:
    import json
    from datetime import timedelta

    started = frozen_clock.now() - timedelta(seconds=10)
    await store.set_meta("last_sync", json.dumps({"startedAt": started.isoformat(), "durationSeconds": 8.0}))
    # It ended 2 s ago: fresh for a 3 s TTL although it began 10 s ago.
    assert not await instances.needs_refresh(store, clock=frozen_clock, max_age_seconds=3)
    assert await instances.needs_refresh(store, clock=frozen_clock, max_age_seconds=1)
    assert await instances.needs_refresh(store, clock=frozen_clock, max_age_seconds=None)
    future = frozen_clock.now() + timedelta(minutes=5)  # a clock that went backwards: not trusted
    await store.set_meta("last_sync", json.dumps({"startedAt": future.isoformat(), "durationSeconds": 1.0}))
    assert await instances.needs_refresh(store, clock=frozen_clock, max_age_seconds=30)
