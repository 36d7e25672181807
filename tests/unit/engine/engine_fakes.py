"""In-process fakes for engine tests: task runtimes and Kafka-like records (the source
of service tests is the library's own ``MemorySource``)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any

from kflow.engine.task import TaskContext, TaskRunner
from kflow.errors import TaskError
from kflow.flow.model import Flow, RetryPolicy, TaskDef
from kflow.flow.registry import TypeSpec
from kflow.plugins.kafka_record import KafkaRecord

FAKES = "engine_fakes"
CALLS: list[tuple[str, Any]] = []


def spec(runner: str, flowable: bool = False) -> TypeSpec:
    return TypeSpec(
        name=f"test.{runner}", kind="task", properties={}, runner=runner, flowable=flowable
    )


def task(task_id: str, runner: str, **props: Any) -> TaskDef:
    common = {k: props.pop(k) for k in list(props) if k in _COMMON}
    return TaskDef(id=task_id, type=f"test.{runner}", spec=spec(runner), props=props, **common)


_COMMON = {"retry", "timeout", "disabled", "allow_failure", "allow_warning", "run_if"}


def flow(tasks: list[TaskDef], **extra: Any) -> Flow:
    return Flow(id="f", namespace="test", tasks=tasks, **extra)


def constant(attempts: int, interval: float = 0.0, **kw: Any) -> RetryPolicy:
    from kflow.flow.model import RetryType

    return RetryPolicy(RetryType.CONSTANT, max_attempts=attempts, interval=interval, **kw)


class Record(TaskRunner):
    """Records that it ran (with the trigger value) and outputs what it was given."""

    async def run(self, ctx: TaskContext) -> Mapping[str, Any]:
        CALLS.append((self.task.id, ctx.variables["trigger"]["value"]))
        return {"seen": ctx.variables["trigger"]["value"], **self.task.props}


class FailTimes(TaskRunner):
    """Fails its first ``times`` attempts of each execution."""

    async def run(self, ctx: TaskContext) -> Mapping[str, Any]:
        if ctx.task_run.attempts <= int(self.task.props.get("times", 1)):
            raise TaskError(f"boom {ctx.task_run.attempts}")
        return {"attempts": ctx.task_run.attempts}


class Sleep(TaskRunner):
    """Sleeps ``seconds`` (or the value's ``sleep`` field), tracking how many run at once."""

    running = 0
    peak = 0

    async def run(self, ctx: TaskContext) -> Mapping[str, Any]:
        cls = type(self)
        cls.running += 1
        cls.peak = max(cls.peak, cls.running)
        try:
            value = ctx.variables["trigger"]["value"]
            delay = value.get("sleep", 0) if isinstance(value, dict) else self.task.props["s"]
            await asyncio.sleep(delay)
        finally:
            cls.running -= 1
        CALLS.append((self.task.id, ctx.variables["trigger"]["value"]))
        return None


class Hold(TaskRunner):
    """Runs until the test sets ``Hold.release``; counts how many are held at once.

    Call :meth:`reset` inside the event loop of the test, before the service runs.
    """

    release: asyncio.Event
    running = 0
    peak = 0
    entered = 0

    @classmethod
    def reset(cls) -> None:
        cls.release = asyncio.Event()
        cls.running = cls.peak = cls.entered = 0

    async def run(self, ctx: TaskContext) -> Mapping[str, Any]:
        cls = type(self)
        cls.entered += 1
        cls.running += 1
        cls.peak = max(cls.peak, cls.running)
        try:
            await cls.release.wait()
        finally:
            cls.running -= 1
        return {"value": ctx.variables["trigger"]["value"]}


async def until(condition: Callable[[], bool], *, timeout: float = 5.0, what: str = "") -> None:
    """Await ``condition`` (polled on the event loop); fail after ``timeout`` s."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() >= deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what or condition}")
        await asyncio.sleep(0.001)


async def settle(rounds: int = 20) -> None:
    """Let every task that can run reach its next wait (no time passes)."""
    for _ in range(rounds):
        await asyncio.sleep(0)


class ReadOutput(TaskRunner):
    """Outputs what an earlier task output under ``outputs.<from>``."""

    async def run(self, ctx: TaskContext) -> Mapping[str, Any]:
        return {"copied": ctx.variables["outputs"][self.task.props["from"]]}


def records(
    values: list[Any], *, keys: list[Any] | None = None, partition: int = 0
) -> list[KafkaRecord]:
    keys = keys or [None] * len(values)
    return [
        KafkaRecord(value=v, key=k, topic="t", partition=partition, offset=i, timestamp_ms=0)
        for i, (v, k) in enumerate(zip(values, keys, strict=True))
    ]
