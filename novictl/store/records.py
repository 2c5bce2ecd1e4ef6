"""What the state store holds: one :class:`InstanceRecord` per Novita instance, and :class:`Event` entries.

Every timestamp is a timezone-aware UTC ``datetime`` (naive ones are refused; other zones are converted).
Stored values that are not (null, "Invalid Date", epoch strings …) are repaired before they get here, by
:mod:`novictl.store.repair`.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

__all__ = ["ACTIVITY_TIMESTAMPS", "TIMESTAMP_FIELDS", "Event", "InstanceRecord", "UtcDatetime"]


def _require_utc(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("timestamp must be timezone-aware (UTC)")
    return value.astimezone(UTC)


UtcDatetime = Annotated[datetime, AfterValidator(_require_utc)]
"""An aware datetime, normalised to UTC."""


class InstanceRecord(BaseModel):
    """What novictl knows about one Novita instance, beyond what Novita itself tells."""

    model_config = ConfigDict(extra="ignore", validate_assignment=True)

    id: str
    name: str
    status: str
    product_id: str | None = None
    product_name: str | None = None
    region: str | None = None
    """The readable region code (``US-CA-06``), or Novita's cluster id when no code is known."""
    gpu_count: int = 1
    price_per_hour: float | None = None
    """USD per hour for the whole instance (all its GPUs)."""
    stopped_price_per_hour: float | None = None
    """USD per hour it still costs while stopped (its disk), when Novita says."""
    keep_data_days: int | None = None
    """Days Novita keeps its data after a stop (``keepDataDay``); unknown = Novita's default, 7."""
    spot_status: str | None = None
    """Novita's ``spotStatus``: ``notified`` is the one-hour notice before a spot instance is reclaimed."""
    spot_reclaim_at: UtcDatetime | None = None
    data_expiry_warned_at: UtcDatetime | None = None
    """When ``instance.data_expiring`` went out for the current stop (cleared by the next start)."""
    created_at: UtcDatetime | None = None
    last_started_at: UtcDatetime | None = None
    last_stopped_at: UtcDatetime | None = None
    last_used_at: UtcDatetime | None = None
    last_used_source: str | None = None
    first_seen_at: UtcDatetime
    last_synced_at: UtcDatetime | None = None
    terminated_at: UtcDatetime | None = None
    stopped_by: str | None = None
    """``user`` | ``autostop`` | ``stop-all`` | ``max-runtime``."""
    webhook_url: str | None = Field(default=None, repr=False)
    """Kept out of reprs: webhook URLs (Slack's, for one) are secrets in themselves."""
    autostop_idle_minutes: int | None = None
    autostop_disabled: bool = False
    autostop_activity: list[str] | None = None
    last_gpu_percent: float | None = None
    """The newest GPU sample (busiest GPU) the last auto-stop run read, and its time."""
    last_gpu_at: UtcDatetime | None = None
    last_gpu_busy_at: UtcDatetime | None = None
    """The latest busy GPU sample any run saw: activity even once it falls out of a later run's window."""
    """This instance's signs of use (``pings``, ``gpu``) when not the global ``autostop.activity``."""
    policy_changed_at: UtcDatetime | None = None
    pinned_until: UtcDatetime | None = None
    pinned_at: UtcDatetime | None = None
    warned_at: UtcDatetime | None = None
    image_url: str | None = None
    billing_mode: str | None = None
    extra: dict[str, Any] = Field(default_factory=dict)


TIMESTAMP_FIELDS: tuple[str, ...] = (
    "created_at",
    "last_started_at",
    "last_stopped_at",
    "last_used_at",
    "first_seen_at",
    "last_synced_at",
    "terminated_at",
    "policy_changed_at",
    "pinned_until",
    "pinned_at",
    "warned_at",
    "spot_reclaim_at",
    "data_expiry_warned_at",
    "last_gpu_at",
    "last_gpu_busy_at",
)
"""Every timestamp field of :class:`InstanceRecord`."""

ACTIVITY_TIMESTAMPS: frozenset[str] = frozenset(
    {"last_used_at", "last_started_at", "first_seen_at", "policy_changed_at", "pinned_until", "terminated_at"}
)
"""Timestamps that keep an instance alive (or delay a purge): when one is in doubt it is repaired to "now"."""


def _new_event_id() -> str:
    return uuid.uuid4().hex


class Event(BaseModel):
    """One entry of the audit log (also the payload source of a webhook)."""

    model_config = ConfigDict(extra="ignore")

    id: str = Field(default_factory=_new_event_id)
    type: str
    """``instance.created``, ``instance.status_changed``, ``instance.auto_stopped`` …"""
    occurred_at: UtcDatetime
    instance_id: str | None = None
    actor: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)
    instance: dict[str, Any] | None = None
    """A snapshot of the instance when it happened (camelCase, never a webhook URL): the webhook body's
    ``instance``."""
    webhook_url: str | None = Field(default=None, exclude=True, repr=False)
    """The instance's own webhook destination, carried to the outbox with the event; never stored in the
    log nor shown (the URL is a secret in itself)."""
