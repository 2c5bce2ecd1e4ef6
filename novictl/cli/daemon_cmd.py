"""``novictl daemon``: run the daemon; ``daemon check`` (is one alive?) and ``daemon systemd-unit``."""

import sys
from typing import Annotated, Literal

import typer

from novictl.cli.context import JsonFlag, get_app, run_async
from novictl.cli.output import print_json

__all__ = ["app"]

app = typer.Typer(
    help="Run the daemon: scheduled auto-stop and sync, and the HTTP API for pings.",
    invoke_without_command=True,
    no_args_is_help=False,
)


@app.callback(invoke_without_command=True)
def daemon(
    ctx: typer.Context,
    host: Annotated[
        str | None,
        typer.Option(
            "--host", help="Address to bind (default 127.0.0.1; non-loopback needs daemon.api_token)."
        ),
    ] = None,
    port: Annotated[
        int | None, typer.Option("--port", help="Port to bind (default 8765).", min=0, max=65535)
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Scheduled auto-stop checks report but stop nothing.")
    ] = False,
    log_format: Annotated[
        str | None, typer.Option("--log-format", help='Log lines on stderr: "text" or "json".')
    ] = None,
) -> None:
    """Run the daemon in the foreground until SIGTERM or Ctrl-C (then it exits 0).

    Every check_interval_minutes it stops idle instances; at startup and every SYNC_INTERVAL_MINUTES it syncs
    with Novita; it serves the HTTP API (pings: PUT /api/instances/{id}/last-used, /health, /metrics). Several
    daemons may share one Redis store: each tick, exactly one of them acts. Refuses a non-loopback --host
    without an API token (exit 3).
    """
    if ctx.invoked_subcommand is not None:
        return
    if log_format is not None and log_format not in ("text", "json"):
        raise typer.BadParameter('must be "text" or "json"', param_hint="--log-format")
    from novictl.daemon.logs import configure_logging
    from novictl.daemon.service import Daemon

    state = get_app(ctx)
    settings = state.loaded(
        **{"daemon.host": host, "daemon.port": port, "daemon.log_format": log_format}
    ).settings
    runner = Daemon(settings, dry_run=dry_run)
    runner.check_binding()
    fmt: Literal["text", "json"] = settings.daemon.log_format
    configure_logging(log_format=fmt, level=_level(state.verbose), secrets=_secrets(settings))
    run_async(runner.serve())


@app.command("check")
def check(ctx: typer.Context, json_output: JsonFlag = False) -> None:
    """Exit 0 if a daemon sharing this store beat its heart recently (within 3 heartbeat intervals) and its
    last auto-stop check could act, else 1 (a stale heartbeat, or Novita refused the key, the store was
    down, the last run failed).

    For monitoring: `novictl daemon check || alert`. Reads the heartbeat from the state store.
    """
    from novictl.clock import SystemClock
    from novictl.daemon.heartbeat import check_heartbeat

    state = get_app(ctx)
    settings = state.settings

    async def run() -> dict[str, object]:
        async with state.open_store() as store:
            verdict = await check_heartbeat(
                store, now=SystemClock().now(), heartbeat_seconds=settings.daemon.heartbeat_seconds
            )
            return verdict.to_dict()

    result = run_async(run())
    healthy = bool(result["healthy"])
    if state.wants_json(json_output):
        print_json(result)
    elif result["daemonId"] is None:
        sys.stdout.write("no daemon heartbeat found in the state store\n")
    else:
        problem = result["autostopProblem"]
        word = "alive" if healthy else "STALE" if problem is None else "CANNOT AUTO-STOP"
        sys.stdout.write(
            f"daemon {result['daemonId']}: {word}, last heartbeat {result['ageSeconds']}s ago "
            f"(limit {result['maxAgeSeconds']}s) at {result['address']}\n"
        )
        if problem:
            sys.stdout.write(f"auto-stop cannot act: {problem}\n")
    if not healthy:
        raise typer.Exit(1)


@app.command("systemd-unit")
def systemd_unit(
    user: Annotated[str | None, typer.Option("--user", help="The account to run as (default: you).")] = None,
) -> None:
    """Print a systemd unit file for the daemon (install steps: see README, "Running the daemon").

    The API key is read from ~/.config/novictl/env (EnvironmentFile), never written into the unit.
    """
    from novictl.daemon.systemd import render_systemd_unit

    sys.stdout.write(render_systemd_unit(user=user))


def _level(verbose: int) -> int:
    import logging

    return logging.DEBUG if verbose > 0 else logging.INFO


def _secrets(settings: object) -> list[str]:
    """Every secret the settings hold, so the log filter can mask them wherever they turn up."""
    from urllib.parse import urlsplit

    from novictl.config import Settings

    assert isinstance(settings, Settings)
    found = [
        secret.get_secret_value()
        for secret in (settings.novita.api_key, settings.daemon.api_token, settings.webhook.secret)
        if secret is not None
    ]
    password = urlsplit(settings.store.url).password if "://" in settings.store.url else None
    return [*found, *([password] if password else [])]
