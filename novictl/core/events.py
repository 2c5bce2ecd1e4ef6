"""The audit trail: every action novictl takes on an instance, and every change it observes, as an event.

Events are made by :func:`instance_event` only (so types and bodies are uniform) and written by
:func:`record_events`, which also puts the webhook deliveries of the events that are webhooks
(:data:`WEBHOOK_TYPES`) into the store's outbox, in the same store call. A webhook's body is
:func:`webhook_body`: ``{"id", "type", "occurredAt", "instance": {...}, "data": {...}}``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from novictl.clock import as_utc, iso_or_none
from novictl.core.durations import format_duration
from novictl.store.outbox import Delivery
from novictl.store.records import Event, InstanceRecord

if TYPE_CHECKING:
    from novictl.store.base import StateStore

__all__ = [
    "AUTOSTOP_PENDING",
    "AUTO_STOPPED",
    "CREATED",
    "DATA_EXPIRING",
    "DELETED",
    "DISCOVERED",
    "EVENT_TYPES",
    "PINNED",
    "POLICY_CHANGED",
    "READY",
    "SPOT_RECLAIM_NOTICE",
    "STATUS_CHANGED",
    "STOPPED",
    "STOPPED_BY",
    "STOP_FAILED",
    "TERMINATED",
    "UNPINNED",
    "WEBHOOK_TEST",
    "WEBHOOK_TYPES",
    "body_json",
    "deliveries_for",
    "describe_event",
    "event_summary",
    "event_view",
    "instance_event",
    "instance_snapshot",
    "keep_alive_hints",
    "record_events",
    "webhook_body",
]

CREATED = "instance.created"
STATUS_CHANGED = "instance.status_changed"
READY = "instance.ready"
"""Reached ``running`` after a create or a start."""
STOPPED = "instance.stopped"
"""Any stop novictl made; ``data.stoppedBy`` says who (``user|autostop|stop-all|max-runtime``)."""
AUTOSTOP_PENDING = "instance.autostop_pending"
"""Auto-stop stops it at ``data.stopAt`` unless it is used, touched or pinned (once per idle period)."""
AUTO_STOPPED = "instance.auto_stopped"
"""Auto-stop stopped it, with the idle time and threshold (besides ``instance.stopped``)."""
STOP_FAILED = "instance.stop_failed"
DELETED = "instance.deleted"
TERMINATED = "instance.terminated"
"""Gone from Novita (deleted elsewhere, or reclaimed); found by a sync."""
DISCOVERED = "instance.discovered"
"""Made elsewhere and adopted, so auto-stop covers it."""
PINNED = "instance.pinned"
UNPINNED = "instance.unpinned"
POLICY_CHANGED = "instance.autostop_policy_changed"
DATA_EXPIRING = "instance.data_expiring"
"""A stopped instance's data is kept only until ``data.dataKeptUntil`` (a day from now, or less)."""
SPOT_RECLAIM_NOTICE = "instance.spot_reclaim_notice"
"""Novita gave a spot instance its notice: it is reclaimed at ``data.reclaimAt`` (about an hour)."""
WEBHOOK_TEST = "webhook.test"
"""Sent by ``novictl webhooks test`` only; never stored."""

EVENT_TYPES: tuple[str, ...] = (
    CREATED, STATUS_CHANGED, READY, STOPPED, AUTOSTOP_PENDING, AUTO_STOPPED, STOP_FAILED, DELETED,
    TERMINATED, DISCOVERED, PINNED, UNPINNED, POLICY_CHANGED, DATA_EXPIRING, SPOT_RECLAIM_NOTICE,
)  # fmt: skip
"""Every type of the event log."""

WEBHOOK_TYPES: frozenset[str] = frozenset({
    CREATED, STATUS_CHANGED, READY, STOPPED, AUTOSTOP_PENDING, AUTO_STOPPED, STOP_FAILED, DELETED, TERMINATED,
    DATA_EXPIRING, SPOT_RECLAIM_NOTICE,
})  # fmt: skip
"""The events that are also posted to the webhook destinations."""

STOPPED_BY: tuple[str, ...] = ("user", "autostop", "stop-all", "max-runtime")


def instance_snapshot(record: InstanceRecord) -> dict[str, Any]:
    """The instance as a webhook receiver sees it (camelCase; never its webhook URL)."""
    return {
        "id": record.id,
        "name": record.name,
        "status": record.status,
        "region": record.region,
        "productId": record.product_id,
        "productName": record.product_name,
        "gpuCount": record.gpu_count,
        "pricePerHour": record.price_per_hour,
        "lastStartedAt": iso_or_none(record.last_started_at),
        "lastStoppedAt": iso_or_none(record.last_stopped_at),
        "lastUsedAt": iso_or_none(record.last_used_at),
        "stoppedBy": record.stopped_by,
        "pinnedUntil": iso_or_none(record.pinned_until),
    }


def instance_event(kind: str, record: InstanceRecord, *, actor: str, now: datetime, **data: Any) -> Event:
    """The one way to make an event about an instance: ``record`` as it is *after* what happened (the
    snapshot in the body), ``actor`` who did it (``user``, ``autostop``, ``sync``, ``daemon`` …), ``data``
    the details (camelCase keys)."""
    return Event(
        type=kind,
        occurred_at=now,
        instance_id=record.id,
        actor=actor,
        data={"name": record.name, **data},
        instance=instance_snapshot(record),
        webhook_url=record.webhook_url,
    )


def keep_alive_hints(instance_id: str) -> dict[str, str]:
    """How to keep an instance auto-stop is about to stop (the ``keep`` of ``instance.autostop_pending``)."""
    return {
        "touch": f"novictl touch {instance_id}",
        "pin": f"novictl autostop pin {instance_id} --for 2h",
        "ping": f"PUT /api/instances/{instance_id}/last-used",
    }


def webhook_body(event: Event) -> dict[str, Any]:
    """What a webhook receiver gets."""
    return {
        "id": event.id,
        "type": event.type,
        "occurredAt": event.occurred_at.isoformat(),
        "instance": event.instance,
        "data": {"actor": event.actor, **event.data},
    }


def body_json(event: Event) -> str:
    """The exact bytes (as text) of a webhook body: compact JSON."""
    return json.dumps(webhook_body(event), separators=(",", ":"), default=str)


def event_view(event: Event) -> dict[str, Any]:
    """An event as ``novictl events --json`` and ``GET /api/events`` show it (stable camelCase keys)."""
    return {
        "id": event.id,
        "type": event.type,
        "occurredAt": event.occurred_at.isoformat(),
        "instanceId": event.instance_id,
        "actor": event.actor,
        "instance": event.instance,
        "data": event.data,
    }


def _minutes(seconds: Any) -> str:
    return f"{float(seconds) / 60:.0f}m" if isinstance(seconds, int | float) else "?"


def describe_event(event: Event) -> str:
    """One line of what happened, for tables (``stopped by autostop``, ``idle 37m >= 20m`` …)."""
    data = event.data
    kind = event.type
    if kind in (STOPPED, STOP_FAILED):
        text = f"by {data.get('stoppedBy') or event.actor}"
        error = data.get("error")
        if kind == STOP_FAILED and isinstance(error, dict):
            text += f": {error.get('message', '')}"
        return text
    if kind == AUTO_STOPPED:
        idle, threshold = _minutes(data.get("idleSeconds")), _minutes(data.get("thresholdSeconds"))
        return f"{data.get('stoppedBy') or 'autostop'}: idle {idle} >= {threshold}"
    if kind == AUTOSTOP_PENDING:
        return f"stops at {data.get('stopAt')} unless used, touched or pinned"
    if kind in (STATUS_CHANGED, READY, TERMINATED):
        target = data.get("to") or (event.instance or {}).get("status")
        return f"{data.get('from', '?')} -> {target}"
    if kind in (DISCOVERED, CREATED):
        where = data.get("region") or (event.instance or {}).get("region")
        return f"{data.get('status') or (event.instance or {}).get('status')} in {where or '?'}"
    if kind == PINNED:
        return f"until {data.get('pinnedUntil')}"
    if kind == DATA_EXPIRING:
        return f"data kept until {data.get('dataKeptUntil')}"
    if kind == SPOT_RECLAIM_NOTICE:
        return f"spot reclaim at {data.get('reclaimAt')}"
    if kind == POLICY_CHANGED:
        if data.get("disabled"):
            return "auto-stop off"
        return f"idle threshold {data.get('idleMinutes') or 'default'}"
    return ""


def _span(seconds: Any) -> str:
    return format_duration(float(seconds)) if isinstance(seconds, int | float) else "?"


def _when(value: Any) -> str:
    """An ISO-8601 stamp as ``2024-05-01 14:05 UTC``; anything else as it is."""
    if not isinstance(value, str):
        return "?" if value is None else str(value)
    try:
        stamp = datetime.fromisoformat(value)
    except ValueError:
        return value
    return as_utc(stamp).strftime("%Y-%m-%d %H:%M UTC")


def _summary_of_status(event: Event) -> str:
    data = event.data
    was = data.get("from") or "?"
    to = data.get("to") or (event.instance or {}).get("status") or "?"
    if event.type == READY:
        return f"ready: running (was {was})"
    if event.type == TERMINATED:
        return f"gone from Novita (was {was})"
    action = data.get("action")
    return f"{action} requested: {was} → {to}" if action else f"status {was} → {to}"


def event_summary(event: Event) -> str:
    """What happened, in one line a person reads (the web page's event list): durations as ``1m``,
    times as ``2024-05-01 14:05 UTC``, no raw JSON."""
    data = event.data
    kind = event.type
    who = data.get("stoppedBy") or event.actor or "?"
    if kind == STOPPED:
        return f"stopped by {who}"
    if kind == STOP_FAILED:
        error = data.get("error")
        reason = error.get("message") if isinstance(error, dict) else None
        return f"stop by {who} failed" + (f": {reason}" if reason else "")
    if kind == AUTO_STOPPED:
        idle, threshold = _span(data.get("idleSeconds")), _span(data.get("thresholdSeconds"))
        return f"auto-stopped after {idle} idle (threshold {threshold})"
    if kind == AUTOSTOP_PENDING:
        return f"auto-stop at {_when(data.get('stopAt'))} unless used, touched or pinned"
    if kind in (STATUS_CHANGED, READY, TERMINATED):
        return _summary_of_status(event)
    if kind in (CREATED, DISCOVERED):
        status = data.get("status") or (event.instance or {}).get("status") or "?"
        where = data.get("region") or (event.instance or {}).get("region") or "?"
        if kind == CREATED:
            return f"created ({status} in {where})"
        return f"found on Novita ({status} in {where}); auto-stop covers it now"
    if kind == DELETED:
        return f"deletion requested by {event.actor or '?'}"
    if kind == PINNED:
        return f"pinned until {_when(data.get('pinnedUntil'))}"
    if kind == UNPINNED:
        return "unpinned: idle time counts from now"
    if kind == DATA_EXPIRING:
        until = _when(data.get("dataKeptUntil"))
        return f"stopped; Novita deletes its data after {until}: start it to keep it"
    if kind == SPOT_RECLAIM_NOTICE:
        return f"spot notice: Novita takes it back at {_when(data.get('reclaimAt'))}"
    if kind == POLICY_CHANGED:
        if data.get("disabled"):
            return "auto-stop turned off"
        minutes = data.get("idleMinutes")
        return f"idle threshold set to {minutes} min" if minutes else "idle threshold back to the default"
    return kind


def deliveries_for(events: Sequence[Event]) -> list[Delivery]:
    """The outbox entries of ``events``: for each webhook event, one to the configured ``webhook.url``
    (resolved when it is sent) and one to the instance's own URL when it has one."""
    deliveries: list[Delivery] = []
    for event in events:
        if event.type not in WEBHOOK_TYPES:
            continue
        body = body_json(event)
        for url in (None, event.webhook_url) if event.webhook_url else (None,):
            deliveries.append(
                Delivery(
                    event_id=event.id,
                    event_type=event.type,
                    instance_id=event.instance_id,
                    url=url,
                    body=body,
                    created_at=event.occurred_at,
                    next_attempt_at=event.occurred_at,
                )
            )
    return deliveries


async def record_events(store: StateStore, events: Sequence[Event]) -> None:
    """Append ``events`` to the log and queue their webhooks, in one store call."""
    if events:
        await store.append_events(list(events), deliveries=deliveries_for(events))
