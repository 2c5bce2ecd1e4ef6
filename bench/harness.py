"""What the benchmarks share: the emulator as its own process, a throw-away redis-server, and running one
measurement on each store backend."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

__all__ = ["Emulator", "emulator_process", "for_each_backend", "redis_server"]


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


async def for_each_backend(measure: Callable[[str, str], Awaitable[None]], *, redis_url: str | None) -> None:
    """``measure(label, store_url)`` on a fresh SQLite file, then on Redis (``redis_url`` or our own)."""
    with tempfile.TemporaryDirectory() as tmp:
        await measure("sqlite", f"sqlite:///{Path(tmp) / 'bench.db'}")
    if redis_url:
        await measure("redis", redis_url)
        return
    with redis_server() as url:
        await measure("redis", url)
