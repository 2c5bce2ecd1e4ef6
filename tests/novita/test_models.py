"""The models accept what the live API really sends and never show a password."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from novictl.novita import (
    CreateInstanceRequest,
    Instance,
    InstancePage,
    InstanceStatus,
    Product,
    RepositoryAuth,
    Template,
)

LIVE_LIST_ITEM = {
    "id": "a1b2c3d4e5f60708",
    "name": "trainer",
    "clusterId": "US-CA-06",
    "clusterName": "California",
    "status": "running",
    "imageUrl": "pytorch/pytorch",
    "imageAuthId": "",
    "cpuNum": "16",
    "memory": "62",
    "gpuNum": "1",
    "portMappings": [{"port": 8888, "endpoint": "https://a1b2-8888.x", "type": "http"}],
    "productId": "4090.16c62g",
    "productName": "RTX 4090 24GB",
    "rootfsSize": 60,
    "volumeMounts": None,
    "statusError": {"state": "", "message": ""},
    "envs": [{"key": "HF_TOKEN", "value": "hf_secret_value"}],
    "kind": "gpu",
    "billingMode": "",
    "endTime": "-1",
    "spotStatus": "",
    "spotReclaimTime": "0",
    "createdAt": "1714000000",
    "lastStartedAt": "0",
    "lastStoppedAt": "",
    "gpuIds": [0],
    "someFieldNovitaAddsTomorrow": {"x": 1},
}


def test_instance_parses_strings_empties_and_unknown_fields() -> None:
    instance = Instance.model_validate(LIVE_LIST_ITEM)

    assert (instance.cpu_num, instance.gpu_num, instance.memory) == (16, 1, 62.0)
    assert instance.created_at == datetime.fromtimestamp(1714000000, tz=UTC)
    assert instance.created_at.tzinfo is UTC
    assert instance.last_started_at is None  # "0" means never
    assert instance.last_stopped_at is None  # "" too
    assert instance.spot_reclaim_time is None
    assert instance.billing_mode is None
    assert instance.spot_status is None
    assert instance.image_auth_id is None
    assert instance.end_time == "-1"
    assert instance.port_mappings[0].port == 8888
    assert instance.volume_mounts == []
    assert instance.is_running
    assert instance.model_extra == {"someFieldNovitaAddsTomorrow": {"x": 1}}
    # snake_case names populate too, and env values stay out of the repr
    assert Instance(id="x", gpu_num="2").gpu_num == 2
    assert "hf_secret_value" not in repr(instance)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1714000000", datetime(2024, 4, 24, 23, 6, 40, tzinfo=UTC)),
        (1714000000, datetime(2024, 4, 24, 23, 6, 40, tzinfo=UTC)),
        ("1714000000000", datetime(2024, 4, 24, 23, 6, 40, tzinfo=UTC)),  # milliseconds
        ("2024-04-24T23:06:40Z", datetime(2024, 4, 24, 23, 6, 40, tzinfo=UTC)),
        ("0", None),
        ("", None),
        (None, None),
        ("soon", None),
        ("-5", None),
    ],
)
def test_unix_timestamps_become_aware_utc_or_none(raw: object, expected: datetime | None) -> None:
    assert Instance.model_validate({"id": "i", "createdAt": raw}).created_at == expected


@pytest.mark.parametrize("status", ["pending", "someStatusNovitaInventsLater"])
def test_pending_and_unknown_statuses_parse(status: str) -> None:
    instance = Instance.model_validate({"id": "i", "status": status})
    assert instance.status == status
    assert InstanceStatus.is_known(status) is (status == "pending")


def test_status_sets() -> None:
    assert InstanceStatus.STOPPED == "exited"
    assert InstanceStatus.RUNNING == "running"
    assert {"toRemove", "removing", "removed"} == InstanceStatus.GONE
    assert InstanceStatus.is_transitional("pulling")
    assert not InstanceStatus.is_transitional("running")
    assert InstanceStatus.GONE.isdisjoint(InstanceStatus.TRANSITIONAL)
    assert Instance(id="i", status="removing").is_gone


def test_ssh_password_never_in_repr_str_or_dump() -> None:
    detail = {
        **LIVE_LIST_ITEM,
        "connectComponentSSH": {
            "sshCommand": "ssh -p 32787 root@proxy",
            "password": "hunter2-pw",
            "isRunning": True,
        },
        "keepDataDay": "7",
        "network": {"id": "", "ip": "10.0.0.5"},
    }
    instance = Instance.model_validate(detail)

    assert instance.connect_component_ssh is not None
    assert instance.connect_component_ssh.password is not None
    assert instance.connect_component_ssh.password.get_secret_value() == "hunter2-pw"
    assert instance.keep_data_day == 7
    for text in (repr(instance), str(instance), str(instance.model_dump()), instance.model_dump_json()):
        assert "hunter2-pw" not in text
    assert instance.model_dump()["connect_component_ssh"]["ssh_command"] == "ssh -p 32787 root@proxy"


def test_repository_auth_password_hidden() -> None:
    auth = RepositoryAuth.model_validate({"id": 7, "name": "hub", "username": "bob", "password": "s3cret-pw"})
    assert auth.id == "7"
    assert auth.password is not None
    assert auth.password.get_secret_value() == "s3cret-pw"
    for text in (repr(auth), str(auth), str(auth.model_dump()), auth.model_dump_json()):
        assert "s3cret-pw" not in text


@pytest.mark.parametrize("price", ["35000", 35000, "35000.0"])
def test_price_units(price: object) -> None:
    product = Product.model_validate({"id": "p", "price": price, "spotPrice": "0"})
    assert product.price_usd == pytest.approx(0.35)
    assert product.spot_price_usd is None


def test_product_regions_spot_and_availability() -> None:
    product = Product.model_validate(
        {
            "id": "4090.16c62g",
            "regions": ["US-CA-06 (California)", "EU-DE-01 (Frankfurt)"],
            "spotPrice": "17500",
            "availableDeploy": True,
            "inventoryState": "normal",
            "minRootFS": "10",
            "maxRootFS": 6144,
        }
    )
    assert product.cluster_ids == ["US-CA-06", "EU-DE-01"]
    assert product.spot_price_usd == pytest.approx(0.175)
    assert product.available
    assert product.runs_in("EU-DE-01")
    assert not product.runs_in("AS-SGP-02")
    assert (product.min_root_fs, product.max_root_fs) == (10, 6144)

    everywhere = Product.model_validate({"id": "x", "regions": [], "availableDeploy": "false"})
    assert everywhere.cluster_ids == []
    assert everywhere.runs_in("anywhere")
    assert not everywhere.available
    assert Product.model_validate({"id": "y"}).spot_price_usd is None


def test_template_ports_in_both_shapes() -> None:
    listed = Template.model_validate(
        {
            "Id": 3,
            "image": "img",
            "ports": [{"type": "http", "ports": [8888]}, {"type": "tcp", "ports": [22]}],
        }
    )
    as_text = Template.model_validate({"id": "3", "imageUrl": "img", "ports": "8888/http, 22/tcp"})
    assert listed.id == as_text.id == "3"
    assert listed.image == as_text.image == "img"
    assert listed.ports_spec() == as_text.ports_spec() == "8888/http, 22/tcp"


def test_create_request_body_is_camel_case_without_nones() -> None:
    request = CreateInstanceRequest(
        product_id="4090.16c62g",
        gpu_num=1,
        rootfs_size=60,
        image_url="pytorch/pytorch",
        name="trainer",
        ports=["8888/http", "22/tcp"],
        image_auth="user:registry-pass",
        network_storages=[{"Id": "ns-1", "mountPoint": "/data"}],
        envs=[{"key": "A", "value": "1"}],
    )
    body = request.to_body()

    assert body == {
        "productId": "4090.16c62g",
        "gpuNum": 1,
        "rootfsSize": 60,
        "imageUrl": "pytorch/pytorch",
        "kind": "gpu",
        "name": "trainer",
        "imageAuth": "user:registry-pass",
        "ports": "8888/http, 22/tcp",
        "envs": [{"key": "A", "value": "1"}],
        "networkStorages": [{"Id": "ns-1", "mountPoint": "/data"}],
    }
    assert "registry-pass" not in repr(request)
    with pytest.raises(ValueError, match="typo_field"):
        CreateInstanceRequest(product_id="p", rootfs_size=10, image_url="i", typo_field=1)  # type: ignore[call-arg]


def test_instance_page_tolerates_null_list_and_string_total() -> None:
    page = InstancePage.model_validate({"instances": None, "total": "0"})
    assert page.instances == []
    assert page.total == 0
