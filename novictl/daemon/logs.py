"""Log lines on stderr, as text or JSON, with every known secret masked out.

The daemon registers its secrets (API key, API token, webhook secret) with :func:`configure_logging`; a filter
replaces them in every record's message and arguments, so neither a careless message nor a library's log line
can leak one. The ``Authorization`` header is never logged: access logging is off and no code logs headers.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, Literal, TextIO

__all__ = ["JsonFormatter", "SecretFilter", "configure_logging"]

_MASK = "****"
_LOGGERS = ("novictl", "uvicorn", "uvicorn.error", "apscheduler")
_TEXT_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


class SecretFilter(logging.Filter):
    """Replaces each secret (at least 4 characters long) in a record's final message with ``****``."""

    def __init__(self, secrets: Iterable[str]):
        super().__init__()
        self.secrets = sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True)

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        message = record.getMessage()
        masked = message
        for secret in self.secrets:
            masked = masked.replace(secret, _MASK)
        if masked != message:
            record.msg, record.args = masked, None
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``ts``, ``level``, ``logger``, ``message`` (and ``exc`` if any)."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            data["exc"] = self.formatException(record.exc_info)
        return json.dumps(data, ensure_ascii=False)


def configure_logging(
    *,
    log_format: Literal["text", "json"] = "text",
    level: int = logging.INFO,
    secrets: Iterable[str] = (),
    stream: TextIO | None = None,
) -> logging.Handler:
    """Send novictl's, uvicorn's and APScheduler's logs to stderr in ``log_format``; returns the handler."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else logging.Formatter(_TEXT_FORMAT))
    handler.addFilter(SecretFilter(secrets))
    for name in _LOGGERS:
        logger = logging.getLogger(name)
        for old in list(logger.handlers):
            logger.removeHandler(old)
        logger.propagate = False
        logger.setLevel(level)
        logger.addHandler(handler)
    # APScheduler logs every job run at INFO; our jobs log their own one-line summaries.
    logging.getLogger("apscheduler").setLevel(max(level, logging.WARNING))
    return handler
