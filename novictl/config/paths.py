"""Where novictl looks for its config file and keeps its state (XDG base directories)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

__all__ = ["default_config_path", "default_state_path", "resolve_config_path"]


def _home(env: Mapping[str, str]) -> Path:
    return Path(env["HOME"]) if env.get("HOME") else Path.home()


def _xdg_dir(env: Mapping[str, str], variable: str, fallback: str) -> Path:
    value = env.get(variable, "")
    # The XDG spec says relative values are invalid and must be ignored.
    return Path(value) if value and os.path.isabs(value) else _home(env) / fallback


def default_config_path(env: Mapping[str, str] | None = None) -> Path:
    """``$XDG_CONFIG_HOME/novictl/config.toml``, else ``~/.config/novictl/config.toml``."""
    return (
        _xdg_dir(os.environ if env is None else env, "XDG_CONFIG_HOME", ".config") / "novictl" / "config.toml"
    )


def default_state_path(env: Mapping[str, str] | None = None) -> Path:
    """``$XDG_STATE_HOME/novictl/state.db``, else ``~/.local/state/novictl/state.db``."""
    return (
        _xdg_dir(os.environ if env is None else env, "XDG_STATE_HOME", ".local/state")
        / "novictl"
        / "state.db"
    )


def resolve_config_path(
    config_path: Path | None = None, env: Mapping[str, str] | None = None
) -> tuple[Path, bool]:
    """The file to read and whether the user named it (a named file must exist; the default may not)."""
    env = os.environ if env is None else env
    if config_path is not None:
        return config_path.expanduser(), True
    if env.get("NOVICTL_CONFIG"):
        return Path(env["NOVICTL_CONFIG"]).expanduser(), True
    return default_config_path(env), False
