"""Creating an instance: what was asked (:class:`CreateSpec`), which product, and never two for one create.

The product is either named (``product_id``) or chosen: the cheapest available one for a GPU across the
preferred regions, in order, for the billing mode (:func:`novictl.core.products.pick_cheapest`). A
template supplies the image, ports, env vars, start command and, for a private image, its registry login;
what the caller gives explicitly wins. A name already in use is refused unless duplicates are allowed.
Lost answers are handled by :meth:`NovitaClient.create_instance`, which looks the name up instead of
POSTing again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from pydantic import SecretStr

from novictl.clock import Clock, SystemClock
from novictl.core import events
from novictl.core.products import pick_cheapest
from novictl.core.record_mapping import TERMINATED, hourly_price
from novictl.core.regions import resolve_clusters
from novictl.errors import ConflictError, NotFoundError, UsageError
from novictl.novita.models import CreateInstanceRequest, EnvVar, InstanceStatus
from novictl.store.records import InstanceRecord

if TYPE_CHECKING:
    from novictl.novita.client import NovitaClient
    from novictl.novita.models import Cluster, Product, Template
    from novictl.store.base import StateStore

__all__ = ["BILLING_MODES", "DEFAULT_DISK_GB", "CreateSpec", "create", "parse_env", "parse_port"]

BILLING_MODES = ("onDemand", "spot")
DEFAULT_DISK_GB = 50
_PORT_TYPES = ("http", "tcp", "udp")
_RESERVED_PORTS = range(2222, 2225)  # Novita keeps these for itself
_ENV_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_MAX_NAME = 255
# How each face spells a choice, so an error names what the caller actually typed.
_OPTION_NAMES: dict[str, tuple[str, str]] = {
    "product_id": ("--product ID", '"productId"'),
    "gpu": ("--gpu NAME", '"gpu"'),
    "image": ("--image URL", '"image"'),
    "template_id": ("--template ID", '"templateId"'),
    "gpus": ("--gpus", '"gpus"'),
    "disk_gb": ("--disk", '"diskGb"'),
}


def parse_port(spec: str) -> str:
    """``"8888/http"``, ``"22/tcp"`` or ``"8888"`` (http) → the canonical ``"8888/http"``; else UsageError."""
    number, _, kind = spec.strip().partition("/")
    kind = (kind or "http").strip().lower()
    if not number.strip().isdigit() or kind not in _PORT_TYPES:
        raise UsageError(
            f"bad --port {spec!r}: expected PORT/TYPE such as 8888/http or 22/tcp",
            hint=f"TYPE is one of {', '.join(_PORT_TYPES)}",
        )
    port = int(number)
    if not 1 <= port <= 65535 or port in _RESERVED_PORTS:
        raise UsageError(f"bad --port {spec!r}: ports are 1-65535, except 2222-2224 (Novita's own)")
    return f"{port}/{kind}"


def parse_env(text: str) -> tuple[str, str]:
    """``"KEY=VALUE"`` → ``("KEY", "VALUE")``. The value is never echoed in errors: it may be a token."""
    key, sep, value = text.partition("=")
    key = key.strip()
    if not sep or not _ENV_KEY.match(key):
        shown = f" for {key!r}" if sep and key and len(key) <= 64 else ""
        raise UsageError(
            f"bad --env{shown}: expected KEY=VALUE with a KEY of letters, digits and _",
            hint="for example: --env HF_HOME=/data/hf",
        )
    return key, value


@dataclass(frozen=True)
class CreateSpec:
    """Everything ``novictl create`` (or ``POST /api/instances``) asks for."""

    name: str
    product_id: str | None = None
    gpu: str | None = None
    regions: tuple[str, ...] = ()
    billing: str = "onDemand"
    image: str | None = None
    template_id: str | None = None
    gpus: int = 1
    disk_gb: int | None = None
    ports: tuple[str, ...] = ()
    envs: tuple[tuple[str, str], ...] = ()
    webhook_url: str | None = None
    allow_duplicate_name: bool = False
    actor: str = "user"
    face: Literal["cli", "api"] = "cli"
    """Who asked: error messages name its options (``--gpu NAME`` for the CLI, ``"gpu"`` for the API)."""

    def option(self, field_name: str) -> str:
        """How the caller spells the choice ``field_name`` (a CLI flag, or a JSON field of the API)."""
        cli, api = _OPTION_NAMES[field_name]
        return api if self.face == "api" else cli

    def check(self) -> None:
        """Raise :class:`UsageError` when the spec cannot work, before anything is asked of Novita."""
        opt = self.option
        if not self.name.strip() or len(self.name) > _MAX_NAME:
            raise UsageError(f"an instance name needs 1 to {_MAX_NAME} characters")
        if bool(self.product_id) == bool(self.gpu):
            raise UsageError(
                f"give exactly one of {opt('product_id')} or {opt('gpu')}",
                hint="see the products and their GPUs with: novictl products",
            )
        if not (self.image or self.template_id):
            raise UsageError(f"give {opt('image')} or {opt('template_id')}")
        if self.billing not in BILLING_MODES:
            raise UsageError(f"bad billing mode {self.billing!r}: use one of {', '.join(BILLING_MODES)}")
        if not 1 <= self.gpus <= 8:
            raise UsageError(f"{opt('gpus')} must be between 1 and 8")
        if self.disk_gb is not None and self.disk_gb < 10:
            raise UsageError(f"{opt('disk_gb')} must be at least 10 (GB)")


async def create(
    client: NovitaClient, store: StateStore, spec: CreateSpec, *, clock: Clock | None = None
) -> InstanceRecord:
    """Create the instance and record it at once (with its webhook URL) plus an ``instance.created`` event.

    Raises :class:`ConflictError` (exit 5) when the name is taken and duplicates are not allowed,
    :class:`NotFoundError` when no product fits, ``NovitaUnavailable`` when the outcome is unknown.
    """
    spec.check()
    if not spec.allow_duplicate_name:
        await _check_name_free(client, store, spec.name)
    product, cluster = await _choose_product(client, spec)
    template = await client.get_template(spec.template_id) if spec.template_id else None
    request = build_request(spec, product, cluster.id if cluster else None, template)
    region = cluster.code if cluster else None
    instance_id = await client.create_instance(request)
    now = (clock or SystemClock()).now()
    record = InstanceRecord(
        id=instance_id,
        name=spec.name,
        status=InstanceStatus.TO_CREATE,
        product_id=product.id,
        product_name=product.name or product.id,
        region=region,
        gpu_count=spec.gpus,
        price_per_hour=hourly_price(product, spec.gpus, spec.billing),
        created_at=now,
        first_seen_at=now,
        image_url=request.image_url,
        billing_mode=spec.billing,
        webhook_url=spec.webhook_url,
    )
    await store.put(record)
    created = events.instance_event(
        events.CREATED, record, actor=spec.actor, now=now, productId=product.id, region=region,
        gpus=spec.gpus, pricePerHour=record.price_per_hour, imageUrl=request.image_url,
    )  # fmt: skip
    await events.record_events(store, [created])
    return record


async def _check_name_free(client: NovitaClient, store: StateStore, name: str) -> None:
    known = [
        r
        for r in await store.find_by_name(name)
        if r.terminated_at is None and r.status != TERMINATED and not InstanceStatus.is_gone(r.status)
    ]
    live = [i for i in await client.list_all_instances(name=name) if i.name == name and not i.is_gone]
    taken = {r.id: r.status for r in known} | {i.id: i.status for i in live}
    if taken:
        listed = ", ".join(f"{instance_id} ({status})" for instance_id, status in sorted(taken.items()))
        raise ConflictError(
            f"the name {name!r} is already used by {listed}",
            hint="pick another name, or pass --allow-duplicate-name",
            details={"instanceIds": sorted(taken)},
        )


async def _choose_product(client: NovitaClient, spec: CreateSpec) -> tuple[Product, Cluster | None]:
    """The product, and the cluster to ask for (``None``: Novita picks). Regions are named as people
    name them and mapped to Novita's cluster ids through ``GET /clusters``."""
    clusters = await resolve_clusters(client, spec.regions)
    by_code = {cluster.code: cluster for cluster in clusters}
    if spec.gpu:
        products = await client.list_products(gpu_num=spec.gpus, billing_method=spec.billing)
        cheapest, code = pick_cheapest(products, gpu=spec.gpu, regions=list(by_code), billing=spec.billing)
        return cheapest, by_code.get(code) if code else None
    products = await client.list_products()
    product = next((p for p in products if p.id == spec.product_id), None)
    if product is None:
        raise NotFoundError(f"no product {spec.product_id!r}", hint="see the products with: novictl products")
    if not product.available:
        raise ConflictError(
            f"product {product.id} cannot be deployed now (sold out)",
            hint=f'try another: novictl products --gpu "{product.name}"',
        )
    if not clusters:
        return product, None
    cluster = next((cluster for cluster in clusters if product.runs_in(cluster.code)), None)
    if cluster is None:
        raise UsageError(
            f"product {product.id} does not run in {', '.join(spec.regions)}",
            hint=f"it runs in: {', '.join(product.cluster_ids) or 'any region'}",
        )
    return product, cluster


def build_request(
    spec: CreateSpec, product: Product, cluster: str | None, template: Template | None
) -> CreateInstanceRequest:
    """The create body: explicit options first, then the template, then defaults."""
    image = spec.image or (template.image if template else None)
    if not image:
        raise UsageError(f"template {spec.template_id} has no image; give {spec.option('image')}")
    ports = ", ".join(spec.ports) if spec.ports else (template.ports_spec() if template else "")
    envs = {env.key: env.value for env in (template.envs if template else [])}
    envs.update(dict(spec.envs))
    low, high = product.min_root_fs or 10, product.max_root_fs or 6144
    if spec.disk_gb is not None and not low <= spec.disk_gb <= high:
        raise UsageError(
            f"{spec.option('disk_gb')} {spec.disk_gb}: product {product.id} takes {low} to {high} GB"
        )
    disk = spec.disk_gb or min(
        max((template.rootfs_size if template else None) or DEFAULT_DISK_GB, low), high
    )
    auth = template.image_auth if template and template.image_auth else None
    return CreateInstanceRequest(
        product_id=product.id,
        gpu_num=spec.gpus,
        rootfs_size=disk,
        image_url=image,
        kind="gpu",
        name=spec.name,
        image_auth=SecretStr(auth) if auth else None,
        image_auth_id=template.image_auth_id if template else None,
        ports=ports or None,
        envs=[EnvVar(key=key, value=value) for key, value in envs.items()] or None,
        command=template.start_command if template else None,
        cluster_id=cluster,
        billing_mode=spec.billing,
    )
