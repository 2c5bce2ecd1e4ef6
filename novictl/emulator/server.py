"""Serve an emulator with uvicorn in a daemon thread: for tests, benchmarks and the demo."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from types import TracebackType

from novictl.emulator.config import EmulatorConfig
from novictl.emulator.gateway import BASE_PATH
from novictl.emulator.state import EmulatorState

__all__ = ["EmulatorServer"]

_START_TIMEOUT = 10.0
_STOP_TIMEOUT = 5.0


class EmulatorServer:
    """An emulator on ``host:port`` (``port=0`` picks a free one), usable as a context manager.

    ``url`` is ``http://host:port``; ``base_url`` adds the Novita API prefix; ``state`` is the live
    :class:`EmulatorState` (reset it, script faults, read counters).
    """

    def __init__(
        self,
        config: EmulatorConfig | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Callable[[], float] | None = None,
    ):
        from novictl.emulator.app import create_app

        self.config = config or EmulatorConfig()
        self.app = create_app(self.config, clock=clock)
        self.state: EmulatorState = self.app.state.emulator
        # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY on accepted sockets only then (else 40 ms stalls).
        self._socket = socket.socket(
            socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP
        )
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind((host, port))
        self.host = host
        self.port: int = self._socket.getsockname()[1]
        self._thread: threading.Thread | None = None
        self._server: object | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def base_url(self) -> str:
        return self.url + BASE_PATH

    @property
    def api_key(self) -> str:
        return self.state.api_key

    def start(self) -> EmulatorServer:
        """Serve in a daemon thread; returns once the server accepts connections."""
        import uvicorn

        if self._thread is not None:
            return self
        config = uvicorn.Config(
            self.app,
            log_level="warning",
            lifespan="off",
            access_log=False,
            timeout_graceful_shutdown=1,
        )
        server = uvicorn.Server(config)
        self._server = server
        self._thread = threading.Thread(
            target=server.run, kwargs={"sockets": [self._socket]}, name=f"emulator:{self.port}", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + _START_TIMEOUT
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the emulator did not start on {self.url}")
            time.sleep(0.005)
        return self

    def stop(self) -> None:
        """Stop serving (hanging "slow" requests are cut off) and wait for the thread to end."""
        import uvicorn

        server, thread = self._server, self._thread
        if isinstance(server, uvicorn.Server) and thread is not None:
            server.should_exit = True
            server.force_exit = True  # do not wait for hanging requests or idle keep-alive clients
            thread.join(_STOP_TIMEOUT)
        self._server = self._thread = None
        self._socket.close()

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
