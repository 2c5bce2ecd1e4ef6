"""Settings as people and scripts see them: masked values, sources, env vars, the example file."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pydantic import SecretStr

from novictl.config.loading import LoadedSettings
from novictl.config.masking import URL_SECRET_KEYS, mask_secret, mask_url
from novictl.config.models import SECRET_KEYS, env_names, section_models, setting_keys

__all__ = ["SettingView", "describe_settings", "render_example_config", "render_settings_table"]


@dataclass(frozen=True)
class SettingView:
    """One setting as shown to a person or a script: secrets masked, with its source and env vars."""

    key: str
    value: Any  # JSON-ready; secrets and URL passwords masked
    source: str
    env: tuple[str, ...]
    secret: bool
    description: str

    @property
    def text(self) -> str:
        """The value as table text."""
        if self.value is None:
            return "(not set)"
        if isinstance(self.value, bool | list):
            return json.dumps(self.value)
        return str(self.value)

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "value": self.value, "source": self.source, "env": list(self.env)}


def _display(value: Any, *, hide_path: bool = False) -> Any:
    if isinstance(value, SecretStr):
        return mask_secret(value.get_secret_value())
    if isinstance(value, str):
        return mask_url(value, hide_path=hide_path)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        return [_display(item) for item in value]
    return value


def describe_settings(loaded: LoadedSettings) -> list[SettingView]:
    """Every effective setting, in declaration order, safe to print."""
    views: list[SettingView] = []
    for key in setting_keys():
        section_name, name = key.split(".", 1)
        section = getattr(loaded.settings, section_name)
        views.append(
            SettingView(
                key=key,
                value=_display(getattr(section, name), hide_path=key in URL_SECRET_KEYS),
                source=loaded.sources.get(key, "default"),
                env=env_names(key),
                secret=key in SECRET_KEYS,
                description=type(section).model_fields[name].description or "",
            )
        )
    return views


_EXAMPLE_HEADER = """\
# novictl configuration file.
#
# Every setting is listed below, commented out, with its default value: uncomment a line and change the
# value to override it. Precedence: defaults < this file < environment variables < command-line flags.
# novictl reads --config, else $NOVICTL_CONFIG, else $XDG_CONFIG_HOME/novictl/config.toml
# (~/.config/novictl/config.toml). `novictl config show` prints every effective value and its source.
# Optional settings take "" (or "off") for "not set". Environment booleans: true/false, yes/no, 1/0.
# Secrets (api_key, secret, api_token) are best kept in the environment; if you put them here, keep this
# file private (chmod 600).
"""


def _toml_value(value: Any) -> str:
    """A default as TOML text; ``None`` becomes ``""`` (optional settings read ``""`` as not set)."""
    if value is None:
        return '""'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    # JSON string escapes are valid in TOML basic strings.
    return json.dumps(str(value), ensure_ascii=False)


def render_example_config() -> str:
    """The commented example config (``config.example.toml``, and what ``novictl config init`` writes)."""
    lines = [_EXAMPLE_HEADER]
    for section, model in section_models().items():
        lines.append(f"# {(model.__doc__ or section).strip()}")
        lines.append(f"[{section}]")
        for name, field in model.model_fields.items():
            key = f"{section}.{name}"
            default = field.get_default(call_default_factory=True)
            lines.append("")
            lines.append(f"# {field.description}. Env: {', '.join(env_names(key))}")
            lines.append(f"# {name} = {_toml_value(default)}")
        lines.append("")
    return "\n".join(lines)


def render_settings_table() -> str:
    """The README's configuration table (Markdown): every key, its env vars, default and meaning."""
    rows = ["| Key | Environment | Default | What it does |", "|---|---|---|---|"]
    for section, model in section_models().items():
        for name, field in model.model_fields.items():
            key = f"{section}.{name}"
            default = _toml_value(field.get_default(call_default_factory=True))
            env = ", ".join(f"`{var}`" for var in env_names(key))
            rows.append(f"| `{key}` | {env} | `{default}` | {field.description} |")
    return "\n".join(rows) + "\n"
