"""How an instance is presented: the JSON shapes of ``list`` and ``show`` (stable camelCase keys) and the
small text helpers their tables use. Pure functions of a record (plus, for ``show``, the live instance)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from novictl.clock import iso_or_none
from novictl.core.autostop_policy import AutoStopSettingsLike, describe_autostop
from novictl.core.durations import format_duration
from novictl.core.record_mapping import RUNNING, data_kept_until
from novictl.redact import mask_url

if TYPE_CHECKING:
    from novictl.novita.models import Instance
    from novictl.store.records import InstanceRecord

__all__ = [
    "ago",
    "gpu_label",
    "instance_detail",
    "instance_summary",
    "mask_webhook",
    "money",
]


def ago(when: datetime | None, now: datetime, *, never: str = "never") -> str:
    """``"12m ago"`` (or ``never``)."""
    if when is None:
        return never
    return f"{format_duration(max(0.0, (now - when).total_seconds()))} ago"


def gpu_label(record: InstanceRecord) -> str:
    """``8x RTX 4090 24GB``: the count matters, it multiplies the price."""
    gpu = record.product_name or record.product_id or ""
    return f"{record.gpu_count}x {gpu}" if record.gpu_count > 1 else gpu


def money(price: float | None, *, suffix: str = "") -> str:
    """``"$0.35"`` (or ``"?"`` when the price is unknown)."""
    return "?" if price is None else f"${price:.2f}{suffix}"


def mask_webhook(url: str | None) -> str | None:
    """Only the scheme and host of a webhook URL: its path is often the secret (Slack, Discord …)."""
    return mask_url(url, hide_path=True) if url else None


def instance_summary(record: InstanceRecord, now: datetime, autostop: AutoStopSettingsLike) -> dict[str, Any]:
    """One instance as ``novictl list --json`` and ``GET /api/instances`` show it. Idle time and the
    auto-stop outlook come from the auto-stop policy itself, so every face agrees with what it will do."""
    outlook = describe_autostop(record, autostop, now)
    idle = outlook.idle_seconds if record.status == RUNNING else None
    return {
        "id": record.id,
        "name": record.name,
        "status": record.status,
        "productId": record.product_id,
        "gpu": record.product_name,
        "gpuCount": record.gpu_count,
        "region": record.region,
        "pricePerHour": record.price_per_hour,
        "billingMode": record.billing_mode,
        "createdAt": iso_or_none(record.created_at),
        "lastStartedAt": iso_or_none(record.last_started_at),
        "lastStoppedAt": iso_or_none(record.last_stopped_at),
        "lastUsedAt": iso_or_none(record.last_used_at),
        "lastUsedSource": record.last_used_source,
        "lastGpuPercent": record.last_gpu_percent if record.status == RUNNING else None,
        "lastGpuAt": iso_or_none(record.last_gpu_at) if record.status == RUNNING else None,
        "idleSeconds": None if idle is None else round(idle),
        "stoppedBy": record.stopped_by,
        "stoppedPricePerHour": record.stopped_price_per_hour,
        "dataKeptUntil": iso_or_none(data_kept_until(record)),
        "spotReclaimAt": iso_or_none(record.spot_reclaim_at) if record.spot_status == "notified" else None,
        "lastSyncedAt": iso_or_none(record.last_synced_at),
        "autoStop": outlook.to_dict(),
    }


def instance_detail(
    record: InstanceRecord, live: Instance | None, now: datetime, autostop: AutoStopSettingsLike
) -> dict[str, Any]:
    """Everything ``novictl show`` knows: the summary, Novita's details and novictl's own fields.

    Never includes a password (the SSH one stays inside the client model) nor a webhook URL's path.
    """
    data = instance_summary(record, now, autostop)
    ssh = live.connect_component_ssh if live else None
    error = live.status_error if live else None
    data.update(
        {
            "live": live is not None,
            "imageUrl": (live.image_url if live else None) or record.image_url,
            "ports": [
                {"port": p.port, "type": p.type, "endpoint": p.endpoint}
                for p in (live.port_mappings if live else [])
            ],
            "sshCommand": ssh.ssh_command if ssh else None,
            "keepDataDay": live.keep_data_day if live else None,
            "cpuCount": live.cpu_num if live else None,
            "memoryGb": live.memory if live else None,
            "rootfsSizeGb": live.rootfs_size if live else None,
            "statusError": error.message if error and error.message else None,
            "firstSeenAt": iso_or_none(record.first_seen_at),
            "webhookUrl": mask_webhook(record.webhook_url),
            "autostop": {
                "idleMinutes": record.autostop_idle_minutes,
                "disabled": record.autostop_disabled,
                "pinnedUntil": iso_or_none(record.pinned_until),
            },
        }
    )
    return data
