"""`novictl emulator` as a user runs it: a subprocess that serves, prints what to export, exits 0 on ^C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import httpx
import pytest

from novictl.cli.app import main
from novictl.emulator import EmulatorServer


def _start(*args: str, env: dict[str, str] | None = None) -> tuple[subprocess.Popen[str], list[str]]:
    process = subprocess.Popen(
        [sys.executable, "-m", "novictl", "emulator", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
    )
    assert process.stdout is not None
    lines: list[str] = []
    while not any("NOVITA_API_KEY=" in line for line in lines):
        line = process.stdout.readline()
        if not line:
            process.kill()
            _, err = process.communicate()
            pytest.fail(f"the emulator exited early: {err}")
        lines.append(line.strip())
    return process, lines


def _export(lines: list[str], name: str) -> str:
    prefix = f"export {name}="
    return next(line[len(prefix) :] for line in lines if line.startswith(prefix))


def _wait_until_serving(url: str) -> None:
    deadline = time.monotonic() + 10
    while True:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            assert time.monotonic() < deadline, "the emulator never answered"
            time.sleep(0.05)


def test_cli_serves_and_exits_cleanly_on_sigint() -> None:
    process, lines = _start("--instances", "3", "--step-delay", "200ms", "--api-key", "cli-key")
    try:
        base_url = _export(lines, "NOVITA_API_BASE_URL")
        assert base_url.startswith("http://127.0.0.1:")
        assert base_url.endswith("/gpu-instance/openapi/v1")
        assert _export(lines, "NOVITA_API_KEY") == "cli-key"
        _wait_until_serving(base_url + "/clusters")

        products = httpx.get(base_url + "/products", headers={"Authorization": "Bearer cli-key"})
        assert products.status_code == 200
        assert all(isinstance(p["price"], str) and p["price"].isdigit() for p in products.json()["data"])
        wrong = httpx.get(base_url + "/products", headers={"Authorization": "Bearer nope"})
        assert (wrong.status_code, wrong.json()["reason"]) == (401, "UNAUTHORIZED")
        listed = httpx.get(base_url + "/gpu/instances", headers={"Authorization": "Bearer cli-key"})
        assert listed.json()["total"] == 3
    finally:
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=10)
    assert process.returncode == 0, err
    assert "Traceback" not in err


def test_cli_key_from_env_and_exit_on_sigterm() -> None:
    process, lines = _start(env={"NOVICTL_EMULATOR_API_KEY": "env-key"})
    try:
        assert _export(lines, "NOVITA_API_KEY") == "env-key"
        base_url = _export(lines, "NOVITA_API_BASE_URL")
        _wait_until_serving(base_url + "/clusters")
        assert (
            httpx.get(base_url + "/clusters", headers={"Authorization": "Bearer env-key"}).status_code == 200
        )
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=10)
    assert process.returncode == 0, err


@pytest.mark.parametrize(
    "args",
    [
        ["--step-delay", "soon"],
        ["--latency", "-5ms"],
        ["--fault-rate", "0.7", "--rate-429", "0.7"],
        ["--drop-rate", "0.6", "--slow-rate", "0.6"],
        ["--slow-for", "forever"],
        ["--api-key", " "],
        ["--paging", "two"],
        ["--metrics-interval", "0s"],
        ["--metrics-interval", "often"],
        ["--metrics-lag", "-1s"],
    ],
)
def test_cli_rejects_bad_settings(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["emulator", "--port", "0", *args])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err  # a message says what was wrong


def test_cli_reports_a_busy_port(
    capsys: pytest.CaptureFixture[str], emulator_session: EmulatorServer
) -> None:
    port = str(emulator_session.port)
    with pytest.raises(SystemExit) as exit_info:
        main(["emulator", "--port", port])
    assert exit_info.value.code == 2
    assert "cannot listen" in capsys.readouterr().err


def test_cli_sets_drop_and_slow_faults_at_start() -> None:
    """--drop-rate 1 drops every Novita request: a client sees a transport error, not an answer."""
    process, lines = _start("--api-key", "k", "--drop-rate", "1", "--slow-rate", "0", "--slow-for", "2s")
    try:
        base_url = _export(lines, "NOVITA_API_BASE_URL")
        control = base_url.split("/gpu-instance")[0] + "/_emulator/faults"
        _wait_until_serving(control)
        faults = httpx.get(control).json()
        assert (faults["rate_drop"], faults["slow_seconds"]) == (1.0, 2.0)
        with pytest.raises(httpx.TransportError):
            httpx.get(base_url + "/products", headers={"Authorization": "Bearer k"})
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=10)
    assert process.returncode == 0


def test_cli_sets_paging_and_metrics_sampling() -> None:
    process, lines = _start(
        "--api-key", "k", "--paging", "one", "--metrics-interval", "10s", "--metrics-lag", "0s"
    )
    try:
        assert any("paging one" in line for line in lines)
        assert any("/openapi/v1" in line and "every 10s" in line for line in lines)
        base_url = _export(lines, "NOVITA_API_BASE_URL")
        root = base_url.split("/gpu-instance")[0]
        _wait_until_serving(root + "/_emulator/config")
        config = httpx.get(root + "/_emulator/config").json()
        assert (config["paging"], config["metrics_interval"], config["metrics_lag"]) == ("one", 10, 0)
        metrics = httpx.get(
            root + "/openapi/v1/metrics/gpu/instance",
            params={"instanceId": "ffffffffffffffff"},
            headers={"Authorization": "Bearer k"},
        )
        assert (metrics.status_code, metrics.json()["reason"]) == (404, "NOT_FOUND")
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=10)
    assert process.returncode == 0
