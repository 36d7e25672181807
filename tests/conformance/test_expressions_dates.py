"""Date filters: ``date``, ``dateAdd``, ``timestamp*``, as Kestra's tests and sources.

``kestra:`` paths are in kestra-io/kestra. ``DateFilterTest`` cases replay Kestra's
test with its moment ``2013-09-08T16:19:12.123456+01:00``; the format-name cases
follow ``AbstractDate.java``, which maps each name to a Java ``DateTimeFormatter``
constant (outputs as those constants print). Every case asserts the text exactly.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from kflow.errors import ExpressionError
from kflow.expr import compile_template

K = "kestra: core/src/"
DATE_TEST = K + "test/java/io/kestra/core/runners/pebble/filters/DateFilterTest.java"
ABSTRACT = K + "main/java/io/kestra/core/runners/pebble/AbstractDate.java"
DATE_ADD = K + "main/java/io/kestra/core/runners/pebble/filters/DateAddFilter.java"
TIMESTAMP = K + "main/java/io/kestra/core/runners/pebble/filters/TimestampFilter.java"
DATE_FILTER = K + "main/java/io/kestra/core/runners/pebble/filters/DateFilter.java"
NOW_FUNCTION = K + "main/java/io/kestra/core/runners/pebble/functions/NowFunction.java"

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
    # AbstractDate.STYLES: full, long, medium, short are DateTimeFormatter.ofLocalizedDateTime
    # in the JVM's locale (English); the texts are what Java 17 prints for DateFilterTest's NOW.
    (
        ABSTRACT + " FormatStyle.FULL",
        "{{ zoned | date('full', timeZone='Europe/Paris') }}",
        "Sunday, September 8, 2013 at 5:19:12 PM Central European Summer Time",
    ),
    (
        ABSTRACT + " FormatStyle.FULL (UTC)",
        "{{ zoned | date('full', timeZone='UTC') }}",
        "Sunday, September 8, 2013 at 3:19:12 PM Coordinated Universal Time",
    ),
    (
        ABSTRACT + " FormatStyle.LONG",
        "{{ zoned | date(format='long', timeZone='America/New_York') }}",
        "September 8, 2013 at 11:19:12 AM EDT",
    ),
    (
        ABSTRACT + " FormatStyle.MEDIUM",
        "{{ zoned | date('medium', timeZone='Europe/Paris') }}",
        "Sep 8, 2013, 5:19:12 PM",
    ),
    (
        ABSTRACT + " FormatStyle.SHORT",
        "{{ zoned | date('short', timeZone='UTC') }}",
        "9/8/13, 3:19 PM",
    ),
    (
        DATE_ADD + " (printed in a style)",
        "{{ zoned | dateAdd(-1, 'DAYS', format='medium', timeZone='Europe/Paris') }}",
        "Sep 7, 2013, 5:19:12 PM",
    ),
    (
        ABSTRACT + " (existingFormat reads a style: LocalDateTime.parse, then the zone)",
        "{{ 'Jan 5, 2024, 3:04:05 PM' | date(existingFormat='medium', timeZone='Europe/Paris') }}",
        "2024-01-05T15:04:05.000000+01:00",
    ),
    (
        ABSTRACT + " (zone names: pattern letters zzzz)",
        "{{ zoned | date('EEEE d MMMM y h:mm a zzzz', timeZone='Asia/Kolkata') }}",
        "Sunday 8 September 2013 8:49 PM India Standard Time",
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
        # kestra: AbstractDate.java: STYLES are lower case; "SHORT" goes to ofPattern, which
        # rejects its letter R
        pytest.param("{{ zoned | date('SHORT') }}", id="kestra upper-case style"),
    ],
)
def test_date_filter_errors(source: str) -> None:
    with pytest.raises(ExpressionError):
        render(source)


ISO = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}(Z|[+-]\d{2}:\d{2})")


# kestra: DateFilterTest.now; NowFunction.java (AbstractDate.format of ZonedDateTime.now():
# the iso pattern in the system zone, kflow's being UTC)
def test_now_prints_the_current_time_in_iso_by_default() -> None:
    before = dt.datetime.now(dt.UTC)
    text = render("{{ now() }}")
    after = dt.datetime.now(dt.UTC)
    assert ISO.fullmatch(text) and text.endswith("Z")
    assert before.date().isoformat() in text or after.date().isoformat() in text
    moment = dt.datetime.fromisoformat(text)
    assert before - dt.timedelta(microseconds=1) <= moment <= after


# kestra: DateFilterTest.now (now(timeZone="Europe/Lisbon") holds the Lisbon date and HH:mm)
def test_now_in_a_time_zone() -> None:
    lisbon = ZoneInfo("Europe/Lisbon")
    text = render('{{ now(timeZone="Europe/Lisbon") }}')
    here = dt.datetime.now(lisbon)
    assert ISO.fullmatch(text)
    assert here.date().isoformat() in text
    offset = here.utcoffset()
    assert offset is not None and text.endswith("Z" if not offset else here.strftime("%:z"))


# kestra: DateFilterTest.now (now(format="iso_local_date") is today's ISO_LOCAL_DATE)
def test_now_with_a_format() -> None:
    before = dt.datetime.now(dt.UTC).date().isoformat()
    text = render('{{ now(format="iso_local_date") }}')
    assert text in (before, dt.datetime.now(dt.UTC).date().isoformat())


# kestra: NowFunction.java + AbstractDate.java: format is the first argument; styles and
# locale as for the date filter
@pytest.mark.parametrize(
    ("source", "pattern"),
    [
        ("{{ now('medium') }}", r"[A-Z][a-z]{2} \d{1,2}, \d{4}, \d{1,2}:\d{2}:\d{2} [AP]M"),
        ("{{ now('short', locale='en_US') }}", r"\d{1,2}/\d{1,2}/\d{2}, \d{1,2}:\d{2} [AP]M"),
        ("{{ now(format='long', timeZone='UTC') }}", r"[A-Z][a-z]+ \d{1,2}, \d{4} at .* [AP]M UTC"),
        ("{{ now('yyyy', timeZone='Asia/Tokyo', locale='fr') }}", r"\d{4}"),
    ],
)
def test_now_with_a_style_or_locale(source: str, pattern: str) -> None:
    assert re.fullmatch(pattern, render(source)), render(source)


# kestra: AbstractDate.java (locale: LocaleUtils.toLocale; kflow knows English only)
def test_now_refuses_a_locale_whose_names_it_does_not_know() -> None:
    with pytest.raises(ExpressionError, match="locale 'fr_FR' is not supported"):
        render("{{ now('full', locale='fr_FR') }}")


# kestra: NowFunction.java returns the formatted text: the date filters read it back
def test_now_feeds_the_date_filters() -> None:
    text = render("{{ now() | dateAdd(1, 'DAYS') | date('yyyy-MM-dd') }}")
    tomorrow = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    assert text in (
        tomorrow.date().isoformat(),
        (tomorrow - dt.timedelta(seconds=5)).date().isoformat(),
    )
