"""Hiding secrets wherever values are shown, logged or put in an error message. Fails closed: a value that
cannot be parsed is hidden rather than shown."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit

__all__ = ["MASK", "mask_secret", "mask_url"]

MASK = "****"
# Query parameters that carry credentials in connection URLs (redis-py reads ?password=…).
_SECRET_PARAMS = frozenset({"password", "pass", "passwd", "pwd", "token", "secret", "key", "auth", "api_key"})


def mask_secret(secret: str) -> str:
    """``****`` for any non-empty secret: not even a few characters of it are shown."""
    return MASK if secret else ""


def mask_url(url: str, *, hide_path: bool = False) -> str:
    """The URL with its password, credential query parameters and (with ``hide_path``, for webhook URLs
    whose path is the secret) its path and query replaced by ``****``. Text that is not a URL is returned
    as it is; a URL that cannot be parsed keeps only its scheme."""
    if "://" not in url:
        return url
    scheme = url.split("://", 1)[0]
    try:
        parts = urlsplit(url)
        password = parts.password
        _ = parts.port  # raises ValueError for a malformed port
        query = parse_qsl(parts.query, keep_blank_values=True)
    except ValueError:
        return f"{scheme}://{MASK}"
    netloc = parts.netloc
    if password:
        userinfo, _, hostinfo = netloc.rpartition("@")
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}:{MASK}@{hostinfo}"
    if hide_path:
        path = f"/{MASK}" if parts.path.strip("/") else parts.path
        return parts._replace(netloc=netloc, path=path, query=MASK if parts.query else "").geturl()
    if any(name.lower() in _SECRET_PARAMS for name, _ in query):
        masked = [(name, MASK if name.lower() in _SECRET_PARAMS else value) for name, value in query]
        return parts._replace(netloc=netloc, query=urlencode(masked, safe="*")).geturl()
    return parts._replace(netloc=netloc).geturl()
