"""Fault injection as a real httpx client sees it: 429 + Retry-After, 5xx, dropped connections, hangs."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from novictl.emulator import EmulatorConfig, FaultConfig


def test_scripted_429_carries_retry_after_then_recovers(emulator: Any, emulator_client: httpx.Client) -> None:
    emulator.state.script_fault("status", status=429, count=2, retry_after=3)
    for _ in range(2):
        response = emulator_client.get("/clusters")
        assert response.status_code == 429
        assert response.headers["Retry-After"] == "3"
        assert response.json()["reason"] == "RATE_LIMIT_EXCEEDED"
    assert emulator_client.get("/clusters").status_code == 200


def test_scripted_faults_are_consumed_in_order_and_per_path(
    emulator: Any, emulator_client: httpx.Client
) -> None:
    state = emulator.state
    state.script_fault("status", status=503, path="/gpu/instances")
    state.script_fault("status", status=502, path="GET /gpu/instances")
    state.script_fault("status", status=500, path="/products")
    assert emulator_client.get("/clusters").status_code == 200  # no script for this path
    assert emulator_client.get("/gpu/instances").status_code == 503
    assert emulator_client.get("/gpu/instances").status_code == 502
    assert emulator_client.get("/gpu/instances").status_code == 200
    response = emulator_client.get("/products")
    assert response.status_code == 500
    assert response.json()["reason"] == "INTERNAL_SERVER_ERROR"
    assert state.scripted_faults() == []


def test_dropped_connection_is_a_transport_error(emulator: Any, emulator_client: httpx.Client) -> None:
    emulator.state.script_fault("drop", path="/gpu/instance/stop")
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        emulator_client.post("/gpu/instance/stop", json={"instanceId": "0123456789abcdef"})
    # The next call goes through on a fresh connection.
    assert (
        emulator_client.post("/gpu/instance/stop", json={"instanceId": "0123456789abcdef"}).status_code == 404
    )


async def test_dropped_connection_with_async_client(emulator: Any) -> None:
    emulator.state.script_fault("drop")
    headers = {"Authorization": f"Bearer {emulator.api_key}"}
    async with httpx.AsyncClient(base_url=emulator.base_url, headers=headers) as client:
        with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
            await client.get("/gpu/instances")
        assert (await client.get("/gpu/instances")).status_code == 200


def test_slow_response_exceeds_a_short_client_timeout(emulator: Any, emulator_client: httpx.Client) -> None:
    emulator.state.script_fault("slow", seconds=5)
    started = time.monotonic()
    with pytest.raises(httpx.ReadTimeout):
        emulator_client.get("/clusters", timeout=0.2)
    assert time.monotonic() - started < 2
    assert emulator_client.get("/clusters").status_code == 200


def test_slow_response_answers_after_the_hang(emulator: Any, emulator_client: httpx.Client) -> None:
    emulator.state.set_faults(FaultConfig(slow_seconds=0.15))
    emulator.state.script_fault("slow")
    started = time.monotonic()
    assert emulator_client.get("/clusters").status_code == 200
    assert time.monotonic() - started >= 0.15


def test_random_shares_follow_the_seeded_rng(emulator_factory: Any) -> None:
    faults = FaultConfig(rate_429=0.2, rate_5xx=0.2, status_5xx=504, rate_drop=0.1, retry_after_seconds=0.5)

    def run() -> list[str]:
        server = emulator_factory(EmulatorConfig(api_key="k", seed=42, faults=faults))
        outcomes = []
        with httpx.Client(base_url=server.base_url, headers={"Authorization": "Bearer k"}) as client:
            for _ in range(60):
                try:
                    response = client.get("/clusters")
                except httpx.TransportError:
                    outcomes.append("drop")
                    continue
                if response.status_code == 429:
                    assert response.headers["Retry-After"] == "0.5"
                outcomes.append(str(response.status_code))
        return outcomes

    first = run()
    assert first == run()  # same seed, same faults
    assert {"200", "429", "504", "drop"} <= set(first)
    assert 15 <= first.count("200") <= 45


def test_faults_can_be_limited_to_paths(emulator: Any, emulator_client: httpx.Client) -> None:
    emulator.state.set_faults(FaultConfig(rate_5xx=1.0, paths=["/gpu/instances"]))
    assert emulator_client.get("/gpu/instances").status_code == 503
    assert emulator_client.get("/clusters").status_code == 200
    assert emulator_client.get("/products").status_code == 200


def test_latency_is_added(emulator: Any, emulator_client: httpx.Client) -> None:
    emulator.state.set_faults(FaultConfig(latency_ms=120))
    started = time.monotonic()
    assert emulator_client.get("/clusters").status_code == 200
    assert time.monotonic() - started >= 0.12


def test_faults_come_before_auth_and_are_counted(emulator: Any) -> None:
    emulator.state.script_fault("status", status=503)
    response = httpx.get(emulator.base_url + "/clusters")  # no key at all
    assert response.status_code == 503
    assert httpx.get(emulator.base_url + "/clusters").status_code == 401
    assert emulator.state.calls["GET /clusters"] == 2


def test_bad_fault_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="must not exceed"):
        FaultConfig(rate_429=0.6, rate_5xx=0.6)
    with pytest.raises(ValueError):
        FaultConfig(status_5xx=404)
