"""Heartbeats: each daemon records that it is alive; ``novictl daemon check`` reads them for monitoring.

Each daemon writes the meta key ``heartbeat:<daemon id>`` and also ``heartbeat`` (the latest beat of any
daemon sharing the store), so a check needs one read whatever the number of daemons.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from novictl.store.base import StateStore

__all__ = ["LATEST_HEARTBEAT_KEY", "Heartbeat", "HeartbeatCheck", "check_heartbeat", "write_heartbeat"]

LATEST_HEARTBEAT_KEY = "heartbeat"
FRESH_FACTOR = 3
"""A heartbeat is fresh while younger than this many heartbeat intervals."""


@dataclass(frozen=True)
class Heartbeat:
    """One beat: who, when, and where it serves."""

    daemon_id: str
    at: datetime
    address: str = ""
    version: str = ""

    def to_json(self) -> str:
        return json.dumps(
            {"daemonId": self.daemon_id, "at": self.at.isoformat(), "address": self.address,
             "version": self.version}
        )  # fmt: skip

    @classmethod
    def from_json(cls, text: str) -> Heartbeat | None:
        """The beat stored in ``text``, or ``None`` when it is not one (never raises)."""
        try:
            data: Any = json.loads(text)
            at = datetime.fromisoformat(str(data["at"]))
            if at.tzinfo is None:
                return None
            return cls(str(data["daemonId"]), at, str(data.get("address", "")), str(data.get("version", "")))
        except (ValueError, TypeError, KeyError):
            return None


@dataclass(frozen=True)
class HeartbeatCheck:
    """The verdict of ``novictl daemon check``."""

    fresh: bool
    latest: Heartbeat | None
    age_seconds: float | None
    max_age_seconds: float
    autostop_problem: str | None = None
    """Why the daemon's last auto-stop attempt could not act (a refused key, the store, a failed run)."""

    @property
    def healthy(self) -> bool:
        return self.fresh and self.autostop_problem is None

    def to_dict(self) -> dict[str, Any]:
        return {
            "healthy": self.healthy,
            "daemonId": self.latest.daemon_id if self.latest else None,
            "lastHeartbeatAt": self.latest.at.isoformat() if self.latest else None,
            "ageSeconds": None if self.age_seconds is None else round(self.age_seconds, 3),
            "maxAgeSeconds": self.max_age_seconds,
            "address": self.latest.address if self.latest else None,
            "autostopProblem": self.autostop_problem,
        }


async def write_heartbeat(store: StateStore, beat: Heartbeat) -> None:
    text = beat.to_json()
    await store.set_meta(f"heartbeat:{beat.daemon_id}", text)
    await store.set_meta(LATEST_HEARTBEAT_KEY, text)


async def check_heartbeat(store: StateStore, *, now: datetime, heartbeat_seconds: float) -> HeartbeatCheck:
    """Fresh when the latest beat is younger than ``3 * heartbeat_seconds``; healthy when fresh and the
    last auto-stop attempt could act."""
    from novictl.core.autostop_health import read_autostop_health

    max_age = FRESH_FACTOR * heartbeat_seconds
    raw = await store.get_meta(LATEST_HEARTBEAT_KEY)
    latest = Heartbeat.from_json(raw) if raw else None
    if latest is None:
        return HeartbeatCheck(False, None, None, max_age)
    age = (now - latest.at) / timedelta(seconds=1)
    autostop = await read_autostop_health(store)
    return HeartbeatCheck(age <= max_age, latest, age, max_age, autostop.problem if autostop else None)
