"""``GET /health``: is the store answering, is Novita reachable (per the breaker), is the scheduler running.

200 ``{"status": "ok", …}`` when every check passes, else 503 ``{"status": "degraded", …}`` with the failing
check named in ``checks``. Novita is judged by the circuit breaker, not by a call: a health probe every few
seconds must not cost Novita requests.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from novictl import __version__
from novictl.core.autostop_health import read_autostop_health
from novictl.daemon.operations import json_or_none
from novictl.errors import StoreError

if TYPE_CHECKING:
    from novictl.daemon.context import DaemonContext

__all__ = ["LAST_AUTOSTOP_META", "health_report"]

LAST_AUTOSTOP_META = "last_autostop"
"""Meta key holding the summary of the latest auto-stop run."""
_STORE_TIMEOUT = 2.0


async def health_report(ctx: DaemonContext) -> tuple[int, dict[str, Any]]:
    """The status code and body of ``/health``."""
    checks: dict[str, str] = {}
    last_sync: Any = None
    last_autostop: Any = None
    try:
        await asyncio.wait_for(ctx.store.ping(), _STORE_TIMEOUT)
        last_sync = json_or_none(await ctx.store.get_meta("last_sync"))
        if isinstance(last_sync, dict):
            # The counts say enough; the per-instance changes would grow a probe's answer with the fleet.
            last_sync.pop("changes", None)
        last_autostop = json_or_none(await ctx.store.get_meta(LAST_AUTOSTOP_META))
        # The store's word, as `daemon check` reads it: another daemon sharing it may have run since.
        stored = await read_autostop_health(ctx.store)
        if stored is not None and (ctx.autostop_health is None or stored.at >= ctx.autostop_health.at):
            ctx.autostop_health = stored
        checks["store"] = "ok" if ctx.pings.store_healthy else "recovering: buffered pings not written yet"
    except (StoreError, TimeoutError) as error:
        checks["store"] = f"unavailable: {getattr(error, 'message', 'no answer in time')}"
        ctx.metrics.store_errors.inc()
    breaker = ctx.client.breaker.state.value
    checks["novita"] = "ok" if breaker != "open" else "unavailable: circuit breaker open"
    if not ctx.scheduler.expected:
        checks["scheduler"] = "ok (not scheduled in this process)"
    else:
        checks["scheduler"] = "ok" if ctx.scheduler.running else "stopped"
    autostop = ctx.autostop_health
    checks["autostop"] = "ok (not checked yet)" if autostop is None else autostop.problem or "ok"
    healthy = all(value.startswith("ok") for value in checks.values())
    body = {
        "status": "ok" if healthy else "degraded",
        "checks": checks,
        "lastSync": last_sync,
        "lastAutoStopCheck": ctx.last_autostop_check or last_autostop,
        "version": __version__,
        "daemonId": ctx.daemon_id,
        "startedAt": ctx.started_at.isoformat(),
        "bufferedPings": len(ctx.pings),
        # Said, not failed on: without GPU metrics auto-stop still acts on pings.
        "gpuSource": (autostop.gpu_unavailable or autostop.gpu_source) if autostop else None,
    }
    return (200 if healthy else 503), body
