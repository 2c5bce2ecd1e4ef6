"""``novictl products``: filters, sorting by price, JSON keys, against the emulator."""

from __future__ import annotations

from typing import Any

PRODUCT_KEYS = [
    "id", "name", "billing", "pricePerGpuHour", "pricePerHour", "onDemandPricePerGpuHour",
    "spotPricePerGpuHour", "available", "inventoryState", "regions", "billingMethods", "cpuPerGpu",
    "memoryPerGpuGb", "diskPerGpuGb", "minRootfsGb", "maxRootfsGb",
]  # fmt: skip


def test_products_sorted_by_price_with_stable_keys(novictl_cli: Any) -> None:
    result = novictl_cli("products", "--json")
    assert result.code == 0
    body = result.json()
    assert list(body) == ["products", "total"]
    prices = [p["pricePerHour"] for p in body["products"]]
    assert prices == sorted(prices)
    assert body["products"][0]["id"] == "3090.8c40g"
    assert all(list(p) == PRODUCT_KEYS for p in body["products"])
    sold_out = next(p for p in body["products"] if p["id"] == "h100-80g.16c200g.se")
    assert sold_out["available"] is False


def test_products_filters(novictl_cli: Any) -> None:
    gpu = novictl_cli("products", "--gpu", "4090", "--json").json()["products"]
    assert [p["id"] for p in gpu] == ["4090.12c50g.sgp", "4090.16c62g"]
    region = novictl_cli("products", "--gpu", "4090", "--region", "US-CA-06", "--json").json()["products"]
    assert [p["id"] for p in region] == ["4090.16c62g"]
    spot = novictl_cli("products", "--billing", "spot", "--gpus", "2", "--json").json()["products"]
    assert spot[0]["id"] == "3090.8c40g"
    assert spot[0]["pricePerHour"] == 0.22  # 2 GPUs x $0.11 spot
    assert all(p["pricePerGpuHour"] is not None for p in spot)
    available = novictl_cli("products", "--gpu", "H100", "--available", "--json").json()["products"]
    assert [p["id"] for p in available] == ["h100-80g.16c200g"]
    bad = novictl_cli("products", "--billing", "monthlyish")
    assert bad.code == 2
    assert bad.err.startswith("error: bad --billing 'monthlyish': use one of onDemand, spot")


def test_products_table_shows_usd_per_hour_and_availability(novictl_cli: Any) -> None:
    result = novictl_cli("products", "--gpu", "h100")
    assert result.code == 0
    assert "$2.49" in result.out
    assert "no (none)" in result.out
    assert "$/h" in result.out
