"""``novictl touch`` in-process: pings round-trip through the store, clamp, only move forward."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture
def instance(emulator: Any, cli: Any, cli_env: Any, tmp_path: Path) -> dict[str, str]:
    [instance_id] = emulator.state.seed_instances(1)
    emulator.state.set_status(instance_id, "running")
    cli_env(emulator, store_url=f"sqlite:///{tmp_path / 'state.db'}")
    assert cli("sync").code == 0
    return {"id": instance_id, "name": emulator.state.instance(instance_id)["name"]}


def touch(cli: Any, *args: str) -> dict[str, Any]:
    done = cli("touch", *args, "--json")
    assert done.code == 0, done.err
    data: dict[str, Any] = json.loads(done.out)
    return data


def test_touch_by_name_records_now_and_check_sees_it(instance: dict[str, str], cli: Any) -> None:
    before = datetime.now(UTC)
    data = touch(cli, instance["name"], "--source", "jupyter")
    assert data["instanceId"] == instance["id"]
    assert before <= datetime.fromisoformat(data["lastUsedAt"]) <= datetime.now(UTC)
    [entry] = json.loads(cli("autostop", "check", "--json").out)["entries"]
    assert (entry["verdict"], entry["lastUsedSource"]) == ("keep", "jupyter")
    assert entry["lastUsedAt"] == data["lastUsedAt"]


def test_a_future_at_is_clamped_to_now(instance: dict[str, str], cli: Any) -> None:
    future = datetime.now(UTC) + timedelta(days=2)
    data = touch(cli, instance["id"], "--at", future.isoformat())
    stored = datetime.fromisoformat(data["lastUsedAt"])
    assert stored <= datetime.now(UTC)
    assert stored > datetime.now(UTC) - timedelta(minutes=1)
    assert "clamped" in data["message"]


def test_pings_only_move_forward(instance: dict[str, str], cli: Any) -> None:
    an_hour_ago = (datetime.now(UTC) - timedelta(hours=1)).replace(microsecond=0)
    first = touch(cli, instance["id"], "--at", an_hour_ago.isoformat())
    assert datetime.fromisoformat(first["lastUsedAt"]) == an_hour_ago
    older = touch(
        cli, instance["id"], "--at", (an_hour_ago - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S")
    )
    assert datetime.fromisoformat(older["lastUsedAt"]) == an_hour_ago
    assert "already recorded" in older["message"]
    done = cli("touch", instance["name"])
    assert done.code == 0
    assert done.out.startswith(f"recorded use of {instance['name']} ({instance['id']})")


def test_touch_needs_only_the_store(
    instance: dict[str, str], cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NOVITA_API_KEY")
    assert touch(cli, instance["name"])["instanceId"] == instance["id"]
    assert cli("touch", "no-such-box").code == 4


def test_touch_errors(instance: dict[str, str], cli: Any) -> None:
    assert cli("touch", "no-such-box").code == 4
    done = cli("touch", instance["id"], "--at", "yesterday-ish")
    assert done.code == 2
    assert "ISO-8601" in done.err


@pytest.mark.parametrize(
    "args",
    [
        ("touch", "{id}", "--at", "9999-12-31T23:59:59-05:00"),  # past year 9999 once in UTC
        ("touch", "{id}", "--at", "0001-01-01T00:00:00+01:00"),  # before year 1 once in UTC
        ("autostop", "pin", "{id}", "--until", "9999-12-31T23:59:59-05:00"),
        ("autostop", "pin", "{id}", "--until", "9999-12-31T23:00:00Z"),  # valid, but no pin lasts that long
        ("autostop", "pin", "{id}", "--for", "99999999999d"),
        ("autostop", "set", "{id}", "--idle", "1e400"),
        ("events", "--since", "99999999999d"),
    ],
)
def test_out_of_range_times_are_usage_errors(
    instance: dict[str, str], cli: Any, args: tuple[str, ...]
) -> None:
    done = cli(*(arg.format(id=instance["id"]) for arg in args))
    assert done.code == 2, done.err
    assert "unexpected" not in done.err
    assert "Traceback" not in done.err
    assert any(word in done.err for word in ("out of range", "longer than", "more than")), done.err
