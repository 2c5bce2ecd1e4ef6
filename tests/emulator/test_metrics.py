"""GET /openapi/v1/metrics/gpu/instance as a client sees it, driven by a manual clock (no sleeping)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from novictl.emulator import EmulatorServer
from novictl.emulator.gateway import OPENAPI_BASE_PATH
from novictl.emulator.utilization_book import MAX_POINTS

T0 = 1_800_000_000  # a multiple of 30 and of 60: grid points fall on round offsets from it
METRICS = "/metrics/gpu/instance"


def create_body(gpu_num: int = 1) -> dict[str, object]:
    return {"productId": "4090.16c62g", "gpuNum": gpu_num, "rootfsSize": 20, "imageUrl": "img", "kind": "gpu"}


class ManualClock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class World:
    """One emulator on a manual clock, with clients for both Novita prefixes and the control API."""

    def __init__(self, server: EmulatorServer, clock: ManualClock) -> None:
        self.server, self.clock, self.state = server, clock, server.state
        headers = {"Authorization": f"Bearer {server.api_key}"}
        self.api = httpx.Client(base_url=server.base_url, headers=headers, timeout=5)
        self.openapi = httpx.Client(base_url=server.url + OPENAPI_BASE_PATH, headers=headers, timeout=5)
        self.ctl = httpx.Client(base_url=server.url + "/_emulator", timeout=5)

    def close(self) -> None:
        for client in (self.api, self.openapi, self.ctl):
            client.close()

    def running_instance(self, gpu_num: int = 1) -> str:
        """Created at the current time through the real route; the clock moves on until it runs."""
        created = self.api.post("/gpu/instance/create", json=create_body(gpu_num))
        assert created.status_code == 200, created.text
        instance_id: str = created.json()["id"]
        self.clock.now += 1
        assert self.status(instance_id) == "running"
        return instance_id

    def status(self, instance_id: str) -> str | None:
        found = self.state.instance(instance_id)
        return None if found is None else str(found["status"])

    def utilization(self, instance_id: str, **values: Any) -> httpx.Response:
        return self.ctl.put(f"/instances/{instance_id}/utilization", json=values)

    def metrics(self, instance_id: str | None, **params: Any) -> httpx.Response:
        query = {"instanceId": instance_id, **params} if instance_id else params
        return self.openapi.get(METRICS, params=query)

    def series(self, instance_id: str, **params: Any) -> dict[str, Any]:
        response = self.metrics(instance_id, **params)
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json()
        return answer


@pytest.fixture
def make_world(emulator_factory: Any) -> Iterator[Any]:
    worlds: list[World] = []

    def make(**config: Any) -> World:
        clock = ManualClock(T0)
        world = World(emulator_factory(clock=clock, **config), clock)
        worlds.append(world)
        return world

    yield make
    for world in worlds:
        world.close()


def stamps(points: list[dict[str, Any]]) -> list[int]:
    return [int(point["timestamp"]) - T0 for point in points]


def values(points: list[dict[str, Any]]) -> list[float]:
    return [point["value"] for point in points]


def test_the_answer_has_novitas_shape_and_follows_the_utilisation_set(make_world: Any) -> None:
    world = make_world()
    instance_id = world.running_instance(gpu_num=2)
    world.clock.now = T0 + 10
    assert world.utilization(instance_id, gpu=85, gpuMem=40, cpu=20).status_code == 200
    world.clock.now = T0 + 300
    assert world.utilization(instance_id, gpu=20).status_code == 200  # the rest stays as it was
    world.clock.now = T0 + 600

    answer = world.series(instance_id, startTime=T0, endTime=T0 + 600, interval=30)

    assert set(answer) == {
        "gpuUtilization", "gpuMemUtilization", "cpuUtilization", "memUtilization", "rootDiskUtilization",
    }  # fmt: skip
    for name in ("gpuUtilization", "gpuMemUtilization"):
        assert set(answer[name]) == {"avg", "gpuIds"}
        assert [gpu["gpuId"] for gpu in answer[name]["gpuIds"]] == ["0", "1"]
    point = answer["cpuUtilization"][0]
    assert set(point) == {"timestamp", "value"}
    assert isinstance(point["timestamp"], str)
    assert isinstance(point["value"], int | float)

    # 60 s behind: the newest sample is now - 60; one every 30 s from the start of the run.
    expected_times = list(range(0, 541, 30))
    gpu = answer["gpuUtilization"]
    assert stamps(gpu["avg"]) == expected_times
    assert values(gpu["avg"]) == [0] + [85] * 9 + [20] * 9  # the change at +300 shows from +300 on
    for per_gpu in gpu["gpuIds"]:
        assert values(per_gpu["items"]) == values(gpu["avg"])
    assert values(answer["gpuMemUtilization"]["avg"]) == [0] + [40] * 18
    assert values(answer["cpuUtilization"]) == [0] + [20] * 18
    assert values(answer["memUtilization"]) == [0] * 19
    assert stamps(answer["rootDiskUtilization"]) == expected_times

    # A past window still shows what was set then.
    early = world.series(instance_id, startTime=T0 + 100, endTime=T0 + 200)
    assert stamps(early["cpuUtilization"]) == [120, 150, 180]
    assert values(early["gpuUtilization"]["avg"]) == [85, 85, 85]


def test_gpus_can_differ(make_world: Any) -> None:
    world = make_world()
    instance_id = world.running_instance(gpu_num=2)
    set_now = world.utilization(instance_id, perGpu=[90, 0], perGpuMem=[50, 10])
    assert set_now.json()["perGpu"] == [90, 0]
    assert set_now.json()["gpu"] == 45
    world.clock.now = T0 + 200
    answer = world.series(instance_id, startTime=T0 + 30, endTime=T0 + 200)
    gpu, mem = answer["gpuUtilization"], answer["gpuMemUtilization"]
    assert values(gpu["gpuIds"][0]["items"]) == [90] * 4
    assert values(gpu["gpuIds"][1]["items"]) == [0] * 4
    assert values(gpu["avg"]) == [45] * 4
    assert values(mem["gpuIds"][1]["items"]) == [10] * 4
    assert values(mem["avg"]) == [30] * 4
    assert world.ctl.get(f"/instances/{instance_id}/utilization").json()["perGpuMem"] == [50, 10]

    assert world.utilization(instance_id, perGpu=[1, 2, 3]).status_code == 400  # only two GPUs
    assert world.utilization(instance_id, gpu=101).status_code == 422
    assert world.utilization(instance_id, cpu=-1).status_code == 422
    assert world.utilization("ffffffffffffffff", gpu=1).status_code == 404
    assert world.ctl.get("/instances/ffffffffffffffff/utilization").status_code == 404


def test_samples_sit_on_the_grid_and_lag_behind(make_world: Any) -> None:
    world = make_world(metrics_interval=20, metrics_lag=45)
    instance_id = world.running_instance()
    world.clock.now = T0 + 1007
    answer = world.series(instance_id, startTime=T0 - 500, endTime=T0 + 1007)
    times = [int(point["timestamp"]) for point in answer["cpuUtilization"]]
    assert all(t % 20 == 0 for t in times)
    assert times[0] == T0  # nothing before the instance started
    assert times[-1] == T0 + 960  # the last multiple of 20 at or before now - 45
    assert [b - a for a, b in itertools.pairwise(times)] == [20] * (len(times) - 1)
    assert world.ctl.get("/metrics").json() == {"mode": "normal", "interval": 20, "lag": 45}


def test_a_longer_interval_averages_the_samples(make_world: Any) -> None:
    world = make_world()
    instance_id = world.running_instance()
    world.clock.now = T0 + 10
    world.utilization(instance_id, gpu=85)
    world.clock.now = T0 + 400
    answer = world.series(instance_id, startTime=T0, endTime=T0 + 400, interval=60)
    avg = answer["gpuUtilization"]["avg"]
    # Buckets of 60 s: [T0, T0+60) holds the samples at +0 (0 %) and +30 (85 %).
    assert stamps(avg) == [0, 60, 120, 180, 240, 300]
    assert values(avg) == [42.5, 85, 85, 85, 85, 85]
    # Anything under 15 s means 15 s, which is finer than the 30 s samples: one point per sample.
    assert stamps(
        world.series(instance_id, startTime=T0, endTime=T0 + 400, interval=5)["cpuUtilization"]
    ) == [*range(0, 341, 30)]


def test_missing_or_out_of_range_params_fall_back_to_the_last_minute(make_world: Any) -> None:
    world = make_world(metrics_lag=0)
    instance_id = world.running_instance()
    world.clock.now = T0 + 600
    default = world.series(instance_id)
    assert stamps(default["cpuUtilization"]) == [540, 570, 600]
    for params in (
        {"startTime": "soon", "endTime": "later", "interval": "often"},
        {"startTime": T0 + 900, "endTime": T0 + 5000},  # the end is in the future, the start after it
        {"startTime": -5, "interval": -30},
    ):
        assert world.series(instance_id, **params) == default, params


def test_samples_exist_only_while_the_instance_runs(make_world: Any) -> None:
    world = make_world(metrics_lag=0)
    instance_id = world.running_instance()
    world.utilization(instance_id, cpu=50)
    world.clock.now = T0 + 300
    assert world.api.post("/gpu/instance/stop", json={"instanceId": instance_id}).status_code == 200
    world.clock.now = T0 + 1000
    assert world.status(instance_id) == "exited"
    stopped = world.series(instance_id, startTime=T0, endTime=T0 + 1000)
    assert stamps(stopped["cpuUtilization"])[-1] == 300  # the stop, not now
    assert values(stopped["cpuUtilization"]) == [0] + [50] * 10  # set at +1, after the sample at +0

    # Started again: the series covers the new run (the emulator only knows the latest one).
    assert world.api.post("/gpu/instance/start", json={"instanceId": instance_id}).status_code == 200
    world.clock.now = T0 + 1200
    restarted = world.series(instance_id, startTime=T0 + 900, endTime=T0 + 1200)
    assert stamps(restarted["cpuUtilization"]) == [*range(1020, 1201, 30)]

    # An instance still being created has no samples yet, but the shape is complete.
    created = world.api.post("/gpu/instance/create", json=create_body(gpu_num=2)).json()["id"]
    assert world.status(created) == "toCreate"
    empty = world.series(created, startTime=T0, endTime=T0 + 1200)
    assert empty["cpuUtilization"] == []
    assert empty["gpuUtilization"] == {
        "avg": [],
        "gpuIds": [{"gpuId": "0", "items": []}, {"gpuId": "1", "items": []}],
    }


def test_an_answer_holds_at_most_max_points_the_newest(make_world: Any) -> None:
    world = make_world(metrics_lag=0)
    instance_id = world.running_instance()
    world.clock.now = T0 + 86_400  # a day: 2881 samples of 30 s
    points = world.series(instance_id, startTime=T0, endTime=T0 + 86_400, interval=30)["cpuUtilization"]
    assert len(points) == MAX_POINTS == 2000
    assert stamps(points)[-1] == 86_400
    assert stamps(points)[0] == 86_400 - 30 * (MAX_POINTS - 1)


def test_unknown_instance_and_missing_id(make_world: Any) -> None:
    world = make_world()
    missing = world.metrics("ffffffffffffffff")
    assert missing.status_code == 404
    assert missing.json() == {
        "code": 404,
        "reason": "NOT_FOUND",
        "message": "instance ffffffffffffffff not found",
        "metadata": {},
    }
    no_id = world.metrics(None)
    assert (no_id.status_code, no_id.json()["reason"]) == (400, "VALIDATOR_PARAM")

    instance_id = world.running_instance()
    assert world.metrics(instance_id).status_code == 200
    world.state.vanish(instance_id)
    assert world.metrics(instance_id).status_code == 404


def test_modes_not_found_and_empty(make_world: Any) -> None:
    world = make_world(metrics_lag=0)
    instance_id = world.running_instance()
    world.clock.now = T0 + 300
    assert world.ctl.put("/metrics", json={"mode": "not_found"}).json()["mode"] == "not_found"
    response = world.metrics(instance_id)
    assert (response.status_code, response.json()["reason"]) == (404, "NOT_FOUND")

    world.ctl.put("/metrics", json={"mode": "empty"})
    empty = world.series(instance_id)
    assert empty["cpuUtilization"] == empty["memUtilization"] == empty["rootDiskUtilization"] == []
    assert empty["gpuUtilization"] == {"avg": [], "gpuIds": [{"gpuId": "0", "items": []}]}

    world.ctl.put("/metrics", json={"mode": "normal"})
    assert len(world.series(instance_id)["cpuUtilization"]) == 3
    assert world.ctl.put("/metrics", json={"mode": "broken"}).status_code == 422


def test_a_scripted_503_on_metrics_is_answered_and_counted(make_world: Any) -> None:
    world = make_world()
    instance_id = world.running_instance()
    world.state.reset_calls()
    world.state.script_fault("status", status=503, path=METRICS)
    world.state.script_fault("status", status=502, path="/gpu/instance")  # another route, not this one
    failed = world.metrics(instance_id)
    assert (failed.status_code, failed.json()["reason"]) == (503, "SERVICE_UNAVAILABLE")
    assert world.metrics(instance_id).status_code == 200
    world.state.script_fault("status", status=500, path=OPENAPI_BASE_PATH + METRICS)  # full path works too
    assert world.metrics(instance_id).status_code == 500

    calls = world.ctl.get("/calls").json()
    assert calls["calls"] == {"GET /metrics/gpu/instance": 3}
    assert calls["instanceCalls"] == {instance_id: {"metrics": 3}}
    assert world.api.get("/gpu/instance", params={"instanceId": instance_id}).status_code == 502


def test_the_new_routes_need_the_key(make_world: Any) -> None:
    world = make_world()
    instance_id = world.running_instance()
    base = world.server.url + OPENAPI_BASE_PATH
    for path, params in ((METRICS, {"instanceId": instance_id}), ("/billing/balance/detail", {})):
        for headers in ({}, {"Authorization": "Bearer wrong"}):
            response = httpx.get(base + path, params=params, headers=headers)
            assert (response.status_code, response.json()["reason"]) == (401, "UNAUTHORIZED"), path
    assert world.state.calls["GET /metrics/gpu/instance"] == 2  # refused calls are counted too
    assert world.state.instance_calls[instance_id]["metrics"] == 2


def test_unknown_routes_under_openapi_answer_novitas_envelope(make_world: Any) -> None:
    world = make_world()
    response = world.openapi.get("/metrics/cpu/everything")
    assert response.status_code == 404
    assert response.json()["reason"] == "NOT_FOUND"
    assert world.openapi.post(METRICS).json()["reason"] == "METHOD_NOT_ALLOWED"


def test_reset_forgets_utilisation_and_mode(emulator_factory: Any) -> None:
    clock = ManualClock(T0)
    server = emulator_factory(clock=clock, instances=1, seed=4, metrics_lag=0)
    world = World(server, clock)
    try:
        seeded = world.api.get("/gpu/instances").json()["instances"][0]["id"]
        world.state.set_status(seeded, "running")
        world.utilization(seeded, gpu=85, cpu=30)
        clock.now = T0 + 120
        assert values(world.series(seeded)["cpuUtilization"]) == [30, 30, 30]
        world.ctl.put("/metrics", json={"mode": "empty"})

        assert world.ctl.post("/reset").status_code == 200
        world.state.set_status(seeded, "running")  # the same seed makes the same instance again
        assert world.ctl.get("/metrics").json()["mode"] == "normal"
        assert world.ctl.get(f"/instances/{seeded}/utilization").json()["cpu"] == 0
        assert values(world.series(seeded)["cpuUtilization"]) == [0, 0, 0]

        world.utilization(seeded, cpu=70)
        world.ctl.put("/metrics", json={"mode": "not_found"})
        server.state.reset()  # the Python reset clears the books as well
        world.state.set_status(seeded, "running")
        assert world.ctl.get("/metrics").json()["mode"] == "normal"
        assert world.ctl.get(f"/instances/{seeded}/utilization").json()["cpu"] == 0
    finally:
        world.close()


def test_config_is_readable_without_the_key(emulator: Any) -> None:
    config = httpx.get(emulator.url + "/_emulator/config").json()
    assert "api_key" not in config
    assert (config["paging"], config["metrics_interval"], config["metrics_lag"]) == ("zero", 30, 60)
    assert config["balance_units"] == "1250000"
