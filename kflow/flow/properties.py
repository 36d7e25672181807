"""Typed property models: the single source for validation, defaults and schema.

A task or trigger type declares its properties as a ``dict[str, Prop]``.
Each :class:`Prop` knows how to check a YAML node (reporting problems through
a :class:`CheckContext`), which default applies, whether the value may hold
``{{ }}`` expressions, and how to describe itself in JSON Schema.

Declare properties with the small constructors at the end of this module::

    {
        "cql": string(required=True, templated=True, template="cql"),
        "fetchType": enum("NONE", "FETCH_ONE", "FETCH", "STORE", default="NONE"),
        "session": obj({"endpoints": list_of(obj({...}))}),
    }
"""

from __future__ import annotations

import contextlib
import copy
import re
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar, Literal, Protocol

from kflow.flow.yamltree import YNode
from kflow.records import FrozenRecord

TemplateKind = Literal["template", "document", "cql"]


def is_template_text(value: object) -> bool:
    """True when a string holds an expression (``{{``) or a tag (``{%``)."""
    return isinstance(value, str) and ("{{" in value or "{%" in value)


def closest(name: str, candidates: Iterable[str], n: int = 3) -> list[str]:
    """The candidates closest to ``name`` (case-insensitive), best first."""
    import difflib

    pool = list(dict.fromkeys(candidates))
    lowered = {c.lower(): c for c in pool}
    hits = difflib.get_close_matches(name.lower(), list(lowered), n=n, cutoff=0.6)
    return [lowered[h] for h in hits]


def _is_checked_text(value: object, kind: TemplateKind) -> bool:
    """Documents and CQL are checked even without expressions; templates only with them."""
    if kind == "template":
        return is_template_text(value)
    return isinstance(value, str)


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    hits = closest(name, candidates, n=1)
    return f"; did you mean {hits[0]!r}?" if hits else ""


class CheckContext(Protocol):
    """What a property check reports to (implemented by the flow validator)."""

    def error(self, node: YNode, key_path: str, message: str, code: str = "invalid") -> None: ...

    def warning(self, node: YNode, key_path: str, message: str, code: str = "warning") -> None: ...

    def template(self, node: YNode, key_path: str, kind: TemplateKind) -> None:
        """Record a templated string for the expression checks."""

    def tasks(self, node: YNode, key_path: str, prop: TasksProp) -> list[Any]:
        """Validate a nested task list and return its TaskDefs."""

    def fork(self) -> CheckContext:
        """A context that collects reports without keeping them (for alternatives)."""

    def adopt(self, fork: CheckContext) -> None:
        """Keep the reports of a fork."""

    @property
    def error_count(self) -> int: ...


#: The default of a field that starts as a new empty dict.
_NEW_DICT: Any = object()


class Prop(FrozenRecord):
    """Base of every property kind.

    ``templated``: the value may be (or, for containers, contain) ``{{ }}``
    expressions; a non-string kind then also accepts a template string.
    ``template`` says how the expression checks read it (``document`` for a
    JSON document template, ``cql`` for CQL). ``deprecated`` is the warning
    shown when the property is set. ``aliases`` are older spellings.

    Props are frozen records (:mod:`kflow.records`), built with keyword arguments only:
    a subclass lists its own fields and their defaults in ``_own``.
    """

    __slots__ = ("aliases", "default", "deprecated", "description", "required", "template",
                 "templated")  # fmt: skip

    required: bool
    default: Any
    description: str
    templated: bool
    template: TemplateKind
    deprecated: str | None
    aliases: tuple[str, ...]

    _base: ClassVar[dict[str, Any]] = {
        "required": False,
        "default": None,
        "description": "",
        "templated": False,
        "template": "template",
        "deprecated": None,
        "aliases": (),
    }
    _own: ClassVar[dict[str, Any]] = {}
    _fields: ClassVar[tuple[str, ...]] = tuple(_base)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        own = {name: value for name, value in cls._own.items() if name not in cls._base}
        cls._fields = (*cls._base, *own)

    def __init__(self, **kw: Any) -> None:
        setter = object.__setattr__
        for name, default in self._base.items():
            setter(self, name, kw.pop(name, default))
        for name, default in self._own.items():
            if name in kw:
                setter(self, name, kw.pop(name))
            else:
                setter(self, name, {} if default is _NEW_DICT else default)
        if kw:
            unknown = ", ".join(sorted(kw))
            raise TypeError(f"{type(self).__name__}() got unexpected keyword arguments: {unknown}")

    expected: ClassVar[str] = "a value"

    def check(self, node: YNode, ctx: CheckContext, key_path: str) -> Any:
        """Check ``node``; report problems to ``ctx``; return the plain value."""
        if self.templated and node.is_scalar and _is_checked_text(node.value, self.template):
            ctx.template(node, key_path, self.template)
            if not isinstance(self, StringProp) and is_template_text(node.value):
                return node.value
        return self._check(node, ctx, key_path)

    def _check(self, node: YNode, ctx: CheckContext, key_path: str) -> Any:
        return node.plain()

    def default_value(self) -> Any:
        return copy.deepcopy(self.default)

    def schema(self) -> dict[str, Any]:
        """JSON Schema of this property."""
        base = self._schema()
        if self.templated and base.get("type") not in ("string", None):
            base = {"anyOf": [base, {"type": "string", "pattern": r"\{\{|\{%"}]}
        if self.description:
            base["description"] = self.description
        if self.default is not None:
            base["default"] = self.default
        if self.deprecated:
            base["deprecated"] = True
        return base

    def _schema(self) -> dict[str, Any]:
        return {}

    def mismatch(self, node: YNode, ctx: CheckContext, key_path: str) -> None:
        ctx.error(node, key_path, f"expected {self.expected}, got {describe(node)}", "type")


def describe(node: YNode) -> str:
    """A short description of what a node holds, for messages."""
    if node.is_map:
        return "a mapping"
    if node.is_seq:
        return "a list"
    value = node.value
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, int | float):
        return f"the number {value}"
    text = value if len(value) <= 40 else value[:37] + "..."
    return f"the string {text!r}"


class StringProp(Prop):
    __slots__ = ("pattern",)

    pattern: str | None
    _own: ClassVar[dict[str, Any]] = {"pattern": None}
    expected: ClassVar[str] = "a string"

    def _check(self, node: YNode, ctx: CheckContext, key_path: str) -> Any:
        value = node.value
        if not node.is_scalar or value is None:
            self.mismatch(node, ctx, key_path)
            return None
        if isinstance(value, bool):
            value = str(value).lower()
        elif not isinstance(value, str):
            value = str(value)
        if self.pattern and not is_template_text(value) and not re.fullmatch(self.pattern, value):
            ctx.error(node, key_path, f"{value!r} does not match {self.pattern}", "pattern")
        return value

    def _schema(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "string"}
        if self.pattern and not self.templated:
            out["pattern"] = self.pattern
        return out


class IntProp(Prop):
    __slots__ = ("minimum",)

    minimum: int | None
    _own: ClassVar[dict[str, Any]] = {"minimum": None}
    expected: ClassVar[str] = "an integer"

    def _check(self, node: YNode, ctx: CheckContext, key_path: str) -> Any:
        value = node.value
        if node.is_scalar and isinstance(value, str) and re.fullmatch(r"[+-]?\d+", value.strip()):
            value = int(value)
        if not node.is_scalar or isinstance(value, bool) or not isinstance(value, int):
            self.mismatch(node, ctx, key_path)
            return None
        if self.minimum is not None and value < self.minimum:
            ctx.error(node, key_path, f"must be at least {self.minimum}, got {value}", "range")
        return value

    def _schema(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "integer"}
        if self.minimum is not None:
            out["minimum"] = self.minimum
        return out


class NumberProp(Prop):
    __slots__ = ()
    expected: ClassVar[str] = "a number"

    def _check(self, node: YNode, ctx: CheckContext, key_path: str) -> Any:
        value = node.value
        if node.is_scalar and isinstance(value, str):
            with contextlib.suppress(ValueError):
                value = float(value)
        if not node.is_scalar or isinstance(value, bool) or not isinstance(value, int | float):
            self.mismatch(node, ctx, key_path)
            return None
        return value

    def _schema(self) -> dict[str, Any]:
        return {"type": "number"}


class BoolProp(Prop):
    __slots__ = ()
    expected: ClassVar[str] = "true or false"

    def _check(self, node: YNode, ctx: CheckContext, key_path: str) -> Any:
        value = node.value
        if node.is_scalar and isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        if not node.is_scalar or not isinstance(value, bool):
            self.mismatch(node, ctx, key_path)
            return None
        return value

    def _schema(self) -> dict[str, Any]:
        return {"type": "boolean"}


_DURATION = re.compile(
    r"(?P<sign>[-+]?)P(?:(?P<d>[-+]?\d+(?:\.\d+)?)D)?"
    r"(?:T(?:(?P<h>[-+]?\d+(?:\.\d+)?)H)?(?:(?P<m>[-+]?\d+(?:\.\d+)?)M)?"
    r"(?:(?P<s>[-+]?\d+(?:[.,]\d+)?)S)?)?",
    re.IGNORECASE,
)


def parse_duration(text: str) -> float | None:
    """Seconds in an ISO-8601 duration (``PT30S``, ``PT1M``, ``P1D``, ``P1DT2H``), else None.

    Like Java's ``Duration.parse``: days, hours, minutes and seconds only.
    """
    match = _DURATION.fullmatch(text.strip())
    if match is None or text.strip().upper().endswith("T"):
        return None
    parts = match.group("d", "h", "m", "s")
    if all(p is None for p in parts):
        return None
    d, h, m, s = (float(p.replace(",", ".")) if p else 0.0 for p in parts)
    seconds = d * 86400 + h * 3600 + m * 60 + s
    return -seconds if match.group("sign") == "-" else seconds


class DurationProp(Prop):
    __slots__ = ()
    expected: ClassVar[str] = "an ISO-8601 duration such as PT30S, PT5M or P1D"

    def _check(self, node: YNode, ctx: CheckContext, key_path: str) -> Any:
        value = node.value
        seconds = parse_duration(value) if node.is_scalar and isinstance(value, str) else None
        if seconds is None:
            self.mismatch(node, ctx, key_path)
            return None
        if seconds < 0:
            ctx.error(node, key_path, f"a duration cannot be negative, got {value!r}", "range")
        return seconds

    def default_value(self) -> Any:
        if isinstance(self.default, str):
            return parse_duration(self.default)
        return self.default

    def _schema(self) -> dict[str, Any]:
        return {"type": "string", "format": "duration"}


class EnumProp(Prop):
    """One of ``values``; values in ``unsupported`` are known but refused by kflow."""

    __slots__ = ("unsupported", "unsupported_reason", "values")

    values: tuple[str, ...]
    unsupported: tuple[str, ...]
    unsupported_reason: str
    _own: ClassVar[dict[str, Any]] = {"values": (), "unsupported": (), "unsupported_reason": ""}

    @property
    def expected_text(self) -> str:
        return "one of " + ", ".join(self.values)

    def _check(self, node: YNode, ctx: CheckContext, key_path: str) -> Any:
        value = node.value
        if not node.is_scalar or value is None or isinstance(value, bool):
            ctx.error(
                node, key_path, f"expected {self.expected_text}, got {describe(node)}", "enum"
            )
            return None
        value = str(value)
        if value not in self.values:
            upper = [v for v in self.values if v.lower() == value.lower()]
            hint = f"; did you mean {upper[0]!r}?" if upper else ""
            message = f"{value!r} is not allowed; expected {self.expected_text}{hint}"
            ctx.error(node, key_path, message, "enum")
            return None
        if value in self.unsupported:
            name = key_path.rsplit(".", 1)[-1]
            reason = f" ({self.unsupported_reason})" if self.unsupported_reason else ""
            supported = ", ".join(v for v in self.values if v not in self.unsupported)
            message = (
                f"{name} {value} is not supported yet by kflow{reason}; supported: {supported}"
            )
            ctx.error(node, key_path, message, "unsupported")
        return value

    def _schema(self) -> dict[str, Any]:
        return {"type": "string", "enum": list(self.values)}


class ListProp(Prop):
    __slots__ = ("min_items", "of")

    of: Prop | None
    min_items: int
    _own: ClassVar[dict[str, Any]] = {"of": None, "min_items": 0}
    expected: ClassVar[str] = "a list"

    def _check(self, node: YNode, ctx: CheckContext, key_path: str) -> Any:
        if not node.is_seq:
            self.mismatch(node, ctx, key_path)
            return None
        if len(node.value) < self.min_items:
            ctx.error(node, key_path, f"needs at least {self.min_items} item(s)", "empty")
        item_prop = self.of or AnyProp(templated=self.templated)
        return [item_prop.check(item, ctx, f"{key_path}[{i}]") for i, item in enumerate(node.value)]

    def _schema(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "array"}
        if self.of is not None:
            out["items"] = self.of.schema()
        if self.min_items:
            out["minItems"] = self.min_items
        return out


class MapProp(Prop):
    """A mapping with free keys; values checked by ``of`` (any value when None)."""

    __slots__ = ("of",)

    of: Prop | None
    _own: ClassVar[dict[str, Any]] = {"of": None}
    expected: ClassVar[str] = "a mapping"

    def _check(self, node: YNode, ctx: CheckContext, key_path: str) -> Any:
        if not node.is_map:
            self.mismatch(node, ctx, key_path)
            return None
        value_prop = self.of or AnyProp(templated=self.templated)
        out: dict[str, Any] = {}
        for key, child in node.value.items():
            if self.templated and is_template_text(key):
                ctx.template(node.key_node(key), f"{key_path}.{key}", "template")
            out[key] = value_prop.check(child, ctx, f"{key_path}.{key}")
        return out

    def _schema(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "object"}
        if self.of is not None:
            out["additionalProperties"] = self.of.schema()
        return out


class ObjectProp(Prop):
    """A mapping with declared keys (``props``); unknown keys are errors."""

    __slots__ = ("props",)

    props: Mapping[str, Prop]
    _own: ClassVar[dict[str, Any]] = {"props": _NEW_DICT}
    expected: ClassVar[str] = "a mapping"

    def _check(self, node: YNode, ctx: CheckContext, key_path: str) -> Any:
        if not node.is_map:
            self.mismatch(node, ctx, key_path)
            return None
        return check_fields(self.props, node, ctx, key_path)

    def default_value(self) -> Any:
        if self.default is not None:
            return copy.deepcopy(self.default)
        return None

    def _schema(self) -> dict[str, Any]:
        return object_schema(self.props)


class OneOfProp(Prop):
    """The first of ``options`` that accepts the value (e.g. a string or a list)."""

    __slots__ = ("options",)

    options: tuple[Prop, ...]
    _own: ClassVar[dict[str, Any]] = {"options": ()}

    @property
    def expected_text(self) -> str:
        return " or ".join(o.expected for o in self.options)

    def _check(self, node: YNode, ctx: CheckContext, key_path: str) -> Any:
        fallback: tuple[CheckContext, Any] | None = None
        for option in self.options:
            fork = ctx.fork()
            value = option.check(node, fork, key_path)
            if fork.error_count == 0:
                ctx.adopt(fork)
                return value
            if fallback is None and _same_shape(option, node):
                fallback = (fork, value)
        if fallback is not None:
            ctx.adopt(fallback[0])
            return fallback[1]
        ctx.error(node, key_path, f"expected {self.expected_text}, got {describe(node)}", "type")
        return None

    def _schema(self) -> dict[str, Any]:
        return {"anyOf": [o.schema() for o in self.options]}


def _same_shape(prop: Prop, node: YNode) -> bool:
    if isinstance(prop, ListProp | TasksProp):
        return node.is_seq
    if isinstance(prop, MapProp | ObjectProp | CasesProp):
        return node.is_map
    return node.is_scalar


class AnyProp(Prop):
    """Any YAML value (JSON-like data); every string in it is templated when ``templated``."""

    __slots__ = ()

    def _check(self, node: YNode, ctx: CheckContext, key_path: str) -> Any:
        if self.templated:
            _record_strings(node, ctx, key_path, self.template)
        return node.plain()


def _record_strings(node: YNode, ctx: CheckContext, key_path: str, kind: TemplateKind) -> None:
    if node.is_scalar:
        if is_template_text(node.value):
            ctx.template(node, key_path, kind)
    elif node.is_seq:
        for i, item in enumerate(node.value):
            _record_strings(item, ctx, f"{key_path}[{i}]", kind)
    else:
        for key, child in node.value.items():
            if is_template_text(key):
                ctx.template(node.key_node(key), f"{key_path}.{key}", kind)
            _record_strings(child, ctx, f"{key_path}.{key}", kind)


class TasksProp(Prop):
    """A list of nested tasks (``tasks``, ``then``, ``else`` ...).

    ``concurrent``: the tasks of the list run at the same time, so none of
    them runs before another. ``after``: the list runs after the other task
    lists of the same task (``errors``).
    """

    __slots__ = ("after", "concurrent", "min_items")

    concurrent: bool
    after: bool
    min_items: int
    _own: ClassVar[dict[str, Any]] = {"concurrent": False, "after": False, "min_items": 1}
    expected: ClassVar[str] = "a list of tasks"

    def _check(self, node: YNode, ctx: CheckContext, key_path: str) -> Any:
        if not node.is_seq:
            self.mismatch(node, ctx, key_path)
            return []
        if len(node.value) < self.min_items:
            ctx.error(node, key_path, "must hold at least one task", "empty")
        return ctx.tasks(node, key_path, self)

    def default_value(self) -> Any:
        return []

    def _schema(self) -> dict[str, Any]:
        return {"type": "array", "items": {"$ref": "#/$defs/task"}}


class CasesProp(Prop):
    """A mapping from a value to a task list (``Switch.cases``)."""

    __slots__ = ()
    expected: ClassVar[str] = "a mapping of task lists"

    def _check(self, node: YNode, ctx: CheckContext, key_path: str) -> Any:
        if not node.is_map:
            self.mismatch(node, ctx, key_path)
            return {}
        branch = TasksProp()
        return {
            key: branch.check(child, ctx, f"{key_path}.{key}") for key, child in node.value.items()
        }

    def default_value(self) -> Any:
        return {}

    def _schema(self) -> dict[str, Any]:
        return {
            "type": "object",
            "additionalProperties": {"type": "array", "items": {"$ref": "#/$defs/task"}},
        }


def is_task_list(prop: Prop) -> bool:
    return isinstance(prop, TasksProp | CasesProp)


def check_fields(
    props: Mapping[str, Prop],
    node: YNode,
    ctx: CheckContext,
    key_path: str,
    *,
    skip: Iterable[str] = (),
    required_at: YNode | None = None,
) -> dict[str, Any]:
    """Check the keys of a mapping against ``props``; return values with defaults applied.

    Keys in ``skip`` are accepted and left to the caller. Task lists are
    checked after the other properties, and ``after`` lists last, so that the
    validator can follow which tasks run before which.
    """
    skipped = set(skip)
    aliases = {alias: name for name, prop in props.items() for alias in prop.aliases}
    known = list(props) + list(aliases)
    found: dict[str, tuple[str, YNode]] = {}
    for key in node.value:
        if key in skipped:
            continue
        name = aliases.get(key, key)
        if name not in props:
            message = f"unknown property {key!r}{did_you_mean(key, known)}"
            ctx.error(node.key_node(key), _join(key_path, key), message, "unknown-property")
            continue
        if name in found:
            message = f"{key!r} and {found[name][0]!r} are the same property; keep one"
            ctx.error(node.key_node(key), _join(key_path, key), message, "duplicate-property")
            continue
        found[name] = (key, node.value[key])

    def rank(name: str) -> int:
        prop = props[name]
        if not is_task_list(prop):
            return 0
        return 2 if isinstance(prop, TasksProp) and prop.after else 1

    out: dict[str, Any] = {}
    for name in sorted(props, key=rank):
        prop = props[name]
        if name in found:
            key, child = found[name]
            if prop.deprecated:
                message = f"{key!r} is deprecated: {prop.deprecated}"
                ctx.warning(node.key_node(key), _join(key_path, key), message, "deprecated")
            out[name] = prop.check(child, ctx, _join(key_path, key))
        elif prop.required:
            where = required_at or node
            message = f"missing required property {name!r}"
            ctx.error(where, key_path, message, "missing-property")
        else:
            default = prop.default_value()
            if default is not None:
                out[name] = default
    return {name: out[name] for name in props if name in out}


def _join(key_path: str, key: str) -> str:
    return f"{key_path}.{key}" if key_path else key


def object_schema(props: Mapping[str, Prop], extra: Mapping[str, Any] | None = None) -> dict:
    """JSON Schema of a mapping with declared keys (aliases accepted too)."""
    properties: dict[str, Any] = dict(extra or {})
    for name, prop in props.items():
        properties[name] = prop.schema()
        for alias in prop.aliases:
            properties[alias] = {**prop.schema(), "deprecated": True}
    out: dict[str, Any] = {
        "type": "object",
        "properties": properties,
        "additionalProperties": False,
    }
    required = [name for name, prop in props.items() if prop.required and not prop.aliases]
    if required:
        out["required"] = required
    return out


# Constructors used by the catalog: short and readable declarations.


def string(**kw: Any) -> StringProp:
    return StringProp(**kw)


def integer(**kw: Any) -> IntProp:
    return IntProp(**kw)


def number(**kw: Any) -> NumberProp:
    return NumberProp(**kw)


def boolean(**kw: Any) -> BoolProp:
    return BoolProp(**kw)


def duration(**kw: Any) -> DurationProp:
    return DurationProp(**kw)


def enum(*values: str, **kw: Any) -> EnumProp:
    return EnumProp(values=tuple(values), **kw)


def list_of(of: Prop | None = None, **kw: Any) -> ListProp:
    return ListProp(of=of, **kw)


def map_of(of: Prop | None = None, **kw: Any) -> MapProp:
    return MapProp(of=of, **kw)


def obj(props: Mapping[str, Prop], **kw: Any) -> ObjectProp:
    return ObjectProp(props=dict(props), **kw)


def one_of(*options: Prop, **kw: Any) -> OneOfProp:
    return OneOfProp(options=tuple(options), **kw)


def string_or_list(**kw: Any) -> OneOfProp:
    """A string or a list of strings (``topic``, Log ``message``)."""
    templated = kw.get("templated", False)
    return OneOfProp(
        options=(StringProp(templated=templated), ListProp(of=StringProp(templated=templated))),
        **kw,
    )


def tasks(**kw: Any) -> TasksProp:
    return TasksProp(**kw)


def cases(**kw: Any) -> CasesProp:
    return CasesProp(**kw)


def any_value(**kw: Any) -> AnyProp:
    return AnyProp(**kw)
