"""What only the SQLite backend does: the file, its mode, WAL, the schema version, and its failures."""

from __future__ import annotations

import sqlite3
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from novictl.clock import FrozenClock
from novictl.errors import ConfigError, StoreError
from novictl.store import StoreOptions, open_store
from novictl.store.sqlite_backend import SCHEMA_VERSION, SqliteStore
from tests.fixtures.store import sample_record


async def test_open_creates_a_private_file_in_wal_mode(tmp_path: Path, frozen_clock: FrozenClock) -> None:
    path = tmp_path / "deep" / "er" / "state.db"
    store = await open_store(StoreOptions(sqlite_path=path), clock=frozen_clock)
    try:
        assert store.backend == "sqlite"
        await store.put(sample_record("a", frozen_clock.now()))
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        connection = sqlite3.connect(path)
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert connection.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        connection.close()
    finally:
        await store.close()
    reopened = await open_store(StoreOptions(url=f"sqlite://{path}"), clock=frozen_clock)
    try:
        assert await reopened.get("a") is not None  # the migration does not run twice
    finally:
        await reopened.close()


async def test_an_unknown_store_url_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="postgres"):
        await open_store(StoreOptions(url="postgres://db/novictl", sqlite_path=tmp_path / "x.db"))


async def test_a_file_from_a_newer_novictl_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    connection = sqlite3.connect(path)
    connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    connection.close()
    with pytest.raises(StoreError, match="schema version"):
        await open_store(StoreOptions(sqlite_path=path))


async def test_a_file_that_is_not_a_database_is_a_store_error(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match=str(path)):
        await open_store(StoreOptions(sqlite_path=path))


async def test_database_locked_beyond_the_busy_timeout_is_a_store_error(
    tmp_path: Path, frozen_clock: FrozenClock
) -> None:
    path = tmp_path / "state.db"
    store = SqliteStore(path, clock=frozen_clock, busy_timeout=0.05)
    store.open()
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # another process in the middle of a write
    try:
        with pytest.raises(StoreError, match="locked") as caught:
            await store.put(sample_record("a", frozen_clock.now()))
        assert caught.value.hint is not None
        with pytest.raises(StoreError):
            await store.acquire_lock("sync", 60)
        assert await store.get_all() == []  # WAL: reading goes on while another process writes
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    await store.put(sample_record("a", frozen_clock.now()))  # works again once the writer is done
    assert await store.get("a") is not None
    await store.close()


async def test_a_closed_store_raises_store_error(tmp_path: Path) -> None:
    store = await open_store(StoreOptions(sqlite_path=tmp_path / "state.db"))
    await store.close()
    with pytest.raises(StoreError, match="closed"):
        await store.get_all()


def test_the_sqlite_store_imports_no_redis_and_no_ui_libraries(tmp_path: Path) -> None:
    script = textwrap.dedent(
        f"""
        import asyncio, sys
        from pathlib import Path
        from novictl.store import StoreOptions, open_store

        async def main():
            store = await open_store(StoreOptions(sqlite_path=Path({str(tmp_path / "s.db")!r})))
            await store.get_all()
            await store.close()

        asyncio.run(main())
        heavy = sorted({{"redis", "typer", "rich", "fastapi", "uvicorn"}} & set(sys.modules))
        print(",".join(heavy))
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""
