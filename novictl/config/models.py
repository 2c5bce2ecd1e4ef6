"""The settings models: one frozen pydantic model per section, their defaults, limits and env names."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, SecretStr, ValidationInfo, field_validator

from novictl.config.masking import mask_url
from novictl.config.paths import default_state_path

__all__ = [
    "DEFAULT_BASE_URL",
    "ENV_ALIASES",
    "SECRET_KEYS",
    "AutoStopSettings",
    "DaemonSettings",
    "NovitaSettings",
    "Settings",
    "StoreSettings",
    "SyncSettings",
    "WebhookSettings",
    "env_names",
    "section_models",
    "setting_keys",
]

DEFAULT_BASE_URL = "https://api.novita.ai/gpu-instance/openapi/v1"
_SEED_BASE_PATH = "/gpu-instance/openapi"
_UNSET_WORDS = frozenset({"", "none", "null", "off"})


def _unset_to_none(value: Any) -> Any:
    """``""``, ``none``, ``null`` and ``off`` mean "not set" for optional settings (TOML has no null)."""
    if isinstance(value, str) and value.strip().lower() in _UNSET_WORDS:
        return None
    return value


def _split_list(value: Any) -> Any:
    """A list from the environment: JSON (``["a", "b"]``) or comma-separated (``a,b``)."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if text.startswith("["):
        try:
            return json.loads(text)
        except ValueError:
            raise ValueError('must be a JSON list (["a", "b"]) or comma-separated') from None
    return [part.strip() for part in text.split(",") if part.strip()]


def _http_url(value: str) -> str:
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("must be an http:// or https:// URL")
    return value.strip().rstrip("/")


Secret = Annotated[SecretStr | None, BeforeValidator(_unset_to_none)]
OptionalMinutes = Annotated[Annotated[float, Field(gt=0)] | None, BeforeValidator(_unset_to_none)]
OptionalUrl = Annotated[str | None, BeforeValidator(_unset_to_none)]


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    @field_validator("*", mode="before")
    @classmethod
    def _no_bool_for_numbers(cls, value: Any, info: ValidationInfo) -> Any:
        # pydantic would turn `idle_minutes = true` into 1.0; a typo like that must not pass silently.
        field = cls.model_fields[info.field_name] if info.field_name else None
        if isinstance(value, bool) and field is not None and field.annotation is not bool:
            raise ValueError("must be a number, not true/false")
        return value

    def __repr_args__(self) -> Any:
        # URLs may carry a password (redis://:pw@host); reprs end up in logs and tracebacks.
        for name, value in super().__repr_args__():
            yield name, mask_url(value, hide_path=True) if isinstance(value, str) else value


class NovitaSettings(_Section):
    """How to reach Novita and how hard to try."""

    api_key: Secret = Field(None, description="Novita API key; prefer the env var so it stays out of files")
    base_url: str = Field(
        DEFAULT_BASE_URL, description="Novita GPU API base (the seed's …/openapi form works)"
    )
    timeout_seconds: float = Field(30.0, gt=0, description="Read/write timeout of one Novita request")
    connect_timeout_seconds: float = Field(10.0, gt=0, description="Connect timeout of one Novita request")
    max_attempts: int = Field(
        4, ge=1, description="Tries per request (first one included) on retryable errors"
    )
    max_retry_seconds: float = Field(60.0, ge=0, description="Give up retrying a request after this long")
    breaker_failure_threshold: int = Field(5, ge=1, description="Consecutive failures that open the breaker")
    breaker_reset_seconds: float = Field(30.0, gt=0, description="How long the open breaker fails fast")
    page_size: int = Field(100, ge=1, le=1000, description="Instances per page when listing (1-1000)")
    metrics_base_url: OptionalUrl = Field(
        None,
        description='Novita metrics and billing API root; "" = https://<base_url host>/openapi/v1',
    )

    @field_validator("metrics_base_url")
    @classmethod
    def _check_metrics_base_url(cls, value: str | None) -> str | None:
        return None if value is None else _http_url(value)

    @field_validator("base_url")
    @classmethod
    def _normalise_base_url(cls, value: str) -> str:
        url = _http_url(value)
        # The seed service took the URL without the version; its paths then started with /v1.
        return url + "/v1" if url.endswith(_SEED_BASE_PATH) else url


def _check_redis_url(url: str) -> None:
    """Catch what redis-py would only trip over later: a bad port, host or database number."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise ValueError("is not a valid redis URL (check the port and any [brackets])") from None
    if not parts.hostname:
        raise ValueError("a redis URL needs a host: redis://host:6379/0")
    if port is not None and not 0 < port < 65536:
        raise ValueError("the port must be 1-65535")
    database = parts.path.strip("/")
    if database and not database.isdigit():
        raise ValueError(f"the database must be a number (redis://host:6379/0), not {database!r}")


class StoreSettings(_Section):
    """Where novictl keeps its state: embedded SQLite (default) or a shared Redis."""

    url: str = Field(
        "",
        description=(
            '"" = SQLite at the default path; or sqlite:///abs/path.db, redis://host:6379/0, '
            "rediss://host:6380/0?ssl_ca_certs=/path/ca.pem (TLS)"
        ),
    )
    key_prefix: str = Field("novictl:", description="Prefix of every Redis key novictl writes")
    events_max: int = Field(10000, ge=1, description="Events kept in the audit log (oldest dropped first)")
    events_max_age_days: float = Field(30.0, gt=0, description="Events older than this are dropped")

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        url = value.strip()
        if not url:
            return ""
        scheme = url.split("://", 1)[0].lower() if "://" in url else ""
        if scheme == "sqlite":
            path = url[len("sqlite://") :]
            if not path.startswith("/"):
                raise ValueError("a sqlite URL needs an absolute path: sqlite:///abs/path/state.db")
            return url
        if scheme in ("redis", "rediss") and len(url) > len(scheme) + 3:
            _check_redis_url(url)
            return url
        if scheme == "unix" and len(url) > len(scheme) + 3:
            return url
        raise ValueError('must be "" (embedded SQLite), sqlite:///abs/path.db, redis://… or rediss://…')

    @property
    def backend(self) -> Literal["sqlite", "redis"]:
        """``"sqlite"`` or ``"redis"``, from the URL."""
        return "sqlite" if not self.url or self.url.lower().startswith("sqlite:") else "redis"

    @property
    def sqlite_path(self) -> Path:
        """The SQLite file: the path from a ``sqlite:///`` URL, else the default state path."""
        if self.url.lower().startswith("sqlite:"):
            return Path(self.url[len("sqlite://") :])
        return default_state_path()


class AutoStopSettings(_Section):
    """When idle instances are stopped."""

    enabled: bool = Field(True, description="Stop idle running instances automatically")
    idle_minutes: float = Field(20.0, gt=0, description="Idle time after which an instance is stopped")
    check_interval_minutes: float = Field(5.0, gt=0, description="How often the daemon checks for idleness")
    startup_grace_minutes: float = Field(
        45.0, ge=0, description="Extra idle allowance after a start with no ping"
    )
    warn_before_minutes: float = Field(5.0, ge=0, description="Send the autostop_pending webhook this early")
    max_runtime_minutes: OptionalMinutes = Field(
        None, description='Stop after this long running, used or not; "off"'
    )
    dry_run: bool = Field(False, description="Decide and report, but never stop anything")
    activity: Annotated[list[Literal["pings", "gpu"]], BeforeValidator(_split_list)] = Field(
        ["pings", "gpu"],
        description='Signs of use: "pings" (touch, HTTP, keepalive) and "gpu" (Novita\'s GPU metrics)',
    )
    gpu_busy_percent: float = Field(
        10.0, ge=0, le=100, description="A GPU sample at or above this percent is activity"
    )

    @property
    def uses_gpu(self) -> bool:
        return "gpu" in self.activity

    @property
    def idle_threshold(self) -> timedelta:
        return timedelta(minutes=self.idle_minutes)

    @property
    def check_interval(self) -> timedelta:
        return timedelta(minutes=self.check_interval_minutes)

    @property
    def startup_grace(self) -> timedelta:
        return timedelta(minutes=self.startup_grace_minutes)

    @property
    def warn_before(self) -> timedelta:
        return timedelta(minutes=self.warn_before_minutes)

    @property
    def max_runtime(self) -> timedelta | None:
        return None if self.max_runtime_minutes is None else timedelta(minutes=self.max_runtime_minutes)


class SyncSettings(_Section):
    """Keeping local state in step with Novita."""

    enable_automatic_sync: bool = Field(True, description="The daemon syncs at startup and every interval")
    interval_minutes: float = Field(10.0, gt=0, description="Minutes between the daemon's syncs")
    remove_obsolete_instances: bool = Field(
        False, description="Delete records gone from Novita (else: terminated)"
    )
    obsolete_instance_retention_days: float = Field(
        7.0, ge=0, description="Purge terminated records after this"
    )
    lock_ttl_seconds: float = Field(300.0, gt=0, description="A crashed sync's lock expires after this")


class WebhookSettings(_Section):
    """Where instance events are posted."""

    url: OptionalUrl = Field(None, description="Endpoint that receives every instance event (JSON POST)")
    secret: Secret = Field(None, description="HMAC-SHA256 key for the X-Novictl-Signature header")
    timeout_seconds: float = Field(10.0, gt=0, description="Timeout of one delivery attempt")
    max_retry_minutes: float = Field(60.0, ge=0, description="Retry a failing delivery for this long")

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str | None) -> str | None:
        return None if value is None else _http_url(value)


class DaemonSettings(_Section):
    """The long-running daemon and its HTTP API."""

    host: str = Field("127.0.0.1", min_length=1, description="Address to bind (non-loopback needs api_token)")
    port: int = Field(8765, ge=0, le=65535, description="Port to bind")
    api_token: Secret = Field(None, description="Bearer token the HTTP API requires when set")
    cors_origins: Annotated[list[str], BeforeValidator(_split_list)] = Field(
        default_factory=list, description="Browser origins allowed to call the API (CORS)"
    )
    rate_limit_per_minute: int = Field(600, ge=1, description="Requests per minute per client before 429")
    ping_rate_limit_per_minute: int = Field(
        6000, ge=1, description="Last-used pings per minute per client before 429 (a bucket of their own)"
    )
    max_body_bytes: int = Field(65536, ge=1, description="Largest request body accepted")
    log_format: Literal["text", "json"] = Field("text", description='Log lines on stderr: "text" or "json"')
    heartbeat_seconds: float = Field(30.0, gt=0, description="How often the daemon records it is alive")
    metrics_require_token: bool = Field(False, description="Require the API token for /metrics too")


class Settings(BaseModel):
    """Every setting of novictl, by section. Build it with :func:`load_settings`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    novita: NovitaSettings = Field(default_factory=NovitaSettings, description=NovitaSettings.__doc__)
    store: StoreSettings = Field(default_factory=StoreSettings, description=StoreSettings.__doc__)
    autostop: AutoStopSettings = Field(default_factory=AutoStopSettings, description=AutoStopSettings.__doc__)
    sync: SyncSettings = Field(default_factory=SyncSettings, description=SyncSettings.__doc__)
    webhook: WebhookSettings = Field(default_factory=WebhookSettings, description=WebhookSettings.__doc__)
    daemon: DaemonSettings = Field(default_factory=DaemonSettings, description=DaemonSettings.__doc__)


SECRET_KEYS: frozenset[str] = frozenset({"novita.api_key", "webhook.secret", "daemon.api_token"})

# The seed service's environment names; a NOVICTL_SECTION__KEY variable wins over its alias.
ENV_ALIASES: dict[str, str] = {
    "novita.api_key": "NOVITA_API_KEY",
    "novita.base_url": "NOVITA_API_BASE_URL",
    "store.url": "REDIS_URL",
    "store.key_prefix": "REDIS_KEY_PREFIX",
    "sync.enable_automatic_sync": "SYNC_ENABLE_AUTOMATIC_SYNC",
    "sync.interval_minutes": "SYNC_INTERVAL_MINUTES",
    "sync.remove_obsolete_instances": "SYNC_REMOVE_OBSOLETE_INSTANCES",
    "sync.obsolete_instance_retention_days": "SYNC_OBSOLETE_INSTANCE_RETENTION_DAYS",
    "webhook.url": "WEBHOOK_URL",
    "webhook.secret": "WEBHOOK_SECRET",
}


def section_models() -> dict[str, type[BaseModel]]:
    models: dict[str, type[BaseModel]] = {}
    for name, field in Settings.model_fields.items():
        assert isinstance(field.annotation, type)
        models[name] = field.annotation
    return models


def setting_keys() -> list[str]:
    """Every dotted key (``"section.key"``), in declaration order."""
    return [f"{section}.{key}" for section, model in section_models().items() for key in model.model_fields]


def env_names(key: str) -> tuple[str, ...]:
    """The environment variables that set ``key``, strongest first."""
    section, name = key.split(".", 1)
    primary = f"NOVICTL_{section.upper()}__{name.upper()}"
    alias = ENV_ALIASES.get(key)
    return (primary, alias) if alias else (primary,)
