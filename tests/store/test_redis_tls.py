"""``rediss://``: a managed Redis usually speaks TLS only. The store hands the URL, with its ``ssl_*`` query
options (``ssl_ca_certs=/path/ca.pem``), to redis-py; a certificate it cannot verify is a clear error."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from novictl.errors import StoreError
from novictl.store import StoreOptions, open_store
from tests.fixtures.redis_server import free_port
from tests.fixtures.store import sample_record

pytestmark = pytest.mark.redis


@pytest.fixture
def tls_redis(tmp_path: Path) -> Iterator[tuple[int, Path, str]]:
    """A redis-server on a TLS-only port with a self-signed certificate and a password."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.fail("openssl not found: apt-get install -y openssl")
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server not found: apt-get install -y redis-server")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
         "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    port, password = free_port(), f"tls-{uuid.uuid4().hex}"
    process = subprocess.Popen(
        [binary, "--port", "0", "--tls-port", str(port), "--bind", "127.0.0.1", "--tls-cert-file", str(cert),
         "--tls-key-file", str(key), "--tls-ca-cert-file", str(cert), "--tls-auth-clients", "no",
         "--requirepass", password, "--save", "", "--appendonly", "no", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    pytest.fail("redis-server would not listen on a TLS port (is it built with TLS?)")
                time.sleep(0.02)
        yield port, cert, password
    finally:
        process.terminate()
        process.wait(timeout=5)


async def test_a_tls_redis_works_with_its_ca_and_is_refused_clearly_without(tls_redis) -> None:
    port, cert, password = tls_redis
    url = f"rediss://:{password}@127.0.0.1:{port}/0"
    now = datetime.now(UTC)

    store = await open_store(StoreOptions(url=f"{url}?ssl_ca_certs={cert}", key_prefix="tls:"))
    try:
        await store.put_many([sample_record("t1", now)])
        assert (await store.get("t1")) is not None
        async with store.lock("sync", 5):  # the Lua scripts run over TLS too
            pass
    finally:
        await store.close()

    with pytest.raises(StoreError) as refused:  # open_store connects (and pings) before it returns
        await open_store(StoreOptions(url=url, key_prefix="tls:"))
    assert "certificate verify failed" in refused.value.message
    assert password not in f"{refused.value.message} {refused.value.hint}"
