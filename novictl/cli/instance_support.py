"""What the instance commands share: confirmation, ``--wait`` options and progress, parsing durations."""

import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated

import typer

from novictl.errors import UsageError

if TYPE_CHECKING:
    from novictl.novita.models import Instance

__all__ = [
    "PollOption",
    "QuietOption",
    "TimeoutOption",
    "WaitOption",
    "YesOption",
    "confirm",
    "progress_printer",
    "seconds",
]

WaitOption = Annotated[
    bool, typer.Option("--wait", help="Wait until the instance gets there, with progress.")
]
TimeoutOption = Annotated[
    str, typer.Option("--timeout", help="How long --wait waits, e.g. 90s, 10m.", metavar="DURATION")
]
# Hidden: tests and impatient people poll faster than Novita would like by default.
PollOption = Annotated[str, typer.Option("--poll-interval", hidden=True, help="Time between polls.")]
YesOption = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]
QuietOption = Annotated[bool, typer.Option("--quiet", "-q", help="Print instance ids only.")]


def seconds(text: str, option: str) -> float:
    """A duration option (``90s``, ``10m``) in seconds; a bad one is a usage error naming the option."""
    from novictl.core.durations import parse_duration

    try:
        return parse_duration(text).total_seconds()
    except ValueError as error:
        raise UsageError(f"{option}: {error}") from None


def confirm(question: str, *, yes: bool, what: str) -> None:
    """Ask ``question`` unless ``--yes``. Without a terminal on stdin, refuse (exit 2) instead of hanging —
    cron jobs must say ``--yes``. A "no" ends the command with exit 1 and ``what`` was not done."""
    if yes:
        return
    if not sys.stdin.isatty():
        raise UsageError(
            f"refusing to {what} without confirmation: stdin is not a terminal", hint="pass --yes"
        )
    # Asked on stderr and read by hand: click's prompt writes a stray space to stdout, which --json owns.
    sys.stderr.write(f"{question} [y/N]: ")
    sys.stderr.flush()
    if sys.stdin.readline().strip().lower() not in ("y", "yes"):
        sys.stderr.write(f"cancelled: did not {what}\n")
        # SystemExit: with standalone_mode=False click returns a typer.Exit code instead of exiting.
        raise SystemExit(1)


def progress_printer(label: str) -> "Callable[[Instance], None]":
    """An ``on_status`` callback printing each status an instance passes through, on stderr."""
    started = time.monotonic()

    def show(instance: "Instance") -> None:
        sys.stderr.write(f"  {label}: {instance.status} ({time.monotonic() - started:.1f}s)\n")
        sys.stderr.flush()

    return show
