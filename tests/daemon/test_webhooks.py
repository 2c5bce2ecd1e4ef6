"""The daemon's webhook delivery: in its own job (a hanging receiver delays no API response and no auto-stop
run), durable across a SIGTERM and a restart, counted in /metrics. Daemons run in-process, serving on a
real port; SIGTERM is a real signal to this process, handled by the daemon's own handler."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx

from novictl.clock import utcnow
from novictl.config import Settings
from novictl.core import events
from novictl.daemon.jobs import JobSchedule
from novictl.daemon.service import Daemon
from novictl.store import open_store
from tests.fixtures.daemon import seed_running
from tests.fixtures.store import sample_record
from tests.fixtures.webhook_receiver import WebhookReceiver


def schedule(webhook_seconds: float) -> JobSchedule:
    return JobSchedule(
        autostop_seconds=3600, sync_seconds=None, purge_seconds=3600, heartbeat_seconds=30,
        webhook_seconds=webhook_seconds, shutdown_grace_seconds=5,
    )  # fmt: skip


async def queue_event(settings: Settings, instance_id: str = "i1") -> str:
    """An ``instance.stopped`` event queued by "another process" (a CLI) in the daemon's store."""
    store = await open_store(settings.store)
    try:
        record = sample_record(instance_id, utcnow() - timedelta(hours=1))
        event = events.instance_event(events.STOPPED, record, actor="user", now=utcnow(), stoppedBy="user")
        await events.record_events(store, [event])
        return event.id
    finally:
        await store.close()


async def start(daemon: Daemon) -> asyncio.Task[None]:
    ready = asyncio.Event()
    task = asyncio.create_task(daemon.serve(on_ready=lambda _url: ready.set()))
    await asyncio.wait_for(ready.wait(), 20)
    return task


async def sigterm(task: asyncio.Task[None]) -> None:
    # serve() installs its handler on this (main-thread) loop; without it the signal would end pytest.
    assert signal.getsignal(signal.SIGTERM) not in (signal.SIG_DFL, signal.SIG_IGN, None)
    os.kill(os.getpid(), signal.SIGTERM)
    await asyncio.wait_for(task, 20)


async def test_queued_before_a_sigterm_is_delivered_once_after_the_restart(
    daemon_settings: Callable[..., Settings], webhook_receiver: WebhookReceiver
) -> None:
    settings = daemon_settings({"webhook.url": webhook_receiver.url, "webhook.secret": "s3cret"})
    first = Daemon(settings, port=0, schedule=schedule(webhook_seconds=3600))  # never gets to deliver
    task = await start(first)
    event_id = await queue_event(settings)
    await sigterm(task)
    assert webhook_receiver.arrived == 0

    second = Daemon(settings, port=0, schedule=schedule(webhook_seconds=0.05))
    task = await start(second)
    try:
        await webhook_receiver.wait_for(1)
        await asyncio.sleep(0.3)  # time for a duplicate to show up, if one were coming
    finally:
        await sigterm(task)
    assert [r.delivery_id for r in webhook_receiver.requests] == [event_id]
    store = await open_store(settings.store)
    try:
        (delivery,) = await store.list_deliveries()
    finally:
        await store.close()
    assert delivery.state == "delivered"
    assert len(delivery.attempts) == 1


async def test_a_hanging_receiver_slows_neither_pings_nor_autostop(
    daemon_settings: Callable[..., Settings], webhook_receiver: WebhookReceiver, emulator: Any
) -> None:
    (instance_id,) = seed_running(emulator, 1)
    webhook_receiver.hang_seconds = 3
    settings = daemon_settings({"webhook.url": webhook_receiver.url, "webhook.timeout_seconds": 2})
    daemon = Daemon(settings, port=0, schedule=schedule(webhook_seconds=0.05))
    task = await start(daemon)
    try:
        await queue_event(settings)
        deadline = time.monotonic() + 5
        while webhook_receiver.arrived == 0 and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        assert webhook_receiver.arrived == 1  # the delivery job now waits on the receiver
        async with httpx.AsyncClient(base_url=daemon.url, timeout=10) as http:
            started = time.monotonic()
            ping = await http.put(f"/api/instances/{instance_id}/last-used", json={})
            ping_seconds = time.monotonic() - started
            started = time.monotonic()
            run = await http.post("/api/instances/auto-stop/trigger", json={"dryRun": False})
            run_seconds = time.monotonic() - started
            assert ping.status_code == 200
            assert run.status_code == 200
            assert ping_seconds < 0.5
            assert run_seconds < 1.5
            # The attempt times out (2 s) and is kept as a retry; /metrics counts it.
            deadline = time.monotonic() + 5
            metrics = ""
            while 'outcome="retry"} 1.0' not in metrics and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
                metrics = (await http.get("/metrics")).text
            assert 'novictl_webhook_deliveries_total{outcome="retry"} 1.0' in metrics
    finally:
        webhook_receiver.hang_seconds = 0
        await sigterm(task)
