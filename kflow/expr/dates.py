"""Dates for the ``date``, ``dateAdd``, ``timestamp*`` filters and ``now()``.

As Kestra's ``AbstractDate``: inputs may be datetimes, dates (read at noon),
epoch numbers (seconds) or strings. A string with an offset is read as a zoned
date-time; a zone-less date-time or date (``2013-09-08T17:19:12``,
``2013-09-08``, read at the start of the day) and a naive datetime are read in
the ``timeZone`` given (UTC, kflow's system zone, when none is).
``existingFormat=`` reads other strings with a Java pattern or a format name.
The result is printed in ``timeZone`` with a Java ``DateTimeFormatter``
pattern (``yyyy-MM-dd HH:mm:ss``, quoted literals ``'T'``) or one of Kestra's
format names: ``iso`` (the default, ``yyyy-MM-dd'T'HH:mm:ss.SSSSSSXXX``),
``iso_sec``, ``sql``, ``sql_seq`` and the ``DateTimeFormatter`` constants
Kestra maps (``iso_date_time``, ``iso_date``, ``iso_time``,
``iso_local_date``, ``iso_instant``, ``iso_local_date_time``,
``iso_local_time``, ``iso_offset_time``, ``iso_ordinal_date``,
``iso_week_date``, ``iso_zoned_date_time``, ``rfc_1123_date_time``). kflow
also keeps ``iso_offset_date_time``, ``iso_milli``, ``sql_milli`` and
``sql_seconds``. The localized styles ``full``, ``long``, ``medium`` and
``short`` (lower case, as Kestra names them) print what Java 17's
``DateTimeFormatter.ofLocalizedDateTime`` prints in English, the JVM's default
locale (``medium``: ``Jan 5, 2024, 3:04:05 PM``). ``locale=`` may be ``en`` or
``en_US``; another locale is refused when the text would depend on it (month and
day names, AM/PM, zone names, the styles). Zone names (``z``, ``zzzz``, the
``long`` and ``full`` styles) are Java's English ones: UTC, GMT and offsets, and
the common region zones listed in ``_ZONE_NAMES``.

``now()`` is Kestra's ``NowFunction``: the current time as text, printed like the
``date`` filter prints (``iso`` in UTC by default).
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from kflow.errors import ExpressionError

from .printing import iso_datetime

__all__ = [
    "add_to_date",
    "format_date",
    "now",
    "parse_date",
    "timestamp",
    "timestamp_java",
    "zone",
]

UTC = dt.UTC


def zone(name: str | None) -> dt.tzinfo | None:
    if name is None:
        return None
    if name.upper() in ("UTC", "Z", "GMT", "UT"):
        return UTC
    m = re.fullmatch(r"(?:UTC|GMT|UT)?([+-])(\d{1,2})(?::?(\d{2}))?", name)
    if m:
        delta = dt.timedelta(hours=int(m.group(2)), minutes=int(m.group(3) or 0))
        return dt.timezone(-delta if m.group(1) == "-" else delta)
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ExpressionError(f"unknown time zone {name!r}") from exc


def now(fmt: str | None = None, time_zone: str | None = None, locale: str | None = None) -> str:
    """Kestra's ``now()``: the current time printed with ``fmt`` (``iso``) in ``time_zone``."""
    return render_date(dt.datetime.now(UTC), fmt, time_zone, locale)


# Java pattern letters -> strftime, longest runs first.
_JAVA_LETTERS = [
    ("yyyy", "%Y"),
    ("uuuu", "%Y"),
    ("yyy", "{y}"),
    ("yy", "%y"),
    ("y", "{y}"),
    ("MMMM", "%B"),
    ("MMM", "%b"),
    ("MM", "%m"),
    ("M", "{M}"),
    ("dd", "%d"),
    ("d", "{d}"),
    ("HH", "%H"),
    ("H", "{H}"),
    ("hh", "%I"),
    ("h", "{h}"),
    ("mm", "%M"),
    ("ss", "%S"),
    ("SSSSSSSSS", "{S9}"),
    ("SSSSSS", "%f"),
    ("SSS", "{S3}"),
    ("EEEE", "%A"),
    ("EEE", "%a"),
    ("a", "%p"),
    ("XXX", "{XXX}"),
    ("xxx", "{xxx}"),
    ("X", "{X}"),
    ("Z", "%z"),
    ("zzzz", "{zzzz}"),
    ("zzz", "{z}"),
    ("zz", "{z}"),
    ("z", "{z}"),
    ("D", "%j"),
]
_OFFSET_LETTERS = set("XxZzVO")


def _java_to_strftime(pattern: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "'":
            j = pattern.find("'", i + 1)
            if j < 0:
                raise ExpressionError(f"unterminated quote in date format {pattern!r}")
            literal = pattern[i + 1 : j] or "'"
            out.append(literal.replace("%", "%%").replace("{", "{{").replace("}", "}}"))
            i = j + 1
            continue
        for java, py in _JAVA_LETTERS:
            if pattern.startswith(java, i):
                out.append(py)
                i += len(java)
                break
        else:
            if c.isalpha():
                raise ExpressionError(f"unsupported letter {c!r} in date format {pattern!r}")
            out.append(c.replace("%", "%%").replace("{", "{{").replace("}", "}}"))
            i += 1
    return "".join(out)


def _pattern_letters(pattern: str) -> set[str]:
    """The pattern letters of a Java pattern, quoted literals left out."""
    return set(re.sub(r"'[^']*'", "", pattern))


def _offset_text(value: dt.datetime, colon: bool, z_for_utc: bool) -> str:
    off = value.utcoffset()
    if off is None:
        return ""
    if z_for_utc and off == dt.timedelta(0):
        return "Z"
    total = int(off.total_seconds())
    sign = "+" if total >= 0 else "-"
    total = abs(total)
    sep = ":" if colon else ""
    text = f"{sign}{total // 3600:02d}{sep}{total % 3600 // 60:02d}"
    if total % 60:
        text += f"{sep}{total % 60:02d}"
    return text


def _format_java(value: dt.datetime, pattern: str, zone_id: str | None = None) -> str:
    """``value`` printed with a Java pattern; ``zone_id`` names the zone (``z``, ``zzzz``)."""
    text = value.strftime(_java_to_strftime(pattern))
    names: dict[str, str] = {}
    if "{z" in text:  # each name only when printed: an unknown one is an error
        zone_text = _ZoneText(value, zone_id)
        if "{z}" in text:
            names["z"] = zone_text.short
        if "{zzzz}" in text:
            names["zzzz"] = zone_text.long
    return text.format(
        y=value.year,
        M=value.month,
        d=value.day,
        H=value.hour,
        h=(value.hour % 12) or 12,
        S3=f"{value.microsecond // 1000:03d}",
        S9=f"{value.microsecond:06d}000",
        XXX=_offset_text(value, True, True),
        xxx=_offset_text(value, True, False),
        X=_offset_text(value, False, True),
        **names,
    )


# ----------------------------------------------------------------------- zone names

#: Java 17's English names of common region zones (``z`` and ``zzzz``, standard then
#: daylight): ``SHORT [DST]|Long[/Long daylight]|zones``; indented lines add zones.
_ZONE_NAMES = """\
EET EEST|Eastern European Standard Time/Eastern European Summer Time|
    Africa/Cairo Europe/Athens Europe/Bucharest Europe/Helsinki Europe/Kiev Europe/Kyiv
    Europe/Sofia
SAST SAST|South Africa Standard Time/South Africa Summer Time|Africa/Johannesburg
WAT|West Africa Standard Time|Africa/Lagos
EAT|East Africa Time|Africa/Nairobi
AKST AKDT|Alaska Standard Time/Alaska Daylight Time|America/Anchorage
ART ARST|Argentina Standard Time/Argentina Summer Time|
    America/Argentina/Buenos_Aires America/Buenos_Aires
COT COST|Colombia Standard Time/Colombia Summer Time|America/Bogota
CST CDT|Central Standard Time/Central Daylight Time|
    America/Chicago America/Mexico_City US/Central
MST MDT|Mountain Standard Time/Mountain Daylight Time|
    America/Denver America/Phoenix US/Mountain
AST ADT|Atlantic Standard Time/Atlantic Daylight Time|America/Halifax
PET PEST|Peru Standard Time/Peru Summer Time|America/Lima
PST PDT|Pacific Standard Time/Pacific Daylight Time|
    America/Los_Angeles America/Vancouver US/Pacific
EST EDT|Eastern Standard Time/Eastern Daylight Time|
    America/New_York America/Toronto US/Eastern
CLT CLST|Chile Standard Time/Chile Summer Time|America/Santiago
BRT BRST|Brasilia Standard Time/Brasilia Summer Time|America/Sao_Paulo
NST NDT|Newfoundland Standard Time/Newfoundland Daylight Time|America/St_Johns
ICT|Indochina Time|Asia/Bangkok Asia/Ho_Chi_Minh
IST IDT|India Standard Time/India Daylight Time|Asia/Calcutta Asia/Kolkata
GST|Gulf Standard Time|Asia/Dubai
HKT HKST|Hong Kong Standard Time/Hong Kong Summer Time|Asia/Hong_Kong
WIB|Western Indonesia Time|Asia/Jakarta
IST IDT|Israel Standard Time/Israel Daylight Time|Asia/Jerusalem
PKT PKST|Pakistan Standard Time/Pakistan Summer Time|Asia/Karachi
PST PDT|Philippine Standard Time/Philippine Summer Time|Asia/Manila
AST|Arabian Standard Time|Asia/Riyadh
KST KDT|Korean Standard Time/Korean Daylight Time|Asia/Seoul
CST CDT|China Standard Time/China Daylight Time|Asia/Shanghai
SGT SGST|Singapore Standard Time/Singapore Summer Time|Asia/Singapore
CST CDT|Taipei Standard Time/Taipei Daylight Time|Asia/Taipei
JST JDT|Japan Standard Time/Japan Daylight Time|Asia/Tokyo
ACST ACDT|Australian Central Standard Time/Australian Central Daylight Time|Australia/Adelaide
AEST AEDT|Australian Eastern Standard Time/Australian Eastern Daylight Time|
    Australia/Brisbane Australia/Melbourne Australia/Sydney
AWST AWDT|Australian Western Standard Time/Australian Western Daylight Time|Australia/Perth
CET CEST|Central European Standard Time/Central European Summer Time|
    Europe/Amsterdam Europe/Berlin Europe/Brussels Europe/Budapest Europe/Copenhagen
    Europe/Luxembourg Europe/Madrid Europe/Oslo Europe/Paris Europe/Prague Europe/Rome
    Europe/Stockholm Europe/Vienna Europe/Warsaw Europe/Zurich
TRT TRST|Turkey Time/Turkey Summer Time|Europe/Istanbul
WET WEST|Western European Standard Time/Western European Summer Time|Europe/Lisbon
GMT BST|Greenwich Mean Time/British Summer Time|Europe/London
MSK MSD|Moscow Standard Time/Moscow Summer Time|Europe/Moscow
NZST NZDT|New Zealand Standard Time/New Zealand Daylight Time|Pacific/Auckland
HST HDT|Hawaii-Aleutian Standard Time/Hawaii-Aleutian Daylight Time|Pacific/Honolulu
"""
_UTC_IDS = frozenset(
    {"UTC", "Etc/UTC", "UCT", "Etc/UCT", "Universal", "Etc/Universal", "Zulu", "Etc/Zulu"}
)
_GMT_IDS = frozenset(
    {"GMT", "Etc/GMT", "GMT0", "Etc/GMT0", "Etc/GMT+0", "Etc/GMT-0", "Greenwich", "Etc/Greenwich"}
)
_OFFSET_ZONE = re.compile(r"(UTC|GMT|UT)?([+-])(\d{1,2})(?::?(\d{2}))?")
_ETC_GMT = re.compile(r"Etc/GMT([+-])(\d{1,2})")
_region_names: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {}


def _region_table() -> dict[str, tuple[tuple[str, ...], tuple[str, ...]]]:
    """Zone id -> ((short standard, short daylight), (long standard, long daylight))."""
    if not _region_names:
        names: tuple[tuple[str, ...], tuple[str, ...]] = ((), ())
        for line in _ZONE_NAMES.splitlines():
            if not line.startswith(" "):
                short, long, line = line.split("|")
                names = (tuple(short.split()), tuple(long.split("/")))
            for zone_id in line.split():
                _region_names[zone_id] = names
    return _region_names


def java_zone_id(name: str | None) -> str:
    """The id ``ZoneId.of(name)`` gives (``GMT+2``: ``GMT+02:00``); kflow's zone, UTC, for None."""
    if name is None or name.upper() in ("UTC", "GMT", "UT"):
        return "UTC" if name is None else name.upper()
    if name.upper() == "Z":
        return "Z"
    m = _OFFSET_ZONE.fullmatch(name)
    if not m:
        return name
    prefix, sign, hours, minutes = m.groups()
    if int(hours) == 0 and int(minutes or 0) == 0:
        return prefix or "Z"
    return f"{prefix or ''}{sign}{int(hours):02d}:{int(minutes or 0):02d}"


class _ZoneText:
    """The short (``z``) and long (``zzzz``) English names of a zone, as Java prints them."""

    __slots__ = ("_known", "_value", "_zone_id")

    def __init__(self, value: dt.datetime, zone_id: str | None) -> None:
        self._value = value
        self._zone_id = zone_id or _zone_id_of(value)
        self._known = self._names()

    def _names(self) -> tuple[str | None, str | None]:
        zone_id = self._zone_id
        if zone_id == "Z" or zone_id.startswith(("+", "-")) or _OFFSET_ZONE.fullmatch(zone_id):
            return zone_id, zone_id  # an offset prints its id
        if zone_id in _UTC_IDS:
            return "UTC", "Coordinated Universal Time"
        if zone_id in _GMT_IDS:
            return "GMT", "Greenwich Mean Time"
        if zone_id == "UT":
            return "UT", "UT"
        m = _ETC_GMT.fullmatch(zone_id)
        if m:  # Etc/GMT+5 is five hours behind: GMT-05:00
            text = f"GMT{'-' if m.group(1) == '+' else '+'}{int(m.group(2)):02d}:00"
            return text, text
        shorts, longs = _region_table().get(zone_id, ((), ()))
        index = 1 if self._value.dst() else 0
        return (
            shorts[index] if index < len(shorts) else None,
            longs[index] if index < len(longs) else None,
        )

    @property
    def short(self) -> str:
        known = self._known[0]
        if known is not None:
            return known
        abbreviation = self._value.tzname() or ""
        if abbreviation.isalpha():  # the zone database's own abbreviation (EST, CET...)
            return abbreviation
        raise self._unknown("short (z)")

    @property
    def long(self) -> str:
        known = self._known[1]
        if known is None:
            raise self._unknown("full (zzzz)")
        return known

    def _unknown(self, which: str) -> ExpressionError:
        return ExpressionError(
            f"kflow does not know Java's {which} English name of time zone {self._zone_id!r} "
            "(pattern letters z and the long and full styles print it)"
        )


def _zone_id_of(value: dt.datetime) -> str:
    key = getattr(value.tzinfo, "key", None)
    if key:
        return str(key)
    if value.tzinfo is UTC:
        return "UTC"
    return _offset_text(value, True, True) or "UTC"


# --------------------------------------------------------------- DateTimeFormatter constants


def _fraction(value: dt.datetime) -> str:
    """The nanosecond fraction as ``ISO_LOCAL_TIME`` prints it: no trailing zeros."""
    if not value.microsecond:
        return ""
    return "." + f"{value.microsecond:06d}".rstrip("0")


def _local_time(value: dt.datetime) -> str:
    return value.strftime("%H:%M:%S") + _fraction(value)


def _local_date_time(value: dt.datetime) -> str:
    return value.strftime("%Y-%m-%d") + "T" + _local_time(value)


def _offset_id(value: dt.datetime) -> str:
    return _offset_text(value, True, True)


def _zone_suffix(value: dt.datetime) -> str:
    """``[Europe/Paris]`` for a region zone, as ``ISO_ZONED_DATE_TIME`` prints it."""
    key = getattr(value.tzinfo, "key", None)
    return f"[{key}]" if key else ""


def _week_date(value: dt.datetime) -> str:
    year, week, day = value.isocalendar()
    return f"{year:04d}-W{week:02d}-{day}"


_RFC_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_RFC_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _rfc_1123(value: dt.datetime) -> str:
    off = _offset_text(value, False, False)
    offset = "GMT" if off in ("+0000", "") else off
    return (
        f"{_RFC_DAYS[value.weekday()]}, {value.day} {_RFC_MONTHS[value.month - 1]} "
        f"{value.year:04d} {value.strftime('%H:%M:%S')} {offset}"
    )


_NAMED: dict[str, Callable[[dt.datetime], str]] = {
    "iso": lambda v: _format_java(v, "yyyy-MM-dd'T'HH:mm:ss.SSSSSSXXX"),
    "iso_sec": lambda v: _format_java(v, "yyyy-MM-dd'T'HH:mm:ssXXX"),
    "sql": lambda v: _format_java(v, "yyyy-MM-dd HH:mm:ss.SSSSSS"),
    "sql_seq": lambda v: _format_java(v, "yyyy-MM-dd HH:mm:ss"),
    "iso_date_time": lambda v: _local_date_time(v) + _offset_id(v) + _zone_suffix(v),
    "iso_date": lambda v: v.strftime("%Y-%m-%d") + _offset_id(v),
    "iso_time": lambda v: _local_time(v) + _offset_id(v),
    "iso_local_date": lambda v: v.strftime("%Y-%m-%d"),
    "iso_instant": lambda v: iso_datetime(v.astimezone(UTC)),
    "iso_local_date_time": _local_date_time,
    "iso_local_time": _local_time,
    "iso_offset_time": lambda v: _local_time(v) + _offset_id(v),
    "iso_ordinal_date": lambda v: v.strftime("%Y-%j") + _offset_id(v),
    "iso_week_date": lambda v: _week_date(v) + _offset_id(v),
    "iso_zoned_date_time": lambda v: _local_date_time(v) + _offset_id(v) + _zone_suffix(v),
    "rfc_1123_date_time": _rfc_1123,
    # kflow's own names, kept for the flows that use them
    "iso_offset_date_time": lambda v: _local_date_time(v) + _offset_id(v),
    "iso_milli": lambda v: _format_java(v, "yyyy-MM-dd'T'HH:mm:ss.SSSXXX"),
    "sql_seconds": lambda v: _format_java(v, "yyyy-MM-dd HH:mm:ss"),
    "sql_milli": lambda v: _format_java(v, "yyyy-MM-dd HH:mm:ss.SSS"),
}
#: ``DateTimeFormatter.ofLocalizedDateTime(FormatStyle.X)`` in English (Java 17, CLDR 39;
#: the JVM default locale ``en`` and ``en_US`` print the same).
_STYLES = {
    "full": "EEEE, MMMM d, y 'at' h:mm:ss a zzzz",
    "long": "MMMM d, y 'at' h:mm:ss a z",
    "medium": "MMM d, y, h:mm:ss a",
    "short": "M/d/yy, h:mm a",
}
_FORMAT_NAMES = frozenset(_NAMED) | frozenset(_STYLES)
_ENGLISH = frozenset({"en", "en_us"})
_LOCALE = re.compile(r"[A-Za-z]{2,3}(?:[_-](?:[A-Za-z]{2}|\d{3}))?(?:[_-]\w+)?")
# Pattern letters whose text depends on the locale: month and day names, AM/PM, eras, zones.
_LOCALIZED_LETTERS = re.compile(r"M{3,}|L{3,}|E|a|G|z|v|O|B")


def _check_locale(locale: str | None, fmt: str) -> None:
    """Refuse a locale other than English when ``fmt`` prints text that depends on it."""
    if locale is None:
        return
    if not _LOCALE.fullmatch(locale):
        raise ExpressionError(f"invalid locale {locale!r} (a language such as en, or en_US)")
    if locale.replace("-", "_").lower() in _ENGLISH or fmt in _NAMED:
        return
    if fmt in _STYLES or _LOCALIZED_LETTERS.search(re.sub(r"'[^']*'", "", fmt)):
        raise ExpressionError(
            f"locale {locale!r} is not supported: kflow writes month and day names, AM/PM, "
            "zone names and the date styles in English (en, en_US) only"
        )


# ------------------------------------------------------------------------- reading

_ISO_ZONED = re.compile(
    r"(?P<local>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?)"
    r"(?P<offset>Z|[+-]\d{2}(?::?\d{2}(?::?\d{2})?)?)(?:\[(?P<zone>[^\]]+)\])?",
    re.IGNORECASE,
)
_ISO_LOCAL = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_RFC = re.compile(
    r"(?:[A-Za-z]{3},\s*)?(\d{1,2})\s+([A-Za-z]{3})\s+(\d{4})\s+(\d{2}):(\d{2})(?::(\d{2}))?"
    r"\s+(GMT|UT|Z|[+-]\d{4})"
)


def _local(text: str) -> dt.datetime:
    """A zone-less ISO date-time; more than 6 fraction digits are cut to microseconds."""
    m = re.fullmatch(r"(.*\.\d{6})\d+", text)
    return dt.datetime.fromisoformat(m.group(1) if m else text)


def _parse_iso(text: str, tz: dt.tzinfo) -> dt.datetime:
    m = _ISO_ZONED.fullmatch(text)
    if m:
        local = _local(m.group("local"))
        region = m.group("zone")
        if region:
            return local.replace(tzinfo=zone(region))
        offset = m.group("offset").upper()
        return local.replace(tzinfo=UTC if offset == "Z" else zone(offset))
    if _ISO_LOCAL.fullmatch(text):
        return _local(text).replace(tzinfo=tz)
    if _ISO_DATE.fullmatch(text):
        return dt.datetime.fromisoformat(text).replace(tzinfo=tz)
    raise ValueError(text)


def _parse_rfc(text: str) -> dt.datetime:
    m = _RFC.fullmatch(text)
    if not m:
        raise ValueError(text)
    day, month, year, hour, minute, second, offset = m.groups()
    moment = dt.datetime(
        int(year), _RFC_MONTHS.index(month.title()) + 1, int(day), int(hour), int(minute)
    )
    moment = moment.replace(second=int(second or 0))
    tz = UTC if offset in ("GMT", "UT", "Z") else zone(offset)
    return moment.replace(tzinfo=tz)


def _parse_pattern(text: str, pattern: str, tz: dt.tzinfo) -> dt.datetime:
    if pattern in _NAMED:
        if pattern == "rfc_1123_date_time":
            return _parse_rfc(text)
        return _parse_iso(text, tz)
    strftime = _java_to_strftime(_STYLES.get(pattern, pattern))
    if pattern in ("long", "full") or "{zzzz}" in strftime:
        raise ExpressionError(
            f"existingFormat {pattern!r}: reading a date with a zone name is not supported"
        )
    py = (
        strftime.replace("{y}", "%Y")
        .replace("{z}", "%Z")
        .replace("{S3}", "%f")
        .replace("{S9}", "%f")
        .replace("{M}", "%m")
        .replace("{d}", "%d")
        .replace("{H}", "%H")
        .replace("{h}", "%I")
        .replace("{XXX}", "%z")
        .replace("{xxx}", "%z")
        .replace("{X}", "%z")
        .replace("{{", "{")
        .replace("}}", "}")
    )
    result = dt.datetime.strptime(text, py)
    if result.tzinfo is None or not (_pattern_letters(pattern) & _OFFSET_LETTERS):
        result = result.replace(tzinfo=tz)
    return result


def parse_date(
    value: Any, existing_format: str | None = None, time_zone: str | None = None
) -> dt.datetime:
    """A zoned datetime from a date value of any accepted kind.

    Zone-less values (naive datetimes, dates, strings without an offset) are read
    in ``time_zone`` (UTC when None), as Kestra reads them in the filter's zone.
    """
    tz = zone(time_zone) or UTC
    if isinstance(value, dt.datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=tz)
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day, 12, tzinfo=tz)  # LocalTime.NOON
    if isinstance(value, int | float) and not isinstance(value, bool):
        return dt.datetime.fromtimestamp(value, UTC).astimezone(tz)
    if isinstance(value, str):
        text = value.strip()
        try:
            if existing_format:
                return _parse_pattern(text, existing_format, tz)
            return _parse_iso(text, tz)
        except ValueError as exc:
            raise ExpressionError(f"cannot read {value!r} as a date") from exc
    raise ExpressionError(f"cannot read a {type(value).__name__} as a date")


def render_date(
    moment: dt.datetime, fmt: str | None, time_zone: str | None, locale: str | None = None
) -> str:
    """``moment`` in ``time_zone`` (UTC when None) printed with ``fmt`` (``iso`` when None)."""
    moment = moment.astimezone(zone(time_zone) or UTC)
    fmt = "iso" if fmt is None else fmt
    _check_locale(locale, fmt)
    named = _NAMED.get(fmt)
    if named is not None:
        return named(moment)
    style = _STYLES.get(fmt)
    if style is not None:
        return _format_java(moment, style, java_zone_id(time_zone))
    if fmt.lower() in _STYLES:  # Kestra reads "SHORT" as a pattern, and fails on it
        raise ExpressionError(
            f"date format {fmt!r}: the localized styles are named in lower case "
            "(short, medium, long, full)"
        )
    return _format_java(moment, fmt, java_zone_id(time_zone))


def format_date(
    value: Any,
    fmt: str | None = None,
    time_zone: str | None = None,
    existing_format: str | None = None,
    locale: str | None = None,
) -> str:
    moment = parse_date(value, existing_format, time_zone)
    return render_date(moment, fmt, time_zone, locale)


_UNITS = {
    "NANOS": dt.timedelta(microseconds=0.001),
    "MICROS": dt.timedelta(microseconds=1),
    "MILLIS": dt.timedelta(milliseconds=1),
    "SECONDS": dt.timedelta(seconds=1),
    "MINUTES": dt.timedelta(minutes=1),
    "HOURS": dt.timedelta(hours=1),
    "HALF_DAYS": dt.timedelta(hours=12),
}
_DAY_UNITS = {"DAYS": 1, "WEEKS": 7}
_MONTHS = {"MONTHS": 1, "YEARS": 12, "DECADES": 120, "CENTURIES": 1200, "MILLENNIA": 12000}


def add_to_date(value: Any, amount: int, unit: str) -> dt.datetime:
    """As ``ZonedDateTime.plus``: time units on the instant, date units on the local date."""
    moment = parse_date(value)
    key = unit.upper()
    if key in _UNITS:
        tz = moment.tzinfo
        return (moment.astimezone(UTC) + _UNITS[key] * int(amount)).astimezone(tz)
    if key in _DAY_UNITS:
        return moment + dt.timedelta(days=_DAY_UNITS[key] * int(amount))
    if key in _MONTHS:
        months = moment.month - 1 + int(amount) * _MONTHS[key]
        year, month = moment.year + months // 12, months % 12 + 1
        day = min(moment.day, calendar.monthrange(year, month)[1])
        return moment.replace(year=year, month=month, day=day)
    units = ", ".join([*_UNITS, *_DAY_UNITS, *_MONTHS])
    raise ExpressionError(f"unknown time unit {unit!r} (expected one of {units})")


def _epoch(moment: dt.datetime) -> tuple[int, int]:
    """Epoch seconds (floored) and microseconds of the second."""
    delta = moment - dt.datetime(1970, 1, 1, tzinfo=UTC)
    return delta.days * 86_400 + delta.seconds, delta.microseconds


def timestamp(
    value: Any, scale: int, existing_format: str | None = None, time_zone: str | None = None
) -> int:
    """Epoch time of ``value``: scale 1 seconds, 1_000 ms, 10**6 µs, 10**9 ns."""
    seconds, micros = _epoch(parse_date(value, existing_format, time_zone))
    total = seconds * 1_000_000 + micros
    if scale >= 1_000_000:
        return total * (scale // 1_000_000)
    return total // (1_000_000 // scale)


def timestamp_java(
    value: Any, unit: str, existing_format: str | None = None, time_zone: str | None = None
) -> str:
    """Kestra's ``timestampMicro`` / ``timestampNano`` text.

    Both add to the epoch seconds in nanoseconds the fraction of the second, in
    microseconds for ``timestampMicro`` and in nanoseconds for ``timestampNano``
    (so ``timestampMicro`` of ``...:12.123456`` ends in ``000123456``).
    """
    seconds, micros = _epoch(parse_date(value, existing_format, time_zone))
    fraction = micros if unit == "micro" else micros * 1000
    return str(seconds * 1_000_000_000 + fraction)
