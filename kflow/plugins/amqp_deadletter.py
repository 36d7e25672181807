"""``--dead-letter QUEUE`` for RabbitMQ: a copy of each finally failed message, then the ack.

The copy has the same body and properties, with ``kflow.*`` headers added
saying which flow and execution failed, which task, why, and where the message
came from. It goes to QUEUE through the default exchange, on a channel of the
trigger's connection with publisher confirms, ``mandatory`` set (a queue that
went missing returns the message instead of dropping it). The service
acknowledges the original only after the broker confirmed the copy.

A copy whose original came on a channel that has died is not sent: that
original is delivered again by the broker, and copied when it fails again.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any

from kflow.connectors.amqp import amqp_errors, error_line
from kflow.connectors.masking import mask
from kflow.engine.delivery import until_acknowledged
from kflow.engine.execution import Execution
from kflow.engine.states import State
from kflow.errors import AmqpError
from kflow.plugins.amqp_record import AmqpMessage

if TYPE_CHECKING:
    from aiormq.abc import AbstractChannel, AbstractConnection

    from kflow.plugins.amqp_trigger import RealtimeTrigger

PUBLISH_TIMEOUT_S = 30.0


def dead_letter_properties(execution: Execution) -> Any:
    """The original message's properties with the ``kflow.*`` headers added."""
    from pamqp.commands import Basic

    record = execution.trigger
    assert isinstance(record, AmqpMessage)
    original = record.properties
    values: dict[str, Any] = {
        name: getattr(original, name, None) for name in Basic.Properties.__slots__
    }
    headers = dict(values.get("headers") or {})
    headers.update(
        {
            "kflow.flow": f"{execution.namespace}.{execution.flow_id}",
            "kflow.execution.id": execution.id,
            "kflow.failed.task": execution.failed_task or "",
            "kflow.error": mask(execution.error or "failed"),
            "kflow.source.queue": record.queue or "",
            "kflow.source.exchange": record.exchange or "",
            "kflow.source.routing.key": record.routing_key or "",
        }
    )
    values["headers"] = headers
    values["cluster_id"] = values.get("cluster_id") or ""
    return Basic.Properties(**values)


class AmqpDeadLetter:
    """Publishes failed executions' messages to a queue on the trigger's broker."""

    def __init__(self, source: RealtimeTrigger, queue: str) -> None:
        self.source = source
        self.queue = queue
        self.sent = 0
        self._channel: AbstractChannel | None = None
        self._prefix = f"{source.what}: dead-letter queue {queue}: "

    def wants(self, execution: Execution) -> bool:
        return execution.state is State.FAILED

    async def open(self, connection: AbstractConnection) -> None:
        """A confirming channel on the trigger's (new) connection; the queue declared durable
        when it does not exist (a passive declare first: an existing queue is left as it is)."""
        with amqp_errors(self.source.settings.address, self._prefix):
            probe = await connection.channel(publisher_confirms=False)
            try:
                await probe.queue_declare(self.queue, passive=True)
            except Exception as exc:
                from aiormq.exceptions import ChannelNotFoundEntity

                if not isinstance(exc, ChannelNotFoundEntity):
                    raise
                declarer = await connection.channel(publisher_confirms=False)
                await declarer.queue_declare(self.queue, durable=True)
                await declarer.close()
            else:
                await probe.close()
            self._channel = await connection.channel(publisher_confirms=True)

    async def send(self, execution: Execution, stopping: asyncio.Event | None = None) -> None:
        """Publish the copy and wait for the broker's confirm, retrying until it comes."""
        record = execution.trigger
        assert isinstance(record, AmqpMessage)

        def moot() -> bool:  # its delivery died with its channel: the broker delivers it again
            return not self.source.auto_ack and record.generation != self.source.generation

        if await until_acknowledged(
            lambda: self._send_once(execution, record), stopping, moot=moot
        ):
            self.sent += 1

    async def _send_once(self, execution: Execution, record: AmqpMessage) -> None:
        address = self.source.settings.address
        channel = await self._usable_channel()
        with amqp_errors(address, self._prefix):
            await asyncio.wait_for(
                channel.basic_publish(
                    record.raw_value or b"",
                    exchange="",
                    routing_key=self.queue,
                    properties=dead_letter_properties(execution),
                    mandatory=True,
                ),
                PUBLISH_TIMEOUT_S,
            )

    async def _usable_channel(self) -> AbstractChannel:
        channel = self._channel
        if channel is not None and not channel.is_closed:
            return channel
        connection = self.source.connection
        if connection is None or connection.is_closed:
            message = f"the connection to RabbitMQ at {self.source.settings.address} is down"
            raise AmqpError(self._prefix + message)
        try:
            await self.open(connection)
        except AmqpError:
            raise
        except Exception as exc:
            raise AmqpError(
                self._prefix + error_line(exc, self.source.settings.address)[0]
            ) from exc
        assert self._channel is not None
        return self._channel

    async def close(self) -> None:
        channel, self._channel = self._channel, None
        if channel is not None and not channel.is_closed:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(channel.close(), 5)
