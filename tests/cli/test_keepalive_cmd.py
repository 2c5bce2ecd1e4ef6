"""``novictl keepalive -- CMD``: pings while the command runs, exits with its code, never dies of a ping."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture
def tracked(emulator: Any, cli: Any, cli_env: Any, tmp_path: Path) -> tuple[str, str]:
    [instance_id] = emulator.state.seed_instances(1)
    emulator.state.set_status(instance_id, "running")
    store_url = f"sqlite:///{tmp_path / 'state.db'}"
    cli_env(emulator, store_url=store_url)
    assert cli("sync").code == 0
    return instance_id, store_url


def last_used(store_url: str, instance_id: str) -> tuple[datetime | None, str | None]:
    from novictl.store import StoreOptions, open_store

    async def read() -> tuple[datetime | None, str | None]:
        store = await open_store(StoreOptions(url=store_url))
        try:
            record = await store.get(instance_id)
        finally:
            await store.close()
        assert record is not None
        return record.last_used_at, record.last_used_source

    return asyncio.run(read())


def novictl(*args: str, env_extra: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "novictl", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env_extra or {})},
        timeout=60,
    )


def test_keepalive_around_sleep_3_moves_last_used_forward(tracked: tuple[str, str]) -> None:
    instance_id, store_url = tracked
    assert last_used(store_url, instance_id) == (None, None)
    started = datetime.now(UTC)

    done = novictl("keepalive", "--every", "1s", "--instance", instance_id, "--", "sleep", "3")

    assert done.returncode == 0, done.stderr
    used, source = last_used(store_url, instance_id)
    assert source == "keepalive"
    assert used is not None
    assert used >= started + timedelta(seconds=2.5)  # the last ping is the end of the job


def test_the_commands_exit_code_is_keepalives(tracked: tuple[str, str], cli: Any) -> None:
    instance_id, store_url = tracked
    done = cli("keepalive", "--instance", instance_id, "--", sys.executable, "-c", "raise SystemExit(7)")
    assert done.code == 7
    assert last_used(store_url, instance_id)[1] == "keepalive"


def test_a_failing_ping_never_stops_the_command(tracked: tuple[str, str], tmp_path: Path) -> None:
    instance_id, _ = tracked
    marker = tmp_path / "ran"
    done = novictl(
        "keepalive", "--instance", instance_id, "--daemon-url", "http://127.0.0.1:9",
        "--", sys.executable, "-c", f"open({str(marker)!r}, 'w').write('yes')",
    )  # fmt: skip
    assert done.returncode == 0
    assert marker.read_text() == "yes"
    assert "ping failed (the command goes on" in done.stderr


def test_without_an_instance_it_says_how_to_name_one(cli: Any, cli_env: Any, emulator: Any) -> None:
    cli_env(emulator)
    done = cli("keepalive", "--", "true")
    assert done.code == 2
    assert "--instance" in done.err
    assert "NOVICTL_INSTANCE" in done.err
