"""Date filters: ``date``, ``dateAdd``, ``timestamp*``, as Kestra's tests and sources.

``kestra:`` paths are in kestra-io/kestra. ``DateFilterTest`` cases replay Kestra's
test with its moment ``2013-09-08T16:19:12.123456+01:00``; the format-name cases
follow ``AbstractDate.java``, which maps each name to a Java ``DateTimeFormatter``
constant (outputs as those constants print). Every case asserts the text exactly.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from kflow.errors import ExpressionError
from kflow.expr import compile_template

K = "kestra: core/src/"
DATE_TEST = K + "test/java/io/kestra/core/runners/pebble/filters/DateFilterTest.java"
ABSTRACT = K + "main/java/io/kestra/core/runners/pebble/AbstractDate.java"
DATE_ADD = K + "main/java/io/kestra/core/runners/pebble/filters/DateAddFilter.java"
TIMESTAMP = K + "main/java/io/kestra/core/runners/pebble/filters/TimestampFilter.java"
DATE_FILTER = K + "main/java/io/kestra/core/runners/pebble/filters/DateFilter.java"

ZONED = dt.datetime(2013, 9, 8, 16, 19, 12, 123456, tzinfo=dt.timezone(dt.timedelta(hours=1)))
VARS: dict[str, Any] = {
    "date": ZONED.replace(microsecond=0),  # java.util.Date of the epoch seconds
    "instant": ZONED.astimezone(dt.UTC),
    "zoned": ZONED,
    "local": ZONED.replace(tzinfo=None),
    "day": dt.date(2013, 9, 8),
}
PARIS = dt.datetime(2013, 9, 8, 17, 19, 12, 123456, tzinfo=dt.timezone(dt.timedelta(hours=2)))


def render(source: str, ctx: dict[str, Any] | None = None) -> str:
    return compile_template(source).render(VARS if ctx is None else ctx)


CASES: list[tuple[str, str, str]] = [
    # (source of the case, template, expected text)
    (
        DATE_TEST + " dateFormat",
        "{{ date | date(format='iso', timeZone='Europe/Paris') }}",
        "2013-09-08T17:19:12.000000+02:00",
    ),
    (
        DATE_TEST + " dateFormat",
        '{{ instant | date(format="iso_sec", timeZone="Europe/Paris") }}',
        "2013-09-08T17:19:12+02:00",
    ),
    (
        DATE_TEST + " dateFormat",
        '{{ zoned | date(format="iso", timeZone="Europe/Paris") }}',
        "2013-09-08T17:19:12.123456+02:00",
    ),
    (
        DATE_TEST + " dateFormat (a local date-time is read in the zone)",
        '{{ local | date(format="yyyy-MM-dd HH:mm:ss.SSSSSSXXX", timeZone="Europe/Paris") }}',
        "2013-09-08 16:19:12.123456+02:00",
    ),
    (
        DATE_TEST + " dateFormat",
        '{{ local | date(format="yyyy-MM-dd HH:mm:ss.SSSSSSXXX", timeZone="UTC") }}',
        "2013-09-08 16:19:12.123456Z",
    ),
    (
        DATE_TEST + " dateStringFormat",
        '{{ "July 24, 2001" | date("yyyy-MM-dd", existingFormat="MMMM dd, yyyy") }}',
        "2001-07-24",
    ),
    (
        DATE_TEST + " dateStringFormat",
        '{{ "2013-09-08T17:19:12+02:00" | date(timeZone="Europe/Paris") }}',
        "2013-09-08T17:19:12.000000+02:00",
    ),
    (
        DATE_TEST + " dateStringFormat (zone-less date-time read in the zone)",
        '{{ "2013-09-08T17:19:12" | date(timeZone="Europe/Paris") }}',
        "2013-09-08T17:19:12.000000+02:00",
    ),
    (
        DATE_TEST + " dateStringFormat (a date is the start of its day in the zone)",
        '{{ "2013-09-08" | date(timeZone="Europe/Paris") }}',
        "2013-09-08T00:00:00.000000+02:00",
    ),
    (DATE_TEST + " timestamp", '{{ zoned | timestamp(timeZone="Europe/Paris") }}', "1378653552"),
    (
        DATE_TEST + " timestampCompare",
        "{{ (zoned | timestamp) > (zoned | dateAdd(-1, 'DAYS') | timestamp) }}",
        "true",
    ),
    (
        DATE_TEST + " dateRfc",
        "{{ 'Tue, 08 Feb 2022 19:38:26 GMT' | date(existingFormat='rfc_1123_date_time',"
        ' timeZone="Europe/Paris") }}',
        "2022-02-08T20:38:26.000000+01:00",
    ),
    (
        DATE_TEST + " instantnano",
        '{{ zoned | timestampNano(timeZone="Europe/Paris") }}',
        "1378653552123456000",
    ),
    (
        DATE_TEST + " instantmicro",
        '{{ zoned | timestampMicro(timeZone="Europe/Paris") }}',
        "1378653552000123456",
    ),
    (
        DATE_TEST + " add",
        '{{ zoned | dateAdd(-1,"DAYS",timeZone="Europe/Paris")}}',
        "2013-09-07T17:19:12.123456+02:00",
    ),
    # AbstractDate: the default format is "iso", printed in the system zone (UTC here)
    (ABSTRACT + " default format", "{{ zoned | date }}", "2013-09-08T15:19:12.123456Z"),
    (ABSTRACT + " LocalDate read at noon", "{{ day | date }}", "2013-09-08T12:00:00.000000Z"),
    (ABSTRACT + " Long is epoch seconds", "{{ 1378653552 | date }}", "2013-09-08T15:19:12.000000Z"),
    (
        ABSTRACT + " zone-less string in UTC",
        "{{ '2013-09-08T17:19:12' | timestamp }}",
        "1378660752",
    ),
    (
        TIMESTAMP + " (zone-less string read in timeZone)",
        "{{ '2013-09-08T17:19:12' | timestamp(timeZone='Europe/Paris') }}",
        "1378653552",
    ),
    (
        DATE_FILTER + " (null gives null)",
        "{{ nothing | date }}|{{ nothing | dateAdd(1, 'DAYS') }}",
        "|",
    ),
    # AbstractDate FORMATTERS, as the DateTimeFormatter constants print a moment in Paris
    # (without timeZone the moment is printed in the system zone)
    (
        ABSTRACT + " sql",
        "{{ d | date('sql', timeZone='Europe/Paris') }}",
        "2013-09-08 17:19:12.123456",
    ),
    (
        ABSTRACT + " sql_seq",
        "{{ d | date('sql_seq', timeZone='Europe/Paris') }}",
        "2013-09-08 17:19:12",
    ),
    (
        ABSTRACT + " ISO_DATE_TIME (region zone in brackets)",
        "{{ d | date('iso_date_time', timeZone='Europe/Paris') }}",
        "2013-09-08T17:19:12.123456+02:00[Europe/Paris]",
    ),
    (
        ABSTRACT + " ISO_DATE",
        "{{ d | date('iso_date', timeZone='Europe/Paris') }}",
        "2013-09-08+02:00",
    ),
    (
        ABSTRACT + " ISO_TIME",
        "{{ d | date('iso_time', timeZone='Europe/Paris') }}",
        "17:19:12.123456+02:00",
    ),
    (
        ABSTRACT + " ISO_LOCAL_DATE",
        "{{ d | date('iso_local_date', timeZone='Europe/Paris') }}",
        "2013-09-08",
    ),
    (
        ABSTRACT + " ISO_INSTANT",
        "{{ d | date('iso_instant', timeZone='Europe/Paris') }}",
        "2013-09-08T15:19:12.123456Z",
    ),
    (
        ABSTRACT + " ISO_LOCAL_DATE_TIME",
        "{{ d | date('iso_local_date_time', timeZone='Europe/Paris') }}",
        "2013-09-08T17:19:12.123456",
    ),
    (
        ABSTRACT + " ISO_LOCAL_TIME",
        "{{ d | date('iso_local_time', timeZone='Europe/Paris') }}",
        "17:19:12.123456",
    ),
    (
        ABSTRACT + " ISO_OFFSET_TIME",
        "{{ d | date('iso_offset_time', timeZone='Europe/Paris') }}",
        "17:19:12.123456+02:00",
    ),
    (
        ABSTRACT + " ISO_ORDINAL_DATE",
        "{{ d | date('iso_ordinal_date', timeZone='Europe/Paris') }}",
        "2013-251+02:00",
    ),
    (
        ABSTRACT + " ISO_WEEK_DATE",
        "{{ d | date('iso_week_date', timeZone='Europe/Paris') }}",
        "2013-W36-7+02:00",
    ),
    (
        ABSTRACT + " ISO_ZONED_DATE_TIME (region zone in brackets)",
        "{{ d | date('iso_zoned_date_time', timeZone='Europe/Paris') }}",
        "2013-09-08T17:19:12.123456+02:00[Europe/Paris]",
    ),
    (
        ABSTRACT + " RFC_1123_DATE_TIME",
        "{{ d | date('rfc_1123_date_time', timeZone='Europe/Paris') }}",
        "Sun, 8 Sep 2013 17:19:12 +0200",
    ),
    (
        ABSTRACT + " RFC_1123_DATE_TIME (GMT)",
        "{{ d | date('rfc_1123_date_time', timeZone='UTC') }}",
        "Sun, 8 Sep 2013 15:19:12 GMT",
    ),
    (
        ABSTRACT + " ISO_LOCAL_TIME drops trailing fraction zeros",
        "{{ '2013-09-08T17:19:12.500Z' | date('iso_local_time') }}",
        "17:19:12.5",
    ),
    # DateAddFilter: ZonedDateTime.plus, then printed with format and timeZone
    (
        DATE_ADD + " (time units on the instant)",
        "{{ '2013-10-27T01:30:00+02:00' | dateAdd(2, 'HOURS', timeZone='Europe/Paris') }}",
        "2013-10-27T02:30:00.000000+01:00",
    ),
    (
        DATE_ADD + " (day units on the local date)",
        "{{ '2013-10-26T12:00:00' | dateAdd(1, 'DAYS', format='iso_sec',"
        " timeZone='Europe/Paris') }}",
        "2013-10-27T12:00:00+01:00",
    ),
    (
        DATE_ADD + " (existingFormat reads the input)",
        "{{ '24/07/2001' | dateAdd(1, 'MONTHS', format='yyyy-MM-dd',"
        " existingFormat='dd/MM/yyyy') }}",
        "2001-08-24",
    ),
]


@pytest.mark.parametrize(
    ("source", "expected"),
    [pytest.param(tpl, exp, id=f"{where.split('/')[-1]}:{tpl}") for where, tpl, exp in CASES],
)
def test_date_filter(source: str, expected: str) -> None:
    assert render(source, {**VARS, "d": PARIS, "nothing": None}) == expected


@pytest.mark.parametrize(
    "source",
    [
        # kestra: AbstractDate.java: ChronoUnit.valueOf rejects an unknown unit
        pytest.param("{{ zoned | dateAdd(1, 'FORTNIGHTS') }}", id="kestra dateAdd unknown unit"),
        # kestra: AbstractDate.java: ZoneId.of rejects an unknown zone
        pytest.param("{{ zoned | date(timeZone='Mars/Olympus') }}", id="kestra unknown zone"),
        # kestra: AbstractDate.java: a string that is no ISO date
        pytest.param("{{ 'yesterday' | date }}", id="kestra unreadable date"),
    ],
)
def test_date_filter_errors(source: str) -> None:
    with pytest.raises(ExpressionError):
        render(source)
