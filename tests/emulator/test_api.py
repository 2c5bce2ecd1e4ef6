"""The Novita routes' shapes: auth, envelopes, string-typed numbers, validation, paging and filters."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

VALID: dict[str, Any] = {
    "productId": "3090.8c40g",
    "gpuNum": 2,
    "rootfsSize": 60,
    "imageUrl": "nvidia/cuda:12.4.1-cudnn-devel-ubuntu22.04",
    "kind": "gpu",
}


@pytest.mark.parametrize("header", [None, "Bearer wrong-key", "test-key", "Basic dGVzdC1rZXk="])
def test_missing_or_wrong_key_is_401(emulator: Any, header: str | None) -> None:
    headers = {"Authorization": header} if header else {}
    response = httpx.get(emulator.base_url + "/products", headers=headers)
    assert response.status_code == 401
    assert response.json() == {
        "code": 401,
        "reason": "UNAUTHORIZED",
        "message": "invalid or missing API key",
        "metadata": {},
    }


def test_products_have_string_prices_and_the_documented_fields(emulator_client: httpx.Client) -> None:
    products = emulator_client.get("/products").json()["data"]
    assert len(products) >= 6
    for product in products:
        assert isinstance(product["price"], str)
        assert product["price"].isdigit()
        assert isinstance(product["spotPrice"], str)
        assert {"id", "name", "cpuPerGpu", "memoryPerGpu", "availableDeploy", "regions", "maxRootFS"} <= set(
            product
        )
    by_id = {p["id"]: p for p in products}
    assert by_id["4090.16c62g"]["price"] == "35000"  # $0.35 per GPU per hour
    assert any(not p["availableDeploy"] for p in products)
    assert any(p["regions"] == [] for p in products)
    gpu_names = {p["name"] for p in products}
    assert {"RTX 4090 24GB", "RTX 3090 24GB", "A100 SXM4 80GB", "H100 SXM 80GB", "L40S 48GB"} <= gpu_names
    rtx4090_regions = [r for p in products if p["name"] == "RTX 4090 24GB" for r in p["regions"]]
    assert len({r.split(" ")[0] for r in rtx4090_regions}) >= 2


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"productName": "rtx4090"}, {"4090.16c62g", "4090.12c50g.sgp"}),
        ({"productName": "H100"}, {"h100-80g.16c200g", "h100-80g.16c200g.se"}),
        ({"clusterId": "as-sgp-2"}, {"4090.12c50g.sgp", "3090.8c40g", "l40s-48g.12c80g"}),
        ({"clusterId": "as-sgp-2", "gpuNum": 8}, {"4090.12c50g.sgp", "3090.8c40g"}),
        ({"billingMethod": "spot", "productName": "a100"}, {"a100-80g.12c120g"}),
        ({"minCpuPerGpu": 16}, {"4090.16c62g", "h100-80g.16c200g", "h100-80g.16c200g.se"}),
        ({"minMemoryPerGpu": 120}, {"a100-80g.12c120g", "h100-80g.16c200g", "h100-80g.16c200g.se"}),
        ({"minRootFSSize": 2000}, {"h100-80g.16c200g", "h100-80g.16c200g.se"}),
    ],
)
def test_product_filters(emulator_client: httpx.Client, params: dict[str, Any], expected: set[str]) -> None:
    products = emulator_client.get("/products", params=params).json()["data"]
    assert {p["id"] for p in products} == expected


def test_clusters_templates_and_auths(emulator_client: httpx.Client) -> None:
    clusters = emulator_client.get("/clusters").json()["data"]
    assert len(clusters) >= 3
    assert all({"id", "name", "availableGpuType", "supportNetworkStorage"} <= set(c) for c in clusters)
    singapore = next(c for c in clusters if c["id"] == "as-sgp-2")
    assert "L40S 48GB" in singapore["availableGpuType"]
    # Cluster ids are Novita's own, not the region codes products list; the name reads like a region.
    assert singapore["name"] == "AS-SGP-02 (Singapore)"
    assert all(c["id"] != c["name"].split(" ")[0] for c in clusters)

    private = emulator_client.get("/template", params={"templateId": "2"}).json()["template"]
    assert private["imageAuthId"] == "auth-7f3a"
    missing = emulator_client.get("/template", params={"templateId": "999"})
    assert (missing.status_code, missing.json()["reason"]) == (400, "TEMPLATE_NOT_FOUND")

    auths = emulator_client.get("/repository/auths").json()["data"]
    assert {"id", "name", "username", "password"} <= set(auths[0])
    assert "auth-7f3a" in {a["id"] for a in auths}


@pytest.mark.parametrize(
    "changes",
    [
        {"productId": None},
        {"gpuNum": 0},
        {"gpuNum": 9},
        {"gpuNum": "2"},
        {"rootfsSize": 9},
        {"rootfsSize": 6145},
        {"rootfsSize": 2000},  # above the product's maxRootFS (1024)
        {"imageUrl": ""},
        {"imageUrl": "x" * 501},
        {"kind": "tpu"},
        {"name": "n" * 256},
        {"ports": "8888/http, 2223/tcp"},
        {"ports": "70000/tcp"},
        {"ports": "8888/sctp"},
        {"ports": "http"},
        {"ports": ", ".join(f"{9000 + i}/http" for i in range(16))},
        {"ports": [8888]},
        {"envs": [{"key": f"K{i}", "value": "v"} for i in range(101)]},
        {"envs": [{"value": "no key"}]},
        {"command": "c" * 2048},
        {"entrypoint": "e" * 2048},
        {"billingMode": "hourly"},
        {"billingMode": "monthly"},
        {"imageAuth": "no-colon"},
    ],
)
def test_create_validation(emulator_client: httpx.Client, changes: dict[str, Any]) -> None:
    body = {k: v for k, v in {**VALID, **changes}.items() if v is not None}
    response = emulator_client.post("/gpu/instance/create", json=body)
    assert response.status_code == 400, response.text
    assert response.json()["reason"] == "VALIDATOR_PARAM"
    assert response.json()["code"] == 400
    assert emulator_client.get("/gpu/instances").json()["total"] == 0


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"productId": "nope.1c1g"}, "RESOURCE_NOT_FOUND"),
        ({"productId": "h100-80g.16c200g.se", "rootfsSize": 100}, "INSUFFICIENT_RESOURCE"),
        ({"productId": "l40s-48g.12c80g", "gpuNum": 8}, "INSUFFICIENT_RESOURCE"),
        ({"productId": "rtx6000ada.10c60g", "gpuNum": 1, "clusterId": "us-ca-6"}, "INSUFFICIENT_RESOURCE"),
        ({"clusterId": "MARS-01"}, "RESOURCE_NOT_FOUND"),
        ({"clusterId": "US-CA-06"}, "VALIDATOR_PARAM"),  # a region code is not a cluster id
        ({"clusterId": "US-CA-06 (California)"}, "VALIDATOR_PARAM"),
        ({"templateId": "424242"}, "TEMPLATE_NOT_FOUND"),
    ],
)
def test_create_business_errors(emulator_client: httpx.Client, changes: dict[str, Any], reason: str) -> None:
    response = emulator_client.post("/gpu/instance/create", json={**VALID, **changes})
    assert response.status_code == 400
    assert response.json()["reason"] == reason


def test_create_with_every_option(emulator_client: httpx.Client) -> None:
    body = {
        **VALID,
        "name": "full",
        "clusterId": "eu-de-1",
        "ports": "8888/http, 22/tcp, 5000/udp",
        "envs": [{"key": "A", "value": "1"}],
        "command": "sleep infinity",
        "imageAuthId": "auth-7f3a",
        "templateId": "2",
        "billingMode": "spot",
        "networkStorages": [{"Id": "ns-1", "mountPoint": "/data"}],
        "unknownFieldsAreIgnored": True,
    }
    instance_id = emulator_client.post("/gpu/instance/create", json=body).json()["id"]
    item = emulator_client.get("/gpu/instance", params={"instanceId": instance_id}).json()
    assert item["clusterId"] == "eu-de-1"
    assert item["clusterName"] == "EU-DE-01 (Frankfurt)"
    assert item["gpuNum"] == "2"
    assert item["cpuNum"] == "16"
    assert item["memory"] == "80"
    assert item["billingMode"] == "spot"
    assert item["endTime"] == "-1"
    assert item["spotReclaimTime"] == "0"
    assert item["templateId"] == "2"
    assert item["envs"] == [{"key": "A", "value": "1"}]
    assert item["volumeMounts"] == [{"type": "network", "id": "ns-1", "mountPath": "/data", "size": 100}]
    mappings = {m["port"]: m for m in item["portMappings"]}
    assert mappings[8888]["endpoint"] == f"https://{instance_id}-8888.eu-de-1.gpu-instance.novita.ai"
    assert mappings[22]["type"] == "tcp"
    assert mappings[22]["endpoint"].startswith("proxy.eu-de-1.gpu-instance.novita.ai:")
    # The list, as on live Novita: the SSH password, a TCP mapping without endpoint, sizes as strings.
    listed = emulator_client.get("/gpu/instances").json()["instances"][0]
    assert listed["sshPassword"] == item["connectComponentSSH"]["password"] != ""
    assert {m["port"]: "endpoint" in m for m in listed["portMappings"]} == {
        8888: True,
        22: False,
        5000: False,
    }
    assert listed["volumeMounts"][0]["size"] == "100"
    assert int(item["instancePrice"]) == 2 * 11000  # the 3090's spot price x 2 GPUs
    assert int(item["exitedLocalStoragePrice"]) > 0
    assert item["connectComponentSSH"]["sshCommand"].startswith("ssh -p ")
    assert item["keepDataDay"] == 7
    assert item["createdAt"].isdigit()


def _ids(client: httpx.Client, **params: Any) -> list[str]:
    return [item["id"] for item in client.get("/gpu/instances", params=params).json()["instances"]]


def test_paging_over_2500_instances(emulator_factory: Any) -> None:
    server = emulator_factory(instances=2500, seed=7)
    with httpx.Client(
        base_url=server.base_url, headers={"Authorization": f"Bearer {server.api_key}"}
    ) as client:
        seen: list[str] = []
        page = 0
        while True:
            body = client.get("/gpu/instances", params={"pageSize": 1000, "pageNum": page}).json()
            assert body["total"] == 2500
            seen.extend(item["id"] for item in body["instances"])
            if len(body["instances"]) < 1000:
                break
            page += 1
        assert page == 2
        assert len(seen) == len(set(seen)) == 2500
        created = [
            int(item["createdAt"])
            for item in client.get("/gpu/instances", params={"pageSize": 50}).json()["instances"]
        ]
        assert created == sorted(created, reverse=True)  # newest first
        statuses = {
            item["status"]
            for item in client.get("/gpu/instances", params={"pageSize": 2500}).json()["instances"]
        }
        assert {"running", "exited"} <= statuses


def test_pages_count_from_zero_as_on_live_novita_and_page_number_is_an_alias(
    emulator: Any, emulator_client: httpx.Client
) -> None:
    emulator.state.seed_instances(25)
    first = _ids(emulator_client, pageSize=10, pageNum=0)
    assert len(first) == 10
    assert _ids(emulator_client, pageSize=10) == first
    second = _ids(emulator_client, pageSize=10, pageNum=1)
    assert _ids(emulator_client, pageSize=10, pageNumber=1) == second
    assert not set(first) & set(second)
    third = emulator_client.get("/gpu/instances", params={"pageSize": 10, "pageNum": 2}).json()
    assert (len(third["instances"]), third["total"]) == (5, 25)
    assert not set(first + second) & {item["id"] for item in third["instances"]}
    assert (
        emulator_client.get("/gpu/instances", params={"pageSize": 10, "pageNum": 3}).json()["instances"] == []
    )
    bad = emulator_client.get("/gpu/instances", params={"pageSize": "ten"})
    assert (bad.status_code, bad.json()["reason"]) == (400, "VALIDATOR_PARAM")


def test_one_based_paging_reads_zero_and_one_as_the_first_page(emulator_factory: Any) -> None:
    server = emulator_factory(paging="one")
    server.state.seed_instances(25)
    with httpx.Client(
        base_url=server.base_url, headers={"Authorization": f"Bearer {server.api_key}"}
    ) as client:
        first = _ids(client, pageSize=10, pageNum=1)
        assert _ids(client, pageSize=10, pageNum=0) == first
        second = _ids(client, pageSize=10, pageNum=2)
        assert len(second) == 10
        assert not set(first) & set(second)
        assert len(_ids(client, pageSize=10, pageNum=3)) == 5


def test_list_filters_and_total_after_filters(emulator: Any, emulator_client: httpx.Client) -> None:
    ids = {}
    for name, product in (
        ("alpha-train", "4090.16c62g"),
        ("beta-train", "3090.8c40g"),
        ("gamma", "4090.16c62g"),
    ):
        body = {**VALID, "name": name, "productId": product}
        ids[name] = emulator_client.post("/gpu/instance/create", json=body).json()["id"]
    emulator.state.set_status(ids["gamma"], "exited")
    emulator.state.set_status(ids["alpha-train"], "running")

    by_name = emulator_client.get("/gpu/instances", params={"name": "TRAIN"}).json()
    assert by_name["total"] == 2
    assert {i["name"] for i in by_name["instances"]} == {"alpha-train", "beta-train"}
    by_product = emulator_client.get("/gpu/instances", params={"productName": "4090"}).json()
    assert {i["name"] for i in by_product["instances"]} == {"alpha-train", "gamma"}
    by_status = emulator_client.get("/gpu/instances", params={"status": "exited"}).json()
    assert (by_status["total"], by_status["instances"][0]["id"]) == (1, ids["gamma"])
    combined = emulator_client.get(
        "/gpu/instances", params={"productName": "4090", "status": "running"}
    ).json()
    assert [i["id"] for i in combined["instances"]] == [ids["alpha-train"]]
    paged = emulator_client.get(
        "/gpu/instances", params={"name": "train", "pageSize": 1, "pageNum": 1}
    ).json()
    assert paged["total"] == 2
    assert len(paged["instances"]) == 1
    assert emulator_client.get("/gpu/instances", params={"status": "Exited"}).json()["total"] == 0  # exact


def test_unknown_route_answers_novita_envelope(emulator_client: httpx.Client) -> None:
    response = emulator_client.get("/gpu/nothing-here")
    assert response.status_code == 404
    assert response.json()["reason"] == "NOT_FOUND"
