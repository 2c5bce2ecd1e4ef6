"""After a lifecycle action through the daemon, the instance is followed until Novita reports it settled:
the store shows ``exited``/``running`` (and ``instance.ready``) without waiting for a sync. Stop all with
``instanceIds`` stops exactly those. The scheduled sweep re-reads only stale transitional instances."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from novictl.clock import FrozenClock, utcnow
from novictl.daemon.jobs import JobRunner, JobSchedule
from tests.fixtures.daemon import seed_running

FAST_POLL = 0.02


async def fast_harness(daemon_harness, **kwargs):
    harness = await daemon_harness(**kwargs)
    harness.ctx.settler.poll_seconds = FAST_POLL
    harness.ctx.settler.timeout_seconds = 5.0
    return harness


async def synced(harness) -> None:
    response = await harness.http.post("/api/instances/sync", json={})
    assert response.status_code == 200, response.text


async def test_a_stop_is_recorded_exited_without_a_sync(daemon_harness, emulator) -> None:
    harness = await fast_harness(daemon_harness)
    target, bystander = seed_running(emulator, 2)
    await synced(harness)
    syncs = emulator.state.calls["GET /gpu/instances"]

    answer = await harness.http.post(f"/api/instances/{target}/stop")
    assert answer.status_code == 202
    assert answer.json()["status"] == "toStop"
    assert harness.ctx.settler.following == {target}
    await asyncio.wait_for(harness.ctx.settler.wait_idle(), 5)

    listed = {i["id"]: i for i in (await harness.http.get("/api/instances")).json()["instances"]}
    assert listed[target]["status"] == "exited"
    assert listed[bystander]["status"] == "running"
    assert emulator.state.calls["GET /gpu/instances"] == syncs  # no sync (list) was needed
    assert emulator.state.instance_calls[bystander]["get"] == 0  # only the acted instance is read
    assert harness.ctx.index.counts_by_status().get("exited") == 1


async def test_a_start_records_running_and_emits_instance_ready(daemon_harness, emulator) -> None:
    harness = await fast_harness(daemon_harness)
    (target,) = seed_running(emulator, 1)
    emulator.state.set_status(target, "exited")
    await synced(harness)

    answer = await harness.http.post(f"/api/instances/{target}/start")
    assert answer.json()["status"] == "toStart"
    await asyncio.wait_for(harness.ctx.settler.wait_idle(), 5)

    assert (await harness.ctx.store.get(target)).status == "running"
    found = await harness.http.get("/api/events", params={"instanceId": target, "type": "instance.ready"})
    ready = found.json()["events"]
    assert len(ready) == 1
    assert ready[0]["data"]["from"] == "toStart"
    assert ready[0]["summary"] == "ready: running (was toStart)"


async def test_a_second_request_for_one_instance_starts_no_second_poller(daemon_harness, emulator) -> None:
    harness = await daemon_harness()
    harness.ctx.settler.poll_seconds = 0.2  # both requests land while the first poller sleeps
    (target,) = seed_running(emulator, 1)
    await synced(harness)

    await harness.http.post(f"/api/instances/{target}/stop")
    again = await harness.http.post(f"/api/instances/{target}/stop")
    assert again.json()["already"] is True
    pollers = [t for t in asyncio.all_tasks() if t.get_name() == f"settle-{target}"]
    assert len(pollers) == 1
    await asyncio.wait_for(harness.ctx.settler.wait_idle(), 5)
    assert (await harness.ctx.store.get(target)).status == "exited"
    assert harness.ctx.settler.following == frozenset()


async def test_close_cancels_the_followers(daemon_harness, emulator) -> None:
    harness = await daemon_harness()
    harness.ctx.settler.poll_seconds = 60.0
    (target,) = seed_running(emulator, 1)
    await synced(harness)
    await harness.http.post(f"/api/instances/{target}/stop")
    (poller,) = [t for t in asyncio.all_tasks() if t.get_name() == f"settle-{target}"]
    await asyncio.wait_for(harness.ctx.settler.close(), 2)
    assert poller.cancelled()
    assert harness.ctx.settler.following == frozenset()
    harness.ctx.settler.follow(target)  # closed: nothing new starts during shutdown
    assert harness.ctx.settler.following == frozenset()


async def test_stop_all_with_instance_ids_stops_exactly_those_still_running(daemon_harness, emulator) -> None:
    harness = await fast_harness(daemon_harness)
    a, b, c, d = seed_running(emulator, 4)
    emulator.state.set_status(d, "exited")
    await synced(harness)

    preview = await harness.http.post("/api/instances/stop-all", json={"dryRun": True, "instanceIds": [a, b]})
    body = preview.json()
    assert {r["instanceId"] for r in body["results"]} == {a, b}
    prices = [r["pricePerHour"] for r in body["results"]]
    assert body["usdPerHour"] == round(sum(p or 0 for p in prices), 4) > 0

    answer = await harness.http.post("/api/instances/stop-all", json={"instanceIds": [a, d, "no-such-id"]})
    assert answer.status_code == 200, answer.text
    result = answer.json()
    assert result["count"] == 1
    assert [r["instanceId"] for r in result["results"]] == [a]
    assert emulator.state.instance_calls[a]["stop"] == 1
    assert all(emulator.state.instance_calls[i]["stop"] == 0 for i in (b, c, d))
    await asyncio.wait_for(harness.ctx.settler.wait_idle(), 5)
    assert (await harness.ctx.store.get(a)).status == "exited"
    assert (await harness.ctx.store.get(a)).stopped_by == "stop-all"

    # Without instanceIds: the seed's behaviour, every running instance.
    rest = (await harness.http.post("/api/instances/stop-all", json={})).json()
    assert {r["instanceId"] for r in rest["results"]} == {b, c}


async def test_the_sweep_rereads_only_stale_transitional_instances(daemon_harness, emulator) -> None:
    clock = FrozenClock(utcnow())
    harness = await daemon_harness(clock=clock)
    stuck, fresh, stable = seed_running(emulator, 3)
    await synced(harness)
    store = harness.ctx.store
    # The CLI stopped two of them (no follow-up), one long ago; Novita has finished both.
    for instance_id in (stuck, fresh):
        record = await store.get(instance_id)
        await store.put_many([record.model_copy(update={"status": "toStop"})], fields={"status"})
        emulator.state.set_status(instance_id, "exited")
    emulator.state.set_status(stable, "exited")  # stored as running: a sync's business, not the sweep's
    clock.advance(timedelta(seconds=90))
    record = await store.get(fresh)
    await store.put_many(
        [record.model_copy(update={"last_stopped_at": clock.now()})], fields={"last_stopped_at"}
    )
    emulator.state.reset_calls()

    schedule = JobSchedule(autostop_seconds=60, sync_seconds=None, purge_seconds=3600, heartbeat_seconds=5)
    runner = JobRunner(harness.ctx, schedule)
    assert await runner.settle() == "ran"

    assert (await store.get(stuck)).status == "exited"
    assert (await store.get(fresh)).status == "toStop"  # recorded 0 s ago: not stale yet
    assert (await store.get(stable)).status == "running"
    assert dict(emulator.state.instance_calls) == {stuck: {"get": 1}}
    assert emulator.state.calls["GET /gpu/instances"] == 0
    await runner.release_locks()
