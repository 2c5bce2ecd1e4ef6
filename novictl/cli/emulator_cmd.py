"""``novictl emulator``: serve a local Novita API to test automation against (no account, no cost)."""

from typing import Annotated

import typer

from novictl.cli.context import get_app

__all__ = ["register"]


def register(root: typer.Typer) -> None:
    """Add the top-level ``emulator`` command to ``root``."""
    root.command("emulator")(emulator)


def _seconds(text: str, option: str) -> float:
    from novictl.core.durations import parse_duration
    from novictl.errors import UsageError

    try:
        return parse_duration(text).total_seconds()
    except ValueError as error:
        raise UsageError(f"{option}: {error}") from None


def emulator(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[
        int, typer.Option(min=0, max=65535, help="Port to listen on (0 picks a free one).")
    ] = 8787,
    api_key: Annotated[
        str,
        typer.Option(
            envvar="NOVICTL_EMULATOR_API_KEY",
            help="The emulator's own fake API key that clients must send (not a Novita key).",
        ),
    ] = "emulator-key",
    instances: Annotated[
        int,
        typer.Option(
            min=0,
            help="Instances that already exist (most running, started hours to days ago, never pinged).",
        ),
    ] = 0,
    step_delay: Annotated[
        str, typer.Option(help="How long each lifecycle status lasts, e.g. 2s or 200ms.")
    ] = "2s",
    latency: Annotated[str, typer.Option(help="Latency added to every Novita request, e.g. 150ms.")] = "0ms",
    fault_rate: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Share of requests answered 503.")
    ] = 0.0,
    rate_429: Annotated[
        float, typer.Option("--rate-429", min=0.0, max=1.0, help="Share of requests answered 429.")
    ] = 0.0,
    drop_rate: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Share of requests whose connection is dropped.")
    ] = 0.0,
    slow_rate: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Share of requests that hang for --slow-for.")
    ] = 0.0,
    slow_for: Annotated[str, typer.Option(help="How long a slow request hangs, e.g. 30s.")] = "30s",
    seed: Annotated[int, typer.Option(help="Seed for generated instances and random faults.")] = 0,
    paging: Annotated[
        str,
        typer.Option(
            metavar="zero|one",
            help="zero: pageNum=0 is the first page, as Novita's live API; "
            "one: 0 and 1 both mean the first page.",
        ),
    ] = "zero",
    metrics_interval: Annotated[
        str, typer.Option(help="Time between GPU metric samples (/openapi/v1/metrics), e.g. 30s.")
    ] = "30s",
    metrics_lag: Annotated[
        str, typer.Option(help="How far GPU metrics lag behind now, e.g. 60s (Novita's: about a minute).")
    ] = "60s",
) -> None:
    """Serve a local Novita API with lifecycle timing, fault injection and call counters.

    Point novictl (or anything else) at it with the two variables it prints. Runtime controls live under
    /_emulator/ (faults, counters, reset; docs at /_emulator/docs). Ctrl-C stops it.
    """
    import signal
    import socket

    import uvicorn
    from pydantic import ValidationError

    from novictl.emulator import BASE_PATH, EmulatorConfig, FaultConfig, create_app
    from novictl.emulator.gateway import OPENAPI_BASE_PATH
    from novictl.errors import UsageError

    if not api_key.strip():
        raise UsageError("--api-key cannot be empty: clients could never authenticate")
    if paging not in ("zero", "one"):
        raise UsageError(f"--paging must be zero or one, not {paging!r}")
    try:
        config = EmulatorConfig(
            api_key=api_key,
            step_delay=_seconds(step_delay, "--step-delay"),
            instances=instances,
            seed=seed,
            paging="one" if paging == "one" else "zero",
            metrics_interval=_seconds(metrics_interval, "--metrics-interval"),
            metrics_lag=_seconds(metrics_lag, "--metrics-lag"),
            faults=FaultConfig(
                latency_ms=_seconds(latency, "--latency") * 1000,
                rate_5xx=fault_rate,
                rate_429=rate_429,
                rate_drop=drop_rate,
                rate_slow=slow_rate,
                slow_seconds=_seconds(slow_for, "--slow-for"),
            ),
        )
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise UsageError(f"invalid emulator settings: {where}: {first['msg']}") from None

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY on accepted sockets only then (else 40 ms stalls).
    listener = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((host, port))
    except OSError as error:
        listener.close()
        raise UsageError(
            f"cannot listen on {host}:{port}: {error.strerror}", hint="try another --port"
        ) from None
    listener.listen(128)  # accept connections from now on; uvicorn picks them up once it runs

    bound_port = listener.getsockname()[1]
    url_host = f"[{host}]" if ":" in host else host
    url = f"http://{url_host}:{bound_port}"
    typer.echo(f"Novita emulator listening on {url}{BASE_PATH}")
    typer.echo(
        f"  {config.instances} instances, step delay {config.step_delay:g}s, paging {config.paging}, "
        f"control API at {url}/_emulator/"
    )
    typer.echo(
        f"  metrics and billing at {url}{OPENAPI_BASE_PATH} (samples every {config.metrics_interval:g}s, "
        f"{config.metrics_lag:g}s behind)"
    )
    typer.echo("Point novictl at it:")
    typer.echo(f"  export NOVITA_API_BASE_URL={url}{BASE_PATH}")
    typer.echo(f"  export NOVITA_API_KEY={config.api_key}")
    typer.echo("Press Ctrl-C to stop.", err=True)

    verbose = get_app(ctx).verbose
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(config),
            log_level="info" if verbose else "warning",
            access_log=verbose > 0,
            lifespan="off",
            timeout_graceful_shutdown=2,
        )
    )

    def _interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    # uvicorn re-raises the signal that stopped it after shutting down; make SIGTERM end as quietly as SIGINT.
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        server.run(sockets=[listener])
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        listener.close()
    typer.echo("emulator stopped", err=True)
