"""Webhook delivery: signing, posting and retrying what the outbox holds (see :mod:`novictl.store.outbox`).

Each POST carries ``X-Novictl-Event`` (the type), ``X-Novictl-Delivery`` (the event id: the same on every
retry and to every destination, so receivers can drop duplicates) and, when ``webhook.secret`` is set,
``X-Novictl-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>``. 2xx is delivered; 408,
429, 5xx and network failures are retried with exponential backoff for about ``webhook.max_retry_minutes``;
any other 4xx fails for good. Every attempt is kept on the delivery.

The daemon runs :meth:`WebhookSender.deliver_due` in its own job, so a slow receiver never delays an API
response or an auto-stop run. A CLI command that acted while no daemon runs calls
:func:`deliver_now`: a few seconds at most, with a short retry; whatever is left waits in the outbox.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

import httpx
from pydantic import SecretStr

from novictl.clock import Clock, SystemClock
from novictl.redact import mask_url
from novictl.store.outbox import Delivery, DeliveryAttempt, DeliveryOutcome

if TYPE_CHECKING:
    from novictl.store.base import StateStore

__all__ = [
    "DELIVERY_HEADER",
    "EVENT_HEADER",
    "SIGNATURE_HEADER",
    "DeliveryReport",
    "SendResult",
    "WebhookRetryPolicy",
    "WebhookSender",
    "WebhookSettingsLike",
    "classify",
    "deliver_now",
    "post_webhook",
    "request_headers",
    "sign",
    "verify_signature",
    "webhook_client",
]

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Novictl-Signature"
EVENT_HEADER = "X-Novictl-Event"
DELIVERY_HEADER = "X-Novictl-Delivery"
_USER_AGENT = "novictl-webhooks"
_EXCERPT = 300
_CONCURRENCY = 8
_LEASE_MARGIN_SECONDS = 30.0


class WebhookSettingsLike(Protocol):
    """The part of the settings delivery needs (``settings.webhook`` satisfies it)."""

    @property
    def url(self) -> str | None: ...
    @property
    def secret(self) -> SecretStr | None: ...
    @property
    def timeout_seconds(self) -> float: ...
    @property
    def max_retry_minutes(self) -> float: ...


# -- signing -----------------------------------------------------------------------------------------------


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The ``X-Novictl-Signature`` value: ``t=<timestamp>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>``."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify_signature(
    secret: str, header: str, body: bytes, *, now: float, tolerance_seconds: float = 300
) -> bool:
    """Whether ``header`` signs ``body`` with ``secret`` and was made within ``tolerance_seconds`` of
    ``now`` (unix seconds). What a receiver does; novictl uses it in ``webhooks test`` and its tests."""
    parts = dict(item.split("=", 1) for item in header.split(",") if "=" in item)
    try:
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > tolerance_seconds:
        return False
    expected = sign(secret, timestamp, body).split("v1=", 1)[1]
    return hmac.compare_digest(expected, parts.get("v1", ""))


def request_headers(
    *, event_id: str, event_type: str, body: bytes, secret: SecretStr | None, timestamp: int
) -> dict[str, str]:
    """The headers of one POST (signed when there is a secret)."""
    headers = {
        "Content-Type": "application/json",
        "User-Agent": _USER_AGENT,
        EVENT_HEADER: event_type,
        DELIVERY_HEADER: event_id,
    }
    if secret is not None and secret.get_secret_value():
        headers[SIGNATURE_HEADER] = sign(secret.get_secret_value(), timestamp, body)
    return headers


# -- retry policy ------------------------------------------------------------------------------------------


def classify(status_code: int | None) -> DeliveryOutcome:
    """2xx → delivered; 408, 429, 5xx, 3xx and no answer at all → retry; other 4xx → failed for good."""
    if status_code is None:
        return "retry"
    if 200 <= status_code < 300:
        return "delivered"
    if 400 <= status_code < 500 and status_code not in (408, 429):
        return "failed"
    return "retry"


@dataclass(frozen=True)
class WebhookRetryPolicy:
    """Exponential backoff: ``first_delay``, doubling, at most ``max_delay`` apart, while the delivery is
    younger than ``give_up_after`` (10 s, 20 s, 40 s … 10 min: about ten attempts in an hour)."""

    give_up_after: timedelta = timedelta(hours=1)
    first_delay: timedelta = timedelta(seconds=10)
    max_delay: timedelta = timedelta(minutes=10)

    @classmethod
    def from_settings(cls, settings: WebhookSettingsLike) -> WebhookRetryPolicy:
        return cls(give_up_after=timedelta(minutes=settings.max_retry_minutes))

    def delay(self, attempts_made: int) -> timedelta:
        """The wait after the ``attempts_made``-th failed attempt."""
        factor = 1 << max(0, min(attempts_made - 1, 30))
        return min(self.first_delay * factor, self.max_delay)

    def next_attempt(self, delivery: Delivery, now: datetime) -> datetime | None:
        """When to try again, or ``None`` when retrying is over."""
        due = now + self.delay(len(delivery.attempts))
        if due - delivery.created_at > self.give_up_after:
            return None
        return due


# -- sending -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SendResult:
    """One POST's outcome."""

    status_code: int | None
    error: str | None
    duration_ms: float
    body_excerpt: str = ""

    @property
    def outcome(self) -> DeliveryOutcome:
        return classify(self.status_code)


@dataclass
class DeliveryReport:
    """What one delivery pass did."""

    attempted: int = 0
    delivered: int = 0
    retrying: int = 0
    failed: int = 0
    dropped: int = 0
    deliveries: list[Delivery] = field(default_factory=list)


def _describe_failure(error: Exception, url: str) -> str:
    text = str(error).replace(url, mask_url(url, hide_path=True))[:200]  # an error may quote the URL
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def webhook_client(timeout: float, *, transport: httpx.AsyncBaseTransport | None = None) -> httpx.AsyncClient:
    """The HTTP client deliveries go through: ``timeout`` per attempt, redirects not followed."""
    return httpx.AsyncClient(
        timeout=timeout, transport=transport, follow_redirects=False, headers={"User-Agent": _USER_AGENT}
    )


async def post_webhook(
    http: httpx.AsyncClient,
    url: str,
    *,
    event_id: str,
    event_type: str,
    body: bytes,
    secret: SecretStr | None,
    timestamp: int,
) -> SendResult:
    """One (signed) POST; the receiver's failures come back in the result, never raised."""
    headers = request_headers(
        event_id=event_id, event_type=event_type, body=body, secret=secret, timestamp=timestamp
    )
    started = time.perf_counter()
    try:
        response = await http.post(url, content=body, headers=headers)
    except (httpx.HTTPError, OSError) as error:
        return SendResult(None, _describe_failure(error, url), (time.perf_counter() - started) * 1000)
    elapsed = (time.perf_counter() - started) * 1000
    excerpt = response.text[:_EXCERPT]
    code = response.status_code
    problem = None if 200 <= code < 300 else f"HTTP {code}: {excerpt[:120]}"
    return SendResult(code, problem, elapsed, excerpt)


class WebhookSender:
    """Posts deliveries and keeps score. One per daemon (its ``outcomes`` feed ``/metrics``)."""

    def __init__(
        self,
        store: StateStore,
        settings: WebhookSettingsLike,
        *,
        clock: Clock | None = None,
        policy: WebhookRetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ):
        self.store = store
        self.settings = settings
        self.clock: Clock = clock or SystemClock()
        self.policy = policy or WebhookRetryPolicy.from_settings(settings)
        self.transport = transport
        self.outcomes: Counter[str] = Counter()
        """Attempts by outcome (``delivered``, ``retry``, ``failed``) plus ``dropped`` deliveries."""

    def outcome_counts(self) -> dict[str, float]:
        """For ``DaemonMetrics.watch_webhooks``."""
        return {
            name: float(self.outcomes.get(name, 0)) for name in ("delivered", "retry", "failed", "dropped")
        }

    def http_client(self, timeout: float | None = None) -> httpx.AsyncClient:
        return webhook_client(timeout or self.settings.timeout_seconds, transport=self.transport)

    async def attempt(self, http: httpx.AsyncClient, delivery: Delivery) -> Delivery:
        """Send one delivery and return it with the attempt recorded and its next state."""
        now = self.clock.now()
        url = delivery.url or self.settings.url
        if url is None:
            self.outcomes["dropped"] += 1
            return delivery.model_copy(update={"state": "dropped", "finished_at": now})
        result = await post_webhook(
            http, url, event_id=delivery.event_id, event_type=delivery.event_type,
            body=delivery.body.encode(), secret=self.settings.secret, timestamp=int(now.timestamp()),
        )  # fmt: skip
        outcome = result.outcome
        self.outcomes[outcome] += 1
        attempt = DeliveryAttempt(
            at=now, outcome=outcome, status_code=result.status_code, error=result.error,
            duration_ms=round(result.duration_ms, 1),
        )  # fmt: skip
        updated = delivery.model_copy(update={"attempts": [*delivery.attempts, attempt]})
        if outcome == "delivered":
            return updated.model_copy(update={"state": "delivered", "finished_at": self.clock.now()})
        retry_at = self.policy.next_attempt(updated, self.clock.now()) if outcome == "retry" else None
        if retry_at is None:
            log.warning(
                "webhook %s for event %s to the %s URL failed for good after %d attempt(s): %s",
                delivery.event_type, delivery.event_id, delivery.destination, len(updated.attempts),
                result.error,
            )  # fmt: skip
            return updated.model_copy(update={"state": "failed", "finished_at": self.clock.now()})
        return updated.model_copy(update={"next_attempt_at": retry_at})

    async def attempt_all(self, http: httpx.AsyncClient, deliveries: Sequence[Delivery]) -> list[Delivery]:
        gate = asyncio.Semaphore(_CONCURRENCY)

        async def one(delivery: Delivery) -> Delivery:
            async with gate:
                return await self.attempt(http, delivery)

        return list(await asyncio.gather(*(one(d) for d in deliveries)))

    async def deliver_due(self, *, limit: int = 50) -> DeliveryReport:
        """Claim what is due, send it (concurrently, each with the configured timeout), save the outcomes:
        one store round trip each way. The daemon's delivery job."""
        lease = _lease_for(limit, self.settings.timeout_seconds)
        claimed = await self.store.claim_deliveries(now=self.clock.now(), lease_seconds=lease, limit=limit)
        if not claimed:
            return DeliveryReport()
        async with self.http_client() as http:
            done = await self.attempt_all(http, claimed)
        await self.store.save_deliveries(done)
        return _report(claimed, done)


def _lease_for(count: int, timeout_seconds: float) -> float:
    """How long claimed deliveries stay ours: every one may hang for the whole timeout, ``_CONCURRENCY``
    at a time. A shorter lease would let another daemon claim and send them again mid-pass."""
    return timeout_seconds * -(-count // _CONCURRENCY) + _LEASE_MARGIN_SECONDS


def _report(claimed: Sequence[Delivery], done: Sequence[Delivery]) -> DeliveryReport:
    report = DeliveryReport(deliveries=list(done))
    for before, after in zip(claimed, done, strict=True):
        report.attempted += len(after.attempts) - len(before.attempts)
        if after.state == "delivered":
            report.delivered += 1
        elif after.state == "failed":
            report.failed += 1
        elif after.state == "dropped":
            report.dropped += 1
        else:
            report.retrying += 1
    return report


async def deliver_now(
    store: StateStore,
    settings: WebhookSettingsLike,
    *,
    clock: Clock | None = None,
    budget_seconds: float = 3.0,
    retry_delays: Sequence[float] = (0.3, 0.7),
    sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    transport: httpx.AsyncBaseTransport | None = None,
) -> DeliveryReport:
    """Deliver what is due right away, retrying failures after ``retry_delays``, all within about
    ``budget_seconds``; what still fails keeps its place (and backoff) in the outbox. For a CLI command
    that acted while no daemon runs."""
    sender = WebhookSender(store, settings, clock=clock, transport=transport)
    deadline = time.monotonic() + budget_seconds
    lease = budget_seconds + _lease_for(100, settings.timeout_seconds)
    claimed = await store.claim_deliveries(now=sender.clock.now(), lease_seconds=lease, limit=100)
    if not claimed:
        return DeliveryReport()
    current = {d.id: d for d in claimed}
    waits = iter(retry_delays)
    while True:
        left = deadline - time.monotonic()
        pending = [d for d in current.values() if d.state == "pending"]
        if not pending or left <= 0:
            break
        async with sender.http_client(timeout=min(settings.timeout_seconds, left)) as http:
            for updated in await sender.attempt_all(http, pending):
                current[updated.id] = updated
        retryable = [d for d in current.values() if d.state == "pending"]
        wait = next(waits, None)
        if not retryable or wait is None or time.monotonic() + wait >= deadline:
            break
        await sleep(wait)
    done = [current[d.id] for d in claimed]
    # A delivery never attempted in time is released: due again at once for whoever comes next.
    await store.save_deliveries(
        [d.model_copy(update={"next_attempt_at": sender.clock.now()}) if d.attempts == b.attempts else d
         for d, b in zip(done, claimed, strict=True)]
    )  # fmt: skip
    return _report(claimed, done)
