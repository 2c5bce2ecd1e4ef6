"""``novictl sync``: bring the local store in step with Novita."""

from typing import Annotated

import typer

from novictl.cli.context import JsonFlag, get_app, run_async
from novictl.cli.output import print_json, print_table

__all__ = ["register"]


def register(root: typer.Typer) -> None:
    root.command("sync")(sync)


def sync(
    ctx: typer.Context,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Report what would change; write nothing.")
    ] = False,
    keep_obsolete: Annotated[
        bool, typer.Option("--keep-obsolete", help="Leave records of instances gone from Novita alone.")
    ] = False,
    json_output: JsonFlag = False,
) -> None:
    """Read every instance from Novita and update the local store.

    New instances are adopted (so auto-stop covers instances made elsewhere); instances gone from Novita are
    confirmed one by one and marked terminated (or removed, with SYNC_REMOVE_OBSOLETE_INSTANCES=true);
    terminated records older than the retention are purged. Exit 5 if another sync is running, 6 if Novita
    stays unavailable (then nothing is marked terminated).
    """
    from novictl.core.sync import SyncOptions, sync_instances

    app = get_app(ctx)
    settings = app.settings
    options = SyncOptions.from_settings(
        settings.sync,
        page_size=settings.novita.page_size,
        dry_run=dry_run,
        handle_obsolete=not keep_obsolete,
    )

    async def run() -> dict[str, object]:
        async with app.novita_client() as client, app.open_store() as store:
            result = await sync_instances(client=client, store=store, options=options)
            return result.to_dict()

    result = run_async(run())
    if app.wants_json(json_output):
        print_json(result)
        return
    title = "sync (dry run: nothing written)" if dry_run else "sync"
    rows = [
        (label, result[key])
        for label, key in (
            ("seen on Novita", "seen"),
            ("adopted", "adopted"),
            ("updated", "updated"),
            ("unchanged", "unchanged"),
            ("marked terminated", "terminated"),
            ("removed", "removed"),
            ("purged", "purged"),
            ("kept (could not confirm)", "keptUnconfirmed"),
        )
    ]
    rows.append(("duration", f"{result['durationSeconds']}s"))
    print_table(app, ["", "count"], rows, title=title, show_header=False)
