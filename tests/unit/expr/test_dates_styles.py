"""Localized date styles, zone names, locales and ``now()`` (kflow.expr.dates).

The expected texts were printed by Java 17 (OpenJDK 17.0.15, default locale ``en``) with
``DateTimeFormatter.ofLocalizedDateTime(style).withZone(zone)`` or ``ofPattern(...)``, as
Kestra's ``AbstractDate.format`` builds its formatter.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest

from kflow.errors import ExpressionError
from kflow.expr import dates

UTC = dt.UTC


def at(epoch: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(epoch, UTC)


JAVA_17: list[tuple[int, str | None, str, str]] = [
    # (epoch seconds, timeZone, format, what Java 17 prints)
    (1704467045, None, "medium", "Jan 5, 2024, 3:04:05 PM"),
    (1704467045, "UTC", "full", "Friday, January 5, 2024 at 3:04:05 PM Coordinated Universal Time"),
    (1704467045, "Z", "long", "January 5, 2024 at 3:04:05 PM Z"),
    (1704467045, "+02:00", "full", "Friday, January 5, 2024 at 5:04:05 PM +02:00"),
    (1704467045, "GMT+2", "long", "January 5, 2024 at 5:04:05 PM GMT+02:00"),
    (1704467045, "UTC+01:00", "long", "January 5, 2024 at 4:04:05 PM UTC+01:00"),
    (1704467045, "GMT", "full", "Friday, January 5, 2024 at 3:04:05 PM Greenwich Mean Time"),
    (1704467045, "Asia/Tokyo", "short", "1/6/24, 12:04 AM"),
    (1704467045, "Europe/Paris", "long", "January 5, 2024 at 4:04:05 PM CET"),
    (
        1720191845,
        "Europe/Paris",
        "full",
        "Friday, July 5, 2024 at 5:04:05 PM Central European Summer Time",
    ),
    (
        1711846800,
        "Europe/London",
        "full",
        "Sunday, March 31, 2024 at 2:00:00 AM British Summer Time",
    ),
    (951782400, "Europe/London", "long", "February 29, 2000 at 12:00:00 AM GMT"),
    (4102444800, "Europe/London", "short", "1/1/00, 12:00 AM"),
    (1711846800, "America/St_Johns", "long", "March 30, 2024 at 10:30:00 PM NDT"),
    (
        1711846800,
        "Pacific/Auckland",
        "full",
        "Sunday, March 31, 2024 at 2:00:00 PM New Zealand Daylight Time",
    ),
    (1711846800, "Etc/GMT+5", "full", "Saturday, March 30, 2024 at 8:00:00 PM GMT-05:00"),
    (951782400, "-05:30", "full", "Monday, February 28, 2000 at 6:30:00 PM -05:30"),
    (1000000000, "Europe/Moscow", "long", "September 9, 2001 at 5:46:40 AM MSD"),
    (
        1000000000,
        "Europe/Istanbul",
        "full",
        "Sunday, September 9, 2001 at 4:46:40 AM Turkey Summer Time",
    ),
    (0, "UT", "full", "Thursday, January 1, 1970 at 12:00:00 AM UT"),
    (1704467045, "Asia/Kolkata", "y", "2024"),
    (1704467045, "America/New_York", "zzz", "EST"),
    (1720191845, "America/New_York", "zzzz", "Eastern Daylight Time"),
]


@pytest.mark.parametrize(("epoch", "zone", "fmt", "expected"), JAVA_17)
def test_styles_and_zone_names_print_as_java_17(
    epoch: int, zone: str | None, fmt: str, expected: str
) -> None:
    assert dates.render_date(at(epoch), fmt, zone) == expected


@pytest.mark.parametrize(
    ("name", "java_id"),
    [
        (None, "UTC"),
        ("UTC", "UTC"),
        ("Z", "Z"),
        ("+2", "+02:00"),
        ("+0200", "+02:00"),
        ("-00:00", "Z"),
        ("GMT+2", "GMT+02:00"),
        ("UTC+0", "UTC"),
        ("UT-5", "UT-05:00"),
        ("Europe/Paris", "Europe/Paris"),
    ],
)
def test_java_zone_id_normalizes_as_zone_id_of(name: str | None, java_id: str) -> None:
    assert dates.java_zone_id(name) == java_id


def test_a_zone_without_a_known_name_is_a_clear_error_for_zzzz_only() -> None:
    moment = at(1704467045)
    with pytest.raises(ExpressionError, match=r"full .*'Asia/Yerevan'"):
        dates.render_date(moment, "full", "Asia/Yerevan")
    # the short name falls back to the zone database's abbreviation when it is a word
    assert dates.render_date(moment, "z", "America/Havana") == "CST"
    assert dates.render_date(moment, "medium", "Asia/Yerevan") == "Jan 5, 2024, 7:04:05 PM"


def test_every_zone_of_the_name_table_exists() -> None:
    table = dates._region_table()
    assert len(table) > 60
    for zone_id, (shorts, longs) in table.items():
        assert dates.zone(zone_id) is not None
        assert 1 <= len(shorts) <= 2 and len(shorts) == len(longs), zone_id


@pytest.mark.parametrize("locale", ["en", "en_US", "en-US", "EN_us"])
def test_english_locales_are_accepted(locale: str) -> None:
    assert dates.render_date(at(1704467045), "short", None, locale) == "1/5/24, 3:04 PM"


def test_another_locale_is_refused_only_when_the_text_depends_on_it() -> None:
    moment = at(1704467045)
    assert dates.render_date(moment, "yyyy-MM-dd HH:mm", None, "fr_FR") == "2024-01-05 15:04"
    assert dates.render_date(moment, "iso", None, "de") == "2024-01-05T15:04:05.000000Z"
    assert dates.render_date(moment, "'MMMM' yyyy", None, "fr") == "MMMM 2024"
    for fmt in ("medium", "MMMM", "EEE d", "h a", "z"):
        with pytest.raises(ExpressionError, match="locale 'fr' is not supported"):
            dates.render_date(moment, fmt, None, "fr")
    with pytest.raises(ExpressionError, match="invalid locale"):
        dates.render_date(moment, "iso", None, "not a locale")


def test_upper_case_style_names_are_refused_with_a_hint() -> None:
    for name in ("SHORT", "Medium", "LONG", "FULL"):
        with pytest.raises(ExpressionError, match="named in lower case"):
            dates.render_date(at(0), name, None)


def test_short_and_medium_styles_are_read_back() -> None:
    paris = "Europe/Paris"
    read = dates.parse_date("Jan 5, 2024, 3:04:05 PM", "medium", paris)
    assert read == dt.datetime(2024, 1, 5, 15, 4, 5, tzinfo=dates.zone(paris))
    assert dates.parse_date("1/5/24, 3:04 PM", "short") == dt.datetime(
        2024, 1, 5, 15, 4, tzinfo=UTC
    )
    for style in ("long", "full"):
        with pytest.raises(ExpressionError, match="zone name"):
            dates.parse_date("January 5, 2024 at 3:04:05 PM UTC", style)


def test_format_date_passes_the_locale_on() -> None:
    assert dates.format_date("2024-01-05T15:04:05Z", "medium", locale="en_US") == (
        "Jan 5, 2024, 3:04:05 PM"
    )
    with pytest.raises(ExpressionError, match="locale"):
        dates.format_date("2024-01-05T15:04:05Z", "medium", locale="ja_JP")


def test_now_is_text_in_iso_by_default_and_takes_format_zone_and_locale() -> None:
    before = dt.datetime.now(UTC)
    text = dates.now()
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z", text)
    assert before - dt.timedelta(microseconds=1) <= dt.datetime.fromisoformat(text)
    assert dates.now(time_zone="Asia/Kolkata").endswith("+05:30")
    assert re.fullmatch(r"\d{1,2}/\d{1,2}/\d{2}, \d{1,2}:\d{2} [AP]M", dates.now("short"))
    assert dates.now("iso_local_date", "UTC", "en_US") == dt.datetime.now(UTC).date().isoformat()
