"""The one exception tree of kflow.

    KflowError
    ├── FlowError            a flow file cannot be used (load or validation)
    ├── ExpressionError      a template or jq program failed to compile or render
    ├── TaskError            a task failed while running (recorded on its task run)
    │   └── TaskTimeout      an attempt ran past the task's ``timeout``
    ├── NotSupportedError    a declared type or option whose runtime is not built
    ├── ConnectorError       a driver failed; raised at the connector boundary
    │   ├── KafkaError
    │   ├── CassandraError
    │   └── MongoError
    └── DataError            a CSV or event that cannot be used (seed, produce)

Driver exceptions never cross a connector boundary untranslated: each
connector catches them and raises the matching ``ConnectorError`` subclass
``from`` the original, so ``KFLOW_DEBUG=1`` can still show the cause.
"""

from __future__ import annotations


class KflowError(Exception):
    """Root of every error kflow raises on purpose."""


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


class ConnectorError(KflowError):
    """A driver of an external system failed."""

    service = "service"

    def __init__(self, message: str, *, address: str | None = None) -> None:
        super().__init__(message)
        self.address = address


class KafkaError(ConnectorError):
    service = "Kafka"


class CassandraError(ConnectorError):
    service = "Cassandra"


class MongoError(ConnectorError):
    service = "MongoDB"


class DataError(KflowError):
    """Input data (CSV rows, events) that cannot be used."""
