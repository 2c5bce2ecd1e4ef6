"""Settings of the emulator: the world it starts with and the faults it injects."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["EmulatorConfig", "FaultConfig"]


class FaultConfig(BaseModel):
    """Random faults, each a share of requests (0.0 to 1.0) drawn from the emulator's seeded RNG.

    One roll per request decides between 429, 5xx, drop and slow, so the shares are exclusive and must add
    up to at most 1. ``latency_ms`` is added to every matching request. ``paths`` restricts all of it to
    some routes (``"/gpu/instances"``, the full path, or ``"GET /gpu/instances"``); ``None`` means all.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    latency_ms: float = Field(default=0, ge=0)
    rate_429: float = Field(default=0.0, ge=0.0, le=1.0)
    retry_after_seconds: float = Field(default=1.0, ge=0)
    rate_5xx: float = Field(default=0.0, ge=0.0, le=1.0)
    status_5xx: int = Field(default=503, ge=500, le=599)
    rate_drop: float = Field(default=0.0, ge=0.0, le=1.0)
    rate_slow: float = Field(default=0.0, ge=0.0, le=1.0)
    slow_seconds: float = Field(default=30.0, ge=0)
    paths: list[str] | None = None

    @model_validator(mode="after")
    def _shares_fit(self) -> FaultConfig:
        if self.rate_429 + self.rate_5xx + self.rate_drop + self.rate_slow > 1.0 + 1e-9:
            raise ValueError("rate_429 + rate_5xx + rate_drop + rate_slow must not exceed 1.0")
        return self


class EmulatorConfig(BaseModel):
    """How an emulator starts: its fake API key, lifecycle speed, seeded instances and faults.

    ``step_delay`` is the time (seconds) each lifecycle status lasts, e.g. ``creating`` → ``pulling``.
    ``instances`` pre-existing instances are generated from ``seed``, which also seeds the fault RNG.
    ``paging``: ``"zero"`` — ``pageNum=0`` is the first page, as Novita's live API; ``"one"`` — 0 and 1 both
    mean the first page. GPU metrics are sampled every ``metrics_interval`` seconds (on the grid of its
    multiples in unix time) and reach only up to ``now - metrics_lag``. ``balance_units`` is the starting
    available (and cash) balance in 1/10000 USD (``"1250000"`` = $125.00).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    api_key: str = "emulator-key"
    step_delay: float = Field(default=2.0, ge=0)
    instances: int = Field(default=0, ge=0)
    seed: int = 0
    faults: FaultConfig = Field(default_factory=FaultConfig)
    paging: Literal["zero", "one"] = "zero"
    metrics_interval: float = Field(default=30.0, gt=0)
    metrics_lag: float = Field(default=60.0, ge=0)
    balance_units: str = Field(default="1250000", pattern=r"^-?[0-9]+$")
