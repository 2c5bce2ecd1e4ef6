"""``novictl touch``: record that an instance is in use, so auto-stop keeps it."""

import sys
from datetime import datetime
from typing import Annotated

import typer

from novictl.cli.context import JsonFlag, get_app, run_async
from novictl.cli.output import print_json

__all__ = ["register"]


def register(root: typer.Typer) -> None:
    root.command("touch")(touch)


def touch(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help="Instance id or exact name.", metavar="ID|NAME")],
    at: Annotated[
        str | None,
        typer.Option(
            "--at",
            help="When it was used, ISO-8601 (default now; a future time counts as now).",
            metavar="TIME",
        ),
    ] = None,
    source: Annotated[
        str, typer.Option("--source", help="Who saw the use, e.g. jupyter or a job name.", metavar="TEXT")
    ] = "cli",
    json_output: JsonFlag = False,
) -> None:
    """Record a last-used ping for an instance: auto-stop counts its idle time from the latest one.

    Pings only move forward (an older --at changes nothing) and a future --at is clamped to now. Works
    from the store alone, so a job without the Novita API key can ping an instance novictl tracks.
    """
    from novictl.cli.autostop_cmd import resolve_record
    from novictl.clock import utcnow
    from novictl.core.pings import parse_timestamp, record_ping

    state = get_app(ctx)
    when = parse_timestamp(at) if at is not None else None

    async def go() -> tuple[str, str, datetime, datetime]:
        async with state.open_store() as store:
            record = await resolve_record(state, store, ref)
            now = utcnow()
            stored = await record_ping(store, record.id, at=min(when, now) if when else now, source=source)
            return record.id, record.name, now, stored

    instance_id, name, now, stored = run_async(go())
    clamped = when is not None and when > now
    message = f"recorded use of {name} ({instance_id})"
    if clamped:
        message += "; the future time was clamped to now"
    elif when is not None and stored > when:
        message += "; a later use was already recorded"
    if state.wants_json(json_output):
        print_json({"instanceId": instance_id, "lastUsedAt": stored.isoformat(), "message": message})
        return
    sys.stdout.write(f"{message}: last used {stored.isoformat()}\n")
