"""Call counters, the /_emulator/ control API and the Python state API behind it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from novictl.emulator import EmulatorConfig, FaultConfig

CREATE = {"productId": "4090.16c62g", "gpuNum": 1, "rootfsSize": 20, "imageUrl": "img", "kind": "gpu"}


@pytest.fixture
def ctl(emulator: Any) -> Iterator[httpx.Client]:
    """A client for the control API."""
    with httpx.Client(base_url=emulator.url + "/_emulator") as client:
        yield client


def test_counters_per_endpoint_and_per_instance(emulator: Any, emulator_client: httpx.Client) -> None:
    instance_id = emulator_client.post("/gpu/instance/create", json=CREATE).json()["id"]
    emulator.state.set_status(instance_id, "running")
    emulator.state.script_fault("status", status=503, path="/gpu/instance/stop")
    assert emulator_client.post("/gpu/instance/stop", json={"instanceId": instance_id}).status_code == 503
    assert emulator_client.post("/gpu/instance/stop", json={"instanceId": instance_id}).status_code == 200
    emulator_client.get("/gpu/instance", params={"instanceId": instance_id})
    emulator_client.get("/gpu/instances", params={"pageSize": 5})
    emulator_client.get("/gpu/instances")

    state = emulator.state
    assert state.calls["POST /gpu/instance/create"] == 1
    assert state.calls["POST /gpu/instance/stop"] == 2  # the faulted one counts too
    assert state.calls["GET /gpu/instances"] == 2
    assert state.instance_calls[instance_id] == {"create": 1, "stop": 2, "get": 1}
    assert state.instance_calls["0000000000000000"]["stop"] == 0

    served = httpx.get(emulator.url + "/_emulator/calls").json()
    assert served["calls"]["POST /gpu/instance/stop"] == 2
    assert served["instanceCalls"][instance_id]["stop"] == 2

    assert httpx.post(emulator.url + "/_emulator/calls/reset").status_code == 200
    assert sum(state.calls.values()) == 0
    assert state.instance_calls[instance_id]["stop"] == 0


def test_control_routes(emulator: Any, emulator_client: httpx.Client, ctl: httpx.Client) -> None:
    ids = ctl.post("/instances", json={"count": 3}).json()["ids"]
    assert len(ids) == 3
    assert emulator_client.get("/gpu/instances").json()["total"] == 3
    assert ctl.get("/health").json() == {"status": "ok", "instances": 3}

    forced = ctl.post(f"/instances/{ids[0]}/status", json={"status": "exited"})
    assert forced.json()["status"] == "exited"
    assert emulator_client.get("/gpu/instance", params={"instanceId": ids[0]}).json()["status"] == "exited"
    assert ctl.post(f"/instances/{ids[0]}/status", json={"status": "asleep"}).status_code == 400
    assert ctl.post("/instances/ffffffffffffffff/status", json={"status": "exited"}).status_code == 404

    assert ctl.delete(f"/instances/{ids[1]}").status_code == 204
    assert emulator_client.get("/gpu/instance", params={"instanceId": ids[1]}).status_code == 404
    assert emulator_client.get("/gpu/instances").json()["total"] == 2
    assert ctl.delete(f"/instances/{ids[1]}").status_code == 404

    faults = ctl.put("/faults", json={"rate_5xx": 1.0, "status_5xx": 502}).json()
    assert (faults["rate_5xx"], faults["status_5xx"]) == (1.0, 502)
    assert emulator_client.get("/clusters").status_code == 502
    assert ctl.put("/faults", json={"rate_429": 2}).status_code == 422
    assert ctl.put("/faults", json={}).json()["rate_5xx"] == 0.0
    assert emulator_client.get("/clusters").status_code == 200

    scripted = ctl.post("/faults/script", json={"kind": "status", "status": 429, "count": 2})
    assert scripted.json()["script"][0]["remaining"] == 2
    response = emulator_client.get("/clusters")
    assert (response.status_code, response.headers["Retry-After"]) == (429, "1")
    assert ctl.get("/faults").json()["script"][0]["remaining"] == 1
    assert ctl.delete("/faults/script").status_code == 204
    assert emulator_client.get("/clusters").status_code == 200

    assert ctl.post("/reset").status_code == 200
    assert ctl.get("/calls").json() == {"calls": {}, "instanceCalls": {}}
    assert emulator_client.get("/gpu/instances").json()["total"] == 0


def test_an_html_fault_answers_like_a_proxy_in_front(
    ctl: httpx.Client, emulator_client: httpx.Client
) -> None:
    ctl.post("/faults/script", json={"kind": "html", "status": 404, "path": "/gpu/instance"})
    response = emulator_client.get("/gpu/instance", params={"instanceId": "0123456789abcdef"})
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert response.text.startswith("<html>")
    assert ctl.post("/faults/script", json={"kind": "teapot"}).status_code == 422


def test_control_routes_need_no_key_but_novita_routes_do(emulator: Any) -> None:
    assert httpx.get(emulator.url + "/_emulator/faults").status_code == 200
    assert httpx.get(emulator.base_url + "/clusters").status_code == 401
    assert sum(emulator.state.calls.values()) == 1  # control calls are not counted


def test_reset_returns_to_the_seed_world(emulator_factory: Any) -> None:
    config = EmulatorConfig(api_key="k", instances=20, seed=3, faults=FaultConfig(latency_ms=1))
    server = emulator_factory(config)
    state = server.state
    seeded = [item["id"] for item in state.list_instances(page_size=100, page_index=0)[0]]
    assert len(seeded) == 20
    state.vanish(seeded[0])
    state.seed_instances(5)
    state.set_faults(FaultConfig(rate_5xx=1.0))
    state.script_fault("drop")
    state.calls["GET /clusters"] += 1
    state.reset()
    assert [item["id"] for item in state.list_instances(page_size=100, page_index=0)[0]] == seeded
    assert state.faults == FaultConfig(latency_ms=1)
    assert state.scripted_faults() == []
    assert not state.calls

    state.reset(EmulatorConfig(api_key="other", instances=2))
    assert len(state) == 2
    assert state.api_key == "other"
    assert server.api_key == "other"


def test_instance_and_vanish_from_python(emulator: Any, emulator_client: httpx.Client) -> None:
    instance_id = emulator_client.post("/gpu/instance/create", json=CREATE).json()["id"]
    emulator.state.set_status(instance_id, "running")
    seen = emulator.state.instance(instance_id)
    assert seen == emulator_client.get("/gpu/instance", params={"instanceId": instance_id}).json()
    assert seen["status"] == "running"
    assert emulator.state.vanish(instance_id) is True
    assert emulator.state.instance(instance_id) is None
    assert emulator.state.vanish(instance_id) is False


def test_ten_thousand_instances_page_quickly(emulator_factory: Any) -> None:
    server = emulator_factory(instances=10_000)
    with httpx.Client(
        base_url=server.base_url, headers={"Authorization": f"Bearer {server.api_key}"}
    ) as client:
        last = client.get("/gpu/instances", params={"pageSize": 100, "pageNum": 99}).json()
        assert last["total"] == 10_000
        assert len(last["instances"]) == 100
        assert last["instances"][-1]["name"].endswith("-00001")  # the oldest comes last
        running = client.get("/gpu/instances", params={"pageSize": 100, "status": "running"}).json()
        assert 7000 < running["total"] < 8600


def test_capacity_and_spot_notice_can_be_scripted(emulator: Any, emulator_client: Any) -> None:
    [instance_id] = emulator.state.seed_instances(1)
    emulator.state.set_status(instance_id, "exited")
    control = emulator.url + "/_emulator/instances/" + instance_id
    assert httpx.post(control + "/capacity", json={"taken": True}).json() == {"taken": True}
    refused = emulator_client.post("/gpu/instance/start", json={"instanceId": instance_id})
    assert (refused.status_code, refused.json()["reason"]) == (400, "INSUFFICIENT_RESOURCE")
    httpx.post(control + "/capacity", json={"taken": False})
    assert emulator_client.post("/gpu/instance/start", json={"instanceId": instance_id}).status_code == 200

    shown = httpx.post(control + "/spot-notice", json={"inSeconds": 600}).json()
    assert shown["spotStatus"] == "notified"
    assert int(shown["spotReclaimTime"]) > 0
    assert httpx.post(emulator.url + "/_emulator/instances/nope/capacity", json={}).status_code == 404
