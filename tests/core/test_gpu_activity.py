"""Recent GPU utilisation read from Novita's metrics API (the emulator's series), and what a failed or
empty read means: never "idle", always said."""

from __future__ import annotations

import time
from typing import Any

import pytest

from novictl.clock import utcnow
from novictl.core.gpu_activity import read_recent_gpu


@pytest.fixture
def busy_instance(emulator: Any) -> str:
    [instance_id] = emulator.state.seed_instances(1)
    emulator.state.set_status(instance_id, "running")
    # Busy for the last quarter of an hour, on the second of two GPUs only.
    book = emulator.app.state.metrics
    book.set_utilization(instance_id, gpu=0, at=time.time() - 7200)
    book.set_utilization(instance_id, per_gpu=[3, 87], at=time.time() - 900)
    return str(instance_id)


async def test_recent_gpu_use_is_the_busiest_gpu(
    emulator: Any, novita_client: Any, busy_instance: str
) -> None:
    recent = await read_recent_gpu(novita_client, busy_instance, now=utcnow())

    assert recent.unavailable is None
    assert recent.latest_percent == 87  # the busy GPU, not the 45 % average of both
    assert recent.peak_percent == 87
    assert recent.samples >= 10  # a 30 s grid over 10 minutes, a minute behind
    assert emulator.state.instance_calls[busy_instance]["metrics"] == 1
    assert recent.to_dict()["latestAt"]


async def test_no_metrics_on_the_account_is_no_gpu_data(
    emulator: Any, novita_client: Any, busy_instance: str
) -> None:
    emulator.app.state.metrics.set_mode("not_found")
    assert (await read_recent_gpu(novita_client, busy_instance, now=utcnow())).unavailable == "no gpu data"
    emulator.app.state.metrics.set_mode("empty")
    assert (await read_recent_gpu(novita_client, busy_instance, now=utcnow())).unavailable == "no gpu data"


async def test_a_failing_metrics_api_is_unreadable_not_idle(
    emulator: Any, novita_client: Any, busy_instance: str
) -> None:
    emulator.state.script_fault("status", status=503, count=10, path="/metrics/gpu/instance")

    recent = await read_recent_gpu(novita_client, busy_instance, now=utcnow())

    assert recent.latest_percent is None
    assert (recent.unavailable or "").startswith("gpu metrics unreadable")
