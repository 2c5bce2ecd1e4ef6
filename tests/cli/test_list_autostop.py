"""`list` and `show` carry auto-stop's own outlook: last used (and by what), idle for, ETA / pinned / off."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any


def _by_name(listing: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["name"]: row for row in listing["instances"]}


def test_list_shows_last_used_idle_and_the_autostop_outlook(novictl_cli: Any, make_instance: Any) -> None:
    make_instance("used")
    make_instance("pinned")
    make_instance("opted-out")
    make_instance("parked", status="exited")
    assert novictl_cli("touch", "used", "--source", "jupyter").code == 0
    assert novictl_cli("autostop", "pin", "pinned", "--for", "2h").code == 0
    assert novictl_cli("autostop", "set", "opted-out", "--off").code == 0

    rows = _by_name(novictl_cli("list", "--json").json())

    used = rows["used"]
    assert used["lastUsedSource"] == "jupyter"
    assert 0 <= used["idleSeconds"] < 30
    assert used["idleSeconds"] == used["autoStop"]["idleSeconds"]  # whole seconds in both places
    assert isinstance(used["autoStop"]["idleSeconds"], int)
    assert used["autoStop"]["label"] in ("in 20m", "in 19m")  # pinged just now: the 20 min threshold
    assert datetime.fromisoformat(used["autoStop"]["eta"]) > datetime.now(UTC) + timedelta(minutes=19)
    assert rows["pinned"]["autoStop"]["label"].startswith("pinned until")
    # The idle clock waits for the pin's end: 0, not minus the time left on the pin.
    assert (rows["pinned"]["idleSeconds"], rows["pinned"]["autoStop"]["idleSeconds"]) == (0, 0)
    assert rows["opted-out"]["autoStop"]["label"] == "off"
    assert rows["parked"]["autoStop"]["label"] == "not running"
    assert rows["parked"]["idleSeconds"] is None

    table = novictl_cli("list").out
    line = next(row for row in table.splitlines() if row.startswith("used "))
    assert "(jupyter)" in line
    assert "in 20m" in line or "in 19m" in line
    assert "pinned until" in table


def test_show_names_the_autostop_outlook(novictl_cli: Any, make_instance: Any) -> None:
    make_instance("box")
    assert novictl_cli("autostop", "set", "box", "--idle", "2h").code == 0

    detail = novictl_cli("show", "box", "--json").json()
    shown = novictl_cli("show", "box").out

    assert detail["autoStop"]["thresholdSeconds"] >= 7200
    assert "auto-stop" in shown
    assert "policy: 120m idle" in shown
