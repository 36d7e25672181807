"""Pacing events at a fixed rate against a monotonic schedule.

Event ``i`` (from 0) is due at ``start + i / rate``; waiting for it sleeps only
until that instant, so the time spent sending does not accumulate as drift
(as ``sleep(1 / rate)`` after each send would). When the sender falls behind by
more than ``max_lag`` seconds (a stalled broker, a suspended laptop) the
schedule restarts from now instead of bursting to catch up.
"""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["RateSchedule"]


class RateSchedule:
    """Due times of events at ``rate`` per second (``rate`` 0: no pacing at all)."""

    def __init__(
        self,
        rate: float,
        *,
        max_lag: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate < 0:
            raise ValueError(f"rate must be >= 0, not {rate}")
        self.rate = rate
        self.max_lag = max_lag
        self._clock = clock
        self._sleep = sleep
        self._start: float | None = None
        self._base = 0  # index of the event due at _start

    def due(self, index: int) -> float:
        """Clock time at which event ``index`` is due (the first call starts the schedule)."""
        if self._start is None:
            self._start = self._clock()
            self._base = index
        if self.rate == 0:
            return self._start
        return self._start + (index - self._base) / self.rate

    def wait(self, index: int) -> None:
        """Sleep until event ``index`` is due (no-op when it already is, or rate is 0)."""
        if self.rate == 0:
            return
        due = self.due(index)
        now = self._clock()
        if now - due > self.max_lag:
            self._start, self._base = now, index
            return
        while due > now:
            self._sleep(due - now)
            now = self._clock()
