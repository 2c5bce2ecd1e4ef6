"""``novictl config show|path|init``: the settings, where they come from, and a file to start from."""

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from novictl.cli.context import App, JsonFlag, get_app

__all__ = ["app"]

app = typer.Typer(
    help="Show the effective settings, locate the config file, or create one.",
    no_args_is_help=True,
    rich_markup_mode=None,
)


@app.command("show")
def show(ctx: typer.Context, json_output: JsonFlag = False) -> None:
    """Show every effective setting and where it came from (secrets masked).

    With --json, each setting also lists the environment variables that set it.
    """
    from novictl.cli.output import print_json
    from novictl.config import describe_settings

    state = _state(ctx, json_output)
    loaded = state.loaded()
    views = describe_settings(loaded)
    config_path = str(loaded.config_path) if loaded.config_path else None
    if state.wants_json():
        print_json({"configPath": config_path, "settings": [view.to_dict() for view in views]})
        return
    # Plain aligned lines rather than a table: long keys, URLs and paths stay whole (and greppable).
    lines = [f"# config file: {config_path or 'none read (defaults, environment and flags only)'}"]
    key_width = max(len(view.key) for view in views)
    value_width = min(max(len(view.text) for view in views), 48)
    lines += [f"{view.key:<{key_width}} = {view.text:<{value_width}}  # {view.source}" for view in views]
    lines.append("# any key can be set with NOVICTL_<SECTION>__<KEY>; --json lists each key's env vars")
    typer.echo("\n".join(lines))


@app.command("path")
def path(ctx: typer.Context, json_output: JsonFlag = False) -> None:
    """Print the config file novictl reads, and whether it exists.

    That is --config, else $NOVICTL_CONFIG, else $XDG_CONFIG_HOME/novictl/config.toml.
    """
    from novictl.cli.output import print_json
    from novictl.config import resolve_config_path

    state = _state(ctx, json_output)
    config_path, explicit = resolve_config_path(state.config_path)
    exists = config_path.is_file()
    if state.wants_json():
        print_json({"path": str(config_path), "exists": exists, "explicit": explicit})
        return
    # The path alone on stdout, so `$(novictl config path)` works; the note goes to stderr.
    typer.echo(str(config_path))
    if not exists:
        sys.stderr.write("(this file does not exist yet; `novictl config init` creates it)\n")


@app.command("init")
def init(
    ctx: typer.Context,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
    target: Annotated[
        Path | None,
        typer.Option("--path", help="Where to write (default: the file `novictl config path` prints)."),
    ] = None,
    json_output: JsonFlag = False,
) -> None:
    """Write a commented config file with every setting, its default and its env vars."""
    from novictl.cli.output import print_json
    from novictl.config import render_example_config, resolve_config_path
    from novictl.errors import ConfigError, ConflictError

    state = _state(ctx, json_output)
    destination = target.expanduser() if target else resolve_config_path(state.config_path)[0]
    existed = destination.exists()
    if existed and not force:
        raise ConflictError(
            f"{destination} already exists; not overwriting it",
            hint="use --force to replace it (the current file is not kept), or --path to write elsewhere",
        )
    try:
        _write_private(destination, render_example_config())
    except OSError as error:
        raise ConfigError(f"cannot write {destination}: {error.strerror}") from None
    if state.wants_json():
        print_json({"path": str(destination), "overwritten": existed})
        return
    typer.echo(f"{'replaced' if existed else 'wrote'} {destination}")


def _state(ctx: typer.Context, json_output: bool) -> App:
    """The app state; a command's own ``--json`` also makes errors JSON (the CLI's error edge reads it)."""
    state = get_app(ctx)
    state.json_output = state.json_output or json_output
    return state


def _write_private(destination: Path, text: str) -> None:
    """Write atomically with mode 600: the file may come to hold the API key."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    import tempfile

    handle, temp_name = tempfile.mkstemp(dir=destination.parent, prefix=".config-", suffix=".toml")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as temp:
            temp.write(text)
        os.replace(temp_name, destination)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
