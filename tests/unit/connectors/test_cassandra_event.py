"""LazyEvent behaves as threading.Event: set, clear, is_set, wait with and without timeout,
a waiter in another thread woken by set."""

from __future__ import annotations

import threading

from kflow.connectors.cassandra_event import LazyEvent


def test_set_clear_and_wait_without_blocking() -> None:
    event = LazyEvent()
    assert not event.is_set() and not event.isSet()
    assert event.wait(0.01) is False  # times out, as threading.Event does
    event.set()
    assert event.is_set() and event.wait() is True
    event.clear()
    assert not event.is_set() and event.wait(0.01) is False


def test_a_waiting_thread_is_woken_by_set() -> None:
    event = LazyEvent()
    waiting = threading.Event()
    results: list[bool] = []

    def waiter() -> None:
        waiting.set()
        results.append(event.wait(30))

    thread = threading.Thread(target=waiter)
    thread.start()
    waiting.wait(30)
    event.set()
    thread.join(30)
    assert results == [True]


def test_many_waiters_and_a_set_racing_them_all_wake() -> None:
    """Waiters start while set() runs, over many rounds: none may miss the wake-up."""
    for _ in range(200):
        event = LazyEvent()
        results: list[bool] = []

        def wait(event: LazyEvent = event, results: list[bool] = results) -> None:
            results.append(event.wait(30))

        threads = [threading.Thread(target=wait) for _ in range(4)]
        for thread in threads[:2]:
            thread.start()
        event.set()
        for thread in threads[2:]:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert results == [True] * 4
