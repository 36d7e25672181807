"""Acknowledgements released in the order their messages arrived, one connection at a time.

MQTT 3.1.1 §4.6 (and MQTT 5 §4.6) require a client to send its PUBACKs (QoS 1) and
PUBRECs (QoS 2) in the order the PUBLISH packets were received. kflow runs messages
concurrently, so their executions finish in any order: :class:`ReceiveOrder` holds back
the acknowledgement of a finished message until every message received before it on the
same connection has finished too, then releases them all, oldest first.

It is pure bookkeeping (no clock, no I/O, no locking): the caller numbers each message
when it arrives (:meth:`ReceiveOrder.received`), reports each one finished
(:meth:`ReceiveOrder.finished`) and sends what comes back. A new connection gets a new
``ReceiveOrder``: packet identifiers are 16-bit and reused, so an acknowledgement owed on
a connection that is gone must never be sent on the next one.
"""

from __future__ import annotations

from collections import deque
from typing import Generic, TypeVar

T = TypeVar("T")

__all__ = ["ReceiveOrder"]


class ReceiveOrder(Generic[T]):
    """Tokens (e.g. ``(packet id, qos)``) numbered in arrival order, released in that order.

    >>> order = ReceiveOrder[str]()
    >>> a, b, c = order.received("a"), order.received("b"), order.received("c")
    >>> order.finished(b)
    []
    >>> order.finished(a)
    ['a', 'b']
    >>> order.finished(c)
    ['c']
    """

    __slots__ = ("_base", "_done", "_tokens")

    def __init__(self) -> None:
        self._base = 0  # sequence number of the oldest token not released yet
        self._tokens: deque[T] = deque()
        self._done: deque[bool] = deque()

    def received(self, token: T) -> int:
        """Number the next message; its sequence number is what :meth:`finished` takes."""
        self._tokens.append(token)
        self._done.append(False)
        return self._base + len(self._tokens) - 1

    def finished(self, seq: int) -> list[T]:
        """Mark message ``seq`` finished; return the tokens that may be acknowledged now,
        in arrival order (empty while an earlier message is unfinished).

        Raises ``ValueError`` for a number never handed out or already finished.
        """
        index = seq - self._base
        if index < 0 or index >= len(self._done) or self._done[index]:
            raise ValueError(f"message {seq} is not awaiting its acknowledgement")
        self._done[index] = True
        released: list[T] = []
        while self._done and self._done[0]:
            self._done.popleft()
            released.append(self._tokens.popleft())
        self._base += len(released)
        return released

    @property
    def waiting(self) -> int:
        """Messages received and not released (unfinished, or finished behind one)."""
        return len(self._tokens)

    @property
    def held(self) -> int:
        """Finished messages whose acknowledgement waits behind an unfinished one."""
        return sum(self._done)

    def oldest(self) -> T | None:
        """The token of the oldest unreleased message (what everything else waits for)."""
        return self._tokens[0] if self._tokens else None
