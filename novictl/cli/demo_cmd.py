"""``novictl demo``: a narrated tour against the bundled emulator; nothing real is touched."""

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from novictl.cli.context import App, get_app, run_async
from novictl.cli.output import console

if TYPE_CHECKING:
    import httpx
    from rich.console import Console


__all__ = ["register"]

_OUTSIDE_COUNT = 3
_WARN_SECONDS = 1.5


def register(root: typer.Typer) -> None:
    root.command("demo")(demo)


def demo(
    ctx: typer.Context,
    step_delay: Annotated[
        str, typer.Option("--step-delay", help="How long each emulated lifecycle step takes.")
    ] = "300ms",
) -> None:
    """Walk through novictl against a local Novita emulator: prices, sync, the lifecycle, auto-stop.

    Starts the bundled emulator on a free loopback port with a throw-away SQLite store, then runs the real
    commands against it (their output is exactly what you would see); nothing real is touched and no API
    key is needed. Exits 0 when every step worked.
    """
    import time
    from datetime import timedelta

    from novictl.clock import utcnow
    from novictl.core.durations import parse_duration
    from novictl.emulator import EmulatorConfig, EmulatorServer

    app = get_app(ctx)
    delay = parse_duration(step_delay).total_seconds()
    out = console(app)
    import secrets
    import tempfile

    key = secrets.token_hex(16)
    with tempfile.TemporaryDirectory(prefix="novictl-demo-") as tmp:
        # Embedded defaults: neither the user's config file nor their environment leaks in.
        config_file = Path(tmp) / "config.toml"
        config_file.write_text("")
        config = EmulatorConfig(api_key=key, step_delay=delay)
        with EmulatorServer(config) as emulator:
            tour = _Tour(
                App(
                    no_color=app.no_color,
                    env={"XDG_CONFIG_HOME": tmp, "XDG_STATE_HOME": tmp, "HOME": tmp},
                    overrides={
                        "novita.base_url": emulator.base_url,
                        "novita.api_key": key,
                        "store.url": f"sqlite:///{Path(tmp) / 'state.db'}",
                        # Auto-stop warns before every stop; the demo waits seconds for it, not minutes.
                        "autostop.warn_before_minutes": _WARN_SECONDS / 60,
                    },
                ),
                out,
                config_file,
            )
            # Instances someone made in Novita's console days ago: sync must adopt them.
            outside = emulator.state.seed_instances(_OUTSIDE_COUNT)
            for instance_id in outside:
                emulator.state.set_status(instance_id, "running")
            used_name = str((emulator.state.instance(outside[-1]) or {}).get("name", outside[-1]))
            out.print(f"[bold]novictl demo[/bold] — a Novita emulator is serving at {emulator.base_url}")
            out.print(f"state store: {Path(tmp) / 'state.db'} (SQLite, deleted afterwards)")
            poll = ("--poll-interval", f"{max(delay / 2, 0.05)}s")

            tour.step("Products and prices, cheapest first", "products")
            tour.step("Sync adopts the instances made outside novictl", "sync")
            out.print(
                "[dim]novictl never stops an instance on first sight: it gives each a full idle threshold"
                " from the moment it saw it. The demo pretends it adopted these yesterday.[/dim]"
            )
            run_async(_adopted_yesterday(tour.app))
            tour.step(
                "Create an instance on the cheapest available RTX 4090 and wait until it runs",
                "create", "trainer", "--gpu", "RTX 4090", "--image", "pytorch/pytorch:latest",
                "--port", "8888/http", "--wait", hidden=poll,
            )  # fmt: skip
            tour.step("List what novictl knows", "list")
            tour.step("Everything about one instance (never its password)", "show", "trainer")
            three_minutes_ago = (utcnow() - timedelta(minutes=3)).isoformat(timespec="seconds")
            tour.step(
                f"A notebook on {used_name} was in use 3 minutes ago",
                "touch", used_name, "--at", three_minutes_ago, "--source", "notebook",
            )  # fmt: skip
            tour.step("What auto-stop would do, and why (a dry run: safe for cron)", "autostop", "check")
            tour.step("Auto-stop warns before it stops anything", "autostop", "run", "--yes")
            out.print(f"[dim]waiting {_WARN_SECONDS:g}s: the demo's warn_before (5 minutes by default)[/dim]")
            time.sleep(_WARN_SECONDS)
            tour.step("Auto-stop keeps what is used and stops what is idle", "autostop", "run", "--yes")
            tour.heading("A job pings the daemon over HTTP", "curl -X PUT …/api/instances/trainer/last-used")
            run_async(_daemon_ping(tour.app, out, "trainer"))
            tour.step("Stop it and wait", "stop", "trainer", "--wait", hidden=poll)
            tour.step("Start it again", "start", "trainer", "--wait", hidden=poll)
            tour.step("Restart it", "restart", "trainer", "--wait", hidden=poll)
            tour.step("Stop everything that still runs", "stop-all", "--yes")
            tour.step("Delete it, data and all", "delete", "trainer", "--yes", "--wait", hidden=poll)
            tour.step("What auto-stop has done so far", "autostop", "stats")
    out.print("\n[bold green]demo finished[/bold green] — everything above ran against the emulator.")


class _Tour:
    """Numbered steps, each one real ``novictl`` command run in-process with the demo's settings."""

    def __init__(self, app: App, out: "Console", config_file: Path):
        self.app = app
        self.out = out
        self.config_file = config_file
        self.number = 0

    def heading(self, title: str, command: str) -> None:
        self.number += 1
        self.out.print(f"\n[bold cyan]{self.number}. {title}[/bold cyan]\n[dim]$ {command}[/dim]")

    def step(self, title: str, *args: str, hidden: Sequence[str] = ()) -> None:
        """Show ``novictl ARGS`` and run it; ``hidden`` arguments (fast polling) are passed, not shown."""
        import shlex

        import typer.main

        from novictl.cli.app import app as root
        from novictl.errors import NovictlError

        self.heading(title, "novictl " + shlex.join(args))
        command = typer.main.get_command(root)
        argv = ["--config", str(self.config_file), *args, *hidden]
        try:
            code = command.main(args=argv, prog_name="novictl", standalone_mode=False, obj=self.app)
        except SystemExit as exited:  # a command that exits 1 itself (a failed stop, say)
            code = exited.code
        if code not in (None, 0):
            raise NovictlError(f"the demo's step `novictl {shlex.join(args)}` exited {code}")


async def _adopted_yesterday(app: App) -> None:
    """Move the first sight of every adopted instance back a day (the demo's store only)."""
    from datetime import timedelta

    from novictl.clock import utcnow

    async with app.open_store() as store:
        records = await store.get_all()
        yesterday = utcnow() - timedelta(days=1)
        await store.put_many(
            [record.model_copy(update={"first_seen_at": yesterday}) for record in records],
            fields=["first_seen_at"],
        )


async def _daemon_ping(app: App, out: "Console", name: str) -> None:
    """The daemon serves the seed-compatible API: a job pings ``PUT /api/instances/{name}/last-used``."""
    import asyncio
    import socket

    import httpx

    from novictl.daemon.service import Daemon

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    # Dry run: in the demo the daemon answers pings and reports, it stops nothing on its own.
    async with app.novita_client() as client, app.open_store() as store:
        daemon = Daemon(app.settings, host="127.0.0.1", port=port, dry_run=True, store=store, client=client)
        ready: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        serving = asyncio.create_task(daemon.serve(on_ready=ready.set_result))
        try:
            url = await asyncio.wait_for(ready, 30)
            out.print(f"daemon serving {url}")
            async with httpx.AsyncClient(base_url=url, timeout=10) as http:
                ping = await http.put(f"/api/instances/{name}/last-used", json={})
                _expect_ok(ping, f"PUT /api/instances/{name}/last-used")
                out.print(
                    f"PUT /api/instances/{name}/last-used → {ping.status_code} {ping.json()['message']}"
                )
                health = await http.get("/health")
                _expect_ok(health, "GET /health")
                out.print(f"GET /health → {health.status_code} {health.json()['status']}")
        finally:
            daemon.request_stop()
            await serving
        found = await store.get_many([r.id for r in await store.find_by_name(name)])
    used = next(iter(found.values())).last_used_at if found else None
    out.print(f"the ping is in the store: {name} last used {used:%H:%M:%S} UTC" if used else "no ping stored")


def _expect_ok(response: "httpx.Response", what: str) -> None:
    from novictl.errors import NovictlError

    if response.status_code != 200:
        raise NovictlError(
            f"the demo's daemon answered {what} with HTTP {response.status_code}: {response.text}"
        )
