"""``novictl start|stop|restart|delete|rm ID|NAME`` and ``novictl stop-all``."""

from typing import TYPE_CHECKING, Annotated

import typer

from novictl.cli.context import App, JsonFlag, get_app, run_async
from novictl.cli.instance_support import (
    PollOption,
    TimeoutOption,
    WaitOption,
    YesOption,
    confirm,
    progress_printer,
    seconds,
)
from novictl.cli.instances_cmd import RefArgument
from novictl.cli.output import print_json, print_table

if TYPE_CHECKING:
    from novictl.core.instances import LifecycleOutcome
    from novictl.core.stop_all import StopAllResult
    from novictl.store.records import InstanceRecord

__all__ = ["register"]

# action → (statuses --wait waits for, past tense for people)
_TARGETS: dict[str, tuple[frozenset[str], str]] = {
    "start": (frozenset({"running"}), "started"),
    "stop": (frozenset({"exited"}), "stopped"),
    "restart": (frozenset({"running"}), "restarted"),
    "delete": (frozenset({"removed"}), "deleted"),
}


def register(root: typer.Typer) -> None:
    root.command("start")(start)
    root.command("stop")(stop)
    root.command("restart")(restart)
    root.command("delete")(delete)
    root.command("rm", hidden=True, help="Alias of delete.")(delete)
    root.command("stop-all")(stop_all)


def start(
    ctx: typer.Context,
    ref: RefArgument,
    wait: WaitOption = False,
    timeout: TimeoutOption = "10m",
    poll_interval: PollOption = "2s",
    json_output: JsonFlag = False,
) -> None:
    """Start a stopped instance. Already running (or starting) is fine: exit 0.

    A start that fails never deletes anything. With --wait, shows progress until it is running.
    """
    _run_action(ctx, "start", ref, wait, timeout, poll_interval, json_output)


def stop(
    ctx: typer.Context,
    ref: RefArgument,
    wait: WaitOption = False,
    timeout: TimeoutOption = "10m",
    poll_interval: PollOption = "2s",
    json_output: JsonFlag = False,
) -> None:
    """Stop a running instance (GPU billing ends; the disk is kept). Already stopped is fine: exit 0.

    Recorded as stopped by you (auto-stop leaves the record's history alone).
    """
    _run_action(ctx, "stop", ref, wait, timeout, poll_interval, json_output)


def restart(
    ctx: typer.Context,
    ref: RefArgument,
    wait: WaitOption = False,
    timeout: TimeoutOption = "10m",
    poll_interval: PollOption = "2s",
    json_output: JsonFlag = False,
) -> None:
    """Restart a running instance; with --wait, until it is running again."""
    _run_action(ctx, "restart", ref, wait, timeout, poll_interval, json_output)


def delete(
    ctx: typer.Context,
    ref: RefArgument,
    yes: YesOption = False,
    wait: Annotated[bool, typer.Option("--wait", help="Wait until the instance is gone.")] = False,
    timeout: TimeoutOption = "10m",
    poll_interval: PollOption = "2s",
    json_output: JsonFlag = False,
) -> None:
    """Delete an instance and its data (alias: rm), after confirmation (name, status, $/h) unless --yes.

    Without a terminal on stdin and without --yes, refuses (exit 2) rather than hang.
    """

    from novictl.core.instance_view import money

    app = get_app(ctx)
    record = run_async(_resolve(app, ref))
    question = (
        f"Delete {record.name} ({record.id}), {record.status}, "
        f"{money(record.price_per_hour, suffix='/h')}? Its disk and data go with it."
    )
    confirm(question, yes=yes, what=f"delete {record.name}")
    _run_action(ctx, "delete", record.id, wait, timeout, poll_interval, json_output)


async def _resolve(app: App, ref: str) -> "InstanceRecord":
    from novictl.core.instances import resolve

    async with app.novita_client() as client, app.open_store() as store:
        return await resolve(store, client, ref)


def _run_action(
    ctx: typer.Context, action: str, ref: str, wait: bool, timeout: str, poll_interval: str, json_output: bool
) -> None:

    app = get_app(ctx)
    waiting = (seconds(timeout, "--timeout"), seconds(poll_interval, "--poll-interval")) if wait else None
    outcome = run_async(_act(app, action, ref, waiting))
    if app.wants_json(json_output):
        print_json(outcome.to_dict())
        return
    done = _TARGETS[action][1]
    if outcome.already:
        typer.echo(f"{outcome.name} ({outcome.instance_id}) is already {outcome.status}: nothing to do")
    else:
        typer.echo(f"{done} {outcome.name} ({outcome.instance_id}): {outcome.status}")


async def _act(app: App, action: str, ref: str, waiting: tuple[float, float] | None) -> "LifecycleOutcome":
    from novictl.clock import SystemClock
    from novictl.core import instances

    operations = {
        "start": instances.start,
        "stop": instances.stop,
        "restart": instances.restart,
        "delete": instances.delete,
    }
    clock = SystemClock()
    async with app.novita_client() as client, app.open_store() as store:
        record = await instances.resolve(store, client, ref, clock=clock)
        outcome = await operations[action](client, store, record, clock=clock)
        if waiting is not None and outcome.status != "terminated":
            timeout_seconds, poll = waiting
            final = await instances.wait_and_record(
                client, store, record, _TARGETS[action][0], timeout_seconds=timeout_seconds,
                poll_interval=poll, quick_start=True, on_status=progress_printer(record.name), clock=clock,
            )  # fmt: skip
            outcome.status = final.status
        return outcome


def stop_all(
    ctx: typer.Context,
    yes: YesOption = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would be stopped; stop nothing.")
    ] = False,
    concurrency: Annotated[
        int, typer.Option("--concurrency", min=1, max=64, help="Instances stopped at the same time.")
    ] = 8,
    json_output: JsonFlag = False,
) -> None:
    """Stop every running instance: shows them, their count and total $/h, and asks unless --yes.

    Stops them a few at a time; prints one result per instance; exit 1 if any stop failed (the others are
    stopped all the same). Recorded as stopped by stop-all.
    """

    from novictl.core.instance_view import gpu_label, money
    from novictl.core.stop_all import StopAllResult, find_stop_all_targets

    app = get_app(ctx)
    as_json = app.wants_json(json_output)

    async def targets() -> "list[InstanceRecord]":
        async with app.novita_client() as client, app.open_store() as store:
            return await find_stop_all_targets(client, store)

    records = run_async(targets())
    preview = StopAllResult(dry_run=True, targets=records)
    total = preview.usd_per_hour
    if not as_json:
        rows = [(r.name, r.id, gpu_label(r), r.region or "", money(r.price_per_hour)) for r in records]
        print_table(app, ["name", "id", "GPU", "region", "$/h"], rows, empty="no running instances")
        if records:
            typer.echo(f"{len(records)} running, {money(total, suffix='/h')} in total")
    if not records or dry_run:
        if dry_run and records and not as_json:
            typer.echo("dry run: nothing was stopped")
        if as_json:
            print_json(preview.to_dict() if dry_run else StopAllResult(False, records).to_dict())
        return
    confirm(
        f"Stop all {len(records)} running instances ({money(total, suffix='/h')})?",
        yes=yes,
        what="stop all instances",
    )
    result = run_async(_stop_all(app, records, concurrency))
    if as_json:
        print_json(result.to_dict())
    else:
        outcomes = [(o.name, o.instance_id, _result(o)) for o in result.outcomes]
        print_table(app, ["name", "id", "result"], outcomes)
    if result.failed:
        # SystemExit: with standalone_mode=False click returns a typer.Exit code instead of exiting.
        raise SystemExit(1)


def _result(outcome: "LifecycleOutcome") -> str:
    if outcome.error is not None:
        return f"FAILED: {outcome.error.message}"
    return f"already {outcome.status}" if outcome.already else f"stopping ({outcome.status})"


async def _stop_all(app: App, records: "list[InstanceRecord]", concurrency: int) -> "StopAllResult":
    from novictl.core.stop_all import stop_all

    async with app.novita_client() as client, app.open_store() as store:
        return await stop_all(client, store, records, concurrency=concurrency)
