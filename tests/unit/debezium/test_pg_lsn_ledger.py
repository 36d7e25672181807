"""The LSN a PostgreSQL trigger confirms: only past transactions whose changes all finished."""

from __future__ import annotations

from kflow.plugins.debezium_postgres_lsn import ConfirmLedger


def test_confirms_a_transaction_only_when_all_its_changes_finished() -> None:
    ledger = ConfirmLedger(100)
    ledger.begin()
    a, b = ledger.change(), ledger.change()
    ledger.commit(200)
    assert ledger.confirmed == 100 and ledger.in_flight == 2
    assert not ledger.finished(b)
    assert ledger.confirmed == 100
    assert ledger.finished(a)
    assert ledger.confirmed == 200 and ledger.in_flight == 0


def test_never_past_an_earlier_unfinished_transaction() -> None:
    ledger = ConfirmLedger(0)
    ledger.begin()
    first = ledger.change()
    ledger.commit(10)
    ledger.begin()
    second = ledger.change()
    ledger.commit(20)
    ledger.begin()
    third = ledger.change()
    ledger.commit(30)
    ledger.finished(third)
    ledger.finished(second)
    assert ledger.confirmed == 0  # the first is still running
    ledger.finished(first)
    assert ledger.confirmed == 30


def test_an_open_transaction_holds_the_position_even_when_its_changes_finished() -> None:
    ledger = ConfirmLedger(0)
    ledger.begin()
    ledger.finished(ledger.change())
    assert ledger.confirmed == 0  # its commit was not read: more changes may follow
    ledger.idle(500)  # a keepalive inside a transaction is not a boundary
    assert ledger.confirmed == 0
    ledger.commit(40)
    assert ledger.confirmed == 40


def test_empty_transactions_and_keepalives_move_the_position_when_nothing_runs() -> None:
    ledger = ConfirmLedger(5)
    ledger.begin()
    ledger.commit(10)  # only tables the trigger does not capture
    assert ledger.confirmed == 10
    ledger.idle(50)
    assert ledger.confirmed == 50
    ledger.idle(40)  # never backwards
    assert ledger.confirmed == 50


def test_a_keepalive_while_work_runs_waits_for_that_work() -> None:
    ledger = ConfirmLedger(0)
    ledger.begin()
    token = ledger.change()
    ledger.commit(10)
    ledger.idle(60)
    ledger.idle(70)
    assert ledger.confirmed == 0 and ledger.pending_transactions == 2
    ledger.finished(token)
    assert ledger.confirmed == 70 and ledger.pending_transactions == 0


def test_the_snapshot_finishes_before_any_streamed_position_is_confirmed() -> None:
    ledger = ConfirmLedger(100)
    ledger.begin_snapshot()
    rows = [ledger.change() for _ in range(3)]
    ledger.end_snapshot()
    ledger.begin()
    streamed = ledger.change()
    ledger.commit(150)
    ledger.finished(streamed)
    assert ledger.confirmed == 100 and not ledger.snapshot_finished
    for row in rows:
        ledger.finished(row)
    assert ledger.snapshot_finished and ledger.confirmed == 150


def test_an_empty_snapshot_is_finished_at_once() -> None:
    ledger = ConfirmLedger(1)
    ledger.begin_snapshot()
    ledger.end_snapshot()
    assert ledger.snapshot_finished and ledger.confirmed == 1


def test_a_token_finished_twice_counts_once() -> None:
    ledger = ConfirmLedger(0)
    ledger.begin()
    a, b = ledger.change(), ledger.change()
    ledger.commit(9)
    ledger.finished(a)
    assert not ledger.finished(a)
    assert ledger.in_flight == 1 and ledger.confirmed == 0
    ledger.finished(b)
    assert ledger.in_flight == 0 and ledger.confirmed == 9
