"""Novita's list items carry SSH passwords; the daemon's API must never hand one back."""

from __future__ import annotations

from typing import Any

from tests.fixtures.daemon import seed_running


async def test_the_api_never_returns_an_ssh_password(daemon_harness: Any, emulator: Any) -> None:
    harness = await daemon_harness()
    ids = seed_running(emulator, 3)
    listed, _ = emulator.state.list_instances(page_size=10, page_index=0)
    passwords = {item["sshPassword"] for item in listed}
    assert len(passwords) == 3

    bodies = [
        (await harness.http.post("/api/instances/sync", json={})).text,
        (await harness.http.get("/api/instances")).text,
        *[(await harness.http.get(f"/api/instances/{instance_id}")).text for instance_id in ids],
        (await harness.http.get("/api/events?limit=100")).text,
    ]
    assert ids[0] in bodies[1]
    assert not [password for password in passwords if any(password in body for body in bodies)]
