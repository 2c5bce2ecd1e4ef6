"""Auto-stop at scale: 10,000 running instances in the emulator, 1% idle, one real ``autostop run``.

Prints wall time, Novita calls (expected: list pages + 3 per idle instance: a GPU metrics read, a GET and a
stop) and store calls (expected: a constant few, plus the lifecycle stop's own record and event writes per
idle instance), on SQLite and on a real Redis (with its round trips). Target on a 2-core machine: <= 2 s
wall. It also times the plan with pings alone (auto-stop before GPU activity) against pings + GPU: metrics
are read only for the ping-idle instances, so the ratio should stay within 1.5x.

    .venv/bin/python bench/autostop_scale.py [--instances 10000] [--idle-share 0.01] [--redis-url redis://…]

The emulator runs as its own process (``novictl emulator``), as Novita would. Idleness is seeded by writing
last-used pings into the store directly: the idle ones were last used 2 hours ago, the others a minute ago;
every record is backdated to a first sight a day ago (auto-stop never stops on first sight), and the warning
gate is off (``warn_before_minutes = 0``) so that the one run measures the stops.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from harness import Emulator, emulator_process, for_each_backend

from novictl.config.models import AutoStopSettings
from novictl.core.autostop import apply_autostop, plan_autostop
from novictl.core.sync import SyncOptions, sync_instances
from novictl.novita.client import NovitaClient
from novictl.store import open_store
from novictl.store.base import StoreOptions


class CountingStore:
    """Counts the store methods awaited (each is one round trip, or one transaction on SQLite)."""

    def __init__(self, inner: Any):
        self.inner = inner
        self.calls: Counter[str] = Counter()

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.inner, name)
        if not asyncio.iscoroutinefunction(attr):
            return attr

        async def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls[name] += 1
            return await attr(*args, **kwargs)

        return counted


def force_running(emulator: Emulator, ids: list[str]) -> None:
    with httpx.Client(base_url=emulator.url, timeout=30) as http:
        for instance_id in ids:
            http.post(
                f"/_emulator/instances/{instance_id}/status", json={"status": "running"}
            ).raise_for_status()


async def prepare(emulator: Emulator, client: NovitaClient) -> list[str]:
    """Every instance running; returns the ids of those started more than 3 hours ago."""
    listed = await client.list_all_instances(page_size=100)
    force_running(emulator, [i.id for i in listed if i.status != "running"])
    cutoff = datetime.now(UTC) - timedelta(hours=3)
    return [i.id for i in listed if i.last_started_at is not None and i.last_started_at < cutoff]


async def run_once(
    label: str, store_url: str, emulator: Emulator, old_ids: list[str], idle_share: float
) -> None:
    sqlite_path = Path(store_url.removeprefix("sqlite:///")) if store_url.startswith("sqlite") else Path()
    options = StoreOptions(url=store_url, key_prefix=f"bench{time.time_ns()}:", sqlite_path=sqlite_path)
    store = await open_store(options)
    client = NovitaClient(api_key=emulator.api_key, base_url=emulator.base_url)
    try:
        result = await sync_instances(client=client, store=store, options=SyncOptions(page_size=100))
        total = result.seen
        idle = old_ids[: max(1, round(total * idle_share))]
        idle_set = set(idle)
        now = datetime.now(UTC)
        pings = {
            r.id: (now - timedelta(minutes=1), "bench") for r in await store.get_all() if r.id not in idle_set
        }
        pings.update({i: (now - timedelta(hours=2), "bench") for i in idle})
        await store.update_last_used(pings)
        yesterday = now - timedelta(days=1)
        records = await store.get_all()
        await store.put_many(
            [r.model_copy(update={"first_seen_at": yesterday}) for r in records], fields=["first_seen_at"]
        )

        settings = AutoStopSettings(warn_before_minutes=0)
        pings_only = settings.model_copy(update={"activity": ["pings"]})
        started = time.perf_counter()
        await plan_autostop(client=client, store=store, settings_autostop=pings_only)
        plan_pings = time.perf_counter() - started

        emulator.reset_calls()
        counting = CountingStore(store)
        trips_before = getattr(store, "round_trips", None)
        started = time.perf_counter()
        # run_autostop is exactly these two steps; timed apart to show where the time goes.
        plan = await plan_autostop(client=client, store=counting, settings_autostop=settings)
        planned = time.perf_counter() - started
        report = await apply_autostop(plan, client=client, store=counting, settings_autostop=settings)
        wall = time.perf_counter() - started

        calls = emulator.calls()
        pages = calls.get("GET /gpu/instances", 0)
        gets = calls.get("GET /gpu/instance", 0)
        stops = calls.get("POST /gpu/instance/stop", 0)
        metrics = calls.get("GET /metrics/gpu/instance", 0)
        totals = report.totals
        print(
            f"{label:7} {wall:5.2f}s (read+judge {planned:.2f}s, re-check+stop {wall - planned:.2f}s)  "
            f"instances={total} idle={len(idle)} stopped={totals['stopped']:.0f} "
            f"kept={totals['keep']:.0f} skipped={totals['skip']:.0f} errors={len(report.errors)}",
            flush=True,
        )
        print(
            f"        plan with pings only {plan_pings:.2f}s, with pings + gpu {planned:.2f}s: "
            f"{planned / plan_pings:.2f}x (target <= 1.5x); metrics calls={metrics} "
            f"(expected {len(idle)}, the ping-idle instances only)",
            flush=True,
        )
        print(
            f"        novita calls={sum(calls.values())} (list pages={pages}, metrics={metrics}, GET={gets}, "
            f"stop={stops}; expected {pages + 3 * len(idle)})  store calls={sum(counting.calls.values())} "
            f"({dict(counting.calls)})"
            + (
                f"  redis round trips={getattr(store, 'round_trips', 0) - trips_before}"
                if trips_before is not None
                else ""
            ),
            flush=True,
        )
        force_running(emulator, idle)  # the next backend starts from the same world
    finally:
        await client.aclose()
        await store.close()


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--instances", type=int, default=10_000)
    parser.add_argument("--idle-share", type=float, default=0.01)
    parser.add_argument("--redis-url", default=None)
    args = parser.parse_args()
    with emulator_process(args.instances) as emulator:
        async with NovitaClient(api_key=emulator.api_key, base_url=emulator.base_url) as client:
            old_ids = await prepare(emulator, client)
        print(f"auto-stop run over {args.instances} running instances, {args.idle_share:.0%} idle")
        await for_each_backend(
            lambda label, url: run_once(label, url, emulator, old_ids, args.idle_share),
            redis_url=args.redis_url,
        )


if __name__ == "__main__":
    asyncio.run(main())
