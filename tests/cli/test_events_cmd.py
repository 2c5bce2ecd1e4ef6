"""``novictl events``: the JSON schema, filters, the story table, --follow ended by Ctrl-C; and the CLI
delivering the webhooks it caused when no daemon runs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from novictl.clock import utcnow
from novictl.core.webhooks import verify_signature
from tests.fixtures.lifecycle import CliRunner
from tests.fixtures.webhook_receiver import WebhookReceiver

EVENT_KEYS = {"id", "type", "occurredAt", "instanceId", "actor", "instance", "data"}


def test_events_json_schema_and_filters(novictl_cli: CliRunner, make_instance: Callable[..., str]) -> None:
    instance_id = make_instance("t1", status="running")
    make_instance("t2", status="running")
    assert novictl_cli("stop", "t1").code == 0
    assert novictl_cli("stop", "t2").code == 0

    result = novictl_cli("events", "--json")
    assert result.code == 0, result.err
    document = result.json()
    assert set(document) == {"events", "total"}
    assert document["total"] == len(document["events"]) >= 2
    for event in document["events"]:
        assert set(event) == EVENT_KEYS
        assert event["type"].startswith("instance.")
    stamps = [e["occurredAt"] for e in document["events"]]
    assert stamps == sorted(stamps, reverse=True)  # newest first

    mine = novictl_cli("events", "--instance", "t1", "--type", "stopped", "--since", "1h", "--json").json()
    (stop,) = mine["events"]
    assert stop["instanceId"] == instance_id
    assert stop["actor"] == "user"
    assert stop["data"]["stoppedBy"] == "user"
    assert stop["instance"]["name"] == "t1"
    assert novictl_cli("events", "--type", "instance.deleted", "--json").json() == {"events": [], "total": 0}
    assert len(novictl_cli("events", "--limit", "1", "--json").json()["events"]) == 1


def test_events_table_tells_the_story(novictl_cli: CliRunner, make_instance: Callable[..., str]) -> None:
    make_instance("storied", status="running")
    novictl_cli("stop", "storied")
    result = novictl_cli("events", "-i", "storied")
    assert result.code == 0
    lines = [line for line in result.out.splitlines() if "storied" in line]
    assert lines
    assert "stopped" in lines[-1]
    assert "by user" in lines[-1]


def test_a_bad_since_is_a_usage_error(novictl_cli: CliRunner) -> None:
    result = novictl_cli("events", "--since", "yesterday-ish")
    assert result.code == 2
    assert "--since" in result.err


def test_the_cli_delivers_what_it_caused_when_no_daemon_runs(
    novictl_cli: CliRunner,
    make_instance: Callable[..., str],
    webhook_receiver: WebhookReceiver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("WEBHOOK_URL", webhook_receiver.url)
    monkeypatch.setenv("WEBHOOK_SECRET", "s3cret")
    instance_id = make_instance("hooked", status="running")
    assert novictl_cli("stop", "hooked").code == 0
    (request,) = webhook_receiver.requests
    assert request.json()["type"] == "instance.stopped"
    assert request.json()["instance"]["id"] == instance_id
    assert verify_signature("s3cret", request.headers["x-novictl-signature"], request.body, now=time.time())
    status = novictl_cli("webhooks", "status", "--json").json()
    assert status["delivered"] == 1
    assert status["pending"] == 0
    assert status["lastError"] is None


def test_a_failing_receiver_leaves_the_delivery_queued(
    novictl_cli: CliRunner,
    make_instance: Callable[..., str],
    webhook_receiver: WebhookReceiver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("WEBHOOK_URL", webhook_receiver.url)
    webhook_receiver.script(*[503] * 5)
    make_instance("flaky", status="running")
    result = novictl_cli("stop", "flaky")
    assert result.code == 0  # the stop itself succeeded
    assert "to retry later" in result.err
    assert len(webhook_receiver.requests) == 3  # the first attempt and two short retries
    status = novictl_cli("webhooks", "status", "--json").json()
    assert status["pending"] == 1
    assert status["lastError"].startswith("HTTP 503")
    (recent,) = status["recent"]
    assert [a["statusCode"] for a in recent["attempts"]] == [503, 503, 503]
    table = novictl_cli("webhooks", "status")
    assert "pending 1" in table.out
    assert "HTTP 503" in table.out


def test_follow_prints_new_events_and_ctrl_c_exits_0(tmp_path: Path) -> None:
    """A real process: --follow polls the store, and SIGINT (Ctrl-C) ends it cleanly."""
    import asyncio

    from novictl.core import events
    from novictl.store import StoreOptions, open_store
    from tests.fixtures.store import sample_record

    db = tmp_path / "state.db"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NOVICTL_", "NOVITA_", "WEBHOOK_"))}
    env.update({"HOME": str(tmp_path), "NOVICTL_STORE__URL": f"sqlite:///{db}"})

    async def add_event(kind: str) -> str:
        store = await open_store(StoreOptions(sqlite_path=db))
        try:
            record = sample_record("f1", utcnow() - timedelta(hours=1))
            event = events.instance_event(kind, record, actor="user", now=utcnow(), stoppedBy="user")
            await events.record_events(store, [event])
            return event.id
        finally:
            await store.close()

    first = asyncio.run(add_event(events.PINNED))
    process = subprocess.Popen(
        [sys.executable, "-m", "novictl", "events", "--follow", "--json", "--poll-seconds", "0.05"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        line: Any = json.loads(process.stdout.readline())
        assert line["id"] == first
        second = asyncio.run(add_event(events.STOPPED))
        line = json.loads(process.stdout.readline())
        assert line["id"] == second
        assert set(line) == EVENT_KEYS
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_an_unknown_type_is_a_usage_error(cli) -> None:
    done = cli("events", "--type", "bogus")
    assert done.code == 2
    assert "no event type 'bogus'" in done.err
    assert "stopped" in done.err  # the hint lists the real ones
