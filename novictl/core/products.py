"""Choosing a product: the cheapest available one for a GPU across the preferred regions."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from novictl.errors import NotFoundError

if TYPE_CHECKING:
    from novictl.novita.models import Product

__all__ = ["hourly_price_for", "matches_gpu", "pick_cheapest", "sort_by_price"]


def matches_gpu(product: Product, gpu: str) -> bool:
    """Loose GPU matching: ``4090``, ``rtx 4090`` and ``RTX 4090 24GB`` all match "RTX 4090 24GB"."""
    wanted = gpu.lower().replace(" ", "")
    return wanted in (product.name or "").lower().replace(" ", "") or wanted in product.id.lower()


def hourly_price_for(product: Product, billing: str = "onDemand") -> float | None:
    """USD per GPU per hour in the given billing mode; None when the product has no such price."""
    if billing == "spot":
        return product.spot_price_usd
    return product.price_usd


def sort_by_price(products: Iterable[Product], billing: str = "onDemand") -> list[Product]:
    """Cheapest first; products without a price in that billing mode last."""

    def key(product: Product) -> tuple[bool, float, str]:
        price = hourly_price_for(product, billing)
        return (price is None, price or 0.0, product.id)

    return sorted(products, key=key)


def pick_cheapest(
    products: Iterable[Product],
    *,
    gpu: str,
    regions: Sequence[str] = (),
    billing: str = "onDemand",
) -> tuple[Product, str | None]:
    """The cheapest deployable product for ``gpu``, and the cluster to ask for.

    With ``regions`` (cluster codes, most preferred first), a product serving an earlier region wins over a
    cheaper one that only serves later regions; without, the cheapest anywhere wins (cluster left to Novita).
    """
    candidates = [
        p
        for p in products
        if matches_gpu(p, gpu)
        and p.available_deploy
        and hourly_price_for(p, billing) is not None
        and (billing != "spot" or "spot" in (p.billing_methods or ["spot"]))
    ]
    if not candidates:
        raise NotFoundError(
            f"no available product for GPU {gpu!r} with {billing} billing",
            hint="see what exists with: novictl products",
        )
    if not regions:
        return sort_by_price(candidates, billing)[0], None
    for region in regions:
        here = [p for p in candidates if not p.cluster_ids or region in p.cluster_ids]
        if here:
            return sort_by_price(here, billing)[0], region
    raise NotFoundError(
        f"no available product for GPU {gpu!r} in {', '.join(regions)}",
        hint="try another --region, or none to let novictl pick any",
    )
