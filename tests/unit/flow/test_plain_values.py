"""The flow's value classes behave as the dataclasses they replace (for start-up time).

The bases of ``kflow.records`` first, on classes of this module; then the classes
built on them: equality field by field, immutability of the frozen ones, hashing,
``repr``, and copies (``copy``, ``deepcopy``, ``pickle``); ``replace`` on the records.
"""

from __future__ import annotations

import copy
import pickle
from typing import Any

import pytest

from kflow.expr.checks import ExprProblem
from kflow.expr.pebble_lexer import Token
from kflow.flow.diagnostics import Diagnostic
from kflow.flow.model import (
    Concurrency,
    ConcurrencyBehavior,
    Flow,
    FlowOutput,
    RetryPolicy,
    RetryType,
    TaskDef,
    TriggerDef,
)
from kflow.flow.properties import EnumProp, ObjectProp, StringProp, enum, obj, string, tasks
from kflow.flow.registry import TypeSpec
from kflow.records import FrozenRecord, Record


class Point(FrozenRecord):
    __slots__ = ("label", "x", "y")
    _compared = ("x", "y")

    x: int
    y: int
    label: str

    def __init__(self, x: int, y: int = 0, label: str = "") -> None:
        self._set(x, y, label)


class Entry(Record):
    def __init__(self, key: str, values: list[int] | None = None) -> None:
        self.key = key
        self.values = [] if values is None else values


def test_a_records_fields_are_its_init_parameters() -> None:
    assert Point._fields == ("x", "y", "label")
    assert Entry._fields == ("key", "values")
    assert repr(Point(1, label="a")) == "Point(x=1, y=0, label='a')"
    assert repr(Entry("k")) == "Entry(key='k', values=[])"


def test_frozen_record_base() -> None:
    point = Point(1, 2, "a")
    assert point == Point(1, 2, "b") != Point(1, 3, "a")  # label is not compared
    assert hash(point) == hash(Point(1, 2, "b"))
    assert point != (1, 2) and Point(1) != Entry("k")
    for name in ("x", "label"):
        with pytest.raises(AttributeError, match="cannot assign"):
            setattr(point, name, 0)
        with pytest.raises(AttributeError, match="cannot delete"):
            delattr(point, name)
    for other in (copy.copy(point), copy.deepcopy(point), pickle.loads(pickle.dumps(point))):
        assert type(other) is Point and repr(other) == repr(point)
    moved = point.replace(y=5)
    assert (moved.x, moved.y, moved.label) == (1, 5, "a") and point.y == 2
    with pytest.raises(TypeError, match=r"Point has no fields \['z'\]"):
        point.replace(z=1)


def test_mutable_record_base() -> None:
    entry = Entry("k", [1])
    assert entry == Entry("k", [1]) != Entry("k", [2])
    with pytest.raises(TypeError):
        hash(entry)
    changed = entry.replace(key="j")
    assert changed == Entry("j", [1]) and changed.values is entry.values and entry.key == "k"
    entry.key = "x"
    assert entry == Entry("x", [1])
    assert copy.deepcopy(entry) == entry and pickle.loads(pickle.dumps(entry)) == entry


SPEC = TypeSpec(name="x.Task", kind="task", properties={"a": string()}, runner="m:C")

FROZEN: list[Any] = [
    Diagnostic("f.yaml", 1, 2, "tasks.a", "bad", "warning", "code", True),
    ExprProblem("unknown filter 'x'", 1, 4, kind="syntax"),
    RetryPolicy(RetryType.CONSTANT, max_attempts=3, interval=2.0),
    Concurrency(2, ConcurrencyBehavior.FAIL),
    FlowOutput("o", "STRING", "{{ x }}", "an output"),
    string(required=True, pattern="[a-z]+", aliases=("old",)),
    enum("A", "B", default="A", unsupported=("B",)),
    obj({"a": string(), "b": tasks(min_items=0)}),
    SPEC,
]


@pytest.mark.parametrize("value", FROZEN, ids=lambda v: type(v).__name__)
def test_frozen_values_cannot_change(value: Any) -> None:
    name = next(iter(getattr(value, "__slots__", ())), "x")
    with pytest.raises(AttributeError):
        setattr(value, name, None)


@pytest.mark.parametrize("value", FROZEN, ids=lambda v: type(v).__name__)
def test_copies_are_equal(value: Any) -> None:
    for other in (copy.copy(value), copy.deepcopy(value), pickle.loads(pickle.dumps(value))):
        assert other == value
        assert type(other) is type(value)
        assert repr(other) == repr(value)


RECORD_CLASSES: list[type[Record]] = sorted(
    {type(value) for value in FROZEN} | {TaskDef, TriggerDef, Flow, Token, EnumProp, ObjectProp},
    key=lambda cls: cls.__name__,
)


@pytest.mark.parametrize("cls", RECORD_CLASSES, ids=lambda cls: cls.__name__)
def test_each_argument_lands_in_its_own_field(cls: type[Record]) -> None:
    values = {name: object() for name in cls._fields}
    record = cls(**values)
    assert {name: getattr(record, name) for name in cls._fields} == values


def test_equality_is_field_by_field() -> None:
    assert Diagnostic("f", 1, 1, "", "m") == Diagnostic("f", 1, 1, "", "m", "error", "invalid")
    assert Diagnostic("f", 1, 1, "", "m") != Diagnostic("f", 1, 2, "", "m")
    assert hash(Diagnostic("f", 1, 1, "", "m")) == hash(Diagnostic("f", 1, 1, "", "m"))
    assert ExprProblem("m", 1, 2, kind="jq") == ExprProblem("m", 1, 2)  # kind is not compared
    assert hash(ExprProblem("m", 1, 2, kind="jq")) == hash(ExprProblem("m", 1, 2))
    assert string(pattern="a") == StringProp(pattern="a") != StringProp(pattern="b")
    assert string() != EnumProp()  # another kind of property
    assert RetryPolicy(RetryType.RANDOM) == RetryPolicy(type=RetryType.RANDOM)
    assert {RetryPolicy(RetryType.RANDOM): 1}[RetryPolicy(RetryType.RANDOM)] == 1
    checked = TypeSpec(name="x.Task", kind="task", properties={"a": string()}, runner="m:C")
    assert TypeSpec(**{**_spec_fields(checked), "check": lambda *a: None}) == checked


def _spec_fields(spec: TypeSpec) -> dict[str, Any]:
    return {name: getattr(spec, name) for name in spec.__slots__}


def test_reprs_name_the_fields() -> None:
    assert repr(Diagnostic("f", 1, 2, "k", "m")) == (
        "Diagnostic(path='f', line=1, column=2, key_path='k', message='m', "
        "severity='error', code='invalid', fails_at_run=False)"
    )
    assert (
        repr(ExprProblem("m", 1, 2)) == "ExprProblem(message='m', line=1, column=2, kind='other')"
    )
    assert repr(string(pattern="x")).startswith("StringProp(required=False, default=None")
    assert "pattern='x'" in repr(string(pattern="x"))


def test_props_take_keywords_only_and_refuse_unknown_ones() -> None:
    with pytest.raises(TypeError, match="unexpected keyword arguments: nope"):
        string(nope=1)
    assert ObjectProp().props == {} and ObjectProp().props is not ObjectProp().props
    assert tasks().min_items == 1 and tasks(min_items=0).min_items == 0


def test_records_are_mutable_and_replace_returns_a_changed_copy() -> None:
    task = TaskDef(id="a", type="x.Task", spec=SPEC, props={"a": "1"})
    trigger = TriggerDef("t", "x.Trigger", SPEC, {"p": 1})
    flow = Flow(id="f", namespace="n", tasks=[task], triggers=[trigger])
    assert flow.errors == [] and flow.labels == {} and flow.ref == "n.f"
    changed = trigger.replace(props={"p": 2})
    assert changed.props == {"p": 2} and trigger.props == {"p": 1}
    assert changed == TriggerDef("t", "x.Trigger", SPEC, {"p": 2})
    task.disabled = True
    assert task != TaskDef(id="a", type="x.Task", spec=SPEC, props={"a": "1"})
    with pytest.raises(TypeError):
        hash(task)
    with pytest.raises(TypeError, match="no fields"):
        flow.replace(nope=1)
    policy = RetryPolicy(RetryType.CONSTANT, interval=1.0)
    assert policy.replace(interval=2.0) == RetryPolicy(RetryType.CONSTANT, interval=2.0)
    assert policy.interval == 1.0
