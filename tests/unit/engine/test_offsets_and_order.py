"""Pure bookkeeping: offset tracking, keyed ordering, retry delays."""

from __future__ import annotations

from kflow.engine.ordering import KeyedQueue
from kflow.engine.retry import next_delay
from kflow.flow.model import RetryPolicy, RetryType
from kflow.plugins.kafka_offsets import OffsetTracker

TP = ("orders", 0)


def test_commit_position_is_the_oldest_unfinished_offset() -> None:
    t = OffsetTracker()
    parts = {o: t.started(TP, o) for o in (5, 6, 7)}
    part = parts[5]
    assert part is not None and parts[6] is part
    t.finished(part, 6)
    t.finished(part, 7)
    assert t.committable() == {TP: 5}
    t.finished(part, 5)
    assert t.committable() == {TP: 8}
    assert t.committable() == {}  # nothing moved since


def test_gaps_in_offsets_do_not_stall_commits() -> None:
    t = OffsetTracker()
    for o in (10, 13, 20):
        part = t.started(TP, o)
        assert part is not None
        t.finished(part, o)
    assert t.committable() == {TP: 21}


def test_forgotten_partitions_are_never_committed() -> None:
    t = OffsetTracker()
    part = t.started(TP, 1)
    assert part is not None
    t.forget([TP])
    t.finished(part, 1)
    assert t.committable() == {}
    assert not t.holds(TP, part)


def test_work_started_before_a_revoke_does_not_count_after_it() -> None:
    t = OffsetTracker()
    old = t.started(TP, 3)
    assert old is not None
    t.forget([TP])
    new = t.started(TP, 3)  # the partition came back: redelivered from the committed offset
    assert new is not None and new is not old
    t.finished(old, 3)  # the stale execution ending must not release the new one
    assert t.committable() == {TP: 3}
    t.finished(new, 3)
    assert t.committable() == {TP: 4}


def test_an_offset_not_past_the_last_started_is_not_tracked() -> None:
    t = OffsetTracker()
    assert t.started(TP, 3) is not None
    assert t.started(TP, 3) is None
    assert t.started(TP, 2) is None


def test_keyed_queue_holds_back_same_key_items() -> None:
    q: KeyedQueue[int] = KeyedQueue()
    assert q.admit("a", 1)
    assert not q.admit("a", 2)
    assert q.admit("b", 3)
    assert q.admit(None, 4) and q.admit(None, 5)
    assert q.waiting() == 1
    assert q.release("a") == 2
    assert q.release("a") is None
    assert q.admit("a", 6)


def test_retry_delays() -> None:
    const = RetryPolicy(RetryType.CONSTANT, max_attempts=3, interval=2.0)
    assert next_delay(const, 1, 0) == 2.0
    assert next_delay(const, 3, 0) is None
    exp = RetryPolicy(RetryType.EXPONENTIAL, max_attempts=10, interval=1.0, max_interval=5.0)
    assert [next_delay(exp, n, 0) for n in (1, 2, 3, 4)] == [1.0, 2.0, 4.0, 5.0]
    bounded = RetryPolicy(RetryType.CONSTANT, max_duration=3.0, interval=2.0)
    assert next_delay(bounded, 1, 0.5) == 2.0
    assert next_delay(bounded, 2, 2.5) is None
    rnd = RetryPolicy(RetryType.RANDOM, max_attempts=5, min_interval=1.0, max_interval=2.0)
    assert all(1.0 <= (next_delay(rnd, 1, 0) or 0) <= 2.0 for _ in range(50))


def test_ids_are_22_base62_characters_and_unique() -> None:
    import re

    from kflow.engine.ids import new_id

    ids = {new_id() for _ in range(20_000)}
    assert len(ids) == 20_000
    assert all(re.fullmatch(r"[0-9A-Za-z]{22}", i) for i in ids)


def test_positions_say_where_work_resumes_even_when_already_handed_out() -> None:
    tracker = OffsetTracker()
    a = tracker.started(("t", 0), 10)
    tracker.started(("t", 0), 11)
    tracker.started(("t", 1), 3)
    assert a is not None
    tracker.finished(a, 10)
    assert tracker.committable() == {("t", 0): 11, ("t", 1): 3}
    # a revoke needs the resume point whether or not it moved since the last commit
    assert tracker.positions([("t", 0), ("t", 1), ("t", 2)]) == {("t", 0): 11, ("t", 1): 3}


def test_in_flight_counts_per_partition() -> None:
    tracker = OffsetTracker()
    for offset in (1, 2, 3):
        tracker.started(("t", 0), offset)
    tracker.started(("t", 1), 7)
    assert tracker.in_flight() == 4
    assert tracker.in_flight([("t", 0)]) == 3
    assert tracker.in_flight([("t", 1), ("t", 9)]) == 1
