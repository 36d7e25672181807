"""A lighter ``threading.Event`` for the Cassandra driver's request futures.

Every request the driver sends builds a ``ResponseFuture``, and every ``ResponseFuture`` a
``threading.Event``: a ``Condition`` and its lock, built in pure Python. kflow never waits on
those events (it takes results through callbacks), yet building them was about a tenth of
the GIL time of ``kflow run`` on the blog flow (py-spy ``--gil``, 20,000 lookups).

:class:`LazyEvent` keeps ``threading.Event``'s behaviour and makes the real event only when
a thread waits. :func:`use_lazy_events` has the driver's ``cassandra.cluster`` module build
these instead; it is called once, before kflow's first session.
"""

from __future__ import annotations

import threading

_make_lock = threading.Lock()


class LazyEvent:
    """``threading.Event``: ``set``, ``clear``, ``is_set`` and ``wait``, with the real event
    made on the first ``wait`` that has to block.

    Why it cannot miss a wake-up: a waiter stores the event, then reads the flag; ``set``
    writes the flag, then reads the event. Whichever runs second sees what the first wrote,
    so either ``set`` sets the event or the waiter sees the flag and sets it itself.
    """

    __slots__ = ("_event", "_flag")

    def __init__(self) -> None:
        self._flag = False
        self._event: threading.Event | None = None

    def is_set(self) -> bool:
        return self._flag

    isSet = is_set  # the old spelling threading.Event still has

    def set(self) -> None:
        self._flag = True
        event = self._event
        if event is not None:
            event.set()

    def clear(self) -> None:
        self._flag = False
        event = self._event
        if event is not None:
            event.clear()

    def wait(self, timeout: float | None = None) -> bool:
        if self._flag:
            return True
        with _make_lock:
            event = self._event
            if event is None:
                event = self._event = threading.Event()
        if self._flag:
            event.set()
        return event.wait(timeout)


def use_lazy_events() -> None:
    """Have ``cassandra.cluster`` (its ``ResponseFuture``) build :class:`LazyEvent`s; a driver
    whose module does not name ``threading.Event`` as ``Event`` is left as it is."""
    import cassandra.cluster as cluster

    if getattr(cluster, "Event", None) is threading.Event:
        cluster.Event = LazyEvent  # type: ignore[attr-defined,misc]
