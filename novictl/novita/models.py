"""Pydantic models of what Novita's GPU instance API sends and accepts.

They accept what the live API really sends, not only what its docs promise: numbers as strings, empty
strings, nulls, unknown fields (kept, ``extra="allow"``) and unknown statuses. Attributes are snake_case;
the camelCase wire names are aliases, and either spelling populates a model. Passwords never appear in a
``repr``, ``str`` or ``model_dump``.

Instances and the create request live here; the catalogue models (clusters, products, templates, registry
logins) live in :mod:`novictl.novita.catalog` and are re-exported from here.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, SecretStr, field_validator
from pydantic.alias_generators import to_camel

from novictl.novita.catalog import (
    PRICE_UNITS_PER_USD,
    Cluster,
    MonthlyPrice,
    Product,
    RepositoryAuth,
    Template,
    TemplatePort,
    region_code,
)
from novictl.novita.fields import (
    LenientBool,
    LenientFloat,
    LenientInt,
    OptionalStr,
    Text,
    UnixTime,
)
from novictl.novita.model_base import EnvVar, NovitaModel

__all__ = [
    "PRICE_UNITS_PER_USD",
    "Cluster",
    "CreateInstanceRequest",
    "EnvVar",
    "Instance",
    "InstanceNetwork",
    "InstancePage",
    "InstanceStatus",
    "MonthlyPrice",
    "NetworkStorageMount",
    "NovitaModel",
    "PortMapping",
    "Product",
    "RepositoryAuth",
    "SSHConnection",
    "StatusError",
    "Template",
    "TemplatePort",
]


class InstanceStatus:
    """Novita's instance statuses as string constants, with the sets novictl reasons about.

    ``Instance.status`` stays a plain ``str``: a status Novita invents tomorrow must parse, not crash.
    """

    TO_CREATE = "toCreate"
    CREATING = "creating"
    PULLING = "pulling"
    RUNNING = "running"
    TO_START = "toStart"
    STARTING = "starting"
    TO_STOP = "toStop"
    STOPPING = "stopping"
    EXITED = "exited"
    STOPPED = EXITED
    TO_RESTART = "toRestart"
    RESTARTING = "restarting"
    TO_REMOVE = "toRemove"
    REMOVING = "removing"
    REMOVED = "removed"
    TO_RESET = "toReset"
    RESETTING = "resetting"
    MIGRATING = "migrating"
    FREEZING = "freezing"
    PENDING = "pending"  # seen live, undocumented

    GONE: ClassVar[frozenset[str]] = frozenset({TO_REMOVE, REMOVING, REMOVED})
    """Being deleted or deleted: the instance is on its way out and will answer 404 soon."""
    CREATING_PHASES: ClassVar[frozenset[str]] = frozenset({PENDING, TO_CREATE, CREATING, PULLING})
    """A freshly created instance that is not running yet."""
    TRANSITIONAL: ClassVar[frozenset[str]] = frozenset(
        {
            PENDING,
            TO_CREATE,
            CREATING,
            PULLING,
            TO_START,
            STARTING,
            TO_STOP,
            STOPPING,
            TO_RESTART,
            RESTARTING,
            TO_RESET,
            RESETTING,
            MIGRATING,
            FREEZING,
        }
    )
    """On the way from one stable state to another (excluding deletion, see ``GONE``)."""
    ALL: ClassVar[frozenset[str]] = frozenset({RUNNING, EXITED} | TRANSITIONAL | GONE)

    @classmethod
    def is_known(cls, status: str) -> bool:
        """Whether ``status`` is one novictl knows (documented, or ``pending``)."""
        return status in cls.ALL

    @classmethod
    def is_transitional(cls, status: str) -> bool:
        return status in cls.TRANSITIONAL

    @classmethod
    def is_gone(cls, status: str) -> bool:
        return status in cls.GONE


class PortMapping(NovitaModel):
    """One exposed port and the public endpoint that reaches it."""

    port: LenientInt = None
    endpoint: OptionalStr = None
    type: OptionalStr = None


class StatusError(NovitaModel):
    """Why an instance failed (filled when a create or start goes wrong)."""

    state: OptionalStr = None
    message: OptionalStr = None


class InstanceNetwork(NovitaModel):
    id: OptionalStr = None
    ip: OptionalStr = None


class SSHConnection(NovitaModel):
    """How to reach an instance over SSH. The password is hidden from repr and from ``model_dump``."""

    ssh_command: OptionalStr = None
    password: SecretStr | None = Field(default=None, repr=False, exclude=True)
    is_running: LenientBool = None


class Instance(NovitaModel):
    """A GPU instance as the list (``GET /gpu/instances``) or detail (``GET /gpu/instance``) returns it."""

    id: str
    name: Text = ""
    cluster_id: OptionalStr = None
    cluster_name: OptionalStr = None
    status: Text = ""
    image_url: OptionalStr = None
    image_auth_id: OptionalStr = None
    command: OptionalStr = None
    entrypoint: OptionalStr = None
    cpu_num: LenientInt = None
    memory: LenientFloat = None
    """Memory in GB."""
    gpu_num: LenientInt = None
    port_mappings: list[PortMapping] = Field(default_factory=list)
    product_id: OptionalStr = None
    product_name: OptionalStr = None
    rootfs_size: LenientInt = None
    volume_mounts: list[Any] = Field(default_factory=list)
    status_error: StatusError | None = None
    envs: list[EnvVar] = Field(default_factory=list)
    kind: OptionalStr = None
    billing_mode: OptionalStr = None
    end_time: OptionalStr = None
    """``"-1"`` for pay-as-you-go; otherwise when a monthly subscription ends."""
    spot_status: OptionalStr = None
    spot_reclaim_time: UnixTime = None
    created_at: UnixTime = None
    last_started_at: UnixTime = None
    last_stopped_at: UnixTime = None
    gpu_ids: list[Any] = Field(default_factory=list)
    template_id: OptionalStr = None
    # Only the detail endpoint sends these.
    network: InstanceNetwork | None = None
    node: Any = None
    jobs: Any = None
    connect_component_ssh: SSHConnection | None = Field(
        default=None, validation_alias=AliasChoices("connectComponentSSH", "connectComponentSsh")
    )
    connect_component_web_terminal: Any = None
    connect_component_jupyter: Any = None
    connect_component_log: Any = None
    free_storage_size: LenientFloat = None
    keep_data_day: LenientInt = None
    """Days Novita keeps a stopped instance's data."""
    instance_price: LenientInt = None
    """The instance's own hourly price in 1/100000 USD (an older page of Novita's docs; when present it
    wins over the product's price times the GPUs)."""
    local_storage_price: LenientInt = None
    exited_local_storage_price: LenientInt = None
    """What the instance's disk costs per hour while it is stopped, in 1/100000 USD."""
    ssh_password: SecretStr | None = Field(default=None, repr=False, exclude=True)
    """List items carry it; declared only so that it is hidden from reprs and dumps, never kept."""

    @property
    def running_price_usd(self) -> float | None:
        """USD per hour as Novita prices this very instance, when it says so."""
        return self.instance_price / PRICE_UNITS_PER_USD if self.instance_price else None

    @property
    def stopped_price_usd(self) -> float | None:
        """USD per hour the instance still costs while stopped (its disk), when Novita says so."""
        price = self.exited_local_storage_price
        return price / PRICE_UNITS_PER_USD if price is not None else None

    @property
    def region_code(self) -> str | None:
        """The readable region (``"US-CA-06"``): the code of the cluster name Novita lists, else the id."""
        return region_code(self.cluster_name) or self.cluster_id

    @field_validator("status_error", "network", "connect_component_ssh", mode="before")
    @classmethod
    def _empty_object_is_none(cls, value: Any) -> Any:
        return None if value in ("", {}, []) else value

    @field_validator("port_mappings", "volume_mounts", "envs", "gpu_ids", mode="before")
    @classmethod
    def _null_list_is_empty(cls, value: Any) -> Any:
        return [] if value in (None, "") else value

    @property
    def is_running(self) -> bool:
        return self.status == InstanceStatus.RUNNING

    @property
    def is_stopped(self) -> bool:
        return self.status == InstanceStatus.EXITED

    @property
    def is_gone(self) -> bool:
        return self.status in InstanceStatus.GONE


class InstancePage(NovitaModel):
    """One page of ``GET /gpu/instances``; ``total`` counts every instance matching the filters."""

    instances: list[Instance] = Field(default_factory=list)
    total: LenientInt = None

    @field_validator("instances", mode="before")
    @classmethod
    def _null_is_empty(cls, value: Any) -> Any:
        return [] if value is None else value


class NetworkStorageMount(BaseModel):
    """A network volume to mount into a new instance. Novita spells the id key ``"Id"``."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    id: str = Field(alias="Id")
    mount_point: str = Field(alias="mountPoint")


class CreateInstanceRequest(BaseModel):
    """The body of ``POST /gpu/instance/create``. ``to_body()`` gives the camelCase JSON to send.

    ``ports`` is a string, as Novita wants it: ``"8888/http, 22/tcp"``. ``image_auth`` is
    ``"user:password"`` and is kept out of ``repr``; it reaches only the request body.
    """

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")

    product_id: str
    gpu_num: int = 1
    rootfs_size: int
    image_url: str
    kind: str = "gpu"
    name: str | None = None
    image_auth: SecretStr | None = Field(default=None, repr=False)
    image_auth_id: str | None = None
    ports: str | None = None
    envs: list[EnvVar] | None = None
    tools: list[dict[str, Any]] | None = None
    command: str | None = None
    entrypoint: str | None = None
    cluster_id: str | None = None
    network_storages: list[NetworkStorageMount] | None = None
    network_id: str | None = None
    billing_mode: str | None = None
    month: int | None = None
    auto_renew: bool | None = None
    auto_renew_month: int | None = None
    min_cuda_version: str | None = None

    @field_validator("ports", mode="before")
    @classmethod
    def _ports_as_string(cls, value: Any) -> Any:
        """Also accept a list (``["8888/http", 22]``); Novita wants one comma-separated string."""
        if isinstance(value, list | tuple):
            return ", ".join(str(item).strip() for item in value)
        return value

    def to_body(self) -> dict[str, Any]:
        """The JSON body: camelCase keys, unset (``None``) fields dropped, the image secret revealed."""
        body = self.model_dump(by_alias=True, exclude_none=True, exclude={"image_auth"})
        if self.image_auth is not None:
            body["imageAuth"] = self.image_auth.get_secret_value()
        return body
