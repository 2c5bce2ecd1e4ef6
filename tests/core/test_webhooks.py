"""Webhook delivery to a real local receiver: signatures, backoff, permanent failures, destinations, the
CLI's bounded synchronous delivery. The clock is injected: backoff gaps are checked without waiting."""

from __future__ import annotations

import hashlib
import hmac
import time
from datetime import timedelta
from typing import Any

from novictl.clock import FrozenClock
from novictl.config.models import WebhookSettings
from novictl.core import events
from novictl.core.webhooks import (
    DELIVERY_HEADER,
    SIGNATURE_HEADER,
    WebhookSender,
    classify,
    deliver_now,
    sign,
    verify_signature,
)
from novictl.store import StateStore
from tests.fixtures.store import sample_record
from tests.fixtures.webhook_receiver import WebhookReceiver


def hook_settings(receiver: WebhookReceiver | None, **changes: Any) -> WebhookSettings:
    values: dict[str, Any] = {"url": receiver.url if receiver else None, "timeout_seconds": 2}
    values.update(changes)
    return WebhookSettings.model_validate(values)


async def queue_stop(store: StateStore, clock: FrozenClock, **record_fields: Any) -> str:
    record = sample_record("i1", clock.now() - timedelta(hours=1), **record_fields)
    event = events.instance_event(events.STOPPED, record, actor="user", now=clock.now(), stoppedBy="user")
    await events.record_events(store, [event])
    return event.id


def readme_verify(secret: str, header: str, raw_body: bytes) -> bool:
    """The receiver check the README shows, written out independently of novictl's code."""
    parts = dict(p.split("=", 1) for p in header.split(","))
    expected = hmac.new(secret.encode(), f"{parts['t']}.".encode() + raw_body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, parts["v1"]) and abs(time.time() - int(parts["t"])) < 300


async def test_a_signed_delivery_verifies_with_the_secret_and_not_another(
    store: StateStore, frozen_clock: FrozenClock, webhook_receiver: WebhookReceiver
) -> None:
    event_id = await queue_stop(store, frozen_clock)
    sender = WebhookSender(store, hook_settings(webhook_receiver, secret="s3cret"), clock=frozen_clock)
    report = await sender.deliver_due()
    assert report.delivered == 1
    (request,) = webhook_receiver.requests
    header = request.headers[SIGNATURE_HEADER.lower()]
    assert readme_verify("s3cret", header, request.body)
    assert not readme_verify("another", header, request.body)
    assert not readme_verify("s3cret", header, request.body + b" ")
    assert request.headers[DELIVERY_HEADER.lower()] == event_id
    assert request.headers["x-novictl-event"] == "instance.stopped"
    body = request.json()
    assert set(body) == {"id", "type", "occurredAt", "instance", "data"}
    assert body["id"] == event_id
    assert body["instance"]["id"] == "i1"
    assert body["data"]["stoppedBy"] == "user"


def test_verify_signature_checks_the_timestamp_tolerance() -> None:
    header = sign("k", 1_000_000, b"{}")
    assert verify_signature("k", header, b"{}", now=1_000_100)
    assert not verify_signature("k", header, b"{}", now=1_000_400)
    assert not verify_signature("other", header, b"{}", now=1_000_000)
    assert not verify_signature("k", "garbage", b"{}", now=1_000_000)


async def test_unsigned_without_a_secret(
    store: StateStore, frozen_clock: FrozenClock, webhook_receiver: WebhookReceiver
) -> None:
    await queue_stop(store, frozen_clock)
    await WebhookSender(store, hook_settings(webhook_receiver), clock=frozen_clock).deliver_due()
    assert SIGNATURE_HEADER.lower() not in webhook_receiver.requests[0].headers


async def test_500_twice_then_200_is_three_attempts_with_growing_gaps(
    store: StateStore, frozen_clock: FrozenClock, webhook_receiver: WebhookReceiver
) -> None:
    webhook_receiver.script(500, 500, 200)
    event_id = await queue_stop(store, frozen_clock)
    sender = WebhookSender(store, hook_settings(webhook_receiver), clock=frozen_clock)
    start = frozen_clock.now()
    await sender.deliver_due()
    frozen_clock.advance(seconds=9)
    assert (await sender.deliver_due()).attempted == 0  # not due yet
    frozen_clock.advance(seconds=1)
    await sender.deliver_due()
    frozen_clock.advance(seconds=19)
    assert (await sender.deliver_due()).attempted == 0
    frozen_clock.advance(seconds=1)
    assert (await sender.deliver_due()).delivered == 1
    assert [r.delivery_id for r in webhook_receiver.requests] == [event_id] * 3
    (delivery,) = await store.list_deliveries()
    assert delivery.state == "delivered"
    assert [a.outcome for a in delivery.attempts] == ["retry", "retry", "delivered"]
    assert [a.status_code for a in delivery.attempts] == [500, 500, 200]
    assert [a.at - start for a in delivery.attempts] == [
        timedelta(0),
        timedelta(seconds=10),
        timedelta(seconds=30),
    ]
    assert sender.outcome_counts() == {"delivered": 1.0, "retry": 2.0, "failed": 0.0, "dropped": 0.0}


async def test_400_is_one_attempt_and_failed_for_good(
    store: StateStore, frozen_clock: FrozenClock, webhook_receiver: WebhookReceiver
) -> None:
    webhook_receiver.script(400)
    await queue_stop(store, frozen_clock)
    sender = WebhookSender(store, hook_settings(webhook_receiver), clock=frozen_clock)
    assert (await sender.deliver_due()).failed == 1
    frozen_clock.advance(hours=2)
    await sender.deliver_due()
    assert len(webhook_receiver.requests) == 1
    (delivery,) = await store.list_deliveries()
    assert delivery.state == "failed"
    assert delivery.attempts[0].status_code == 400
    assert delivery.last_error is not None
    assert delivery.last_error.startswith("HTTP 400")
    assert await store.delivery_counts() == {"pending": 0, "delivered": 0, "failed": 1, "dropped": 0}


def test_which_statuses_are_retried() -> None:
    assert [classify(s) for s in (200, 204, 408, 429, 500, 503, None, 400, 401, 404, 410)] == [
        "delivered", "delivered", "retry", "retry", "retry", "retry", "retry",
        "failed", "failed", "failed", "failed",
    ]  # fmt: skip


async def test_retrying_ends_after_max_retry_minutes(
    store: StateStore, frozen_clock: FrozenClock, webhook_receiver: WebhookReceiver
) -> None:
    webhook_receiver.script(*[503] * 10)
    await queue_stop(store, frozen_clock)
    sender = WebhookSender(store, hook_settings(webhook_receiver, max_retry_minutes=0.5), clock=frozen_clock)
    for _ in range(6):
        await sender.deliver_due()
        frozen_clock.advance(seconds=10)
    (delivery,) = await store.list_deliveries()
    assert delivery.state == "failed"
    assert len(webhook_receiver.requests) == 3  # at 0 s, 10 s, 30 s; the next would be past 30 s


async def test_a_receiver_that_is_down_is_retried(store: StateStore, frozen_clock: FrozenClock) -> None:
    from tests.fixtures.webhook_receiver import WebhookReceiver

    receiver = WebhookReceiver()
    receiver.start()
    receiver.stop()  # its port is now closed
    await queue_stop(store, frozen_clock)
    sender = WebhookSender(store, hook_settings(receiver), clock=frozen_clock)
    assert (await sender.deliver_due()).retrying == 1
    (delivery,) = await store.list_deliveries()
    assert delivery.state == "pending"
    assert "ConnectError" in (delivery.last_error or "")
    receiver.start()
    try:
        frozen_clock.advance(seconds=10)
        assert (await sender.deliver_due()).delivered == 1
    finally:
        receiver.stop()


async def test_no_url_configured_drops_without_a_request(
    store: StateStore, frozen_clock: FrozenClock, webhook_receiver: WebhookReceiver
) -> None:
    await queue_stop(store, frozen_clock)
    report = await WebhookSender(store, hook_settings(None), clock=frozen_clock).deliver_due()
    assert report.dropped == 1
    assert report.attempted == 0
    assert webhook_receiver.requests == []
    assert (await store.delivery_counts())["dropped"] == 1


async def test_the_instance_url_gets_its_own_copy(
    store: StateStore, frozen_clock: FrozenClock, webhook_receiver: WebhookReceiver
) -> None:
    own = webhook_receiver.url.replace("/hook", "/own-hook")
    event_id = await queue_stop(store, frozen_clock, webhook_url=own)
    await WebhookSender(store, hook_settings(webhook_receiver), clock=frozen_clock).deliver_due()
    assert sorted(r.path for r in webhook_receiver.requests) == ["/hook", "/own-hook"]
    assert {r.delivery_id for r in webhook_receiver.requests} == {event_id}
    (logged,) = await store.list_events()
    assert own not in logged.model_dump_json()  # the instance's URL stays out of the log


async def test_events_that_are_not_webhooks_queue_nothing(
    store: StateStore, frozen_clock: FrozenClock
) -> None:
    record = sample_record("i1", frozen_clock.now())
    pinned = events.instance_event(events.PINNED, record, actor="user", now=frozen_clock.now())
    found = events.instance_event(events.DISCOVERED, record, actor="sync", now=frozen_clock.now())
    await events.record_events(store, [pinned, found])
    assert len(await store.list_events()) == 2
    assert await store.list_deliveries() == []


class RecordingSleep:
    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


async def test_deliver_now_retries_briefly(
    store: StateStore, frozen_clock: FrozenClock, webhook_receiver: WebhookReceiver
) -> None:
    webhook_receiver.script(502)
    await queue_stop(store, frozen_clock)
    sleep = RecordingSleep()
    report = await deliver_now(store, hook_settings(webhook_receiver), clock=frozen_clock, sleep=sleep)
    assert report.delivered == 1
    assert report.attempted == 2
    assert sleep.calls == [0.3]


async def test_deliver_now_is_bounded_and_leaves_the_rest_queued(
    store: StateStore, frozen_clock: FrozenClock, webhook_receiver: WebhookReceiver
) -> None:
    webhook_receiver.hang_seconds = 1.5
    await queue_stop(store, frozen_clock)
    started = time.monotonic()
    report = await deliver_now(store, hook_settings(webhook_receiver), clock=frozen_clock, budget_seconds=0.4)
    assert time.monotonic() - started < 1.2
    assert report.retrying == 1
    (delivery,) = await store.list_deliveries()
    assert delivery.state == "pending"
    assert "Timeout" in (delivery.last_error or "")


def test_a_pass_keeps_its_lease_while_every_claimed_delivery_could_hang() -> None:
    from novictl.core import webhooks

    # 50 claimed, 8 at a time, each allowed the full 10 s timeout: 7 rounds must fit in the lease.
    assert webhooks._lease_for(50, 10.0) >= 7 * 10.0
    assert webhooks._lease_for(8, 10.0) >= 10.0
