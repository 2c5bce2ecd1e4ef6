"""The webhook outbox on both backends: queued with the events, claimed atomically with a lease, saved with
every attempt, counted, listed newest first, finished ones capped."""

from __future__ import annotations

from datetime import datetime, timedelta

from novictl.clock import FrozenClock
from novictl.store import Event, StateStore
from novictl.store.outbox import Delivery, DeliveryAttempt
from tests.fixtures.store import StoreFactory


def queued(at: datetime, event_id: str = "e1", **fields: object) -> Delivery:
    values: dict[str, object] = {
        "event_id": event_id, "event_type": "instance.stopped", "instance_id": "i1", "body": '{"id":"e1"}',
        "created_at": at, "next_attempt_at": at,
    }  # fmt: skip
    values.update(fields)
    return Delivery.model_validate(values)


async def test_deliveries_are_queued_with_their_events(store: StateStore, frozen_clock: FrozenClock) -> None:
    now = frozen_clock.now()
    event = Event(type="instance.stopped", occurred_at=now, instance_id="i1")
    delivery = queued(now, event.id, url="http://hook.test/secret-path")
    await store.append_events([event], deliveries=[delivery])
    assert [e.id for e in await store.list_events()] == [event.id]
    assert await store.delivery_counts() == {"pending": 1, "delivered": 0, "failed": 0, "dropped": 0}
    (listed,) = await store.list_deliveries()
    assert listed == delivery
    assert "secret-path" not in repr(listed)


async def test_a_claim_takes_only_due_deliveries_and_leases_them(
    store: StateStore, make_store: StoreFactory, frozen_clock: FrozenClock
) -> None:
    now = frozen_clock.now()
    due, later = queued(now, "due"), queued(now, "later", next_attempt_at=now + timedelta(minutes=5))
    await store.append_events([], deliveries=[due, later])
    other = await make_store()  # another deliverer on the same data
    claimed = await store.claim_deliveries(now=now, lease_seconds=60)
    assert [d.event_id for d in claimed] == ["due"]
    assert await other.claim_deliveries(now=now, lease_seconds=60) == []
    # The lease ends: a deliverer that died mid-send leaves it to the next one.
    assert [
        d.event_id for d in await other.claim_deliveries(now=now + timedelta(seconds=61), lease_seconds=60)
    ] == ["due"]
    both = await other.claim_deliveries(now=now + timedelta(minutes=10), lease_seconds=60)
    assert sorted(d.event_id for d in both) == ["due", "later"]


async def test_saved_attempts_and_states_come_back(store: StateStore, frozen_clock: FrozenClock) -> None:
    now = frozen_clock.now()
    retrying, done = queued(now, "a"), queued(now, "b")
    await store.append_events([], deliveries=[retrying, done])
    claimed = {d.event_id: d for d in await store.claim_deliveries(now=now, lease_seconds=30)}
    failure = DeliveryAttempt(at=now, outcome="retry", status_code=500, error="HTTP 500: boom", duration_ms=3)
    success = DeliveryAttempt(at=now, outcome="delivered", status_code=204, duration_ms=2)
    await store.save_deliveries(
        [
            claimed["a"].model_copy(
                update={"attempts": [failure], "next_attempt_at": now + timedelta(seconds=10)}
            ),
            claimed["b"].model_copy(update={"attempts": [success], "state": "delivered", "finished_at": now}),
        ]
    )
    assert await store.delivery_counts() == {"pending": 1, "delivered": 1, "failed": 0, "dropped": 0}
    (pending,) = await store.list_deliveries(states=["pending"])
    assert pending.attempts == [failure]
    assert pending.last_error == "HTTP 500: boom"
    assert await store.claim_deliveries(now=now + timedelta(seconds=9), lease_seconds=30) == []
    (again,) = await store.claim_deliveries(now=now + timedelta(seconds=10), lease_seconds=30)
    assert again.event_id == "a"


async def test_finished_deliveries_are_capped_oldest_first(
    make_store: StoreFactory, frozen_clock: FrozenClock
) -> None:
    store = await make_store(events_max=2)
    start = frozen_clock.now()
    batch = [queued(start + timedelta(seconds=i), f"e{i}") for i in range(4)]
    await store.append_events([], deliveries=batch)
    claimed = await store.claim_deliveries(now=start + timedelta(minutes=1), lease_seconds=30)
    finished = [
        d.model_copy(
            update={"state": "delivered", "finished_at": start + timedelta(seconds=10 + int(d.event_id[1:]))}
        )
        for d in claimed
    ]
    await store.save_deliveries(finished)
    assert [d.event_id for d in await store.list_deliveries()] == ["e3", "e2"]
    assert (await store.delivery_counts())["delivered"] == 2


async def test_listing_is_newest_first_and_filtered(store: StateStore, frozen_clock: FrozenClock) -> None:
    now = frozen_clock.now()
    await store.append_events([], deliveries=[queued(now - timedelta(seconds=i), f"e{i}") for i in range(3)])
    assert [d.event_id for d in await store.list_deliveries(limit=2)] == ["e0", "e1"]
    assert await store.list_deliveries(states=["failed"]) == []
