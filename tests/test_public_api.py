"""The public names of each package are pinned: adding or removing one is a decision, not an accident."""

from __future__ import annotations

import importlib
import inspect

import pytest

import novictl.errors as errors

PUBLIC = {
    "novictl.errors": [
        "AmbiguousName", "CircuitOpen", "ConfigError", "ConflictError", "LockHeld", "NotFoundError",
        "NovictlError", "NovitaAuthError", "NovitaBadRequest", "NovitaError", "NovitaNotFound",
        "NovitaRateLimited", "NovitaStateConflict", "NovitaUnavailable", "StoreError", "UsageError",
        "WaitTimeout",
    ],
    "novictl.novita": [
        "BreakerState", "CircuitBreaker", "Cluster", "CreateInstanceRequest", "DEFAULT_BASE_URL", "EnvVar",
        "Instance", "InstanceNetwork", "InstancePage", "InstanceStatus", "MonthlyPrice",
        "NetworkStorageMount", "NovitaClient", "NovitaSettingsLike", "PRICE_UNITS_PER_USD", "PortMapping",
        "Product",
        "RETRYABLE_STATUSES", "RepositoryAuth", "RetryPolicy", "SSHConnection", "StatusError", "Template",
        "TemplatePort", "counts_as_failure", "is_retryable", "normalize_base_url", "parse_retry_after",
    ],
    "novictl.store": [
        "Event", "InstanceRecord", "REPAIRS_COUNTER", "StateStore", "StoreOptions", "StoreSettingsLike",
        "open_store", "sqlite_path_from_url",
    ],
    "novictl.emulator": [
        "BASE_PATH", "EmulatorConfig", "EmulatorServer", "EmulatorState", "FaultConfig", "create_app",
    ],
    "novictl.config": [
        "AutoStopSettings", "DEFAULT_BASE_URL", "DaemonSettings", "ENV_ALIASES", "LoadedSettings",
        "NovitaSettings", "SECRET_KEYS", "SettingView", "Settings", "StoreSettings", "SyncSettings",
        "WebhookSettings", "default_config_path", "default_state_path", "describe_settings", "env_names",
        "load_settings", "mask_secret", "mask_url", "render_example_config", "render_settings_table",
        "resolve_config_path", "setting_keys",
    ],
    "novictl.core.sync": ["SYNC_LOCK", "SyncChange", "SyncOptions", "SyncResult", "sync_instances"],
    "novictl.clock": ["Clock", "FrozenClock", "SystemClock", "as_utc", "iso_or_none", "utcnow"],
}  # fmt: skip


@pytest.mark.parametrize("module_name", sorted(PUBLIC))
def test_all_is_pinned_and_every_name_exists(module_name: str) -> None:
    module = importlib.import_module(module_name)
    assert sorted(module.__all__) == sorted(PUBLIC[module_name])
    for name in module.__all__:
        assert hasattr(module, name), f"{module_name}.{name} is in __all__ but missing"


def test_every_error_has_a_stable_code_an_exit_code_and_a_docstring() -> None:
    classes = [getattr(errors, name) for name in errors.__all__]
    for cls in classes:
        assert inspect.isclass(cls)
        assert issubclass(cls, errors.NovictlError)
        assert cls.__doc__, cls.__name__
        assert cls.code.replace("_", "").isalpha(), cls.__name__
        assert cls.exit_code in {1, 2, 3, 4, 5, 6}, cls.__name__
    # Every class is drawn in the module docstring's tree.
    for cls in classes:
        assert cls.__name__ in (errors.__doc__ or ""), f"{cls.__name__} missing from the tree in errors.py"


def test_novita_errors_fall_in_both_families() -> None:
    assert issubclass(errors.NovitaNotFound, errors.NotFoundError)
    assert issubclass(errors.NovitaNotFound, errors.NovitaError)
    assert issubclass(errors.NovitaStateConflict, errors.ConflictError)
    assert errors.NovitaUnavailable("x").exit_code == 6
    assert errors.AmbiguousName("gpu", ["a", "b"]).exit_code == 2
