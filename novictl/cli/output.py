"""Rendering for people (rich tables, plain text) and for scripts (JSON), and errors in either form."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

    from novictl.cli.context import App
    from novictl.errors import NovictlError

__all__ = ["console", "print_error", "print_json", "print_table", "to_jsonable"]


def to_jsonable(value: Any) -> Any:
    """Models, datetimes and containers as plain JSON data (camelCase aliases where models define them)."""
    if hasattr(value, "model_dump"):  # a pydantic model (not imported here: it is slow to import)
        return value.model_dump(mode="json", by_alias=True)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    return value


def print_json(value: Any, *, file: Any = None) -> None:
    """Print ``value`` as indented JSON with sorted-stable keys (insertion order) and a trailing newline."""
    out = file or sys.stdout
    out.write(json.dumps(to_jsonable(value), indent=2, ensure_ascii=False) + "\n")
    out.flush()


def console(app: App, *, stderr: bool = False) -> Console:
    """A rich console honouring ``--no-color``, ``NO_COLOR`` and whether the stream is a terminal."""
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    tty = stream.isatty()
    plain = app.no_color or not tty or "NO_COLOR" in os.environ
    return Console(
        file=stream,
        # Plain means no escape codes at all: not even bold headers (rich's no_color keeps those).
        color_system=None if plain else "auto",
        highlight=False,
        soft_wrap=not tty,
        # Cron mail and pipes get whole rows instead of tables folded at 80 columns.
        width=None if tty else 200,
    )


_WHOLE_COLUMNS = frozenset({"name", "id", "instance", "product", "status", "verdict", "$/h"})


def print_table(
    app: App,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    title: str | None = None,
    empty: str = "nothing to show",
    show_header: bool = True,
) -> None:
    """A table for people; ``empty`` is printed instead when there are no rows. ``show_header=False`` for
    key/value listings, whose columns need no names."""
    from rich.table import Table

    out = console(app)
    if not rows:
        out.print(empty)
        return
    table = Table(title=title, header_style="bold", box=None, pad_edge=False, show_header=show_header)
    for column in columns:
        # Names and ids are copied and pasted: on a narrow terminal the other columns wrap instead.
        keep_whole = column in _WHOLE_COLUMNS
        table.add_column(column, overflow="fold", no_wrap=keep_whole)
    for row in rows:
        table.add_row(*("" if cell is None else str(cell) for cell in row))
    out.print(table)


def print_error(app: App | None, error: NovictlError, *, as_json: bool) -> None:
    """The one place a :class:`NovictlError` becomes output: JSON on stdout, or text on stderr."""
    if as_json:
        print_json({"error": error.to_dict()})
        return
    lines = [f"error: {error.message}"]
    if error.hint:
        lines.append(f"hint: {error.hint}")
    sys.stderr.write("\n".join(lines) + "\n")
