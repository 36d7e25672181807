"""Cell values converted as Kestra's PostgreSQL and MySQL cell converters do."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from kflow.errors import TaskError
from kflow.plugins.jdbc_values import (
    iso_interval,
    mysql_cell,
    mysql_time,
    postgres_cell,
    stored_value,
    zone_of,
)

PARIS = ZoneInfo("Europe/Paris")


@pytest.mark.parametrize(
    ("text", "iso"),
    [
        ("10 years 4 mons 5 days 00:00:10", "P10Y4M5DT0H0M10S"),  # Kestra's PgsqlTest
        ("1 year 1 mon 1 day", "P1Y1M1DT0H0M0S"),
        ("-1 days +02:03:04.5", "P0Y0M-1DT2H3M4S"),
        ("-00:00:01", "P0Y0M0DT0H0M-1S"),
        ("100:00:00", "P0Y0M0DT100H0M0S"),
        ("P1Y", "P1Y"),
    ],
)
def test_intervals_print_as_kestra_prints_them(text: str, iso: str) -> None:
    assert iso_interval(text) == iso


def test_timestamptz_is_moved_to_the_zone_and_timestamp_stays_local() -> None:
    moment = datetime(2004, 10, 19, 6, 23, 54, 250000, tzinfo=UTC)
    assert postgres_cell(moment, 1184, PARIS) == datetime(
        2004, 10, 19, 8, 23, 54, 250000, tzinfo=PARIS
    )
    local = datetime(2004, 10, 19, 10, 23, 54, 999999)
    assert postgres_cell(local, 1114, PARIS) == local


def test_timetz_is_the_local_time_in_the_zone_on_1970_01_01() -> None:
    pst = timezone(timedelta(hours=-8))
    assert postgres_cell(time(4, 5, 6, tzinfo=pst), 1266, PARIS) == time(13, 5, 6)


def test_bytea_arrays_json_and_void() -> None:
    assert postgres_cell(memoryview(b"\xde\xad"), 17, UTC) == b"\xde\xad"
    assert postgres_cell([[1, 2], [3, None]], 1007, UTC) == [[1, 2], [3, None]]
    assert postgres_cell({"a": [1]}, 3802, UTC) == {"a": [1]}
    assert postgres_cell("", 2278, UTC) is None
    assert postgres_cell(Decimal("2147483645.1234"), 1700, UTC) == Decimal("2147483645.1234")


def test_mysql_timestamp_is_an_instant_datetime_is_local_and_year_a_date() -> None:
    naive = datetime(2004, 10, 19, 10, 23, 54, 999999)
    assert mysql_cell(naive, 7, PARIS) == naive.replace(tzinfo=UTC)
    assert mysql_cell(naive, 12, PARIS) == naive
    assert mysql_cell(2025, 13, UTC) == date(2025, 1, 1)
    assert mysql_cell(bytearray(b"\x05"), 16, UTC) == b"\x05"


def test_mysql_time_is_a_time_of_day_or_its_text_beyond_a_day() -> None:
    assert mysql_time(timedelta(hours=4, minutes=5, seconds=30)) == time(4, 5, 30)
    assert mysql_time(timedelta(hours=-838, minutes=-59, seconds=-59)) == "-838:59:59"
    assert mysql_time(timedelta(hours=30, microseconds=5)) == "30:00:00.000005"


def test_stored_decimals_keep_integers_integral() -> None:
    assert stored_value({"a": Decimal("3"), "b": [Decimal("1.50")]}) == {"a": 3, "b": [1.5]}


def test_zones() -> None:
    assert zone_of(None) is UTC
    assert zone_of("Europe/Paris") == PARIS
    with pytest.raises(TaskError, match="'Mars/Base' is not a known time zone"):
        zone_of("Mars/Base")
