"""Validation of POST /gpu/instance/create bodies, with the limits NOVITA_API.md documents.

Shape errors answer 400 ``VALIDATOR_PARAM``; an unknown product or cluster 400 ``RESOURCE_NOT_FOUND``; a
product that cannot be deployed (here, or with that many GPUs) 400 ``INSUFFICIENT_RESOURCE``; an unknown
template 400 ``TEMPLATE_NOT_FOUND``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from novictl.emulator.catalog import (
    TEMPLATES,
    EmulatedProduct,
    cluster_by_code,
    cluster_by_id,
    product_by_id,
)
from novictl.emulator.responses import NovitaApiError

__all__ = ["CreateRequest", "parse_create", "parse_ports"]

_FORBIDDEN_PORTS = range(2222, 2225)
_PORT_TYPES = ("http", "tcp", "udp")
_MAX_PORTS = 15


@dataclass
class CreateRequest:
    """A create body that passed validation, with its product resolved."""

    product: EmulatedProduct
    cluster_id: str
    gpu_num: int
    rootfs_size: int
    image_url: str
    kind: str
    name: str = ""
    image_auth_id: str = ""
    ports: list[tuple[int, str]] = field(default_factory=list)
    envs: list[dict[str, str]] = field(default_factory=list)
    command: str = ""
    entrypoint: str = ""
    billing_mode: str = "onDemand"
    template_id: str = ""
    network_storages: list[dict[str, str]] = field(default_factory=list)


def _invalid(message: str) -> NovitaApiError:
    return NovitaApiError(400, "VALIDATOR_PARAM", message)


def _int_field(body: dict[str, Any], key: str, low: int, high: int) -> int:
    value = body.get(key)
    if value is None:
        raise _invalid(f"{key} is required")
    if isinstance(value, bool) or not isinstance(value, int):
        raise _invalid(f"{key} must be an integer")
    if not low <= value <= high:
        raise _invalid(f"{key} must be between {low} and {high}")
    return value


def _str_field(body: dict[str, Any], key: str, *, max_len: int, required: bool = False) -> str:
    value = body.get(key)
    if value is None or (value == "" and not required):
        if required:
            raise _invalid(f"{key} is required")
        return ""
    if not isinstance(value, str):
        raise _invalid(f"{key} must be a string")
    if required and not value:
        raise _invalid(f"{key} must not be empty")
    if len(value) > max_len:
        raise _invalid(f"{key} must be at most {max_len} characters")
    return value


def parse_ports(text: str) -> list[tuple[int, str]]:
    """``"8888/http, 22/tcp"`` → ``[(8888, "http"), (22, "tcp")]``; a bare number means http."""
    ports: list[tuple[int, str]] = []
    for raw in text.split(","):
        item = raw.strip()
        if not item:
            continue
        number, _, kind = item.partition("/")
        kind = kind.strip().lower() or "http"
        if not number.strip().isdigit() or kind not in _PORT_TYPES:
            raise _invalid(f"ports: {item!r} is not of the form <port>/<http|tcp|udp>")
        port = int(number)
        if not 1 <= port <= 65535:
            raise _invalid(f"ports: {port} is outside 1-65535")
        if port in _FORBIDDEN_PORTS:
            raise _invalid(f"ports: {port} is reserved (2222-2224)")
        if any(port == seen for seen, _ in ports):
            raise _invalid(f"ports: {port} appears twice")
        ports.append((port, kind))
    return ports


def _parse_envs(value: Any) -> list[dict[str, str]]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise _invalid("envs must be a list of {key, value}")
    if len(value) > 100:
        raise _invalid("envs: at most 100 variables")
    envs = []
    for item in value:
        if not isinstance(item, dict) or not isinstance(item.get("key"), str) or not item["key"]:
            raise _invalid("envs: every item needs a non-empty string key")
        if not isinstance(item.get("value", ""), str):
            raise _invalid(f"envs: the value of {item['key']} must be a string")
        envs.append({"key": item["key"], "value": item.get("value", "")})
    return envs


def _parse_storages(value: Any) -> list[dict[str, str]]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(
        isinstance(item, dict) and isinstance(item.get("Id"), str) for item in value
    ):
        raise _invalid('networkStorages must be a list of {"Id", "mountPoint"}')
    return [{"Id": item["Id"], "mountPoint": str(item.get("mountPoint", "/network"))} for item in value]


def _check_shape(body: dict[str, Any]) -> dict[str, Any]:
    """Every check that needs no lookup; returns the CreateRequest fields except the product."""
    _str_field(body, "productId", max_len=255, required=True)
    gpu_num = _int_field(body, "gpuNum", 1, 8)
    rootfs = _int_field(body, "rootfsSize", 10, 6144)
    image_url = _str_field(body, "imageUrl", max_len=500, required=True)
    kind = body.get("kind")
    if kind not in ("gpu", "cpu"):
        raise _invalid('kind must be "gpu" or "cpu"')
    image_auth = _str_field(body, "imageAuth", max_len=1024)
    if image_auth and ":" not in image_auth:
        raise _invalid('imageAuth must be "user:password"')
    ports_text = body.get("ports") or ""
    if not isinstance(ports_text, str):
        raise _invalid('ports must be a string such as "8888/http, 22/tcp"')
    ports = parse_ports(ports_text)
    tools = body.get("tools") or []
    if not isinstance(tools, list):
        raise _invalid("tools must be a list")
    if len(ports) + len(tools) > _MAX_PORTS:
        raise _invalid(f"at most {_MAX_PORTS} ports, tools included")
    billing_mode = body.get("billingMode") or "onDemand"
    if billing_mode not in ("onDemand", "monthly", "spot"):
        raise _invalid("billingMode must be onDemand, monthly or spot")
    if billing_mode == "monthly":
        month = body.get("month")
        if isinstance(month, bool) or not isinstance(month, int) or month < 1:
            raise _invalid("month must be a positive integer for monthly billing")
    return {
        "cluster_id": _str_field(body, "clusterId", max_len=64),
        "gpu_num": gpu_num,
        "rootfs_size": rootfs,
        "image_url": image_url,
        "kind": kind,
        "name": _str_field(body, "name", max_len=255),
        "image_auth_id": _str_field(body, "imageAuthId", max_len=255),
        "ports": ports,
        "envs": _parse_envs(body.get("envs")),
        "command": _str_field(body, "command", max_len=2047),
        "entrypoint": _str_field(body, "entrypoint", max_len=2047),
        "billing_mode": billing_mode,
        "template_id": str(body.get("templateId") or ""),
        "network_storages": _parse_storages(body.get("networkStorages")),
    }


def parse_create(body: Any) -> CreateRequest:
    """Validate a create body and resolve its product, template and cluster; raise :class:`NovitaApiError`."""
    if not isinstance(body, dict):
        raise _invalid("the body must be a JSON object")
    fields = _check_shape(body)
    product = product_by_id(body["productId"])
    if product is None:
        raise NovitaApiError(400, "RESOURCE_NOT_FOUND", f"product {body['productId']} not found")
    request = CreateRequest(product=product, **fields)
    if request.rootfs_size > product.max_rootfs:
        raise _invalid(f"rootfsSize must be at most {product.max_rootfs} for product {product.id}")
    if request.template_id and request.template_id not in TEMPLATES:
        raise NovitaApiError(400, "TEMPLATE_NOT_FOUND", f"template {request.template_id} not found")
    if request.billing_mode == "spot" and product.spot_price == "0":
        raise _invalid(f"product {product.id} has no spot price")
    if request.cluster_id:
        cluster = cluster_by_id(request.cluster_id)
        if cluster is None:
            if cluster_by_code(request.cluster_id.split(" ", 1)[0]) is not None:
                # The mistake a client makes when it sends the products' region code (live Novita too).
                raise _invalid(f"clusterId {request.cluster_id!r} is a region code, not a cluster id")
            raise NovitaApiError(400, "RESOURCE_NOT_FOUND", f"cluster {request.cluster_id} not found")
        if not product.offered_in(cluster):
            raise NovitaApiError(
                400, "INSUFFICIENT_RESOURCE", f"product {product.id} is not offered in {request.cluster_id}"
            )
    if not product.available or request.gpu_num > product.max_gpu_num:
        raise NovitaApiError(400, "INSUFFICIENT_RESOURCE", f"not enough {product.name} available right now")
    return request
