"""Delivering a copy (a dead letter) until the broker acknowledges it.

One rule for every source's dead-letter writer: an error worth retrying
(``kflow.errors.is_retryable``: a broker away, a timeout) is tried again with a
doubling pause, 0.5 s up to 10 s, so an outage stalls the record instead of
losing it; any other error is raised at once. Once the run is stopping, the
writer gives up (raising the last error) when the pause has reached its longest.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from kflow.errors import is_retryable

RETRY_INITIAL_S = 0.5
RETRY_MAX_S = 10.0


async def until_acknowledged(
    attempt: Callable[[], Awaitable[None]],
    stopping: asyncio.Event | None = None,
    *,
    moot: Callable[[], bool] = lambda: False,
) -> bool:
    """Await ``attempt()`` until it succeeds (True). ``moot()`` True before a try means the
    copy is no longer needed (e.g. the original will be delivered again): False, no try."""
    delay = RETRY_INITIAL_S
    while True:
        if moot():
            return False
        try:
            await attempt()
            return True
        except Exception as exc:
            if not is_retryable(exc):
                raise
            if stopping is not None and stopping.is_set() and delay >= RETRY_MAX_S:
                raise
            await asyncio.sleep(delay)
            delay = min(delay * 2, RETRY_MAX_S)
