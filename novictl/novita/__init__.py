"""The Novita.ai GPU instance API: an async httpx client, tolerant pydantic models, retry and breaker.

Start with :class:`NovitaClient` (``NovitaClient.from_settings(settings.novita)``). Everything it raises
is a :class:`novictl.errors.NovitaError` (or a :class:`novictl.errors.ConfigError` for a missing key).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from novictl.novita.models import (
    PRICE_UNITS_PER_USD,
    Cluster,
    CreateInstanceRequest,
    EnvVar,
    Instance,
    InstanceNetwork,
    InstancePage,
    InstanceStatus,
    MonthlyPrice,
    NetworkStorageMount,
    PortMapping,
    Product,
    RepositoryAuth,
    SSHConnection,
    StatusError,
    Template,
    TemplatePort,
)

if TYPE_CHECKING:
    from novictl.novita.breaker import BreakerState, CircuitBreaker, counts_as_failure
    from novictl.novita.client import DEFAULT_BASE_URL, NovitaClient, NovitaSettingsLike, normalize_base_url
    from novictl.novita.retry import RETRYABLE_STATUSES, RetryPolicy, is_retryable, parse_retry_after

# The client pulls in httpx and tenacity (~100 ms); commands that only need the models (list, show from the
# store) must not pay for it, so these names are imported on first use.
_LAZY = {
    "BreakerState": "novictl.novita.breaker",
    "CircuitBreaker": "novictl.novita.breaker",
    "counts_as_failure": "novictl.novita.breaker",
    "DEFAULT_BASE_URL": "novictl.novita.client",
    "NovitaClient": "novictl.novita.client",
    "NovitaSettingsLike": "novictl.novita.client",
    "normalize_base_url": "novictl.novita.client",
    "RETRYABLE_STATUSES": "novictl.novita.retry",
    "RetryPolicy": "novictl.novita.retry",
    "is_retryable": "novictl.novita.retry",
    "parse_retry_after": "novictl.novita.retry",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


__all__ = [
    "DEFAULT_BASE_URL",
    "PRICE_UNITS_PER_USD",
    "RETRYABLE_STATUSES",
    "BreakerState",
    "CircuitBreaker",
    "Cluster",
    "CreateInstanceRequest",
    "EnvVar",
    "Instance",
    "InstanceNetwork",
    "InstancePage",
    "InstanceStatus",
    "MonthlyPrice",
    "NetworkStorageMount",
    "NovitaClient",
    "NovitaSettingsLike",
    "PortMapping",
    "Product",
    "RepositoryAuth",
    "RetryPolicy",
    "SSHConnection",
    "StatusError",
    "Template",
    "TemplatePort",
    "counts_as_failure",
    "is_retryable",
    "normalize_base_url",
    "parse_retry_after",
]
