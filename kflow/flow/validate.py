"""Validate a parsed flow and build its :class:`~kflow.flow.model.Flow`.

The :class:`FlowValidator` walks the YAML tree once, checking every key
against the property models of the type registry, and reports every problem
as a :class:`~kflow.flow.diagnostics.Diagnostic`. Templated strings are
recorded on the way, with the tasks that run before them, and checked
afterwards by :mod:`kflow.flow.expressions` (which imports ``kflow.expr``).
"""

from __future__ import annotations

import copy
import re
from typing import Any

from kflow.flow.common import (
    CONCURRENCY,
    FLOW_ID_PATTERN,
    FLOW_KEYS,
    INPUT,
    NAMESPACE_PATTERN,
    PLUGIN_DEFAULT,
    RETRY,
    RETRY_NEEDS,
    TASK_ID_PATTERN,
    TASK_PROPS,
    TRIGGER_PROPS,
)
from kflow.flow.diagnostics import Diagnostic
from kflow.flow.model import Flow, RetryPolicy, RetryType, TaskDef, TriggerDef
from kflow.flow.properties import (
    CheckContext,
    TasksProp,
    TemplateKind,
    any_value,
    boolean,
    check_fields,
    describe,
    did_you_mean,
    integer,
    string,
)
from kflow.flow.registry import TypeRegistry, TypeSpec
from kflow.flow.yamltree import YNode

_TOP_TASKS = TasksProp()
_OPTIONAL_TASKS = TasksProp(min_items=0)


class TemplateSite:
    """A string to check with the expression checks.

    ``before``: ids of the tasks that have run when this string is rendered
    (None: order is not checked, only existence). ``task``: the owning task.
    """

    __slots__ = ("before", "key_path", "kind", "node", "task")

    def __init__(
        self,
        node: YNode,
        key_path: str,
        kind: TemplateKind,
        task: str | None,
        before: frozenset[str] | None,
    ) -> None:
        self.node = node
        self.key_path = key_path
        self.kind = kind
        self.task = task
        self.before = before

    def __repr__(self) -> str:
        return f"TemplateSite({self.key_path!r}, {self.kind!r}, task={self.task!r})"

    @property
    def in_trigger(self) -> bool:
        """True for a trigger's property (rendered when the run starts, not by a task)."""
        return self.task is None and self.key_path.startswith(("triggers.", "triggers["))


class PluginDefault:
    """One item of ``pluginDefaults``: values for the types ``type`` names or prefixes."""

    __slots__ = ("forced", "type", "values")

    def __init__(self, type: str, values: YNode, forced: bool) -> None:
        self.type = type
        self.values = values
        self.forced = forced


class FlowValidator(CheckContext):
    """Checks one flow; implements :class:`~kflow.flow.properties.CheckContext`."""

    def __init__(self, path: str, registry: TypeRegistry) -> None:
        self.path = path
        self.registry = registry
        self.diagnostics: list[Diagnostic] = []
        self.sites: list[TemplateSite] = []
        self.task_ids: dict[str, YNode] = {}
        self.trigger_ids: dict[str, YNode] = {}
        self.defaults: list[PluginDefault] = []
        # Order tracking: tasks run before the task being checked, the tasks
        # found so far inside it, and its id.
        self.before: frozenset[str] = frozenset()
        self._task_start: frozenset[str] | None = frozenset()
        self._collected: set[str] = set()
        self._current: str | None = None

    # -- CheckContext -------------------------------------------------------

    def error(self, node: YNode, key_path: str, message: str, code: str = "invalid") -> None:
        self.diagnostics.append(
            Diagnostic(self.path, node.line, node.column, key_path, message, "error", code)
        )

    def warning(self, node: YNode, key_path: str, message: str, code: str = "warning") -> None:
        self.diagnostics.append(
            Diagnostic(self.path, node.line, node.column, key_path, message, "warning", code)
        )

    def template(self, node: YNode, key_path: str, kind: TemplateKind) -> None:
        self.sites.append(TemplateSite(node, key_path, kind, self._current, self._task_start))

    def fork(self) -> FlowValidator:
        other = copy.copy(self)
        other.diagnostics = []
        other.sites = []
        return other

    def adopt(self, fork: CheckContext) -> None:
        assert isinstance(fork, FlowValidator)
        self.diagnostics.extend(fork.diagnostics)
        self.sites.extend(fork.sites)

    @property
    def error_count(self) -> int:
        return sum(1 for d in self.diagnostics if d.is_error)

    def tasks(self, node: YNode, key_path: str, prop: TasksProp) -> list[Any]:
        """Check a task list; each task sees the tasks that ran before it."""
        start = self._task_start or frozenset()
        if prop.after:
            start = start | self._collected
        ran = set(start)
        added: set[str] = set()
        result: list[TaskDef] = []
        for index, child in enumerate(node.value):
            self.before = frozenset(start if prop.concurrent else ran)
            task, ids = self.check_task(child, key_path, index)
            if task is not None:
                result.append(task)
            added |= ids
            if not prop.concurrent:
                ran |= ids
        self._collected |= added
        return result

    # -- flow ---------------------------------------------------------------

    def check_flow(self, root: YNode) -> Flow | None:
        if not root.is_map:
            self.error(root, "", f"a flow must be a mapping, got {describe(root)}", "type")
            return None
        for key in root.value:
            if key not in FLOW_KEYS:
                message = f"unknown flow property {key!r}{did_you_mean(key, FLOW_KEYS)}"
                self.error(root.key_node(key), key, message, "unknown-property")
        flow_id = self._flow_name(root, "id", FLOW_ID_PATTERN, 100)
        namespace = self._flow_name(root, "namespace", NAMESPACE_PATTERN, 150)
        self._read_defaults(root)

        labels = self._labels(root.value.get("labels"))
        inputs = self._inputs(root.value.get("inputs"))
        variables = self._plain_prop(root, "variables", any_value(templated=True), {}, None)

        self._task_start, self._collected, self._current = frozenset(), set(), None
        tasks_node = root.value.get("tasks")
        tasks: list[TaskDef] = []
        if tasks_node is None:
            self.error(root, "", "missing required property 'tasks'", "missing-property")
        else:
            tasks = self._task_list(tasks_node, "tasks", _TOP_TASKS)
        main_ids = frozenset(self._collected)
        errors = self._after_list(root, "errors", main_ids)
        finally_ = self._after_list(root, "finally", frozenset(self._collected))
        after_execution = self._after_list(root, "afterExecution", frozenset(self._collected))
        all_ids = frozenset(self._collected)
        self._task_start, self._current = all_ids, None
        outputs = self._plain_prop(root, "outputs", any_value(templated=True), [], all_ids)

        triggers = self._triggers(root.value.get("triggers"))
        retry = None
        if "retry" in root.value:
            retry = self._retry(root.value["retry"], "retry")
        concurrency = self._plain_prop(root, "concurrency", CONCURRENCY, None, None)
        disabled = self._plain_prop(root, "disabled", boolean(), False, None)
        revision = self._plain_prop(root, "revision", integer(minimum=1), None, None)
        description = self._plain_prop(root, "description", string(), None, None)

        if flow_id is None or namespace is None:
            return None
        return Flow(
            id=flow_id,
            namespace=namespace,
            tasks=tasks,
            triggers=triggers,
            errors=errors,
            finally_=finally_,
            after_execution=after_execution,
            description=description,
            labels=labels,
            inputs=inputs,
            variables=variables if isinstance(variables, dict) else {},
            outputs=outputs if isinstance(outputs, list) else [],
            retry=retry,
            disabled=bool(disabled),
            revision=revision,
            source_path=self.path,
            concurrency=concurrency,
        )

    def _flow_name(self, root: YNode, key: str, pattern: str, limit: int) -> str | None:
        node = root.value.get(key)
        if node is None:
            self.error(root, "", f"missing required property {key!r}", "missing-property")
            return None
        if not node.is_scalar or isinstance(node.value, bool) or node.value is None:
            self.error(node, key, f"{key} must be a string, got {describe(node)}", "type")
            return None
        value = str(node.value)
        if not re.fullmatch(pattern, value) or len(value) > limit:
            message = f"{key} {value!r} must match {pattern} (at most {limit} characters)"
            self.error(node, key, message, "pattern")
            return None
        return value

    def _plain_prop(
        self,
        root: YNode,
        key: str,
        prop: Any,
        default: Any,
        before: frozenset[str] | None,
    ) -> Any:
        node = root.value.get(key)
        if node is None:
            return default
        self._task_start, self._current = before, None
        value = prop.check(node, self, key)
        return default if value is None else value

    def _labels(self, node: YNode | None) -> dict[str, str]:
        if node is None:
            return {}
        self._task_start, self._current = None, None
        if node.is_map:
            for key, child in node.value.items():
                if not child.is_scalar:
                    self.error(child, f"labels.{key}", "a label value must be a string", "type")
            return {k: "" if v.value is None else str(v.value) for k, v in node.value.items()}
        if node.is_seq:
            out: dict[str, str] = {}
            for index, item in enumerate(node.value):
                where = f"labels[{index}]"
                if not item.is_map or "key" not in item.value:
                    self.error(item, where, "a label must be a mapping with key and value", "type")
                    continue
                value = item.value.get("value")
                key = item.value["key"].plain()
                out[str(key)] = "" if value is None or value.plain() is None else str(value.plain())
            return out
        self.error(node, "labels", f"labels must be a mapping or a list, got {describe(node)}")
        return {}

    def _inputs(self, node: YNode | None) -> list[dict[str, Any]]:
        if node is None:
            return []
        if not node.is_seq:
            self.error(node, "inputs", f"inputs must be a list, got {describe(node)}", "type")
            return []
        out: list[dict[str, Any]] = []
        seen: dict[str, YNode] = {}
        for index, item in enumerate(node.value):
            where = f"inputs[{index}]"
            if not item.is_map:
                self.error(item, where, f"an input must be a mapping, got {describe(item)}")
                continue
            checked = check_fields(INPUT.props, item, self, where, skip=_extra(item, INPUT.props))
            input_id = checked.get("id")
            if input_id in seen:
                self.error(item.key_node("id"), where, f"duplicate input id {input_id!r}")
            elif input_id:
                seen[input_id] = item
            out.append(item.plain())
        return out

    def _read_defaults(self, root: YNode) -> None:
        for key in ("pluginDefaults", "taskDefaults"):
            node = root.value.get(key)
            if node is None:
                continue
            if key == "taskDefaults":
                self.warning(
                    root.key_node(key),
                    key,
                    "taskDefaults is the old name of pluginDefaults",
                    "deprecated",
                )
            if not node.is_seq:
                self.error(node, key, f"{key} must be a list, got {describe(node)}", "type")
                continue
            for index, item in enumerate(node.value):
                where = f"{key}[{index}]"
                if not item.is_map:
                    self.error(item, where, f"expected a mapping, got {describe(item)}", "type")
                    continue
                checked = check_fields(PLUGIN_DEFAULT.props, item, self, where)
                values = item.value.get("values")
                if "type" not in checked or values is None:
                    continue
                if not values.is_map:
                    self.error(values, f"{where}.values", "values must be a mapping", "type")
                    continue
                self.defaults.append(PluginDefault(checked["type"], values, checked["forced"]))

    def _task_list(self, node: YNode, key_path: str, prop: TasksProp) -> list[TaskDef]:
        if not node.is_seq:
            self.error(node, key_path, f"expected a list of tasks, got {describe(node)}", "type")
            return []
        if len(node.value) < prop.min_items:
            self.error(node, key_path, "must hold at least one task", "empty")
        return self.tasks(node, key_path, prop)

    def _after_list(self, root: YNode, key: str, before: frozenset[str]) -> list[TaskDef]:
        node = root.value.get(key)
        if node is None:
            return []
        self._task_start, self._current = before, None
        return self._task_list(node, key, _OPTIONAL_TASKS)

    # -- tasks --------------------------------------------------------------

    def check_task(
        self, node: YNode, list_path: str, index: int
    ) -> tuple[TaskDef | None, set[str]]:
        """Check one task; return its TaskDef (None when broken) and the ids it holds."""
        where = f"{list_path}[{index}]"
        if not node.is_map:
            self.error(node, where, f"a task must be a mapping, got {describe(node)}", "type")
            return None, set()
        task_id, key_path = self._item_id(node, where, list_path, self.task_ids, "task")
        spec = self._item_spec(node, key_path, "task")
        ids = {task_id} if task_id else set()
        saved = (self._task_start, self._collected, self._current)
        self._task_start, self._collected, self._current = self.before, set(), task_id
        try:
            if spec is None:
                self._scan_unknown(node, key_path)
                return None, ids | self._collected
            merged = self._apply_defaults(node, spec)
            props = {**spec.properties, **TASK_PROPS}
            values = check_fields(props, merged, self, key_path, skip=("id", "type"))
            if spec.check is not None:
                spec.check(values, merged, self, key_path)
            ids |= self._collected
        finally:
            self._task_start, self._collected, self._current = saved
        common = {name: values.pop(name) for name in list(values) if name in TASK_PROPS}
        retry = None
        if "retry" in merged.value:
            retry = self._retry(merged.value["retry"], f"{key_path}.retry", common.get("retry"))
        if task_id is None:
            return None, ids
        run_if = common.get("runIf")
        return (
            TaskDef(
                id=task_id,
                type=spec.name,
                spec=spec,
                props=values,
                description=common.get("description"),
                retry=retry,
                timeout=common.get("timeout"),
                disabled=bool(common.get("disabled")),
                allow_failure=bool(common.get("allowFailure")),
                allow_warning=bool(common.get("allowWarning")),
                log_level=common.get("logLevel"),
                run_if=None if run_if in (None, "true") else run_if,
                line=node.line,
            ),
            ids,
        )

    def _item_id(
        self, node: YNode, where: str, list_path: str, seen: dict[str, YNode], what: str
    ) -> tuple[str | None, str]:
        id_node = node.value.get("id")
        if id_node is None:
            self.error(node, where, f"missing required property 'id' of the {what}", "missing-id")
            return None, where
        if not id_node.is_scalar or id_node.value is None or isinstance(id_node.value, bool):
            self.error(id_node, where, f"a {what} id must be a string, got {describe(id_node)}")
            return None, where
        value = str(id_node.value)
        key_path = f"{list_path}.{value}"
        if not re.fullmatch(TASK_ID_PATTERN, value) or len(value) > 100:
            message = f"{what} id {value!r} must match {TASK_ID_PATTERN} (at most 100 characters)"
            self.error(id_node, f"{key_path}.id", message, "pattern")
        if value in seen:
            first = seen[value]
            message = f"duplicate {what} id {value!r} (first used on line {first.line})"
            self.error(id_node, f"{key_path}.id", message, "duplicate-id")
            return None, key_path
        seen[value] = id_node
        return value, key_path

    def _item_spec(self, node: YNode, key_path: str, kind: str) -> TypeSpec | None:
        type_node = node.value.get("type")
        if type_node is None:
            self.error(node, key_path, f"missing required property 'type' of the {kind}")
            return None
        if not type_node.is_scalar or not isinstance(type_node.value, str):
            message = f"type must be a string, got {describe(type_node)}"
            self.error(type_node, f"{key_path}.type", message, "type")
            return None
        name = type_node.value
        spec = self.registry.lookup(name)
        if spec is None:
            hints = self.registry.suggest(name, kind=kind)  # type: ignore[arg-type]
            hint = f"; did you mean {hints[0]}?" if hints else " (kflow does not know this type)"
            message = f"unknown {kind} type {name}{hint}"
            self.error(type_node, f"{key_path}.type", message, "unknown-type")
            return None
        if spec.kind != kind:
            message = f"{name} is a {spec.kind} type; it cannot be used as a {kind}"
            self.error(type_node, f"{key_path}.type", message, "wrong-kind")
            return None
        return spec

    def _scan_unknown(self, node: YNode, key_path: str) -> None:
        """Inside a task of unknown type, still check lists that look like tasks."""
        for key, child in node.value.items():
            if (
                child.is_seq
                and child.value
                and all(item.is_map and "type" in item.value for item in child.value)
            ):
                self.tasks(child, f"{key_path}.{key}", TasksProp())

    def _apply_defaults(self, node: YNode, spec: TypeSpec) -> YNode:
        """``pluginDefaults`` matching the type (or a prefix of it) merged into the task."""
        written = node.value["type"].value
        names = (written, spec.name, *spec.aliases)
        merged = node
        for default in self.defaults:
            exact = self.registry.lookup(default.type) is spec
            if not exact and not any(name.startswith(default.type) for name in names):
                continue
            values = default.values
            if not exact:
                known = set(spec.properties) | set(TASK_PROPS)
                kept = {k: v for k, v in values.value.items() if k in known}
                values = YNode("map", kept, values.line, values.column, keys=values.keys)
            merged = (
                merge_nodes(values, merged) if not default.forced else merge_nodes(merged, values)
            )
        return merged

    def _retry(
        self, node: YNode, key_path: str, checked: dict[str, Any] | None = None
    ) -> RetryPolicy | None:
        if checked is None:
            checked = RETRY.check(node, self, key_path)
        if not isinstance(checked, dict) or "type" not in checked:
            return None
        kind = checked["type"]
        for needed in RETRY_NEEDS[kind]:
            if needed not in checked:
                message = f"a {kind} retry needs {needed}"
                self.error(node, key_path, message, "missing-property")
        return RetryPolicy(
            type=RetryType(kind),
            max_attempts=checked.get("maxAttempts"),
            max_duration=checked.get("maxDuration"),
            interval=checked.get("interval"),
            max_interval=checked.get("maxInterval"),
            delay_factor=checked.get("delayFactor"),
            min_interval=checked.get("minInterval"),
            warning_on_retry=bool(checked.get("warningOnRetry")),
        )

    # -- triggers -----------------------------------------------------------

    def _triggers(self, node: YNode | None) -> list[TriggerDef]:
        if node is None:
            return []
        if not node.is_seq:
            self.error(node, "triggers", f"triggers must be a list, got {describe(node)}", "type")
            return []
        out: list[TriggerDef] = []
        for index, item in enumerate(node.value):
            trigger = self._trigger(item, index)
            if trigger is not None:
                out.append(trigger)
        return out

    def _trigger(self, node: YNode, index: int) -> TriggerDef | None:
        where = f"triggers[{index}]"
        if not node.is_map:
            self.error(node, where, f"a trigger must be a mapping, got {describe(node)}", "type")
            return None
        trigger_id, key_path = self._item_id(node, where, "triggers", self.trigger_ids, "trigger")
        spec = self._item_spec(node, key_path, "trigger")
        if spec is None:
            return None
        self._task_start, self._current = frozenset(), None
        merged = self._apply_defaults(node, spec)
        props = {**spec.properties, **TRIGGER_PROPS}
        values = check_fields(props, merged, self, key_path, skip=("id", "type"))
        if spec.check is not None:
            spec.check(values, merged, self, key_path)
        common = {name: values.pop(name) for name in list(values) if name in TRIGGER_PROPS}
        if trigger_id is None:
            return None
        return TriggerDef(
            id=trigger_id,
            type=spec.name,
            spec=spec,
            props=values,
            description=common.get("description"),
            disabled=bool(common.get("disabled")),
            line=node.line,
        )


def _extra(node: YNode, declared: Any) -> tuple[str, ...]:
    """Keys of ``node`` that ``declared`` does not name (inputs accept every Kestra option)."""
    names = set(declared) | {alias for prop in declared.values() for alias in prop.aliases}
    return tuple(k for k in node.value if k not in names)


def merge_nodes(base: YNode, override: YNode) -> YNode:
    """Deep merge of two mappings: ``override`` wins; lists and scalars are replaced."""
    if not (base.is_map and override.is_map):
        return override
    values = dict(base.value)
    keys = dict(base.keys)
    for key, child in override.value.items():
        values[key] = merge_nodes(values[key], child) if key in values else child
        keys[key] = override.keys.get(key, override)
    return YNode(
        "map",
        values,
        override.line,
        override.column,
        override.start,
        override.end,
        keys=keys,
    )
