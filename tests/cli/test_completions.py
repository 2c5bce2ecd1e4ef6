"""The committed completion scripts are current, and the bash one completes commands and instance names."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from novictl.cli.completion import FILENAMES, generate

ROOT = Path(__file__).resolve().parents[2]
STALE = "completions/{} is stale: regenerate with `novictl completion write completions`"


@pytest.mark.parametrize("shell", sorted(FILENAMES))
def test_committed_scripts_are_current(shell: str) -> None:
    committed = (ROOT / "completions" / FILENAMES[shell]).read_text(encoding="utf-8")
    assert committed == generate(shell), STALE.format(FILENAMES[shell])


def test_script_command_prints_the_same(novictl_cli: Any) -> None:
    result = novictl_cli("completion", "script", "zsh")
    assert result.code == 0
    assert result.out == generate("zsh")
    assert novictl_cli("completion", "script", "tcsh").code == 2


def test_write_creates_all_three(novictl_cli: Any, tmp_path: Path) -> None:
    result = novictl_cli("completion", "write", str(tmp_path / "out"))
    assert result.code == 0
    for shell, filename in FILENAMES.items():
        assert (tmp_path / "out" / filename).read_text(encoding="utf-8") == generate(shell)


def _bash_complete(words: list[str], env: dict[str, str]) -> list[str]:
    script = ROOT / "completions" / "novictl.bash"
    quoted = " ".join(f"'{w}'" for w in words)
    program = (
        f"source '{script}'\n"
        f"COMP_WORDS=({quoted}); COMP_CWORD={len(words) - 1}\n"
        "_novictl_completion\n"
        'printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    done = subprocess.run(["bash", "-c", program], env=env, capture_output=True, text=True, check=True)
    return done.stdout.split()


def test_bash_completes_commands_options_and_instance_names(
    novictl_cli: Any, make_instance: Any, tmp_path: Path
) -> None:
    make_instance("trainer")
    make_instance("tuner", status="exited")
    assert novictl_cli("list", "--refresh", "-q").code == 0
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    assert _bash_complete(["novictl", "sto"], env) == ["stop", "stop-all"]
    assert _bash_complete(["novictl", "create", "x", "--al"], env) == ["--allow-duplicate-name"]
    assert _bash_complete(["novictl", "completion", "script", ""], env)[:3] == ["bash", "fish", "zsh"]
    # Instance names come from the store through `novictl completion names`.
    assert _bash_complete(["novictl", "stop", "t"], env) == ["trainer", "tuner"]
    assert _bash_complete(["novictl", "stop", "--wait", "tr"], env) == ["trainer"]
    assert _bash_complete(["novictl", "list", "t"], env) == []


def test_names_reads_the_store_only(novictl_cli: Any, make_instance: Any, emulator: Any) -> None:
    make_instance("alpha")
    novictl_cli("list", "--refresh", "-q")
    calls = sum(emulator.state.calls.values())
    result = novictl_cli("completion", "names")
    assert result.out == "alpha\n"
    assert sum(emulator.state.calls.values()) == calls
