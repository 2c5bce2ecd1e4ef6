"""The layers hold: the core, the store and the Novita client import no face (CLI, HTTP, scheduler), and
the store and the client import nothing from the core. Read from the source (AST), every module."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "novictl"
FACES = ("typer", "rich", "fastapi", "starlette", "uvicorn", "apscheduler")


def imports_of(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def modules(layer: str) -> list[Path]:
    return sorted((PACKAGE / layer).rglob("*.py"))


@pytest.mark.parametrize("layer", ["core", "store", "novita"])
def test_no_face_is_imported_below_the_faces(layer: str) -> None:
    offenders = {
        f"{path.relative_to(PACKAGE)}: {name}"
        for path in modules(layer)
        for name in imports_of(path)
        if name.split(".")[0] in FACES
    }
    assert not offenders


@pytest.mark.parametrize("layer", ["store", "novita"])
def test_the_store_and_the_client_do_not_import_the_core(layer: str) -> None:
    offenders = {
        f"{path.relative_to(PACKAGE)}: {name}"
        for path in modules(layer)
        for name in imports_of(path)
        if name == "novictl.core" or name.startswith("novictl.core.")
    }
    assert not offenders


def test_the_check_sees_imports() -> None:
    # Guard against a test that passes because it reads nothing.
    assert "novictl.clock" in imports_of(PACKAGE / "store" / "common.py")
    assert len(modules("core")) > 10
