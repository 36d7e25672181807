"""Load a flow file: parse, validate, and build the model the engine runs.

    result = load_flow("flow.yaml")
    if result.flow is None:
        for d in result.diagnostics: print(d.format())

Only an unreadable file raises (:class:`~kflow.errors.FlowError`); every
other problem is a :class:`~kflow.flow.diagnostics.Diagnostic`.

Besides the validator's checks, the flow-level ``outputs`` and ``labels`` are
checked here as Kestra's ``Output`` model and ``FlowValidator`` check them.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from kflow.errors import FlowError
from kflow.flow.common import FLOW_OUTPUT, SYSTEM_LABEL_PREFIX, SYSTEM_LABELS_ALLOWED
from kflow.flow.diagnostics import Diagnostic
from kflow.flow.model import Flow
from kflow.flow.properties import list_of
from kflow.flow.registry import TypeRegistry, default_registry
from kflow.flow.yamltree import YNode, parse_yaml

if TYPE_CHECKING:
    from kflow.flow.validate import FlowValidator

_FLOW_OUTPUTS = list_of(FLOW_OUTPUT)


class LoadResult:
    """The flow (None when there is any error) and every diagnostic, in file order."""

    __slots__ = ("diagnostics", "flow", "path")

    def __init__(
        self,
        flow: Flow | None,
        diagnostics: list[Diagnostic] | None = None,
        path: str = "<string>",
    ) -> None:
        self.flow = flow
        self.diagnostics: list[Diagnostic] = [] if diagnostics is None else diagnostics
        self.path = path

    def __repr__(self) -> str:
        return (
            f"LoadResult(flow={self.flow!r}, diagnostics={self.diagnostics!r}, path={self.path!r})"
        )

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.is_error]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if not d.is_error]

    @property
    def ok(self) -> bool:
        return self.flow is not None


def load_flow(
    path: str | Path, registry: TypeRegistry | None = None, *, for_run: bool = False
) -> LoadResult:
    """Read and validate a flow file; raise FlowError only when it cannot be read.

    ``for_run``: errors Kestra would save the flow with (``Diagnostic.fails_at_run``)
    become warnings and the flow is built; the engine fails those tasks when they run.
    """
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise FlowError(f"{file}: not a UTF-8 text file ({exc.reason})") from exc
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise FlowError(f"{file}: cannot read the flow file: {reason}") from exc
    return load_flow_text(text, str(path), registry, for_run=for_run)


def load_flow_text(
    text: str,
    path: str = "<string>",
    registry: TypeRegistry | None = None,
    *,
    for_run: bool = False,
) -> LoadResult:
    """Validate flow YAML given as text (``path`` is used in diagnostics)."""
    from kflow.flow.validate import FlowValidator

    root, diagnostics = parse_yaml(text, path)
    if root is None:
        if not diagnostics:
            diagnostics = [Diagnostic(path, 1, 1, "", "the flow file is empty", "error", "empty")]
        return LoadResult(None, diagnostics, path)
    validator = FlowValidator(path, registry or default_registry())
    flow = validator.check_flow(root)
    diagnostics.extend(validator.diagnostics)
    if root.is_map:
        diagnostics.extend(_check_outputs(root, validator.fork()))
        diagnostics.extend(_check_labels(root, path))
        if flow is not None:
            _java_label_text(root, flow)
    if validator.sites:
        from kflow.flow.expressions import check_sites

        diagnostics.extend(check_sites(validator.sites, validator.task_ids, path, text))
    diagnostics = _unique_sorted(diagnostics)
    if for_run:
        diagnostics = [d.deferred() for d in diagnostics]
    if any(d.is_error for d in diagnostics):
        flow = None
    return LoadResult(flow, diagnostics, path)


def _check_outputs(root: YNode, ctx: FlowValidator) -> list[Diagnostic]:
    """``outputs``: a list of ``{id, type, value, description}`` with unique ids (Kestra's
    ``Output`` and ``FlowValidator``: "Duplicate output with name [..]")."""
    node = root.value.get("outputs")
    if node is None:
        return []
    _FLOW_OUTPUTS.check(node, ctx, "outputs")
    if node.is_seq:
        seen: dict[str, YNode] = {}
        for index, item in enumerate(node.value):
            id_node = item.value.get("id") if item.is_map else None
            if id_node is None or not id_node.is_scalar or id_node.value is None:
                continue
            name = str(id_node.value)
            if name in seen:
                message = f"duplicate output id {name!r} (first used on line {seen[name].line})"
                ctx.error(id_node, f"outputs[{index}].id", message, "duplicate-id")
            else:
                seen[name] = id_node
    return ctx.diagnostics


def _check_labels(root: YNode, path: str) -> list[Diagnostic]:
    """Labels ``system.*`` are Kestra's own; a flow may not set them (``system.readOnly``
    excepted), as Kestra's ``FlowValidator`` says."""
    out: list[Diagnostic] = []
    for key, key_node in _label_keys(root.value.get("labels")):
        if key.startswith(SYSTEM_LABEL_PREFIX) and key not in SYSTEM_LABELS_ALLOWED:
            message = f"system labels can only be set by Kestra itself: {key!r}"
            out.append(
                Diagnostic(path, key_node.line, key_node.column, f"labels.{key}", message, "error")
            )
    return out


def _label_keys(node: YNode | None) -> list[tuple[str, YNode]]:
    if node is None:
        return []
    if node.is_map:
        return [(key, node.key_node(key)) for key in node.value]
    if node.is_seq:
        keys = [item.value.get("key") for item in node.value if item.is_map]
        return [(str(k.value), k) for k in keys if k is not None and k.is_scalar]
    return []


def _java_label_text(root: YNode, flow: Flow) -> None:
    """Label values as Kestra writes them (Java's ``String.valueOf``): ``true``, not ``True``."""
    node = root.value.get("labels")
    if node is None:
        return
    pairs: list[tuple[str, YNode | None]] = []
    if node.is_map:
        pairs = list(node.value.items())
    elif node.is_seq:
        items = [i.value for i in node.value if i.is_map and "key" in i.value]
        pairs = [(str(i["key"].plain()), i.get("value")) for i in items]
    for key, value_node in pairs:
        if value_node is not None and isinstance(value_node.value, bool) and key in flow.labels:
            flow.labels[key] = "true" if value_node.value else "false"


def _unique_sorted(diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    seen: set[tuple[int, int, str, str]] = set()
    out: list[Diagnostic] = []
    for d in sorted(diagnostics, key=Diagnostic.sort_key):
        key = (d.line, d.column, d.key_path, d.message)
        if key not in seen:
            seen.add(key)
            out.append(d)
    return out
