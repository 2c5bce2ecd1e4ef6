"""Lenient field types for what Novita really sends: numbers as strings, empty strings, nulls, odd values.

A model simply declares ``gpu_num: LenientInt`` and gets ``4`` from ``"4"``, ``4`` or ``"4.0"``, and ``None``
from ``""``/``null``. Nothing here raises on a bad value: an unreadable number or time becomes ``None``
rather than failing a whole page of instances because one field was odd.

Speed matters (an auto-stop run reads every instance), so each type is built for pydantic's Rust core: a
:class:`Normalised` marker lists exact "fast paths" that pydantic checks without calling Python (real text,
a real number, a numeric string, a blank string), and only a value none of them takes goes through the
Python converter. The fast paths give exactly what the converter would (``tests/novita/test_fields.py``
checks this), so the result never depends on which path a value took.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import GetCoreSchemaHandler
from pydantic_core import CoreSchema, core_schema

__all__ = [
    "LenientBool",
    "LenientFloat",
    "LenientInt",
    "Normalised",
    "OptionalStr",
    "Text",
    "UnixTime",
    "to_bool",
    "to_float",
    "to_int",
    "to_optional_str",
    "to_text",
    "to_utc_datetime",
]

# Beyond this a "unix seconds" value must be milliseconds (year 5138 in seconds).
_MILLISECONDS_THRESHOLD = 100_000_000_000


def to_float(value: Any) -> float | None:
    """A finite float from a number or numeric string; ``None`` for empty, null, booleans or garbage."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        try:
            number = float(value)
        except OverflowError:  # an int beyond any float
            return None
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
    # Whole numbers stay exact, even beyond a float's precision.
    if isinstance(value, int) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            pass  # "4.0", "1e3", "" or garbage: read as a float below
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


def to_text(value: Any) -> str:
    """Like :func:`to_optional_str`, but ``""`` for "not set": for fields that are always text."""
    return to_optional_str(value) or ""


def to_utc_datetime(value: Any) -> datetime | None:
    """An aware UTC datetime from unix seconds (number or string), milliseconds, or ISO-8601 text.

    ``"0"``, ``""``, ``null``, negative and unparseable values are ``None``: Novita uses ``"0"`` for
    "never", and a bad timestamp must not make an instance look old (or idle).
    """
    if type(value) is str and value.isascii() and value.isdigit():
        # What Novita sends for every timestamp, so kept cheap: "0" or whole unix seconds.
        seconds = int(value)
        if seconds == 0:
            return None
        if seconds < _MILLISECONDS_THRESHOLD:
            return datetime.fromtimestamp(seconds, tz=UTC)
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


class Normalised:
    """``Annotated`` marker: ``convert`` turns any raw value into what the field holds, never raising.

    ``fast`` are core schemas pydantic tries first, in order, without calling Python; each must accept only
    values for which it gives exactly what ``convert`` would. Anything they all refuse goes to ``convert``.
    On an optional field ``None`` is kept as it is, so ``convert`` must map ``None`` to ``None``.
    """

    __slots__ = ("convert", "fast")

    def __init__(self, convert: Callable[[Any], Any], *fast: CoreSchema) -> None:
        self.convert = convert
        self.fast = fast

    def __repr__(self) -> str:
        return f"Normalised({self.convert.__name__})"

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        target = handler(source)
        converted = core_schema.no_info_before_validator_function(self.convert, target)
        if not self.fast:
            return converted
        # Each refused choice costs pydantic an error object, so the likeliest go first and None
        # (a "nullable" check, no error) before all.
        either = core_schema.union_schema([*self.fast, converted], mode="left_to_right")
        return core_schema.nullable_schema(either) if target["type"] == "nullable" else either


# Text that is not blank. Python's whitespace (str.strip) also counts U+001C..U+001F, which \s does not.
_NON_BLANK_TEXT = core_schema.str_schema(strict=True, pattern=r"[^\s\x1c-\x1f]")
# Any text: itself when not blank, else None (``on_error="default"`` turns the refusal into the default).
_TEXT_OR_NONE = core_schema.chain_schema(
    [
        core_schema.str_schema(strict=True),
        core_schema.with_default_schema(_NON_BLANK_TEXT, default=None, on_error="default"),
    ]
)
# Pydantic reads "16", " 16 " and "4.0" as Python's float() would; "4.5", "", "1e3" or "nan" it refuses.
_INT_TEXT = core_schema.chain_schema([core_schema.str_schema(strict=True), core_schema.int_schema()])
_FLOAT_TEXT = core_schema.chain_schema(
    [core_schema.str_schema(strict=True), core_schema.float_schema(allow_inf_nan=False)]
)
# Strict: no bools as numbers, ints become floats, no inf/nan.
_INT = core_schema.int_schema(strict=True)
_FLOAT = core_schema.float_schema(strict=True, allow_inf_nan=False)
_BOOL = core_schema.bool_schema(strict=True)
# "0" (Novita's "never") and "" are no time: None without a Python call.
_NO_TIME = core_schema.chain_schema(
    [
        core_schema.literal_schema(["0", ""]),
        core_schema.with_default_schema(core_schema.none_schema(), default=None, on_error="default"),
    ]
)

LenientInt = Annotated[int | None, Normalised(to_int, _INT, _INT_TEXT)]
LenientFloat = Annotated[float | None, Normalised(to_float, _FLOAT, _FLOAT_TEXT)]
LenientBool = Annotated[bool | None, Normalised(to_bool, _BOOL)]
OptionalStr = Annotated[str | None, Normalised(to_optional_str, _TEXT_OR_NONE)]
Text = Annotated[str, Normalised(to_text, _NON_BLANK_TEXT)]
"""Text that is never ``None``: ``""`` when Novita sends ``null``, nothing or blanks."""
UnixTime = Annotated[datetime | None, Normalised(to_utc_datetime, _NO_TIME)]
"""Unix seconds (or milliseconds, or ISO-8601) as an aware UTC datetime. Real times always go through Python:
pydantic itself would read ``"0"`` as 1970 and give its own UTC ``tzinfo`` class, not ``datetime.UTC``."""
