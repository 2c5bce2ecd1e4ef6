"""`novictl demo` runs the tour end to end on embedded defaults, whatever the user's environment says."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def test_demo_walks_through_every_step_and_exits_0(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / ".config" / "novictl").mkdir(parents=True)
    # A broken user config and a bogus key must not leak into the demo: it runs on embedded defaults.
    (home / ".config" / "novictl" / "config.toml").write_text("[autostop\n")
    env = {
        **os.environ,
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "NOVITA_API_KEY": "not-the-emulators-key",
        "REDIS_URL": "redis://127.0.0.1:1/0",
        "NOVICTL_OUTPUT": "json",  # the tour shows tables whatever the caller's scripts prefer
    }
    done = subprocess.run(
        [sys.executable, "-m", "novictl", "demo", "--step-delay", "20ms"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    headings = [
        "1. Products and prices", "$ novictl products",
        "2. Sync adopts", "$ novictl sync",
        "3. Create an instance", "$ novictl create trainer --gpu 'RTX 4090'",
        "4. List", "$ novictl list",
        "5. Everything about one instance", "$ novictl show trainer",
        "6. A notebook on", "$ novictl touch ",
        "7. What auto-stop would do", "$ novictl autostop check",
        "8. Auto-stop warns before", "$ novictl autostop run --yes",
        "9. Auto-stop keeps", "$ novictl autostop run --yes",
        "10. A job pings the daemon",
        "11. Stop it", "$ novictl stop trainer --wait",
        "12. Start it again", "$ novictl start trainer --wait",
        "13. Restart it", "$ novictl restart trainer --wait",
        "14. Stop everything", "$ novictl stop-all --yes",
        "15. Delete it", "$ novictl delete trainer --yes --wait",
        "16. What auto-stop has done", "$ novictl autostop stats",
    ]  # fmt: skip
    position = 0
    for heading in headings:  # every step, in order
        position = out.index(heading, position)
    # The real commands' own output: the product table, sync's counts, create's summary, list's columns.
    assert "yes (low)" in out
    assert "adopted                   3" in out
    assert "created trainer (" in out
    assert "trainer: running (" in done.stderr  # --wait progress goes to stderr, as it does in a shell
    assert "idle for" in out
    assert "8x RTX 4090" in out
    assert "ping from notebook 3m ago" in out  # the pinged instance is kept …
    assert out.count("warning first, stops at") == 4  # … the idle ones warned first (by check and run) …
    assert "auto-stop: 2 stopped, 2 kept" in out  # … the idle ones stopped, the new one in its grace
    assert "PUT /api/instances/trainer/last-used → 200" in out
    assert "the ping is in the store: trainer" in out
    assert "stopped trainer (" in out
    assert "started trainer (" in out
    assert "restarted trainer (" in out
    assert "deleted trainer (" in out
    assert "auto-stop (dry run): 0 would stop, 4 kept" in out  # the check warns of nothing, stops nothing
    assert "stops so far" in out
    assert "demo finished" in out
