"""Building :class:`Settings` from defaults, the TOML file, the environment and flags, with sources."""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from difflib import get_close_matches
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from novictl.config.masking import mask_url
from novictl.config.models import SECRET_KEYS, Settings, env_names, section_models, setting_keys
from novictl.config.paths import resolve_config_path
from novictl.errors import ConfigError

__all__ = ["LoadedSettings", "load_settings"]


@dataclass(frozen=True)
class LoadedSettings:
    """The settings plus, per dotted key, where the value came from and the file actually read."""

    settings: Settings
    sources: dict[str, str]  # "default" | "file:/path" | "env:NAME" | "flag"
    config_path: Path | None


def load_settings(
    *,
    config_path: Path | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> LoadedSettings:
    """Build the settings: defaults < file < environment < ``overrides`` (dotted keys; ``None`` = not given).

    Raises :class:`ConfigError` naming the key, the value (unless secret) and its source.
    """
    env = os.environ if env is None else env
    path, explicit = resolve_config_path(config_path, env)
    keys = setting_keys()
    raw: dict[str, dict[str, Any]] = {section: {} for section in section_models()}
    sources = dict.fromkeys(keys, "default")

    file_values = _read_file(path, explicit=explicit)
    for key, value in (file_values or {}).items():
        _put(raw, key, value)
        sources[key] = f"file:{path}"
    for key in keys:
        for name in env_names(key):
            if env.get(name):
                _put(raw, key, env[name])
                sources[key] = f"env:{name}"
                break
    for key, value in (overrides or {}).items():
        if key not in sources:
            raise ConfigError(f"unknown setting {key!r} given as an override")
        if value is not None:
            _put(raw, key, value)
            sources[key] = "flag"
    try:
        settings = Settings.model_validate(raw)
    except ValidationError as error:
        # `from None`: pydantic's own message echoes input values, and some are secrets.
        raise _config_error(error, raw, sources) from None
    return LoadedSettings(settings, sources, path if file_values is not None else None)


def _put(raw: dict[str, dict[str, Any]], key: str, value: Any) -> None:
    section, name = key.split(".", 1)
    raw[section][name] = value


def _read_file(path: Path, *, explicit: bool) -> dict[str, Any] | None:
    """The file's settings as ``{"section.key": value}``; ``None`` when the default file is absent."""
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        if not explicit:
            return None
        raise ConfigError(
            f"config file not found: {path}", hint="run `novictl config init` to create one, or fix the path"
        ) from None
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) else "not UTF-8 text"
        raise ConfigError(f"cannot read config file {path}: {reason}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"invalid TOML in {path}: {error}", hint="fix the file at the line shown") from None
    models = section_models()
    values: dict[str, Any] = {}
    unknown: list[str] = []
    for section, table in data.items():
        if section not in models:
            unknown.append(section)
        elif not isinstance(table, dict):
            raise ConfigError(f"{path}: [{section}] must be a table of settings, not a single value")
        else:
            for name, value in table.items():
                key = f"{section}.{name}"
                if name in models[section].model_fields:
                    values[key] = value
                else:
                    unknown.append(key)
    if unknown:
        guesses = [m for u in unknown for m in get_close_matches(u, setting_keys() + list(models), n=1)]
        raise ConfigError(
            f"unknown setting(s) in {path}: {', '.join(unknown)}",
            hint=f"did you mean {', '.join(guesses)}?"
            if guesses
            else "`novictl config show` lists every key",
            details={"unknown": unknown},
        )
    return values


_MESSAGES = {
    "int_parsing": "must be a whole number",
    "int_type": "must be a whole number",
    "int_from_float": "must be a whole number",
    "float_parsing": "must be a number",
    "float_type": "must be a number",
    "bool_parsing": "must be true or false (yes/no and 1/0 work too)",
    "bool_type": "must be true or false",
    "string_type": "must be a string",
    "list_type": "must be a list of strings",
}


def _explain(item: Mapping[str, Any]) -> str:
    kind, ctx = item["type"], item.get("ctx") or {}
    if kind in _MESSAGES:
        return _MESSAGES[kind]
    if kind == "value_error":
        return str(ctx.get("error", item["msg"]))
    bounds = {"greater_than": "greater than", "greater_than_equal": "at least", "less_than_equal": "at most"}
    if kind in bounds:
        limit = str(next(iter(ctx.values())))
        return f"must be {bounds[kind]} {limit.removesuffix('.0')}"
    if kind == "literal_error":
        return f"must be one of {ctx.get('expected', '')}"
    message = str(item["msg"])
    return message[:1].lower() + message[1:]


def _config_error(
    error: ValidationError, raw: dict[str, dict[str, Any]], sources: dict[str, str]
) -> ConfigError:
    problems: list[dict[str, str]] = []
    for item in error.errors(include_url=False, include_input=False):
        section, name = (str(part) for part in (*item["loc"], "")[:2])
        key = f"{section}.{name}"
        source = sources.get(key, "default")
        shown = "" if key in SECRET_KEYS else f" = {_show_raw(raw[section].get(name))}"
        problems.append(
            {"key": key, "source": source, "text": f"{key}{shown} (from {source}): {_explain(item)}"}
        )
    first = problems[0]["source"]
    if first.startswith("file:"):
        hint = f"fix it in {first[5:]}"
    elif first.startswith("env:"):
        hint = f"fix or unset the environment variable {first[4:]}"
    else:
        hint = "fix the command-line option"
    return ConfigError(
        "\n".join(problem["text"] for problem in problems),
        hint=hint,
        details={"errors": [{"key": p["key"], "source": p["source"]} for p in problems]},
    )


def _show_raw(value: Any) -> str:
    if isinstance(value, str):
        return json.dumps(mask_url(value), ensure_ascii=False)
    try:
        return json.dumps(value, ensure_ascii=False)
    except TypeError:
        return repr(value)
