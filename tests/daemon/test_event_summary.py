"""``GET /api/events`` gives every event a ``summary`` a person reads: no raw floats, ISO stamps or JSON."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from novictl.core import events
from novictl.store.records import InstanceRecord
from tests.fixtures.daemon import seed_running

NOW = datetime(2024, 5, 1, 14, 5, 30, tzinfo=UTC)
RECORD = InstanceRecord(id="i-1", name="box", status="exited", region="EU-1", first_seen_at=NOW)


def summary(kind: str, **data) -> str:
    return events.event_summary(events.instance_event(kind, RECORD, actor="autostop", now=NOW, **data))


def test_summaries_read_like_sentences() -> None:
    assert summary(events.AUTO_STOPPED, idleSeconds=62.485918, thresholdSeconds=60) == (
        "auto-stopped after 1m idle (threshold 1m)"
    )
    assert summary(events.STOPPED, stoppedBy="stop-all") == "stopped by stop-all"
    assert summary(events.AUTOSTOP_PENDING, stopAt="2024-05-01T14:25:00+00:00") == (
        "auto-stop at 2024-05-01 14:25 UTC unless used, touched or pinned"
    )
    assert summary(events.PINNED, pinnedUntil="2024-05-01T15:05:30.123+00:00") == (
        "pinned until 2024-05-01 15:05 UTC"
    )
    failed = summary(
        events.STOP_FAILED, stoppedBy="autostop", error={"code": "x", "message": "Novita said no"}
    )
    assert failed == "stop by autostop failed: Novita said no"
    assert summary(events.STATUS_CHANGED, **{"from": "exited", "to": "toStart", "action": "start"}) == (
        "start requested: exited → toStart"
    )
    assert summary(events.READY, **{"from": "toStart"}) == "ready: running (was toStart)"
    assert summary(events.POLICY_CHANGED, idleMinutes=45, disabled=False) == "idle threshold set to 45 min"
    assert summary(events.DISCOVERED, status="running").startswith("found on Novita")


async def test_the_events_route_carries_the_summary(daemon_harness, emulator) -> None:
    harness = await daemon_harness()
    (instance_id,) = seed_running(emulator, 1)
    assert (await harness.http.post("/api/instances/sync", json={})).status_code == 200
    await harness.http.post(f"/api/instances/{instance_id}/pin", json={"for": "1h"})
    await harness.http.post(f"/api/instances/{instance_id}/stop")
    listed = (await harness.http.get("/api/events", params={"instanceId": instance_id})).json()["events"]
    by_type = {e["type"]: e["summary"] for e in listed}
    assert by_type["instance.stopped"] == "stopped by user"
    assert re.fullmatch(r"pinned until \d{4}-\d\d-\d\d \d\d:\d\d UTC", by_type["instance.pinned"])
    assert by_type["instance.discovered"].startswith("found on Novita (running")
