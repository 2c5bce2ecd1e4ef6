"""Waiting for a status: progress for every change, and a timeout that means what it says."""

from __future__ import annotations

from typing import Any

import pytest

from novictl.core.lifecycle import wait_for_status
from novictl.errors import WaitTimeout


async def test_wait_never_sleeps_past_the_timeout(emulator: Any, novita_client: Any) -> None:
    [instance_id] = emulator.state.seed_instances(1)
    emulator.state.set_status(instance_id, "exited")
    now = [0.0]
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        now[0] += seconds

    with pytest.raises(WaitTimeout, match="still exited"):
        await wait_for_status(
            novita_client,
            instance_id,
            {"running"},
            timeout_seconds=0.1,
            poll_interval=2.0,
            sleep=sleep,
            monotonic=lambda: now[0],
        )

    assert sum(sleeps) == pytest.approx(0.1)


async def test_wait_reports_each_status_once_and_returns(emulator: Any, novita_client: Any) -> None:
    [instance_id] = emulator.state.seed_instances(1)
    emulator.state.set_status(instance_id, "exited")
    await novita_client.start_instance(instance_id)
    seen: list[str] = []

    arrived = await wait_for_status(
        novita_client,
        instance_id,
        {"running"},
        timeout_seconds=10,
        poll_interval=0.01,
        on_status=lambda instance: seen.append(instance.status),
    )

    assert arrived.status == "running"
    assert seen[-1] == "running"
    assert len(seen) == len(set(seen))


async def test_polls_quickly_after_a_change_then_settle_at_the_interval(
    emulator: Any, novita_client: Any
) -> None:
    [instance_id] = emulator.state.seed_instances(1)
    emulator.state.set_status(instance_id, "exited")
    now = [0.0]
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        now[0] += seconds
        if len(sleeps) == 5:
            emulator.state.set_status(instance_id, "starting")  # a change: quick looks again

    with pytest.raises(WaitTimeout):
        await wait_for_status(
            novita_client, instance_id, {"running"}, timeout_seconds=13, poll_interval=2.0, sleep=sleep,
            monotonic=lambda: now[0], quick_start=True,
        )  # fmt: skip

    assert sleeps[:8] == [0.5, 1.0, 2.0, 2.0, 2.0, 0.5, 1.0, 2.0]


async def test_background_followers_poll_at_the_interval_from_the_start(
    emulator: Any, novita_client: Any
) -> None:
    [instance_id] = emulator.state.seed_instances(1)
    emulator.state.set_status(instance_id, "exited")
    now = [0.0]
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        now[0] += seconds

    with pytest.raises(WaitTimeout):
        await wait_for_status(
            novita_client, instance_id, {"running"}, timeout_seconds=6, poll_interval=2.0, sleep=sleep,
            monotonic=lambda: now[0],
        )  # fmt: skip

    assert sleeps == [2.0, 2.0, 2.0]
