"""Which addresses count as local, and the rule that a daemon reachable from elsewhere needs a token."""

from __future__ import annotations

import ipaddress

from novictl.errors import ConfigError

__all__ = ["is_loopback_host", "require_token_for_host"]

_LOCAL_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"})


def is_loopback_host(host: str) -> bool:
    """Whether binding ``host`` keeps the daemon reachable from this machine only."""
    name = host.strip().strip("[]").lower()
    if name in _LOCAL_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False  # a host name other than localhost may resolve to anything


def require_token_for_host(host: str, *, has_token: bool) -> None:
    """Refuse (``ConfigError``, exit 3) to serve a non-loopback address without an API token."""
    if has_token or is_loopback_host(host):
        return
    raise ConfigError(
        f"daemon.host: refusing to bind {host!r} without an API token: anyone who can reach it could stop "
        "or delete your instances",
        hint="set NOVICTL_DAEMON__API_TOKEN (or daemon.api_token in the config file), or bind 127.0.0.1",
    )
