"""The web page: ``GET /`` and its static files, served by the daemon (no build step, no CDN).

The files ship inside the package and are read once, at install; they hold no inline script, style or
handler, so the daemon's strict Content-Security-Policy (``script-src 'self'; style-src 'self'``) holds.
The page talks only to the daemon's JSON API.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from importlib import resources

from fastapi import FastAPI, Response

__all__ = ["ASSET_PREFIX", "STATIC_FILES", "install"]

ASSET_PREFIX = "/web"
"""The page's scripts, styles and icon are served under this path."""

STATIC_FILES: dict[str, str] = {
    "app.js": "text/javascript; charset=utf-8",
    "api.js": "text/javascript; charset=utf-8",
    "format.js": "text/javascript; charset=utf-8",
    "rows.js": "text/javascript; charset=utf-8",
    "style.css": "text/css; charset=utf-8",
    "favicon.svg": "image/svg+xml",
}
"""The files served under :data:`ASSET_PREFIX`, with their media types."""

# The page changes with the package, never under a running daemon; revalidating keeps upgrades visible.
_CACHE_CONTROL = "no-cache"


@dataclass(frozen=True)
class _Asset:
    body: bytes
    media_type: str


def _read(name: str) -> bytes:
    return resources.files(__name__).joinpath(name).read_bytes()


def install(app: FastAPI) -> None:
    """Add ``GET /`` (the page) and ``GET /web/<file>`` to ``app``; they are left out of the OpenAPI."""
    page = _Asset(_read("index.html"), "text/html; charset=utf-8")
    assets = {name: _Asset(_read(name), media_type) for name, media_type in STATIC_FILES.items()}

    for path, asset in [("/", page), *((f"{ASSET_PREFIX}/{n}", a) for n, a in assets.items())]:
        app.add_api_route(path, _endpoint(asset), methods=["GET"], include_in_schema=False)


def _endpoint(asset: _Asset) -> Callable[[], Awaitable[Response]]:
    async def serve() -> Response:
        return Response(asset.body, media_type=asset.media_type, headers={"cache-control": _CACHE_CONTROL})

    return serve
