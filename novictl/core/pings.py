"""Last-used pings: the activity signal auto-stop counts from (``novictl touch``, ``PUT …/last-used``)."""

from __future__ import annotations

from datetime import datetime

from novictl.clock import Clock, SystemClock, as_utc
from novictl.errors import NotFoundError, UsageError
from novictl.store.base import StateStore
from novictl.store.records import InstanceRecord

__all__ = ["find_record", "parse_timestamp", "record_ping"]


async def record_ping(
    store: StateStore,
    ref_or_id: str,
    *,
    at: datetime | None = None,
    source: str | None = None,
    clock: Clock | None = None,
) -> datetime:
    """Record that the instance ``ref_or_id`` (id or exact name) was used at ``at`` (default: now).

    A future ``at`` is clamped to now: a ping cannot buy idle time in advance. ``last_used_at`` only moves
    forward, so an older ping changes nothing. Returns the ``last_used_at`` stored afterwards. Raises
    :class:`NotFoundError` for an unknown instance, :class:`AmbiguousName` for a name several share.
    """
    now = (clock or SystemClock()).now()
    if at is not None and (at.tzinfo is None or at.utcoffset() is None):
        raise UsageError("a ping time needs a timezone (e.g. 2024-06-01T14:05:00Z)")
    try:
        at = now if at is None else min(as_utc(at), now)
    except ValueError as error:
        raise UsageError(f"a ping time {error}") from None
    record = await find_record(store, ref_or_id)
    await store.update_last_used({record.id: (at, source)})
    stored = await store.get(record.id)
    if stored is None:
        raise NotFoundError(f"instance {record.id} was removed from the store meanwhile")
    return stored.last_used_at or at


async def find_record(store: StateStore, ref: str) -> InstanceRecord:
    """The tracked instance ``ref`` names, from the store alone (pings, pins and overrides only mean
    something for an instance novictl tracks): :func:`~novictl.core.instance_lookup.resolve` without
    Novita."""
    from novictl.core.instance_lookup import resolve

    return await resolve(store, None, ref)


def parse_timestamp(text: str) -> datetime:
    """ISO-8601 (``2024-06-01T14:05:00Z``, ``…+02:00``) as aware UTC; a time without a zone is UTC."""
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(f"not an ISO-8601 time: {text!r}", hint="e.g. 2024-06-01T14:05:00Z") from None
    try:
        return as_utc(when)
    except ValueError as error:
        raise UsageError(f"a time {error}", hint="e.g. 2024-06-01T14:05:00Z") from None
