"""Last-used pings: the activity signal auto-stop counts from (``novictl touch``, ``PUT …/last-used``)."""

from __future__ import annotations

from datetime import UTC, datetime

from novictl.core.clock import Clock, SystemClock
from novictl.errors import AmbiguousName, NotFoundError, UsageError
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
    if at is None or at > now:
        at = now
    record = await find_record(store, ref_or_id)
    await store.update_last_used({record.id: (at.astimezone(UTC), source)})
    stored = await store.get(record.id)
    if stored is None:
        raise NotFoundError(f"instance {record.id} was removed from the store meanwhile")
    return stored.last_used_at or at


async def find_record(store: StateStore, ref: str) -> InstanceRecord:
    """The record whose id is ``ref``, else the one whose name is exactly ``ref``.

    Store-only on purpose: pings, pins and overrides only mean something for an instance novictl tracks.
    """
    ref = ref.strip()
    if not ref:
        raise UsageError("give an instance id or name")
    by_id = await store.get(ref)
    if by_id is not None:
        return by_id
    named = await store.find_by_name(ref)
    # A terminated namesake is history; the live one is meant.
    matches = [r for r in named if r.terminated_at is None] or named
    if len(matches) > 1:
        raise AmbiguousName(ref, sorted(r.id for r in matches))
    if not matches:
        raise NotFoundError(
            f"no instance with the id or name {ref!r}",
            hint="run `novictl sync` to adopt instances made elsewhere, then `novictl list`",
        )
    return matches[0]


def parse_timestamp(text: str) -> datetime:
    """ISO-8601 (``2024-06-01T14:05:00Z``, ``…+02:00``) as aware UTC; a time without a zone is UTC."""
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(f"not an ISO-8601 time: {text!r}", hint="e.g. 2024-06-01T14:05:00Z") from None
    if when.tzinfo is None or when.utcoffset() is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC)
