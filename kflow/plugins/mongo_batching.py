"""Coalescing the inserts of concurrent executions into ``insert_many`` calls.

Each execution still waits for its own document's acknowledgement and gets
its own id or error (``ordered=False``: one bad document fails only its own
execution). While one ``insert_many`` is in flight, the documents of other
executions queue up and go in the next one, so batches grow with load and
stay at one document when traffic is light.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from typing import Any

from kflow.connectors.mongodb import mongo_errors
from kflow.plugins.driver_futures import inbox, resolve

MAX_BATCH = 500

_Waiter = tuple[dict[str, Any], asyncio.Future[Any], asyncio.AbstractEventLoop]


class InsertBatcher:
    """Inserts documents into one collection, many at a time."""

    def __init__(
        self,
        collection: Any,
        address: str,
        run_in_thread: Callable[[Callable[[], None]], Awaitable[None]],
    ) -> None:
        self.collection = collection
        self.address = address
        self._run_in_thread = run_in_thread
        self._queue: list[_Waiter] = []
        self._lock = threading.Lock()
        self._draining = False
        self.batches = 0

    async def insert(self, doc: dict[str, Any]) -> Any:
        """Insert ``doc``; returns its ``_id`` once the server acknowledged it."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        with self._lock:
            self._queue.append((doc, future, loop))
            start = not self._draining
            self._draining = True
        if start:
            drain = asyncio.ensure_future(self._run_in_thread(self._drain))
            drain.add_done_callback(lambda _: None)
        return await future

    def _drain(self) -> None:
        while True:
            with self._lock:
                batch = self._queue[:MAX_BATCH]
                del self._queue[:MAX_BATCH]
                if not batch:
                    self._draining = False
                    return
            self._insert(batch)

    def _insert(self, batch: list[_Waiter]) -> None:
        from pymongo.errors import BulkWriteError

        docs = [doc for doc, _, _ in batch]
        failed: dict[int, BaseException] = {}
        try:
            with mongo_errors(self.address):
                try:
                    self.collection.insert_many(docs, ordered=False)
                except BulkWriteError as exc:
                    for error in exc.details.get("writeErrors", []):
                        failed[error["index"]] = _write_error(error, self.address)
                    if not failed:
                        raise
            self.batches += 1
        except BaseException as exc:  # the whole batch failed: every execution hears why
            _settle_all([(future, loop, None, exc) for _, future, loop in batch])
            return
        _settle_all(
            [
                (future, loop, doc.get("_id"), failed.get(index))
                for index, (doc, future, loop) in enumerate(batch)
            ]
        )


def _write_error(error: dict[str, Any], address: str) -> BaseException:
    from kflow.errors import MongoError

    code = error.get("code")
    message = error.get("errmsg", "write error")
    kind = "duplicate key" if code == 11000 else f"write error {code}"
    return MongoError(f"MongoDB at {address} refused the document ({kind}): {message}")


def _settle_all(
    results: list[tuple[asyncio.Future[Any], asyncio.AbstractEventLoop, Any, BaseException | None]],
) -> None:
    """Hand a whole batch's results to their loops: one wake-up per loop, not per document."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[Any, Any, Any]]] = {}
    for future, loop, value, error in results:
        by_loop.setdefault(loop, []).append((future, value, error))
    for loop, items in by_loop.items():
        inbox(loop).post(_resolve_many, items)


def _resolve_many(items: list[tuple[asyncio.Future[Any], Any, BaseException | None]]) -> None:
    for future, value, error in items:
        resolve(future, value, error)
