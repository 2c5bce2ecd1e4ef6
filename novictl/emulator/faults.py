"""Which fault (if any) a request gets: the deterministic script first, then the random shares."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Literal

from novictl.emulator.config import FaultConfig

__all__ = ["NO_FAULT", "FaultDecision", "FaultKind", "FaultPlan", "ScriptedFault", "path_matches"]

FaultKind = Literal["status", "html", "drop", "slow"]
"""``status``: Novita's JSON error; ``html``: a gateway's HTML page with that status; ``drop``: a cut
connection; ``slow``: a hang."""


@dataclass
class ScriptedFault:
    """ "The next ``remaining`` calls to ``path`` answer ``kind``" — consumed in the order scripted."""

    kind: FaultKind
    remaining: int
    status: int = 503
    path: str | None = None
    retry_after: float | None = None
    seconds: float | None = None


@dataclass(frozen=True)
class FaultDecision:
    """What the gateway does to one request. ``kind`` ``None`` means: answer normally (after ``latency``)."""

    latency: float = 0.0
    kind: FaultKind | None = None
    status: int = 0
    retry_after: float | None = None
    seconds: float = 0.0


NO_FAULT = FaultDecision()


def path_matches(pattern: str, method: str, route: str, full_path: str) -> bool:
    """``pattern`` may be the route (``/gpu/instances``), the full path, or ``"GET /gpu/instances"``."""
    pattern = pattern.strip()
    if " " in pattern:
        want_method, _, want_path = pattern.partition(" ")
        return want_method.upper() == method and want_path.strip() in (route, full_path)
    return pattern in (route, full_path)


class FaultPlan:
    """The random fault settings plus the script; not thread-safe on its own (the state locks around it)."""

    def __init__(self, config: FaultConfig, seed: int):
        self.config = config
        self.script: list[ScriptedFault] = []
        self._rng = random.Random(seed)

    def add(self, fault: ScriptedFault) -> None:
        if fault.remaining > 0:
            self.script.append(fault)

    def decide(self, method: str, route: str, full_path: str) -> FaultDecision:
        """The fault for this request; consumes one use of the first matching scripted fault."""
        config = self.config
        in_scope = config.paths is None or any(
            path_matches(p, method, route, full_path) for p in config.paths
        )
        latency = config.latency_ms / 1000 if in_scope else 0.0
        for fault in self.script:
            if fault.path is None or path_matches(fault.path, method, route, full_path):
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self.script.remove(fault)
                return self._scripted(fault, latency)
        if not in_scope:
            return NO_FAULT
        roll = self._rng.random()
        if roll < (edge := config.rate_429):
            return FaultDecision(latency, "status", 429, retry_after=config.retry_after_seconds)
        if roll < (edge := edge + config.rate_5xx):
            return FaultDecision(latency, "status", config.status_5xx)
        if roll < (edge := edge + config.rate_drop):
            return FaultDecision(latency, "drop")
        if roll < edge + config.rate_slow:
            return FaultDecision(latency, "slow", seconds=config.slow_seconds)
        return FaultDecision(latency) if latency else NO_FAULT

    def _scripted(self, fault: ScriptedFault, latency: float) -> FaultDecision:
        retry_after = fault.retry_after
        if fault.kind == "status" and fault.status == 429 and retry_after is None:
            retry_after = self.config.retry_after_seconds
        seconds = fault.seconds if fault.seconds is not None else self.config.slow_seconds
        return FaultDecision(latency, fault.kind, fault.status, retry_after=retry_after, seconds=seconds)
