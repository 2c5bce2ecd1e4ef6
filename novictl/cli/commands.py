"""Which command modules exist and where they hang on the root app.

Each module exposes either ``app`` (a ``typer.Typer`` group) or ``register(root)`` for top-level verbs.
Importing them must stay cheap: see the module docstring of :mod:`novictl.cli.app`.
"""

from __future__ import annotations

import importlib
from typing import Any

import typer

__all__ = ["GROUPS", "VERBS", "register"]

# (module, group name, help) — groups of subcommands.
GROUPS: list[tuple[str, str]] = [
    ("novictl.cli.autostop_cmd", "autostop"),
    ("novictl.cli.daemon_cmd", "daemon"),
    ("novictl.cli.config_cmd", "config"),
    ("novictl.cli.webhooks_cmd", "webhooks"),
]

# Modules that add top-level verbs through ``register(root)``.
VERBS: list[str] = [
    "novictl.cli.instances_cmd",
    "novictl.cli.products_cmd",
    "novictl.cli.balance_cmd",
    "novictl.cli.touch_cmd",
    "novictl.cli.keepalive_cmd",
    "novictl.cli.emulator_cmd",
    "novictl.cli.demo_cmd",
    "novictl.cli.sync_cmd",
    "novictl.cli.events_cmd",
]


def register(root: typer.Typer) -> None:
    """Attach every command module to ``root``; a module not written yet is simply absent."""
    for module_name, name in GROUPS:
        module = _load(module_name)
        if module is not None:
            root.add_typer(module.app, name=name)
    for module_name in VERBS:
        module = _load(module_name)
        if module is not None:
            module.register(root)


def _load(name: str) -> Any:
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as error:
        if error.name == name:
            return None
        raise
