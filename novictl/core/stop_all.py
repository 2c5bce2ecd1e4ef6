"""Stop every running instance: one result that ``novictl stop-all --json`` and ``POST
/api/instances/stop-all`` both return, whichever face asked (the two used to disagree on its keys and on
what ``count`` meant)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from novictl.core.instances import LifecycleOutcome, running_instances, stop_many

if TYPE_CHECKING:
    from novictl.clock import Clock
    from novictl.novita.client import NovitaClient
    from novictl.store.base import StateStore
    from novictl.store.records import InstanceRecord

__all__ = ["StopAllResult", "find_stop_all_targets", "stop_all"]


@dataclass
class StopAllResult:
    """``count``: how many were stopped (in a dry run: would be); ``failed``: how many could not be;
    ``usdPerHour``: what the targets burn together."""

    dry_run: bool
    targets: list[InstanceRecord]
    outcomes: list[LifecycleOutcome] = field(default_factory=list)

    @property
    def usd_per_hour(self) -> float:
        return round(sum(record.price_per_hour or 0.0 for record in self.targets), 4)

    @property
    def failed(self) -> int:
        return sum(1 for outcome in self.outcomes if not outcome.success)

    @property
    def count(self) -> int:
        return len(self.targets) if self.dry_run else len(self.outcomes) - self.failed

    def to_dict(self) -> dict[str, Any]:
        prices = {record.id: record.price_per_hour for record in self.targets}
        if self.dry_run:
            results = [
                {"instanceId": r.id, "name": r.name, "pricePerHour": r.price_per_hour, "success": True}
                for r in self.targets
            ]
        else:
            results = [{**o.to_dict(), "pricePerHour": prices.get(o.instance_id)} for o in self.outcomes]
        return {
            "count": self.count,
            "failed": self.failed,
            "dryRun": self.dry_run,
            "usdPerHour": self.usd_per_hour,
            "results": results,
        }


async def find_stop_all_targets(
    client: NovitaClient,
    store: StateStore,
    *,
    instance_ids: Collection[str] | None = None,
    clock: Clock | None = None,
) -> list[InstanceRecord]:
    """The running instances (Novita's word), or only those of ``instance_ids`` still running: a
    confirmation built from a preview stops exactly what it named, nothing started since."""
    records = await running_instances(client, store, clock=clock)
    if instance_ids is not None:
        wanted = set(instance_ids)
        records = [record for record in records if record.id in wanted]
    return records


async def stop_all(
    client: NovitaClient,
    store: StateStore,
    targets: list[InstanceRecord],
    *,
    dry_run: bool = False,
    concurrency: int = 8,
    clock: Clock | None = None,
) -> StopAllResult:
    """Stop ``targets`` a few at a time (recorded as stopped by ``stop-all``); a dry run stops nothing."""
    if dry_run or not targets:
        return StopAllResult(dry_run=dry_run, targets=targets)
    outcomes = await stop_many(
        client, store, targets, stopped_by="stop-all", concurrency=concurrency, clock=clock
    )
    return StopAllResult(dry_run=False, targets=targets, outcomes=outcomes)
