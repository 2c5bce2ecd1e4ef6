"""Retries, the never-repeated create, and the circuit breaker — against the emulator's injected faults."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from novictl.errors import CircuitOpen, NovitaBadRequest, NovitaNotFound, NovitaRateLimited, NovitaUnavailable
from novictl.novita import BreakerState, CircuitBreaker, CreateInstanceRequest, NovitaClient
from tests.fixtures.novita import RecordingSleep

ClientFactory = Callable[..., Awaitable[NovitaClient]]
CLUSTERS = "GET /clusters"
CREATE = "POST /gpu/instance/create"


class ManualClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def create_request(name: str | None = "fragile") -> CreateInstanceRequest:
    return CreateInstanceRequest(
        product_id="4090.16c62g", gpu_num=1, rootfs_size=60, image_url="pytorch/pytorch", name=name
    )


# -- retries -----------------------------------------------------------------------------------------


async def test_429_waits_what_retry_after_asks(
    novita_client: NovitaClient, emulator: Any, novita_sleeps: RecordingSleep
) -> None:
    emulator.state.script_fault("status", status=429, count=2, path="/clusters", retry_after=2)

    clusters = await novita_client.list_clusters()

    assert clusters
    assert novita_sleeps.calls == [2, 2]
    assert emulator.state.calls[CLUSTERS] == 3
    assert novita_client.stats["retries"] == 2


@pytest.mark.parametrize("status", [500, 502, 503, 504])
async def test_5xx_is_retried(
    novita_client: NovitaClient, emulator: Any, novita_sleeps: RecordingSleep, status: int
) -> None:
    emulator.state.script_fault("status", status=status, count=1, path="/clusters")

    assert await novita_client.list_clusters()
    assert emulator.state.calls[CLUSTERS] == 2
    assert len(novita_sleeps.calls) == 1
    assert 0.5 <= novita_sleeps.calls[0] <= 1.0


async def test_dropped_connection_is_retried(novita_client: NovitaClient, emulator: Any) -> None:
    emulator.state.script_fault("drop", count=1, path="/gpu/instances")

    page = await novita_client.list_instances_page()

    assert page.total == 0
    assert emulator.state.calls["GET /gpu/instances"] == 2


async def test_timeout_is_retried(novita_client_factory: ClientFactory, emulator: Any) -> None:
    client = await novita_client_factory(timeout=0.15)
    emulator.state.script_fault("slow", count=1, path="/clusters", seconds=1.0)

    assert await client.list_clusters()
    assert emulator.state.calls[CLUSTERS] == 2
    assert client.stats["unavailable"] == 1


async def test_no_retry_on_4xx(
    novita_client: NovitaClient, emulator: Any, novita_sleeps: RecordingSleep
) -> None:
    with pytest.raises(NovitaNotFound):
        await novita_client.stop_instance("0123456789abcdef")
    with pytest.raises(NovitaNotFound) as unknown:
        await novita_client.get_template("999")  # 400 TEMPLATE_NOT_FOUND: not found, named
    assert (unknown.value.status, unknown.value.reason) == (400, "TEMPLATE_NOT_FOUND")
    assert unknown.value.message == "no template '999' on Novita"
    emulator.state.script_fault("status", status=400, path="/template")
    with pytest.raises(NovitaBadRequest):
        await novita_client.get_template("1")  # another 400 stays a bad request

    assert emulator.state.calls["POST /gpu/instance/stop"] == 1
    assert emulator.state.calls["GET /template"] == 2
    assert novita_sleeps.calls == []
    assert novita_client.stats["retries"] == 0


async def test_gives_up_after_max_attempts(
    novita_client_factory: ClientFactory, emulator: Any, novita_sleeps: RecordingSleep
) -> None:
    client = await novita_client_factory(max_attempts=3)
    emulator.state.script_fault("status", status=503, count=10, path="/clusters")

    with pytest.raises(NovitaUnavailable) as caught:
        await client.list_clusters()

    assert caught.value.status == 503
    assert caught.value.exit_code == 6
    assert caught.value.details["attempts"] == 3
    assert emulator.state.calls[CLUSTERS] == 3
    assert len(novita_sleeps.calls) == 2


async def test_rate_limit_outlasting_the_time_cap(
    novita_client_factory: ClientFactory, emulator: Any, novita_sleeps: RecordingSleep
) -> None:
    client = await novita_client_factory(max_attempts=10, max_retry_seconds=10)
    emulator.state.script_fault("status", status=429, count=10, path="/clusters", retry_after=4)

    with pytest.raises(NovitaRateLimited) as caught:
        await client.list_clusters()

    assert caught.value.retry_after == 4
    assert novita_sleeps.calls == [4, 4]  # a third 4 s wait would pass the 10 s cap
    assert emulator.state.calls[CLUSTERS] == 3


# -- create is never repeated ------------------------------------------------------------------------


async def test_dropped_create_is_looked_up_not_reposted(
    novita_client: NovitaClient, emulator: Any, novita_sleeps: RecordingSleep
) -> None:
    emulator.state.script_fault("drop", count=1, path=CREATE)

    with pytest.raises(NovitaUnavailable) as caught:
        await novita_client.create_instance(create_request("fragile"))

    assert emulator.state.calls[CREATE] == 1
    assert emulator.state.calls["GET /gpu/instances"] == 3  # looked for it three times
    assert "may or may not" in caught.value.message
    assert caught.value.hint
    assert "novictl list" in caught.value.hint
    assert len(emulator.state) == 0


async def test_create_whose_answer_is_lost_is_found_by_name(
    novita_client_factory: ClientFactory, emulator: Any
) -> None:
    async def short_real_sleep(seconds: float) -> None:
        await asyncio.sleep(0.25)  # long enough for the emulator to finish the slow create

    client = await novita_client_factory(timeout=0.15, sleep=short_real_sleep)
    old = await client.create_instance(create_request("old-namesake"))
    emulator.state.script_fault("slow", count=1, path=CREATE, seconds=0.3)

    instance_id = await client.create_instance(create_request("recovered"))

    assert instance_id != old
    assert emulator.state.instance_calls[instance_id]["create"] == 1
    assert emulator.state.calls[CREATE] == 2  # the first create, and exactly one for "recovered"
    assert client.stats["create_recovered"] == 1
    assert (await client.get_instance(instance_id)).name == "recovered"


async def test_create_without_a_name_cannot_be_recovered(novita_client: NovitaClient, emulator: Any) -> None:
    emulator.state.script_fault("status", status=502, count=1, path=CREATE)

    with pytest.raises(NovitaUnavailable) as caught:
        await novita_client.create_instance(create_request(name=None))

    assert caught.value.hint
    assert "name" in caught.value.hint
    assert emulator.state.calls[CREATE] == 1
    assert emulator.state.calls["GET /gpu/instances"] == 0


async def test_create_is_retried_on_429(
    novita_client: NovitaClient, emulator: Any, novita_sleeps: RecordingSleep
) -> None:
    emulator.state.script_fault("status", status=429, count=1, path=CREATE, retry_after=1)

    instance_id = await novita_client.create_instance(create_request("patient"))

    assert emulator.state.calls[CREATE] == 2
    assert emulator.state.instance_calls[instance_id]["create"] == 1
    assert novita_sleeps.calls == [1]


# -- circuit breaker ---------------------------------------------------------------------------------


async def breaker_client(factory: ClientFactory, clock: ManualClock, **options: Any) -> NovitaClient:
    breaker = CircuitBreaker(failure_threshold=2, reset_seconds=30, clock=clock)
    return await factory(breaker=breaker, **{"max_attempts": 1, **options})


async def test_breaker_opens_and_fails_fast(novita_client_factory: ClientFactory, emulator: Any) -> None:
    clock = ManualClock()
    client = await breaker_client(novita_client_factory, clock)
    emulator.state.script_fault("status", status=503, count=2, path="/clusters")

    for _ in range(2):
        with pytest.raises(NovitaUnavailable):
            await client.list_clusters()
    assert client.breaker.state is BreakerState.OPEN

    clock.now += 29
    with pytest.raises(CircuitOpen) as caught:
        await client.list_clusters()
    assert caught.value.retry_in == pytest.approx(1)
    assert emulator.state.calls[CLUSTERS] == 2  # the open breaker never called Novita
    assert client.stats["circuit_open"] == 1

    clock.now += 1  # half-open: one probe goes through, succeeds, and closes the breaker
    assert await client.list_clusters()
    assert BreakerState(client.breaker.state.value) is BreakerState.CLOSED  # read afresh (no narrowing)
    assert emulator.state.calls[CLUSTERS] == 3


async def test_half_open_lets_exactly_one_probe_through(
    novita_client_factory: ClientFactory, emulator: Any
) -> None:
    clock = ManualClock()
    client = await breaker_client(novita_client_factory, clock)
    emulator.state.script_fault("status", status=503, count=2, path="/clusters")
    for _ in range(2):
        with pytest.raises(NovitaUnavailable):
            await client.list_clusters()
    clock.now += 30
    emulator.state.script_fault("slow", count=1, path="/clusters", seconds=0.2)

    results = await asyncio.gather(*(client.list_clusters() for _ in range(3)), return_exceptions=True)

    assert sum(isinstance(result, list) for result in results) == 1
    assert sum(isinstance(result, CircuitOpen) for result in results) == 2
    assert emulator.state.calls[CLUSTERS] == 3
    assert client.breaker.state is BreakerState.CLOSED


async def test_failed_probe_reopens(novita_client_factory: ClientFactory, emulator: Any) -> None:
    clock = ManualClock()
    client = await breaker_client(novita_client_factory, clock)
    emulator.state.script_fault("status", status=503, count=3, path="/clusters")
    for _ in range(2):
        with pytest.raises(NovitaUnavailable):
            await client.list_clusters()
    clock.now += 30

    with pytest.raises(NovitaUnavailable) as caught:
        await client.list_clusters()

    assert not isinstance(caught.value, CircuitOpen)  # the probe really called Novita…
    assert emulator.state.calls[CLUSTERS] == 3
    assert client.breaker.state is BreakerState.OPEN  # …and its failure re-opened the breaker
    with pytest.raises(CircuitOpen):
        await client.list_clusters()
    assert emulator.state.calls[CLUSTERS] == 3


async def test_breaker_stops_retries_and_ignores_4xx(
    novita_client_factory: ClientFactory, emulator: Any
) -> None:
    clock = ManualClock()
    client = await breaker_client(novita_client_factory, clock, max_attempts=4)

    for _ in range(3):
        with pytest.raises(NovitaNotFound):
            await client.get_instance("0123456789abcdef")
    assert client.breaker.state is BreakerState.CLOSED

    emulator.state.script_fault("status", status=503, count=10, path="/clusters")
    with pytest.raises(CircuitOpen):
        await client.list_clusters()
    assert emulator.state.calls[CLUSTERS] == 2  # the third attempt met the open breaker
