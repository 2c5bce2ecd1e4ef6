"""The application object every command receives: global flags, settings (loaded once, lazily), output."""

import os
import sys
from collections.abc import AsyncIterator, Coroutine, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

if TYPE_CHECKING:
    from novictl.config import LoadedSettings, Settings
    from novictl.novita.client import NovitaClient
    from novictl.store.base import StateStore

__all__ = ["App", "JsonFlag", "get_app", "run_async"]

T = TypeVar("T")


@dataclass
class App:
    """What a command needs beyond its own arguments. Built by the root callback, one per invocation."""

    config_path: Path | None = None
    json_output: bool = False
    no_color: bool = False
    verbose: int = 0
    debug: bool = False
    overrides: dict[str, Any] = field(default_factory=dict)
    # The environment settings are read from; None means os.environ (the demo passes its own).
    env: Mapping[str, str] | None = None
    _loaded: "LoadedSettings | None" = None

    def wants_json(self, flag: bool = False) -> bool:
        """JSON when a command's ``--json``, the global one or ``NOVICTL_OUTPUT=json`` asks for it."""
        env = os.environ if self.env is None else self.env
        return flag or self.json_output or env.get("NOVICTL_OUTPUT", "").lower() == "json"

    @property
    def color(self) -> bool:
        return not self.no_color and "NO_COLOR" not in os.environ and sys.stdout.isatty()

    def loaded(self, **extra_overrides: Any) -> "LoadedSettings":
        """Settings with their sources. Flags a command passes here win over everything else."""
        from novictl.config import load_settings

        if self._loaded is None or extra_overrides:
            loaded = load_settings(
                config_path=self.config_path, env=self.env, overrides={**self.overrides, **extra_overrides}
            )
            if extra_overrides:
                return loaded
            self._loaded = loaded
        return self._loaded

    @property
    def settings(self) -> "Settings":
        return self.loaded().settings

    def open_store(self) -> "AbstractAsyncContextManager[StateStore]":
        """The state store chosen by the settings (use it as ``async with``; closed on exit)."""

        @asynccontextmanager
        async def opened() -> "AsyncIterator[StateStore]":
            from novictl.store import open_store

            store = await open_store(self.settings.store)
            try:
                yield store
                # The command went through: send the webhooks it queued if no daemon will.
                from novictl.cli.webhooks_cmd import deliver_unless_daemon

                await deliver_unless_daemon(store, self.settings)
            finally:
                await store.close()

        return opened()

    def novita_client(self) -> "NovitaClient":
        """A Novita client built from the settings (use it as ``async with``)."""
        from novictl.novita.client import NovitaClient

        return NovitaClient.from_settings(self.settings.novita)


def get_app(ctx: typer.Context) -> App:
    """The :class:`App` the root callback stored on the click context (a fresh one when run standalone)."""
    root = ctx.find_root()
    if not isinstance(root.obj, App):
        root.obj = App()
    return root.obj


def _json_requested(ctx: typer.Context, value: bool) -> bool:
    # A command's own --json must also make its *errors* JSON; the error edge reads the App's flag.
    if value:
        get_app(ctx).json_output = True
    return value


JsonFlag = Annotated[
    bool, typer.Option("--json", help="Print JSON for scripts.", callback=_json_requested, is_eager=True)
]


def run_async(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run one core coroutine to completion (asyncio is imported here, not at ``novictl --help``)."""
    import asyncio

    return asyncio.run(coroutine)
