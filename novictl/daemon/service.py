"""The daemon process: uvicorn serving the API, the scheduler running the jobs, the ping flusher — one loop.

``Daemon(settings).serve()`` runs until SIGTERM/SIGINT (or :meth:`Daemon.request_stop`), then shuts down in
order: stop taking requests (uvicorn finishes the ones in flight), stop scheduling, let a running job finish
(bounded), cancel the follow-ups of lifecycle actions, write the buffered pings, release the job locks,
close. ``Daemon.run_once()`` runs every job one time and returns (tests, and one-shot use).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
from collections.abc import AsyncIterator, Callable, Generator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import uvicorn

from novictl.clock import Clock, SystemClock
from novictl.daemon.context import DaemonContext, new_daemon_id
from novictl.daemon.jobs import JobOutcome, JobRunner, JobSchedule
from novictl.daemon.security import require_token_for_host
from novictl.errors import ConfigError, StoreError

if TYPE_CHECKING:
    from novictl.config import Settings
    from novictl.novita.client import NovitaClient
    from novictl.store.base import StateStore

__all__ = ["Daemon"]

log = logging.getLogger("novictl.daemon")


class Daemon:
    """One novictl daemon. Every knob is keyword-only; ``None`` means "from the settings"."""

    def __init__(
        self,
        settings: Settings,
        *,
        host: str | None = None,
        port: int | None = None,
        dry_run: bool = False,
        clock: Clock | None = None,
        daemon_id: str | None = None,
        schedule: JobSchedule | None = None,
        store: StateStore | None = None,
        client: NovitaClient | None = None,
    ):
        self.settings = settings
        self.host = host or settings.daemon.host
        self.port = settings.daemon.port if port is None else port
        self.dry_run = dry_run
        self.clock: Clock = clock or SystemClock()
        self.daemon_id = daemon_id or new_daemon_id()
        self.schedule = schedule or JobSchedule.from_settings(settings)
        self._given_store = store
        self._given_client = client
        self._server: _Server | None = None
        self._scheduler: Any = None
        self._stop_requested = False
        self.context: DaemonContext | None = None
        """Set while the daemon runs."""

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def check_binding(self) -> None:
        """``ConfigError`` (exit 3) for a non-loopback host without an API token."""
        token = self.settings.daemon.api_token
        require_token_for_host(self.host, has_token=token is not None and bool(token.get_secret_value()))

    async def run_once(self) -> dict[str, JobOutcome]:
        """Every job once (heartbeat, sync, auto-stop, purge), then flush and close."""
        async with self._opened() as ctx:
            runner = JobRunner(ctx, self.schedule, address=self.url)
            outcomes = await runner.run_all_once()
            await runner.webhooks()  # what this run queued goes out now (what fails stays queued)
            return outcomes

    async def serve(self, *, on_ready: Callable[[str], None] | None = None) -> None:
        """Serve until asked to stop; ``on_ready(url)`` is called once requests are accepted."""
        self.check_binding()
        listener = self._bind()
        # Signals are ours from before the store opens until it is closed: a stop request at any point
        # (even a second SIGTERM while shutting down) is a graceful one.
        with self._signals(), contextlib.closing(listener):
            await self._serve_with(listener, on_ready)

    async def _serve_with(self, listener: socket.socket, on_ready: Callable[[str], None] | None) -> None:
        async with self._opened() as ctx:
            from novictl.daemon.http.app import create_app
            from novictl.daemon.scheduler import build_scheduler

            runner = JobRunner(ctx, self.schedule, address=self.url)
            server = _Server(self._uvicorn_config(create_app(ctx)))
            self._server = server
            scheduler = build_scheduler(runner)
            tasks = [
                asyncio.create_task(ctx.pings.run(self.schedule.flush_seconds), name="ping-flusher"),
                asyncio.create_task(self._refresh_index(ctx), name="index-refresh"),
            ]
            try:
                scheduler.start()
                self._scheduler = scheduler
                ctx.scheduler.expected = ctx.scheduler.running = True
                ctx.scheduler.jobs = [job.id for job in scheduler.get_jobs()]
                log.info(
                    "novictl daemon %s serving %s (store: %s, auto-stop%s every %gs)",
                    self.daemon_id, self.url, ctx.store.backend, " dry run" if ctx.autostop_dry_run else "",
                    self.schedule.autostop_seconds,
                )  # fmt: skip
                if self._stop_requested:
                    server.should_exit = True
                serving = asyncio.create_task(server.serve(sockets=[listener]))
                if on_ready is not None:
                    await _until_started(server, serving)
                    on_ready(self.url)
                await serving
            finally:
                await self._shutdown(ctx, runner, scheduler, tasks)

    def request_stop(self) -> None:
        """Begin a graceful shutdown (what SIGTERM and SIGINT do). A second call while shutting down cuts
        the wait for open connections short."""
        if self._stop_requested and self._server is not None:
            self._server.force_exit = True
        self._stop_requested = True
        if self._server is not None:
            self._server.should_exit = True
        if self._scheduler is not None and self._scheduler.running:
            self._scheduler.shutdown(wait=False)

    # -- pieces ------------------------------------------------------------------------------------------

    @asynccontextmanager
    async def _opened(self) -> AsyncIterator[DaemonContext]:
        from novictl.novita.client import NovitaClient
        from novictl.store import open_store

        store = self._given_store or await open_store(self.settings.store, clock=self.clock)
        client: NovitaClient | None = None
        try:
            client = self._given_client or NovitaClient.from_settings(self.settings.novita)
            ctx = DaemonContext.build(
                settings=self.settings, store=store, client=client, clock=self.clock,
                daemon_id=self.daemon_id, dry_run=self.dry_run,
            )  # fmt: skip
            ctx.settler.poll_seconds = self.schedule.settle_poll_seconds
            try:
                await ctx.index.refresh()
            except StoreError as error:
                log.warning("could not read the store at startup (will retry): %s", error.message)
            self.context = ctx
            try:
                yield ctx
            finally:
                await ctx.settler.close()
                await ctx.pings.drain()
        finally:
            self.context = None
            if client is not None and self._given_client is None:
                await client.aclose()
            if self._given_store is None:
                await store.close()

    async def _shutdown(
        self, ctx: DaemonContext, runner: JobRunner, scheduler: Any, tasks: list[Any]
    ) -> None:
        if scheduler.running:
            scheduler.shutdown(wait=False)
        ctx.scheduler.running = False
        if not await runner.wait_idle(self.schedule.shutdown_grace_seconds):
            log.warning("a job still runs after %gs; stopping anyway", self.schedule.shutdown_grace_seconds)
            await runner.cancel_running()
        if ctx.acting:  # auto-stop runs and stop-alls started over HTTP record what they did
            await asyncio.wait(set(ctx.acting), timeout=self.schedule.shutdown_grace_seconds)
        await ctx.settler.close()  # the sweep (and the next sync) catch what they did not see settle
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        left = await ctx.pings.drain()
        await runner.release_locks()
        log.info(
            "novictl daemon %s stopped%s", self.daemon_id, f" ({left} ping(s) unwritten)" if left else ""
        )

    async def _refresh_index(self, ctx: DaemonContext) -> None:
        """Names and ids change under other processes (the CLI creates, another daemon syncs)."""
        while True:
            await asyncio.sleep(self.schedule.index_refresh_seconds)
            with contextlib.suppress(StoreError):
                await ctx.index.refresh()

    def _bind(self) -> socket.socket:
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY on accepted sockets only then (else 40 ms stalls).
        listener = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            listener.bind((self.host.strip("[]"), self.port))
        except OSError as error:
            listener.close()
            raise ConfigError(
                f"daemon.port: cannot listen on {self.host}:{self.port}: {error.strerror}",
                hint="another process may use that port; pick another with --port",
            ) from error
        self.port = int(listener.getsockname()[1])
        return listener

    def _uvicorn_config(self, app: Any) -> uvicorn.Config:
        return uvicorn.Config(
            app,
            lifespan="off",
            access_log=False,  # the hot path; and request lines never carry the Authorization header anyway
            log_config=None,  # novictl's own handler (text or JSON, secrets masked) is already in place
            server_header=False,
            timeout_graceful_shutdown=max(1, int(self.schedule.shutdown_grace_seconds)),
            timeout_keep_alive=5,
        )

    @contextlib.contextmanager
    def _signals(self) -> Generator[None, None, None]:
        loop = asyncio.get_running_loop()
        installed: list[signal.Signals] = []
        for sig in (signal.SIGTERM, signal.SIGINT):
            try:
                loop.add_signal_handler(sig, self.request_stop)
                installed.append(sig)
            except (NotImplementedError, RuntimeError):  # not the main thread (tests), or not Unix
                pass
        try:
            yield
        finally:
            for sig in installed:
                loop.remove_signal_handler(sig)


class _Server(uvicorn.Server):
    """uvicorn's server without its own signal handling: it re-raises SIGTERM after a graceful shutdown,
    which would make a clean stop exit with -15 instead of 0. The daemon handles signals itself."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


async def _until_started(server: uvicorn.Server, serving: asyncio.Task[None]) -> None:
    while not server.started:
        if serving.done():
            await serving  # raises what stopped it
            return
        await asyncio.sleep(0.01)
