"""Which LSN the PostgreSQL trigger may confirm to its replication slot.

The slot's ``confirmed_flush_lsn`` is a promise: after a reconnect (or a new ``kflow run``)
PostgreSQL sends only the transactions that commit past it. So it may only move past a
transaction once every change of it, and of every transaction streamed before it, has
finished its execution. It moves at transaction boundaries (a commit's end LSN), never in
the middle of one: PostgreSQL would send the whole transaction again anyway.

:class:`ConfirmLedger` keeps, in stream order, one entry per transaction (and one for the
initial snapshot) with the number of its changes still running:

- :meth:`begin`, :meth:`change`, :meth:`commit` follow the stream; ``change`` returns the
  token the record carries;
- :meth:`finished` is called when a change's execution is over (or it was dropped by the
  trigger's filters);
- :meth:`idle` records a position the server reports between transactions (a keepalive's
  WAL end, a transaction of tables not captured): safe once what came before finished;
- :attr:`confirmed` is the LSN to send as ``flush_lsn``.

Thread-safe (the replication thread reads, the event loop acknowledges).
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass


@dataclass(eq=False, slots=True)
class Entry:
    """A transaction (or the snapshot, or a bare position) in stream order."""

    end_lsn: int | None = None  # known at commit; None while open (and for the snapshot)
    running: int = 0  # changes handed over and not finished
    closed: bool = False  # its commit (or the end of the snapshot) was read
    snapshot: bool = False
    changes: int = 0


@dataclass(eq=False, slots=True)
class Token:
    """One change handed over; finishing it twice counts once."""

    entry: Entry
    done: bool = False


class ConfirmLedger:
    """In-flight changes by transaction, and the highest LSN safe to confirm."""

    def __init__(self, confirmed: int) -> None:
        self._lock = threading.Lock()
        self._entries: deque[Entry] = deque()
        self._open: Entry | None = None
        self.confirmed = confirmed
        self.snapshot_finished = False
        self.in_flight = 0

    # the stream (replication thread) ------------------------------------------------

    def begin_snapshot(self) -> None:
        with self._lock:
            self._open = Entry(snapshot=True)
            self._entries.append(self._open)

    def end_snapshot(self) -> None:
        with self._lock:
            if self._open is not None and self._open.snapshot:
                self._open.closed = True
                self._open = None
            self._advance()

    def begin(self) -> None:
        with self._lock:
            self._open = Entry()
            self._entries.append(self._open)

    def change(self) -> Token:
        """A change of the open transaction (or snapshot) was handed over: its token."""
        with self._lock:
            entry = self._open
            if entry is None:  # a change outside a transaction: its own entry
                entry = Entry()
                self._entries.append(entry)
            entry.running += 1
            entry.changes += 1
            self.in_flight += 1
            return Token(entry)

    def commit(self, end_lsn: int) -> None:
        with self._lock:
            entry = self._open
            if entry is None or entry.snapshot:
                entry = Entry()
                self._entries.append(entry)
            entry.end_lsn = end_lsn
            entry.closed = True
            self._open = None
            self._advance()

    def idle(self, lsn: int) -> None:
        """``lsn`` was reached between transactions with nothing more to run for it."""
        with self._lock:
            if self._open is not None or lsn <= self.confirmed:
                return
            if self._entries and self._entries[-1].running == 0 and self._entries[-1].closed:
                last = self._entries[-1]  # extend a finished tail instead of growing the queue
                if not last.snapshot:
                    last.end_lsn = max(last.end_lsn or 0, lsn)
                    self._advance()
                    return
            self._entries.append(Entry(end_lsn=lsn, closed=True))
            self._advance()

    # acknowledgements (event loop) --------------------------------------------------

    def finished(self, token: Token) -> bool:
        """A change's execution is over; True when :attr:`confirmed` moved."""
        with self._lock:
            if token.done:
                return False
            token.done = True
            token.entry.running -= 1
            self.in_flight -= 1
            before = self.confirmed
            self._advance()
            return self.confirmed != before

    def _advance(self) -> None:
        while self._entries:
            first = self._entries[0]
            if not first.closed or first.running:
                return
            self._entries.popleft()
            if first.snapshot:
                self.snapshot_finished = True
            if first.end_lsn is not None and first.end_lsn > self.confirmed:
                self.confirmed = first.end_lsn

    @property
    def pending_transactions(self) -> int:
        with self._lock:
            return len(self._entries)
