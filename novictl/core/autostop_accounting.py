"""What an auto-stop run leaves behind: the lock real runs hold, the fields of the records it changed,
its events, counters and summary (``meta last_autostop``).

Records are written field by field (only what the run changed, merged into what is stored), so a pin, an
override or a ping written while the run was deciding survives its write.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any

from novictl.core import events as audit
from novictl.core.autostop_policy import AutoStopReport
from novictl.errors import StoreError
from novictl.store.base import StateStore
from novictl.store.records import Event, InstanceRecord

__all__ = [
    "AUTOSTOP_LOCK",
    "AUTOSTOP_LOCK_TTL_SECONDS",
    "COUNTERS",
    "LAST_RUN_META",
    "RunChanges",
    "account_run",
    "autostop_lock",
    "record_dry_run",
]

log = logging.getLogger(__name__)

LAST_RUN_META = "last_autostop"
"""Meta key holding the last run's summary (JSON): a real run, or a dry-run daemon's scheduled check."""
COUNTERS = {
    "runs": "autostop.runs",
    "stops": "autostop.stops",
    "max_runtime_stops": "autostop.stops_max_runtime",
    "skips": "autostop.skips",
    "errors": "autostop.errors",
    "warnings": "autostop.warnings",
    "savings": "autostop.savings_usd",
}
AUTOSTOP_LOCK = "autostop-run"
"""Store lock held by every real run (the daemon's scheduled job, the API's trigger, ``autostop run``), so
two of them never act side by side; dry runs act on nothing and take none."""
AUTOSTOP_LOCK_TTL_SECONDS = 600.0


def autostop_lock(store: StateStore, *, owner: str | None = None) -> AbstractAsyncContextManager[str]:
    """``async with autostop_lock(store):`` — raises ``LockHeld`` ("auto-stop already running": exit 5,
    HTTP 409) while another real run holds it."""
    return store.lock(
        AUTOSTOP_LOCK, AUTOSTOP_LOCK_TTL_SECONDS, owner=owner, held_message="auto-stop already running"
    )


@dataclass
class RunChanges:
    """The records a run changed and which fields of each: only those fields are written back, merged
    into the stored record, so a pin, an override or a ping written since the run read it survives."""

    records: dict[str, InstanceRecord] = field(default_factory=dict)
    fields: dict[str, set[str]] = field(default_factory=dict)

    def update(self, record: InstanceRecord, **updates: Any) -> InstanceRecord:
        changed = record.model_copy(update=updates)
        self.records[record.id] = changed
        self.fields.setdefault(record.id, set()).update(updates)
        return changed

    def batches(self) -> list[tuple[frozenset[str], list[InstanceRecord]]]:
        """The changed records grouped by the fields they changed (usually one or two groups)."""
        groups: dict[frozenset[str], list[InstanceRecord]] = {}
        for instance_id, record in self.records.items():
            groups.setdefault(frozenset(self.fields[instance_id]), []).append(record)
        return list(groups.items())


async def account_run(
    store: StateStore,
    report: AutoStopReport,
    changed: RunChanges,
    events: Sequence[Event],
    counters: dict[str, float],
) -> None:
    """Write the run's records (one round trip per set of fields changed), events, counters and summary
    (one each). A failure is reported, not raised: the stops already happened and the report must say
    so."""
    try:
        # Events first: a warned_at saved without its instance.autostop_pending would let a later run stop
        # on a warning nobody received; an event saved without its record only warns twice.
        await audit.record_events(store, events)
        for fields, records in changed.batches():
            await store.put_many(records, fields=fields)
    except StoreError as error:
        # The log is then the only record of what was stopped: name every instance.
        stopped = ", ".join(f"{e.name} ({e.instance_id})" for e in report.by_verdict("stopped")) or "none"
        report.errors.append(f"could not record the stops and warnings (stopped: {stopped}): {error.message}")
    counters[COUNTERS["errors"]] = len(report.errors)
    try:
        await store.incr_counters({name: value for name, value in counters.items() if value})
        await store.set_meta(LAST_RUN_META, json.dumps(report.summary()))
    except StoreError as error:
        report.errors.append(f"could not record the run: {error.message}")
    for error_text in report.errors:
        log.warning("auto-stop: %s", error_text)


async def record_dry_run(store: StateStore, report: AutoStopReport) -> None:
    """Keep a scheduled dry run's summary as the last run (marked ``dryRun``), so the page and ``stats``
    show what a daemon in dry-run mode decided. On-demand dry runs are not recorded: they are previews."""
    await store.set_meta(LAST_RUN_META, json.dumps(report.summary()))
