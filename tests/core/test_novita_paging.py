"""Sync and auto-stop read every instance exactly once, whether Novita counts pages from 0 (live) or 1.

A client that asked for page 1 first would miss the whole first page on a zero-based server: an account
with fewer instances than a page would look empty to sync and auto-stop.
"""

from __future__ import annotations

from typing import Any

import pytest

from novictl.config import AutoStopSettings
from novictl.core.autostop_runner import run_autostop
from novictl.core.sync import SyncOptions, sync_instances

PAGE = 100
SETTINGS = AutoStopSettings()


@pytest.mark.parametrize("paging", ["zero", "one"])
@pytest.mark.parametrize("count", [1, 99, 100, 101, 250])
async def test_sync_and_autostop_see_every_instance_once(
    emulator_factory: Any, novita_client_factory: Any, store: Any, paging: str, count: int
) -> None:
    server = emulator_factory(paging=paging)
    ids = set(server.state.seed_instances(count))
    client = await novita_client_factory(base_url=server.base_url, api_key=server.api_key)

    result = await sync_instances(client=client, store=store, options=SyncOptions(page_size=PAGE))

    assert (result.seen, result.adopted) == (count, count)
    assert {record.id for record in await store.get_all()} == ids
    pages = -(-count // PAGE)
    # A one-based server answers page 0 and page 1 alike: one page more, never more than that.
    extra = 1 if paging == "one" and count > PAGE else 0
    assert server.state.calls["GET /gpu/instances"] == pages + extra

    report = await run_autostop(
        client=client, store=store, settings_autostop=SETTINGS, dry_run=True, page_size=PAGE
    )
    seen = [entry.instance_id for entry in report.entries]
    assert len(seen) == len(set(seen)) == count
    assert set(seen) == ids
