"""The command-line face: a Typer app, one module per command group, errors rendered in one place."""
