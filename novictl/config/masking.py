"""Hiding secrets when settings are shown, logged or put in an error message (see :mod:`novictl.redact`)."""

from __future__ import annotations

from novictl.redact import mask_secret, mask_url

__all__ = ["URL_SECRET_KEYS", "mask_secret", "mask_url"]

# Settings whose value is a URL whose path is itself the secret (Slack-style webhook URLs).
URL_SECRET_KEYS: frozenset[str] = frozenset({"webhook.url"})
