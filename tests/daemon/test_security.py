"""The API's edge: token, rate limit, body cap, CORS, request ids, security headers; binding rules."""

from __future__ import annotations

import hmac

import pytest

from novictl.daemon.security import is_loopback_host, require_token_for_host
from novictl.errors import ConfigError

TOKEN = "s3cret-token-0123456789"


async def test_api_needs_the_token_and_health_stays_open(daemon_harness) -> None:
    harness = await daemon_harness({"daemon.api_token": TOKEN})
    missing = await harness.http.get("/api/instances")
    assert missing.status_code == 401
    assert missing.json()["error"]["code"] == "unauthorized"
    assert missing.headers["www-authenticate"].startswith("Bearer")
    wrong = await harness.http.get("/api/instances", headers=harness.auth(TOKEN + "x"))
    assert wrong.status_code == 401
    basic = await harness.http.get("/api/instances", headers={"Authorization": f"Basic {TOKEN}"})
    assert basic.status_code == 401
    ping = await harness.http.put("/api/instances/abc/last-used", headers=harness.auth("nope"))
    assert ping.status_code == 401
    assert TOKEN not in missing.text + wrong.text

    assert (await harness.http.get("/api/instances", headers=harness.auth(TOKEN))).status_code == 200
    assert (await harness.http.get("/health")).status_code == 200
    assert (await harness.http.get("/metrics")).status_code == 200
    assert (await harness.http.get("/openapi.json")).status_code == 200


async def test_metrics_need_the_token_when_configured(daemon_harness) -> None:
    harness = await daemon_harness({"daemon.api_token": TOKEN, "daemon.metrics_require_token": True})
    assert (await harness.http.get("/metrics")).status_code == 401
    assert (await harness.http.get("/metrics", headers=harness.auth(TOKEN))).status_code == 200


async def test_the_token_is_compared_in_constant_time(daemon_harness, monkeypatch) -> None:
    compared: list[tuple[bytes, bytes]] = []
    real_compare = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return real_compare(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)  # the module the middleware calls through
    harness = await daemon_harness({"daemon.api_token": TOKEN})
    assert (await harness.http.get("/api/events", headers=harness.auth("guess"))).status_code == 401
    assert compared == [(b"guess", TOKEN.encode())]


async def test_rate_limit_answers_429_with_retry_after(daemon_harness) -> None:
    harness = await daemon_harness({"daemon.rate_limit_per_minute": 3})
    statuses = [(await harness.http.get("/api/version")).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    limited = await harness.http.get("/api/version")
    assert limited.json()["error"]["code"] == "rate_limited"
    assert int(limited.headers["retry-after"]) >= 1
    assert (await harness.http.get("/health")).status_code == 200  # monitoring is never rate limited

    other = await daemon_harness({"daemon.rate_limit_per_minute": 3}, client_host="10.0.0.9")
    assert (await other.http.get("/api/version")).status_code == 200  # budgets are per client


async def test_pings_have_their_own_larger_bucket(daemon_harness, emulator) -> None:
    harness = await daemon_harness(
        {"daemon.rate_limit_per_minute": 2, "daemon.ping_rate_limit_per_minute": 5}
    )
    pings = [(await harness.http.put("/api/instances/nope/last-used", json={})).status_code for _ in range(6)]
    assert pings[:5] == [404] * 5  # past the general budget of 2, still answered
    assert pings[5] == 429
    assert (await harness.http.get("/api/version")).status_code == 200  # the general bucket is separate


async def test_bodies_over_the_cap_get_413(daemon_harness) -> None:
    harness = await daemon_harness({"daemon.max_body_bytes": 100})
    declared = await harness.http.put("/api/instances/x/last-used", content=b"{" + b" " * 200 + b"}")
    assert declared.status_code == 413
    assert declared.json()["error"]["code"] == "body_too_large"

    async def chunks():
        for _ in range(10):
            yield b" " * 50

    streamed = await harness.http.post("/api/instances/sync", content=chunks())
    assert streamed.status_code == 413
    small = await harness.http.post("/api/instances/sync", json={"dryRun": True})
    assert small.status_code == 200


async def test_cors_only_for_configured_origins(daemon_harness) -> None:
    allowed = "https://dash.example.com"
    harness = await daemon_harness({"daemon.cors_origins": [allowed]})
    preflight = {"Origin": allowed, "Access-Control-Request-Method": "PUT"}
    ok = await harness.http.options("/api/instances/x/last-used", headers=preflight)
    assert ok.status_code == 200
    assert ok.headers["access-control-allow-origin"] == allowed
    other = await harness.http.options(
        "/api/instances/x/last-used", headers={**preflight, "Origin": "https://evil.example"}
    )
    assert "access-control-allow-origin" not in other.headers
    simple = await harness.http.get("/api/version", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in simple.headers

    closed = await daemon_harness()
    response = await closed.http.get("/api/version", headers={"Origin": allowed})
    assert "access-control-allow-origin" not in response.headers


async def test_request_id_is_echoed_or_made_and_security_headers_are_set(daemon_harness) -> None:
    harness = await daemon_harness()
    echoed = await harness.http.get("/api/version", headers={"X-Request-ID": "trace-42.a"})
    assert echoed.headers["x-request-id"] == "trace-42.a"
    made = await harness.http.get("/api/version", headers={"X-Request-ID": "bad id\twith junk"})
    assert made.headers["x-request-id"] != "bad id\twith junk"
    assert len(made.headers["x-request-id"]) == 32
    for response in (echoed, await harness.http.get("/nope"), await harness.http.get("/health")):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
        assert response.headers["referrer-policy"] == "no-referrer"
    assert echoed.headers["cache-control"] == "no-store"


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "localhost", "127.0.0.53", "[::1]"])
def test_loopback_hosts(host: str) -> None:
    assert is_loopback_host(host)
    require_token_for_host(host, has_token=False)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.5", "example.com"])
def test_non_loopback_hosts_need_a_token(host: str) -> None:
    assert not is_loopback_host(host)
    with pytest.raises(ConfigError) as refused:
        require_token_for_host(host, has_token=False)
    assert refused.value.exit_code == 3
    require_token_for_host(host, has_token=True)
