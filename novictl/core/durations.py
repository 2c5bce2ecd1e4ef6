"""Human durations (``90s``, ``20m``, ``2h``, ``1h30m``, ``500ms``, ``7d``) to and from seconds."""

from __future__ import annotations

import math
import re
from datetime import timedelta

__all__ = ["MAX_DURATION", "format_duration", "parse_duration"]

MAX_DURATION = timedelta(days=36_500)
"""The longest duration accepted (about a century): anything longer is a typo, and would overflow the
date arithmetic it feeds (``now + duration``)."""

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")


def parse_duration(text: str) -> timedelta:
    """Parse ``"2h"``, ``"1h30m"``, ``"500ms"`` or a bare number of seconds; ``ValueError`` otherwise."""
    raw = text.strip().lower().replace(" ", "")
    if not raw:
        raise ValueError("empty duration")
    try:
        seconds = float(raw)
    except ValueError:
        pos = 0
        seconds = 0.0
        for match in _PART.finditer(raw):
            if match.start() != pos:
                break
            seconds += float(match.group(1)) * _UNITS[match.group(2)]
            pos = match.end()
        if pos != len(raw):
            raise ValueError(f"not a duration: {text!r} (try 90s, 20m, 2h, 1h30m or 7d)") from None
    if math.isnan(seconds):
        raise ValueError(f"not a duration: {text!r} (try 90s, 20m, 2h, 1h30m or 7d)")
    if seconds < 0:
        raise ValueError(f"a duration cannot be negative: {text!r}")
    if seconds > MAX_DURATION.total_seconds():
        raise ValueError(f"a duration cannot be longer than {MAX_DURATION.days} days: {text!r}")
    return timedelta(seconds=seconds)


def format_duration(delta: timedelta | float) -> str:
    """Render a duration compactly for tables: ``45s``, ``37m``, ``2h05m``, ``3d4h``."""
    seconds = delta.total_seconds() if isinstance(delta, timedelta) else float(delta)
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    if seconds < 60:
        return f"{sign}{seconds:.0f}s"
    minutes = int(seconds // 60)
    if minutes < 60:
        return f"{sign}{minutes}m"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{sign}{hours}h{minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{sign}{days}d{hours}h"
