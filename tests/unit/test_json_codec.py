"""kflow.json_codec gives what the standard library gives, faster where orjson can."""

from __future__ import annotations

import json
import math
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kflow import json_codec

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()  # beyond 64 bits too: orjson refuses those, the fallback writes them
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: st.lists(children) | st.dictionaries(st.text(), children),
    max_leaves=30,
)


@given(json_values)
def test_loads_reads_what_the_standard_library_reads(value: Any) -> None:
    text = json.dumps(value)
    assert json_codec.loads(text) == json.loads(text)
    assert json_codec.loads(text.encode()) == json.loads(text)


@given(json_values)
def test_dumps_writes_what_the_standard_library_reads_back(value: Any) -> None:
    assert json.loads(json_codec.dumps(value, str)) == json.loads(json.dumps(value))


@pytest.mark.parametrize(
    "text",
    [
        "NaN",
        '{"x": Infinity}',
        "123456789012345678901234567890",
        '"\\ud800"',  # a lone surrogate
        "[" * 2000 + "]" * 2000,
    ],
)
def test_loads_hands_what_orjson_refuses_to_the_standard_library(text: str) -> None:
    try:
        expected: Any = json.loads(text)
    except RecursionError:
        with pytest.raises(RecursionError):
            json_codec.loads(text)
        return
    got = json_codec.loads(text)
    if isinstance(expected, float) and math.isnan(expected):
        assert math.isnan(got)
    else:
        assert got == expected


def test_loads_raises_the_standard_library_error_with_its_position() -> None:
    with pytest.raises(json.JSONDecodeError) as caught:
        json_codec.loads('{"a": 1,\n "b": }')
    assert (caught.value.lineno, caught.value.colno) == (2, 7)


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return str(value)


def test_dumps_sends_dates_and_other_types_through_default() -> None:
    value = {
        "at": datetime(2026, 12, 1, 16, 27, 53, 201223, tzinfo=UTC),
        "day": date(2026, 12, 1),
        "price": Decimal("1.50"),
        "big": 2**70,
        "text": "é ü 漢",
        1: "int key",
    }
    assert json_codec.dumps(value, _default) == json.dumps(
        value, default=_default, ensure_ascii=False, separators=(",", ":")
    )


def test_dumps_refuses_what_the_standard_library_refuses() -> None:
    with pytest.raises(TypeError):
        json_codec.dumps({(1, 2): "a tuple key"}, str)


@pytest.mark.parametrize("digits", [18, 19, 20, 30])
def test_loads_keeps_long_integers_exact(digits: int) -> None:
    number = int("9" * digits)
    for value in (number, -number, [number], {"id": number}):
        text = json.dumps(value)
        got = json_codec.loads(text)
        assert got == value and type(got) is type(value)
