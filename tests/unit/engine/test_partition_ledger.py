"""The Kafka trigger's bookkeeping across rebalances (kflow.plugins.kafka_positions)."""

from __future__ import annotations

from kflow.plugins.kafka_positions import PartitionLedger

P0, P1 = ("orders", 0), ("orders", 1)


def test_records_read_before_a_revoke_never_start_even_when_the_partition_returns() -> None:
    ledger = PartitionLedger()
    ledger.assign({P0, P1}, {P0, P1})
    before = ledger.epoch(P0)
    assert ledger.is_current(P0, before)
    ledger.stop_starting([P0])
    assert not ledger.is_current(P0, before)
    assert ledger.is_current(P1, ledger.epoch(P1))  # the other partition is untouched
    ledger.assign({P0, P1}, {P0})
    assert not ledger.is_current(P0, before)
    assert ledger.is_current(P0, ledger.epoch(P0))


def test_the_resume_point_is_the_engines_position_else_the_first_offset_read() -> None:
    ledger = PartitionLedger()
    ledger.assign({P0, P1}, {P0, P1})
    ledger.read(P0, 100)
    ledger.read(P0, 150)  # only the first read of the assignment counts
    ledger.read(P1, 7)
    ledger.stop_starting([P0, P1])
    # the engine started records of P0 and would resume it at 120; none of P1
    assert ledger.revoked([P0, P1], {P0: 120}) == {P0: 120, P1: 7}


def test_nothing_read_means_no_resume_point_and_no_seek() -> None:
    ledger = PartitionLedger()
    ledger.assign({P0}, {P0})
    ledger.stop_starting([P0])
    assert ledger.revoked([P0], {}) == {}
    ledger.assign({P0}, {P0})
    assert ledger.to_position == set()


def test_a_partition_given_back_starts_at_the_further_of_commit_and_resume_point() -> None:
    ledger = PartitionLedger()
    ledger.assign({P0}, {P0})
    ledger.read(P0, 40)
    ledger.stop_starting([P0])
    ledger.revoked([P0], {P0: 55})
    ledger.assign({P0}, {P0})
    assert ledger.to_position == {P0}
    # the commit at the revoke did not go through: our own resume point is further
    assert ledger.position(P0, committed=50) == 55
    assert ledger.to_position == set()
    # another member worked on it meanwhile and committed further
    ledger.stop_starting([P0])
    ledger.revoked([P0], {})
    ledger.assign({P0}, {P0})
    assert ledger.position(P0, committed=90) == 90
    # no commit at all: our resume point
    ledger.assign({P0}, {P0})
    assert ledger.position(P0, committed=None) == 55


def test_the_assigned_set_is_replaced_never_changed_in_place() -> None:
    ledger = PartitionLedger()
    ledger.assign({P0, P1}, {P0, P1})
    seen = ledger.assigned
    ledger.stop_starting([P0])
    assert seen == {P0, P1}  # a reader iterating the old set is not disturbed
    assert ledger.assigned == {P1}
