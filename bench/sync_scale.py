"""Sync at scale: 10,000 instances in the emulator; cold and warm sync on SQLite and on a real Redis.

Prints wall time, Novita calls, Redis commands (``INFO commandstats`` before/after) and Redis round trips
per 1,000 instances. Targets on a 2-core machine: warm sync of 10,000 on Redis <= 3 s; <= 5 Redis round
trips per 1,000 instances; one Novita list call per page of >= 100 instances.

    .venv/bin/python bench/sync_scale.py [--instances 10000] [--page-size 100] [--redis-url redis://…]

The emulator runs as its own process (``novictl emulator``), as Novita would; without ``--redis-url`` the
benchmark starts its own ``redis-server`` on a free port in a temp dir.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from pathlib import Path

from harness import Emulator, emulator_process, for_each_backend

from novictl.core.sync import SyncOptions, sync_instances
from novictl.novita.client import NovitaClient
from novictl.store import open_store
from novictl.store.base import StoreOptions


def _commandstats(url: str) -> int:
    import redis

    info = redis.Redis.from_url(url).info("commandstats")
    return sum(int(v["calls"]) for k, v in info.items() if not k.startswith("cmdstat_info"))


async def _run(label: str, store_url: str, emulator: Emulator, instances: int, page_size: int) -> None:
    sqlite_path = Path(store_url.removeprefix("sqlite:///")) if store_url.startswith("sqlite") else Path()
    options = StoreOptions(url=store_url, key_prefix=f"bench{time.time_ns()}:", sqlite_path=sqlite_path)
    store = await open_store(options)
    client = NovitaClient(api_key=emulator.api_key, base_url=emulator.base_url)
    sync_options = SyncOptions(page_size=page_size)
    try:
        for phase in ("cold", "warm"):
            emulator.reset_calls()
            redis_before = _commandstats(store_url) if store_url.startswith("redis") else 0
            trips_before = getattr(store, "round_trips", 0)
            started = time.perf_counter()
            result = await sync_instances(client=client, store=store, options=sync_options)
            wall = time.perf_counter() - started
            counted = emulator.calls()
            calls = sum(counted.values())
            lists = counted.get("GET /gpu/instances", 0)
            line = (
                f"{label:7} {phase}: {wall:6.2f}s  seen={result.seen} adopted={result.adopted} "
                f"unchanged={result.unchanged}  novita calls={calls} (list pages={lists}, "
                f"{result.seen / max(lists, 1):.0f} instances/page)"
            )
            if store_url.startswith("redis"):
                commands = _commandstats(store_url) - redis_before
                per_k = 1000 / max(result.seen, 1)
                trips = (getattr(store, "round_trips", 0) - trips_before) * per_k
                line += f"  redis commands/1k={commands * per_k:.1f} round trips/1k={trips:.2f}"
            print(line, flush=True)
    finally:
        await client.aclose()
        await store.close()


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--instances", type=int, default=10_000)
    parser.add_argument("--page-size", type=int, default=100)
    parser.add_argument("--redis-url", default=None)
    args = parser.parse_args()
    with emulator_process(args.instances) as emulator:
        print(f"sync of {args.instances} instances, page size {args.page_size}")
        await for_each_backend(
            lambda label, url: _run(label, url, emulator, args.instances, args.page_size),
            redis_url=args.redis_url,
        )


if __name__ == "__main__":
    asyncio.run(main())
