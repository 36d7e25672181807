"""Ages (``7d``, ``12h``, ``30m``, ``45s``) and points in time (an age ago, or ISO 8601)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from kflow.errors import UsageError

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_AGE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$", re.IGNORECASE)


def parse_age(text: str, option: str) -> float:
    """Seconds in ``text`` (``7d``, ``12h``, ``30m``, ``45s``, ``2w``); ``option`` names the
    flag in the error."""
    match = _AGE.match(text)
    if match is None:
        raise UsageError(f"{option}: {text!r} is not an age such as 30m, 12h or 7d")
    return float(match.group(1)) * _UNITS[match.group(2).lower()]


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """``--since``: an age ago (``1h``) or an ISO 8601 date or time (UTC unless it says)."""
    now = now or datetime.now(UTC)
    if _AGE.match(text):
        return now - timedelta(seconds=parse_age(text, "--since"))
    try:
        when = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(
            f"--since: {text!r} is neither an age (1h, 7d) nor an ISO date (2026-12-01T10:00)"
        ) from None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)
