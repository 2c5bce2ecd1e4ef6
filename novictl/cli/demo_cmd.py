"""``novictl demo``: a narrated tour against the bundled emulator; nothing real is touched."""

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from novictl.cli.context import App, get_app, run_async
from novictl.cli.output import console, print_table

if TYPE_CHECKING:
    from rich.console import Console

    from novictl.novita.client import NovitaClient
    from novictl.store.base import StateStore
    from novictl.store.records import InstanceRecord

__all__ = ["register"]

_OUTSIDE_COUNT = 3


def register(root: typer.Typer) -> None:
    root.command("demo")(demo)


def demo(
    ctx: typer.Context,
    step_delay: Annotated[
        str, typer.Option("--step-delay", help="How long each emulated lifecycle step takes.")
    ] = "300ms",
) -> None:
    """Walk through novictl against a local Novita emulator: prices, sync, create --wait, list, stop.

    Starts the bundled emulator on a free loopback port with a throw-away SQLite store; nothing real is
    touched and no API key is needed. Exits 0 when every step worked.
    """
    from novictl.core.durations import parse_duration
    from novictl.emulator import EmulatorConfig, EmulatorServer

    app = get_app(ctx)
    delay = parse_duration(step_delay).total_seconds()
    out = console(app)
    import secrets
    import tempfile

    key = secrets.token_hex(16)
    with tempfile.TemporaryDirectory(prefix="novictl-demo-") as tmp:
        config = EmulatorConfig(api_key=key, step_delay=delay)
        with EmulatorServer(config) as emulator:
            demo_app = App(
                no_color=app.no_color,
                # Embedded defaults: neither the user's config file nor their environment leaks in.
                env={"XDG_CONFIG_HOME": tmp, "XDG_STATE_HOME": tmp, "HOME": tmp},
                overrides={
                    "novita.base_url": emulator.base_url,
                    "novita.api_key": key,
                    "store.url": f"sqlite:///{Path(tmp) / 'state.db'}",
                },
            )
            # Instances someone made in Novita's console: sync must adopt them.
            for outside in emulator.state.seed_instances(_OUTSIDE_COUNT):
                emulator.state.set_status(outside, "running")
            out.print(f"[bold]novictl demo[/bold] — a Novita emulator is serving at {emulator.base_url}")
            out.print(f"state store: {Path(tmp) / 'state.db'} (SQLite, deleted afterwards)\n")
            run_async(_tour(demo_app, out, delay))
    out.print("\n[bold green]demo finished[/bold green] — everything above ran against the emulator.")


async def _tour(app: App, out: "Console", delay: float) -> None:
    from novictl.core.sync import SyncOptions, sync_instances

    settings = app.settings
    async with app.novita_client() as client, app.open_store() as store:
        _step(out, 1, "Products and prices (cheapest first)", "novictl products")
        await _show_products(app, client)

        _step(out, 2, "Sync adopts instances made outside novictl", "novictl sync")
        options = SyncOptions.from_settings(settings.sync, page_size=settings.novita.page_size)
        result = await sync_instances(client=client, store=store, options=options)
        out.print(
            f"seen {result.seen}, adopted {result.adopted}: " + ", ".join(c.name for c in result.changes)
        )

        _step(
            out,
            3,
            "Create an instance on the cheapest RTX 4090 and wait",
            "novictl create trainer --gpu 4090 --image pytorch/pytorch --wait",
        )
        instance = await _create_and_wait(out, client, store, delay)

        _step(out, 4, "List what novictl knows", "novictl list")
        await sync_instances(client=client, store=store, options=options)
        await _show_list(app, store)

        _step(out, 5, "Auto-stop keeps what is used and stops what is idle", "novictl autostop run --yes")
        await _autostop(app, store, client, instance.id)

        _step(out, 6, "A job pings the daemon over HTTP", "curl -X PUT …/api/instances/trainer/last-used")
        await _daemon_ping(app, out, store, client, instance.name)

        _step(out, 7, "Stop it and wait", f"novictl stop {instance.name} --wait")
        await _stop_and_wait(out, client, store, instance, delay)


async def _autostop(app: App, store: "StateStore", client: "NovitaClient", created_id: str) -> None:
    """The adopted instances have run for days; one was pinged 3 minutes ago: the report keeps it, stops
    the idle ones, and keeps the fresh one in its startup grace."""
    from datetime import timedelta

    from novictl.cli.autostop_cmd import print_report
    from novictl.core.autostop import record_ping, run_autostop
    from novictl.core.clock import utcnow

    adopted = sorted(
        (r for r in await store.get_all() if r.status == "running" and r.id != created_id),
        key=lambda r: r.name,
    )
    used = adopted[0]
    await record_ping(store, used.id, at=utcnow() - timedelta(minutes=3), source="demo")
    console(app).print(f"pinged {used.name} 3 minutes ago (novictl touch {used.name}); the others stay idle")
    report = await run_autostop(
        client=client, store=store, settings_autostop=app.settings.autostop, dry_run=False
    )
    print_report(app, report, as_json=False)


def _step(out: "Console", number: int, title: str, command: str) -> None:
    out.print(f"\n[bold cyan]{number}. {title}[/bold cyan]  [dim]$ {command}[/dim]")


async def _show_products(app: App, client: "NovitaClient") -> None:
    from novictl.core.products import sort_by_price

    products = sort_by_price(await client.list_products())
    rows = [
        (
            p.id,
            p.name,
            f"${p.price_usd:.2f}",
            ", ".join(p.cluster_ids) or "any",
            "yes" if p.available_deploy else "no",
        )
        for p in products
    ]
    print_table(app, ["product", "GPU", "$/GPU/h", "regions", "available"], rows)


async def _create_and_wait(
    out: "Console", client: "NovitaClient", store: "StateStore", delay: float
) -> "InstanceRecord":
    from novictl.core.instance_create import CreateSpec, create
    from novictl.core.instances import wait_and_record

    spec = CreateSpec(name="trainer", gpu="RTX 4090", image="pytorch/pytorch:latest", ports=("8888/http",))
    record = await create(client, store, spec)
    out.print(f"created {record.id} on {record.product_id} (the cheapest available RTX 4090)")
    record = await wait_and_record(
        client,
        store,
        record,
        {"running"},
        timeout_seconds=60 + delay * 20,
        poll_interval=max(delay / 2, 0.05),
        on_status=lambda i: out.print(f"  … {i.status}"),
    )
    out.print(f"[green]running[/green]: {record.name} ({record.id})")
    return record


async def _show_list(app: App, store: "StateStore") -> None:
    records = sorted(await store.get_all(), key=lambda r: r.name)
    rows = [
        (r.name, r.id, r.status, r.product_name or "", r.region or "",
         f"${r.price_per_hour:.2f}" if r.price_per_hour is not None else "")
        for r in records
    ]  # fmt: skip
    print_table(app, ["name", "id", "status", "GPU", "region", "$/h"], rows)


async def _stop_and_wait(
    out: "Console", client: "NovitaClient", store: "StateStore", record: "InstanceRecord", delay: float
) -> None:
    from novictl.core.instances import stop, wait_and_record

    outcome = await stop(client, store, record, stopped_by="user")
    assert outcome.success, outcome.error
    await wait_and_record(
        client,
        store,
        record,
        {"exited"},
        timeout_seconds=60 + delay * 20,
        poll_interval=max(delay / 2, 0.05),
        on_status=lambda i: out.print(f"  … {i.status}"),
    )
    out.print(f"[green]stopped[/green]: {record.name} — it no longer bills GPU time (stopped by user)")


async def _daemon_ping(
    app: App, out: "Console", store: "StateStore", client: "NovitaClient", name: str
) -> None:
    """The daemon serves the seed-compatible API: a job pings ``PUT /api/instances/{name}/last-used``."""
    import asyncio
    import socket

    import httpx

    from novictl.daemon.service import Daemon

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    # Dry run: in the demo the daemon answers pings and reports, it stops nothing on its own.
    daemon = Daemon(app.settings, host="127.0.0.1", port=port, dry_run=True, store=store, client=client)
    ready: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    serving = asyncio.create_task(daemon.serve(on_ready=ready.set_result))
    try:
        url = await asyncio.wait_for(ready, 30)
        out.print(f"daemon serving {url}")
        async with httpx.AsyncClient(base_url=url, timeout=10) as http:
            ping = await http.put(f"/api/instances/{name}/last-used", json={})
            out.print(f"PUT /api/instances/{name}/last-used → {ping.status_code} {ping.json()['message']}")
            health = await http.get("/health")
            out.print(f"GET /health → {health.status_code} {health.json()['status']}")
    finally:
        daemon.request_stop()
        await serving
    record = await store.get_many([r.id for r in await store.find_by_name(name)])
    used = next(iter(record.values())).last_used_at if record else None
    out.print(f"the ping is in the store: {name} last used {used:%H:%M:%S} UTC" if used else "no ping stored")
