"""The instance commands in-process through the real entry point, against the emulator (real HTTP)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

FAST = ("--poll-interval", "0.02s")
SUMMARY_KEYS = [
    "id", "name", "status", "productId", "gpu", "gpuCount", "region", "pricePerHour", "billingMode",
    "createdAt", "lastStartedAt", "lastStoppedAt", "lastUsedAt", "lastUsedSource", "lastGpuPercent",
    "lastGpuAt", "idleSeconds",
    "stoppedBy", "stoppedPricePerHour", "dataKeptUntil", "spotReclaimAt", "lastSyncedAt", "autoStop",
]  # fmt: skip
OUTCOME_KEYS = ["instanceId", "name", "action", "success", "already", "status"]

Cli = Any
MakeInstance = Callable[..., str]


def test_create_wait_list_show_and_quiet(novictl_cli: Cli, emulator: Any) -> None:
    created = novictl_cli(
        "create", "t1", "--gpu", "RTX 4090", "--image", "ubuntu", "--port", "8888/http", "--port", "22/tcp",
        "--env", "HF_HOME=/data", "--webhook", "https://hooks.example/secret-path", "--wait", *FAST, "--json",
    )  # fmt: skip
    assert created.code == 0, created.err
    data = created.json()
    assert list(data) == SUMMARY_KEYS
    assert (data["name"], data["status"], data["productId"]) == ("t1", "running", "4090.12c50g.sgp")
    # Progress went to stderr, stdout is only the JSON.
    progress = [line.split()[1] for line in created.err.splitlines() if line.strip().startswith("t1:")]
    # Each status once, as it changes; the emulator steps every 20 ms, so a poll may miss one of them.
    assert progress[-1] == "running"
    assert len(progress) >= 2
    assert len(set(progress)) == len(progress)

    listed = novictl_cli("list", "--json")
    assert listed.code == 0
    body = listed.json()
    assert list(body) == ["instances", "total"]
    assert [i["name"] for i in body["instances"]] == ["t1"]
    assert list(body["instances"][0]) == SUMMARY_KEYS
    assert novictl_cli("ls", "-q").out == f"{data['id']}\n"

    shown = novictl_cli("show", "t1", "--json")
    detail = shown.json()
    assert detail["sshCommand"].startswith("ssh -p ")
    assert sorted((p["port"], p["type"]) for p in detail["ports"]) == [(22, "tcp"), (8888, "http")]
    assert detail["keepDataDay"] == 7
    assert detail["webhookUrl"] == "https://hooks.example/****"
    assert detail["imageUrl"] == "ubuntu"
    password = emulator.state.instance(data["id"])["connectComponentSSH"]["password"]
    text = novictl_cli("show", data["id"])
    assert "ssh -p" in text.out
    assert text.out.splitlines()[0].split() == ["name", "t1"]  # key/value rows, no empty header row
    assert "secret-path" not in shown.out + text.out
    assert password not in shown.out + text.out


def test_list_filters_and_ttl(novictl_cli: Cli, make_instance: MakeInstance, emulator: Any) -> None:
    make_instance("alpha")
    make_instance("beta", status="exited")
    make_instance("alphabet", status="exited")
    assert [i["name"] for i in novictl_cli("list", "--json").json()["instances"]] == [
        "alpha",
        "alphabet",
        "beta",
    ]
    lists = emulator.state.calls["GET /gpu/instances"]
    # Within the TTL the store answers alone.
    by_status = novictl_cli("list", "--status", "exited", "--json").json()["instances"]
    assert [i["name"] for i in by_status] == ["alphabet", "beta"]
    assert emulator.state.calls["GET /gpu/instances"] == lists
    by_name = novictl_cli("list", "--name", "ALPHA").out
    assert "alphabet" in by_name
    assert "beta" not in by_name
    assert "last used" in by_name
    novictl_cli("list", "--refresh", "-q")
    assert emulator.state.calls["GET /gpu/instances"] == lists + 1


def _age_last_sync(seconds: float) -> None:
    """Make the store's last sync look ``seconds`` old (still inside list's 30 s TTL)."""
    import asyncio
    import json
    from datetime import UTC, datetime, timedelta

    from novictl.config import load_settings
    from novictl.store import open_store

    async def rewrite() -> None:
        store = await open_store(load_settings().settings.store)
        try:
            last = json.loads(await store.get_meta("last_sync") or "{}")
            last["startedAt"] = (datetime.now(UTC) - timedelta(seconds=seconds)).isoformat()
            await store.set_meta("last_sync", json.dumps(last))
        finally:
            await store.close()

    asyncio.run(rewrite())


def test_list_reads_novita_again_sooner_while_an_instance_is_between_states(
    novictl_cli: Cli, make_instance: MakeInstance, emulator: Any
) -> None:
    make_instance("box")
    make_instance("other", status="exited")
    assert novictl_cli("list", "-q").code == 0
    lists = emulator.state.calls["GET /gpu/instances"]
    _age_last_sync(5)
    assert novictl_cli("list", "-q").code == 0  # everything settled: 5 s old is fresh enough
    assert emulator.state.calls["GET /gpu/instances"] == lists

    assert novictl_cli("stop", "box").code == 0  # recorded as toStop; the emulator moves on in 20 ms
    _age_last_sync(5)
    shown = {i["name"]: i["status"] for i in novictl_cli("list", "--json").json()["instances"]}
    assert emulator.state.calls["GET /gpu/instances"] == lists + 1
    assert shown["box"] in {"toStop", "stopping", "exited"}  # as Novita says now (it steps every 20 ms)
    _age_last_sync(1)
    novictl_cli("list", "-q")  # a sync a second ago is fresh enough, even between states
    assert emulator.state.calls["GET /gpu/instances"] == lists + 1


def test_stop_and_start_are_idempotent(novictl_cli: Cli, make_instance: MakeInstance, emulator: Any) -> None:
    instance_id = make_instance("box")
    stopped = novictl_cli("stop", "box", "--wait", *FAST, "--json")
    assert stopped.code == 0, stopped.err
    assert list(stopped.json()) == OUTCOME_KEYS
    assert stopped.json()["status"] == "exited"
    assert "box: exited" in stopped.err
    again = novictl_cli("stop", "box")
    assert again.code == 0
    assert again.out == f"box ({instance_id}) is already exited: nothing to do\n"
    assert novictl_cli("show", "box", "--json").json()["stoppedBy"] == "user"

    started = novictl_cli("start", instance_id, "--wait", *FAST)
    assert started.code == 0
    assert started.out == f"started box ({instance_id}): running\n"
    assert novictl_cli("start", "box", "--json").json()["already"] is True
    assert novictl_cli("show", "box", "--json").json()["stoppedBy"] is None
    assert emulator.state.calls["POST /gpu/instance/delete"] == 0


def test_restart_waits_until_running(novictl_cli: Cli, make_instance: MakeInstance) -> None:
    make_instance("box")
    result = novictl_cli("restart", "box", "--wait", *FAST, "--json")
    assert result.code == 0
    assert result.json()["status"] == "running"
    assert "box: toRestart" in result.err


def test_error_paths_have_exact_messages_and_codes(
    novictl_cli: Cli, make_instance: MakeInstance, emulator: Any
) -> None:
    unknown = novictl_cli("show", "nosuch")
    assert unknown.code == 4
    assert unknown.err == (
        "error: no instance with id or name 'nosuch'\nhint: see your instances with: novictl list --refresh\n"
    )

    a, b = make_instance("twin"), make_instance("twin", status="exited")
    ambiguous = novictl_cli("stop", "twin")
    assert ambiguous.code == 2
    assert ambiguous.err.startswith("error: the name 'twin' matches 2 instances: ")
    assert f"twin ({a}, running)" in ambiguous.err
    assert f"twin ({b}, exited)" in ambiguous.err
    assert "hint: use the instance id instead" in ambiguous.err
    as_json = novictl_cli("stop", "twin", "--json")
    assert as_json.json()["error"]["code"] == "ambiguous_name"

    duplicate = novictl_cli("create", "twin", "--gpu", "3090", "--image", "u", "--allow-duplicate-name", "-q")
    assert duplicate.code == 0
    refused = novictl_cli("create", "solo", "--gpu", "3090", "--image", "u")
    assert refused.code == 0
    again = novictl_cli("create", "solo", "--gpu", "3090", "--image", "u")
    assert again.code == 5
    assert again.err.startswith("error: the name 'solo' is already used by ")
    assert "hint: pick another name, or pass --allow-duplicate-name" in again.err

    invalid = novictl_cli("restart", b)
    assert invalid.code == 5
    assert invalid.err.startswith(f"error: cannot restart twin ({b}): it is exited\n")

    bad_env = novictl_cli("create", "x", "--gpu", "3090", "--image", "u", "--env", "sk-very-secret-token")
    assert bad_env.code == 2
    assert bad_env.err.startswith(
        "error: bad --env: expected KEY=VALUE with a KEY of letters, digits and _\n"
    )
    assert "sk-very-secret" not in bad_env.err
    bad_port = novictl_cli("create", "x", "--gpu", "3090", "--image", "u", "--port", "8888/ftp")
    assert bad_port.code == 2
    assert bad_port.err.startswith(
        "error: bad --port '8888/ftp': expected PORT/TYPE such as 8888/http or 22/tcp\n"
    )
    assert emulator.state.calls["POST /gpu/instance/create"] == 2

    no_template = novictl_cli("create", "x", "--gpu", "3090", "--template", "nope")
    assert no_template.code == 4
    assert no_template.err.startswith("error: no template 'nope' on Novita\n")
    assert emulator.state.calls["POST /gpu/instance/create"] == 2


def test_novita_down_after_retries_exits_6(
    novictl_cli: Cli, emulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NOVICTL_NOVITA__MAX_ATTEMPTS", "2")
    monkeypatch.setenv("NOVICTL_NOVITA__MAX_RETRY_SECONDS", "2")
    emulator.state.script_fault("status", status=503, count=10, path="/gpu/instances")
    result = novictl_cli("list", "--refresh")
    assert result.code == 6
    assert result.err.startswith("error: ")
    assert emulator.state.calls["GET /gpu/instances"] == 2
    # Without --refresh, list falls back to the stored state with a warning.
    fallback = novictl_cli("list", "--json")
    assert fallback.code == 0
    assert fallback.json() == {"instances": [], "total": 0}
    assert "warning: showing stored state" in fallback.err


def test_delete_confirms_and_waits(novictl_cli: Cli, make_instance: MakeInstance, emulator: Any) -> None:
    instance_id = make_instance("doomed")
    refused = novictl_cli("delete", "doomed")
    assert refused.code == 2
    assert refused.err == (
        "error: refusing to delete doomed without confirmation: stdin is not a terminal\nhint: pass --yes\n"
    )
    declined = novictl_cli("rm", "doomed", tty=True, stdin="n\n")
    assert declined.code == 1
    assert f"Delete doomed ({instance_id}), running, $0.35/h?" in declined.err
    assert "cancelled: did not delete doomed" in declined.err
    assert emulator.state.calls["POST /gpu/instance/delete"] == 0

    accepted = novictl_cli("delete", "doomed", "--wait", *FAST, tty=True, stdin="y\n")
    assert accepted.code == 0, accepted.err
    assert accepted.out == f"deleted doomed ({instance_id}): terminated\n"
    # --wait returns once Novita says "removed"; a moment later the instance is gone entirely.
    left = emulator.state.instance(instance_id)
    assert left is None or left["status"] == "removed"
    assert novictl_cli("show", "doomed").code == 4


def test_stop_all_confirms_dry_runs_and_reports_failures(
    novictl_cli: Cli, make_instance: MakeInstance, emulator: Any
) -> None:
    ids = [make_instance(f"run-{n}") for n in range(3)]
    make_instance("idle", status="exited")

    refused = novictl_cli("stop-all")
    assert refused.code == 2
    assert "3 running, $1.05/h in total" in refused.out
    assert "pass --yes" in refused.err

    dry = novictl_cli("stop-all", "--dry-run", "--json")
    assert dry.code == 0
    report = dry.json()
    assert (report["count"], report["dryRun"], report["usdPerHour"]) == (3, True, 1.05)
    assert {r["instanceId"] for r in report["results"]} == set(ids)
    assert emulator.state.calls["POST /gpu/instance/stop"] == 0

    declined = novictl_cli("stop-all", tty=True, stdin="n\n")
    assert declined.code == 1
    assert "Stop all 3 running instances ($1.05/h)?" in declined.err
    assert emulator.state.calls["POST /gpu/instance/stop"] == 0

    emulator.state.script_fault("status", status=400, path="/gpu/instance/stop")
    result = novictl_cli("stop-all", "--yes", "--json", "--concurrency", "2")
    assert result.code == 1
    report = result.json()
    assert list(report) == ["count", "failed", "dryRun", "usdPerHour", "results"]
    assert (report["count"], report["failed"]) == (2, 1)  # stopped, and could not be
    failed = [r for r in report["results"] if not r["success"]]
    assert failed[0]["error"]["code"] == "novita_bad_request"
    stopped = [r["instanceId"] for r in report["results"] if r["success"]]
    assert len(stopped) == 2
    assert all(emulator.state.instance(i)["status"] != "running" for i in stopped)
    assert novictl_cli("show", stopped[0], "--json").json()["stoppedBy"] == "stop-all"
    assert set(ids) == {r["instanceId"] for r in report["results"]}

    table = novictl_cli("stop-all", "--yes")
    assert table.code == 0
    assert "stopping" in table.out


def test_installed_entry_point(emulator: Any, make_instance: MakeInstance, tmp_path: Path) -> None:
    make_instance("sub")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("NOVICTL_")},
        "HOME": str(tmp_path),
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "NOVITA_API_KEY": emulator.api_key,
        "NOVITA_API_BASE_URL": emulator.base_url,
    }
    novictl = str(Path(sys.executable).parent / "novictl")
    missing = subprocess.run([novictl, "show", "nosuch"], env=env, capture_output=True, text=True)
    assert missing.returncode == 4
    assert "no instance with id or name 'nosuch'" in missing.stderr
    stop = subprocess.run([novictl, "stop", "sub", "--json"], env=env, capture_output=True, text=True)
    assert stop.returncode == 0, stop.stderr
    assert '"action": "stop"' in stop.stdout
