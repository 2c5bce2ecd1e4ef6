"""Novita's real quirks as a user meets them on the command line: regions, GPU use in show, a start
with no free GPU, stopped instances' data, passwords that never show."""

from __future__ import annotations

import time
from typing import Any

Cli = Any


def test_create_maps_a_region_code_or_place_to_novitas_cluster_id(novictl_cli: Cli, emulator: Any) -> None:
    for name, region in (("by-code", "US-CA-06"), ("by-place", "california"), ("by-id", "us-ca-6")):
        made = novictl_cli("create", name, "--gpu", "4090", "--region", region, "--image", "ubuntu", "--json")
        assert made.code == 0, made.err
        data = made.json()
        assert data["region"] == "US-CA-06"  # people read the code
        assert emulator.state.instance(data["id"])["clusterId"] == "us-ca-6"  # Novita got its id
    assert emulator.state.calls["GET /clusters"] == 3  # once per command (cached in the process)

    unknown = novictl_cli("create", "x", "--gpu", "4090", "--region", "MARS-01", "--image", "ubuntu")
    assert unknown.code == 2
    assert "MARS-01" in unknown.err
    assert "US-CA-06 (us-ca-6)" in unknown.err  # the hint lists what exists
    assert emulator.state.calls["POST /gpu/instance/create"] == 3

    products = novictl_cli("products", "--region", "Singapore", "--json").json()["products"]
    assert products
    assert all("AS-SGP-02" in p["regions"] or not p["regions"] for p in products)


def test_show_tells_recent_gpu_use_and_list_never_a_password(novictl_cli: Cli, emulator: Any) -> None:
    # A generated instance has been running for hours, so Novita has a full window of samples.
    [instance_id] = emulator.state.seed_instances(1)
    emulator.state.set_status(instance_id, "running")
    emulator.app.state.metrics.set_utilization(instance_id, gpu=85, at=time.time() - 3600)

    detail = novictl_cli("show", instance_id, "--json").json()
    assert detail["gpuUtilization"]["latestPercent"] == 85
    assert detail["gpuUtilization"]["windowMinutes"] == 10
    text = novictl_cli("show", instance_id).out
    assert "85% latest" in text

    password = emulator.state.instance(instance_id)["connectComponentSSH"]["password"]
    listed = emulator.state.list_instances(page_size=10, page_index=0)[0][0]
    assert listed["sshPassword"] == password
    for args in (("list", "--json"), ("list",), ("show", instance_id, "--json"), ("show", instance_id)):
        out = novictl_cli(*args)
        assert password not in out.out + out.err


def test_start_without_a_free_gpu_exits_1_keeps_everything_and_says_until_when(
    novictl_cli: Cli, emulator: Any, make_instance: Any
) -> None:
    instance_id = make_instance("parked", status="running")
    assert novictl_cli("stop", "parked", "--wait", "--poll-interval", "0.02s").code == 0
    emulator.state.take_capacity(instance_id)

    listed = novictl_cli("list").out
    assert "exited (data to" in listed

    started = novictl_cli("start", "parked")
    assert started.code == 1
    assert "taken by someone else" in started.err
    assert "nothing was deleted" in started.err
    assert "keeps its data until" in started.err
    assert "try again later" in started.err
    assert emulator.state.instance_calls[instance_id]["delete"] == 0
    assert emulator.state.instance(instance_id)["status"] == "exited"

    detail = novictl_cli("show", "parked", "--json").json()
    assert detail["dataKeptUntil"] is not None
    assert "data kept until" in novictl_cli("show", "parked").out
