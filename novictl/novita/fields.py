"""Lenient field types for what Novita really sends: numbers as strings, empty strings, nulls, odd values.

Each type is an ``Annotated`` alias with a "before" validator, so a model simply declares
``gpu_num: LenientInt`` and gets ``4`` from ``"4"``, ``4`` or ``"4.0"``, and ``None`` from ``""``/``null``.
Nothing here raises on a bad value: an unreadable number or time becomes ``None`` rather than failing a
whole page of instances because one field was odd.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import BeforeValidator

__all__ = [
    "LenientBool",
    "LenientFloat",
    "LenientInt",
    "OptionalStr",
    "UnixTime",
    "to_bool",
    "to_float",
    "to_int",
    "to_optional_str",
    "to_utc_datetime",
]

# Beyond this a "unix seconds" value must be milliseconds (year 5138 in seconds).
_MILLISECONDS_THRESHOLD = 100_000_000_000


def to_float(value: Any) -> float | None:
    """A finite float from a number or numeric string; ``None`` for empty, null, booleans or garbage."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        try:
            number = float(text)
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def to_int(value: Any) -> int | None:
    """An int from a number or numeric string (``"4"``, ``"4.0"``); ``None`` when there is none."""
    number = to_float(value)
    return None if number is None else int(number)


def to_bool(value: Any) -> bool | None:
    """A bool from ``true``/``false`` in any usual spelling (bool, 0/1, "true", "yes"); else ``None``."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return bool(value)
    if isinstance(value, str):
        text = value.strip().lower()
        if text in {"true", "1", "yes", "y", "on"}:
            return True
        if text in {"false", "0", "no", "n", "off"}:
            return False
    return None


def to_optional_str(value: Any) -> str | None:
    """A string, with ``""`` and ``null`` both meaning "not set"; numbers are turned into text."""
    if value is None:
        return None
    if isinstance(value, bool):
        return str(value).lower()
    text = value if isinstance(value, str) else str(value)
    return text if text.strip() else None


def to_utc_datetime(value: Any) -> datetime | None:
    """An aware UTC datetime from unix seconds (number or string), milliseconds, or ISO-8601 text.

    ``"0"``, ``""``, ``null``, negative and unparseable values are ``None``: Novita uses ``"0"`` for
    "never", and a bad timestamp must not make an instance look old (or idle).
    """
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    number = to_float(value)
    if number is None:
        return _parse_iso(value) if isinstance(value, str) else None
    if number <= 0:
        return None
    if number >= _MILLISECONDS_THRESHOLD:
        number /= 1000
    try:
        return datetime.fromtimestamp(number, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _parse_iso(text: str) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


LenientInt = Annotated[int | None, BeforeValidator(to_int)]
LenientFloat = Annotated[float | None, BeforeValidator(to_float)]
LenientBool = Annotated[bool | None, BeforeValidator(to_bool)]
OptionalStr = Annotated[str | None, BeforeValidator(to_optional_str)]
UnixTime = Annotated[datetime | None, BeforeValidator(to_utc_datetime)]
