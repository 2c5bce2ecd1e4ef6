"""Waiting for a status: progress for every change, and a timeout that means what it says."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from novictl.core.lifecycle import wait_for_status
from novictl.errors import WaitTimeout


class FakeTime:
    """An injected clock for the wait: ``sleep`` records and advances ``monotonic``; ``on_sleep(n)`` runs
    after the n-th sleep (to change the instance mid-wait)."""

    def __init__(self, on_sleep: Callable[[int], None] | None = None) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []
        self._on_sleep = on_sleep

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        if self._on_sleep is not None:
            self._on_sleep(len(self.sleeps))

    def monotonic(self) -> float:
        return self.now


def exited_instance(emulator: Any) -> str:
    [instance_id] = emulator.state.seed_instances(1)
    emulator.state.set_status(instance_id, "exited")
    return str(instance_id)


async def test_wait_never_sleeps_past_the_timeout(emulator: Any, novita_client: Any) -> None:
    instance_id = exited_instance(emulator)
    fake = FakeTime()

    with pytest.raises(WaitTimeout, match="still exited"):
        await wait_for_status(
            novita_client, instance_id, {"running"}, timeout_seconds=0.1, poll_interval=2.0,
            sleep=fake.sleep, monotonic=fake.monotonic,
        )  # fmt: skip

    assert sum(fake.sleeps) == pytest.approx(0.1)


async def test_wait_reports_each_status_once_and_returns(emulator: Any, novita_client: Any) -> None:
    instance_id = exited_instance(emulator)
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
    instance_id = exited_instance(emulator)

    def change(sleeps: int) -> None:
        if sleeps == 5:
            emulator.state.set_status(instance_id, "starting")  # a change: quick looks again

    fake = FakeTime(change)
    with pytest.raises(WaitTimeout):
        await wait_for_status(
            novita_client, instance_id, {"running"}, timeout_seconds=13, poll_interval=2.0,
            sleep=fake.sleep, monotonic=fake.monotonic, quick_start=True,
        )  # fmt: skip

    assert fake.sleeps[:8] == [0.5, 1.0, 2.0, 2.0, 2.0, 0.5, 1.0, 2.0]


async def test_background_followers_poll_at_the_interval_from_the_start(
    emulator: Any, novita_client: Any
) -> None:
    instance_id = exited_instance(emulator)
    fake = FakeTime()

    with pytest.raises(WaitTimeout):
        await wait_for_status(
            novita_client, instance_id, {"running"}, timeout_seconds=6, poll_interval=2.0,
            sleep=fake.sleep, monotonic=fake.monotonic,
        )  # fmt: skip

    assert fake.sleeps == [2.0, 2.0, 2.0]
