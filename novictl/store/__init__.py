"""The state store: instance records, locks, the event log, counters and meta, in SQLite or Redis.

Open one with :func:`open_store`; code against :class:`~novictl.store.base.StateStore`.
"""

from __future__ import annotations

from pathlib import Path

from novictl.clock import Clock
from novictl.errors import ConfigError
from novictl.store.base import REPAIRS_COUNTER, StateStore, StoreOptions, StoreSettingsLike
from novictl.store.records import Event, InstanceRecord

__all__ = [
    "REPAIRS_COUNTER",
    "Event",
    "InstanceRecord",
    "StateStore",
    "StoreOptions",
    "StoreSettingsLike",
    "open_store",
    "sqlite_path_from_url",
]

_REDIS_SCHEMES = ("redis://", "rediss://", "unix://")


def sqlite_path_from_url(url: str, default: Path) -> Path | None:
    """The SQLite file a store URL names: ``""`` → ``default``; ``sqlite:///abs/path`` or
    ``sqlite://~/rel`` → that path; ``None`` when the URL is not a SQLite one."""
    if not url:
        return default
    if url.startswith("sqlite://"):
        rest = url.removeprefix("sqlite://")
        if not rest:
            return default
        return Path(rest).expanduser()
    return None


async def open_store(store_settings: StoreSettingsLike, *, clock: Clock | None = None) -> StateStore:
    """Open the store the settings name: SQLite (the file and its directory are created, mode 0600) when
    ``store.url`` is empty or ``sqlite://…``, Redis for ``redis://``, ``rediss://`` (TLS) or ``unix://``.
    Migrates the schema and checks the store answers; raises ``StoreError`` when it does not, and
    ``ConfigError`` for a URL of another kind."""
    url = store_settings.url.strip()
    if url.startswith(_REDIS_SCHEMES):
        from novictl.store.redis_backend import RedisStore  # imports redis only when it is used

        redis_store = RedisStore(
            url,
            key_prefix=store_settings.key_prefix,
            clock=clock,
            events_max=store_settings.events_max,
            events_max_age_days=store_settings.events_max_age_days,
        )
        try:
            await redis_store.open()
        except BaseException:
            await redis_store.close()
            raise
        return redis_store
    path = sqlite_path_from_url(url, store_settings.sqlite_path)
    if path is None:
        scheme = url.partition(":")[0]
        raise ConfigError(
            f"store.url: unsupported kind of store {scheme!r}",
            hint="leave it empty for SQLite, or use redis://, rediss:// or sqlite:///path",
        )
    from novictl.store.sqlite_backend import SqliteStore

    sqlite_store = SqliteStore(
        path,
        clock=clock,
        events_max=store_settings.events_max,
        events_max_age_days=store_settings.events_max_age_days,
    )
    sqlite_store.open()
    return sqlite_store
