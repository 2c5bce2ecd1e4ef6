"""The webhook outbox: one :class:`Delivery` per event and destination, kept in the store until it is done.

A delivery is ``pending`` until an attempt succeeds (``delivered``), fails for good or runs out of retries
(``failed``), or turns out to have nowhere to go (``dropped``: no ``webhook.url`` configured when it came
due). Every attempt's outcome is kept on it. Finished deliveries are pruned like events: by count and age.

Deliverers *claim* due deliveries: the claim moves their next attempt a lease into the future in the same
atomic step, so two deliverers (a daemon and a CLI, or two daemons) never send the same one at once, and a
deliverer that dies mid-send leaves it to be retried when the lease ends (at-least-once; receivers dedupe on
``X-Novictl-Delivery``).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from novictl.store.records import UtcDatetime

__all__ = [
    "FINISHED_STATES",
    "Delivery",
    "DeliveryAttempt",
    "DeliveryOutcome",
    "DeliveryState",
]

DeliveryState = Literal["pending", "delivered", "failed", "dropped"]
DeliveryOutcome = Literal["delivered", "retry", "failed"]
FINISHED_STATES: tuple[DeliveryState, ...] = ("delivered", "failed", "dropped")


class DeliveryAttempt(BaseModel):
    """One POST of a delivery and what came of it."""

    model_config = ConfigDict(extra="ignore")

    at: UtcDatetime
    outcome: DeliveryOutcome
    status_code: int | None = None
    error: str | None = None
    duration_ms: float = 0.0


class Delivery(BaseModel):
    """One event on its way to one destination."""

    model_config = ConfigDict(extra="ignore", validate_assignment=True)

    id: str = Field(default_factory=lambda: uuid.uuid4().hex)
    event_id: str
    """Sent as ``X-Novictl-Delivery``: the same on every retry and for every destination."""
    event_type: str
    instance_id: str | None = None
    url: str | None = Field(default=None, repr=False)
    """The instance's own URL; ``None`` means the configured ``webhook.url`` at delivery time."""
    body: str
    """The exact JSON sent, fixed when the event happened, so every retry sends the same bytes."""
    state: DeliveryState = "pending"
    created_at: UtcDatetime
    next_attempt_at: UtcDatetime
    finished_at: UtcDatetime | None = None
    attempts: list[DeliveryAttempt] = Field(default_factory=list)

    @property
    def destination(self) -> str:
        """``instance`` or ``global``: which kind of URL this goes to (the URL itself is a secret)."""
        return "global" if self.url is None else "instance"

    @property
    def last_error(self) -> str | None:
        """What went wrong on the latest attempt, if it went wrong."""
        if not self.attempts or self.attempts[-1].outcome == "delivered":
            return None
        last = self.attempts[-1]
        return last.error or (f"HTTP {last.status_code}" if last.status_code is not None else None)

    def sort_key(self) -> datetime:
        return self.created_at
