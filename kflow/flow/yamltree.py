"""A YAML document as a tree of positioned nodes.

ruamel.yaml composes the text into nodes that remember where they start and
end; this module turns them into :class:`YNode` values whose scalars already
hold plain Python values (YAML 1.2 resolution), so that validation can report
the exact line and column of any key or value.
"""

from __future__ import annotations

import math
from typing import Any, Literal

from kflow.flow.diagnostics import Diagnostic

NodeKind = Literal["map", "seq", "scalar"]
MAX_DEPTH = 200

_TAG = "tag:yaml.org,2002:"


class YNode:
    """One YAML node.

    ``value`` is a plain value for scalars, ``list[YNode]`` for sequences and
    ``dict[str, YNode]`` for mappings (``keys`` then holds the key nodes).
    Positions are 1-based; ``start``/``end`` are offsets into the source text.
    ``style`` is the scalar style: ``None`` (plain), ``'``, ``"``, ``|``, ``>``.
    Nodes compare by identity.
    """

    __slots__ = ("column", "end", "keys", "kind", "line", "start", "style", "value")

    def __init__(
        self,
        kind: NodeKind,
        value: Any,
        line: int,
        column: int,
        start: int = 0,
        end: int = 0,
        style: str | None = None,
        keys: dict[str, YNode] | None = None,
    ) -> None:
        self.kind = kind
        self.value = value
        self.line = line
        self.column = column
        self.start = start
        self.end = end
        self.style = style
        self.keys: dict[str, YNode] = {} if keys is None else keys

    def __repr__(self) -> str:
        return (
            f"YNode(kind={self.kind!r}, value={self.value!r}, line={self.line}, "
            f"column={self.column}, style={self.style!r})"
        )

    @property
    def is_map(self) -> bool:
        return self.kind == "map"

    @property
    def is_seq(self) -> bool:
        return self.kind == "seq"

    @property
    def is_scalar(self) -> bool:
        return self.kind == "scalar"

    def plain(self) -> Any:
        """The node as plain Python data (dicts, lists, scalars)."""
        if self.kind == "map":
            return {k: v.plain() for k, v in self.value.items()}
        if self.kind == "seq":
            return [v.plain() for v in self.value]
        return self.value

    def key_node(self, key: str) -> YNode:
        """The node of ``key`` in this mapping (the mapping itself if unknown)."""
        return self.keys.get(key, self)


def synthetic(value: Any, at: YNode) -> YNode:
    """A node for a plain value that did not come from the file, located at ``at``."""
    if isinstance(value, dict):
        children = {str(k): synthetic(v, at) for k, v in value.items()}
        return YNode("map", children, at.line, at.column, at.start, at.end, keys=dict(children))
    if isinstance(value, list):
        items = [synthetic(v, at) for v in value]
        return YNode("seq", items, at.line, at.column, at.start, at.end)
    return YNode("scalar", value, at.line, at.column, at.start, at.end, style="synthetic")


class YamlSyntaxError(Exception):
    """The text is not YAML; carries the diagnostic that says where."""

    def __init__(self, diagnostic: Diagnostic) -> None:
        super().__init__(diagnostic.message)
        self.diagnostic = diagnostic


def _scalar_value(tag: str, text: str) -> Any:
    if not tag.startswith(_TAG):
        return text
    kind = tag[len(_TAG) :]
    try:
        if kind == "null":
            return None
        if kind == "bool":
            return text.lower() in ("true", "yes", "on", "y")
        if kind == "int":
            cleaned = text.replace("_", "")
            try:
                return int(cleaned, 0)
            except ValueError:
                return int(cleaned, 10)
        if kind == "float":
            lowered = text.lower().replace("_", "")
            if lowered in (".inf", "+.inf"):
                return math.inf
            if lowered == "-.inf":
                return -math.inf
            if lowered == ".nan":
                return math.nan
            return float(lowered)
    except ValueError:
        return text
    return text


class _Builder:
    def __init__(self, path: str) -> None:
        self.path = path
        self.diagnostics: list[Diagnostic] = []
        self._done: dict[int, YNode] = {}
        self._active: set[int] = set()

    def error(self, line: int, column: int, message: str, code: str) -> None:
        self.diagnostics.append(Diagnostic(self.path, line, column, "", message, "error", code))

    def build(self, node: Any, depth: int = 0) -> YNode:
        line = node.start_mark.line + 1
        column = node.start_mark.column + 1
        start, end = node.start_mark.index, node.end_mark.index
        key = id(node)
        if key in self._done:
            return self._done[key]
        if key in self._active or depth > MAX_DEPTH:
            why = "a recursive alias" if key in self._active else "nesting too deep"
            self.error(line, column, f"cannot read {why} here", "yaml")
            return YNode("scalar", None, line, column, start, end)
        self._active.add(key)
        try:
            result = self._build(node, depth, line, column, start, end)
        finally:
            self._active.discard(key)
        self._done[key] = result
        return result

    def _build(self, node: Any, depth: int, line: int, column: int, start: int, end: int) -> YNode:
        node_id = getattr(node, "id", "scalar")
        if node_id == "scalar":
            return YNode(
                "scalar",
                _scalar_value(node.tag, node.value),
                line,
                column,
                start,
                end,
                style=node.style,
            )
        if node_id == "sequence":
            items = [self.build(child, depth + 1) for child in node.value]
            return YNode("seq", items, line, column, start, end)
        values: dict[str, YNode] = {}
        keys: dict[str, YNode] = {}
        merges: list[YNode] = []
        for key_node, value_node in node.value:
            if key_node.tag == _TAG + "merge":
                merges.append(self.build(value_node, depth + 1))
                continue
            key = self.build(key_node, depth + 1)
            if not key.is_scalar:
                self.error(key.line, key.column, "a mapping key must be a scalar", "yaml")
                continue
            name = "null" if key.value is None else str(key.value)
            if isinstance(key.value, bool):
                name = str(key.value).lower()
            if name in values:
                self.error(key.line, key.column, f"duplicate key {name!r}", "duplicate-key")
                continue
            values[name] = self.build(value_node, depth + 1)
            keys[name] = key
        for merged in merges:
            sources = merged.value if merged.is_seq else [merged]
            for source in sources:
                if not source.is_map:
                    self.error(source.line, source.column, "'<<' expects a mapping", "yaml")
                    continue
                for name, child in source.value.items():
                    if name not in values:
                        values[name] = child
                        keys[name] = source.keys.get(name, source)
        return YNode("map", values, line, column, start, end, keys=keys)


def parse_yaml(text: str, path: str) -> tuple[YNode | None, list[Diagnostic]]:
    """Compose ``text`` into a :class:`YNode` tree.

    Returns ``(None, [diagnostic])`` for a syntax error, ``(None, [])`` for an
    empty document. A file with several documents is an error (a flow is one
    document).
    """
    from ruamel.yaml import YAML
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    yaml = YAML(typ="rt", pure=True)
    try:
        nodes = list(yaml.compose_all(text))
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        column = mark.column + 1 if mark is not None else 1
        problem = exc.problem or exc.context or "invalid YAML"
        if exc.context and exc.problem:
            problem = f"{exc.problem} ({exc.context})"
        message = f"YAML syntax error: {problem}"
        return None, [Diagnostic(path, line, column, "", message, "error", "yaml")]
    except (YAMLError, ValueError, RecursionError) as exc:
        message = f"YAML syntax error: {exc}"
        return None, [Diagnostic(path, 1, 1, "", message, "error", "yaml")]
    nodes = [n for n in nodes if n is not None]
    if not nodes:
        return None, []
    builder = _Builder(path)
    if len(nodes) > 1:
        second = nodes[1]
        builder.error(
            second.start_mark.line + 1,
            second.start_mark.column + 1,
            "a flow file holds one YAML document; found another one here",
            "yaml",
        )
    try:
        root = builder.build(nodes[0])
    except RecursionError:
        return None, [Diagnostic(path, 1, 1, "", "YAML nested too deeply", "error", "yaml")]
    return root, builder.diagnostics
