"""ReceiveOrder: acknowledgements released in the order their messages arrived."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kflow.plugins.mqtt_acks import ReceiveOrder


def test_in_order_finishes_release_one_each() -> None:
    order: ReceiveOrder[int] = ReceiveOrder()
    seqs = [order.received(mid) for mid in (7, 8, 9)]
    assert seqs == [0, 1, 2]
    assert [order.finished(s) for s in seqs] == [[7], [8], [9]]
    assert order.waiting == 0


def test_a_later_message_waits_for_every_earlier_one() -> None:
    order: ReceiveOrder[str] = ReceiveOrder()
    a, b, c, d = (order.received(x) for x in "abcd")
    assert order.finished(d) == []
    assert order.finished(b) == []
    assert order.held == 2
    assert order.oldest() == "a"
    assert order.finished(a) == ["a", "b"]  # c still runs: d waits for it
    assert order.oldest() == "c"
    assert order.finished(c) == ["c", "d"]
    assert (order.waiting, order.held, order.oldest()) == (0, 0, None)


def test_numbers_go_on_across_releases_and_packet_ids_may_repeat() -> None:
    order: ReceiveOrder[int] = ReceiveOrder()
    first = order.received(1)
    assert order.finished(first) == [1]
    again = order.received(1)  # the broker reuses packet id 1 once it was acknowledged
    assert again == 1
    assert order.finished(again) == [1]


@pytest.mark.parametrize("bad", [-1, 1, 5])
def test_a_number_never_handed_out_is_refused(bad: int) -> None:
    order: ReceiveOrder[int] = ReceiveOrder()
    order.received(10)
    with pytest.raises(ValueError, match="not awaiting"):
        order.finished(bad)


def test_finishing_twice_is_refused_before_and_after_release() -> None:
    order: ReceiveOrder[int] = ReceiveOrder()
    a, b = order.received(1), order.received(2)
    order.finished(b)
    with pytest.raises(ValueError):
        order.finished(b)  # held, not released
    order.finished(a)
    with pytest.raises(ValueError):
        order.finished(a)  # released


@given(st.integers(min_value=1, max_value=60).flatmap(lambda n: st.permutations(range(n))))
def test_any_finish_order_releases_everything_once_in_receive_order(finish: list[int]) -> None:
    order: ReceiveOrder[int] = ReceiveOrder()
    for i in range(len(finish)):
        assert order.received(1000 + i) == i
    released: list[int] = []
    done: set[int] = set()
    for seq in finish:
        out = order.finished(seq)
        done.add(seq)
        released.extend(out)
        # released so far is exactly the longest finished prefix
        prefix = 0
        while prefix in done:
            prefix += 1
        assert released == [1000 + i for i in range(prefix)]
        assert order.waiting == len(finish) - prefix
    assert released == [1000 + i for i in range(len(finish))]
