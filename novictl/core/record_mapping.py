"""How a live Novita instance becomes (or updates) novictl's own :class:`InstanceRecord`."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from novictl.novita.models import InstanceStatus
from novictl.store.records import InstanceRecord

if TYPE_CHECKING:
    from novictl.novita.models import Instance, Product

__all__ = [
    "DEFAULT_KEEP_DATA_DAYS",
    "NOVITA_FIELDS",
    "RUNNING",
    "STOPPED",
    "TERMINATED",
    "UNSETTLED",
    "data_kept_until",
    "hourly_price",
    "record_from_instance",
    "tracked_fields",
]

RUNNING = "running"
STOPPED = "exited"
# Not a Novita status: novictl's mark for a record whose instance is gone from Novita.
TERMINATED = "terminated"
UNSETTLED: frozenset[str] = InstanceStatus.TRANSITIONAL | {InstanceStatus.TO_REMOVE, InstanceStatus.REMOVING}
"""Statuses an instance passes through on its way to running, exited or gone."""

DEFAULT_KEEP_DATA_DAYS = 7
"""Novita's guide: a stopped instance's data is kept for 7 days unless the instance says otherwise."""

# Fields that come from Novita; a sync writes a record only when one of these changed.
_TRACKED = (
    "name",
    "status",
    "product_id",
    "product_name",
    "region",
    "gpu_count",
    "price_per_hour",
    "created_at",
    "last_started_at",
    "last_stopped_at",
    "image_url",
    "billing_mode",
    "terminated_at",
    "stopped_price_per_hour",
    "keep_data_days",
    "spot_status",
    "spot_reclaim_at",
)


# What a sync writes: Novita's fields and when it saw them. Everything else on a record (pings, pins,
# overrides, stopped_by, webhook) belongs to other writers and is merged around, never overwritten.
NOVITA_FIELDS = frozenset((*_TRACKED, "last_synced_at"))


def data_kept_until(record: InstanceRecord) -> datetime | None:
    """Until when Novita keeps a stopped instance's data (``None`` unless it is stopped with a stop time)."""
    if record.status != STOPPED or record.last_stopped_at is None:
        return None
    return record.last_stopped_at + timedelta(days=record.keep_data_days or DEFAULT_KEEP_DATA_DAYS)


def tracked_fields(record: InstanceRecord) -> tuple[Any, ...]:
    """The Novita-sourced part of a record, for change detection."""
    return tuple(getattr(record, name) for name in _TRACKED)


def hourly_price(
    product: Product | None, gpu_count: int, billing_mode: str | None, instance: Instance | None = None
) -> float | None:
    """USD per hour for the whole instance: Novita's own price for it when the instance carries one
    (``instancePrice``), else the product's per-GPU price times the GPU count."""
    if instance is not None and instance.running_price_usd is not None:
        return round(instance.running_price_usd, 6)
    if product is None:
        return None
    per_gpu = (
        product.spot_price_usd if billing_mode == "spot" and product.spot_price_usd else product.price_usd
    )
    return round(per_gpu * max(gpu_count, 1), 6)


def record_from_instance(
    instance: Instance,
    existing: InstanceRecord | None,
    product: Product | None,
    now: datetime,
) -> InstanceRecord:
    """Merge what Novita says now into what we knew; keeps novictl's own fields (pings, pins, overrides).

    Novita does not always send start/stop times. When it does not, a transition we observe is dated
    ``now``: a later start time can only make an instance look *more* recently active, never idle early.
    """
    base = existing or InstanceRecord(
        id=instance.id, name=instance.name or instance.id, status=instance.status, first_seen_at=now
    )
    was = base.status if existing else None
    gpu_count = instance.gpu_num or base.gpu_count or 1
    last_started = instance.last_started_at or base.last_started_at
    if instance.status == RUNNING and was not in (None, RUNNING) and instance.last_started_at is None:
        last_started = now
    last_stopped = instance.last_stopped_at or base.last_stopped_at
    if instance.status == STOPPED and was not in (None, STOPPED) and instance.last_stopped_at is None:
        last_stopped = now
    price = hourly_price(product, gpu_count, instance.billing_mode, instance)
    stopped_price = instance.stopped_price_usd
    return base.model_copy(
        update={
            "name": instance.name or base.name,
            "status": instance.status,
            "product_id": instance.product_id or base.product_id,
            "product_name": instance.product_name or base.product_name,
            "region": instance.region_code or base.region,
            "gpu_count": gpu_count,
            "price_per_hour": price if price is not None else base.price_per_hour,
            "created_at": instance.created_at or base.created_at,
            "last_started_at": last_started,
            "last_stopped_at": last_stopped,
            "image_url": instance.image_url or base.image_url,
            "billing_mode": instance.billing_mode or base.billing_mode,
            "terminated_at": None,
            "stopped_price_per_hour": (
                round(stopped_price, 6) if stopped_price is not None else base.stopped_price_per_hour
            ),
            "keep_data_days": instance.keep_data_day or base.keep_data_days,
            "spot_status": instance.spot_status,
            "spot_reclaim_at": instance.spot_reclaim_time,
            "last_synced_at": now,
        }
    )
