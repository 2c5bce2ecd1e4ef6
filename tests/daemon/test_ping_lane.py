"""The ping's fast lane: good pings are answered before FastAPI, everything else reaches the route intact."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from novictl.daemon.http.ping_lane import PingFastLane, ping_ref
from tests.fixtures.daemon import seed_running


class Behind:
    """The app behind the lane: records what reached it (and the body it could read)."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, bytes]] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        self.seen.append((scope["method"], scope["path"], body))
        await send({"type": "http.response.start", "status": 299, "headers": []})
        await send({"type": "http.response.body", "body": b"route"})


@pytest.fixture
async def lane(daemon_harness, emulator):
    harness = await daemon_harness()
    (instance_id,) = seed_running(emulator, 1)
    assert (await harness.http.post("/api/instances/sync", json={})).status_code == 200
    behind = Behind()
    http = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=PingFastLane(behind, ctx=harness.ctx)), base_url="http://d.test"
    )
    yield harness, behind, http, instance_id
    await http.aclose()


@pytest.mark.parametrize(
    ("kwargs", "source"),
    [
        ({}, "api"),
        ({"json": {}}, "api"),
        ({"json": {"source": "notebook"}}, "notebook"),
        (
            {
                "content": b'{"source": "cron"}',
                "headers": {"content-type": "application/json; charset=utf-8"},
            },
            "cron",
        ),
    ],
)
async def test_a_good_ping_is_answered_without_reaching_the_route(lane, kwargs, source) -> None:
    harness, behind, http, instance_id = lane
    response = await http.put(f"/api/instances/{instance_id}/last-used", **kwargs)
    assert response.status_code == 200, response.text
    assert response.json()["instanceId"] == instance_id
    assert behind.seen == []
    assert await harness.ctx.pings.flush() == 1
    stored = await harness.ctx.store.get(instance_id)
    assert stored.last_used_at.isoformat() == response.json()["lastUsedAt"]
    assert stored.last_used_source == source


@pytest.mark.parametrize(
    ("path", "kwargs"),
    [
        (
            "/api/instances/{id}/last-used",
            {"content": b"{not json", "headers": {"content-type": "application/json"}},
        ),
        ("/api/instances/{id}/last-used", {"json": {"lastUsedAt": "yesterday-ish"}}),
        ("/api/instances/{id}/last-used", {"json": [1, 2, 3]}),
        (
            "/api/instances/{id}/last-used",
            {"content": b"source=x", "headers": {"content-type": "text/plain"}},
        ),
        ("/api/instances/" + "x" * 300 + "/last-used", {}),
        ("/api/instances/a/b/last-used", {}),
        ("/api/instances/{id}/last-used", {"json": {"source": "s", "padding": "p" * 5000}}),
        (
            "/api/instances/{id}/last-used",
            {"content": b"   ", "headers": {"content-type": "application/json"}},
        ),
    ],
)
async def test_anything_else_reaches_the_route_with_its_body_intact(lane, path, kwargs) -> None:
    harness, behind, http, instance_id = lane
    path = path.replace("{id}", instance_id)
    response = await http.put(path, **kwargs)
    assert (response.status_code, response.text) == (299, "route")
    [(method, seen_path, body)] = behind.seen
    assert (method, seen_path) == ("PUT", path)
    assert body == kwargs.get("content", httpx.Request("PUT", "http://x", json=kwargs.get("json")).content)
    assert await harness.ctx.pings.flush() == 0


async def test_other_methods_pass_through(lane) -> None:
    _, behind, http, instance_id = lane
    assert (await http.get(f"/api/instances/{instance_id}/last-used")).status_code == 299
    assert (await http.put(f"/api/instances/{instance_id}")).status_code == 299
    assert [(m, p) for m, p, _ in behind.seen] == [
        ("GET", f"/api/instances/{instance_id}/last-used"),
        ("PUT", f"/api/instances/{instance_id}"),
    ]


async def test_an_unknown_instance_gets_the_error_shape_from_the_lane(lane) -> None:
    _, behind, http, _ = lane
    response = await http.put("/api/instances/0123456789abcdef/last-used", json={})
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert behind.seen == []


def test_ping_ref_accepts_what_the_route_accepts() -> None:
    assert ping_ref("/api/instances/abc/last-used") == "abc"
    assert ping_ref("/api/instances/" + "n" * 256 + "/last-used") == "n" * 256
    too_long = "/api/instances/" + "n" * 257 + "/last-used"
    for path in ("/api/instances//last-used", too_long, "/api/instances/a/b/last-used",
                 "/api/instances/abc", "/api/other/abc/last-used"):  # fmt: skip
        assert ping_ref(path) is None, path


async def test_the_route_answers_a_good_ping_the_same_way_without_the_lane(daemon_harness, emulator) -> None:
    harness = await daemon_harness()
    (instance_id,) = seed_running(emulator, 1)
    assert (await harness.http.post("/api/instances/sync", json={})).status_code == 200
    through_lane = await harness.http.put(f"/api/instances/{instance_id}/last-used", json={"source": "a"})

    harness.app.user_middleware = [m for m in harness.app.user_middleware if m.cls is not PingFastLane]
    harness.app.middleware_stack = None  # rebuilt on the next request, without the lane
    through_route = await harness.http.put(f"/api/instances/{instance_id}/last-used", json={"source": "b"})

    layers, layer = [], harness.app.middleware_stack
    while layer is not None:
        layers.append(type(layer).__name__)
        layer = getattr(layer, "app", None)
    assert "PingFastLane" not in layers
    assert "GuardMiddleware" in layers  # the rebuilt stack is the one that answered
    assert (through_lane.status_code, through_route.status_code) == (200, 200)
    assert list(through_route.json()) == list(through_lane.json())
    assert through_route.json()["instanceId"] == instance_id
    for header in ("x-request-id", "cache-control", "content-type", "x-content-type-options"):
        assert (header in through_route.headers) == (header in through_lane.headers), header
    await harness.ctx.pings.flush()
    stored = await harness.ctx.store.get(instance_id)
    assert (stored.last_used_at.isoformat(), stored.last_used_source) == (
        through_route.json()["lastUsedAt"],
        "b",
    )
