"""What the client needs from the settings, and the base URL forms it accepts."""

from __future__ import annotations

from typing import Protocol
from urllib.parse import urlsplit

from pydantic import SecretStr

from novictl.errors import ConfigError

__all__ = [
    "DEFAULT_BASE_URL",
    "NovitaSettingsLike",
    "missing_key_error",
    "normalize_base_url",
    "openapi_base_url",
]

DEFAULT_BASE_URL = "https://api.novita.ai/gpu-instance/openapi/v1"
_API_PATH = "/gpu-instance/openapi"
_OPENAPI_PATH = "/openapi/v1"


class NovitaSettingsLike(Protocol):
    """The ``novita`` section of the settings, as far as the client needs it."""

    @property
    def api_key(self) -> SecretStr | None: ...
    @property
    def base_url(self) -> str: ...
    @property
    def timeout_seconds(self) -> float: ...
    @property
    def connect_timeout_seconds(self) -> float: ...
    @property
    def max_attempts(self) -> int: ...
    @property
    def max_retry_seconds(self) -> float: ...
    @property
    def breaker_failure_threshold(self) -> int: ...
    @property
    def breaker_reset_seconds(self) -> float: ...
    @property
    def page_size(self) -> int: ...
    @property
    def metrics_base_url(self) -> str | None: ...


def normalize_base_url(url: str) -> str:
    """The API root ending in ``/v1``: from the full URL, the seed's ``…/gpu-instance/openapi``, or a host.

    Raises :class:`ConfigError` for something that is not an http(s) URL.
    """
    text = url.strip().rstrip("/")
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(
            f"the Novita base URL {url!r} is not an http(s) URL",
            hint=f"use the default, {DEFAULT_BASE_URL}",
        )
    if not parts.path:
        text += _API_PATH
    return text if text.endswith("/v1") else f"{text}/v1"


def openapi_base_url(base_url: str, override: str | None = None) -> str:
    """The root of Novita's metrics and billing namespaces (``https://api.novita.ai/openapi/v1``).

    They live beside the GPU API on the same host, so the root is that host's ``/openapi/v1`` unless
    ``override`` (``novita.metrics_base_url``) names one.
    """
    if override and override.strip():
        return override.strip().rstrip("/")
    parts = urlsplit(normalize_base_url(base_url))
    return f"{parts.scheme}://{parts.netloc}{_OPENAPI_PATH}"


def missing_key_error() -> ConfigError:
    """The error for a missing API key (exit code 3), with what to do about it."""
    return ConfigError(
        "NOVITA_API_KEY is not set",
        hint="export NOVITA_API_KEY=<your key> (from your Novita account's key management page), "
        "or set novita.api_key in the config file",
    )
