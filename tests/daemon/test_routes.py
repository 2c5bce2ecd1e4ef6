"""Every route of the daemon's HTTP API, its JSON shape and status, in-process against the emulator."""

from __future__ import annotations

from datetime import timedelta

import pytest

from novictl.clock import FrozenClock, utcnow
from novictl.core.sync import SYNC_LOCK
from tests.fixtures.daemon import seed_running


async def synced(harness):
    response = await harness.http.post("/api/instances/sync", json={})
    assert response.status_code == 200, response.text
    return response.json()


async def test_ping_is_acknowledged_buffered_and_flushed_into_the_store(daemon_harness, emulator) -> None:
    harness = await daemon_harness()
    (instance_id,) = seed_running(emulator, 1)
    await synced(harness)
    before = emulator.state.calls.copy()

    response = await harness.http.put(f"/api/instances/{instance_id}/last-used", json={})
    assert response.status_code == 200
    body = response.json()
    assert body["instanceId"] == instance_id
    assert body["message"]
    assert (await harness.ctx.store.get(instance_id)).last_used_at is None  # buffered, not written yet
    assert emulator.state.calls == before  # a known id costs Novita nothing

    assert await harness.ctx.pings.flush() == 1
    stored = await harness.ctx.store.get(instance_id)
    assert stored.last_used_at.isoformat() == body["lastUsedAt"]
    assert stored.last_used_source == "api"


async def test_ping_by_name_with_a_time_and_a_future_time_clamped(daemon_harness, emulator) -> None:
    clock = FrozenClock(utcnow().replace(microsecond=0))
    harness = await daemon_harness(clock=clock)
    (instance_id,) = seed_running(emulator, 1)
    await synced(harness)
    name = (await harness.ctx.store.get(instance_id)).name

    past = (clock.now() - timedelta(minutes=5)).isoformat()
    response = await harness.http.put(f"/api/instances/{name}/last-used", json={"lastUsedAt": past})
    assert response.json() == {
        "instanceId": instance_id,
        "lastUsedAt": past,
        "message": "last used time updated",
    }
    future = (clock.now() + timedelta(days=3)).isoformat()
    response = await harness.http.put(f"/api/instances/{instance_id}/last-used", json={"lastUsedAt": future})
    assert response.status_code == 200
    assert response.json()["lastUsedAt"] == clock.now().isoformat()
    await harness.ctx.pings.flush()
    assert (await harness.ctx.store.get(instance_id)).last_used_at == clock.now()  # the max of both pings


async def test_ping_for_an_instance_only_novita_knows_adopts_it(daemon_harness, emulator) -> None:
    harness = await daemon_harness()
    (instance_id,) = seed_running(emulator, 1)  # never synced

    response = await harness.http.put(f"/api/instances/{instance_id}/last-used")
    assert response.status_code == 200
    adopted = await harness.ctx.store.get(instance_id)
    assert adopted is not None
    assert adopted.status == "running"
    events = await harness.ctx.store.list_events(instance_id=instance_id)
    assert [e.type for e in events] == ["instance.discovered"]


async def test_ping_for_an_unknown_instance_is_404_and_asks_novita_once(daemon_harness, emulator) -> None:
    harness = await daemon_harness()
    for _ in range(3):
        response = await harness.http.put("/api/instances/0123456789abcdef/last-used", json={})
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"
        assert response.json()["error"]["requestId"]
    assert emulator.state.calls["GET /gpu/instance"] == 1  # then remembered as missing


async def test_list_and_show_instances(daemon_harness, emulator) -> None:
    harness = await daemon_harness()
    ids = seed_running(emulator, 2)
    await synced(harness)

    listing = (await harness.http.get("/api/instances")).json()
    assert listing["total"] == 2
    assert {item["id"] for item in listing["instances"]} == set(ids)
    item = listing["instances"][0]
    for key in ("name", "status", "pricePerHour", "lastUsedAt", "idleSeconds", "autoStop"):
        assert key in item
    assert item["autoStop"]["label"]
    assert (await harness.http.get("/api/instances", params={"status": "exited"})).json()["total"] == 0

    one = await harness.http.get(f"/api/instances/{listing['instances'][1]['name']}")
    assert one.status_code == 200
    assert one.json()["id"] == listing["instances"][1]["id"]
    missing = await harness.http.get("/api/instances/no-such-box")
    assert missing.status_code == 404


async def test_lifecycle_by_id_and_by_name(daemon_harness, emulator) -> None:
    harness = await daemon_harness()
    first, second = seed_running(emulator, 2)
    await synced(harness)
    second_name = (await harness.ctx.store.get(second)).name

    stopped = await harness.http.post(f"/api/instances/{first}/stop")
    assert stopped.status_code == 202
    assert stopped.json()["instanceId"] == first
    assert stopped.json()["action"] == "stop"
    assert stopped.json()["success"] is True
    assert emulator.state.instance_calls[first]["stop"] == 1

    named = await harness.http.post("/api/instances/stop", json={"instanceName": second_name})
    assert named.status_code == 202
    assert named.json()["instanceId"] == second
    emulator.state.set_status(second, "exited")

    started = await harness.http.post("/api/instances/start", json={"instanceName": second_name})
    assert started.status_code == 202
    assert started.json()["action"] == "start"
    deleted = await harness.http.delete(f"/api/instances/{first}")
    assert deleted.status_code == 202
    assert deleted.json()["action"] == "delete"
    assert emulator.state.instance_calls[first]["delete"] == 1
    gone = await harness.http.post("/api/instances/delete", json={"instanceName": "nobody-has-this-name"})
    assert gone.status_code == 404


async def test_delete_then_create_a_namesake_and_the_name_pings_the_new_one(daemon_harness, emulator) -> None:
    harness = await daemon_harness()
    body = {"name": "t3", "gpu": "4090", "image": "pytorch/pytorch:latest"}
    old = (await harness.http.post("/api/instances", json=body)).json()["id"]
    emulator.state.set_status(old, "running")
    assert (await harness.http.delete(f"/api/instances/{old}")).status_code == 202
    new = (await harness.http.post("/api/instances", json=body)).json()["id"]

    for refresh in (False, True):  # what the daemon learnt itself, then the store's view
        if refresh:
            await harness.ctx.index.refresh()
        ping = await harness.http.put("/api/instances/t3/last-used", json={})
        assert ping.status_code == 200, ping.text
        assert ping.json()["instanceId"] == new
    # The deleted one answers by id no more either, as in the CLI.
    assert (await harness.http.put(f"/api/instances/{old}/last-used", json={})).status_code == 404


async def test_create_instance_returns_201(daemon_harness, emulator) -> None:
    harness = await daemon_harness()
    response = await harness.http.post(
        "/api/instances", json={"name": "api-made", "gpu": "4090", "image": "pytorch/pytorch:latest"}
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["name"] == "api-made"
    assert (await harness.ctx.store.get(body["id"])) is not None
    bad = await harness.http.post("/api/instances", json={"name": "x", "image": "y"})  # no gpu nor product
    assert bad.status_code == 400
    assert bad.json()["error"]["message"] == 'give exactly one of "productId" or "gpu"'  # no CLI flags
    no_image = await harness.http.post("/api/instances", json={"name": "x", "gpu": "4090"})
    assert no_image.json()["error"]["message"] == 'give "image" or "templateId"'


async def test_autostop_trigger_is_a_dry_run_by_default(daemon_harness, emulator) -> None:
    clock = FrozenClock(utcnow())
    harness = await daemon_harness(clock=clock)
    ids = seed_running(emulator, 2)
    await synced(harness)
    clock.advance(days=3)

    report = (await harness.http.post("/api/instances/auto-stop/trigger")).json()
    assert report["dryRun"] is True
    assert report["totals"]["stop"] == 2
    assert {e["instanceId"] for e in report["entries"]} == set(ids)
    assert sum(emulator.state.instance_calls[i]["stop"] for i in ids) == 0

    real = (await harness.http.post("/api/instances/auto-stop/trigger", json={"dryRun": False})).json()
    assert real["dryRun"] is False
    assert real["totals"]["stopped"] == 2
    assert all(emulator.state.instance_calls[i]["stop"] == 1 for i in ids)

    stats = (await harness.http.get("/api/instances/auto-stop/stats")).json()
    assert stats["settings"]["idleMinutes"] == 20
    assert stats["counters"]["stops"] == 2
    assert stats["lastRun"]["dryRun"] is False
    assert stats["savings"]["stillStopped"] == 2


async def test_a_buffered_ping_counts_in_the_next_autostop_check(daemon_harness, emulator) -> None:
    clock = FrozenClock(utcnow())
    harness = await daemon_harness(clock=clock)
    (instance_id,) = seed_running(emulator, 1)
    await synced(harness)
    clock.advance(days=3)
    assert (await harness.http.put(f"/api/instances/{instance_id}/last-used")).status_code == 200

    report = (await harness.http.post("/api/instances/auto-stop/trigger", json={"dryRun": False})).json()
    assert report["totals"]["keep"] == 1
    assert emulator.state.instance_calls[instance_id]["stop"] == 0


async def test_sync_route_and_409_while_another_sync_runs(daemon_harness, emulator) -> None:
    harness = await daemon_harness()
    seed_running(emulator, 3)
    dry = (await harness.http.post("/api/instances/sync", json={"dryRun": True})).json()
    assert dry["dryRun"] is True
    assert dry["adopted"] == 3
    assert await harness.ctx.store.get_all() == []

    token = await harness.ctx.store.acquire_lock(SYNC_LOCK, 60)
    assert token is not None
    busy = await harness.http.post("/api/instances/sync")
    assert busy.status_code == 409
    assert busy.json()["error"]["code"] == "lock_held"
    assert "already running" in busy.json()["error"]["message"]
    await harness.ctx.store.release_lock(SYNC_LOCK, token)

    done = (await harness.http.post("/api/instances/sync", json={"handleObsoleteInstances": False})).json()
    assert done["adopted"] == 3
    assert done["seen"] == 3


async def test_stop_all_shape(daemon_harness, emulator) -> None:
    harness = await daemon_harness()
    ids = seed_running(emulator, 3)
    emulator.state.script_fault("status", status=400, count=1, path="/gpu/instance/stop")

    dry = (await harness.http.post("/api/instances/stop-all", json={"dryRun": True})).json()
    assert dry["count"] == 3
    assert dry["failed"] == 0
    assert dry["dryRun"] is True
    assert sum(emulator.state.instance_calls[i]["stop"] for i in ids) == 0

    body = (await harness.http.post("/api/instances/stop-all")).json()
    assert set(body) >= {"count", "failed", "results"}
    assert body["count"] + body["failed"] == 3
    assert {r["instanceId"] for r in body["results"]} == set(ids)
    assert body["failed"] == 1
    failed = [r for r in body["results"] if not r["success"]]
    assert failed[0]["error"]


async def test_events_route(daemon_harness, emulator) -> None:
    harness = await daemon_harness()
    first, _ = seed_running(emulator, 2)
    await synced(harness)
    everything = (await harness.http.get("/api/events")).json()
    assert everything["total"] == 2
    assert {"id", "type", "occurredAt", "instanceId", "actor", "data"} <= set(everything["events"][0])
    one = (await harness.http.get("/api/events", params={"instanceId": first, "limit": 1})).json()
    assert [e["instanceId"] for e in one["events"]] == [first]
    assert (await harness.http.get("/api/events", params={"limit": 0})).status_code == 400


async def test_health_metrics_version_and_openapi(daemon_harness, emulator) -> None:
    harness = await daemon_harness()
    (instance_id,) = seed_running(emulator, 1)
    await synced(harness)
    await harness.http.put(f"/api/instances/{instance_id}/last-used")

    health = await harness.http.get("/health")
    assert health.status_code == 200
    body = health.json()
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"store", "novita", "scheduler", "autostop"}
    assert body["lastSync"]["adopted"] == 1
    assert "changes" not in body["lastSync"]  # counts only; the per-instance list is the sync route's
    assert body["version"]

    metrics = await harness.http.get("/metrics")
    assert metrics.headers["content-type"].startswith("text/plain")
    text = metrics.text
    assert "novictl_pings_received_total 1.0" in text
    assert 'novictl_instances{status="running"} 1.0' in text
    assert 'novictl_sync_runs_total{outcome="ok"} 1.0' in text
    assert 'novictl_novita_calls_total{endpoint="GET /gpu/instances"}' in text
    assert "novictl_novita_breaker_state 0.0" in text

    assert (await harness.http.get("/api/version")).json()["version"] == body["version"]
    spec = (await harness.http.get("/openapi.json")).json()
    for path in ("/api/instances/{ref}/last-used", "/api/instances/auto-stop/trigger", "/api/instances/sync",
                 "/api/instances/stop-all", "/api/events", "/health"):  # fmt: skip
        assert path in spec["paths"]


@pytest.mark.parametrize(
    ("method", "path", "kwargs"),
    [
        (
            "PUT",
            "/api/instances/x/last-used",
            {"content": b"{not json", "headers": {"content-type": "application/json"}},
        ),
        ("PUT", "/api/instances/x/last-used", {"json": {"lastUsedAt": "yesterday-ish"}}),
        ("PUT", "/api/instances/x/last-used", {"json": [1, 2, 3]}),
        # Valid ISO-8601, but past year 9999 once in UTC: astimezone() overflows.
        ("PUT", "/api/instances/x/last-used", {"json": {"lastUsedAt": "9999-12-31T23:59:59-05:00"}}),
        ("POST", "/api/instances/x/pin", {"json": {"until": "9999-12-31T23:59:59-05:00"}}),
        ("POST", "/api/instances/x/pin", {"json": {"for": "99999999999d"}}),
        ("POST", "/api/instances/x/pin", {"json": {"for": "1e400"}}),
        ("POST", "/api/instances/auto-stop/trigger", {"json": {"dryRun": {"nested": True}}}),
        ("POST", "/api/instances/sync", {"json": "a string"}),
        ("POST", "/api/instances/stop", {"json": {}}),
        ("POST", "/api/instances", {"json": {"name": 42, "gpus": "many"}}),
        ("GET", "/api/events", {"params": {"limit": "ten"}}),
        ("PUT", "/api/instances/" + "x" * 300 + "/last-used", {}),
    ],
)
async def test_bad_input_is_a_4xx_with_the_error_shape(daemon_harness, method, path, kwargs) -> None:
    harness = await daemon_harness()
    response = await harness.http.request(method, path, **kwargs)
    assert 400 <= response.status_code < 500, response.text
    error = response.json()["error"]
    assert error["code"]
    assert error["message"]
    assert error["requestId"] == response.headers["x-request-id"]


async def test_unknown_routes_and_methods_use_the_error_shape(daemon_harness) -> None:
    harness = await daemon_harness()
    missing = await harness.http.get("/api/nothing/here")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"
    wrong = await harness.http.patch("/api/instances/sync")
    assert wrong.status_code == 405
    assert wrong.json()["error"]["code"] == "method_not_allowed"


async def test_stop_all_answers_the_clis_json(daemon_harness, emulator, cli, cli_env, tmp_path) -> None:
    """One result, two faces: the API's body is ``novictl stop-all --json``'s, key for key."""
    harness = await daemon_harness()
    seed_running(emulator, 3)
    await synced(harness)
    cli_env(emulator, store_url=f"sqlite:///{tmp_path / 'cli-state.db'}")

    import asyncio

    # The CLI runs its own event loop: in a thread, beside this test's.
    done = await asyncio.to_thread(cli, "stop-all", "--dry-run", "--json")
    assert done.code == 0, (done.out, done.err)
    dry_cli = done.json()
    dry_api = (await harness.http.post("/api/instances/stop-all", json={"dryRun": True})).json()
    assert dry_cli == dry_api
    assert dry_api["count"] == 3

    real_cli = (await asyncio.to_thread(cli, "stop-all", "--yes", "--json")).json()
    emulator_running = [
        i for i in dry_api["results"] if emulator.state.instance(i["instanceId"])["status"] == "running"
    ]
    assert emulator_running == []
    assert set(real_cli) == set(dry_api)
    assert real_cli["count"] == 3
    assert (await harness.http.post("/api/instances/stop-all", json={})).json()["count"] == 0


async def test_list_shows_what_the_api_shows(daemon_harness, emulator, cli, cli_env, tmp_path) -> None:
    """An instance being deleted is hidden by both faces (the CLI used to show it), in the same order."""
    import asyncio

    harness = await daemon_harness()
    kept, being_removed = seed_running(emulator, 2)
    emulator.state.set_status(being_removed, "removing")
    await synced(harness)
    cli_env(emulator, store_url=f"sqlite:///{tmp_path / 'cli-state.db'}")

    listed = (await asyncio.to_thread(cli, "list", "--refresh", "--json")).json()
    api = (await harness.http.get("/api/instances")).json()
    assert [(i["id"], i["status"]) for i in listed["instances"]] == [(kept, "running")]
    assert [(i["id"], i["status"]) for i in api["instances"]] == [(kept, "running")]
    assert listed["total"] == api["total"] == 1


async def test_an_instance_adopted_by_a_ping_is_priced_as_one_adopted_by_the_cli(
    daemon_harness, emulator
) -> None:
    harness = await daemon_harness()
    [instance_id] = seed_running(emulator, 1)  # never synced: the ping is the first novictl hears of it
    name = emulator.state.instance(instance_id)["name"]

    assert (await harness.http.put(f"/api/instances/{name}/last-used", json={})).status_code == 200

    record = await harness.ctx.store.get(instance_id)
    assert record is not None
    assert (record.price_per_hour or 0) > 0
    discovered = await harness.ctx.store.list_events(instance_id=instance_id, types=["instance.discovered"])
    assert len(discovered) == 1
