"""Ages (``--history-max-age``) and ``--since`` times; the Gantt bars of ``show``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from kflow.errors import UsageError
from kflow.history.display import BAR_WIDTH, bar
from kflow.history.durations import parse_age, parse_since


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("45s", 45), ("30m", 1800), ("12h", 43200), ("7d", 604800), ("2w", 1209600), ("1.5h", 5400)],
)
def test_ages(text: str, seconds: float) -> None:
    assert parse_age(text, "--history-max-age") == seconds


def test_a_bad_age_names_the_option() -> None:
    with pytest.raises(UsageError, match=r"--history-max-age: '7 days' is not an age"):
        parse_age("7 days", "--history-max-age")


def test_since_an_age_or_an_iso_date() -> None:
    now = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    assert parse_since("1h", now) == now - timedelta(hours=1)
    assert parse_since("2026-12-01T10:00", now) == datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    assert parse_since("2026-12-01T10:00:00+01:00", now).hour == 10
    with pytest.raises(UsageError, match="--since: 'yesterday'"):
        parse_since("yesterday", now)


def test_bars_sit_where_the_task_ran() -> None:
    assert bar(0, 100, 100) == "█" * BAR_WIDTH
    half = BAR_WIDTH // 2
    assert bar(50, 50, 100) == " " * half + "█" * half
    assert bar(0, 0.001, 100) == "█" + " " * (BAR_WIDTH - 1)  # always visible
    assert len(bar(99.9, 50, 100)) == BAR_WIDTH
