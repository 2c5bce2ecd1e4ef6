"""Can auto-stop act? What a daemon's last scheduled attempt found, kept in the store so that ``/health``,
``novictl daemon check`` and ``autostop stats`` all say it, whichever process asks.

A daemon on a revoked key answers pings and serves the page while stopping nothing; without this it looked
"ok". Auto-stop cannot act when Novita refuses the key, when the store is down, or when the last run failed;
the GPU source being unavailable (no metrics on the account) is said, but auto-stop still acts on pings.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from novictl.errors import NovictlError, NovitaAuthError, StoreError

if TYPE_CHECKING:
    from novictl.store.base import StateStore

__all__ = ["AUTOSTOP_HEALTH_META", "AutoStopHealth", "read_autostop_health", "why_it_cannot_act"]

AUTOSTOP_HEALTH_META = "autostop_health"


@dataclass(frozen=True)
class AutoStopHealth:
    """``problem`` is ``None`` when the last attempt could act."""

    at: datetime
    problem: str | None = None
    gpu_source: str | None = None

    @property
    def gpu_unavailable(self) -> str | None:
        if self.gpu_source == "unavailable":
            return "unavailable: Novita answered no GPU metrics for any instance (pings alone decide)"
        return None

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.problem is None,
            "problem": self.problem,
            "at": self.at.isoformat(),
            "gpuSource": self.gpu_source,
            "gpu": self.gpu_unavailable or ("ok" if self.gpu_source else None),
        }

    async def save(self, store: StateStore) -> None:
        await store.set_meta(AUTOSTOP_HEALTH_META, json.dumps(self.to_dict()))


def why_it_cannot_act(error: BaseException) -> str:
    """One line for ``/health``: which part stopped auto-stop from acting."""
    if isinstance(error, NovitaAuthError):
        return error.message if "refused" in error.message else f"Novita refused the API key: {error.message}"
    if isinstance(error, StoreError):
        return f"store unavailable: {error.message}"
    message = error.message if isinstance(error, NovictlError) else type(error).__name__
    return f"last run failed: {message}"


async def read_autostop_health(store: StateStore) -> AutoStopHealth | None:
    """The last recorded attempt, or ``None`` when no daemon recorded one (or it is unreadable)."""
    raw = await store.get_meta(AUTOSTOP_HEALTH_META)
    if not raw:
        return None
    try:
        data = json.loads(raw)
        return AutoStopHealth(
            at=datetime.fromisoformat(str(data["at"])),
            problem=data.get("problem"),
            gpu_source=data.get("gpuSource"),
        )
    except (ValueError, TypeError, KeyError):
        return None
