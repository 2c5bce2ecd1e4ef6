"""What both backends share: record encoding, decode-with-repair, repair bookkeeping and the lock helper."""

from __future__ import annotations

import json
import logging
import uuid
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Collection, Iterable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from pydantic import ValidationError

from novictl.clock import Clock, SystemClock
from novictl.errors import LockHeld, StoreError
from novictl.store.records import InstanceRecord
from novictl.store.repair import TimestampRepair, repair_record_timestamps

__all__ = ["DecodedBatch", "StoreBase", "UsedAt", "encode_record", "from_epoch_us", "to_epoch_us"]

logger = logging.getLogger("novictl.store")

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)

_REPAIRS_UNSAVED: ContextVar[bool] = ContextVar("novictl_repairs_unsaved", default=False)
"""Set by :meth:`StoreBase.repairs_unsaved` for the current task."""

UsedAt = tuple[int, str | None]
"""The latest recorded use of an instance, as (epoch microseconds, source); kept beside the record so a
ping is never lost to a concurrent write of an older copy of the record."""


def to_epoch_us(when: datetime) -> int:
    """Exact integer microseconds since the epoch (floats would round)."""
    return (when - _EPOCH) // _MICROSECOND


def from_epoch_us(micros: int) -> datetime:
    return _EPOCH + timedelta(microseconds=micros)


def encode_record(record: InstanceRecord) -> str:
    """The stored form of a record: compact JSON, ISO-8601 UTC timestamps."""
    return record.model_dump_json()


def merge_document(stored: str | bytes, record: InstanceRecord, fields: Collection[str]) -> str:
    """The stored document with ``fields`` taken from ``record`` (a merge write); a stored document that
    is not a JSON object is replaced by the whole record."""
    try:
        document = json.loads(stored)
    except ValueError:
        return encode_record(record)
    if not isinstance(document, dict):
        return encode_record(record)
    document.update(record.model_dump(mode="json", include=set(fields)))
    return json.dumps(document, separators=(",", ":"))


@dataclass
class DecodedBatch:
    """The outcome of reading raw rows: usable records, and the repaired documents to write back."""

    records: list[InstanceRecord] = field(default_factory=list)
    rewrites: list[tuple[str, str, str, int]] = field(default_factory=list)
    """(id, stored document, repaired document, number of fields repaired)."""


class StoreBase(ABC):
    """Bookkeeping common to the backends. Subclasses provide the storage."""

    backend: str

    def __init__(self, *, clock: Clock | None, events_max: int, events_max_age_days: float):
        self.clock: Clock = clock or SystemClock()
        self.events_max = max(1, events_max)
        self.events_max_age = timedelta(days=events_max_age_days)
        self.repairs = 0
        """Timestamp fields repaired by reads through this store object."""
        self.corrupt_records = 0
        """Stored records skipped because they could not be decoded."""

    # -- records -------------------------------------------------------------------------------------

    def _decode_rows(self, rows: Iterable[tuple[str, str, UsedAt | None]]) -> DecodedBatch:
        """Decode ``(id, document, latest use)`` rows: repair timestamps, skip and log corrupt ones."""
        now = self.clock.now()
        batch = DecodedBatch()
        repaired: list[tuple[str, TimestampRepair]] = []
        for instance_id, document, used in rows:
            try:
                raw = json.loads(document)
                if not isinstance(raw, dict):
                    raise ValueError(f"a JSON {type(raw).__name__}, not an object")
                raw["id"] = instance_id  # the key is the truth
                fixed, repairs = repair_record_timestamps(raw, now)
                record = InstanceRecord.model_validate(fixed)
            except (ValueError, TypeError, RecursionError) as exc:
                self._count_corrupt(instance_id, exc)
                continue
            if repairs:
                repaired.extend((instance_id, repair) for repair in repairs)
                if not _REPAIRS_UNSAVED.get():
                    batch.rewrites.append((instance_id, document, encode_record(record), len(repairs)))
            if used is not None:
                record = _merge_used(record, used)
            batch.records.append(record)
        if repaired:
            self.repairs += len(repaired)
            examples = "; ".join(f"{rid}.{repair.describe()}" for rid, repair in repaired[:3])
            logger.warning(
                "repaired %d stored timestamp(s) in %d record(s) (e.g. %s)%s",
                len(repaired),
                len({rid for rid, _ in repaired}),
                examples,
                "; not written back (dry run)" if _REPAIRS_UNSAVED.get() else "",
            )
        return batch

    def _count_corrupt(self, instance_id: str, exc: Exception) -> None:
        self.corrupt_records += 1
        if isinstance(exc, ValidationError):
            # Only where and what: the input values could hold a webhook URL, which is a secret.
            reason = "; ".join(
                f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}"
                for error in exc.errors(include_input=False, include_url=False)
            )
        else:
            reason = f"{type(exc).__name__}: {str(exc)[:120]}"
        logger.error("skipping corrupt stored record %s: %s", instance_id, reason)

    # -- locks ---------------------------------------------------------------------------------------

    @staticmethod
    def _new_token(owner: str | None) -> str:
        unique = uuid.uuid4().hex
        return f"{owner}:{unique}" if owner else unique

    @abstractmethod
    async def acquire_lock(self, name: str, ttl_seconds: float, *, owner: str | None = None) -> str | None:
        """See :class:`~novictl.store.base.StateStore`."""

    @abstractmethod
    async def release_lock(self, name: str, token: str) -> bool:
        """See :class:`~novictl.store.base.StateStore`."""

    @contextmanager
    def repairs_unsaved(self) -> Iterator[None]:
        """Inside the block, timestamps repaired while reading are returned repaired (and logged and
        counted in ``repairs``) but not written back: a dry run writes nothing. Only reads in this task
        (and the tasks it starts) are affected — the daemon's other jobs share the store object."""
        reset = _REPAIRS_UNSAVED.set(True)
        try:
            yield
        finally:
            _REPAIRS_UNSAVED.reset(reset)

    def lock(
        self, name: str, ttl_seconds: float, *, owner: str | None = None, held_message: str | None = None
    ) -> AbstractAsyncContextManager[str]:
        """``async with store.lock("sync", 600) as token:`` — raises ``LockHeld`` if it is taken."""
        return self._held(name, ttl_seconds, owner, held_message)

    @asynccontextmanager
    async def _held(
        self, name: str, ttl_seconds: float, owner: str | None, held_message: str | None
    ) -> AsyncIterator[str]:
        token = await self.acquire_lock(name, ttl_seconds, owner=owner)
        if token is None:
            raise LockHeld(
                held_message or f"the lock {name!r} is held by another process",
                hint=f"wait for it to finish; a crashed holder frees it within {ttl_seconds:g}s",
                details={"lock": name},
            )
        try:
            yield token
        finally:
            try:
                await self.release_lock(name, token)
            except StoreError as exc:
                # The TTL frees it anyway; do not let this hide the outcome of the guarded work.
                logger.warning("could not release the lock %r (it expires by itself): %s", name, exc.message)

    # -- events --------------------------------------------------------------------------------------

    def _events_cutoff(self) -> datetime:
        """Events that occurred before this are too old to keep."""
        return self.clock.now() - self.events_max_age


def _merge_used(record: InstanceRecord, used: UsedAt) -> InstanceRecord:
    micros, source = used
    used_at = from_epoch_us(micros)
    if record.last_used_at is not None and record.last_used_at >= used_at:
        return record
    return record.model_copy(update={"last_used_at": used_at, "last_used_source": source})
