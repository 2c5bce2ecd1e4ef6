"""`novictl daemon` (binding refusal), `daemon check` exit codes and `daemon systemd-unit`, in-process."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from pathlib import Path

import pytest

from novictl.cli.app import main
from novictl.clock import utcnow
from novictl.daemon.heartbeat import Heartbeat, write_heartbeat
from novictl.store import StoreOptions, open_store

API_KEY = "sk_live_daemon_cli_SECRET_0123"


@pytest.fixture(autouse=True)
def _isolated(isolated_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The shared isolated home (tests/fixtures/cli.py), with this test's own store."""
    monkeypatch.setenv("NOVICTL_STORE__URL", f"sqlite:///{tmp_path / 'cli-state.db'}")
    return isolated_home


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
    captured = capsys.readouterr()
    code = exit_info.value.code
    return (code if isinstance(code, int) else 1), captured.out, captured.err


def test_refuses_a_public_address_without_a_token(capsys, monkeypatch) -> None:
    monkeypatch.setenv("NOVITA_API_KEY", API_KEY)
    code, _, err = run(capsys, "daemon", "--host", "0.0.0.0", "--port", "0")
    assert code == 3
    assert "api_token" in err.lower() or "API_TOKEN" in err
    code, out, _ = run(capsys, "--json", "daemon", "--host", "192.168.7.7", "--port", "0")
    assert code == 3
    assert json.loads(out)["error"]["code"] == "config"


def test_bad_log_format_is_a_usage_error(capsys) -> None:
    code, _, _ = run(capsys, "daemon", "--log-format", "xml")
    assert code == 2


def _beat(tmp_path: Path, age: timedelta) -> None:
    asyncio.run(_write_beat(tmp_path, age))


async def _write_beat(tmp_path: Path, age: timedelta) -> None:
    store = await open_store(StoreOptions(url=f"sqlite:///{tmp_path / 'cli-state.db'}"))
    try:
        await write_heartbeat(store, Heartbeat("d-1", utcnow() - age, "http://127.0.0.1:8765", "1"))
    finally:
        await store.close()


def test_check_exit_codes(capsys, tmp_path) -> None:
    code, out, _ = run(capsys, "daemon", "check")
    assert code == 1
    assert "no daemon heartbeat" in out

    _beat(tmp_path, timedelta(seconds=5))
    code, out, _ = run(capsys, "daemon", "check", "--json")
    assert code == 0
    verdict = json.loads(out)
    assert verdict["healthy"] is True
    assert verdict["daemonId"] == "d-1"
    assert verdict["maxAgeSeconds"] == 90

    _beat(tmp_path, timedelta(minutes=10))
    code, out, _ = run(capsys, "daemon", "check")
    assert code == 1
    assert "STALE" in out


def test_systemd_unit(capsys, monkeypatch, isolated_home) -> None:
    monkeypatch.setenv("NOVITA_API_KEY", API_KEY)
    code, out, _ = run(capsys, "daemon", "systemd-unit", "--user", "root")
    assert code == 0
    assert API_KEY not in out
    lines = out.splitlines()
    assert "User=root" in lines
    exec_start = next(line for line in lines if line.startswith("ExecStart="))
    binary, command = exec_start.removeprefix("ExecStart=").split(" ", 1)
    assert Path(binary).is_absolute()
    assert binary.endswith("novictl")
    assert command == "daemon"
    assert any(
        line.startswith("EnvironmentFile=-/") and line.endswith("/.config/novictl/env") for line in lines
    )
    for needed in ("Restart=on-failure", "NoNewPrivileges=yes", "ProtectSystem=strict", "[Install]"):
        assert needed in lines
