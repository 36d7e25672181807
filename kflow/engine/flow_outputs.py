"""The flow's ``outputs``: rendered once an execution's tasks have ended, typed by ``type``.

As Kestra's ``ExecutorService.onEnd`` and ``FlowInputOutput.typedOutputs`` do:

- they are rendered after ``tasks``, ``errors`` and ``finally`` (before
  ``afterExecution``), whatever the state, against the execution's context
  (``outputs``, ``inputs``, ``vars``, ``labels``, ``trigger``, ``execution``...);
- a string value renders to text (``{{ outputs.t }}`` of a map is its JSON); a
  list or map value has each of its strings rendered;
- the text is then typed: ``STRING``, ``ENUM``, ``SELECT``, ``EMAIL`` and
  ``SECRET`` as rendered, ``INT``/``FLOAT``/``BOOLEAN`` parsed, ``JSON``/``YAML``
  read, ``ARRAY`` a list (a rendered list as is, text read as JSON), dates and
  durations parsed as ISO-8601; dates then become ISO text, as Kestra's
  ``JacksonMapper.toMap`` leaves them;
- an output that cannot be rendered or typed fails the execution: it ends
  FAILED, without outputs, with the ERROR log "Failed to render output values: ...".

``SECRET`` values are masked (``***``) wherever kflow prints them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from kflow.connectors.masking import register_secret
from kflow.engine.execution import Execution, LogEntry, utc_now
from kflow.engine.states import State
from kflow.errors import KflowError
from kflow.flow.model import FlowOutput

if TYPE_CHECKING:
    from kflow.expr import CompiledValue

_AS_RENDERED = frozenset({"STRING", "ENUM", "SELECT", "EMAIL", "SECRET"})


class OutputError(KflowError):
    """A flow output could not be rendered or typed."""


class FlowOutputs:
    """The compiled ``outputs`` of one flow (templates compiled once, at build time).

    A value whose template does not compile fails each execution when it is rendered
    (Kestra saves such a flow; the execution then fails to render its outputs).
    """

    def __init__(self, definitions: list[FlowOutput]) -> None:
        from kflow.expr import compile_value

        self._compiled: list[tuple[FlowOutput, CompiledValue | Exception]] = []
        for definition in definitions:
            try:
                self._compiled.append((definition, compile_value(definition.value)))
            except KflowError as exc:
                self._compiled.append((definition, exc))

    def __bool__(self) -> bool:
        return bool(self._compiled)

    def render(self, variables: Mapping[str, Any]) -> dict[str, Any]:
        """Every output, rendered and typed; raise :class:`OutputError` on the first failure."""
        out: dict[str, Any] = {}
        for definition, compiled in self._compiled:
            try:
                if isinstance(compiled, Exception):
                    raise compiled
                rendered = compiled.render(variables)
            except Exception as exc:
                raise OutputError(f"output {definition.id!r}: {_reason(exc)}") from exc
            out[definition.id] = typed_output(definition, rendered)
        return json.loads(_to_json(out))

    def finish(
        self,
        execution: Execution,
        variables: Mapping[str, Any],
        state: State,
        log: Callable[[Execution, LogEntry], None],
    ) -> State:
        """Set ``execution.flow_outputs``; return the state the execution ends in."""
        if not self._compiled:
            return state
        try:
            execution.flow_outputs = self.render(variables)
        except OutputError as exc:
            message = f"Failed to render output values: {exc}"
            log(execution, LogEntry(utc_now(), "ERROR", message, None))
            if execution.error is None:
                execution.error = message
            return State.FAILED
        return state


def typed_output(definition: FlowOutput, value: Any) -> Any:
    """``value`` as the output's ``type`` says; raise :class:`OutputError`."""
    from kflow.flow.inputs import PARSERS

    kind = definition.type
    if kind in _AS_RENDERED:
        if kind == "SECRET" and value is not None:
            register_secret(value if isinstance(value, str) else _to_json(value))
        return value
    if kind == "FILE":
        # Kestra keeps a kestra:// URI as is and uploads any other (local) path to its storage.
        if isinstance(value, str) and value.startswith("kestra://"):
            return value
        raise OutputError(
            f"output {definition.id!r}: a FILE output must be a kestra:// URI, got {value!r} "
            "(kflow does not upload local files)"
        )
    if kind in ("ARRAY", "MULTISELECT") and isinstance(value, list):
        return value
    parse = PARSERS.get(kind)
    if parse is None:
        raise OutputError(f"output {definition.id!r}: unknown output type {kind}")
    try:
        return parse(value)
    except Exception as exc:
        shown = value if isinstance(value, str) else _to_json(value)
        # Python's own conversion messages add nothing to "expected INT, got 'x'".
        detail = "" if kind in ("INT", "FLOAT") or str(exc) == str(value) else str(exc)
        raise OutputError(
            f"output {definition.id!r}: expected {kind}, got {shown!r}"
            + (f" ({detail})" if detail else "")
        ) from None


def _reason(exc: BaseException) -> str:
    text = str(exc)
    if isinstance(exc, KflowError):
        return text
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _to_json(value: Any) -> str:
    from kflow.expr.printing import to_json

    return to_json(value)
