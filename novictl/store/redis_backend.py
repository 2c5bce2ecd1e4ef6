"""The Redis backend: one store shared by several CLIs and daemons (HA).

Every key lives under the configured prefix. Bulk operations cost one round trip however many records
they touch: reads are ``HGETALL``/``HMGET`` in one ``MULTI`` pipeline, writes are Lua scripts (see
:mod:`novictl.store.redis_scripts`) sent in chunks through one pipeline. Locks are ``SET NX PX`` with an
owner token, released and extended by compare-and-act scripts. TLS and the password come with the URL.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import AsyncIterator, Collection, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import AuthenticationError, NoScriptError, RedisError

from novictl.clock import Clock
from novictl.errors import StoreError
from novictl.redact import mask_url
from novictl.store import redis_outbox, redis_scripts
from novictl.store.base import REPAIRS_COUNTER
from novictl.store.common import StoreBase, UsedAt, encode_record, merge_document, to_epoch_us
from novictl.store.outbox import Delivery, DeliveryState
from novictl.store.records import Event, InstanceRecord

__all__ = ["SCHEMA_VERSION", "RedisStore", "redact_url"]

logger = logging.getLogger("novictl.store")

SCHEMA_VERSION = 1
CHUNK = 1000
"""Records per script call or HMGET; a call this size takes Redis about a millisecond."""
_EVENT_PAGE = 500
_MERGE_ATTEMPTS = 10

_SCRIPTS = {
    "put": redis_scripts.PUT_RECORDS,
    "merge": redis_scripts.MERGE_RECORDS,
    "delete": redis_scripts.DELETE_RECORDS,
    "used": redis_scripts.UPDATE_USED,
    "rewrite": redis_scripts.REWRITE_RECORDS,
    "release": redis_scripts.RELEASE_LOCK,
    "extend": redis_scripts.EXTEND_LOCK,
    "claim": redis_outbox.CLAIM_DUE,
    "save_deliveries": redis_outbox.SAVE_DELIVERIES,
}
_SHAS = {name: hashlib.sha1(body.encode()).hexdigest() for name, body in _SCRIPTS.items()}  # noqa: S324


def redact_url(url: str) -> str:
    """The URL without its password, fit for messages and logs."""
    return mask_url(url)


def _parse_used(raw: str | None) -> UsedAt | None:
    if not raw:
        return None
    micros, _, source = raw.partition(" ")
    try:
        return int(micros), source or None
    except ValueError:
        return None  # not ours to trust; the record's own value stands


def _score(when: datetime) -> float:
    return to_epoch_us(when) / 1_000_000


class RedisStore(StoreBase):
    """The state store in Redis."""

    backend = "redis"

    def __init__(
        self,
        url: str,
        *,
        key_prefix: str = "novictl:",
        clock: Clock | None = None,
        events_max: int = 10_000,
        events_max_age_days: float = 30,
        socket_timeout: float = 30.0,
        connect_timeout: float = 5.0,
    ):
        super().__init__(clock=clock, events_max=events_max, events_max_age_days=events_max_age_days)
        self.url = redact_url(url)  # the password stays inside the client only
        self.prefix = key_prefix
        self.round_trips = 0
        """Requests sent to Redis by this object (a pipeline counts once); benchmarks read it."""
        self._client: aioredis.Redis = aioredis.Redis.from_url(
            url, decode_responses=True, socket_timeout=socket_timeout, socket_connect_timeout=connect_timeout
        )
        self._records = key_prefix + "records"
        self._names = key_prefix + "record_names"
        self._index = key_prefix + "name_index"
        self._used = key_prefix + "last_used"
        self._events = key_prefix + "events"
        self._counters = key_prefix + "counters"
        self._meta = key_prefix + "meta"
        self._outbox = redis_outbox.OutboxKeys(key_prefix)

    def __repr__(self) -> str:
        return f"RedisStore({self.url!r}, key_prefix={self.prefix!r})"

    # -- lifecycle -----------------------------------------------------------------------------------

    async def open(self) -> None:
        """Check Redis answers, load the scripts and check (or set) the layout version."""
        async with self._guard("connecting"):
            await self._load_scripts()  # also proves Redis answers (and the password is right)
            pipe = self._client.pipeline(transaction=True)
            pipe.set(self.prefix + "schema", SCHEMA_VERSION, nx=True)
            pipe.get(self.prefix + "schema")
            _, stored_version = await self._send(pipe)
        try:
            version = int(stored_version)
        except (TypeError, ValueError):
            raise StoreError(
                f"the Redis state under {self.prefix!r} has an unreadable layout version {stored_version!r}",
                hint="is another program using this key prefix? set store.key_prefix (REDIS_KEY_PREFIX)",
            ) from None
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"the Redis state under {self.prefix!r} has layout version {version}; this novictl knows "
                f"{SCHEMA_VERSION}",
                hint="upgrade novictl",
            )

    async def close(self) -> None:
        await self._client.aclose()

    async def ping(self) -> None:
        async with self._guard("pinging"):
            await self._send(self._client.ping())

    # -- plumbing ------------------------------------------------------------------------------------

    @asynccontextmanager
    async def _guard(self, doing: str) -> AsyncIterator[None]:
        """Turn any redis / socket failure into a StoreError that names the (redacted) URL."""
        try:
            yield
        except AuthenticationError as exc:
            raise StoreError(
                f"Redis state store {self.url}: {doing} failed: {exc}",
                hint="check the password in store.url (or REDIS_URL)",
            ) from exc
        except (RedisError, OSError, TimeoutError) as exc:
            raise StoreError(f"Redis state store {self.url}: {doing} failed: {exc}") from exc

    async def _send(self, request: Any) -> Any:
        """Await one command or execute one pipeline: a single round trip."""
        self.round_trips += 1
        if isinstance(request, aioredis.client.Pipeline):
            return await request.execute()
        return await request

    async def _scripts(self, calls: Sequence[tuple[str, Sequence[str], Sequence[Any]]]) -> list[Any]:
        """Run script calls ``(name, keys, args)`` in one pipeline. If Redis lost the scripts (a restart or
        ``SCRIPT FLUSH``) none of them ran, so loading them and sending the calls again is exact."""
        try:
            return await self._evalsha(calls)
        except NoScriptError:
            await self._load_scripts()
            return await self._evalsha(calls)

    async def _evalsha(self, calls: Sequence[tuple[str, Sequence[str], Sequence[Any]]]) -> list[Any]:
        pipe = self._client.pipeline(transaction=False)
        for name, keys, args in calls:
            pipe.evalsha(_SHAS[name], len(keys), *keys, *args)
        return list(await self._send(pipe))

    async def _load_scripts(self) -> None:
        pipe = self._client.pipeline(transaction=False)
        for body in _SCRIPTS.values():
            pipe.script_load(body)
        await self._send(pipe)

    # -- records -------------------------------------------------------------------------------------

    async def _records_from(self, rows: Iterable[tuple[str, str, UsedAt | None]]) -> list[InstanceRecord]:
        batch = self._decode_rows(rows)
        if batch.rewrites:
            args: list[Any] = [REPAIRS_COUNTER]
            for instance_id, old, new, repairs in batch.rewrites:
                args += [instance_id, old, new, repairs]
            await self._scripts([("rewrite", [self._records, self._counters], args)])
        return batch.records

    async def get(self, instance_id: str) -> InstanceRecord | None:
        found = await self.get_many([instance_id])
        return found.get(instance_id)

    async def get_many(self, ids: Iterable[str]) -> dict[str, InstanceRecord]:
        wanted = list(dict.fromkeys(ids))
        if not wanted:
            return {}
        async with self._guard("reading records"):
            pipe = self._client.pipeline(transaction=True)
            for start in range(0, len(wanted), CHUNK):
                chunk = wanted[start : start + CHUNK]
                pipe.hmget(self._records, chunk)
                pipe.hmget(self._used, chunk)
            results = await self._send(pipe)
            documents = [doc for part in results[0::2] for doc in part]
            used = [raw for part in results[1::2] for raw in part]
            rows = [
                (instance_id, document, _parse_used(raw))
                for instance_id, document, raw in zip(wanted, documents, used, strict=True)
                if document is not None
            ]
            return {record.id: record for record in await self._records_from(rows)}

    async def get_all(self) -> list[InstanceRecord]:
        async with self._guard("reading records"):
            pipe = self._client.pipeline(transaction=True)
            pipe.hgetall(self._records)
            pipe.hgetall(self._used)
            documents, used = await self._send(pipe)
            rows = [
                (instance_id, documents[instance_id], _parse_used(used.get(instance_id)))
                for instance_id in sorted(documents)
            ]
            return await self._records_from(rows)

    async def find_by_name(self, name: str) -> list[InstanceRecord]:
        async with self._guard("looking up a name"):
            members = await self._send(self._client.zrangebylex(self._index, f"[{name}\0", f"({name}\x01"))
        ids = [member.partition("\0")[2] for member in members]
        found = await self.get_many(ids)
        return [found[i] for i in sorted(found)]

    async def put(self, record: InstanceRecord) -> None:
        await self.put_many([record])

    async def put_many(
        self, records: Iterable[InstanceRecord], *, fields: Collection[str] | None = None
    ) -> None:
        batch = list(records)
        if fields is not None:
            for start in range(0, len(batch), CHUNK):
                await self._merge_chunk(batch[start : start + CHUNK], fields)
            return
        args: list[Any] = []
        for record in batch:
            args += self._put_args(record, encode_record(record))
        if not args:
            return
        keys = [self._records, self._names, self._index, self._used]
        step = CHUNK * 5
        calls = [("put", keys, args[start : start + step]) for start in range(0, len(args), step)]
        async with self._guard("writing records"):
            await self._scripts(calls)

    @staticmethod
    def _put_args(record: InstanceRecord, document: str) -> list[Any]:
        used = record.last_used_at
        return [
            record.id,
            record.name,
            document,
            "" if used is None else to_epoch_us(used),
            record.last_used_source or "",
        ]

    async def _merge_chunk(self, chunk: Sequence[InstanceRecord], fields: Collection[str]) -> None:
        """Merge ``fields`` into what is stored: read the documents, merge here, write each back only if it
        is still what was read (a compare-and-set script); re-read and re-merge just the records another
        writer changed meanwhile. Two round trips per chunk when nobody interferes."""
        keys = [self._records, self._names, self._index, self._used]
        pending = list(chunk)
        async with self._guard("writing records"):
            for _ in range(_MERGE_ATTEMPTS):
                stored = await self._send(self._client.hmget(self._records, [r.id for r in pending]))
                args: list[Any] = []
                for record, document in zip(pending, stored, strict=True):
                    if document is None:
                        seen, merged = "", encode_record(record)
                    else:
                        seen, merged = document, merge_document(document, record, fields)
                    used, source = self._put_args(record, merged)[3:]
                    args += [record.id, record.name, seen, merged, used, source]
                [conflicts] = await self._scripts([("merge", keys, args)])
                changed = {c.decode() if isinstance(c, bytes) else str(c) for c in conflicts}
                pending = [record for record in pending if record.id in changed]
                if not pending:
                    return
            raise StoreError(
                f"Redis state store {self.url}: records kept changing under a merge write; try again"
            )

    async def delete_many(self, ids: Iterable[str]) -> int:
        unique = list(dict.fromkeys(ids))
        if not unique:
            return 0
        keys = [self._records, self._names, self._index, self._used]
        calls = [("delete", keys, unique[start : start + CHUNK]) for start in range(0, len(unique), CHUNK)]
        async with self._guard("deleting records"):
            return sum(int(count) for count in await self._scripts(calls))

    async def update_last_used(self, updates: Mapping[str, tuple[datetime, str | None]]) -> int:
        args: list[Any] = []
        for instance_id, (used_at, source) in updates.items():
            args += [instance_id, to_epoch_us(used_at), source or ""]
        if not args:
            return 0
        step = CHUNK * 3
        keys = [self._records, self._used]
        calls = [("used", keys, args[start : start + step]) for start in range(0, len(args), step)]
        async with self._guard("recording use"):
            return sum(int(count) for count in await self._scripts(calls))

    # -- locks ---------------------------------------------------------------------------------------

    def _lock_key(self, name: str) -> str:
        return f"{self.prefix}lock:{name}"

    async def acquire_lock(self, name: str, ttl_seconds: float, *, owner: str | None = None) -> str | None:
        token = self._new_token(owner)
        ttl_ms = max(1, int(ttl_seconds * 1000))
        async with self._guard("taking a lock"):
            taken = await self._send(self._client.set(self._lock_key(name), token, nx=True, px=ttl_ms))
        return token if taken else None

    async def release_lock(self, name: str, token: str) -> bool:
        async with self._guard("releasing a lock"):
            (released,) = await self._scripts([("release", [self._lock_key(name)], [token])])
        return bool(released)

    async def extend_lock(self, name: str, token: str, ttl_seconds: float) -> bool:
        ttl_ms = max(1, int(ttl_seconds * 1000))
        async with self._guard("extending a lock"):
            (extended,) = await self._scripts([("extend", [self._lock_key(name)], [token, ttl_ms])])
        return bool(extended)

    async def lock_holder(self, name: str) -> str | None:
        async with self._guard("reading a lock"):
            holder = await self._send(self._client.get(self._lock_key(name)))
        return None if holder is None else str(holder)

    # -- events --------------------------------------------------------------------------------------

    async def append_events(self, events: Sequence[Event], *, deliveries: Sequence[Delivery] = ()) -> None:
        if not events and not deliveries:
            return
        async with self._guard("appending events"):
            pipe = self._client.pipeline(transaction=True)
            if deliveries:
                pipe.hset(self._outbox.outbox, mapping={d.id: d.model_dump_json() for d in deliveries})
                pipe.zadd(self._outbox.due, {d.id: _score(d.next_attempt_at) for d in deliveries})
            if events:
                pipe.zadd(self._events, {e.model_dump_json(): _score(e.occurred_at) for e in events})
            pipe.zremrangebyscore(self._events, "-inf", f"({_score(self._events_cutoff())}")
            pipe.zremrangebyrank(self._events, 0, -(self.events_max + 1))
            await self._send(pipe)

    async def list_events(
        self,
        *,
        instance_id: str | None = None,
        types: Sequence[str] | None = None,
        since: datetime | None = None,
        limit: int = 100,
    ) -> list[Event]:
        wanted_types = set(types) if types else None
        low: float | str = "-inf" if since is None else _score(since)
        found: list[Event] = []
        offset = 0
        page = max(limit, _EVENT_PAGE)
        # Newest first, a page at a time, filtering here: the log is capped, so this is bounded.
        while len(found) < limit:
            async with self._guard("reading events"):
                members = await self._send(
                    self._client.zrevrangebyscore(self._events, "+inf", low, start=offset, num=page)
                )
            for member in members:
                event = self._decode_event(member)
                if event is None or (instance_id is not None and event.instance_id != instance_id):
                    continue
                if wanted_types is not None and event.type not in wanted_types:
                    continue
                found.append(event)
                if len(found) == limit:
                    break
            if len(members) < page:
                break
            offset += page
        return found

    @staticmethod
    def _decode_event(member: str) -> Event | None:
        try:
            return Event.model_validate_json(member)
        except ValueError:
            logger.error("skipping a corrupt stored event (%d bytes)", len(member))
            return None

    # -- webhook outbox ------------------------------------------------------------------------------

    async def claim_deliveries(
        self, *, now: datetime, lease_seconds: float, limit: int = 50
    ) -> list[Delivery]:
        args = [_score(now), _score(now) + lease_seconds, max(0, limit)]
        async with self._guard("claiming webhook deliveries"):
            (documents,) = await self._scripts([("claim", [self._outbox.outbox, self._outbox.due], args)])
        return redis_outbox.decode_deliveries(documents)

    async def save_deliveries(self, deliveries: Sequence[Delivery]) -> None:
        args: list[Any] = [_score(self._events_cutoff()), self.events_max]
        for delivery in deliveries:
            when = delivery.next_attempt_at if delivery.state == "pending" else delivery.finished_at
            score = _score(when or self.clock.now())
            args += [delivery.id, delivery.state, score, delivery.model_dump_json()]
        async with self._guard("saving webhook deliveries"):
            await self._scripts([("save_deliveries", self._outbox.save_keys(), args)])

    async def list_deliveries(
        self, *, states: Sequence[DeliveryState] | None = None, limit: int = 50
    ) -> list[Delivery]:
        sets = self._outbox.state_sets()
        wanted = [sets[state] for state in (states or list(sets))]
        async with self._guard("reading webhook deliveries"):
            pipe = self._client.pipeline(transaction=True)
            for key in wanted:
                pipe.zrevrange(key, 0, max(0, limit) - 1)
            ids = [i for part in await self._send(pipe) for i in part]
            documents = await self._send(self._client.hmget(self._outbox.outbox, ids)) if ids else []
        found = redis_outbox.decode_deliveries(documents)
        found.sort(key=lambda d: (d.created_at, d.id), reverse=True)
        return found[: max(0, limit)]

    async def delivery_counts(self) -> dict[str, int]:
        sets = self._outbox.state_sets()
        async with self._guard("counting webhook deliveries"):
            pipe = self._client.pipeline(transaction=True)
            for key in sets.values():
                pipe.zcard(key)
            counts = await self._send(pipe)
        return {state: int(count) for state, count in zip(sets, counts, strict=True)}

    # -- counters and meta ---------------------------------------------------------------------------

    async def incr_counters(self, deltas: Mapping[str, float]) -> None:
        if not deltas:
            return
        async with self._guard("updating counters"):
            pipe = self._client.pipeline(transaction=True)
            for name, delta in deltas.items():
                pipe.hincrbyfloat(self._counters, name, delta)
            await self._send(pipe)

    async def get_counters(self) -> dict[str, float]:
        async with self._guard("reading counters"):
            raw = await self._send(self._client.hgetall(self._counters))
        return {name: float(value) for name, value in raw.items()}

    async def set_meta(self, key: str, value: str) -> None:
        async with self._guard("writing meta"):
            await self._send(self._client.hset(self._meta, key, value))

    async def get_meta(self, key: str) -> str | None:
        async with self._guard("reading meta"):
            value = await self._send(self._client.hget(self._meta, key))
        return None if value is None else str(value)
