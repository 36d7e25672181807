"""Load a flow file: parse, validate, and build the model the engine runs.

    result = load_flow("flow.yaml")
    if result.flow is None:
        for d in result.diagnostics: print(d.format())

Only an unreadable file raises (:class:`~kflow.errors.FlowError`); every
other problem is a :class:`~kflow.flow.diagnostics.Diagnostic`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from kflow.errors import FlowError
from kflow.flow.diagnostics import Diagnostic
from kflow.flow.model import Flow
from kflow.flow.registry import TypeRegistry, default_registry
from kflow.flow.yamltree import parse_yaml


@dataclass
class LoadResult:
    """The flow (None when there is any error) and every diagnostic, in file order."""

    flow: Flow | None
    diagnostics: list[Diagnostic] = field(default_factory=list)
    path: str = "<string>"

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.is_error]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if not d.is_error]

    @property
    def ok(self) -> bool:
        return self.flow is not None


def load_flow(path: str | Path, registry: TypeRegistry | None = None) -> LoadResult:
    """Read and validate a flow file; raise FlowError only when it cannot be read."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise FlowError(f"{file}: not a UTF-8 text file ({exc.reason})") from exc
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise FlowError(f"{file}: cannot read the flow file: {reason}") from exc
    return load_flow_text(text, str(path), registry)


def load_flow_text(
    text: str, path: str = "<string>", registry: TypeRegistry | None = None
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
    if validator.sites:
        from kflow.flow.expressions import check_sites

        diagnostics.extend(check_sites(validator.sites, validator.task_ids, path, text))
    diagnostics = _unique_sorted(diagnostics)
    if any(d.is_error for d in diagnostics):
        flow = None
    return LoadResult(flow, diagnostics, path)


def _unique_sorted(diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    seen: set[tuple[int, int, str, str]] = set()
    out: list[Diagnostic] = []
    for d in sorted(diagnostics, key=Diagnostic.sort_key):
        key = (d.line, d.column, d.key_path, d.message)
        if key not in seen:
            seen.add(key)
            out.append(d)
    return out
