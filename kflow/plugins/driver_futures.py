"""Bridges from driver callbacks (run on driver threads) to asyncio futures.

Every result crosses into the event loop through its :class:`LoopInbox`: a
queue with at most one wake-up of the loop pending, so a burst of driver
callbacks costs one wake-up, not one each.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import weakref
from collections import deque
from collections.abc import Callable
from typing import Any


class LoopInbox:
    """Thread-safe hand-off of calls to one event loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._calls: deque[tuple[Callable[..., None], tuple[Any, ...]]] = deque()
        self._lock = threading.Lock()
        self._scheduled = False

    def post(self, fn: Callable[..., None], *args: Any) -> None:
        """Have the loop call ``fn(*args)`` soon (from any thread)."""
        with self._lock:
            self._calls.append((fn, args))
            if self._scheduled:
                return
            self._scheduled = True
        with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits any more
            self._loop.call_soon_threadsafe(self._drain)

    def _drain(self) -> None:
        with self._lock:
            self._scheduled = False
            calls = list(self._calls)
            self._calls.clear()
        for fn, args in calls:
            fn(*args)


_inboxes: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, LoopInbox] = (
    weakref.WeakKeyDictionary()
)
_inboxes_lock = threading.Lock()


_last: tuple[asyncio.AbstractEventLoop, LoopInbox] | None = None  # a run has one loop


def inbox(loop: asyncio.AbstractEventLoop) -> LoopInbox:
    global _last
    last = _last
    if last is not None and last[0] is loop:
        return last[1]
    with _inboxes_lock:
        found = _inboxes.get(loop)
        if found is None:
            found = _inboxes[loop] = LoopInbox(loop)
        _last = (loop, found)
        return found


def resolve(future: asyncio.Future[Any], value: Any, error: BaseException | None) -> None:
    """Settle ``future`` unless it was settled or cancelled already (runs on its loop)."""
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(value)


def settle_from_thread(
    loop: asyncio.AbstractEventLoop,
) -> tuple[asyncio.Future[Any], Callable[[Any], None], Callable[[BaseException], None]]:
    """A future of ``loop`` and two thread-safe callbacks that resolve or fail it."""
    future: asyncio.Future[Any] = loop.create_future()
    box = inbox(loop)

    def ok(value: Any) -> None:
        box.post(resolve, future, value, None)

    def err(exc: BaseException) -> None:
        box.post(resolve, future, None, exc)

    return future, ok, err
