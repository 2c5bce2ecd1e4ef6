"""Instance lifecycle over real HTTP: statuses advance by elapsed time, operations are policed."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from novictl.emulator import EmulatorConfig

CREATE_BODY: dict[str, Any] = {
    "productId": "4090.16c62g",
    "gpuNum": 1,
    "rootfsSize": 50,
    "imageUrl": "pytorch/pytorch:2.3.0-cuda12.1-cudnn8-devel",
    "kind": "gpu",
    "name": "trainer",
    "ports": "8888/http, 22/tcp",
}


class ManualClock:
    """Unix seconds that move only when told to."""

    def __init__(self, start: float = 1_750_000_000.0):
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def status_of(client: httpx.Client, instance_id: str) -> str:
    response = client.get("/gpu/instance", params={"instanceId": instance_id})
    assert response.status_code == 200, response.text
    status: str = response.json()["status"]
    return status


def wait_for(client: httpx.Client, instance_id: str, status: str, timeout: float = 3.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = client.get("/gpu/instance", params={"instanceId": instance_id})
        if response.status_code == 200 and response.json()["status"] == status:
            data: dict[str, Any] = response.json()
            return data
        time.sleep(0.01)
    raise AssertionError(f"{instance_id} never reached {status}")


def create(client: httpx.Client, **changes: Any) -> str:
    response = client.post("/gpu/instance/create", json={**CREATE_BODY, **changes})
    assert response.status_code == 200, response.text
    instance_id: str = response.json()["id"]
    return instance_id


def test_create_runs_through_to_running(emulator_client: httpx.Client) -> None:
    instance_id = create(emulator_client)
    assert len(instance_id) == 16
    assert all(c in "0123456789abcdef" for c in instance_id)
    first = status_of(emulator_client, instance_id)
    assert first in ("toCreate", "creating", "pulling")
    running = wait_for(emulator_client, instance_id, "running")
    assert running["lastStartedAt"] != "0"
    assert running["connectComponentSSH"]["isRunning"] is True
    assert running["gpuNum"] == "1"
    assert running["cpuNum"] == "16"
    assert running["memory"] == "62"


def test_full_lifecycle_with_manual_clock(emulator_factory: Any) -> None:
    clock = ManualClock()
    server = emulator_factory(clock=clock, step_delay=10)
    with httpx.Client(
        base_url=server.base_url, headers={"Authorization": f"Bearer {server.api_key}"}
    ) as client:
        instance_id = create(client)
        seen = [status_of(client, instance_id)]
        for _ in range(3):
            clock.advance(10)
            seen.append(status_of(client, instance_id))
        assert seen == ["toCreate", "creating", "pulling", "running"]
        created = client.get("/gpu/instance", params={"instanceId": instance_id}).json()
        assert created["createdAt"] == "1750000000"
        assert created["lastStartedAt"] == "1750000030"
        assert created["lastStoppedAt"] == "0"

        assert client.post("/gpu/instance/stop", json={"instanceId": instance_id}).status_code == 200
        seen = [status_of(client, instance_id)]
        for _ in range(2):
            clock.advance(10)
            seen.append(status_of(client, instance_id))
        assert seen == ["toStop", "stopping", "exited"]
        assert client.get("/gpu/instance", params={"instanceId": instance_id}).json()["lastStoppedAt"] == str(
            int(clock.now)
        )

        assert client.post("/gpu/instance/start", json={"instanceId": instance_id}).status_code == 200
        seen = [status_of(client, instance_id)]
        for _ in range(2):
            clock.advance(10)
            seen.append(status_of(client, instance_id))
        assert seen == ["toStart", "starting", "running"]
        restarted_at = int(clock.now)
        assert client.get("/gpu/instance", params={"instanceId": instance_id}).json()["lastStartedAt"] == str(
            restarted_at
        )

        assert client.post("/gpu/instance/restart", json={"instanceId": instance_id}).status_code == 200
        seen = [status_of(client, instance_id)]
        for _ in range(2):
            clock.advance(10)
            seen.append(status_of(client, instance_id))
        assert seen == ["toRestart", "restarting", "running"]

        assert client.post("/gpu/instance/delete", json={"instanceId": instance_id}).status_code == 200
        seen = [status_of(client, instance_id)]
        for _ in range(2):
            clock.advance(10)
            seen.append(status_of(client, instance_id))
        assert seen == ["toRemove", "removing", "removed"]
        listed = client.get("/gpu/instances", params={"pageSize": 10}).json()
        assert [item["id"] for item in listed["instances"]] == [instance_id]
        clock.advance(10)
        gone = client.get("/gpu/instance", params={"instanceId": instance_id})
        assert gone.status_code == 404
        assert gone.json()["code"] == 404
        assert client.get("/gpu/instances").json() == {"instances": [], "total": 0}


def test_stop_start_delete_over_real_time(emulator_client: httpx.Client) -> None:
    instance_id = create(emulator_client)
    wait_for(emulator_client, instance_id, "running")
    assert emulator_client.post("/gpu/instance/stop", json={"instanceId": instance_id}).json() == {}
    stopped = wait_for(emulator_client, instance_id, "exited")
    assert stopped["lastStoppedAt"] != "0"
    assert stopped["connectComponentSSH"]["isRunning"] is False
    emulator_client.post("/gpu/instance/start", json={"instanceId": instance_id})
    wait_for(emulator_client, instance_id, "running")
    emulator_client.post("/gpu/instance/delete", json={"instanceId": instance_id})
    deadline = time.monotonic() + 3
    while emulator_client.get("/gpu/instance", params={"instanceId": instance_id}).status_code != 404:
        assert time.monotonic() < deadline, "the deleted instance never disappeared"
        time.sleep(0.01)
    assert emulator_client.get("/gpu/instances").json()["total"] == 0


@pytest.mark.parametrize(
    ("status", "operation"),
    [
        ("running", "start"),
        ("starting", "start"),
        ("exited", "stop"),
        ("exited", "restart"),
        ("stopping", "restart"),
        ("removing", "delete"),
        ("removed", "delete"),
    ],
)
def test_forbidden_operations_answer_invalid_state_change(
    emulator: Any, emulator_client: httpx.Client, status: str, operation: str
) -> None:
    instance_id = create(emulator_client)
    emulator.state.set_status(instance_id, status)
    response = emulator_client.post(f"/gpu/instance/{operation}", json={"instanceId": instance_id})
    assert response.status_code == 400
    assert response.json()["message"] == "invalid state change"
    assert response.json()["code"] == 400
    assert status_of(emulator_client, instance_id) == status


@pytest.mark.parametrize("status", ["pulling", "starting", "running"])
def test_stop_is_allowed_while_coming_up(emulator: Any, emulator_client: httpx.Client, status: str) -> None:
    instance_id = create(emulator_client)
    emulator.state.set_status(instance_id, status)
    assert emulator_client.post("/gpu/instance/stop", json={"instanceId": instance_id}).status_code == 200
    assert status_of(emulator_client, instance_id) in ("toStop", "stopping", "exited")


def test_unknown_instance_is_404_everywhere(emulator_client: httpx.Client) -> None:
    assert emulator_client.get("/gpu/instance", params={"instanceId": "0123456789abcdef"}).status_code == 404
    for operation in ("start", "stop", "restart", "delete"):
        response = emulator_client.post(f"/gpu/instance/{operation}", json={"instanceId": "0123456789abcdef"})
        assert response.status_code == 404
        assert response.json()["reason"] == "NOT_FOUND"


def test_missing_instance_id_is_a_validation_error(emulator_client: httpx.Client) -> None:
    assert emulator_client.get("/gpu/instance").json()["reason"] == "VALIDATOR_PARAM"
    response = emulator_client.post("/gpu/instance/stop", json={})
    assert response.status_code == 400
    assert response.json()["reason"] == "VALIDATOR_PARAM"


def test_zero_step_delay_finishes_at_once(emulator_factory: Any) -> None:
    server = emulator_factory(EmulatorConfig(api_key="k", step_delay=0))
    with httpx.Client(base_url=server.base_url, headers={"Authorization": "Bearer k"}) as client:
        instance_id = create(client)
        assert status_of(client, instance_id) == "running"
        client.post("/gpu/instance/stop", json={"instanceId": instance_id})
        assert status_of(client, instance_id) == "exited"
