"""load_settings: the four layers, their sources, the seed aliases, and errors that name key and source."""

from __future__ import annotations

from pathlib import Path

import pydantic
import pytest

from novictl.config import (
    DEFAULT_BASE_URL,
    ENV_ALIASES,
    LoadedSettings,
    Settings,
    default_config_path,
    load_settings,
    setting_keys,
)
from novictl.errors import ConfigError

NO_FILE = {"HOME": "/nonexistent-home-for-tests"}


def write(tmp_path: Path, text: str, name: str = "config.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def load(env: dict[str, str] | None = None, **kwargs: object) -> LoadedSettings:
    return load_settings(env={**NO_FILE, **(env or {})}, **kwargs)  # type: ignore[arg-type]


def test_defaults_when_nothing_is_set() -> None:
    loaded = load()
    assert loaded.settings == Settings()
    assert loaded.config_path is None
    assert set(loaded.sources) == set(setting_keys())
    assert set(loaded.sources.values()) == {"default"}
    assert loaded.settings.autostop.idle_minutes == 20
    assert loaded.settings.novita.base_url == DEFAULT_BASE_URL
    assert loaded.settings.daemon.port == 8765


def test_each_layer_beats_the_one_below(tmp_path: Path) -> None:
    path = write(tmp_path, "[autostop]\nidle_minutes = 30\ncheck_interval_minutes = 2\n")
    env = {"NOVICTL_AUTOSTOP__IDLE_MINUTES": "40", "NOVICTL_AUTOSTOP__WARN_BEFORE_MINUTES": "1"}

    from_file = load(config_path=path)
    assert from_file.settings.autostop.idle_minutes == 30
    assert from_file.sources["autostop.idle_minutes"] == f"file:{path}"
    assert from_file.config_path == path

    from_env = load(env, config_path=path)
    assert from_env.settings.autostop.idle_minutes == 40
    assert from_env.sources["autostop.idle_minutes"] == "env:NOVICTL_AUTOSTOP__IDLE_MINUTES"
    assert from_env.settings.autostop.check_interval_minutes == 2  # the file still counts for other keys
    assert from_env.settings.autostop.warn_before_minutes == 1

    from_flag = load(env, config_path=path, overrides={"autostop.idle_minutes": 50, "autostop.dry_run": None})
    assert from_flag.settings.autostop.idle_minutes == 50
    assert from_flag.sources["autostop.idle_minutes"] == "flag"
    # None means "flag not given": the lower layers stand.
    assert from_flag.settings.autostop.dry_run is False
    assert from_flag.sources["autostop.dry_run"] == "default"


def test_unknown_override_key_is_an_error() -> None:
    with pytest.raises(ConfigError, match=r"autostop\.idle"):
        load(overrides={"autostop.idle": 3})


@pytest.mark.parametrize(
    ("alias", "raw", "expected"),
    [
        ("NOVITA_API_KEY", "sk-alias-key", "sk-alias-key"),
        (
            "NOVITA_API_BASE_URL",
            "http://127.0.0.1:9/gpu-instance/openapi/v1",
            "http://127.0.0.1:9/gpu-instance/openapi/v1",
        ),
        ("REDIS_URL", "redis://localhost:6379/2", "redis://localhost:6379/2"),
        ("REDIS_KEY_PREFIX", "team:", "team:"),
        ("WEBHOOK_URL", "https://hooks.example/x", "https://hooks.example/x"),
        ("WEBHOOK_SECRET", "whsec-123", "whsec-123"),
        ("SYNC_REMOVE_OBSOLETE_INSTANCES", "true", True),
        ("SYNC_OBSOLETE_INSTANCE_RETENTION_DAYS", "3", 3),
        ("SYNC_ENABLE_AUTOMATIC_SYNC", "false", False),
        ("SYNC_INTERVAL_MINUTES", "15", 15),
    ],
)
def test_seed_aliases(alias: str, raw: str, expected: object) -> None:
    key = next(key for key, name in ENV_ALIASES.items() if name == alias)
    loaded = load({alias: raw})
    section, name = key.split(".")
    value = getattr(getattr(loaded.settings, section), name)
    if isinstance(value, pydantic.SecretStr):
        value = value.get_secret_value()
    assert value == expected
    assert value != getattr(getattr(Settings(), section), name)
    assert loaded.sources[key] == f"env:{alias}"


def test_all_ten_seed_aliases_are_known() -> None:
    assert len(ENV_ALIASES) == 10


def test_novictl_name_beats_alias_and_both_beat_file(tmp_path: Path) -> None:
    path = write(tmp_path, '[sync]\ninterval_minutes = 1\n[store]\nkey_prefix = "file:"\n')
    loaded = load(
        {"SYNC_INTERVAL_MINUTES": "2", "NOVICTL_SYNC__INTERVAL_MINUTES": "3", "REDIS_KEY_PREFIX": "alias:"},
        config_path=path,
    )
    assert loaded.settings.sync.interval_minutes == 3
    assert loaded.sources["sync.interval_minutes"] == "env:NOVICTL_SYNC__INTERVAL_MINUTES"
    assert loaded.settings.store.key_prefix == "alias:"
    assert loaded.sources["store.key_prefix"] == "env:REDIS_KEY_PREFIX"


def test_empty_env_var_counts_as_unset() -> None:
    loaded = load({"NOVICTL_SYNC__INTERVAL_MINUTES": "", "SYNC_INTERVAL_MINUTES": "12"})
    assert loaded.settings.sync.interval_minutes == 12


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("https://api.novita.ai/gpu-instance/openapi", DEFAULT_BASE_URL),
        ("https://api.novita.ai/gpu-instance/openapi/", DEFAULT_BASE_URL),
        ("https://api.novita.ai/gpu-instance/openapi/v1", DEFAULT_BASE_URL),
        ("https://api.novita.ai/gpu-instance/openapi/v1/", DEFAULT_BASE_URL),
        ("http://127.0.0.1:8787/gpu-instance/openapi", "http://127.0.0.1:8787/gpu-instance/openapi/v1"),
    ],
)
def test_base_url_accepts_seed_and_full_forms(given: str, expected: str) -> None:
    assert load({"NOVITA_API_BASE_URL": given}).settings.novita.base_url == expected


def test_base_url_must_be_http() -> None:
    with pytest.raises(ConfigError, match=r"novita\.base_url = \"ftp://x\" \(from env:NOVITA_API_BASE_URL\)"):
        load({"NOVITA_API_BASE_URL": "ftp://x"})


@pytest.mark.parametrize(
    ("raw", "expected"), [("yes", True), ("No", False), ("1", True), ("0", False), ("TRUE", True)]
)
def test_env_booleans(raw: str, expected: bool) -> None:
    assert load({"NOVICTL_AUTOSTOP__DRY_RUN": raw}).settings.autostop.dry_run is expected


def test_bad_value_from_env_names_key_value_and_source() -> None:
    with pytest.raises(ConfigError) as info:
        load({"NOVICTL_AUTOSTOP__IDLE_MINUTES": "abc"})
    assert info.value.message == (
        'autostop.idle_minutes = "abc" (from env:NOVICTL_AUTOSTOP__IDLE_MINUTES): must be a number'
    )
    assert info.value.exit_code == 3
    assert "NOVICTL_AUTOSTOP__IDLE_MINUTES" in (info.value.hint or "")


def test_bad_value_from_file_names_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, '[novita]\npage_size = 5000\n[autostop]\nenabled = "maybe"\nidle_minutes = true\n')
    with pytest.raises(ConfigError) as info:
        load(config_path=path)
    message = info.value.message
    assert f"novita.page_size = 5000 (from file:{path}): must be at most 1000" in message
    assert f'autostop.enabled = "maybe" (from file:{path}): must be true or false' in message
    assert "autostop.idle_minutes = true" in message
    assert str(path) in (info.value.hint or "")


def test_bad_value_from_flag() -> None:
    with pytest.raises(ConfigError, match=r"daemon\.port = 70000 \(from flag\): must be at most 65535"):
        load(overrides={"daemon.port": 70000})


def test_a_bad_secret_is_not_echoed(tmp_path: Path) -> None:
    path = write(tmp_path, '[novita]\napi_key = ["sk-very-secret-value"]\n')
    with pytest.raises(ConfigError) as info:
        load(config_path=path)
    assert "novita.api_key (from file:" in info.value.message
    assert "sk-very-secret-value" not in str(info.value) + str(info.value.details)


def test_a_redis_password_is_masked_in_errors_and_reprs() -> None:
    with pytest.raises(ConfigError) as info:
        load({"REDIS_URL": "redis://:hunter2@", "NOVICTL_STORE__EVENTS_MAX": "0"})
    assert "events_max" in info.value.message
    loaded = load({"REDIS_URL": "redis://:hunter2@db:6379/0"})
    assert loaded.settings.store.url == "redis://:hunter2@db:6379/0"
    assert "hunter2" not in repr(loaded.settings)
    assert "hunter2" not in str(loaded.settings)
    with pytest.raises(ConfigError) as info:
        load({"REDIS_URL": "mysql://root:hunter2@db/x"})
    assert "store.url" in info.value.message
    assert "hunter2" not in info.value.message


def test_unknown_keys_in_file_are_errors(tmp_path: Path) -> None:
    path = write(tmp_path, "[autostop]\nidle_minuts = 5\n[novitaa]\napi_key = 'x'\n")
    with pytest.raises(ConfigError) as info:
        load(config_path=path)
    assert "autostop.idle_minuts" in info.value.message
    assert "novitaa" in info.value.message
    assert "autostop.idle_minutes" in (info.value.hint or "")


def test_a_section_must_be_a_table(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"\[daemon\] must be a table"):
        load(config_path=write(tmp_path, "daemon = 3\n"))


def test_malformed_toml_names_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "[autostop]\nidle_minutes = 20\nenabled = \n")
    with pytest.raises(ConfigError) as info:
        load(config_path=path)
    assert str(path) in info.value.message
    assert "line 3" in info.value.message


def test_missing_explicit_file_is_an_error_but_missing_default_is_fine(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load(config_path=tmp_path / "nope.toml")
    with pytest.raises(ConfigError, match="not found"):
        load({"NOVICTL_CONFIG": str(tmp_path / "nope.toml")})
    assert load({"XDG_CONFIG_HOME": str(tmp_path)}).config_path is None


def test_config_file_from_env_and_xdg(tmp_path: Path) -> None:
    named = write(tmp_path, "[daemon]\nport = 9001\n", name="named.toml")
    assert load({"NOVICTL_CONFIG": str(named)}).settings.daemon.port == 9001
    (tmp_path / "xdg" / "novictl").mkdir(parents=True)
    write(tmp_path / "xdg" / "novictl", "[daemon]\nport = 9002\n")
    loaded = load({"XDG_CONFIG_HOME": str(tmp_path / "xdg")})
    assert loaded.settings.daemon.port == 9002
    assert loaded.config_path == tmp_path / "xdg" / "novictl" / "config.toml"
    # The flag beats NOVICTL_CONFIG.
    assert load({"NOVICTL_CONFIG": str(named)}, config_path=loaded.config_path).settings.daemon.port == 9002


def test_default_config_path_honours_xdg() -> None:
    assert default_config_path({"HOME": "/h"}) == Path("/h/.config/novictl/config.toml")
    assert default_config_path({"HOME": "/h", "XDG_CONFIG_HOME": "/x"}) == Path("/x/novictl/config.toml")
    assert default_config_path({"HOME": "/h", "XDG_CONFIG_HOME": "rel"}) == Path(
        "/h/.config/novictl/config.toml"
    )


def test_store_backend_and_sqlite_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    store = load().settings.store
    assert store.backend == "sqlite"
    assert store.sqlite_path == tmp_path / "state" / "novictl" / "state.db"
    monkeypatch.delenv("XDG_STATE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert store.sqlite_path == tmp_path / ".local" / "state" / "novictl" / "state.db"
    explicit = load({"NOVICTL_STORE__URL": "sqlite:///var/lib/novictl/s.db"}).settings.store
    assert (explicit.backend, explicit.sqlite_path) == ("sqlite", Path("/var/lib/novictl/s.db"))
    assert load({"REDIS_URL": "rediss://h:6380/1"}).settings.store.backend == "redis"
    with pytest.raises(ConfigError, match="absolute path"):
        load({"NOVICTL_STORE__URL": "sqlite://relative.db"})


def test_optional_values_and_lists() -> None:
    loaded = load(
        {
            "NOVICTL_AUTOSTOP__MAX_RUNTIME_MINUTES": "90",
            "NOVICTL_DAEMON__CORS_ORIGINS": "http://a.test, http://b.test",
            "NOVICTL_DAEMON__LOG_FORMAT": "json",
        }
    )
    assert loaded.settings.autostop.max_runtime_minutes == 90
    assert loaded.settings.autostop.max_runtime is not None
    assert loaded.settings.autostop.max_runtime.total_seconds() == 5400
    assert loaded.settings.daemon.cors_origins == ["http://a.test", "http://b.test"]
    assert loaded.settings.daemon.log_format == "json"
    as_json = load({"NOVICTL_DAEMON__CORS_ORIGINS": '["http://c.test"]'}).settings.daemon.cors_origins
    assert as_json == ["http://c.test"]
    off = load({"NOVICTL_AUTOSTOP__MAX_RUNTIME_MINUTES": "off", "WEBHOOK_URL": "none"}).settings
    assert off.autostop.max_runtime_minutes is None
    assert off.webhook.url is None
    with pytest.raises(ConfigError, match=r"must be one of 'text' or 'json'"):
        load({"NOVICTL_DAEMON__LOG_FORMAT": "xml"})
    with pytest.raises(ConfigError, match="must be greater than 0"):
        load({"NOVICTL_AUTOSTOP__IDLE_MINUTES": "0"})


def test_settings_are_frozen() -> None:
    settings = load().settings
    with pytest.raises(pydantic.ValidationError):
        settings.autostop.idle_minutes = 1  # type: ignore[misc]
