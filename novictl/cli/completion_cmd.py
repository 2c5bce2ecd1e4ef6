"""``novictl completion script|write|names``: shell completion for bash, zsh and fish."""

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from novictl.cli.context import get_app, run_async

__all__ = ["Shell", "app"]

app = typer.Typer(
    help="Shell completion: print or write the scripts for bash, zsh and fish.",
    no_args_is_help=True,
)


class Shell(StrEnum):
    """The shells novictl writes completion scripts for."""

    bash = "bash"
    zsh = "zsh"
    fish = "fish"


@app.command("script")
def script(shell: Annotated[Shell, typer.Argument(help="bash, zsh or fish.", metavar="SHELL")]) -> None:
    """Print the completion script for SHELL (bash, zsh or fish).

    Install: bash: `novictl completion script bash > ~/.local/share/bash-completion/completions/novictl`;
    zsh: `novictl completion script zsh > "${fpath[1]}/_novictl"`;
    fish: `novictl completion script fish > ~/.config/fish/completions/novictl.fish`.
    """
    from novictl.cli.completion import generate

    typer.echo(generate(shell.value), nl=False)


@app.command("write")
def write(
    directory: Annotated[Path, typer.Argument(help="Where to write the three scripts.")] = Path(
        "completions"
    ),
) -> None:
    """Write novictl.bash, _novictl (zsh) and novictl.fish into DIRECTORY (default: ./completions).

    This is how the repository's completions/ directory is regenerated after a command changes.
    """
    from novictl.cli.completion import FILENAMES, generate

    directory.mkdir(parents=True, exist_ok=True)
    for shell, filename in FILENAMES.items():
        (directory / filename).write_text(generate(shell), encoding="utf-8")
        typer.echo(str(directory / filename))


@app.command("names")
def names(ctx: typer.Context) -> None:
    """Print the names of known instances, one per line, from the local store (no network).

    The completion scripts call this; it prints nothing (and exits 0) when the store cannot be read.
    """

    from novictl.core.instances import is_listed
    from novictl.errors import NovictlError

    state = get_app(ctx)

    async def read() -> list[str]:
        async with state.open_store() as store:
            return sorted({r.name for r in await store.get_all() if is_listed(r)})

    try:
        found = run_async(read())
    except NovictlError:
        return
    for name in found:
        typer.echo(name)
