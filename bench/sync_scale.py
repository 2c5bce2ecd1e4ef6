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
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from novictl.core.sync import SyncOptions, sync_instances
from novictl.novita.client import NovitaClient
from novictl.store import open_store
from novictl.store.base import StoreOptions


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_for_port(port: int) -> None:
    for _ in range(500):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            return
        except OSError:
            time.sleep(0.02)
    raise SystemExit(f"nothing listens on port {port}")


@dataclass
class Emulator:
    url: str
    base_url: str
    api_key: str

    def calls(self) -> dict[str, int]:
        return dict(httpx.get(f"{self.url}/_emulator/calls").json()["calls"])

    def reset_calls(self) -> None:
        httpx.post(f"{self.url}/_emulator/calls/reset").raise_for_status()


@contextmanager
def emulator_process(instances: int) -> Iterator[Emulator]:
    port = _free_port()
    command = [sys.executable, "-m", "novictl", "emulator", "--port", str(port), "--api-key", "bench",
               "--instances", str(instances), "--step-delay", "1h"]  # fmt: skip
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for_port(port)
        url = f"http://127.0.0.1:{port}"
        yield Emulator(url, f"{url}/gpu-instance/openapi/v1", "bench")
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(10)


@contextmanager
def redis_server() -> Iterator[str]:
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server not found: apt-get install -y redis-server")
    port = _free_port()
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.Popen(
            [
                binary,
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                tmp,
            ],
            stdout=subprocess.DEVNULL,
        )
        try:
            _wait_for_port(port)
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            proc.terminate()
            proc.wait(5)


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
                trips = (store.round_trips - trips_before) * per_k
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
    with emulator_process(args.instances) as emulator, tempfile.TemporaryDirectory() as tmp:
        print(f"sync of {args.instances} instances, page size {args.page_size}")
        await _run("sqlite", f"sqlite:///{Path(tmp) / 'bench.db'}", emulator, args.instances, args.page_size)
        if args.redis_url:
            await _run("redis", args.redis_url, emulator, args.instances, args.page_size)
        else:
            with redis_server() as url:
                await _run("redis", url, emulator, args.instances, args.page_size)


if __name__ == "__main__":
    asyncio.run(main())
