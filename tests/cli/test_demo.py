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
    for heading in (
        "1. Products and prices",
        "2. Sync adopts",
        "3. Create an instance",
        "4. List",
        "5. Auto-stop keeps",
        "6. A job pings the daemon",
        "7. Stop it",
    ):
        assert heading in out
    assert "adopted 3" in out
    assert "running: trainer" in out
    assert "used 3m ago" in out  # the pinged instance is kept …
    assert "auto-stop: 2 stopped, 2 kept" in out  # … the idle ones stopped, the new one in its grace
    assert "PUT /api/instances/trainer/last-used → 200" in out
    assert "the ping is in the store: trainer" in out
    assert "stopped: trainer" in out
    assert "demo finished" in out
