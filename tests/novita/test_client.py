"""Every NovitaClient method, paging and error mapping, over real HTTP to the emulator."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from novictl.errors import (
    NovitaAuthError,
    NovitaBadRequest,
    NovitaNotFound,
    NovitaStateConflict,
)
from novictl.novita import CreateInstanceRequest, Instance, NovitaClient

ClientFactory = Callable[..., Awaitable[NovitaClient]]


def make_request(name: str = "trainer", **overrides: Any) -> CreateInstanceRequest:
    fields: dict[str, Any] = {
        "product_id": "4090.16c62g",
        "gpu_num": 1,
        "rootfs_size": 60,
        "image_url": "pytorch/pytorch:2.3.0",
        "name": name,
        "ports": "8888/http, 22/tcp",
    }
    fields.update(overrides)
    return CreateInstanceRequest(**fields)


async def wait_for_status(client: NovitaClient, instance_id: str, status: str) -> Instance:
    """Poll until the instance reaches ``status`` (the emulator's steps last 20 ms)."""
    deadline = time.monotonic() + 3
    while True:
        instance = await client.get_instance(instance_id)
        if instance.status == status or time.monotonic() > deadline:
            assert instance.status == status
            return instance
        await asyncio.sleep(0.02)


async def test_list_clusters(novita_client: NovitaClient, emulator: Any) -> None:
    clusters = await novita_client.list_clusters()

    by_id = {cluster.id: cluster for cluster in clusters}
    california = by_id["us-ca-6"]
    assert (california.code, california.place) == ("US-CA-06", "California")
    assert "RTX 4090 24GB" in california.available_gpu_type
    assert california.support_network_storage is True
    assert all(california.answers_to(name) for name in ("us-ca-6", "US-CA-06", "us-ca-06", "California"))
    assert not california.answers_to("US-CA")
    assert await novita_client.list_clusters() == clusters  # cached for the client's life
    assert emulator.state.calls["GET /clusters"] == 1
    assert novita_client.stats["GET /clusters"] == 1


async def test_list_products_with_filters_and_prices(novita_client: NovitaClient) -> None:
    products = await novita_client.list_products(product_name="4090", cluster_id="us-ca-6", gpu_num=1)

    assert [product.id for product in products] == ["4090.16c62g"]
    product = products[0]
    assert product.price_usd == pytest.approx(0.35)
    assert product.spot_price_usd == pytest.approx(0.175)
    assert "US-CA-06" in product.cluster_ids
    assert product.available

    unavailable = await novita_client.list_products(cluster_id="eu-se-1", billing_method="onDemand")
    assert any(not product.available for product in unavailable)
    assert await novita_client.list_products(min_cpu_per_gpu=1000) == []
    roomy = await novita_client.list_products(min_memory_per_gpu=100, min_rootfs_size=1000)
    assert roomy
    assert all(product.memory_per_gpu and product.memory_per_gpu >= 100 for product in roomy)


async def test_create_and_drive_the_whole_lifecycle(novita_client: NovitaClient, emulator: Any) -> None:
    instance_id = await novita_client.create_instance(make_request("lifecycle"))
    assert re.fullmatch(r"[0-9a-f]{16}", instance_id)

    running = await wait_for_status(novita_client, instance_id, "running")
    assert running.name == "lifecycle"
    assert running.gpu_num == 1
    assert running.created_at is not None
    assert running.created_at.tzinfo is not None
    assert running.connect_component_ssh is not None
    assert running.keep_data_day == 7
    assert {mapping.port for mapping in running.port_mappings} >= {8888, 22}

    await novita_client.stop_instance(instance_id)
    stopped = await wait_for_status(novita_client, instance_id, "exited")
    assert stopped.last_stopped_at is not None

    await novita_client.start_instance(instance_id)
    started = await wait_for_status(novita_client, instance_id, "running")
    assert started.last_started_at is not None

    await novita_client.restart_instance(instance_id)
    await wait_for_status(novita_client, instance_id, "running")

    await novita_client.delete_instance(instance_id)
    deadline = time.monotonic() + 3
    with pytest.raises(NovitaNotFound):  # noqa: PT012 — polls until the instance is gone
        while time.monotonic() < deadline:
            await novita_client.get_instance(instance_id)
            await asyncio.sleep(0.02)

    calls = emulator.state.instance_calls[instance_id]
    assert (calls["create"], calls["stop"], calls["start"], calls["restart"], calls["delete"]) == (
        1,
        1,
        1,
        1,
        1,
    )
    assert emulator.state.calls["POST /gpu/instance/create"] == 1


async def test_list_page_filters(novita_client: NovitaClient) -> None:
    first = await novita_client.create_instance(make_request("alpha-one"))
    await novita_client.create_instance(make_request("beta-two"))

    page = await novita_client.list_instances_page(name="alpha")
    assert [instance.id for instance in page.instances] == [first]
    assert page.total == 1

    everything = await novita_client.list_instances_page(page_size=1)
    assert len(everything.instances) == 1
    assert everything.total == 2

    by_product = await novita_client.list_all_instances(product_name="4090")
    assert len(by_product) == 2
    await wait_for_status(novita_client, first, "running")
    assert [i.id for i in await novita_client.list_all_instances(status="running", name="alpha")] == [first]


async def test_pages_through_2500_instances(
    emulator_factory: Callable[..., Any], novita_client_factory: ClientFactory
) -> None:
    big = emulator_factory(instances=2500)
    client = await novita_client_factory(base_url=big.base_url, api_key=big.api_key, page_size=100)

    instances = await client.list_all_instances()

    assert len(instances) == 2500
    assert len({instance.id for instance in instances}) == 2500
    # 25 full pages and no 26th: paging stops once `total` has arrived.
    assert big.state.calls["GET /gpu/instances"] == 25

    big.state.reset_calls()
    assert len(await client.list_all_instances(page_size=1000)) == 2500
    assert big.state.calls["GET /gpu/instances"] == 3  # the third page is short


async def test_get_template_and_repository_auths(novita_client: NovitaClient) -> None:
    template = await novita_client.get_template("1")
    assert template.id == "1"
    assert template.image
    assert template.image.startswith("pytorch/")
    assert template.ports_spec() == "8888/http, 22/tcp"

    auths = await novita_client.list_repository_auths()
    assert {auth.name for auth in auths} >= {"acme-registry"}
    assert all(auth.password is not None for auth in auths)
    for text in (repr(auths), str([auth.model_dump() for auth in auths])):
        assert "emulated-password" not in text


async def test_not_found_from_404(novita_client: NovitaClient, emulator: Any, novita_sleeps: Any) -> None:
    with pytest.raises(NovitaNotFound) as caught:
        await novita_client.get_instance("0123456789abcdef")

    assert caught.value.status == 404
    assert caught.value.exit_code == 4
    assert emulator.state.calls["GET /gpu/instance"] == 1  # never retried
    assert novita_sleeps.calls == []


async def test_a_404_page_in_html_is_not_found_without_its_markup(
    novita_client: NovitaClient, emulator: Any
) -> None:
    # NOVITA_API.md: a 404 means gone, whatever its body; a gateway's may be an HTML page.
    emulator.state.script_fault("html", status=404, path="/gpu/instance")

    with pytest.raises(NovitaNotFound) as caught:
        await novita_client.get_instance("0123456789abcdef")

    assert caught.value.status == 404
    assert "<" not in caught.value.message


async def test_not_found_from_400_resource_not_found(novita_client: NovitaClient, emulator: Any) -> None:
    with pytest.raises(NovitaNotFound) as caught:
        await novita_client.create_instance(make_request(product_id="no-such-product"))

    assert (caught.value.status, caught.value.reason) == (400, "RESOURCE_NOT_FOUND")
    assert emulator.state.calls["POST /gpu/instance/create"] == 1


async def test_invalid_state_change_is_a_conflict(novita_client: NovitaClient, emulator: Any) -> None:
    instance_id = await novita_client.create_instance(make_request("conflict"))
    await wait_for_status(novita_client, instance_id, "running")

    with pytest.raises(NovitaStateConflict) as caught:
        await novita_client.start_instance(instance_id)

    assert caught.value.exit_code == 5
    assert "invalid state change" in caught.value.message
    assert emulator.state.instance_calls[instance_id]["start"] == 1


async def test_other_4xx_is_a_bad_request_with_reason(novita_client: NovitaClient, emulator: Any) -> None:
    with pytest.raises(NovitaBadRequest) as caught:
        await novita_client.create_instance(make_request(product_id="h100-80g.16c200g.se"))
    assert caught.value.reason == "INSUFFICIENT_RESOURCE"

    with pytest.raises(NovitaBadRequest) as caught:
        await novita_client.create_instance(make_request(rootfs_size=1))
    assert caught.value.reason == "VALIDATOR_PARAM"
    assert "rootfsSize" in caught.value.message
    assert emulator.state.calls["POST /gpu/instance/create"] == 2


async def test_wrong_key_is_an_auth_error(novita_client_factory: ClientFactory, emulator: Any) -> None:
    client = await novita_client_factory(api_key="wrong-key-abc123")

    with pytest.raises(NovitaAuthError) as caught:
        await client.list_clusters()

    error = caught.value
    assert (error.status, error.exit_code) == (401, 3)
    assert error.hint
    assert "NOVITA_API_KEY" in error.hint
    assert "wrong-key-abc123" not in f"{error} {error.message} {error.details} {client!r}"
    assert emulator.state.calls["GET /clusters"] == 1
