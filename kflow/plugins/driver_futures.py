"""Bridges from driver callbacks (run on driver threads) to asyncio futures."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any


def settle_from_thread(
    loop: asyncio.AbstractEventLoop,
) -> tuple[asyncio.Future[Any], Callable[[Any], None], Callable[[BaseException], None]]:
    """A future of ``loop`` and two thread-safe callbacks that resolve or fail it."""
    future: asyncio.Future[Any] = loop.create_future()

    def _ok(value: Any) -> None:
        if not future.done():
            future.set_result(value)

    def _err(exc: BaseException) -> None:
        if not future.done():
            future.set_exception(exc)

    def ok(value: Any) -> None:
        loop.call_soon_threadsafe(_ok, value)

    def err(exc: BaseException) -> None:
        loop.call_soon_threadsafe(_err, exc)

    return future, ok, err
