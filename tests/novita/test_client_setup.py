"""Building a client (settings, base URL, headers, secrets) and answers the emulator cannot give.

``httpx.MockTransport`` is used only for what the emulator cannot produce: gateway HTML pages, empty
bodies, odd error shapes, and a look at the request headers actually sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from novictl import __version__
from novictl.errors import (
    ConfigError,
    NovitaAuthError,
    NovitaBadRequest,
    NovitaError,
    NovitaNotFound,
    NovitaStateConflict,
    NovitaUnavailable,
)
from novictl.novita import DEFAULT_BASE_URL, CreateInstanceRequest, NovitaClient, normalize_base_url
from tests.fixtures.novita import RecordingSleep

SECRET_KEY = "sk-very-secret-key-123"


@dataclass(frozen=True)
class FakeNovitaSettings:
    """Stands in for ``settings.novita`` (another engineer's config module) with the same attributes."""

    api_key: SecretStr | None
    base_url: str = DEFAULT_BASE_URL
    timeout_seconds: float = 30
    connect_timeout_seconds: float = 10
    max_attempts: int = 4
    max_retry_seconds: float = 60
    breaker_failure_threshold: int = 5
    breaker_reset_seconds: float = 30
    page_size: int = 100
    metrics_base_url: str | None = None


def _request(name: str = "x") -> CreateInstanceRequest:
    return CreateInstanceRequest(product_id="p", rootfs_size=10, image_url="img", name=name)


def mock_client(handler: Any, **options: Any) -> NovitaClient:
    return NovitaClient(
        api_key=SECRET_KEY, transport=httpx.MockTransport(handler), sleep=RecordingSleep(), **options
    )


@pytest.mark.parametrize(
    "given",
    [
        "https://api.novita.ai/gpu-instance/openapi",
        "https://api.novita.ai/gpu-instance/openapi/",
        "https://api.novita.ai/gpu-instance/openapi/v1",
        " https://api.novita.ai/gpu-instance/openapi/v1/ ",
        "https://api.novita.ai",
    ],
)
def test_normalize_base_url(given: str) -> None:
    assert normalize_base_url(given) == "https://api.novita.ai/gpu-instance/openapi/v1"


@pytest.mark.parametrize("bad", ["api.novita.ai/v1", "ftp://x/v1", ""])
def test_normalize_base_url_rejects_non_http(bad: str) -> None:
    with pytest.raises(ConfigError):
        normalize_base_url(bad)


def test_missing_key_is_a_config_error() -> None:
    for settings in (FakeNovitaSettings(api_key=None), FakeNovitaSettings(api_key=SecretStr("  "))):
        with pytest.raises(ConfigError) as caught:
            NovitaClient.from_settings(settings)
        assert "NOVITA_API_KEY is not set" in caught.value.message
        assert caught.value.exit_code == 3
        assert caught.value.hint
    with pytest.raises(ConfigError):
        NovitaClient(api_key="")


async def test_from_settings_with_the_seed_base_url(emulator: Any) -> None:
    seed_form = emulator.base_url.removesuffix("/v1")
    settings = FakeNovitaSettings(
        api_key=SecretStr(emulator.api_key),
        base_url=seed_form,
        max_attempts=2,
        breaker_failure_threshold=7,
        breaker_reset_seconds=12,
        page_size=1,
    )
    sleeps = RecordingSleep()
    async with NovitaClient.from_settings(settings, sleep=sleeps) as client:
        assert client.base_url == emulator.base_url
        assert (client.breaker.failure_threshold, client.breaker.reset_seconds) == (7, 12)
        assert client.retry_policy.max_attempts == 2
        emulator.state.script_fault("status", status=503, count=5, path="/clusters")
        with pytest.raises(NovitaUnavailable):
            await client.list_clusters()
        assert emulator.state.calls["GET /clusters"] == 2
        assert len(sleeps.calls) == 1
        emulator.state.seed_instances(3)
        assert len(await client.list_all_instances()) == 3
        assert emulator.state.calls["GET /gpu/instances"] == 3  # page_size 1 from the settings


async def test_sends_bearer_key_user_agent_and_clean_query() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"instances": [], "total": 0})

    async with mock_client(handler) as client:
        await client.list_instances_page(name="x")

    request = seen[0]
    assert request.headers["Authorization"] == f"Bearer {SECRET_KEY}"
    assert request.headers["User-Agent"] == f"novictl/{__version__}"
    assert request.url.path == "/gpu-instance/openapi/v1/gpu/instances"
    assert dict(request.url.params) == {"pageNum": "0", "pageSize": "100", "name": "x"}
    assert SECRET_KEY not in repr(client)
    assert SECRET_KEY not in repr(client._http.headers)


@pytest.mark.parametrize(
    ("status", "content", "error_type", "text"),
    [
        (502, b"<html><body>Bad Gateway</body></html>", NovitaUnavailable, "Bad Gateway"),
        (404, b"", NovitaNotFound, "Not Found"),
        (403, b'{"reason": "FORBIDDEN"}', NovitaAuthError, "FORBIDDEN"),
        (400, b'{"error": "quota exceeded"}', NovitaBadRequest, "quota exceeded"),
        (400, b'{"error": {"message": "nested words"}}', NovitaBadRequest, "nested words"),
        (422, b"plain text\n problem", NovitaBadRequest, "plain text problem"),
        (
            400,
            b'{"code": 400, "reason": "RESOURCE_NOT_FOUND", "message": "no such thing"}',
            NovitaNotFound,
            "no such",
        ),
    ],
)
async def test_odd_error_bodies(
    status: int, content: bytes, error_type: type[NovitaError], text: str
) -> None:
    async with mock_client(lambda request: httpx.Response(status, content=content), max_attempts=1) as client:
        with pytest.raises(error_type) as caught:
            await client.get_instance("abc")
    assert text in caught.value.message
    assert caught.value.status == status


async def test_odd_success_bodies() -> None:
    answers = iter(
        [
            httpx.Response(200, content=b""),  # an empty answer to a stop is fine
            httpx.Response(200, content=b"not json"),
            httpx.Response(200, json={"instance": {"id": "wrapped", "status": "running"}}),
            httpx.Response(200, json={"instanceId": "alt-id"}),
            httpx.Response(200, json={"data": "nonsense"}),
        ]
    )
    async with mock_client(lambda request: next(answers)) as client:
        await client.stop_instance("abc")
        with pytest.raises(NovitaError, match="not JSON"):
            await client.get_instance("abc")
        assert (await client.get_instance("wrapped")).id == "wrapped"
        assert await client.create_instance(_request()) == "alt-id"
        with pytest.raises(NovitaError, match="not a list"):
            await client.list_clusters()


async def test_create_lost_answer_without_created_at_matches_only_a_creating_instance() -> None:
    listed: dict[str, Any] = {"instances": [{"id": "old", "name": "job", "status": "running"}], "total": 1}
    posts = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal posts
        if request.method == "POST":
            posts += 1
            raise httpx.ReadTimeout("lost", request=request)
        return httpx.Response(200, json=listed)

    async with mock_client(handler) as client:
        with pytest.raises(NovitaUnavailable):
            await client.create_instance(_request("job"))  # a running namesake is not ours
        listed["instances"].append({"id": "new", "name": "job", "status": "toCreate"})
        assert await client.create_instance(_request("job")) == "new"
    assert posts == 2  # one POST per create call, never a second one


async def test_paging_stops_on_a_short_page_without_total() -> None:
    pages = {0: [{"id": f"i{n}"} for n in range(3)], 1: [{"id": "i3"}]}
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return httpx.Response(200, json={"instances": pages.get(int(request.url.params["pageNum"]), [])})

    async with mock_client(handler, page_size=3) as client:
        assert [i.id for i in await client.list_all_instances()] == ["i0", "i1", "i2", "i3"]
    assert calls == 2


async def test_paging_stops_when_the_server_ignores_page_num() -> None:
    same_page = {"instances": [{"id": "a"}, {"id": "b"}]}  # no total, always full, always the same
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return httpx.Response(200, json=same_page)

    async with mock_client(handler, page_size=2) as client:
        assert [i.id for i in await client.list_all_instances()] == ["a", "b"]
    assert calls == 3  # page 1 repeating page 0 may be a one-based server; page 2 repeating ends it


async def test_paging_follows_total_when_the_server_caps_the_page_size() -> None:
    # A server that silently serves at most 50 per page: short pages must not end paging while
    # `total` says more are coming (the emulator honours any pageSize, so only a mock can do this).
    everything = [{"id": f"{n:016x}", "name": f"box-{n}", "status": "running"} for n in range(120)]
    pages: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params["pageNum"])
        pages.append(page)
        chunk = everything[page * 50 : (page + 1) * 50]
        return httpx.Response(200, json={"instances": chunk, "total": len(everything)})

    async with mock_client(handler) as client:
        found = await client.list_all_instances(page_size=100)

    assert [i.id for i in found] == [i["id"] for i in everything]
    assert pages == [0, 1, 2]


async def test_paging_without_total_stops_on_a_short_page() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params["pageNum"])
        count = 100 if page == 0 else 7
        rows = [{"id": f"{page:04x}{n:012x}", "status": "running"} for n in range(count)]
        return httpx.Response(200, json={"instances": rows})

    async with mock_client(handler) as client:
        found = await client.list_all_instances(page_size=100)

    assert len(found) == 107


def _paged_server(rows: list[dict[str, Any]], *, one_based: bool, total_as_text: bool = False) -> Any:
    """A handler paging ``rows`` from 0 (live Novita) or from 1 (0 read as 1); records the pages asked."""
    asked: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        number = int(request.url.params["pageNum"])
        size = int(request.url.params["pageSize"])
        asked.append(number)
        index = max(number, 1) - 1 if one_based else number
        total: Any = str(len(rows)) if total_as_text else len(rows)
        return httpx.Response(
            200, json={"instances": rows[index * size : (index + 1) * size], "total": total}
        )

    handler.asked = asked  # type: ignore[attr-defined]
    return handler


@pytest.mark.parametrize("one_based", [False, True])
@pytest.mark.parametrize("count", [0, 1, 3, 4, 5, 9])
async def test_paging_counts_every_instance_once_on_zero_and_one_based_servers(
    count: int, one_based: bool
) -> None:
    rows = [{"id": f"{n:016x}", "status": "running"} for n in range(count)]
    handler = _paged_server(rows, one_based=one_based, total_as_text=count % 2 == 1)
    async with mock_client(handler, page_size=4) as client:
        found = [i.id for i in await client.list_all_instances()]
    assert found == [row["id"] for row in rows]
    assert handler.asked[0] == 0
    # Each page at most once, and never more pages than the rows need (+1 for a one-based server's
    # repeat of page 0), read-ahead included.
    assert len(handler.asked) == len(set(handler.asked))
    assert len(handler.asked) <= max(1, -(-count // 4)) + (1 if one_based and count > 4 else 0)


async def test_every_request_says_content_type_json_and_metrics_use_the_openapi_root() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path.endswith("/metrics/gpu/instance"):
            return httpx.Response(200, json={"gpuUtilization": {"avg": [], "gpuIds": []}})
        if request.url.path.endswith("/balance/detail"):
            return httpx.Response(200, json={"availableBalance": "1234500"})
        return httpx.Response(200, json={"instances": [], "total": 0})

    async with mock_client(handler) as client:
        await client.list_instances_page()
        await client.stop_instance("i")
        now = datetime.now(UTC)
        await client.get_gpu_metrics("i", start=now - timedelta(minutes=10), end=now, interval_seconds=5)
        balance = await client.get_balance()

    assert all(request.headers["content-type"] == "application/json" for request in seen)
    metrics, billing = seen[2], seen[3]
    assert str(metrics.url).startswith("https://api.novita.ai/openapi/v1/metrics/gpu/instance?")
    assert metrics.url.params["interval"] == "30"  # Novita wants more than 15 s; never less than 30
    assert int(metrics.url.params["endTime"]) - int(metrics.url.params["startTime"]) == 600
    assert str(billing.url) == "https://api.novita.ai/openapi/v1/billing/balance/detail"
    assert balance.available_usd == pytest.approx(123.45)  # 1/10000 USD, not 1/100000


def test_the_metrics_root_can_be_configured() -> None:
    client = NovitaClient(api_key="k", base_url="http://127.0.0.1:9/gpu-instance/openapi/v1")
    assert client.openapi_base_url == "http://127.0.0.1:9/openapi/v1"
    other = NovitaClient(api_key="k", metrics_base_url="https://metrics.example/openapi/v1/")
    assert other.openapi_base_url == "https://metrics.example/openapi/v1"


@pytest.mark.parametrize(
    ("status", "body", "error", "exit_code"),
    [
        (403, {"code": 403, "reason": "INVALID_API_KEY", "message": "invalid api key"}, NovitaAuthError, 3),
        (403, {"code": 403, "reason": "FORBIDDEN", "message": "forbidden"}, NovitaAuthError, 3),
        (400, {"code": 400, "reason": "CONFLICT", "message": "conflict"}, NovitaStateConflict, 5),
        (400, {"code": 400, "reason": "CREATE_INSTANCE_LIMIT", "message": "limit"}, NovitaBadRequest, 1),
    ],
)
async def test_novita_reasons_map_to_the_right_error(
    status: int, body: dict[str, Any], error: type[Exception], exit_code: int
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, json=body)

    async with mock_client(handler) as client:
        with pytest.raises(error) as caught:
            await client.list_clusters()
    assert caught.value.exit_code == exit_code  # type: ignore[attr-defined]
    if body["reason"] == "CREATE_INSTANCE_LIMIT":
        assert "limit on instances" in (caught.value.hint or "")  # type: ignore[attr-defined]
