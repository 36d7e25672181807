"""Core tasks: Log, OutputValues, Return, Fail, Sleep."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from kflow.engine.task import TaskContext, TaskRunner
from kflow.errors import TaskError
from kflow.expr import compile_template, compile_value
from kflow.flow.model import TaskDef
from kflow.flow.properties import parse_duration


def truthy(value: Any) -> bool:
    """Kestra's reading of a rendered condition."""
    if isinstance(value, str):
        return value.strip().lower() not in ("", "false", "0", "null", "none")
    return bool(value)


class Log(TaskRunner):
    """``io.kestra.plugin.core.log.Log``: logs one message or a list of them."""

    def __init__(self, task: TaskDef, engine: Any) -> None:
        super().__init__(task, engine)
        message = task.props.get("message")
        messages = message if isinstance(message, list) else [message]
        self.messages = [compile_template(str(m)) for m in messages if m is not None]
        self.level = str(task.props.get("level") or "INFO").upper()

    async def run(self, ctx: TaskContext) -> None:
        for message in self.messages:
            ctx.log(self.level, message.render(ctx.variables))
        return None


class OutputValues(TaskRunner):
    """``io.kestra.plugin.core.output.OutputValues``: outputs ``values`` as rendered."""

    def __init__(self, task: TaskDef, engine: Any) -> None:
        super().__init__(task, engine)
        self.values = compile_value(task.props.get("values") or {})

    async def run(self, ctx: TaskContext) -> Mapping[str, Any]:
        return {"values": self.values.render(ctx.variables)}


class Return(TaskRunner):
    """``io.kestra.plugin.core.debug.Return``: outputs ``value``, the rendered ``format``."""

    def __init__(self, task: TaskDef, engine: Any) -> None:
        super().__init__(task, engine)
        fmt = task.props.get("format")
        self.format = compile_template(str(fmt)) if fmt is not None else None

    async def run(self, ctx: TaskContext) -> Mapping[str, Any]:
        value = self.format.render(ctx.variables) if self.format is not None else None
        return {"value": value}


class Fail(TaskRunner):
    """``io.kestra.plugin.core.execution.Fail``: fails when ``condition`` is true (or always)."""

    def __init__(self, task: TaskDef, engine: Any) -> None:
        super().__init__(task, engine)
        condition = task.props.get("condition")
        self.condition = compile_template(str(condition)) if condition is not None else None
        message = task.props.get("errorMessage") or "Task failure"
        self.message = compile_template(str(message))

    async def run(self, ctx: TaskContext) -> None:
        if self.condition is None or truthy(self.condition.render(ctx.variables)):
            raise TaskError(self.message.render(ctx.variables))
        return None


def iso_duration(seconds: float) -> str:
    """Seconds as Java's ``Duration.toString`` writes them: ``PT1S``, ``PT1M30S``, ``PT0.05S``."""
    if seconds == 0:
        return "PT0S"
    sign = "-" if seconds < 0 else ""
    rest = abs(seconds)
    hours, rest = divmod(rest, 3600)
    minutes, rest = divmod(rest, 60)
    text = "PT"
    if hours:
        text += f"{sign}{int(hours)}H"
    if minutes:
        text += f"{sign}{int(minutes)}M"
    if rest:
        text += f"{sign}" + f"{rest:.9f}".rstrip("0").rstrip(".") + "S"
    return text


class DurationValue:
    """A duration property: seconds already checked, or a template rendering to ISO-8601."""

    def __init__(self, name: str, raw: Any) -> None:
        self.name = name
        self.fixed = float(raw) if isinstance(raw, int | float) else None
        self.template = compile_template(str(raw)) if self.fixed is None else None

    def seconds(self, variables: dict[str, Any]) -> float:
        if self.fixed is not None:
            return self.fixed
        assert self.template is not None
        text = self.template.render(variables).strip()
        seconds = parse_duration(text)
        if seconds is None:
            raise TaskError(
                f"{self.name}: {text!r} is not an ISO-8601 duration such as PT30S, PT5M or P1D"
            )
        if seconds < 0:
            raise TaskError(f"{self.name}: a duration cannot be negative, got {text!r}")
        return seconds


class Sleep(TaskRunner):
    """``io.kestra.plugin.core.flow.Sleep``: waits ``duration``, then succeeds."""

    def __init__(self, task: TaskDef, engine: Any) -> None:
        super().__init__(task, engine)
        self.duration = DurationValue("duration", task.props.get("duration"))

    async def run(self, ctx: TaskContext) -> None:
        seconds = self.duration.seconds(ctx.variables)
        ctx.log("INFO", f"Waiting for {iso_duration(seconds)}")
        await asyncio.sleep(seconds)
        return None
