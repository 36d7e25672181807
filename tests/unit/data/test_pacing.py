"""RateSchedule: events due on a fixed grid, no drift, no catch-up bursts."""

from __future__ import annotations

import pytest

from kflow.data.pacing import RateSchedule


class FakeClock:
    """A clock that advances only when slept on (plus any simulated work)."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_events_are_due_on_a_grid_from_the_first_one() -> None:
    clock = FakeClock()
    schedule = RateSchedule(4, clock=clock, sleep=clock.sleep)
    sent_at = []
    for index in range(5):
        schedule.wait(index)
        sent_at.append(clock.now)
    assert sent_at == [100.0, 100.25, 100.5, 100.75, 101.0]


def test_time_spent_sending_does_not_accumulate() -> None:
    clock = FakeClock()
    schedule = RateSchedule(10, clock=clock, sleep=clock.sleep)
    for index in range(21):
        schedule.wait(index)
        clock.now += 0.03  # sending takes 30 ms
    # Event 20 went out 2 s after event 0, not 20 * (0.1 + 0.03) s.
    assert clock.now - 0.03 == pytest.approx(102.0)


def test_a_long_stall_restarts_the_schedule_instead_of_bursting() -> None:
    clock = FakeClock()
    schedule = RateSchedule(10, max_lag=1.0, clock=clock, sleep=clock.sleep)
    schedule.wait(0)
    clock.now += 5.0  # stalled 5 s
    schedule.wait(1)
    assert clock.now == pytest.approx(105.0)
    schedule.wait(2)
    assert clock.now == pytest.approx(105.1)


def test_a_short_lag_is_caught_up_without_sleeping() -> None:
    clock = FakeClock()
    schedule = RateSchedule(10, clock=clock, sleep=clock.sleep)
    schedule.wait(0)
    clock.now += 0.35
    clock.sleeps.clear()
    for index in (1, 2, 3):
        schedule.wait(index)
    assert clock.sleeps == []
    schedule.wait(4)
    assert clock.now == pytest.approx(100.4)


def test_rate_zero_never_sleeps() -> None:
    clock = FakeClock()
    schedule = RateSchedule(0, clock=clock, sleep=clock.sleep)
    for index in range(1000):
        schedule.wait(index)
    assert clock.sleeps == []


def test_a_negative_rate_is_refused() -> None:
    with pytest.raises(ValueError, match="rate must be >= 0"):
        RateSchedule(-1)
