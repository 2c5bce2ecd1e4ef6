"""``novictl list|ls`` and ``show``; registers the other instance commands (create, start, stop, restart,
delete, stop-all) and ``completion`` from their own modules."""

import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer

from novictl.cli.context import App, JsonFlag, get_app, run_async
from novictl.cli.instance_support import QuietOption
from novictl.cli.output import print_json, print_table

if TYPE_CHECKING:
    from novictl.store.records import InstanceRecord

__all__ = ["register"]

RefArgument = Annotated[str, typer.Argument(metavar="ID|NAME", help="Instance id or exact name.")]


def register(root: typer.Typer) -> None:
    from novictl.cli import completion_cmd, instance_actions_cmd, instance_create_cmd

    root.command("list")(list_instances)
    root.command("ls", hidden=True, help="Alias of list.")(list_instances)
    root.command("show")(show)
    instance_create_cmd.register(root)
    instance_actions_cmd.register(root)
    root.add_typer(completion_cmd.app, name="completion")


def list_instances(
    ctx: typer.Context,
    status: Annotated[
        str | None, typer.Option("--status", help="Only instances in this status (running, exited …).")
    ] = None,
    name: Annotated[str | None, typer.Option("--name", help="Only names containing this text.")] = None,
    refresh: Annotated[
        bool, typer.Option("--refresh", help="Read Novita now (every page) and update the store first.")
    ] = False,
    show_all: Annotated[bool, typer.Option("--all", "-a", help="Include terminated instances.")] = False,
    quiet: QuietOption = False,
    json_output: JsonFlag = False,
) -> None:
    """List instances (alias: ls): name, id, status, GPU, region, $/h, last used, idle for.

    Reads the local store, refreshed from Novita when its last sync ended more than 30 s ago, or 3 s while
    an instance is between states (always with --refresh). When Novita cannot be read without --refresh,
    the stored state is shown with a warning.
    """

    from novictl.clock import SystemClock
    from novictl.core.instance_lookup import select_listed
    from novictl.core.instance_view import instance_summary

    app = get_app(ctx)
    clock = SystemClock()
    records = run_async(_fetch(app, refresh=refresh))
    records = select_listed(records, include_terminated=show_all, status=status, name=name)
    now = clock.now()
    if quiet:
        for record in records:
            typer.echo(record.id)
        return
    summaries = [instance_summary(r, now, app.settings.autostop) for r in records]
    if app.wants_json(json_output):
        print_json({"instances": summaries, "total": len(records)})
        return
    print_table(
        app,
        ["name", "id", "status", "GPU", "region", "$/h", "last used", "gpu %", "idle for", "auto-stop"],
        [_row(r, s, now) for r, s in zip(records, summaries, strict=True)],
        empty="no instances (try: novictl list --refresh)",
    )


def _row(record: "InstanceRecord", summary: dict[str, Any], now: Any) -> tuple[str, ...]:
    from datetime import datetime

    from novictl.core.durations import format_duration
    from novictl.core.instance_view import ago, gpu_label, money

    idle = summary["idleSeconds"]
    used = ago(record.last_used_at, now)
    if record.last_used_at is not None and record.last_used_source:
        used += f" ({record.last_used_source})"
    status = record.status
    if summary["dataKeptUntil"]:
        # A stopped instance is not free forever: Novita deletes its data after keepDataDay days.
        status += f" (data to {datetime.fromisoformat(summary['dataKeptUntil']).astimezone():%m-%d})"
    return (
        record.name,
        record.id,
        status,
        gpu_label(record),
        record.region or "",
        money(record.price_per_hour),
        used,
        "" if summary["lastGpuPercent"] is None else f"{summary['lastGpuPercent']:.0f}%",
        "" if idle is None else format_duration(idle),
        summary["autoStop"]["label"],
    )


async def _fetch(app: App, *, refresh: bool) -> "list[InstanceRecord]":
    from novictl.core.instances import (
        LIST_CACHE_TTL_SECONDS,
        UNSETTLED_TTL_SECONDS,
        is_listed,
        needs_refresh,
        refresh_store,
    )
    from novictl.core.record_mapping import UNSETTLED
    from novictl.errors import ConfigError, NovitaError

    max_age = None if refresh else LIST_CACHE_TTL_SECONDS
    async with app.open_store() as store:
        stale = await needs_refresh(store, max_age_seconds=max_age)
        records = None if stale else await store.get_all()
        if records is not None and any(r.status in UNSETTLED and is_listed(r) for r in records):
            max_age = UNSETTLED_TTL_SECONDS  # a status that changes within seconds is not shown stale
            stale = await needs_refresh(store, max_age_seconds=max_age)
        if stale:
            try:
                async with app.novita_client() as client:
                    await refresh_store(client, store, max_age_seconds=max_age)
                records = None
            except (NovitaError, ConfigError) as error:
                if refresh:
                    raise
                sys.stderr.write(f"warning: showing stored state; could not read Novita: {error.message}\n")
        return records if records is not None else await store.get_all()


def show(ctx: typer.Context, ref: RefArgument, json_output: JsonFlag = False) -> None:
    """Show one instance: status, GPU, price, ports and endpoints, SSH command, image, timestamps, billing,
    how long Novita keeps its data, and novictl's own fields (last used, stopped by, webhook, auto-stop).

    The SSH password is never shown. Exit 4 for an unknown id or name, 2 for an ambiguous name.
    """

    app = get_app(ctx)
    detail = run_async(_detail_for(app, ref))
    if app.wants_json(json_output):
        print_json(detail)
        return
    _print_detail(app, detail)


async def _detail_for(app: App, ref: str) -> dict[str, Any]:
    from novictl.clock import SystemClock
    from novictl.core.gpu_activity import read_recent_gpu
    from novictl.core.instance_view import instance_detail
    from novictl.core.instances import resolve
    from novictl.core.record_mapping import NOVITA_FIELDS, record_from_instance
    from novictl.errors import NovitaNotFound, NovitaUnavailable

    clock = SystemClock()
    async with app.novita_client() as client, app.open_store() as store:
        record = await resolve(store, client, ref, clock=clock)
        try:
            live = await client.get_instance(record.id)
        except NovitaNotFound as gone:
            raise NovitaNotFound(
                f"instance {record.name} ({record.id}) no longer exists on Novita",
                status=gone.status,
                hint="run `novictl sync` to bring the local state up to date",
            ) from gone
        except NovitaUnavailable as error:
            sys.stderr.write(f"warning: showing stored state; could not read Novita: {error.message}\n")
            live = None
        if live is not None:
            record = record_from_instance(live, record, None, clock.now())
            # Only Novita's fields: a pin or ping written meanwhile must survive this refresh.
            await store.put_many([record], fields=NOVITA_FIELDS)
        detail = instance_detail(record, live, clock.now(), app.settings.autostop)
        gpu = None
        if live is not None and live.is_running:
            gpu = (await read_recent_gpu(client, record.id, now=clock.now())).to_dict()
        detail["gpuUtilization"] = gpu
        return detail


def _gpu_text(gpu: dict[str, Any]) -> str:
    if gpu["unavailable"] or gpu["latestPercent"] is None:
        return str(gpu["unavailable"] or "no gpu data")
    return (
        f"{gpu['latestPercent']:.0f}% latest, peak {gpu['peakPercent']:.0f}%, "
        f"avg {gpu['averagePercent']:.0f}% over the last {gpu['windowMinutes']:.0f}m"
    )


def _print_detail(app: App, detail: dict[str, Any]) -> None:
    from datetime import datetime

    from novictl.core.instance_view import ago, money

    now = datetime.now().astimezone()

    def when(key: str) -> str:
        value = detail.get(key)
        if not value:
            return "-"
        at = datetime.fromisoformat(value)
        return f"{at:%Y-%m-%d %H:%M:%S %Z} ({ago(at, now)})"

    def when_plain(key: str) -> str:
        at = datetime.fromisoformat(detail[key])
        return f"{at.astimezone():%Y-%m-%d %H:%M %Z}"

    autostop = detail["autostop"]
    policy = (
        "off"
        if autostop["disabled"]
        else (f"{autostop['idleMinutes']}m idle" if autostop["idleMinutes"] else "default")
    )
    rows: list[tuple[str, Any]] = [
        ("name", detail["name"]),
        ("id", detail["id"]),
        ("status", detail["status"] + (f" — {detail['statusError']}" if detail["statusError"] else "")),
        (
            "GPU",
            f"{detail['gpuCount']}x {detail['gpu'] or detail['productId'] or '?'} ({detail['productId']})",
        ),
        ("region", detail["region"] or "-"),
        ("price", money(detail["pricePerHour"], suffix="/h") + f" ({detail['billingMode'] or 'onDemand'})"),
        ("image", detail["imageUrl"] or "-"),
        ("disk", f"{detail['rootfsSizeGb']} GB" if detail["rootfsSizeGb"] else "-"),
    ]
    rows += [(f"port {p['port']}/{p['type']}", p["endpoint"] or "-") for p in detail["ports"]]
    rows += [
        ("ssh", detail["sshCommand"] or "-"),
        ("created", when("createdAt")),
        ("last started", when("lastStartedAt")),
        ("last stopped", when("lastStoppedAt")),
        ("keeps data", f"{detail['keepDataDay']} days after a stop" if detail["keepDataDay"] else "-"),
        *([("data kept until", when_plain("dataKeptUntil"))] if detail["dataKeptUntil"] else []),
        *([("spot reclaim", when_plain("spotReclaimAt"))] if detail["spotReclaimAt"] else []),
        *([("GPU use", _gpu_text(detail["gpuUtilization"]))] if detail["gpuUtilization"] else []),
        (
            "last used",
            (when("lastUsedAt") if detail["lastUsedAt"] else "never")
            + (f" via {detail['lastUsedSource']}" if detail["lastUsedSource"] else ""),
        ),
        ("stopped by", detail["stoppedBy"] or "-"),
        ("webhook", detail["webhookUrl"] or "-"),
        ("auto-stop", f"{detail['autoStop']['label']} (policy: {policy})"),
    ]
    if not detail["live"]:
        rows.append(("note", "Novita could not be read; this is the stored state"))
    print_table(app, ["", ""], rows, show_header=False)
