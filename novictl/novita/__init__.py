"""The Novita.ai GPU instance API: an async httpx client, tolerant pydantic models, retry and breaker.

Start with :class:`NovitaClient` (``NovitaClient.from_settings(settings.novita)``). Everything it raises
is a :class:`novictl.errors.NovitaError` (or a :class:`novictl.errors.ConfigError` for a missing key).
"""

from novictl.novita.breaker import BreakerState, CircuitBreaker, counts_as_failure
from novictl.novita.client import DEFAULT_BASE_URL, NovitaClient, NovitaSettingsLike, normalize_base_url
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
from novictl.novita.retry import RETRYABLE_STATUSES, RetryPolicy, is_retryable, parse_retry_after

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
