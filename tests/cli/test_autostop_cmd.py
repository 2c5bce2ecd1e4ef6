"""``novictl autostop check|run|stats|set|pin|unpin`` in-process, against the emulator and a SQLite store.

The emulator's seeded instances were started hours ago and never pinged, and (the fixture says) novictl has
watched them for a day: after a sync, all are idle. Stops here happen without the warning gate
(``warn_before_minutes=0``) except where a test is about it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

ENTRY_KEYS = {
    "instanceId",
    "name",
    "status",
    "verdict",
    "reason",
    "trigger",
    "activeAt",
    "lastUsedAt",
    "lastUsedSource",
    "idleSeconds",
    "thresholdSeconds",
    "stopAt",
    "pricePerHour",
    "keptBy",
    "gpuPercent",
}


@dataclass
class World:
    emulator: Any
    ids: list[str]
    names: list[str]

    def stop_calls(self) -> dict[str, int]:
        return {i: int(self.emulator.state.instance_calls[i]["stop"]) for i in self.ids}


def watched_since(store_url: str, hours: float) -> None:
    """Move every record's ``first_seen_at`` back: novictl has watched these instances that long."""
    import asyncio

    from novictl.store import StoreOptions, open_store

    async def backdate() -> None:
        store = await open_store(StoreOptions(url=store_url))
        try:
            records = await store.get_all()
            since = datetime.now(UTC) - timedelta(hours=hours)
            await store.put_many([r.model_copy(update={"first_seen_at": since}) for r in records])
        finally:
            await store.close()

    asyncio.run(backdate())


@pytest.fixture
def world(emulator: Any, cli: Any, cli_env: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> World:
    ids = emulator.state.seed_instances(3)
    for instance_id in ids:
        emulator.state.set_status(instance_id, "running")
    store_url = f"sqlite:///{tmp_path / 'state.db'}"
    cli_env(emulator, store_url=store_url)
    monkeypatch.setenv("NOVICTL_AUTOSTOP__WARN_BEFORE_MINUTES", "0")
    assert cli("sync").code == 0
    watched_since(store_url, 24)
    emulator.state.reset_calls()
    names = [emulator.state.instance(i)["name"] for i in ids]
    return World(emulator, ids, names)


def check_json(cli: Any, *args: str) -> dict[str, Any]:
    done = cli("autostop", "check", "--json", *args)
    assert done.code == 0, done.err
    data: dict[str, Any] = json.loads(done.out)
    return data


def verdicts(report: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {e["instanceId"]: (e["verdict"], e["reason"]) for e in report["entries"]}


def test_check_json_schema_and_a_touch_keeps_one(world: World, cli: Any) -> None:
    report = check_json(cli)
    assert set(report) == {"ranAt", "dryRun", "durationSeconds", "totals", "errors", "gpuSource", "entries"}
    assert report["dryRun"] is True
    assert report["gpuSource"] == "ok"  # the emulator's GPUs sat at 0%: read, and idle
    assert report["errors"] == []
    assert all(set(entry) == ENTRY_KEYS for entry in report["entries"])
    assert {v for v, _ in verdicts(report).values()} == {"stop"}
    assert report["totals"]["stop"] == 3
    assert report["totals"]["stopUsdPerHour"] > 0

    assert cli("touch", world.names[0], "--source", "jupyter").code == 0
    again = verdicts(check_json(cli))
    assert again[world.ids[0]] == ("keep", "ping from jupyter 0s ago")
    assert {again[i][0] for i in world.ids[1:]} == {"stop"}
    assert sum(world.stop_calls().values()) == 0  # check never acts


def test_check_fail_on_idle_exit_codes(world: World, cli: Any) -> None:
    assert cli("autostop", "check", "--fail-on-idle").code == 1
    assert cli("autostop", "check", "--dry-run").code == 0  # the cron spelling
    for name in world.names:
        assert cli("touch", name).code == 0
    assert cli("autostop", "check", "--fail-on-idle").code == 0


def test_check_table_has_no_colour_when_not_a_terminal(world: World, cli: Any) -> None:
    done = cli("autostop", "check")
    assert done.code == 0
    assert "\x1b[" not in done.out
    for column in ("instance", "status", "last", "idle", "verdict", "reason", "$/h"):
        assert column in done.out
    assert done.out.count("stop ") >= 3
    assert done.out.splitlines()[-1].startswith("auto-stop (dry run): 3 would stop, 0 kept")


def test_run_refuses_without_a_terminal_or_yes(world: World, cli: Any) -> None:
    done = cli("autostop", "run")
    assert done.code == 2
    assert "--yes" in done.err
    assert sum(world.stop_calls().values()) == 0


def test_run_asks_and_a_no_stops_nothing(world: World, cli: Any) -> None:
    done = cli("autostop", "run", stdin="n\n", tty=True)
    assert "Stop 3 idle instances" in done.err
    assert "cancelled" in done.err
    assert sum(world.stop_calls().values()) == 0

    assert cli("autostop", "run", stdin="y\n", tty=True).code == 0
    assert world.stop_calls() == dict.fromkeys(world.ids, 1)


def test_run_yes_stops_each_idle_instance_once_and_stats_show_it(world: World, cli: Any) -> None:
    assert cli("touch", world.ids[2]).code == 0
    done = cli("autostop", "run", "--yes", "--json")
    assert done.code == 0, done.err
    report = json.loads(done.out)
    assert report["dryRun"] is False
    assert [v for v, _ in verdicts(report).values()].count("stopped") == 2
    assert world.stop_calls() == {world.ids[0]: 1, world.ids[1]: 1, world.ids[2]: 0}

    assert cli("autostop", "run", "--yes").code == 0  # the stopped ones are not running any more
    assert world.stop_calls() == {world.ids[0]: 1, world.ids[1]: 1, world.ids[2]: 0}

    stats = json.loads(cli("autostop", "stats", "--json").out)
    assert stats["counters"]["stops"] == 2
    assert stats["counters"]["runs"] == 2
    assert stats["savings"]["stillStopped"] == 2
    assert stats["lastRun"]["totals"]["stopped"] == 0
    assert stats["settings"]["idleMinutes"] == 20
    text = cli("autostop", "stats")
    assert text.code == 0
    assert "stops so far" in text.out
    assert "estimated savings" in text.out
    if stats["savings"]["totalUsd"] > 0:  # seconds after the stops: a fraction of a cent, not "$0.00"
        [line] = [row for row in text.out.splitlines() if "estimated savings" in row]
        assert not re.search(r"\$0\.00\b", line), line


def test_set_says_what_applies_without_grace_and_when_off_for_everyone(
    world: World, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = world.names[0]
    monkeypatch.setenv("NOVICTL_AUTOSTOP__STARTUP_GRACE_MINUTES", "0")
    assert "stops after 2h00m idle;" in cli("autostop", "set", first, "--idle", "2h").out
    monkeypatch.setenv("NOVICTL_AUTOSTOP__ENABLED", "false")
    assert "auto-stop is off for every instance" in cli("autostop", "set", first, "--default").out


def test_saving_amounts_keep_a_fraction_of_a_cent_visible() -> None:
    from novictl.cli.autostop_cmd import _usd

    assert [_usd(x) for x in (0, 0.00004, 0.0038, 0.01, 12.345)] == [
        "$0.00", "< $0.0001", "$0.0038", "$0.01", "$12.35",
    ]  # fmt: skip


def test_run_is_refused_with_exit_5_while_another_run_holds_the_lock(
    world: World, cli: Any, tmp_path: Path
) -> None:
    import asyncio

    from novictl.core.autostop import AUTOSTOP_LOCK
    from novictl.store import StoreOptions, open_store

    async def hold() -> tuple[Any, str]:
        store = await open_store(StoreOptions(sqlite_path=tmp_path / "state.db"))
        token = await store.acquire_lock(AUTOSTOP_LOCK, 60, owner="daemon@elsewhere")
        assert token is not None
        return store, token

    store, token = asyncio.run(hold())
    try:
        done = cli("autostop", "run", "--yes")
        assert done.code == 5, done.err
        assert "auto-stop already running" in done.err
        assert sum(world.stop_calls().values()) == 0
        assert cli("autostop", "check").code == 0  # a dry run needs no lock
    finally:
        asyncio.run(_release(store, token))
    assert cli("autostop", "run", "--yes").code == 0
    assert world.stop_calls() == dict.fromkeys(world.ids, 1)


async def _release(store: Any, token: str) -> None:
    from novictl.core.autostop import AUTOSTOP_LOCK

    assert await store.release_lock(AUTOSTOP_LOCK, token)
    await store.close()


def test_set_idle_off_and_default(world: World, cli: Any) -> None:
    first = world.names[0]
    done = cli("autostop", "set", first, "--idle", "2h", "--json")
    assert done.code == 0, done.err
    data = json.loads(done.out)
    assert (data["idleMinutes"], data["disabled"]) == (120, False)
    # A policy change restarts the idle clock; never pinged, so the startup grace (45m) adds on.
    assert data["autostop"]["thresholdSeconds"] == (120 + 45) * 60
    assert data["autostop"]["label"] in ("in 2h44m", "in 2h45m")
    assert verdicts(check_json(cli))[world.ids[0]] == ("keep", "policy changed 0s ago")

    data = json.loads(cli("autostop", "set", world.ids[0], "--off", "--json").out)
    assert (data["idleMinutes"], data["disabled"], data["autostop"]["label"]) == (None, True, "off")
    assert verdicts(check_json(cli))[world.ids[0]] == ("skip", "auto-stop off for this instance")

    done = cli("autostop", "set", first, "--default")
    assert done.code == 0
    assert "stops after the default 20m idle (plus 45m of startup grace" in done.out
    text = cli("autostop", "set", first, "--idle", "2h").out
    assert "stops after 2h00m idle (plus 45m of startup grace until its first ping after a start)" in text
    assert cli("autostop", "set", first, "--off", "--default").code == 2
    assert cli("autostop", "set", first).code == 2
    assert cli("autostop", "set", first, "--idle", "soon").code == 2
    assert cli("autostop", "set", "no-such-box", "--off").code == 4


def test_pin_and_unpin(world: World, cli: Any) -> None:
    done = cli("autostop", "pin", world.names[1], "--for", "4h", "--json")
    assert done.code == 0, done.err
    pinned_until = datetime.fromisoformat(json.loads(done.out)["pinnedUntil"])
    assert abs(pinned_until - (datetime.now(UTC) + timedelta(hours=4))) < timedelta(minutes=1)
    verdict, reason = verdicts(check_json(cli))[world.ids[1]]
    assert (verdict, reason.startswith("pinned until")) == ("keep", True)

    data = json.loads(cli("autostop", "unpin", world.names[1], "--json").out)
    assert data["pinnedUntil"] is None
    assert verdicts(check_json(cli))[world.ids[1]] == ("keep", "policy changed 0s ago")

    until = (datetime.now(UTC) + timedelta(days=1)).replace(microsecond=0)
    data = json.loads(cli("autostop", "pin", world.ids[1], "--until", until.isoformat(), "--json").out)
    assert datetime.fromisoformat(data["pinnedUntil"]) == until
    assert cli("autostop", "pin", world.ids[1], "--until", "2001-01-01T00:00:00Z").code == 2
    assert cli("autostop", "pin", world.ids[1], "--for", "1h", "--until", until.isoformat()).code == 2
    assert cli("autostop", "pin", world.ids[1], "--until", "tomorrow").code == 2
