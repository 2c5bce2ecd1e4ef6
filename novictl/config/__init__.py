"""Settings: one typed, frozen object built by :func:`load_settings` from four layers.

Precedence, lowest first: the defaults in :mod:`novictl.config.models` < the TOML file (``--config``,
``$NOVICTL_CONFIG`` or ``~/.config/novictl/config.toml``) < the environment (``NOVICTL_SECTION__KEY``, then
the seed service's names such as ``NOVITA_API_KEY``) < command-line flags (``overrides``). Every effective
value remembers where it came from, so a bad one is reported with its key and source (exit code 3) and
``novictl config show`` can explain itself. An empty environment variable counts as unset; optional
settings take ``""``, ``none`` or ``off`` to mean "not set" (TOML has no null).

Nothing else in novictl reads the environment or the file for settings: build once, pass ``Settings`` down.
"""

from novictl.config.loading import LoadedSettings, load_settings
from novictl.config.masking import mask_secret, mask_url
from novictl.config.models import (
    DEFAULT_BASE_URL,
    ENV_ALIASES,
    SECRET_KEYS,
    AutoStopSettings,
    DaemonSettings,
    NovitaSettings,
    Settings,
    StoreSettings,
    SyncSettings,
    WebhookSettings,
    env_names,
    setting_keys,
)
from novictl.config.paths import default_config_path, default_state_path, resolve_config_path
from novictl.config.views import (
    SettingView,
    describe_settings,
    render_example_config,
    render_settings_table,
)

__all__ = [
    "DEFAULT_BASE_URL",
    "ENV_ALIASES",
    "SECRET_KEYS",
    "AutoStopSettings",
    "DaemonSettings",
    "LoadedSettings",
    "NovitaSettings",
    "SettingView",
    "Settings",
    "StoreSettings",
    "SyncSettings",
    "WebhookSettings",
    "default_config_path",
    "default_state_path",
    "describe_settings",
    "env_names",
    "load_settings",
    "mask_secret",
    "mask_url",
    "render_example_config",
    "render_settings_table",
    "resolve_config_path",
    "setting_keys",
]
