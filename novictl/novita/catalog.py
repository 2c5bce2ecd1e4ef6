"""Models of Novita's catalogue: clusters, GPU products and their prices, templates, registry logins."""

from __future__ import annotations

from typing import Any

from pydantic import AliasChoices, Field, SecretStr, field_validator

from novictl.novita.fields import LenientBool, LenientInt, OptionalStr, to_optional_str
from novictl.novita.model_base import EnvVar, NovitaModel

__all__ = [
    "PRICE_UNITS_PER_USD",
    "Cluster",
    "MonthlyPrice",
    "Product",
    "RepositoryAuth",
    "Template",
    "TemplatePort",
    "region_code",
]

PRICE_UNITS_PER_USD = 100_000
"""Novita prices are integers in 1/100000 USD (per GPU per hour): ``35000`` is $0.35/h."""


def region_code(label: str | None) -> str | None:
    """The region code of a label as products list it: ``"US-CA-06 (California)"`` → ``"US-CA-06"``."""
    code = (label or "").strip().split(" ", 1)[0]
    return code or None


class Cluster(NovitaModel):
    """A Novita cluster. ``id`` (``"us-ca-6"``) is what create's ``clusterId`` wants; ``name`` reads like
    the products' regions (``"US-CA-06 (California)"``), whose code is the text before the first space."""

    id: str
    name: str = ""
    available_gpu_type: list[str] = Field(default_factory=list)
    support_network_storage: LenientBool = None
    support_instance_network: LenientBool = None

    @property
    def code(self) -> str:
        """The region code (``"US-CA-06"``); the id itself when the name gives none."""
        return region_code(self.name) or self.id

    @property
    def place(self) -> str:
        """The place in the name's parentheses (``"California"``), or ``""``."""
        _, _, rest = self.name.partition("(")
        return rest.rstrip(") ").strip()

    def answers_to(self, text: str) -> bool:
        """Whether ``text`` names this cluster: its id, its region code, its whole name or its place."""
        wanted = text.strip().casefold()
        names = {self.id, self.code, self.name, self.place}
        return bool(wanted) and wanted in {name.casefold() for name in names if name}


class MonthlyPrice(NovitaModel):
    price: LenientInt = None
    month: LenientInt = None


class Product(NovitaModel):
    """A GPU product (a machine shape); prices are raw units of 1/100000 USD per GPU per hour."""

    id: str
    name: str = ""
    cpu_per_gpu: LenientInt = None
    memory_per_gpu: LenientInt = None
    disk_per_gpu: LenientInt = None
    available_deploy: LenientBool = None
    min_root_fs: LenientInt = Field(default=None, alias="minRootFS")
    max_root_fs: LenientInt = Field(default=None, alias="maxRootFS")
    min_local_storage: LenientInt = None
    max_local_storage: LenientInt = None
    regions: list[str] = Field(default_factory=list)
    price: LenientInt = None
    monthly_price: list[MonthlyPrice] = Field(default_factory=list)
    billing_methods: list[str] = Field(default_factory=list)
    spot_price: LenientInt = None
    inventory_state: OptionalStr = None

    @field_validator("regions", "monthly_price", "billing_methods", mode="before")
    @classmethod
    def _null_list_is_empty(cls, value: Any) -> Any:
        return [] if value in (None, "") else value

    @property
    def price_usd(self) -> float:
        """On-demand price in USD per GPU per hour (0.0 when Novita sent none)."""
        return (self.price or 0) / PRICE_UNITS_PER_USD

    @property
    def spot_price_usd(self) -> float | None:
        """Spot price in USD per GPU per hour, or ``None`` when there is no spot offer (absent or "0")."""
        if not self.spot_price or self.spot_price <= 0:
            return None
        return self.spot_price / PRICE_UNITS_PER_USD

    @property
    def cluster_ids(self) -> list[str]:
        """Region codes this product runs in (``"US-CA-06 (California)"`` → ``"US-CA-06"``): readable,
        but not what create's ``clusterId`` wants (map them through ``GET /clusters``).

        An empty list means every cluster.
        """
        return [code for region in self.regions if (code := region_code(region))]

    @property
    def available(self) -> bool:
        """Whether an instance can be created from this product now."""
        return bool(self.available_deploy) and self.inventory_state != "none"

    def runs_in(self, cluster_id: str) -> bool:
        """Whether this product can be placed in ``cluster_id`` (an empty region list means anywhere)."""
        ids = self.cluster_ids
        return not ids or cluster_id in ids


class TemplatePort(NovitaModel):
    """A group of ports of one type in a template (``{"type": "http", "ports": [8888]}``)."""

    type: str = "http"
    ports: list[int] = Field(default_factory=list)


class Template(NovitaModel):
    """A saved instance template: image, ports, env vars, and how to pull a private image."""

    id: str = Field(validation_alias=AliasChoices("id", "Id", "templateId"))
    name: str = ""
    image: OptionalStr = Field(default=None, validation_alias=AliasChoices("image", "imageUrl"))
    image_auth: OptionalStr = Field(default=None, repr=False)
    image_auth_id: OptionalStr = None
    ports: list[TemplatePort] = Field(default_factory=list)
    envs: list[EnvVar] = Field(default_factory=list)
    start_command: OptionalStr = Field(default=None, validation_alias=AliasChoices("startCommand", "command"))
    entrypoint: OptionalStr = None
    rootfs_size: LenientInt = None
    min_cuda_version: OptionalStr = None

    @field_validator("id", mode="before")
    @classmethod
    def _id_as_text(cls, value: Any) -> str:
        return to_optional_str(value) or ""

    @field_validator("ports", mode="before")
    @classmethod
    def _parse_ports(cls, value: Any) -> Any:
        """Accept ``[{"type","ports"}]``, a ``"8888/http, 22/tcp"`` string, or a list of such strings."""
        if value in (None, ""):
            return []
        if isinstance(value, str):
            value = [part for part in value.split(",") if part.strip()]
        if isinstance(value, list) and all(isinstance(item, str | int) for item in value):
            return [_port_group(str(item)) for item in value]
        return value

    @field_validator("envs", mode="before")
    @classmethod
    def _null_is_empty(cls, value: Any) -> Any:
        return [] if value in (None, "") else value

    def ports_spec(self) -> str:
        """The ports as the create body wants them: ``"8888/http, 22/tcp"``."""
        return ", ".join(f"{port}/{group.type}" for group in self.ports for port in group.ports)


def _port_group(spec: str) -> dict[str, Any]:
    port, _, kind = spec.strip().partition("/")
    return {"type": kind.strip() or "http", "ports": [int(port)]}


class RepositoryAuth(NovitaModel):
    """Saved credentials for a private container registry; the password is hidden from repr and dumps."""

    id: str
    name: str = ""
    username: OptionalStr = None
    password: SecretStr | None = Field(default=None, repr=False, exclude=True)

    @field_validator("id", mode="before")
    @classmethod
    def _id_as_text(cls, value: Any) -> str:
        return to_optional_str(value) or ""
