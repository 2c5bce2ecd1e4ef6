"""The webhook outbox in SQLite: statements run inside the backend's transactions (see
:class:`~novictl.store.sqlite_backend.SqliteStore`), so an outbox write is atomic with what it goes with."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Sequence
from typing import Any

from novictl.store.common import to_epoch_us
from novictl.store.outbox import FINISHED_STATES, Delivery, DeliveryState

__all__ = [
    "MIGRATION",
    "claim_due",
    "count_by_state",
    "insert_deliveries",
    "prune_finished",
    "select_deliveries",
    "update_deliveries",
]

logger = logging.getLogger("novictl.store")

MIGRATION: tuple[str, ...] = (
    """CREATE TABLE deliveries (
        id TEXT PRIMARY KEY,
        state TEXT NOT NULL,           -- pending | delivered | failed | dropped
        due_us INTEGER NOT NULL,       -- pending: when it may be (re)tried; a claim moves it a lease ahead
        finished_us INTEGER,           -- when it stopped being pending
        created_us INTEGER NOT NULL,
        data TEXT NOT NULL             -- the Delivery as JSON
    )""",
    "CREATE INDEX deliveries_due ON deliveries (state, due_us)",
    "CREATE INDEX deliveries_finished ON deliveries (state, finished_us)",
)
"""Schema version 2 of the SQLite store."""

_FINISHED_MARKS = ",".join(f"'{state}'" for state in FINISHED_STATES)


def _row(delivery: Delivery) -> tuple[Any, ...]:
    finished = None if delivery.finished_at is None else to_epoch_us(delivery.finished_at)
    return (
        delivery.state,
        to_epoch_us(delivery.next_attempt_at),
        finished,
        to_epoch_us(delivery.created_at),
        delivery.model_dump_json(),
        delivery.id,
    )


def insert_deliveries(connection: sqlite3.Connection, deliveries: Sequence[Delivery]) -> None:
    connection.executemany(
        "INSERT OR IGNORE INTO deliveries (state, due_us, finished_us, created_us, data, id) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        [_row(delivery) for delivery in deliveries],
    )


def update_deliveries(connection: sqlite3.Connection, deliveries: Sequence[Delivery]) -> None:
    connection.executemany(
        "UPDATE deliveries SET state = ?, due_us = ?, finished_us = ?, created_us = ?, data = ? WHERE id = ?",
        [_row(delivery) for delivery in deliveries],
    )


def claim_due(connection: sqlite3.Connection, now_us: int, lease_until_us: int, limit: int) -> list[Delivery]:
    """Call inside ``BEGIN IMMEDIATE``: nobody else can claim between the read and the lease."""
    rows = connection.execute(
        "SELECT id, data FROM deliveries WHERE state = 'pending' AND due_us <= ? ORDER BY due_us, created_us "
        "LIMIT ?",
        (now_us, max(0, limit)),
    ).fetchall()
    connection.executemany(
        "UPDATE deliveries SET due_us = ? WHERE id = ?", [(lease_until_us, row["id"]) for row in rows]
    )
    return decode(rows)


def prune_finished(connection: sqlite3.Connection, cutoff_us: int, keep: int) -> None:
    """Drop finished deliveries older than ``cutoff_us``, then all but the newest ``keep`` of each state."""
    connection.execute(
        f"DELETE FROM deliveries WHERE state IN ({_FINISHED_MARKS}) AND finished_us < ?",  # noqa: S608
        (cutoff_us,),
    )
    connection.executemany(
        "DELETE FROM deliveries WHERE id IN (SELECT id FROM deliveries WHERE state = ? "
        "ORDER BY finished_us DESC, created_us DESC LIMIT -1 OFFSET ?)",
        [(state, keep) for state in FINISHED_STATES],
    )


def select_deliveries(
    connection: sqlite3.Connection, states: Sequence[DeliveryState] | None, limit: int
) -> list[Delivery]:
    where = ""
    params: list[Any] = []
    if states:
        where = f"WHERE state IN ({','.join('?' * len(states))})"
        params.extend(states)
    params.append(max(0, limit))
    rows = connection.execute(
        f"SELECT id, data FROM deliveries {where} ORDER BY created_us DESC, id LIMIT ?",  # noqa: S608
        params,
    ).fetchall()
    return decode(rows)


def count_by_state(connection: sqlite3.Connection) -> dict[str, int]:
    counts: dict[str, int] = dict.fromkeys(("pending", *FINISHED_STATES), 0)
    for row in connection.execute("SELECT state, COUNT(*) AS n FROM deliveries GROUP BY state"):
        counts[str(row["state"])] = int(row["n"])
    return counts


def decode(rows: Sequence[sqlite3.Row]) -> list[Delivery]:
    found: list[Delivery] = []
    for row in rows:
        try:
            found.append(Delivery.model_validate_json(row["data"]))
        except ValueError:
            logger.error("skipping a corrupt stored webhook delivery %s", row["id"])
    return found
