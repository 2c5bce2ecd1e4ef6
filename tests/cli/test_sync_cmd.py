"""`novictl sync` through the real CLI: output, exit 5 on a held lock, exit 6 when Novita is down."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from novictl.core.sync import SYNC_LOCK
from novictl.store import open_store
from novictl.store.base import StoreOptions


def _store_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'state.db'}"


def test_sync_json_adopts_everything_then_marks_deleted_terminated(emulator, cli, cli_env, tmp_path) -> None:
    ids = emulator.state.seed_instances(250)
    cli_env(emulator, store_url=_store_url(tmp_path))

    first = cli("sync", "--json")
    assert first.code == 0, first.err
    report = json.loads(first.out)
    assert (report["seen"], report["adopted"], report["dryRun"]) == (250, 250, False)
    assert set(report) >= {"seen", "adopted", "updated", "unchanged", "terminated", "removed", "purged"}

    for instance_id in ids[:5]:
        emulator.state.vanish(instance_id)
    second = cli("sync", "--json")
    assert json.loads(second.out)["terminated"] == 5


def test_sync_table_for_people(emulator, cli, cli_env, tmp_path) -> None:
    emulator.state.seed_instances(3)
    cli_env(emulator, store_url=_store_url(tmp_path))

    done = cli("sync")

    assert done.code == 0
    rows = {
        label.strip(): value
        for label, _, value in (line.rstrip().rpartition(" ") for line in done.out.splitlines())
        if label.strip()
    }
    assert rows["adopted"] == "3"
    assert rows["seen on Novita"] == "3"


def test_dry_run_flag_writes_nothing(emulator, cli, cli_env, tmp_path) -> None:
    emulator.state.seed_instances(4)
    cli_env(emulator, store_url=_store_url(tmp_path))

    assert json.loads(cli("sync", "--dry-run", "--json").out)["adopted"] == 4
    assert json.loads(cli("sync", "--json").out)["adopted"] == 4


def test_sync_exits_5_while_another_holds_the_lock(emulator, cli, cli_env, tmp_path) -> None:
    cli_env(emulator, store_url=_store_url(tmp_path))

    async def hold() -> str | None:
        store = await open_store(StoreOptions(url=_store_url(tmp_path)))
        try:
            return await store.acquire_lock(SYNC_LOCK, 60)
        finally:
            await store.close()

    assert asyncio.run(hold()) is not None  # the lock outlives the connection, as a crashed holder's would
    done = cli("sync", "--json")

    assert done.code == 5
    error = json.loads(done.out)["error"]
    assert "already running" in error["message"]


def test_sync_exits_6_when_novita_stays_down_and_marks_nothing(emulator, cli, cli_env, tmp_path) -> None:
    ids = emulator.state.seed_instances(3)
    cli_env(emulator, store_url=_store_url(tmp_path))
    assert cli("sync").code == 0
    emulator.state.vanish(ids[0])
    emulator.state.script_fault("status", status=503, count=20, path="/gpu/instances")

    down = cli("sync")

    assert down.code == 6
    assert "error:" in down.err
    assert "Traceback" not in down.err
    emulator.state.clear_script()
    check = json.loads(cli("sync", "--json", "--dry-run").out)
    assert check["terminated"] == 1  # still pending: the failed run marked nothing
