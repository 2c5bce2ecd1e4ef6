"""The lenient field types give exactly what their Python converters give, whichever path a value takes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Annotated, Any

import pytest
from pydantic import TypeAdapter

from novictl.novita.fields import (
    LenientBool,
    LenientFloat,
    LenientInt,
    Normalised,
    OptionalStr,
    Text,
    UnixTime,
    to_bool,
    to_float,
    to_int,
    to_optional_str,
    to_text,
    to_utc_datetime,
)

# What Novita sends, and what it might send on a bad day.
ODD_VALUES: list[Any] = [
    None, True, False, 0, 1, -7, 16, 2**70, 10**400, 0.0, -0.0, 4.0, 4.5, 1e300, float("inf"), float("nan"),
    "", " ", "\t\n", "\x1c", "\x1f", "\u3000", "\u00a0x", "0", "16", " 16 ", "+5", "-0", "007", "4.0", "4.",
    ".5", "4.5", "1e3", "1E5", "1_000", "inf", "-inf", "nan", "1e400", "0x10", "١٢", "\uff11\uff12", "9" * 30,
    "abc", " abc ", "true", "FALSE", "yes", "off", "1714000000", "1714000000000", "-5",
    "2024-04-24T23:06:40Z", "2024-04-24T23:06:40+02:00", "2024-04-24 23:06:40", "soon", [], {}, [1], {"a": 1},
    datetime(2024, 4, 24, 23, 6, 40), datetime(2024, 4, 24, 23, 6, 40, tzinfo=timezone(timedelta(hours=2))),
]  # fmt: skip

CASES = [
    (LenientInt, to_int),
    (LenientFloat, to_float),
    (LenientBool, to_bool),
    (OptionalStr, to_optional_str),
    (Text, to_text),
    (UnixTime, to_utc_datetime),
]


@pytest.mark.parametrize(("field_type", "convert"), CASES, ids=lambda case: getattr(case, "__name__", ""))
def test_every_path_gives_what_the_converter_gives(field_type: Any, convert: Any) -> None:
    adapter = TypeAdapter(field_type)
    for value in ODD_VALUES:
        expected = convert(value)
        got = adapter.validate_python(value)  # never raises: odd values become None
        assert (got, type(got)) == (expected, type(expected)), value
        if isinstance(got, datetime):
            assert got.tzinfo is UTC, value


def test_usual_values_take_the_fast_paths_without_calling_python() -> None:
    calls: list[Any] = []

    def counted(field_type: Any) -> TypeAdapter[Any]:
        """The same type, with a converter that records each value that reaches Python."""
        (marker,) = field_type.__metadata__
        assert isinstance(marker, Normalised)

        def convert(value: Any) -> Any:
            calls.append(value)
            return marker.convert(value)

        return TypeAdapter(Annotated[field_type.__origin__, Normalised(convert, *marker.fast)])

    lenient_int, lenient_float = counted(LenientInt), counted(LenientFloat)
    optional_str, unix_time = counted(OptionalStr), counted(UnixTime)
    assert lenient_int.validate_python("16") == 16
    assert lenient_int.validate_python(8888) == 8888
    assert lenient_int.validate_python(None) is None
    assert lenient_float.validate_python("62") == 62.0
    assert optional_str.validate_python("running") == "running"
    assert optional_str.validate_python("") is None
    assert optional_str.validate_python("  ") is None
    assert unix_time.validate_python("0") is None
    assert unix_time.validate_python("") is None
    assert calls == []

    assert lenient_int.validate_python("4.5") == 4  # the odd ones still work, through Python
    assert unix_time.validate_python("1714000000") == datetime(2024, 4, 24, 23, 6, 40, tzinfo=UTC)
    assert calls == ["4.5", "1714000000"]
