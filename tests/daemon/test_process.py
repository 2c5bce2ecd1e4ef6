"""The daemon as a real process: real HTTP, real signals, the emulator and (for HA) a real Redis."""

from __future__ import annotations

import asyncio
import signal
import time
import uuid

import httpx
import pytest

from novictl.store import StoreOptions, open_store
from tests.fixtures.daemon import seed_running
from tests.fixtures.redis_server import restart_redis_server, start_redis_server

FAST_AUTOSTOP = {
    "NOVICTL_AUTOSTOP__CHECK_INTERVAL_MINUTES": "0.02",  # 1.2 s
    "NOVICTL_AUTOSTOP__IDLE_MINUTES": "0.01",
    "NOVICTL_AUTOSTOP__STARTUP_GRACE_MINUTES": "0",
    "NOVICTL_AUTOSTOP__WARN_BEFORE_MINUTES": "0.01",  # warned one tick, stopped a later one
}


def wait_for(predicate, seconds: float = 15.0) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.05)


async def test_sigterm_exits_0_and_buffered_pings_are_in_the_store(
    daemon_process, daemon_env, emulator, tmp_path
) -> None:
    (instance_id,) = seed_running(emulator, 1)
    env = daemon_env()
    daemon = daemon_process(env)
    with httpx.Client(base_url=daemon.url, timeout=5) as http:
        wait_for(lambda: http.get(f"/api/instances/{instance_id}").status_code == 200)  # the startup sync
        answers = [http.put(f"/api/instances/{instance_id}/last-used", json={}) for _ in range(5)]
    assert [a.status_code for a in answers] == [200] * 5
    latest = answers[-1].json()["lastUsedAt"]

    assert daemon.stop(signal.SIGTERM) == 0, daemon.logs()

    options = StoreOptions(url="", sqlite_path=tmp_path / "daemon-state" / "state.db")
    store = await open_store(options)
    try:
        record = await store.get(instance_id)
    finally:
        await store.close()
    assert record is not None
    assert record.last_used_at is not None
    assert record.last_used_at.isoformat() == latest

    again = daemon_process(env)
    shown = httpx.get(f"{again.url}/api/instances/{instance_id}", timeout=5).json()
    assert shown["lastUsedAt"] == latest
    assert again.stop(signal.SIGINT) == 0


async def test_scheduled_autostop_stops_an_idle_instance_but_not_a_pinged_one(
    daemon_process, daemon_env, emulator
) -> None:
    idle, busy = seed_running(emulator, 2)
    daemon = daemon_process(daemon_env(**FAST_AUTOSTOP))
    with httpx.Client(base_url=daemon.url, timeout=5) as http:
        wait_for(lambda: http.get(f"/api/instances/{busy}").status_code == 200)

        def stopped_idle() -> bool:
            http.put(f"/api/instances/{busy}/last-used", json={})
            return bool(emulator.state.instance_calls[idle]["stop"] == 1)

        wait_for(stopped_idle)
        health = http.get("/health").json()
    assert emulator.state.instance_calls[busy]["stop"] == 0
    assert health["checks"]["scheduler"] == "ok"
    assert health["lastAutoStopCheck"] is not None
    assert daemon.stop() == 0


@pytest.mark.redis
async def test_three_daemons_on_one_redis_stop_each_idle_instance_once(
    daemon_process, daemon_env, emulator, redis_url
) -> None:
    ids = seed_running(emulator, 30)
    env = daemon_env(
        NOVICTL_STORE__URL=redis_url,
        NOVICTL_STORE__KEY_PREFIX=f"ha3-{uuid.uuid4().hex[:8]}:",
        **FAST_AUTOSTOP,
    )
    daemons = [daemon_process(env, wait=False) for _ in range(3)]
    for daemon in daemons:
        daemon.wait_until_serving()
    wait_for(lambda: emulator.state.calls["POST /gpu/instance/stop"] >= 30, seconds=30)
    await asyncio.sleep(2.5)  # two more ticks of each daemon: nobody stops anything twice
    assert emulator.state.calls["POST /gpu/instance/stop"] == 30
    assert all(emulator.state.instance_calls[i]["stop"] == 1 for i in ids)
    for daemon in daemons:
        daemon.send(signal.SIGTERM)
    assert [d.stop() for d in daemons] == [0, 0, 0]


async def test_token_is_enforced_over_real_http_and_never_logged(daemon_process, daemon_env) -> None:
    token = "tok-" + uuid.uuid4().hex
    daemon = daemon_process(daemon_env(NOVICTL_DAEMON__API_TOKEN=token), "--log-format", "json")
    with httpx.Client(base_url=daemon.url, timeout=5) as http:
        assert http.get("/api/events").status_code == 401
        assert http.get("/api/events", headers={"Authorization": f"Bearer {token}"}).status_code == 200
        assert http.get("/health").status_code == 200
    assert daemon.stop() == 0
    logs = daemon.logs()
    assert token not in logs
    assert daemon.env["NOVITA_API_KEY"] not in logs
    assert '"level": "info"' in logs  # JSON lines


@pytest.mark.redis
async def test_redis_stopped_and_restarted_under_a_daemon_process(
    daemon_process, daemon_env, emulator, tmp_path
) -> None:
    import redis

    server = start_redis_server(tmp_path / "redis")
    revived = None
    prefix = f"outage-{uuid.uuid4().hex[:8]}:"
    try:
        (instance_id,) = seed_running(emulator, 1)
        emulator.state.set_status(instance_id, "exited")  # nothing to stop until the outage begins
        daemon = daemon_process(daemon_env(NOVICTL_STORE__URL=server.url, NOVICTL_STORE__KEY_PREFIX=prefix,
                                           **FAST_AUTOSTOP))  # fmt: skip
        with httpx.Client(base_url=daemon.url, timeout=5) as http:
            wait_for(lambda: http.get(f"/api/instances/{instance_id}").status_code == 200)  # startup sync
            redis.Redis.from_url(server.url).save()  # the restarted server starts from this snapshot
            server.stop()
            emulator.state.set_status(instance_id, "running")  # …and idle at once (threshold 0.6 s)

            wait_for(lambda: http.get("/health").status_code == 503)
            assert http.get("/health").json()["checks"]["store"].startswith("unavailable")
            acknowledged: list[str] = []

            def refused() -> bool:
                # Buffered (200) until the next flush fails, refused (503) from then on: never dropped.
                ping = http.put(f"/api/instances/{instance_id}/last-used", json={})
                if ping.status_code == 200:
                    acknowledged.append(ping.json()["lastUsedAt"])
                    return False
                assert ping.status_code == 503, ping.text
                assert ping.headers["retry-after"]
                return True

            wait_for(refused)

            def failed_ticks() -> float:
                for line in http.get("/metrics").text.splitlines():
                    if line.startswith('novictl_jobs_total{job="autostop",outcome="failed"}'):
                        return float(line.split()[-1])
                return 0.0

            wait_for(lambda: failed_ticks() >= 2)  # auto-stop ran twice on unreadable state …
            assert emulator.state.calls["POST /gpu/instance/stop"] == 0  # … and stopped nothing

            revived = restart_redis_server(server, tmp_path / "redis")
            wait_for(lambda: http.get("/health").status_code == 200, seconds=20)
            wait_for(lambda: emulator.state.instance_calls[instance_id]["stop"] == 1, seconds=20)
        assert daemon.stop() == 0, daemon.logs()

        store = await open_store(StoreOptions(url=server.url, key_prefix=prefix))
        try:
            record = await store.get(instance_id)
        finally:
            await store.close()
        assert record is not None
        assert record.stopped_by == "autostop"
        if acknowledged:  # every ping acknowledged during the outage reached the store afterwards
            assert record.last_used_at is not None
            assert record.last_used_at.isoformat() >= max(acknowledged)
    finally:
        if revived is not None:
            revived.terminate()
            revived.wait(timeout=5)
        server.stop()
