"""``novictl create NAME``: a new instance on a named product or the cheapest one for a GPU."""

from typing import Annotated, Any

import typer

from novictl.cli.context import App, JsonFlag, get_app, run_async
from novictl.cli.instance_support import (
    PollOption,
    QuietOption,
    TimeoutOption,
    WaitOption,
    progress_printer,
    seconds,
)
from novictl.cli.output import print_json

__all__ = ["register"]


def register(root: typer.Typer) -> None:
    root.command("create")(create)


def create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Name of the new instance.")],
    product: Annotated[
        str | None, typer.Option("--product", help="Product id (see: novictl products).")
    ] = None,
    gpu: Annotated[
        str | None,
        typer.Option("--gpu", help='GPU name ("RTX 4090", 4090): the cheapest available product is used.'),
    ] = None,
    region: Annotated[
        list[str] | None,
        typer.Option(
            "--region",
            help="Preferred region: a code (US-CA-06), place (California) or Novita cluster id (us-ca-6); "
            "repeat, most preferred first.",
        ),
    ] = None,
    billing: Annotated[str, typer.Option("--billing", help="onDemand or spot.")] = "onDemand",
    image: Annotated[str | None, typer.Option("--image", help="Container image URL.")] = None,
    template: Annotated[
        str | None,
        typer.Option("--template", help="Template id: supplies image, ports, env vars, registry login."),
    ] = None,
    gpus: Annotated[int, typer.Option("--gpus", help="Number of GPUs (1-8).")] = 1,
    disk: Annotated[int | None, typer.Option("--disk", help="Root disk in GB (default 50).")] = None,
    port: Annotated[
        list[str] | None, typer.Option("--port", help="Port to expose, e.g. 8888/http or 22/tcp; repeatable.")
    ] = None,
    env: Annotated[
        list[str] | None, typer.Option("--env", help="Environment variable KEY=VALUE; repeatable.")
    ] = None,
    webhook: Annotated[
        str | None, typer.Option("--webhook", help="URL that receives this instance's events.")
    ] = None,
    allow_duplicate_name: Annotated[
        bool, typer.Option("--allow-duplicate-name", help="Create even if the name is already in use.")
    ] = False,
    wait: WaitOption = False,
    timeout: TimeoutOption = "15m",
    poll_interval: PollOption = "2s",
    quiet: QuietOption = False,
    json_output: JsonFlag = False,
) -> None:
    """Create an instance: --product ID, or --gpu NAME for the cheapest available product across the
    --region list (in order) for the billing mode; --image URL or --template ID.

    A name already in use exits 5 unless --allow-duplicate-name. If Novita's answer is lost, the new
    instance is looked up by name — one create never makes two instances.
    """

    from novictl.core.instances import CreateSpec, parse_env, parse_port
    from novictl.errors import UsageError

    app = get_app(ctx)
    if webhook is not None and not webhook.startswith(("http://", "https://")):
        raise UsageError("--webhook must be an http:// or https:// URL")
    spec = CreateSpec(
        name=name,
        product_id=product,
        gpu=gpu,
        regions=tuple(region or ()),
        billing=billing,
        image=image,
        template_id=template,
        gpus=gpus,
        disk_gb=disk,
        ports=tuple(parse_port(p) for p in port or ()),
        envs=tuple(parse_env(e) for e in env or ()),
        webhook_url=webhook,
        allow_duplicate_name=allow_duplicate_name,
    )
    spec.check()
    waiting = (seconds(timeout, "--timeout"), seconds(poll_interval, "--poll-interval")) if wait else None
    result = run_async(_create(app, spec, waiting, quiet=quiet))
    if quiet:
        typer.echo(result["id"])
    elif app.wants_json(json_output):
        print_json(result)


async def _create(app: App, spec: Any, waiting: tuple[float, float] | None, *, quiet: bool) -> dict[str, Any]:
    from novictl.cli.output import console
    from novictl.clock import SystemClock
    from novictl.core.instance_view import instance_summary, money
    from novictl.core.instances import create, wait_and_record

    clock = SystemClock()
    talk = not quiet and not app.wants_json()
    out = console(app, stderr=not talk)
    async with app.novita_client() as client, app.open_store() as store:
        record = await create(client, store, spec, clock=clock)
        if talk:
            where = f" in {record.region}" if record.region else ""
            out.print(
                f"created {record.name} ({record.id}): {record.product_name} ({record.product_id}){where}, "
                f"{money(record.price_per_hour, suffix='/h')}"
            )
        if waiting is not None:
            timeout_seconds, poll = waiting
            record = await wait_and_record(
                client, store, record, {"running"}, timeout_seconds=timeout_seconds, poll_interval=poll,
                quick_start=True, on_status=progress_printer(record.name), clock=clock,
            )  # fmt: skip
            if talk:
                out.print(f"{record.name} is running — see it with: novictl show {record.id}")
        return instance_summary(record, clock.now(), app.settings.autostop)
