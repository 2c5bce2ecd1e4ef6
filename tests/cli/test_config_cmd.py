"""`novictl config show|path|init`, run in-process through the real CLI entry point (its one error edge)."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from novictl.cli.app import main
from novictl.config import Settings, load_settings, render_example_config, setting_keys

API_KEY = "sk_live_0123456789abcdefSECRET"


@pytest.fixture(autouse=True)
def _isolated(isolated_home: Path) -> Path:
    """Every test here runs in an isolated home (the shared fixture in tests/fixtures/cli.py)."""
    return isolated_home


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
    captured = capsys.readouterr()
    code = exit_info.value.code
    return (code if isinstance(code, int) else 1), captured.out, captured.err


def default_file(home: Path) -> Path:
    return home / ".config" / "novictl" / "config.toml"


def test_show_masks_the_api_key_in_text_and_json(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NOVITA_API_KEY", API_KEY)
    monkeypatch.setenv("REDIS_URL", "redis://:hunter2@db:6379/0")
    code, out, _ = run(capsys, "config", "show")
    assert code == 0
    assert API_KEY not in out
    assert "hunter2" not in out
    assert "= ****" in out
    assert "env:NOVITA_API_KEY" in out
    assert "redis://:****@db:6379/0" in out

    code, out, _ = run(capsys, "config", "show", "--json")
    assert code == 0
    assert API_KEY not in out
    data = json.loads(out)
    views = {item["key"]: item for item in data["settings"]}
    assert list(views) == setting_keys()
    assert views["novita.api_key"] == {
        "key": "novita.api_key",
        "value": "****",
        "source": "env:NOVITA_API_KEY",
        "env": ["NOVICTL_NOVITA__API_KEY", "NOVITA_API_KEY"],
    }
    assert views["autostop.idle_minutes"]["value"] == 20
    assert views["autostop.idle_minutes"]["source"] == "default"
    assert data["configPath"] is None


def test_show_reports_the_file_and_flag_sources(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "given.toml"
    path.write_text('[novita]\napi_key = "short"\n[daemon]\nport = 9100\n', encoding="utf-8")
    code, out, _ = run(capsys, "--config", str(path), "config", "show", "--json")
    assert code == 0
    data = json.loads(out)
    views = {item["key"]: item for item in data["settings"]}
    assert data["configPath"] == str(path)
    assert views["daemon.port"] == {**views["daemon.port"], "value": 9100, "source": f"file:{path}"}
    assert views["novita.api_key"]["value"] == "****"  # too short to show any of it
    assert '"short"' not in out

    monkeypatch.setenv("NOVICTL_CONFIG", str(path))
    code, out, _ = run(capsys, "--json", "config", "show")
    assert code == 0
    assert json.loads(out)["configPath"] == str(path)


def test_malformed_toml_exits_3_naming_the_line(
    capsys: pytest.CaptureFixture[str], isolated_home: Path
) -> None:
    path = default_file(isolated_home)
    path.parent.mkdir(parents=True)
    path.write_text("[autostop]\nidle_minutes = 20\nenabled = \n", encoding="utf-8")
    code, out, err = run(capsys, "config", "show")
    assert code == 3
    assert str(path) in err
    assert "line 3" in err
    assert "Traceback" not in err + out


def test_bad_value_in_file_exits_3_naming_key_and_source(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('[autostop]\nidle_minutes = "abc"\n', encoding="utf-8")
    code, _, err = run(capsys, "--config", str(path), "config", "show")
    assert code == 3
    assert f'autostop.idle_minutes = "abc" (from file:{path}): must be a number' in err


def test_bad_value_in_env_exits_3_naming_key_and_source(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SYNC_ENABLE_AUTOMATIC_SYNC", "sometimes")
    code, out, err = run(capsys, "config", "show", "--json")
    assert code == 3
    error = json.loads(out)["error"]
    assert error["code"] == "config"
    assert "sync.enable_automatic_sync" in error["message"]
    assert "env:SYNC_ENABLE_AUTOMATIC_SYNC" in error["message"]
    assert err == ""


def test_unknown_key_in_file_exits_3(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "typo.toml"
    path.write_text("[daemon]\nprot = 1\n", encoding="utf-8")
    code, _, err = run(capsys, "--config", str(path), "config", "show")
    assert code == 3
    assert "daemon.prot" in err
    assert "daemon.port" in err  # the suggestion


def test_missing_explicit_file_exits_3(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(capsys, "--config", str(tmp_path / "absent.toml"), "config", "show")
    assert code == 3
    assert "absent.toml" in err


def test_path_prints_the_file_to_read(
    capsys: pytest.CaptureFixture[str], isolated_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, err = run(capsys, "config", "path")
    assert (code, out) == (0, f"{default_file(isolated_home)}\n")
    assert "does not exist" in err

    code, out, _ = run(capsys, "config", "path", "--json")
    assert json.loads(out) == {"path": str(default_file(isolated_home)), "exists": False, "explicit": False}

    named = tmp_path / "named.toml"
    named.write_text("", encoding="utf-8")
    monkeypatch.setenv("NOVICTL_CONFIG", str(named))
    code, out, _ = run(capsys, "config", "path", "--json")
    assert json.loads(out) == {"path": str(named), "exists": True, "explicit": True}
    code, out, _ = run(capsys, "--config", str(tmp_path / "flag.toml"), "config", "path")
    assert out == f"{tmp_path / 'flag.toml'}\n"


def test_init_writes_the_example_and_refuses_to_overwrite(
    capsys: pytest.CaptureFixture[str], isolated_home: Path
) -> None:
    target = default_file(isolated_home)
    code, out, _ = run(capsys, "config", "init")
    assert code == 0
    assert str(target) in out
    assert target.read_text(encoding="utf-8") == render_example_config()
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert load_settings(config_path=target, env={}).settings == Settings()

    target.write_text("# mine\n", encoding="utf-8")
    code, _, err = run(capsys, "config", "init")
    assert code == 5
    assert "--force" in err
    assert target.read_text(encoding="utf-8") == "# mine\n"

    code, out, _ = run(capsys, "config", "init", "--force", "--json")
    assert code == 0
    assert json.loads(out) == {"path": str(target), "overwritten": True}
    assert target.read_text(encoding="utf-8") == render_example_config()


def test_init_with_path_creates_directories(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    target = tmp_path / "deep" / "er" / "novictl.toml"
    code, _, _ = run(capsys, "config", "init", "--path", str(target))
    assert code == 0
    assert target.read_text(encoding="utf-8") == render_example_config()
    assert list(target.parent.iterdir()) == [target]  # no temp file left behind


def test_init_works_even_when_the_current_config_is_broken(
    capsys: pytest.CaptureFixture[str], isolated_home: Path
) -> None:
    target = default_file(isolated_home)
    target.parent.mkdir(parents=True)
    target.write_text("this is = = not toml", encoding="utf-8")
    code, _, _ = run(capsys, "config", "init", "--force")
    assert code == 0
    assert target.read_text(encoding="utf-8") == render_example_config()
