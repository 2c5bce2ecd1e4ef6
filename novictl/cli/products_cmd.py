"""``novictl products``: what can be rented, cheapest first, with availability."""

from typing import TYPE_CHECKING, Annotated, Any

import typer

from novictl.cli.context import JsonFlag, get_app, run_async
from novictl.cli.output import print_json, print_table

if TYPE_CHECKING:
    from novictl.novita.models import Product

__all__ = ["product_view", "register"]


def register(root: typer.Typer) -> None:
    root.command("products")(products)


def product_view(product: "Product", billing: str, gpus: int) -> dict[str, Any]:
    """One product as ``products --json`` shows it (USD; per GPU and for ``gpus`` GPUs)."""
    from novictl.core.products import hourly_price_for

    per_gpu = hourly_price_for(product, billing)
    return {
        "id": product.id,
        "name": product.name,
        "billing": billing,
        "pricePerGpuHour": per_gpu,
        "pricePerHour": None if per_gpu is None else round(per_gpu * gpus, 6),
        "onDemandPricePerGpuHour": product.price_usd,
        "spotPricePerGpuHour": product.spot_price_usd,
        "available": product.available,
        "inventoryState": product.inventory_state,
        "regions": product.cluster_ids,
        "billingMethods": product.billing_methods,
        "cpuPerGpu": product.cpu_per_gpu,
        "memoryPerGpuGb": product.memory_per_gpu,
        "diskPerGpuGb": product.disk_per_gpu,
        "minRootfsGb": product.min_root_fs,
        "maxRootfsGb": product.max_root_fs,
    }


def products(
    ctx: typer.Context,
    gpu: Annotated[
        str | None, typer.Option("--gpu", help='Only this GPU ("4090", "RTX 4090", "H100").')
    ] = None,
    region: Annotated[
        list[str] | None,
        typer.Option(
            "--region",
            help="Only products offered in this region: a code (US-CA-06), place or cluster id; repeatable.",
        ),
    ] = None,
    billing: Annotated[
        str, typer.Option("--billing", help="Prices for onDemand or spot billing.")
    ] = "onDemand",
    gpus: Annotated[
        int, typer.Option("--gpus", min=1, max=8, help="Number of GPUs; prices are for all of them.")
    ] = 1,
    available: Annotated[bool, typer.Option("--available", help="Only products you can create now.")] = False,
    json_output: JsonFlag = False,
) -> None:
    """GPU products, cheapest first: USD per hour, regions and whether they can be created now.

    Prices are Novita's per GPU per hour times --gpus, in the --billing mode (spot when offered).
    """

    from novictl.core.instance_create import BILLING_MODES
    from novictl.core.products import matches_gpu, sort_by_price
    from novictl.errors import UsageError

    app = get_app(ctx)
    if billing not in BILLING_MODES:
        raise UsageError(f"bad --billing {billing!r}: use one of {', '.join(BILLING_MODES)}")

    async def fetch() -> "tuple[list[Product], list[str]]":
        from novictl.core.regions import resolve_clusters

        async with app.novita_client() as client:
            # A region is named by its code, place or cluster id; products list codes.
            codes = [cluster.code for cluster in await resolve_clusters(client, region or ())]
            return await client.list_products(gpu_num=gpus, billing_method=billing), codes

    products, codes = run_async(fetch())
    found = [
        p
        for p in products
        if (gpu is None or matches_gpu(p, gpu))
        and (not codes or any(p.runs_in(code) for code in codes))
        and (not available or p.available)
    ]
    ordered = sort_by_price(found, billing)
    views = [product_view(p, billing, gpus) for p in ordered]
    if app.wants_json(json_output):
        print_json({"products": views, "total": len(views)})
        return
    rows = [
        (
            v["id"],
            v["name"],
            "-" if v["pricePerHour"] is None else f"${v['pricePerHour']:.2f}",
            f"{v['cpuPerGpu'] or '?'} vCPU, {v['memoryPerGpuGb'] or '?'} GB",
            ", ".join(v["regions"]) or "any",
            ("yes" if v["available"] else "no")
            + (f" ({v['inventoryState']})" if v["inventoryState"] else ""),
        )
        for v in views
    ]
    price_header = "$/h" if gpus == 1 else f"$/h ({gpus} GPUs)"
    print_table(
        app,
        ["product", "GPU", price_header, "per GPU", "regions", "available"],
        rows,
        empty="no products match",
    )
