"""A per-client token bucket: ``per_minute`` requests a minute, bursts up to that many."""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["RateLimiter"]

_PRUNE_ABOVE = 10_000


class RateLimiter:
    """``check(client)`` is ``0.0`` when the request may pass, else the seconds until it could."""

    def __init__(self, per_minute: int, *, monotonic: Callable[[], float] = time.monotonic):
        self.capacity = float(max(1, per_minute))
        self.rate = self.capacity / 60.0
        self._monotonic = monotonic
        self._buckets: dict[str, tuple[float, float]] = {}  # client -> (tokens, updated at)

    def check(self, client: str) -> float:
        now = self._monotonic()
        tokens, updated = self._buckets.get(client, (self.capacity, now))
        tokens = min(self.capacity, tokens + (now - updated) * self.rate)
        if tokens >= 1.0:
            self._buckets[client] = (tokens - 1.0, now)
            if len(self._buckets) > _PRUNE_ABOVE:
                self._prune(now)
            return 0.0
        self._buckets[client] = (tokens, now)
        return (1.0 - tokens) / self.rate

    def _prune(self, now: float) -> None:
        # A bucket that has refilled completely is the same as no bucket.
        full_after = self.capacity / self.rate
        self._buckets = {k: v for k, v in self._buckets.items() if now - v[1] < full_after}
