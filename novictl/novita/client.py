"""The async client for Novita's GPU instance API (v1).

Every call goes through one path: the circuit breaker guards each HTTP attempt, the retry policy repeats
attempts that failed because Novita was unavailable, and answers are mapped into :mod:`novictl.errors`.
Creating an instance is the one call that is never repeated blindly (it is not idempotent): see
:meth:`NovitaClient.create_instance`.

The API key lives only in the ``Authorization`` header (which httpx masks in reprs); it is never logged.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Mapping
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Self

import httpx

from novictl import __version__
from novictl.errors import (
    CircuitOpen,
    NovitaBadRequest,
    NovitaError,
    NovitaNotFound,
    NovitaRateLimited,
    NovitaUnavailable,
)
from novictl.novita.account import Balance
from novictl.novita.breaker import CircuitBreaker
from novictl.novita.models import (
    Cluster,
    CreateInstanceRequest,
    Instance,
    InstancePage,
    Product,
    RepositoryAuth,
    Template,
)
from novictl.novita.recovery import find_created
from novictl.novita.responses import error_from_response, field, parse_model, parse_models, read_json
from novictl.novita.retry import RetryPolicy, Sleep
from novictl.novita.settings import (
    DEFAULT_BASE_URL,
    NovitaSettingsLike,
    missing_key_error,
    normalize_base_url,
    openapi_base_url,
)
from novictl.novita.utilization import MIN_INTERVAL_SECONDS, InstanceMetrics

__all__ = ["DEFAULT_BASE_URL", "NovitaClient", "NovitaSettingsLike", "normalize_base_url"]

log = logging.getLogger(__name__)


class NovitaClient:
    """Talks to Novita. Use as ``async with NovitaClient(api_key=…) as client:`` (or call :meth:`aclose`).

    ``stats`` counts HTTP requests per endpoint (``"GET /gpu/instances"``) plus ``retries``,
    ``unavailable`` (failed attempts), ``circuit_open`` (calls refused by the breaker) and
    ``create_recovered`` (creates found by name after a lost answer); the daemon's /metrics reads it.
    """

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str = DEFAULT_BASE_URL,
        timeout: float = 30.0,
        connect_timeout: float = 10.0,
        max_attempts: int = 4,
        max_retry_seconds: float = 60,
        breaker: CircuitBreaker | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Sleep = asyncio.sleep,
        page_size: int = 100,
        metrics_base_url: str | None = None,
    ):
        if not api_key or not api_key.strip():
            raise missing_key_error()
        self.base_url = normalize_base_url(base_url)
        self.openapi_base_url = openapi_base_url(self.base_url, metrics_base_url)
        self._clusters: list[Cluster] | None = None
        self.page_size = page_size
        self.breaker = breaker or CircuitBreaker()
        self.retry_policy = RetryPolicy(
            max_attempts=max(1, max_attempts), max_total_seconds=max_retry_seconds, sleep=sleep
        )
        self.stats: Counter[str] = Counter()
        self._sleep = sleep
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            headers={
                "Authorization": f"Bearer {api_key.strip()}",
                "User-Agent": f"novictl/{__version__}",
                "Accept": "application/json",
                # Novita's docs list it as required on every request, reads included.
                "Content-Type": "application/json",
            },
            timeout=httpx.Timeout(timeout, connect=connect_timeout),
            transport=transport,
            follow_redirects=False,
        )

    @classmethod
    def from_settings(
        cls,
        settings: NovitaSettingsLike,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Sleep = asyncio.sleep,
        breaker: CircuitBreaker | None = None,
    ) -> NovitaClient:
        """A client configured by the ``novita`` settings section; no key → :class:`ConfigError`."""
        key = settings.api_key.get_secret_value() if settings.api_key is not None else ""
        if not key.strip():
            raise missing_key_error()
        return cls(
            api_key=key,
            base_url=settings.base_url,
            timeout=settings.timeout_seconds,
            connect_timeout=settings.connect_timeout_seconds,
            max_attempts=settings.max_attempts,
            max_retry_seconds=settings.max_retry_seconds,
            breaker=breaker
            or CircuitBreaker(settings.breaker_failure_threshold, settings.breaker_reset_seconds),
            transport=transport,
            sleep=sleep,
            page_size=settings.page_size,
            metrics_base_url=settings.metrics_base_url,
        )

    def __repr__(self) -> str:
        return f"NovitaClient(base_url={self.base_url!r}, breaker={self.breaker!r})"

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    # -- catalogue ---------------------------------------------------------------------------------

    async def list_clusters(self) -> list[Cluster]:
        """Every cluster (region) Novita offers; read once per client, then served from memory."""
        if self._clusters is None:
            data = await self._request("GET", "/clusters")
            self._clusters = parse_models(Cluster, field(data, "data"), "clusters")
        return list(self._clusters)

    async def list_products(
        self,
        *,
        cluster_id: str | None = None,
        gpu_num: int | None = None,
        product_name: str | None = None,
        billing_method: str | None = None,
        min_cpu_per_gpu: int | None = None,
        min_memory_per_gpu: int | None = None,
        min_rootfs_size: int | None = None,
    ) -> list[Product]:
        """GPU products matching the filters (``product_name`` is a fuzzy match on Novita's side)."""
        params = {
            "clusterId": cluster_id,
            "gpuNum": gpu_num,
            "productName": product_name,
            "billingMethod": billing_method,
            "minCpuPerGpu": min_cpu_per_gpu,
            "minMemoryPerGpu": min_memory_per_gpu,
            "minRootFSSize": min_rootfs_size,
        }
        data = await self._request("GET", "/products", params=params)
        return parse_models(Product, field(data, "data"), "products")

    async def get_template(self, template_id: str) -> Template:
        """One template; :class:`NovitaNotFound` naming it when Novita does not know it (Novita answers an
        unknown template with 400 ``TEMPLATE_NOT_FOUND``, not a 404)."""
        try:
            data = await self._request("GET", "/template", params={"templateId": template_id})
        except (NovitaNotFound, NovitaBadRequest) as error:
            if isinstance(error, NovitaBadRequest) and (error.reason or "").upper() != "TEMPLATE_NOT_FOUND":
                raise
            raise NovitaNotFound(
                f"no template {template_id!r} on Novita",
                status=error.status,
                reason=error.reason,
                hint="check the template id in Novita's console (Templates)",
            ) from error
        return parse_model(Template, field(data, "template", default=data), "template")

    async def list_repository_auths(self) -> list[RepositoryAuth]:
        """Saved registry credentials (passwords stay hidden in reprs and dumps)."""
        data = await self._request("GET", "/repository/auths")
        return parse_models(RepositoryAuth, field(data, "data"), "repository auths")

    # -- instances ---------------------------------------------------------------------------------

    async def create_instance(self, req: CreateInstanceRequest) -> str:
        """Create an instance and return its id (creation continues asynchronously; poll it).

        Never POSTs twice. A 429 is retried (Novita refused before doing anything); if the answer is lost
        (timeout, dropped connection, 5xx) the instance is looked up by its exact name among those created
        just now, and its id returned when found. Otherwise :class:`NovitaUnavailable` says the outcome is
        unknown.
        """
        started = datetime.now(UTC)
        try:
            data = await self._request(
                "POST",
                "/gpu/instance/create",
                json=req.to_body(),
                retry_if=lambda error: isinstance(error, NovitaRateLimited),
            )
        except (CircuitOpen, NovitaRateLimited):
            raise  # the request never reached Novita, or Novita refused it outright
        except NovitaUnavailable as error:
            if not req.name:
                error.hint = "name the instance so a lost answer can be recovered; check `novictl list`"
                raise
            found = await find_created(self._list_by_name, req.name, since=started, sleep=self._sleep)
            if found is None:
                raise NovitaUnavailable(
                    f"creating {req.name!r} may or may not have worked: {error.message}",
                    status=error.status,
                    reason=error.reason,
                    hint=f"run `novictl list` and look for {req.name!r} before creating it again",
                    details=error.details,
                ) from error
            self.stats["create_recovered"] += 1
            log.warning("the answer to creating %r was lost; found it by name as %s", req.name, found)
            return found
        instance_id = field(data, "id", default=None) or field(data, "instanceId", default=None)
        if not isinstance(instance_id, str) or not instance_id:
            raise NovitaError("Novita accepted the create but sent no instance id", details={"body": data})
        return instance_id

    async def list_instances_page(
        self,
        *,
        page_num: int = 0,
        page_size: int = 100,
        name: str | None = None,
        product_name: str | None = None,
        status: str | None = None,
    ) -> InstancePage:
        """One page (Novita counts from 0); ``name`` and ``product_name`` are fuzzy filters, ``status``
        exact."""
        params = {
            "pageNum": page_num,
            "pageSize": page_size,
            "name": name,
            "productName": product_name,
            "status": status,
        }
        data = await self._request("GET", "/gpu/instances", params=params)
        return parse_model(InstancePage, data, "instance list")

    async def iter_instances(
        self,
        *,
        name: str | None = None,
        product_name: str | None = None,
        status: str | None = None,
        page_size: int | None = None,
        read_ahead: int = 4,
    ) -> AsyncIterator[Instance]:
        """Every instance matching the filters, page by page, each id once, on either kind of server.

        Live Novita's first page is ``pageNum=0``; a server counting from 1 answers 0 as if it were 1.
        So paging starts at 0, and when page 1 brings back exactly the ids of page 0 the server is
        one-based: that page is skipped and paging goes on. It stops once ``total`` distinct instances
        arrived (``total`` may be a numeric string), at an empty page, at a short page when the server
        sends no ``total``, or at any other page that adds nothing new (a server ignoring ``pageNum``
        must not loop us forever). Once page 0 has told the total, up to ``read_ahead`` further pages
        are fetched at once: parsing one page overlaps the wait for the next.
        """
        size = page_size or self.page_size

        def fetch(number: int) -> asyncio.Task[InstancePage]:
            return asyncio.ensure_future(
                self.list_instances_page(
                    page_num=number, page_size=size, name=name, product_name=product_name, status=status
                )
            )

        seen: set[str] = set()
        first_ids: list[str] = []
        page_num = 0
        last_page = 0  # the last page number worth fetching ahead, once the total is known
        ahead: dict[int, asyncio.Task[InstancePage]] = {}
        try:
            while True:
                task = ahead.pop(page_num, None)
                page = await task if task is not None else await fetch(page_num)
                ids = [instance.id for instance in page.instances]
                if page_num == 0:
                    first_ids = ids
                    if page.total is not None:
                        last_page = -(-page.total // size) - 1
                elif page_num == 1 and ids and ids == first_ids:
                    log.debug("the instance list counts pages from 1; reading on from page 2")
                    last_page += 1
                    page_num += 1
                    continue
                if read_ahead > 1:
                    for number in range(page_num + 1, min(page_num + read_ahead, last_page) + 1):
                        if number not in ahead:
                            ahead[number] = fetch(number)
                fresh = 0
                for instance in page.instances:
                    # Instances created or deleted while paging shift the pages; never yield one twice.
                    if instance.id not in seen:
                        seen.add(instance.id)
                        fresh += 1
                        yield instance
                if not page.instances:
                    return
                if page.total is not None:
                    if len(seen) >= page.total:
                        return
                elif len(page.instances) < size:
                    return
                if not fresh:
                    log.warning(
                        "page %d of the instance list repeated earlier pages; stopping there", page_num
                    )
                    return
                page_num += 1
        finally:
            for pending in ahead.values():
                pending.cancel()
            if ahead:
                await asyncio.gather(*ahead.values(), return_exceptions=True)

    async def list_all_instances(
        self,
        *,
        name: str | None = None,
        product_name: str | None = None,
        status: str | None = None,
        page_size: int | None = None,
    ) -> list[Instance]:
        """Every instance matching the filters (all pages)."""
        return [
            instance
            async for instance in self.iter_instances(
                name=name, product_name=product_name, status=status, page_size=page_size
            )
        ]

    async def _list_by_name(self, name: str) -> list[Instance]:
        return await self.list_all_instances(name=name)

    async def get_instance(self, instance_id: str) -> Instance:
        """One instance with its details; :class:`NovitaNotFound` once it is gone."""
        data = await self._request("GET", "/gpu/instance", params={"instanceId": instance_id})
        return parse_model(Instance, field(data, "instance", default=data), "instance")

    async def start_instance(self, instance_id: str) -> None:
        """Ask Novita to start a stopped instance (poll :meth:`get_instance` to follow it)."""
        await self._request("POST", "/gpu/instance/start", json={"instanceId": instance_id})

    async def stop_instance(self, instance_id: str) -> None:
        await self._request("POST", "/gpu/instance/stop", json={"instanceId": instance_id})

    async def restart_instance(self, instance_id: str) -> None:
        await self._request("POST", "/gpu/instance/restart", json={"instanceId": instance_id})

    async def delete_instance(self, instance_id: str) -> None:
        await self._request("POST", "/gpu/instance/delete", json={"instanceId": instance_id})

    # -- metrics and billing (the /openapi/v1 namespace) -----------------------------------------------

    async def get_gpu_metrics(
        self,
        instance_id: str,
        *,
        start: datetime,
        end: datetime,
        interval_seconds: int = MIN_INTERVAL_SECONDS,
    ) -> InstanceMetrics:
        """Utilisation of one instance over ``[start, end]`` (Novita's data is about a minute behind).

        A 404 (an account or instance without metrics) raises :class:`NovitaNotFound`; callers decide
        what "no data" means.
        """
        params = {
            "instanceId": instance_id,
            "startTime": int(start.timestamp()),
            "endTime": int(end.timestamp()),
            "interval": max(MIN_INTERVAL_SECONDS, int(interval_seconds)),
        }
        data = await self._request("GET", "/metrics/gpu/instance", params=params, root=self.openapi_base_url)
        return parse_model(InstanceMetrics, data if data is not None else {}, "instance metrics")

    async def get_balance(self) -> Balance:
        """The account's balance (amounts in 1/10000 USD; :class:`Balance` converts)."""
        data = await self._request("GET", "/billing/balance/detail", root=self.openapi_base_url)
        return parse_model(Balance, field(data, "data", default=data), "balance")

    # -- plumbing ----------------------------------------------------------------------------------

    async def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        retry_if: Callable[[BaseException], bool] | None = None,
        root: str | None = None,
    ) -> Any:
        """Send one call with retries; return the decoded JSON body (``None`` when empty).

        ``root`` is another API root on Novita's host (the ``/openapi/v1`` namespace); default the GPU API.
        """
        query = {key: value for key, value in (params or {}).items() if value is not None}

        async def attempt() -> Any:
            return await self._attempt(method, path, query, json, root)

        def count_retry(error: BaseException, attempt_number: int, wait: float) -> None:
            self.stats["retries"] += 1

        policy = self.retry_policy if retry_if is None else self.retry_policy.only_if(retry_if)
        return await policy.call(attempt, on_retry=count_retry)

    async def _attempt(
        self, method: str, path: str, query: Mapping[str, Any], body: Any, root: str | None = None
    ) -> Any:
        """Exactly one HTTP request, under the circuit breaker; errors mapped into novictl's."""
        action = f"{method} {path}"
        try:
            self.breaker.acquire()
        except CircuitOpen:
            self.stats["circuit_open"] += 1
            raise
        with self.breaker.recording():
            self.stats[action] += 1
            started = time.perf_counter()
            try:
                url = root + path if root else path
                response = await self._http.request(method, url, params=query or None, json=body)
            except httpx.TimeoutException as error:
                self.stats["unavailable"] += 1
                raise NovitaUnavailable(
                    f"Novita did not answer {action} in time ({type(error).__name__})",
                    reason="TIMEOUT",
                    hint="Novita is slow or unreachable; try again, or raise novita.timeout_seconds",
                ) from error
            except httpx.RequestError as error:
                self.stats["unavailable"] += 1
                raise NovitaUnavailable(
                    f"could not reach Novita for {action}: {type(error).__name__}",
                    reason="CONNECTION",
                    hint="check your network connection and novita.base_url",
                ) from error
            log.debug(
                "%s -> %d in %.0fms", action, response.status_code, (time.perf_counter() - started) * 1000
            )
            if response.is_success:
                try:
                    return read_json(response)
                except ValueError as error:
                    raise NovitaError(
                        f"Novita answered {action} with something that is not JSON",
                        status=response.status_code,
                    ) from error
            failure = error_from_response(response, action=action)
            if isinstance(failure, NovitaUnavailable):
                self.stats["unavailable"] += 1
            raise failure
