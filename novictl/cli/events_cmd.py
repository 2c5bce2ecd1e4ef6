"""``novictl events``: the audit trail — what novictl did to each instance, and what it saw happen."""

import sys
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer

from novictl.cli.context import App, JsonFlag, get_app, run_async
from novictl.cli.output import print_json, print_table

if TYPE_CHECKING:
    from novictl.store.base import StateStore
    from novictl.store.records import Event

__all__ = ["register", "resolve_instance_id"]

_FOLLOW_POLL_SECONDS = 1.0


def register(root: typer.Typer) -> None:
    root.command("events")(events)


def events(
    ctx: typer.Context,
    instance: Annotated[
        str | None, typer.Option("--instance", "-i", help="Only this instance.", metavar="ID|NAME")
    ] = None,
    types: Annotated[
        list[str] | None,
        typer.Option(
            "--type",
            "-t",
            help="Only this type, e.g. stopped or instance.stopped (repeatable).",
            metavar="TYPE",
        ),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option("--since", help="Only events this recent, e.g. 2h or 3d.", metavar="DURATION"),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", help="At most this many (the newest).", min=1)] = 50,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing new events until Ctrl-C.")
    ] = False,
    poll_seconds: Annotated[
        float, typer.Option("--poll-seconds", hidden=True, min=0.01)
    ] = _FOLLOW_POLL_SECONDS,
    json_output: JsonFlag = False,
) -> None:
    """Show the audit log: created, started, ready, stopped (and by whom), auto-stop warnings and stops,
    failures, deletions, pins and policy changes — oldest first, so it reads as a story.

    With --json: {"events": [...], "total": N}, newest first (as GET /api/events). With --follow the table
    keeps growing (JSON: one event per line) until Ctrl-C, which exits 0.
    """
    from novictl.clock import utcnow
    from novictl.core.durations import parse_duration
    from novictl.errors import UsageError

    app = get_app(ctx)
    wanted = [_full_type(t) for t in types] if types else None
    try:
        since_at = utcnow() - parse_duration(since) if since else None
    except ValueError as error:
        raise UsageError(f"--since: {error}", hint="use a duration like 30m, 2h or 7d") from None
    as_json = app.wants_json(json_output)

    async def fetch() -> "tuple[str | None, list[Event]]":
        async with app.open_store() as store:
            instance_id = await resolve_instance_id(store, instance) if instance else None
            found = await store.list_events(
                instance_id=instance_id, types=wanted, since=since_at, limit=limit
            )
            return instance_id, found

    instance_id, found = run_async(fetch())
    if follow:
        _follow(app, instance_id, wanted, found, as_json=as_json, poll_seconds=poll_seconds)
        return
    if as_json:
        from novictl.core.events import event_view

        print_json({"events": [event_view(e) for e in found], "total": len(found)})
        return
    print_table(app, _COLUMNS, [_row(e) for e in reversed(found)], empty="no events")


async def resolve_instance_id(store: "StateStore", ref: str) -> str:
    """The instance id ``ref`` names, from the store alone (events outlive Novita's instances): an id, or
    an exact name known to the store; anything else is taken as an id."""
    from novictl.errors import AmbiguousName

    if await store.get(ref) is not None:
        return ref
    named = await store.find_by_name(ref)
    if len(named) > 1:
        raise AmbiguousName(ref, [f"{r.id} ({r.status})" for r in named])
    return named[0].id if named else ref


def _full_type(text: str) -> str:
    """``stopped`` or ``instance.stopped``; a type that does not exist is a usage error, not "no events"."""
    from novictl.core.events import EVENT_TYPES
    from novictl.errors import UsageError

    full = text if "." in text else f"instance.{text}"
    if full not in EVENT_TYPES:
        known = ", ".join(t.removeprefix("instance.") for t in EVENT_TYPES)
        raise UsageError(f"no event type {text!r}", hint=f"use one of: {known}")
    return full


_COLUMNS = ["time", "event", "instance", "actor", "details"]


def _row(event: "Event") -> list[Any]:
    from novictl.core.events import describe_event

    name = event.data.get("name") or event.instance_id or "-"
    when = event.occurred_at.astimezone().strftime("%Y-%m-%d %H:%M:%S")
    return [when, event.type.removeprefix("instance."), name, event.actor or "-", describe_event(event)]


def _follow(
    app: App, instance_id: str | None, wanted: list[str] | None, first: "list[Event]", *, as_json: bool,
    poll_seconds: float,
) -> None:  # fmt: skip
    """Print ``first`` (oldest first), then poll for newer events until Ctrl-C."""
    import asyncio

    from novictl.core.events import event_view

    seen: set[str] = set()

    def emit(batch: "list[Event]") -> None:
        for event in sorted(batch, key=lambda e: e.occurred_at):
            if event.id in seen:
                continue
            seen.add(event.id)
            if as_json:
                import json

                sys.stdout.write(json.dumps(event_view(event), ensure_ascii=False) + "\n")
            else:
                sys.stdout.write("  ".join(str(cell) for cell in _row(event)) + "\n")
        sys.stdout.flush()

    async def poll() -> None:
        emit(first)
        since: datetime | None = max((e.occurred_at for e in first), default=None)
        async with app.open_store() as store:
            while True:
                await asyncio.sleep(poll_seconds)
                batch = await store.list_events(instance_id=instance_id, types=wanted, since=since, limit=500)
                emit(batch)
                since = max((e.occurred_at for e in batch), default=since)

    try:
        run_async(poll())
    except KeyboardInterrupt:
        raise typer.Exit(0) from None
