"""``novictl autostop why`` and ``GET /api/instances/{id}/auto-stop``: the verdict on one instance and
every figure behind it, from the same core function."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from novictl.clock import FrozenClock, utcnow
from tests.fixtures.daemon import seed_running


@pytest.fixture
def busy(emulator: Any, cli: Any, cli_env: Any, tmp_path: Path) -> tuple[str, str]:
    [instance_id] = emulator.state.seed_instances(1)
    emulator.state.set_status(instance_id, "running")
    emulator.app.state.metrics.set_utilization(instance_id, per_gpu=[2, 91], at=time.time() - 3600)
    cli_env(emulator, store_url=f"sqlite:///{tmp_path / 'state.db'}")
    assert cli("sync").code == 0
    return instance_id, str(emulator.state.instance(instance_id)["name"])


def test_why_names_each_source_the_threshold_and_the_warning(busy: tuple[str, str], cli: Any) -> None:
    instance_id, name = busy
    assert cli("touch", name, "--source", "notebook").code == 0
    assert cli("autostop", "set", name, "--idle", "2h").code == 0

    done = cli("autostop", "why", name, "--json")
    assert done.code == 0, done.err
    data = json.loads(done.out)
    assert data["instanceId"] == instance_id
    assert data["verdict"] == "keep"
    assert data["activity"] == ["pings", "gpu"]
    sources = {s["source"]: s for s in data["sources"]}
    assert sources["pings"]["detail"] == "ping from notebook"
    assert sources["gpu"]["detail"] == "gpu 91%"  # the busiest GPU, read now from Novita
    assert sources["gpu"]["at"] is not None
    assert sources["first seen"]["at"] is not None
    assert data["threshold"] == {
        "seconds": 7200.0,
        "baseSeconds": 7200.0,
        "from": "instance",
        "startupGraceSeconds": None,
    }
    assert data["warnedAt"] is None
    assert data["pinnedUntil"] is None

    table = cli("autostop", "why", instance_id)
    assert table.code == 0
    for words in (
        "ping from notebook",
        "gpu 91%",
        "2h00m (this instance's own)",
        "warning sent",
        "next check",
    ):
        assert words in table.out


def test_an_instance_reading_pings_only_shows_no_gpu_source(busy: tuple[str, str], cli: Any) -> None:
    _, name = busy
    done = cli("autostop", "set", name, "--activity", "pings", "--json")
    assert done.code == 0, done.err
    assert json.loads(done.out)["activity"] == ["pings"]
    data = json.loads(cli("autostop", "why", name, "--json").out)
    assert data["activity"] == ["pings"]
    assert "gpu" not in {s["source"] for s in data["sources"]}
    assert cli("autostop", "set", name, "--activity", "bogus").code == 2


def test_why_of_an_unknown_instance_is_not_found(busy: tuple[str, str], cli: Any) -> None:
    done = cli("autostop", "why", "no-such-instance")
    assert done.code == 4
    assert "no-such-instance" in done.err


async def test_the_api_answers_the_same_explanation(daemon_harness: Any, emulator: Any) -> None:
    clock = FrozenClock(utcnow())
    harness = await daemon_harness(clock=clock)
    [instance_id] = seed_running(emulator, 1)
    assert (await harness.http.post("/api/instances/sync", json={})).status_code == 200
    clock.advance(hours=2)

    answer = await harness.http.get(f"/api/instances/{instance_id}/auto-stop")
    assert answer.status_code == 200
    data = answer.json()
    assert data["instanceId"] == instance_id
    assert data["reason"].startswith("idle 2h00m >= 1h05m")  # first sight + grace, not warned yet
    assert data["threshold"]["from"] == "global"
    assert data["threshold"]["startupGraceSeconds"] == 45 * 60
    assert {s["source"] for s in data["sources"]} >= {"pings", "gpu", "started", "first seen"}
    assert (await harness.http.get("/api/instances/nope/auto-stop")).status_code == 404
