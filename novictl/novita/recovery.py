"""Finding the instance a create made when its answer was lost (a create is never POSTed twice).

After a timeout, a dropped connection or a 5xx, Novita may or may not have created the instance. The only
safe way to learn which is to look: list instances by name, keep exact matches created just now, and take
the newest. Novita's list may lag a moment behind a create, so the look-up is repeated a few times.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta

from novictl.errors import NovitaError
from novictl.novita.models import Instance, InstanceStatus
from novictl.novita.retry import Sleep

__all__ = ["CREATE_CLOCK_SKEW", "CREATE_LOOKUP_DELAYS", "created_since", "find_created"]

CREATE_LOOKUP_DELAYS: tuple[float, ...] = (0.0, 2.0, 5.0)
"""Waits before each look-up: at once, then twice more as Novita's list catches up."""
CREATE_CLOCK_SKEW = timedelta(minutes=2)
"""How far Novita's clock may run behind ours when judging "created just now"."""


def created_since(instance: Instance, since: datetime) -> bool:
    """Whether ``instance`` looks created at or after ``since`` (allowing for clock skew)."""
    if instance.created_at is not None:
        return instance.created_at >= since - CREATE_CLOCK_SKEW
    # Novita does not document createdAt; without it only a still-creating instance is a safe match.
    return instance.status in InstanceStatus.CREATING_PHASES


async def find_created(
    list_by_name: Callable[[str], Awaitable[list[Instance]]],
    name: str,
    *,
    since: datetime,
    sleep: Sleep,
    delays: Sequence[float] = CREATE_LOOKUP_DELAYS,
) -> str | None:
    """The id of the newest instance named exactly ``name`` created since ``since``; ``None`` if none.

    ``list_by_name`` is a (fuzzy) name-filtered list; exact matching happens here. A look-up that fails
    ends the search: the caller then reports the outcome as unknown.
    """
    for delay in delays:
        if delay:
            await sleep(delay)
        try:
            candidates = await list_by_name(name)
        except NovitaError:
            return None
        recent = [item for item in candidates if item.name == name and created_since(item, since)]
        if recent:
            return max(recent, key=lambda item: item.created_at or since).id
    return None
