"""``novictl keepalive -- CMD…``: run a job and tell auto-stop the instance is in use while it runs."""

import os
import sys
from typing import TYPE_CHECKING, Annotated

import typer

from novictl.cli.context import App, get_app, run_async

if TYPE_CHECKING:
    from novictl.core.keepalive import Ping

__all__ = ["register"]


def register(root: typer.Typer) -> None:
    root.command(
        "keepalive",
        context_settings={"allow_interspersed_args": False, "ignore_unknown_options": True},
    )(keepalive)


def keepalive(
    ctx: typer.Context,
    command: Annotated[
        list[str], typer.Argument(help="The command to run, after --.", metavar="-- CMD ARGS…")
    ],
    every: Annotated[
        str, typer.Option("--every", help="Time between pings while the command runs.", metavar="DURATION")
    ] = "60s",
    instance: Annotated[
        str | None,
        typer.Option(
            "--instance",
            help="The instance to keep (id or exact name; default $NOVICTL_INSTANCE).",
            metavar="ID|NAME",
        ),
    ] = None,
    daemon_url: Annotated[
        str | None,
        typer.Option(
            "--daemon-url",
            envvar="NOVICTL_DAEMON_URL",
            help="Ping through this daemon (its token from NOVICTL_DAEMON__API_TOKEN) instead of the store.",
            metavar="URL",
        ),
    ] = None,
    source: Annotated[str, typer.Option("--source", help="The ping's source.", metavar="TEXT")] = "keepalive",
) -> None:
    """Run CMD and ping for the instance while it runs; exit with CMD's exit code.

    Pings at the start, every --every, and at the end; straight into the state store, or through a daemon
    with --daemon-url. A ping that fails is reported on stderr and retried, and never stops CMD. Example:
    `novictl keepalive --instance trainer -- python train.py`.
    """
    from novictl.core.durations import parse_duration
    from novictl.core.keepalive import keep_alive
    from novictl.errors import UsageError

    state = get_app(ctx)
    ref = instance or os.environ.get("NOVICTL_INSTANCE")
    if not ref:
        raise UsageError("name the instance to keep: --instance ID|NAME (or set NOVICTL_INSTANCE)")
    seconds = parse_duration(every).total_seconds()
    if seconds <= 0:
        raise UsageError("--every must be longer than 0s")
    ping = _daemon_ping(state, daemon_url, ref, source) if daemon_url else _store_ping(state, ref, source)

    def warn(message: str) -> None:
        sys.stderr.write(f"novictl keepalive: {message}\n")

    result = run_async(keep_alive(command, ping=ping, every=seconds, on_error=warn))
    raise typer.Exit(result.exit_code)


def _store_ping(state: App, ref: str, source: str) -> "Ping":
    from novictl.cli.autostop_cmd import resolve_record
    from novictl.core.pings import record_ping

    resolved: list[str] = []

    async def ping() -> None:
        async with state.open_store() as store:
            if not resolved:
                resolved.append((await resolve_record(state, store, ref)).id)
            await record_ping(store, resolved[0], source=source)

    return ping


def _daemon_ping(state: App, url: str, ref: str, source: str) -> "Ping":
    from urllib.parse import quote

    import httpx

    from novictl.errors import NovictlError
    from novictl.redact import mask_url

    shown = mask_url(url)
    token = state.settings.daemon.api_token
    headers = {"Authorization": f"Bearer {token.get_secret_value()}"} if token else {}
    target = f"{url.rstrip('/')}/api/instances/{quote(ref, safe='')}/last-used"

    async def ping() -> None:
        try:
            async with httpx.AsyncClient(timeout=10) as http:
                answer = await http.put(target, json={"source": source}, headers=headers)
        except httpx.HTTPError as error:
            raise NovictlError(f"daemon at {shown} unreachable: {type(error).__name__}") from error
        if answer.status_code != 200:
            raise NovictlError(f"daemon at {shown} answered HTTP {answer.status_code}")

    return ping
