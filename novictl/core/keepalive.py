"""``novictl keepalive``: run a command and ping for the instance while it runs, so auto-stop keeps it.

Pings go out when the command starts, every ``every`` seconds while it runs, and once when it ends. A
ping that fails is reported through ``on_error`` and tried again at the next tick: a flaky network or a
daemon restart must never kill the job it is protecting. The command's exit code is the result's.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from novictl.errors import NovictlError, UsageError

__all__ = ["KeepaliveResult", "keep_alive"]

Ping = Callable[[], Awaitable[object]]


@dataclass
class KeepaliveResult:
    exit_code: int
    pings_sent: int = 0
    pings_failed: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"exitCode": self.exit_code, "pingsSent": self.pings_sent, "pingsFailed": self.pings_failed}


async def keep_alive(
    command: Sequence[str],
    *,
    ping: Ping,
    every: float,
    on_error: Callable[[str], None],
) -> KeepaliveResult:
    """Run ``command`` (inheriting stdin/stdout/stderr) and ``ping`` around it; the command decides when to
    end (SIGTERM is passed on to it; Ctrl-C reaches it from the terminal)."""
    if not command:
        raise UsageError("name the command to run after --, e.g. novictl keepalive -- python train.py")
    result = KeepaliveResult(exit_code=0)

    async def beat() -> None:
        try:
            await ping()
        except Exception as error:  # no ping failure may end the job it protects
            result.pings_failed += 1
            message = error.message if isinstance(error, NovictlError) else str(error)
            on_error(f"ping failed (the command goes on; retrying in {every:g}s): {message}")
        else:
            result.pings_sent += 1

    try:
        process = await asyncio.create_subprocess_exec(*command)
    except OSError as error:
        raise UsageError(f"cannot run {command[0]!r}: {error.strerror or error}") from error
    loop = asyncio.get_running_loop()
    forwarded: list[int] = []
    # Ctrl-C reaches the command from the terminal already: keepalive only outlives it. SIGTERM (systemd,
    # kill) is for keepalive alone, so it is passed on.
    handlers: tuple[tuple[signal.Signals, Callable[[], object]], ...] = (
        (signal.SIGINT, lambda: None),
        (signal.SIGTERM, lambda: process.send_signal(signal.SIGTERM)),
    )
    for signum, handler in handlers:
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signum, handler)
            forwarded.append(signum)
    try:
        await beat()
        waiting = asyncio.ensure_future(process.wait())
        while True:
            done, _ = await asyncio.wait({waiting}, timeout=every)
            if done:
                break
            await beat()
        result.exit_code = waiting.result()
        await beat()  # the end of the job is the latest use
    finally:
        for handled in forwarded:
            loop.remove_signal_handler(handled)
        if process.returncode is None:  # we were cancelled: do not leave the job behind unattended
            process.terminate()
            await process.wait()
    if result.exit_code < 0:  # killed by a signal: the shell's convention
        result.exit_code = 128 - result.exit_code
    return result
