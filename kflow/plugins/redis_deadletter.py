"""``--dead-letter LIST`` for Redis: each finally failed element is pushed to LIST first.

The copy is the element unchanged (a list element has nothing else to carry), pushed
with ``RPUSH`` so that LIST reads oldest first, on the trigger's own client. The element
leaves its processing list only after Redis answered the push; while Redis is away the
push is retried (``kflow.engine.delivery``): an outage stalls the removal, never loses
the element.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from kflow.connectors.redis import redis_errors
from kflow.engine.delivery import until_acknowledged
from kflow.engine.execution import Execution
from kflow.engine.states import State
from kflow.plugins.redis_record import RedisElement

if TYPE_CHECKING:
    from kflow.plugins.redis_trigger import RealtimeTrigger


class RedisDeadLetter:
    """Pushes the elements of FAILED executions to a list of the trigger's server."""

    def __init__(self, source: RealtimeTrigger, target: str) -> None:
        self.source = source
        self.target = target
        self.sent = 0
        self._prefix = f"{source.what}: dead-letter list {target}: "

    def wants(self, execution: Execution) -> bool:
        return execution.state is State.FAILED

    async def send(self, execution: Execution, stopping: asyncio.Event | None = None) -> None:
        record = execution.trigger
        assert isinstance(record, RedisElement)
        raw = record.raw_value if record.raw_value is not None else b""

        async def push() -> None:
            with redis_errors(self.source.settings.address, self._prefix):
                await self.source.redis.rpush(self.target, raw)

        if await until_acknowledged(push, stopping):
            self.sent += 1
