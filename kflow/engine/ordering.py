"""Keyed ordering: records with the same key run one after another, in offset order.

Records with different keys (or no key) may run concurrently.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass
class KeyedQueue(Generic[T]):
    """Admits at most one item per key at a time; holds back the rest in arrival order."""

    _waiting: dict[Hashable, deque[T]] = field(default_factory=dict)

    def admit(self, key: Hashable | None, item: T) -> bool:
        """True when ``item`` may start now; otherwise it waits behind its key."""
        if key is None:
            return True
        queue = self._waiting.get(key)
        if queue is None:
            self._waiting[key] = deque()
            return True
        queue.append(item)
        return False

    def release(self, key: Hashable | None) -> T | None:
        """The item with the same key that may start now that one finished, if any."""
        if key is None:
            return None
        queue = self._waiting.get(key)
        if queue is None:
            return None
        if queue:
            return queue.popleft()
        del self._waiting[key]
        return None

    def waiting(self) -> int:
        return sum(len(q) for q in self._waiting.values())
