"""Prometheus metrics, in a registry of the daemon's own (never the global one: tests run several apps).

Counters the daemon drives itself are plain prometheus-client metrics; what other objects already count
(the Novita client's ``stats``, the breaker, the instance index) is read at scrape time by a collector.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from novictl.novita.client import NovitaClient

__all__ = ["CONTENT_TYPE", "DaemonMetrics"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_BREAKER_LEVELS = {"closed": 0, "half_open": 1, "open": 2}
_NOVITA_BOOKKEEPING = frozenset({"retries", "unavailable", "circuit_open", "create_recovered"})


class DaemonMetrics:
    """Every metric ``/metrics`` serves. ``render()`` gives the Prometheus text."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.pings = Counter("novictl_pings_received", "Last-used pings acknowledged", registry=r)
        self.pings_flushed = Counter("novictl_pings_flushed", "Coalesced pings written", registry=r)
        self.autostop_runs = Counter("novictl_autostop_runs", "Auto-stop checks run", ["mode"], registry=r)
        self.autostop_stops = Counter("novictl_autostop_stops", "Instances stopped by auto-stop", registry=r)
        self.autostop_skips = Counter(
            "novictl_autostop_skips", "Instances auto-stop skipped (pinned, off, unreadable)", registry=r
        )
        self.autostop_errors = Counter("novictl_autostop_errors", "Auto-stop errors", registry=r)
        self.autostop_kept = Counter(
            "novictl_autostop_kept",
            "Running instances auto-stop kept, by what kept them",
            ["reason"],
            registry=r,
        )
        self.gpu_utilization = Gauge(
            "novictl_instance_gpu_utilization_ratio",
            "Newest GPU sample (busiest GPU, 0-1) of the instances the last auto-stop run read",
            ["instance"],
            registry=r,
        )
        self.sync_runs = Counter("novictl_sync_runs", "Syncs run", ["outcome"], registry=r)
        self.sync_duration = Histogram(
            "novictl_sync_duration_seconds",
            "Duration of successful syncs",
            buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
            registry=r,
        )
        self.jobs = Counter(
            "novictl_jobs", "Scheduled job ticks by job and outcome (ran|skipped|failed)",
            ["job", "outcome"], registry=r,
        )  # fmt: skip
        self.store_errors = Counter("novictl_store_errors", "State store operations that failed", registry=r)
        self.http_errors = Counter(
            "novictl_http_errors", "HTTP error responses by status", ["status"], registry=r
        )
        self._sources = _ScrapeSources()
        r.register(self._sources)

    def watch_novita(self, client: NovitaClient) -> None:
        """Report the client's call counters and its breaker's state at each scrape."""
        self._sources.client = client

    def watch_instances(self, counts: Callable[[], Mapping[str, int]]) -> None:
        """Report instances by status from ``counts()`` at each scrape."""
        self._sources.instance_counts = counts

    def watch_webhooks(self, deliveries: Callable[[], Mapping[str, float]]) -> None:
        """Report webhook deliveries by outcome from ``deliveries()`` at each scrape."""
        self._sources.webhook_deliveries = deliveries

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _ScrapeSources(Collector):
    """Reads counters owned by other objects when Prometheus scrapes."""

    def __init__(self) -> None:
        self.client: NovitaClient | None = None
        self.instance_counts: Callable[[], Mapping[str, int]] | None = None
        self.webhook_deliveries: Callable[[], Mapping[str, float]] | None = None

    def describe(self) -> list[Metric]:
        return []  # names depend on what is watched; skip the registry's duplicate check

    def collect(self) -> Iterator[Metric]:
        if self.instance_counts is not None:
            gauge = GaugeMetricFamily("novictl_instances", "Known instances by status", labels=["status"])
            for status, count in sorted(self.instance_counts().items()):
                gauge.add_metric([status], count)
            yield gauge
        if self.client is not None:
            yield from _novita_metrics(self.client)
        if self.webhook_deliveries is not None:
            deliveries = CounterMetricFamily(
                "novictl_webhook_deliveries", "Webhook delivery attempts by outcome", labels=["outcome"]
            )
            for outcome, delivered in sorted(self.webhook_deliveries().items()):
                deliveries.add_metric([outcome], delivered)
            yield deliveries


def _novita_metrics(client: NovitaClient) -> Iterator[Metric]:
    stats = dict(client.stats)
    calls = CounterMetricFamily("novictl_novita_calls", "HTTP requests to Novita", labels=["endpoint"])
    for endpoint, count in sorted(stats.items()):
        if endpoint not in _NOVITA_BOOKKEEPING:
            calls.add_metric([endpoint], count)
    yield calls
    yield CounterMetricFamily(
        "novictl_novita_errors",
        "Novita attempts that failed as unavailable",
        value=stats.get("unavailable", 0),
    )
    yield CounterMetricFamily(
        "novictl_novita_retries", "Novita requests retried", value=stats.get("retries", 0)
    )
    yield CounterMetricFamily(
        "novictl_novita_circuit_open_refusals", "Calls refused by the open breaker",
        value=stats.get("circuit_open", 0),
    )  # fmt: skip
    state = client.breaker.state.value
    yield GaugeMetricFamily(
        "novictl_novita_breaker_state", "Circuit breaker: 0 closed, 1 half-open, 2 open",
        value=_BREAKER_LEVELS.get(state, 2),
    )  # fmt: skip
    yield CounterMetricFamily(
        "novictl_novita_breaker_trips", "Times the breaker opened", value=client.breaker.times_opened
    )
