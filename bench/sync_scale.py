"""Sync at scale: 10,000 instances in the emulator; cold and warm sync on SQLite and on a real Redis.

Prints wall time, Novita calls, Redis commands (``INFO commandstats`` before/after) and Redis round trips
per 1,000 instances. Targets on a 2-core machine: warm sync of 10,000 on Redis <= 3 s; <= 5 Redis round
trips per 1,000 instances; one Novita list call per page of >= 100 instances.

    .venv/bin/python bench/sync_scale.py [--instances 10000] [--page-size 100] [--redis-url redis://…]

Without ``--redis-url`` it starts its own ``redis-server`` on a free port in a temp dir.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from novictl.core.sync import SyncOptions, sync_instances
from novictl.emulator import EmulatorConfig, EmulatorServer
from novictl.novita.client import NovitaClient
from novictl.store import open_store

_round_trips = 0


def _count_round_trips() -> None:
    """Count every packet redis-py sends: a pipeline is one send, a plain command is one send."""
    from redis.asyncio.connection import AbstractConnection

    original = AbstractConnection.send_packed_command

    async def counted(self: Any, command: Any, check_health: bool = True) -> None:
        global _round_trips
        _round_trips += 1
        await original(self, command, check_health)

    AbstractConnection.send_packed_command = counted  # type: ignore[method-assign]


@contextmanager
def redis_server() -> Iterator[str]:
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server not found: apt-get install -y redis-server")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.Popen(
            [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", tmp],
            stdout=subprocess.DEVNULL,
        )
        try:
            for _ in range(200):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
                    break
                except OSError:
                    time.sleep(0.02)
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            proc.terminate()
            proc.wait(5)


def _commandstats(url: str) -> int:
    import redis

    info = redis.Redis.from_url(url).info("commandstats")
    return sum(int(v["calls"]) for k, v in info.items() if not k.startswith("cmdstat_info"))


async def _run(label: str, store_url: str, emulator: EmulatorServer, instances: int, page_size: int) -> None:
    global _round_trips
    settings = SimpleNamespace(url=store_url, key_prefix=f"bench{time.time_ns()}:", events_max=100_000,
                               events_max_age_days=30)  # fmt: skip
    store = await open_store(settings)  # type: ignore[arg-type]
    client = NovitaClient(api_key=emulator.api_key, base_url=emulator.base_url)
    options = SyncOptions(page_size=page_size)
    try:
        for phase in ("cold", "warm"):
            emulator.state.reset_calls()
            redis_before = _commandstats(store_url) if store_url.startswith("redis") else 0
            _round_trips = 0
            started = time.perf_counter()
            result = await sync_instances(client=client, store=store, options=options)
            wall = time.perf_counter() - started
            calls = sum(emulator.state.calls.values())
            lists = emulator.state.calls["GET /gpu/instances"]
            line = (
                f"{label:7} {phase}: {wall:6.2f}s  seen={result.seen} adopted={result.adopted} "
                f"unchanged={result.unchanged}  novita calls={calls} (list pages={lists}, "
                f"{result.seen / max(lists, 1):.0f} instances/page)"
            )
            if store_url.startswith("redis"):
                commands = _commandstats(store_url) - redis_before
                per_k = 1000 / max(result.seen, 1)
                line += f"  redis commands/1k={commands * per_k:.1f} round trips/1k={_round_trips * per_k:.2f}"
            print(line, flush=True)
    finally:
        await client.aclose()
        await store.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--instances", type=int, default=10_000)
    parser.add_argument("--page-size", type=int, default=100)
    parser.add_argument("--redis-url", default=None)
    args = parser.parse_args()
    _count_round_trips()
    config = EmulatorConfig(api_key="bench", instances=args.instances, step_delay=3600)
    with EmulatorServer(config) as emulator, tempfile.TemporaryDirectory() as tmp:
        print(f"sync of {args.instances} instances, page size {args.page_size}")
        await _run("sqlite", f"sqlite:///{Path(tmp) / 'bench.db'}", emulator, args.instances, args.page_size)
        if args.redis_url:
            await _run("redis", args.redis_url, emulator, args.instances, args.page_size)
        else:
            with redis_server() as url:
                await _run("redis", url, emulator, args.instances, args.page_size)


if __name__ == "__main__":
    asyncio.run(main())
