"""The emulator's fixed world: clusters, products, templates and repository auths, as Novita's JSON.

Everything here is written by hand from the API reference (NOVITA_API.md), not derived from novictl's
client models, so the client is tested against an independent reading of the spec. Prices are numeric
strings in 1/100000 USD per GPU per hour, as the live API sends them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

__all__ = [
    "CLUSTERS",
    "PRODUCTS",
    "REPOSITORY_AUTHS",
    "TEMPLATES",
    "EmulatedCluster",
    "EmulatedProduct",
    "cluster_by_code",
    "cluster_by_id",
    "clusters_json",
    "filter_products",
    "fuzzy_contains",
    "product_by_id",
]


@dataclass(frozen=True)
class EmulatedCluster:
    """A cluster: Novita's id (what create's ``clusterId`` wants) differs from the region code that
    products show (``"US-CA-06 (California)"``), as on the live API; only ``GET /clusters`` maps them."""

    id: str
    code: str
    place: str

    @property
    def label(self) -> str:
        return f"{self.code} ({self.place})"


CLUSTERS: list[EmulatedCluster] = [
    EmulatedCluster("us-ca-6", "US-CA-06", "California"),
    EmulatedCluster("us-tx-2", "US-TX-02", "Texas"),
    EmulatedCluster("eu-de-1", "EU-DE-01", "Frankfurt"),
    EmulatedCluster("eu-se-1", "EU-SE-01", "Stockholm"),
    EmulatedCluster("as-sgp-2", "AS-SGP-02", "Singapore"),
]


@dataclass(frozen=True)
class EmulatedProduct:
    """A product as the emulator knows it; :meth:`to_json` is what GET /products sends."""

    id: str
    name: str
    cpu_per_gpu: int
    memory_per_gpu: int
    disk_per_gpu: int
    price: str
    region_codes: tuple[str, ...]  # empty = every cluster
    max_gpu_num: int = 8
    spot_price: str = "0"
    available: bool = True
    inventory: str = "normal"
    min_rootfs: int = 10
    max_rootfs: int = 1024

    def regions(self) -> list[str]:
        return [cluster.label for code in self.region_codes if (cluster := cluster_by_code(code))]

    def offered_in(self, cluster: EmulatedCluster) -> bool:
        return not self.region_codes or cluster.code in self.region_codes

    def billing_methods(self) -> list[str]:
        methods = ["onDemand", "monthly"]
        if self.spot_price != "0":
            methods.append("spot")
        return methods

    def to_json(self) -> dict[str, Any]:
        hourly = int(self.price)
        # Monthly plans: about 720 hours with a discount that grows with the term.
        monthly = [
            {"price": str(int(hourly * 720 * factor)), "month": month}
            for month, factor in ((1, 0.85), (3, 0.8), (6, 0.75), (12, 0.7))
        ]
        return {
            "id": self.id,
            "name": self.name,
            "cpuPerGpu": self.cpu_per_gpu,
            "memoryPerGpu": self.memory_per_gpu,
            "diskPerGpu": self.disk_per_gpu,
            "availableDeploy": self.available,
            "minRootFS": self.min_rootfs,
            "maxRootFS": self.max_rootfs,
            "minLocalStorage": 0,
            "maxLocalStorage": self.disk_per_gpu * self.max_gpu_num,
            "regions": self.regions(),
            "price": self.price,
            "monthlyPrice": monthly,
            "billingMethods": self.billing_methods(),
            "spotPrice": self.spot_price,
            "inventoryState": self.inventory,
        }


PRODUCTS: list[EmulatedProduct] = [
    EmulatedProduct(
        "4090.16c62g", "RTX 4090 24GB", 16, 62, 240, "35000", ("US-CA-06", "EU-DE-01"), spot_price="17500"
    ),
    EmulatedProduct(
        "4090.12c50g.sgp", "RTX 4090 24GB", 12, 50, 200, "32000", ("AS-SGP-02",), inventory="low"
    ),
    EmulatedProduct(
        "3090.8c40g", "RTX 3090 24GB", 8, 40, 150, "21000", (), spot_price="11000", inventory="high"
    ),
    EmulatedProduct(
        "a100-80g.12c120g",
        "A100 SXM4 80GB",
        12,
        120,
        500,
        "149000",
        ("US-TX-02", "EU-DE-01"),
        spot_price="79000",
    ),
    EmulatedProduct(
        "h100-80g.16c200g", "H100 SXM 80GB", 16, 200, 800, "249000", ("US-CA-06",), max_rootfs=2048
    ),
    EmulatedProduct(
        "h100-80g.16c200g.se",
        "H100 SXM 80GB",
        16,
        200,
        800,
        "229000",
        ("EU-SE-01",),
        available=False,
        inventory="none",
        max_rootfs=2048,
    ),
    EmulatedProduct(
        "l40s-48g.12c80g", "L40S 48GB", 12, 80, 400, "86000", ("US-TX-02", "AS-SGP-02"), max_gpu_num=4
    ),
    EmulatedProduct(
        "rtx6000ada.10c60g", "RTX 6000 Ada 48GB", 10, 60, 300, "77000", ("EU-DE-01",), max_gpu_num=2
    ),
]

TEMPLATES: dict[str, dict[str, Any]] = {
    "1": {
        "id": "1",
        "name": "PyTorch 2.3 / CUDA 12.1",
        "type": "instance",
        "channel": "official",
        "readme": "Jupyter on 8888, SSH on 22.",
        "image": "pytorch/pytorch:2.3.0-cuda12.1-cudnn8-devel",
        "imageAuth": "",
        "imageAuthId": "",
        "startCommand": "",
        "rootfsSize": 60,
        "ports": [{"type": "http", "ports": [8888]}, {"type": "tcp", "ports": [22]}],
        "envs": [{"key": "JUPYTER_TOKEN", "value": ""}],
        "volumes": [],
        "createdAt": "1714000000",
    },
    "2": {
        "id": "2",
        "name": "ACME trainer (private)",
        "type": "instance",
        "channel": "private",
        "readme": "Private training image pulled with a saved registry login.",
        "image": "registry.acme.example/ml/trainer:1.4",
        "imageAuth": "",
        "imageAuthId": "auth-7f3a",
        "startCommand": "python -m trainer serve",
        "rootfsSize": 100,
        "ports": [{"type": "http", "ports": [8080]}],
        "envs": [],
        "volumes": [],
        "createdAt": "1716500000",
    },
}

REPOSITORY_AUTHS: list[dict[str, str]] = [
    {"id": "auth-7f3a", "name": "acme-registry", "username": "acme-bot", "password": "emulated-password-1"},
    {"id": "auth-19c2", "name": "dockerhub", "username": "alice", "password": "emulated-password-2"},
]

_PRODUCTS_BY_ID = {product.id: product for product in PRODUCTS}
_CLUSTERS_BY_ID = {cluster.id: cluster for cluster in CLUSTERS}
_CLUSTERS_BY_CODE = {cluster.code: cluster for cluster in CLUSTERS}
_NOT_ALNUM = re.compile(r"[^a-z0-9]+")


def product_by_id(product_id: str) -> EmulatedProduct | None:
    return _PRODUCTS_BY_ID.get(product_id)


def cluster_by_id(cluster_id: str) -> EmulatedCluster | None:
    """The cluster with Novita's id ``cluster_id`` (``"us-ca-6"``), or ``None`` when there is none."""
    return _CLUSTERS_BY_ID.get(cluster_id)


def cluster_by_code(code: str) -> EmulatedCluster | None:
    """The cluster whose region code is ``code`` (``"US-CA-06"``), or ``None``."""
    return _CLUSTERS_BY_CODE.get(code)


def fuzzy_contains(haystack: str, needle: str) -> bool:
    """Novita's "fuzzy" match as the emulator reads it: case, spaces and punctuation do not matter."""
    return _NOT_ALNUM.sub("", needle.lower()) in _NOT_ALNUM.sub("", haystack.lower())


def clusters_json() -> list[dict[str, Any]]:
    result = []
    for cluster in CLUSTERS:
        gpu_types = sorted({p.name for p in PRODUCTS if p.offered_in(cluster)})
        result.append(
            {
                "id": cluster.id,
                "name": cluster.label,
                "availableGpuType": gpu_types,
                "supportNetworkStorage": cluster.code in ("US-CA-06", "EU-DE-01"),
                "supportInstanceNetwork": cluster.code != "AS-SGP-02",
            }
        )
    return result


def filter_products(
    *,
    cluster_id: str | None = None,
    gpu_num: int | None = None,
    product_name: str | None = None,
    billing_method: str | None = None,
    min_cpu_per_gpu: int | None = None,
    min_memory_per_gpu: int | None = None,
    min_rootfs_size: int | None = None,
) -> list[EmulatedProduct]:
    """The products matching every given filter (``None`` = no filter); ``cluster_id`` is Novita's id."""
    cluster = cluster_by_id(cluster_id) if cluster_id else None
    if cluster_id and cluster is None:
        return []
    return [
        p
        for p in PRODUCTS
        if (cluster is None or p.offered_in(cluster))
        and (gpu_num is None or gpu_num <= p.max_gpu_num)
        and (not product_name or fuzzy_contains(p.name, product_name))
        and (not billing_method or billing_method in p.billing_methods())
        and (min_cpu_per_gpu is None or p.cpu_per_gpu >= min_cpu_per_gpu)
        and (min_memory_per_gpu is None or p.memory_per_gpu >= min_memory_per_gpu)
        and (min_rootfs_size is None or p.max_rootfs >= min_rootfs_size)
    ]
