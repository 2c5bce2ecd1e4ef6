"""Hiding secrets when settings are shown, logged or put in an error message."""

from __future__ import annotations

from urllib.parse import urlsplit

__all__ = ["mask_secret", "mask_url"]


def mask_secret(secret: str) -> str:
    """``****`` plus the last 4 characters when the secret is long enough (≥ 16) for that to be safe."""
    return "****" + secret[-4:] if len(secret) >= 16 else "****"


def mask_url(url: str) -> str:
    """The URL with any password replaced by ``****`` (``redis://:****@host:6379/0``)."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return url
    if not password:
        return url
    userinfo, _, hostinfo = parts.netloc.rpartition("@")
    user = userinfo.split(":", 1)[0]
    return parts._replace(netloc=f"{user}:****@{hostinfo}").geturl()
