"""``novictl webhooks test|status``: try the webhook endpoint, and see what the outbox holds."""

import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer

from novictl.cli.context import JsonFlag, get_app, run_async
from novictl.cli.output import print_json, print_table

if TYPE_CHECKING:
    from novictl.config import Settings
    from novictl.store.base import StateStore

__all__ = ["app", "deliver_unless_daemon"]

app = typer.Typer(
    help="Webhooks: send a signed test event, see pending, delivered and failed deliveries.",
    no_args_is_help=True,
)


@app.command("test")
def send_test(
    ctx: typer.Context,
    url: Annotated[
        str | None,
        typer.Option("--url", help="Send here instead of webhook.url (WEBHOOK_URL).", metavar="URL"),
    ] = None,
    json_output: JsonFlag = False,
) -> None:
    """Send a signed ``webhook.test`` event and print the answer: status, time and the start of the body.

    Signed with webhook.secret (WEBHOOK_SECRET) when it is set. Exit 0 on a 2xx answer, 1 otherwise.
    """
    from novictl.clock import utcnow
    from novictl.core.webhooks import post_webhook, webhook_client
    from novictl.errors import UsageError
    from novictl.redact import mask_url

    state = get_app(ctx)
    settings = state.settings
    target = url or settings.webhook.url
    if not target:
        raise UsageError("no webhook URL to test", hint="pass --url URL, or set webhook.url (WEBHOOK_URL)")
    if not target.startswith(("http://", "https://")):
        raise UsageError("--url must be an http:// or https:// URL")
    event_id, body = _test_body()

    async def send() -> Any:
        async with webhook_client(settings.webhook.timeout_seconds) as http:
            return await post_webhook(
                http, target, event_id=event_id, event_type="webhook.test", body=body,
                secret=settings.webhook.secret, timestamp=int(utcnow().timestamp()),
            )  # fmt: skip

    result = run_async(send())
    ok = result.outcome == "delivered"
    view = {
        "url": mask_url(target, hide_path=True),
        "deliveryId": event_id,
        "signed": settings.webhook.secret is not None,
        "ok": ok,
        "statusCode": result.status_code,
        "error": None if ok else result.error,
        "durationMs": round(result.duration_ms, 1),
        "bodyExcerpt": result.body_excerpt,
    }
    if state.wants_json(json_output):
        print_json(view)
    else:
        answer = f"HTTP {result.status_code}" if result.status_code is not None else result.error
        signed = "signed" if view["signed"] else "unsigned (no webhook.secret)"
        sys.stdout.write(f"{view['url']}: {answer} in {view['durationMs']:.0f} ms ({signed})\n")
        if result.body_excerpt:
            sys.stdout.write(result.body_excerpt.rstrip() + "\n")
    if not ok:
        raise typer.Exit(1)


@app.command("status")
def status(ctx: typer.Context, json_output: JsonFlag = False) -> None:
    """How many webhook deliveries are pending, delivered, failed or dropped (no URL configured), the
    last error, and the latest deliveries that did not go through."""
    state = get_app(ctx)

    async def fetch() -> dict[str, Any]:
        async with state.open_store() as store:
            counts = await store.delivery_counts()
            troubled = await store.list_deliveries(states=["pending", "failed"], limit=10)
        return {"counts": counts, "troubled": troubled}

    found = run_async(fetch())
    troubled = found["troubled"]
    last = next((d for d in troubled if d.last_error), None)
    view = {
        **found["counts"],
        "lastError": last.last_error if last else None,
        "lastErrorAt": last.attempts[-1].at.isoformat() if last else None,
        "recent": [_delivery_view(d) for d in troubled],
    }
    if state.wants_json(json_output):
        print_json(view)
        return
    counts = found["counts"]
    sys.stdout.write(
        f"pending {counts['pending']} · delivered {counts['delivered']} · failed {counts['failed']}"
        f" · dropped {counts['dropped']}\n"
    )
    if view["lastError"]:
        sys.stdout.write(f"last error ({view['lastErrorAt']}): {view['lastError']}\n")
    rows = [
        (d.created_at.astimezone().strftime("%Y-%m-%d %H:%M:%S"), d.event_type, d.instance_id or "-",
         d.destination, d.state, len(d.attempts), d.last_error or "")
        for d in troubled
    ]  # fmt: skip
    if rows:
        print_table(state, ["queued", "event", "instance", "to", "state", "attempts", "last error"], rows)


def _delivery_view(delivery: Any) -> dict[str, Any]:
    return {
        "deliveryId": delivery.event_id,
        "type": delivery.event_type,
        "instanceId": delivery.instance_id,
        "destination": delivery.destination,
        "state": delivery.state,
        "createdAt": delivery.created_at.isoformat(),
        "nextAttemptAt": delivery.next_attempt_at.isoformat() if delivery.state == "pending" else None,
        "attempts": [
            {
                "at": a.at.isoformat(),
                "outcome": a.outcome,
                "statusCode": a.status_code,
                "error": a.error,
                "durationMs": a.duration_ms,
            }
            for a in delivery.attempts
        ],
    }


def _test_body() -> tuple[str, bytes]:
    import json
    import uuid

    from novictl.clock import utcnow

    event_id = uuid.uuid4().hex
    body = {
        "id": event_id,
        "type": "webhook.test",
        "occurredAt": utcnow().isoformat(),
        "instance": None,
        "data": {"actor": "user", "message": "a test event from novictl webhooks test"},
    }
    return event_id, json.dumps(body, separators=(",", ":")).encode()


async def deliver_unless_daemon(store: "StateStore", settings: "Settings") -> None:
    """After a CLI command: when no daemon's heartbeat is fresh, send what the outbox holds now (a few
    seconds at most, with a short retry); what still fails stays queued. Never fails the command."""
    import logging

    from novictl.errors import NovictlError

    try:
        # Most commands queue nothing: one cheap count spares them importing the HTTP sender.
        if not (await store.delivery_counts()).get("pending"):
            return
        from novictl.clock import utcnow
        from novictl.core.webhooks import deliver_now
        from novictl.daemon.heartbeat import check_heartbeat

        beat = await check_heartbeat(store, now=utcnow(), heartbeat_seconds=settings.daemon.heartbeat_seconds)
        if beat.fresh:
            return
        report = await deliver_now(store, settings.webhook)
    except (NovictlError, OSError) as error:
        logging.getLogger(__name__).debug("webhooks not delivered now: %s", error)
        return
    if report.retrying or report.failed:
        sys.stderr.write(
            f"webhooks: {report.delivered} delivered, {report.retrying} to retry later, "
            f"{report.failed} failed (see: novictl webhooks status)\n"
        )
