"""The Redis fixtures fail loudly, with the install hint, when redis-server is missing — never skip."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fixtures.redis_server import start_redis_server


def test_missing_redis_server_fails_with_the_install_hint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # nothing on PATH
    with pytest.raises(pytest.fail.Exception, match="apt-get install -y redis-server"):
        start_redis_server(tmp_path / "redis")
