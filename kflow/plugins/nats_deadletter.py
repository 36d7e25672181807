"""NATS dead letters: the message of an execution that finally failed is published to a
subject (``kflow run --dead-letter SUBJECT``) before the original is acknowledged.

The copy keeps the data and headers unchanged and gains ``Kflow-*`` headers saying which
flow, execution and task failed, why, and where the message came from. When a stream holds
the subject, JetStream acknowledges the copy (a ``PubAck``) before the original is
acknowledged; otherwise it is a core publish followed by a flush. Until then the publish is
retried (a server outage stalls the acknowledgements instead of losing messages).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from kflow.connectors.masking import mask
from kflow.connectors.nats import NatsError, nats_errors
from kflow.engine.delivery import until_acknowledged
from kflow.engine.execution import Execution
from kflow.plugins.nats_record import NatsMessage

if TYPE_CHECKING:
    from kflow.plugins.nats_trigger import RealtimeTrigger

PUBLISH_TIMEOUT_S = 5.0


def covers(filter_subject: str, subject: str) -> bool:
    """Whether the subject filter ``filter_subject`` (``*`` and ``>``) matches ``subject``."""
    want, have = filter_subject.split("."), subject.split(".")
    for i, token in enumerate(want):
        if token == ">":
            return len(have) > i
        if i >= len(have) or (token != "*" and token != have[i]):
            return False
    return len(want) == len(have)


def dead_letter_headers(execution: Execution) -> dict[str, str]:
    t = execution.trigger
    assert isinstance(t, NatsMessage)
    original = dict(t.msg.headers or {}) if t.msg is not None else {}
    return {
        **{str(k): str(v) for k, v in original.items()},
        "Kflow-Flow": f"{execution.namespace}.{execution.flow_id}",
        "Kflow-Execution-Id": execution.id,
        "Kflow-Failed-Task": execution.failed_task or "",
        "Kflow-Error": " ".join(mask(execution.error or "failed").split()),
        "Kflow-Source-Subject": t.subject or "",
        "Kflow-Source-Sequence": str(t.stream_seq or ""),
    }


class NatsDeadLetter:
    """Publishes the messages of FAILED executions to ``subject`` on the trigger's connection."""

    def __init__(self, trigger: RealtimeTrigger, subject: str) -> None:
        self.trigger = trigger
        self.subject = subject
        self._in_stream: bool | None = None
        self.sent = 0

    def wants(self, execution: Execution) -> bool:
        return execution.state.value == "FAILED"

    async def send(self, execution: Execution, stopping: asyncio.Event | None = None) -> None:
        """Publish and wait for the server, retrying until it answers; raise NatsError once a
        stop was asked and retries reached their longest interval."""
        await until_acknowledged(lambda: self._send_once(execution), stopping)
        self.sent += 1

    async def _send_once(self, execution: Execution) -> None:
        from nats.js import errors as je

        nc = self.trigger.connection
        address = self.trigger.settings.address
        if nc is None or not nc.is_connected:
            raise NatsError(f"dead letter: not connected to NATS at {address}", address=address)
        t = execution.trigger
        assert isinstance(t, NatsMessage)
        data = t.raw_value or b""
        headers = dead_letter_headers(execution)
        prefix = f"dead letter to {self.subject}: "
        with nats_errors(address, prefix):
            js = nc.jetstream()
            if self._in_stream is None:
                try:
                    await js.find_stream_name_by_subject(self.subject)
                    self._in_stream = True
                except je.NotFoundError:
                    self._in_stream = False
            if self._in_stream:
                await js.publish(self.subject, data, headers=headers, timeout=PUBLISH_TIMEOUT_S)
            else:
                await nc.publish(self.subject, data, headers=headers)
                await nc.flush(timeout=int(PUBLISH_TIMEOUT_S))

    async def close(self) -> None:
        """Nothing of its own to close: the copy goes out on the trigger's connection."""
