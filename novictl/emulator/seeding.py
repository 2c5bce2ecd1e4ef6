"""Pre-existing instances, generated from a seeded RNG: mostly running, some stopped, a few in motion."""

from __future__ import annotations

import random
from collections.abc import Container

from novictl.emulator.catalog import CLUSTERS, PRODUCTS, cluster_by_code
from novictl.emulator.instances import CREATE, OPERATIONS, EmulatedInstance

__all__ = ["generate_instances", "new_instance_id"]

_NAMES = ("trainer", "notebook", "inference", "finetune", "sd-webui", "llm-eval", "render", "batch")
_IMAGES = (
    "pytorch/pytorch:2.3.0-cuda12.1-cudnn8-devel",
    "nvidia/cuda:12.4.1-cudnn-devel-ubuntu22.04",
    "vllm/vllm-openai:v0.5.3",
    "ghcr.io/acme/sd-webui:1.9",
)
_GPU_NUMS = (1, 1, 1, 1, 2, 2, 4, 8)
_DEPLOYABLE = [p for p in PRODUCTS if p.available]
# Cheap cards are the common case; weights follow _DEPLOYABLE's order.
_WEIGHTS = [5 if int(p.price) < 40000 else 1 for p in _DEPLOYABLE]


def new_instance_id(rng: random.Random, taken: Container[str]) -> str:
    """16 lowercase hex digits, like Novita's ids, not already in ``taken``."""
    while True:
        candidate = f"{rng.getrandbits(64):016x}"
        if candidate not in taken:
            return candidate


def generate_instances(
    rng: random.Random, count: int, *, now: float, delay: float, taken: Container[str], first_number: int
) -> list[EmulatedInstance]:
    """``count`` instances created over the past three days, oldest first, numbered from ``first_number``."""
    made: list[EmulatedInstance] = []
    made_ids: set[str] = set()
    ages = sorted((rng.uniform(600, 72 * 3600) for _ in range(count)), reverse=True)
    for offset, age in enumerate(ages):
        product = rng.choices(_DEPLOYABLE, weights=_WEIGHTS)[0]
        cluster = cluster_by_code(rng.choice(product.region_codes or tuple(c.code for c in CLUSTERS)))
        assert cluster is not None  # products list only codes the catalogue knows
        instance_id = new_instance_id(rng, _Both(taken, made_ids))
        made_ids.add(instance_id)
        created = now - age
        started = created + rng.uniform(30, min(900, age / 2))
        instance = EmulatedInstance(
            id=instance_id,
            name=f"{rng.choice(_NAMES)}-{first_number + offset:05d}",
            product=product,
            cluster_id=cluster.id,
            cluster_name=cluster.label,
            gpu_num=min(rng.choice(_GPU_NUMS), product.max_gpu_num),
            rootfs_size=rng.choice((30, 60, 100, 200)),
            image_url=rng.choice(_IMAGES),
            created_at=created,
            status="running",
            ports=[(8888, "http"), (22, "tcp")],
            last_started_at=started,
            ssh_password=f"{rng.getrandbits(48):012x}",
        )
        _pick_status(rng, instance, now=now, delay=delay)
        made.append(instance)
    return made


def _pick_status(rng: random.Random, instance: EmulatedInstance, *, now: float, delay: float) -> None:
    roll = rng.random()
    if roll < 0.78:
        return
    started = instance.last_started_at or instance.created_at
    if roll < 0.95:
        instance.status = "exited"
        instance.last_stopped_at = rng.uniform(started, now)
        return
    # A few are mid-way through an operation; they finish by themselves within a few step delays.
    began = now - rng.random() * delay
    if roll < 0.97:
        instance.status, instance.last_started_at = "toCreate", None
        instance.begin(CREATE, began, delay)
    elif roll < 0.99:
        instance.begin(OPERATIONS["stop"], began, delay)
    else:
        instance.status = "exited"
        instance.last_stopped_at = rng.uniform(started, now)
        instance.begin(OPERATIONS["start"], began, delay)


class _Both:
    """Membership in either of two containers, without copying a 10,000-id dict into a set."""

    def __init__(self, first: Container[str], second: Container[str]):
        self._first, self._second = first, second

    def __contains__(self, item: object) -> bool:
        return item in self._first or item in self._second
