"""The pin routes the page's Pin 1h / Unpin buttons call: ``POST /api/instances/{idOrName}/pin|unpin``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from novictl.clock import FrozenClock
from tests.fixtures.daemon import seed_running


async def test_pin_for_a_duration_or_until_a_time_then_unpin(daemon_harness, emulator) -> None:
    clock = FrozenClock(datetime(2030, 5, 1, 12, 0, tzinfo=UTC))
    harness = await daemon_harness(clock=clock)
    (instance_id,) = seed_running(emulator, 1)
    assert (await harness.http.post("/api/instances/sync", json={})).status_code == 200
    name = (await harness.ctx.store.get(instance_id)).name

    pinned = await harness.http.post(f"/api/instances/{name}/pin", json={"for": "1h"})
    assert pinned.status_code == 200, pinned.text
    assert pinned.json()["pinnedUntil"] == "2030-05-01T13:00:00+00:00"
    assert pinned.json()["autoStop"]["label"] == "pinned until 13:00 UTC"
    assert (await harness.ctx.store.get(instance_id)).pinned_until == clock.now() + timedelta(hours=1)

    until = await harness.http.post(
        f"/api/instances/{instance_id}/pin", json={"until": "2030-05-02T08:30:00"}
    )
    assert until.json()["pinnedUntil"] == "2030-05-02T08:30:00+00:00"  # no zone means UTC

    unpinned = await harness.http.post(f"/api/instances/{instance_id}/unpin")
    assert unpinned.status_code == 200
    assert unpinned.json()["pinnedUntil"] is None
    assert "pinned" not in unpinned.json()["autoStop"]["label"]
    assert (await harness.ctx.store.get(instance_id)).pinned_until is None


async def test_pin_refuses_bad_bodies_and_unknown_instances(daemon_harness, emulator) -> None:
    harness = await daemon_harness()
    (instance_id,) = seed_running(emulator, 1)
    assert (await harness.http.post("/api/instances/sync", json={})).status_code == 200
    url = f"/api/instances/{instance_id}/pin"
    for body in ({}, {"for": "1h", "until": "2031-01-01T00:00:00Z"}, {"for": "soon"}, {"for": "0s"}):
        answer = await harness.http.post(url, json=body)
        assert answer.status_code == 400, (body, answer.text)
        assert answer.json()["error"]["code"] == "usage"
    past = await harness.http.post(url, json={"until": "2001-01-01T00:00:00Z"})
    assert past.status_code == 400
    assert "past" in past.json()["error"]["message"]
    assert (await harness.ctx.store.get(instance_id)).pinned_until is None

    missing = await harness.http.post("/api/instances/no-such-instance/pin", json={"for": "1h"})
    assert missing.status_code == 404
    assert (await harness.http.post("/api/instances/no-such-instance/unpin")).status_code == 404
