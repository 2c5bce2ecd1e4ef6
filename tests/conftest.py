"""Shared test setup. Fixture modules live in tests/fixtures/ and are loaded as plugins automatically."""

from pathlib import Path

pytest_plugins = sorted(
    f"tests.fixtures.{path.stem}"
    for path in (Path(__file__).parent / "fixtures").glob("*.py")
    if path.stem != "__init__"
)
