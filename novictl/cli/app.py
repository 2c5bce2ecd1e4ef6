"""The root of the CLI: global options, command registration, and the one place errors become exit codes.

Command modules import only typer and light modules at import time; anything heavy (fastapi, uvicorn, redis,
apscheduler, rich tables) is imported inside the command that needs it, so ``novictl --help`` stays fast.
"""

import contextlib
import inspect
import os
import sys
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from novictl import __version__
from novictl.cli import commands
from novictl.cli.context import App, get_app

__all__ = ["app", "main"]

# Typer 0.2x vendors click as typer._click; older releases use click itself. Errors come from whichever runs.
try:
    from typer._click import ClickException
except ImportError:  # pragma: no cover - depends on the installed typer
    from click import ClickException  # type: ignore[assignment]

_ROOT_SETTINGS: dict[str, Any] = {
    "name": "novictl",
    "help": "Manage Novita.ai GPU instances and stop the idle ones before they burn money.",
    "no_args_is_help": True,
    "add_completion": False,
    "pretty_exceptions_enable": False,
    "rich_markup_mode": None,
    "context_settings": {"help_option_names": ["-h", "--help"]},
}
_ROOT_HELP_ARGS: tuple[list[str], ...] = ([], ["--help"], ["-h"])

app = typer.Typer(**_ROOT_SETTINGS)
commands.register(app)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"novictl {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            "-c",
            help="Config file to read (default: $NOVICTL_CONFIG or ~/.config/novictl/config.toml).",
            envvar="NOVICTL_CONFIG",
            show_envvar=False,
        ),
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
    no_color: Annotated[bool, typer.Option("--no-color", help="No colour in the output.")] = False,
    verbose: Annotated[int, typer.Option("--verbose", "-v", count=True, help="More log output.")] = 0,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks for unexpected errors.")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    """Manage Novita.ai GPU instances and stop the idle ones before they burn money."""
    state = get_app(ctx)
    state.config_path = config
    state.json_output = json_output
    state.no_color = no_color
    state.verbose = verbose
    state.debug = debug


def _summary_app() -> typer.Typer:
    """The root with every command reduced to its name and help: all ``novictl --help`` shows. Typer reads
    each command's signature to build its options, a third of the start-up for a page that lists none of
    them. A test holds this page identical to the full app's."""
    summary = typer.Typer(**_ROOT_SETTINGS)
    summary.callback()(root)
    for info in app.registered_commands:
        assert info.callback is not None
        assert info.name, "commands are registered with explicit names"
        text = info.help or inspect.getdoc(info.callback)
        summary.command(info.name, help=text, short_help=info.short_help, hidden=info.hidden)(_stub)
    for group in app.registered_groups:
        sub_app = group.typer_instance
        assert sub_app is not None
        assert group.name, "groups are added with explicit names"
        text = group.help if isinstance(group.help, str) else sub_app.info.help
        summary.add_typer(typer.Typer(help=text if isinstance(text, str) else None), name=group.name)
    return summary


def _stub() -> None:
    """Never run: the summary app only prints the root help."""


_OUTPUT_CLOSED = 141
"""The exit code when the reader of our output went away (``novictl list | head -1``): what a shell
reports for a program ended by SIGPIPE, so it never reads as "failed" (1) or "something is idle" (1)."""


class _OutputClosed(Exception):
    """stdout's reader is gone."""


class _Stdout:
    """``sys.stdout``, except that a reader that went away ends the command quietly (click would otherwise
    turn the broken pipe into exit 1, which ``autostop check --fail-on-idle`` uses for "would stop")."""

    def __init__(self, stream: Any):
        self._stream = stream

    def write(self, text: str) -> int:
        try:
            return int(self._stream.write(text))
        except BrokenPipeError:
            raise _OutputClosed from None

    def flush(self) -> None:
        try:
            self._stream.flush()
        except BrokenPipeError:
            raise _OutputClosed from None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def _exit(code: int) -> NoReturn:
    try:
        sys.stdout.flush()
    except _OutputClosed:
        _silence_stdout()
        code = _OUTPUT_CLOSED
    raise SystemExit(code)


def _silence_stdout() -> None:
    # Whatever is still buffered would fail again when Python flushes at exit.
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.__stdout__.fileno() if sys.__stdout__ else 1)


def main(argv: list[str] | None = None) -> None:
    """Run the CLI. Translates every :class:`NovictlError` into a message, a hint and an exit code."""

    state = App()
    args = sys.argv[1:] if argv is None else argv
    # Click's own completion protocol (an environment variable, no arguments) needs the real commands.
    summary = args in _ROOT_HELP_ARGS and "_NOVICTL_COMPLETE" not in os.environ
    command = typer.main.get_command(_summary_app() if summary else app)
    real_stdout = sys.stdout
    sys.stdout = _Stdout(real_stdout)
    try:
        _run(command, argv, state)
    finally:
        sys.stdout = real_stdout


def _run(command: Any, argv: list[str] | None, state: App) -> NoReturn:
    from novictl.errors import NovictlError

    try:
        # Without standalone mode, click *returns* the code of a `typer.Exit(n)` instead of raising it.
        code = command.main(args=argv, prog_name="novictl", standalone_mode=False, obj=state)
    except _OutputClosed:
        _silence_stdout()
        raise SystemExit(_OUTPUT_CLOSED) from None
    except NovictlError as error:
        from novictl.cli.output import print_error

        print_error(state, error, as_json=state.wants_json())
        if state.debug:
            raise
        _exit(error.exit_code)
    except typer.Abort:
        sys.stderr.write("aborted\n")
        _exit(130)
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        _exit(130)
    except typer.Exit as done:
        _exit(done.exit_code)
    except ClickException as usage:
        # Typer words a bad choice as pydantic does ("Value error, 'x' is not one of …"): drop the jargon.
        usage.message = usage.message.replace("Value error, ", "")
        usage.show()
        _exit(usage.exit_code)
    except Exception:
        if state.debug:
            raise
        import traceback

        sys.stderr.write(
            "error: an unexpected error happened inside novictl; run again with --debug for the traceback\n"
        )
        # The last frame's summary helps a bug report without printing locals (which could hold secrets).
        kind, _, trace = sys.exc_info()
        last = traceback.extract_tb(trace)[-1:]
        if last and kind is not None:
            sys.stderr.write(f"  at {last[0].filename}:{last[0].lineno} ({kind.__name__})\n")
        _exit(1)
    _exit(code if isinstance(code, int) else 0)
