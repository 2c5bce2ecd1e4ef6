"""config.example.toml: every key, commented, with its env vars; uncommented, it is exactly the defaults."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from novictl.config import (
    Settings,
    env_names,
    load_settings,
    render_example_config,
    render_settings_table,
    setting_keys,
)

REPO_EXAMPLE = Path(__file__).resolve().parents[2] / "config.example.toml"
ASSIGNMENT = re.compile(r"^# ([a-z_]+) = (.*)$")


def uncomment_all(text: str) -> str:
    return "\n".join(re.sub(r"^# ([a-z_]+ = )", r"\1", line) for line in text.splitlines())


def test_repo_file_is_the_generated_example() -> None:
    # config init writes render_example_config(); the repo copy must not drift from it.
    assert REPO_EXAMPLE.read_text(encoding="utf-8") == render_example_config(), (
        "regenerate: .venv/bin/python -c 'from novictl.config import render_example_config as r; "
        'open("config.example.toml", "w").write(r())\''
    )


def test_every_key_is_listed_once_under_its_section_with_a_comment_naming_its_env_vars() -> None:
    lines = render_example_config().splitlines()
    section = ""
    seen: list[str] = []
    for number, line in enumerate(lines):
        if header := re.fullmatch(r"\[([a-z]+)\]", line):
            section = header.group(1)
        elif match := ASSIGNMENT.match(line):
            key = f"{section}.{match.group(1)}"
            seen.append(key)
            comment = lines[number - 1]
            assert comment.startswith("# ")
            assert not ASSIGNMENT.match(comment)
            for name in env_names(key):
                assert name in comment, (key, name)
    assert seen == setting_keys()


def test_as_written_it_sets_nothing() -> None:
    assert tomllib.loads(render_example_config()) == {section: {} for section in Settings.model_fields}


def test_uncommented_it_loads_to_exactly_the_defaults(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(uncomment_all(render_example_config()), encoding="utf-8")
    loaded = load_settings(config_path=path, env={})
    assert loaded.settings == Settings()
    assert set(loaded.sources.values()) == {f"file:{path}"}


def test_readme_settings_table_is_current() -> None:
    readme = (REPO_EXAMPLE.parent / "README.md").read_text(encoding="utf-8")
    assert render_settings_table() in readme, "regenerate: .venv/bin/python scripts/regen"
    for key in setting_keys():
        assert f"| `{key}` |" in readme
