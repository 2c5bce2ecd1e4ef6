"""The SQLite backend: one file on one machine, no server (the default).

stdlib ``sqlite3`` in WAL mode with a busy timeout, one connection per store object. Calls run directly on
the event loop: a local file answers in microseconds, and no ``await`` ever sits inside a transaction, so a
transaction is atomic with respect to other coroutines too. Writes that must be atomic across processes
(lock acquisition, read-modify-write) run in ``BEGIN IMMEDIATE`` transactions.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from novictl.clock import Clock
from novictl.errors import StoreError
from novictl.store import sqlite_outbox as outbox
from novictl.store.base import REPAIRS_COUNTER
from novictl.store.common import StoreBase, UsedAt, encode_record, merge_document, to_epoch_us
from novictl.store.outbox import Delivery, DeliveryState
from novictl.store.records import Event, InstanceRecord

__all__ = ["BUSY_TIMEOUT_SECONDS", "SCHEMA_VERSION", "SqliteStore"]

logger = logging.getLogger("novictl.store")

BUSY_TIMEOUT_SECONDS = 10.0
"""How long a write waits for another process's write to finish before giving up."""
_CHUNK = 500  # ids per IN (...) query, well below SQLite's variable limit

# One tuple of statements per schema version; never edit a released one, append a new one.
_MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE records (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            data TEXT NOT NULL,            -- the InstanceRecord as JSON
            used_us INTEGER,               -- latest recorded use in epoch microseconds, only moves forward
            used_source TEXT
        )""",
        "CREATE INDEX records_by_name ON records (name)",
        "CREATE TABLE locks (name TEXT PRIMARY KEY, token TEXT NOT NULL, expires_us INTEGER NOT NULL)",
        """CREATE TABLE events (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            id TEXT NOT NULL,
            type TEXT NOT NULL,
            occurred_us INTEGER NOT NULL,
            instance_id TEXT,
            data TEXT NOT NULL             -- the Event as JSON
        )""",
        "CREATE INDEX events_by_time ON events (occurred_us)",
        "CREATE INDEX events_by_instance ON events (instance_id, occurred_us)",
        "CREATE TABLE counters (name TEXT PRIMARY KEY, value REAL NOT NULL)",
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    ),
    outbox.MIGRATION,
)
SCHEMA_VERSION = len(_MIGRATIONS)

_UPSERT_RECORD = """
INSERT INTO records (id, name, data, used_us, used_source) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (id) DO UPDATE SET
    name = excluded.name,
    data = excluded.data,
    used_source = CASE WHEN COALESCE(excluded.used_us, -1) > COALESCE(records.used_us, -1)
                       THEN excluded.used_source ELSE records.used_source END,
    used_us = NULLIF(MAX(COALESCE(excluded.used_us, -1), COALESCE(records.used_us, -1)), -1)
"""


# SQLite's default limit on bound parameters is 999 in old builds; stay under it.
_ID_CHUNK = 900


def _used(row: sqlite3.Row) -> UsedAt | None:
    micros = row["used_us"]
    return None if micros is None else (int(micros), row["used_source"])


class SqliteStore(StoreBase):
    """The state store in a local SQLite file."""

    backend = "sqlite"

    def __init__(
        self,
        path: Path,
        *,
        clock: Clock | None = None,
        events_max: int = 10_000,
        events_max_age_days: float = 30,
        busy_timeout: float = BUSY_TIMEOUT_SECONDS,
    ):
        super().__init__(clock=clock, events_max=events_max, events_max_age_days=events_max_age_days)
        self.path = path
        self.busy_timeout = busy_timeout
        self._connection: sqlite3.Connection | None = None

    def __repr__(self) -> str:
        return f"SqliteStore({str(self.path)!r})"

    # -- lifecycle -----------------------------------------------------------------------------------

    def open(self) -> None:
        """Create the file (mode 0600) and its directory if needed, connect, and migrate the schema."""
        with self._guard("opening"):
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            if not self.path.exists():
                os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
            connection = sqlite3.connect(
                self.path, timeout=self.busy_timeout, isolation_level=None, check_same_thread=False
            )
            connection.row_factory = sqlite3.Row
            self._connection = connection
            try:
                connection.execute("PRAGMA journal_mode = WAL")
                connection.execute("PRAGMA synchronous = NORMAL")
                self._migrate(connection)
            except BaseException:
                self._connection = None
                connection.close()
                raise

    def _migrate(self, connection: sqlite3.Connection) -> None:
        with self._transaction():
            version = int(connection.execute("PRAGMA user_version").fetchone()[0])
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"the state file {self.path} has schema version {version}; this novictl knows "
                    f"{SCHEMA_VERSION}",
                    hint="upgrade novictl",
                )
            for statements in _MIGRATIONS[version:]:
                for statement in statements:
                    connection.execute(statement)
            connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    async def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    async def ping(self) -> None:
        with self._guard("pinging"):
            self._conn().execute("SELECT 1").fetchone()

    # -- plumbing ------------------------------------------------------------------------------------

    def _conn(self) -> sqlite3.Connection:
        if self._connection is None:
            raise StoreError(f"the SQLite state store {self.path} is closed")
        return self._connection

    @contextmanager
    def _guard(self, doing: str) -> Iterator[None]:
        """Turn any sqlite3 / OS failure into a StoreError that names the file."""
        try:
            yield
        except sqlite3.Error as exc:
            hint = None
            if "locked" in str(exc) or "busy" in str(exc):
                hint = "another process holds the state file busy; try again"
            raise StoreError(f"SQLite state store {self.path}: {doing} failed: {exc}", hint=hint) from exc
        except OSError as exc:
            raise StoreError(f"SQLite state store {self.path}: {doing} failed: {exc}") from exc

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """``BEGIN IMMEDIATE`` … ``COMMIT`` (rolled back on error): takes the write lock up front."""
        connection = self._conn()
        connection.execute("BEGIN IMMEDIATE")
        try:
            yield connection
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        connection.execute("COMMIT")

    def _now_us(self) -> int:
        return to_epoch_us(self.clock.now())

    # -- records -------------------------------------------------------------------------------------

    def _records_from(self, rows: Iterable[sqlite3.Row]) -> list[InstanceRecord]:
        batch = self._decode_rows((row["id"], row["data"], _used(row)) for row in rows)
        if batch.rewrites:
            with self._transaction() as connection:
                written = 0
                for instance_id, old, new, repairs in batch.rewrites:
                    # Only if nobody rewrote the record since we read it.
                    cursor = connection.execute(
                        "UPDATE records SET data = ? WHERE id = ? AND data = ?", (new, instance_id, old)
                    )
                    written += repairs * cursor.rowcount
                if written:
                    self._add_counters(connection, {REPAIRS_COUNTER: written})
        return batch.records

    async def get(self, instance_id: str) -> InstanceRecord | None:
        found = await self.get_many([instance_id])
        return found.get(instance_id)

    async def get_many(self, ids: Iterable[str]) -> dict[str, InstanceRecord]:
        wanted = list(dict.fromkeys(ids))
        rows: list[sqlite3.Row] = []
        with self._guard("reading records"):
            for start in range(0, len(wanted), _CHUNK):
                chunk = wanted[start : start + _CHUNK]
                marks = ",".join("?" * len(chunk))
                rows += self._conn().execute(f"SELECT * FROM records WHERE id IN ({marks})", chunk).fetchall()  # noqa: S608
            return {record.id: record for record in self._records_from(rows)}

    async def get_all(self) -> list[InstanceRecord]:
        with self._guard("reading records"):
            rows = self._conn().execute("SELECT * FROM records ORDER BY id").fetchall()
            return self._records_from(rows)

    async def find_by_name(self, name: str) -> list[InstanceRecord]:
        with self._guard("reading records"):
            rows = (
                self._conn().execute("SELECT * FROM records WHERE name = ? ORDER BY id", (name,)).fetchall()
            )
            return self._records_from(rows)

    async def put(self, record: InstanceRecord) -> None:
        await self.put_many([record])

    async def put_many(
        self, records: Iterable[InstanceRecord], *, fields: Collection[str] | None = None
    ) -> None:
        batch = list(records)
        with self._guard("writing records"), self._transaction() as connection:
            stored: dict[str, str] = {}
            if fields is not None and batch:
                # Inside BEGIN IMMEDIATE: nobody writes between this read and the merge below.
                stored = self._stored_documents(connection, [record.id for record in batch])
            rows = [
                (
                    record.id,
                    record.name,
                    merge_document(stored[record.id], record, fields or ())
                    if record.id in stored
                    else encode_record(record),
                    None if record.last_used_at is None else to_epoch_us(record.last_used_at),
                    record.last_used_source,
                )
                for record in batch
            ]
            connection.executemany(_UPSERT_RECORD, rows)

    @staticmethod
    def _stored_documents(connection: sqlite3.Connection, ids: Sequence[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        for start in range(0, len(ids), _ID_CHUNK):
            chunk = ids[start : start + _ID_CHUNK]
            marks = ",".join("?" * len(chunk))
            for row in connection.execute(f"SELECT id, data FROM records WHERE id IN ({marks})", chunk):  # noqa: S608
                found[row["id"]] = row["data"]
        return found

    async def delete_many(self, ids: Iterable[str]) -> int:
        with self._guard("deleting records"), self._transaction() as connection:
            cursor = connection.executemany("DELETE FROM records WHERE id = ?", [(i,) for i in set(ids)])
            return max(cursor.rowcount, 0)

    async def update_last_used(self, updates: Mapping[str, tuple[datetime, str | None]]) -> int:
        rows = [
            (to_epoch_us(used_at), source, instance_id) for instance_id, (used_at, source) in updates.items()
        ]
        with self._guard("recording use"), self._transaction() as connection:
            cursor = connection.executemany(
                "UPDATE records SET used_us = ?1, used_source = ?2 "
                "WHERE id = ?3 AND (used_us IS NULL OR used_us < ?1)",
                rows,
            )
            return max(cursor.rowcount, 0)

    # -- locks ---------------------------------------------------------------------------------------

    async def acquire_lock(self, name: str, ttl_seconds: float, *, owner: str | None = None) -> str | None:
        now_us = self._now_us()
        with self._guard("taking a lock"), self._transaction() as connection:
            row = connection.execute("SELECT expires_us FROM locks WHERE name = ?", (name,)).fetchone()
            if row is not None and row["expires_us"] > now_us:
                return None
            token = self._new_token(owner)
            connection.execute(
                "INSERT OR REPLACE INTO locks (name, token, expires_us) VALUES (?, ?, ?)",
                (name, token, now_us + int(ttl_seconds * 1_000_000)),
            )
            return token

    async def release_lock(self, name: str, token: str) -> bool:
        with self._guard("releasing a lock"), self._transaction() as connection:
            cursor = connection.execute(
                "DELETE FROM locks WHERE name = ? AND token = ? AND expires_us > ?",
                (name, token, self._now_us()),
            )
            return cursor.rowcount == 1

    async def extend_lock(self, name: str, token: str, ttl_seconds: float) -> bool:
        now_us = self._now_us()
        with self._guard("extending a lock"), self._transaction() as connection:
            cursor = connection.execute(
                "UPDATE locks SET expires_us = ? WHERE name = ? AND token = ? AND expires_us > ?",
                (now_us + int(ttl_seconds * 1_000_000), name, token, now_us),
            )
            return cursor.rowcount == 1

    async def lock_holder(self, name: str) -> str | None:
        with self._guard("reading a lock"):
            row = (
                self._conn()
                .execute("SELECT token FROM locks WHERE name = ? AND expires_us > ?", (name, self._now_us()))
                .fetchone()
            )
            return None if row is None else str(row["token"])

    # -- events --------------------------------------------------------------------------------------

    async def append_events(self, events: Sequence[Event], *, deliveries: Sequence[Delivery] = ()) -> None:
        rows = [
            (event.id, event.type, to_epoch_us(event.occurred_at), event.instance_id, event.model_dump_json())
            for event in events
        ]
        with self._guard("appending events"), self._transaction() as connection:
            connection.executemany(
                "INSERT INTO events (id, type, occurred_us, instance_id, data) VALUES (?, ?, ?, ?, ?)", rows
            )
            outbox.insert_deliveries(connection, deliveries)
            connection.execute(
                "DELETE FROM events WHERE occurred_us < ?", (to_epoch_us(self._events_cutoff()),)
            )
            connection.execute(
                "DELETE FROM events WHERE seq IN (SELECT seq FROM events "
                "ORDER BY occurred_us DESC, seq DESC LIMIT -1 OFFSET ?)",
                (self.events_max,),
            )

    async def list_events(
        self,
        *,
        instance_id: str | None = None,
        types: Sequence[str] | None = None,
        since: datetime | None = None,
        limit: int = 100,
    ) -> list[Event]:
        clauses: list[str] = []
        params: list[Any] = []
        if instance_id is not None:
            clauses.append("instance_id = ?")
            params.append(instance_id)
        if types:
            clauses.append(f"type IN ({','.join('?' * len(types))})")
            params.extend(types)
        if since is not None:
            clauses.append("occurred_us >= ?")
            params.append(to_epoch_us(since))
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        params.append(max(0, limit))
        query = f"SELECT seq, data FROM events {where} ORDER BY occurred_us DESC, seq DESC LIMIT ?"  # noqa: S608
        with self._guard("reading events"):
            rows = self._conn().execute(query, params).fetchall()
        events: list[Event] = []
        for row in rows:
            try:
                events.append(Event.model_validate_json(row["data"]))
            except ValueError:
                logger.error("skipping corrupt stored event #%s", row["seq"])
        return events

    # -- webhook outbox ------------------------------------------------------------------------------

    async def claim_deliveries(
        self, *, now: datetime, lease_seconds: float, limit: int = 50
    ) -> list[Delivery]:
        now_us = to_epoch_us(now)
        with self._guard("claiming webhook deliveries"), self._transaction() as connection:
            return outbox.claim_due(connection, now_us, now_us + int(lease_seconds * 1_000_000), limit)

    async def save_deliveries(self, deliveries: Sequence[Delivery]) -> None:
        with self._guard("saving webhook deliveries"), self._transaction() as connection:
            outbox.update_deliveries(connection, deliveries)
            outbox.prune_finished(connection, to_epoch_us(self._events_cutoff()), self.events_max)

    async def list_deliveries(
        self, *, states: Sequence[DeliveryState] | None = None, limit: int = 50
    ) -> list[Delivery]:
        with self._guard("reading webhook deliveries"):
            return outbox.select_deliveries(self._conn(), states, limit)

    async def delivery_counts(self) -> dict[str, int]:
        with self._guard("counting webhook deliveries"):
            return outbox.count_by_state(self._conn())

    # -- counters and meta ---------------------------------------------------------------------------

    @staticmethod
    def _add_counters(connection: sqlite3.Connection, deltas: Mapping[str, float]) -> None:
        connection.executemany(
            "INSERT INTO counters (name, value) VALUES (?, ?) "
            "ON CONFLICT (name) DO UPDATE SET value = value + excluded.value",
            list(deltas.items()),
        )

    async def incr_counters(self, deltas: Mapping[str, float]) -> None:
        with self._guard("updating counters"), self._transaction() as connection:
            self._add_counters(connection, deltas)

    async def get_counters(self) -> dict[str, float]:
        with self._guard("reading counters"):
            rows = self._conn().execute("SELECT name, value FROM counters").fetchall()
        return {row["name"]: float(row["value"]) for row in rows}

    async def set_meta(self, key: str, value: str) -> None:
        with self._guard("writing meta"), self._transaction() as connection:
            connection.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    async def get_meta(self, key: str) -> str | None:
        with self._guard("reading meta"):
            row = self._conn().execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row["value"])
