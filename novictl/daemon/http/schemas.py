"""Request bodies of the HTTP API (camelCase on the wire) and the JSON views of records and events.

Bodies ignore fields they do not know, so the seed service's clients (which may send more) keep working.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator
from pydantic.alias_generators import to_camel

from novictl.clock import as_utc, iso_or_none
from novictl.core.autostop_policy import AutoStopSettingsLike
from novictl.store.records import Event, InstanceRecord

__all__ = [
    "CreateBody",
    "InstanceNameBody",
    "PinBody",
    "PingAnswer",
    "PingBody",
    "StopAllBody",
    "SyncBody",
    "TriggerBody",
    "event_view",
    "record_view",
]


class _Body(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")


class PingBody(_Body):
    """``PUT /api/instances/{idOrName}/last-used``: when the instance was used (default: now)."""

    last_used_at: datetime | None = Field(None, description="ISO-8601; a time without a zone is UTC")
    source: str | None = Field(None, max_length=64, description="Who pinged (shown in reports)")

    @field_validator("last_used_at")
    @classmethod
    def _as_utc(cls, value: datetime | None) -> datetime | None:
        # A ValueError (a time past year 9999 once in UTC) becomes a 400 naming the field, not a 500.
        return None if value is None else as_utc(value)


class PingAnswer(_Body):
    """What a ping answers (documented in the OpenAPI; the route writes it directly)."""

    instance_id: str
    last_used_at: datetime
    message: str


class TriggerBody(_Body):
    """``POST /api/instances/auto-stop/trigger``: dry run unless ``dryRun`` is false."""

    dry_run: bool = True


class SyncBody(_Body):
    dry_run: bool = False
    handle_obsolete_instances: bool = True


class StopAllBody(_Body):
    """``POST /api/instances/stop-all``: every running instance, or only ``instanceIds`` (those still
    running)."""

    dry_run: bool = False
    instance_ids: list[Annotated[str, Field(min_length=1, max_length=256)]] | None = Field(
        None, max_length=1000, description="Stop only these (the ones still running); default: every one"
    )


class PinBody(_Body):
    """``POST /api/instances/{idOrName}/pin``: ``{"for": "1h"}`` or ``{"until": ISO-8601}`` (exactly one)."""

    for_: str | None = Field(None, alias="for", max_length=64, description="How long, e.g. 1h or 90m")
    until: datetime | None = Field(None, description="ISO-8601; a time without a zone is UTC")

    @field_validator("until")
    @classmethod
    def _as_utc(cls, value: datetime | None) -> datetime | None:
        return PingBody._as_utc(value)


class InstanceNameBody(_Body):
    """The seed's name-based lifecycle routes: ``{"instanceName": …}`` (an id works too)."""

    instance_name: str = Field(
        min_length=1, max_length=256, validation_alias=AliasChoices("instanceName", "instanceId", "name")
    )


class CreateBody(_Body):
    """``POST /api/instances``: the same choices as ``novictl create``."""

    name: str = Field(min_length=1, max_length=128)
    product_id: str | None = Field(None, max_length=256)
    gpu: str | None = Field(
        None, max_length=128, description="GPU name; the cheapest fitting product is used"
    )
    regions: list[str] = Field(default_factory=list, max_length=50)
    billing: str = "onDemand"
    image: str | None = Field(None, max_length=1024)
    template_id: str | None = Field(None, max_length=256)
    gpus: int = Field(1, ge=1, le=8)
    disk_gb: int | None = Field(None, ge=10, le=100_000)
    ports: list[str] = Field(default_factory=list, max_length=50)
    envs: dict[str, str] = Field(default_factory=dict, max_length=100)
    webhook_url: str | None = Field(None, max_length=2048)
    allow_duplicate_name: bool = False


def record_view(
    record: InstanceRecord, autostop: AutoStopSettingsLike, now: datetime, *, detail: bool = False
) -> dict[str, Any]:
    """One instance as the API shows it: ``novictl list --json``'s shape (``show``'s with ``detail``), plus
    the auto-stop outlook. Webhook URLs stay masked: URLs like Slack's are secrets in themselves."""
    from novictl.core.instance_view import instance_detail, instance_summary

    data = instance_detail(record, None, now, autostop) if detail else instance_summary(record, now, autostop)
    data.update(
        {
            "instanceId": record.id,
            "terminatedAt": iso_or_none(record.terminated_at),
            "pinnedUntil": iso_or_none(record.pinned_until),
        }
    )
    return data


def event_view(event: Event) -> dict[str, Any]:
    """An event as ``GET /api/events`` shows it: ``novictl events --json``'s shape plus ``summary``, one
    line a person reads (the page shows it instead of the raw ``data``)."""
    from novictl.core.events import event_summary
    from novictl.core.events import event_view as audit_view

    return {**audit_view(event), "summary": event_summary(event)}
