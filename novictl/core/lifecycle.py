"""Waiting for an instance to reach a state, with progress, without ever undoing anything on failure."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Collection
from typing import TYPE_CHECKING

from novictl.errors import NovictlError, WaitTimeout

if TYPE_CHECKING:
    from novictl.novita.client import NovitaClient
    from novictl.novita.models import Instance

__all__ = ["wait_for_status"]


async def wait_for_status(
    client: NovitaClient,
    instance_id: str,
    targets: Collection[str],
    *,
    timeout_seconds: float = 600.0,
    poll_interval: float = 2.0,
    quick_start: bool = False,
    on_status: Callable[[Instance], None] | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    monotonic: Callable[[], float] = time.monotonic,
) -> Instance:
    """Poll until the instance's status is one of ``targets``; ``on_status`` hears every status seen.

    With ``quick_start`` (someone is watching the progress) the first looks after each change come
    quickly (a quarter of ``poll_interval``, then half) and then settle at ``poll_interval``: a short step
    is seen when it ends, while a long wait still asks Novita about once per interval. Background
    followers leave it off: after a mass stop, many of them poll at once.

    Raises :class:`WaitTimeout` after ``timeout_seconds`` and :class:`NovictlError` if the instance reports
    a ``statusError`` while not heading for the target (a failed create or start). Nothing is deleted or
    stopped on failure: the caller decides.
    """
    deadline = monotonic() + timeout_seconds
    last_status: str | None = None
    interval = poll_interval
    while True:
        instance = await client.get_instance(instance_id)
        if instance.status != last_status:
            last_status = instance.status
            interval = poll_interval / 4 if quick_start else poll_interval
            if on_status is not None:
                on_status(instance)
        if instance.status in targets:
            return instance
        error = instance.status_error
        if error is not None and error.message and instance.status in ("exited", "removed"):
            raise NovictlError(
                f"instance {instance_id} failed: {error.message}",
                hint=f"inspect it with: novictl show {instance_id}",
            )
        left = deadline - monotonic()
        if left <= 0:
            raise WaitTimeout(
                f"instance {instance_id} is still {instance.status} after {timeout_seconds:.0f}s",
                hint=f"it may still get there; check with: novictl show {instance_id}",
            )
        # Never sleep past the deadline: --timeout 100ms means about 100 ms, not one poll interval.
        await sleep(min(interval, left))
        interval = min(interval * 2, poll_interval)
