"""The CLI's shape: light to start, every command documented in its help and in the README."""

from __future__ import annotations

import inspect
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer

from novictl.cli.app import app, main

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("fastapi", "uvicorn", "redis", "apscheduler", "starlette", "novictl.emulator", "novictl.store.redis")


def _commands() -> list[tuple[str, Any]]:
    found: list[tuple[str, Any]] = []

    def walk(prefix: str, group: Any) -> None:
        for name, command in group.commands.items():
            path = f"{prefix} {name}".strip()
            found.append((path, command))
            if hasattr(command, "commands"):
                walk(path, command)

    walk("", typer.main.get_command(app))
    return found


def test_help_does_not_import_heavy_modules() -> None:
    code = (
        "import sys\n"
        "from novictl.cli.app import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        f"print('HEAVY=' + ','.join(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "Usage" in done.stdout
    assert done.stdout.strip().splitlines()[-1] == "HEAVY="


def test_python_dash_m_runs_the_cli() -> None:
    done = subprocess.run([sys.executable, "-m", "novictl", "--version"], capture_output=True, text=True)
    assert done.returncode == 0
    assert done.stdout.startswith("novictl ")


def test_every_command_has_help_text() -> None:
    missing = [path for path, command in _commands() if not (command.help or "").strip()]
    assert not missing, f"commands without help text: {missing}"


def test_every_command_appears_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text()
    missing = [path for path, _ in _commands() if f"novictl {path}" not in readme]
    assert not missing, f"commands not mentioned in README.md: {missing}"


def test_unknown_command_is_a_usage_error() -> None:
    done = subprocess.run([sys.executable, "-m", "novictl", "no-such-verb"], capture_output=True, text=True)
    assert done.returncode == 2
    assert "No such command" in done.stderr


def test_a_command_exiting_with_a_code_keeps_it() -> None:
    @app.command("exit-probe", hidden=True)
    def probe() -> None:
        """Exit 7 (test only)."""
        raise typer.Exit(7)

    try:
        with pytest.raises(SystemExit) as exited:
            main(["exit-probe"])
        assert exited.value.code == 7
    finally:
        app.registered_commands = [c for c in app.registered_commands if c.name != "exit-probe"]


def test_command_signatures_need_no_string_evaluation() -> None:
    # Typer reads every command's signature on every start; string annotations (postponed evaluation,
    # `from __future__ import annotations`) cost a compile and an eval each, which tripled the time
    # `novictl --help` spends building its commands. Command modules keep their annotations evaluated.
    stringly: list[str] = []
    for path, command in _commands():
        callback = command.callback
        if callback is None:
            continue
        for name, annotation in inspect.get_annotations(callback).items():
            if isinstance(annotation, str):
                stringly.append(f"{path}: {name}")
    assert not stringly, f"command parameters annotated as strings: {stringly}"


def test_the_root_help_page_is_the_full_apps(capsys: pytest.CaptureFixture[str]) -> None:
    # `novictl --help` is built from name-and-help stubs (cheaper); it must print exactly what the full
    # app prints, however commands change.
    from novictl.cli.app import _summary_app

    pages = []
    for built in (typer.main.get_command(app), typer.main.get_command(_summary_app())):
        with pytest.raises(SystemExit):
            built.main(["--help"], prog_name="novictl")
        pages.append(capsys.readouterr().out)
    assert "Commands:" in pages[0]
    assert pages[1] == pages[0]
    with pytest.raises(SystemExit) as exited:
        main(["--help"])
    assert exited.value.code == 0
    assert capsys.readouterr().out == pages[0]


def test_a_reader_that_goes_away_ends_the_command_quietly_with_141() -> None:
    # `novictl … | head -1`: click would exit 1, which `autostop check --fail-on-idle` uses for "would stop".
    process = subprocess.Popen(
        [sys.executable, "-m", "novictl", "completion", "script", "bash"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None
    process.stdout.close()  # the reader is gone before the first write
    _, err = process.communicate(timeout=30)
    assert process.returncode == 141
    assert err == b""


def test_names_and_ids_stay_whole_on_a_narrow_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    from rich.console import Console

    from novictl.cli import output
    from novictl.cli.context import App

    buffer = io.StringIO()
    monkeypatch.setattr(output, "console", lambda app: Console(file=buffer, width=60, color_system=None))
    reason = "idle 2d21h >= 1h05m, never pinged since it was started by someone"
    row = ("inference-server-00017", "51ef1922fe43c49e", "running", reason, "$12.34")
    output.print_table(App(), ["name", "id", "status", "reason", "$/h"], [row])
    text = buffer.getvalue()
    for whole in ("inference-server-00017", "51ef1922fe43c49e", "$12.34"):
        assert whole in text, text
    assert max(len(line) for line in text.splitlines()) <= 60


def test_no_color_means_no_escape_codes_at_all(monkeypatch: pytest.MonkeyPatch) -> None:
    from novictl.cli import output
    from novictl.cli.context import App

    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    assert output.console(App(no_color=True)).color_system is None
    monkeypatch.setenv("NO_COLOR", "1")
    assert output.console(App()).color_system is None


def test_a_bad_choice_is_worded_for_people(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["completion", "script", "powershell"])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "'powershell' is not one of 'bash', 'zsh', 'fish'" in err
    assert "Value error" not in err
