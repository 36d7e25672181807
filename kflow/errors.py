"""The one exception tree of kflow.

    KflowError
    ├── FlowError            a flow file cannot be used (load or validation)
    ├── ExpressionError      a template or jq program failed to compile or render
    ├── TaskError            a task failed while running (recorded on its task run)
    │   └── TaskTimeout      an attempt ran past the task's ``timeout``
    ├── NotSupportedError    a declared type or option whose runtime is not built
    ├── UsageError           a command-line option that cannot be used
    ├── RunError             a run of many flows cannot start, or one flow stopped it
    ├── ConnectorError       a driver failed; raised at the connector boundary
    │   ├── KafkaError
    │   ├── CassandraError
    │   ├── MongoError
    │   ├── AmqpError
    │   └── MqttError
    └── DataError            a CSV or event that cannot be used (seed, produce)

Driver exceptions never cross a connector boundary untranslated: each
connector catches them and raises the matching ``ConnectorError`` subclass
``from`` the original, so ``KFLOW_DEBUG=1`` can still show the cause.

``retryable`` says whether trying again may help: a connection refused or a
timeout may, a duplicate key, a bad expression or a missing property will not.
"""

from __future__ import annotations


class KflowError(Exception):
    """Root of every error kflow raises on purpose."""

    retryable = False


def is_retryable(exc: BaseException) -> bool:
    """Whether an error is worth trying again (unknown exceptions are not)."""
    return bool(getattr(exc, "retryable", False))


class FlowError(KflowError):
    """A flow file cannot be loaded or is invalid."""


class ExpressionError(KflowError):
    """A template or jq program failed to compile or to render."""


class TaskError(KflowError):
    """A task failed while running."""


class TaskTimeout(TaskError):
    """A task attempt ran longer than its ``timeout``."""


class NotSupportedError(KflowError):
    """A declared task, trigger or option that kflow does not run yet."""


class UsageError(KflowError):
    """A command-line option or argument that cannot be used."""


class RunError(KflowError):
    """A run of many flows cannot start, or one of its flows stopped it."""


class ConnectorError(KflowError):
    """A driver of an external system failed (by default: worth retrying)."""

    service = "service"

    def __init__(self, message: str, *, address: str | None = None, retryable: bool = True) -> None:
        super().__init__(message)
        self.address = address
        self.retryable = retryable


class KafkaError(ConnectorError):
    service = "Kafka"


class CassandraError(ConnectorError):
    service = "Cassandra"


class MongoError(ConnectorError):
    service = "MongoDB"


class AmqpError(ConnectorError):
    service = "RabbitMQ"


class MqttError(ConnectorError):
    service = "MQTT"


class DataError(KflowError):
    """Input data (CSV rows, events) that cannot be used."""
