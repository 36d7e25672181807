"""Template functions (``now()``, ``uuid()``...) and the private helpers that
the Pebble translation calls (``__kf_*``, see ``pebble_syntax.py``)."""

from __future__ import annotations

import math
import random
import uuid as uuid_module
from collections.abc import Mapping
from typing import Any

from jinja2 import Undefined, pass_context
from jinja2.runtime import Context

from kflow.errors import ExpressionError, NotSupportedError
from kflow.storage.reading import read_function

from . import dates
from .filters import from_json, is_empty
from .ion import from_ion
from .printing import to_text
from .secrets_env import read_secret

__all__ = ["HELPERS", "PUBLIC_FUNCTIONS", "ExpressionNotSupported"]


class ExpressionNotSupported(ExpressionError, NotSupportedError):
    """A Kestra function kflow does not provide (yet), e.g. ``kv()``."""


def now(
    format: str | None = None,
    timeZone: str | None = None,
    existingFormat: str | None = None,
    locale: str | None = None,
) -> str:
    """Kestra's ``NowFunction``: the current time as text (``iso``, in UTC, by default);
    ``existingFormat`` is accepted and, as in Kestra, has nothing to read."""
    return dates.now(format, timeZone, locale)


def uuid() -> str:
    return str(uuid_module.uuid4())


def _int_argument(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ExpressionError(f"randomInt: the argument {name} must be an integer")
    return value


def random_int(lower: Any, upper: Any) -> int:
    """A random integer, ``lower`` included and ``upper`` excluded (``lower`` when equal)."""
    lower, upper = _int_argument("lower", lower), _int_argument("upper", upper)
    if upper < lower:
        raise ExpressionError(f"randomInt: upper ({upper}) is less than lower ({lower})")
    return lower if upper == lower else random.randrange(lower, upper)


def from_json_function(json: Any = None) -> Any:
    """``fromJson(text)`` / the deprecated ``json(text)``: null stays null."""
    return from_json(json)


def yaml_function(yaml: Any) -> Any:
    """``yaml(text)``: the YAML document parsed (the ``yaml`` filter writes YAML)."""
    if not isinstance(yaml, str):
        raise ExpressionError("yaml: expects a string")
    from ruamel.yaml import YAML, YAMLError

    try:
        return YAML(typ="safe", pure=True).load(yaml)
    except YAMLError as exc:
        raise ExpressionError(f"yaml: invalid YAML ({exc})") from exc


def from_ion_function(ion: Any) -> Any:
    """``fromIon(text)``: Ion text read into maps, lists and values (see ``ion.py``)."""
    return from_ion(ion)


@pass_context
def print_context(context: Context) -> dict[str, Any]:
    """``printContext()``: every variable the template can read, as a map."""
    return {
        name: value
        for name, value in context.get_all().items()
        if not name.startswith("_") and not callable(value) and not isinstance(value, Undefined)
    }


@pass_context
def error_logs(context: Context) -> list[Any]:
    logs = context.get("_error_logs")
    return list(logs) if logs else []


@pass_context
def secret(context: Context, key: str) -> str:
    return read_secret(context.get_all(), str(key))


@pass_context
def current_each_output(context: Context, outputs: Any = None) -> Any:
    """``currentEachOutput(outputs.task)``: the outputs of ``task`` for the current loop
    iteration, read down the iteration values of the enclosing loops (outermost first),
    then this task run's own (Kestra's ``CurrentEachOutputFunction``)."""
    if not isinstance(outputs, Mapping):
        raise ExpressionError(
            "The 'currentEachOutput' function expects an argument 'outputs' with type map."
        )
    current: Any = outputs
    parents = context.get("parents")
    for parent in reversed(list(parents)) if isinstance(parents, list | tuple) else ():
        taskrun = parent.get("taskrun") if isinstance(parent, Mapping) else None
        if isinstance(taskrun, Mapping):
            current = current.get(taskrun.get("value")) if isinstance(current, Mapping) else None
    taskrun = context.get("taskrun")
    value = taskrun.get("value") if isinstance(taskrun, Mapping) else None
    return current.get(value) if isinstance(current, Mapping) else None


def _not_supported(name: str, what: str) -> Any:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise ExpressionNotSupported(f"the {name}() function ({what}) is not supported yet")

    refuse.__name__ = name
    return refuse


def pebble_max(*values: Any) -> Any:
    return max(values[0] if len(values) == 1 else values)


def pebble_min(*values: Any) -> Any:
    return min(values[0] if len(values) == 1 else values)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def pebble_range(start: Any, end: Any, increment: Any = 1, step: Any = None) -> list[Any]:
    """Pebble's ``range``: both ends included; numbers or one-character strings
    (``range('a', 'e')``); never counts down unless ``increment`` is negative."""
    if step is not None:
        increment = step
    if not _is_number(increment):
        raise ExpressionError(f"range: the increment must be a number, not {increment!r}")
    inc = int(increment)
    if inc == 0:
        raise ExpressionError("range: the increment must be different than 0")
    if _is_number(start) and _is_number(end):
        return list(range(int(start), int(end) + (1 if inc > 0 else -1), inc))
    if isinstance(start, str) and isinstance(end, str) and len(start) == len(end) == 1:
        codes = range(ord(start), ord(end) + (1 if inc > 0 else -1), inc)
        return [chr(c) for c in codes]
    raise ExpressionError("range: the arguments must be numbers or strings with a length of 1")


# Kestra functions that need services kflow does not have (yet): known names,
# so flows using them validate, and a clear error when they are called.
_UNSUPPORTED = {
    "kv": "key-value store",
    "fileURI": "internal storage",
    "fileExists": "internal storage",
    "fileSize": "internal storage",
    "isFileEmpty": "internal storage",
    "encrypt": "encryption",
    "decrypt": "encryption",
    "appLink": "Kestra UI links",
    "tasksWithState": "execution history",
}


PUBLIC_FUNCTIONS: dict[str, Any] = {
    "now": now,
    "uuid": uuid,
    "randomInt": random_int,
    "fromJson": from_json_function,
    "json": from_json_function,
    "yaml": yaml_function,
    "fromIon": from_ion_function,
    "printContext": print_context,
    "fetchContext": print_context,
    "errorLogs": error_logs,
    "secret": secret,
    "max": pebble_max,
    "min": pebble_min,
    "range": pebble_range,
    "currentEachOutput": current_each_output,
    "read": read_function,
    **{name: _not_supported(name, what) for name, what in _UNSUPPORTED.items()},
}


# ----------------------------------------------------------------- private helpers


class _Box:
    """A truthy wrapper, so ``a ?? b`` can be ``unbox(nonnull(a) or box(b))``."""

    __slots__ = ("v",)

    def __init__(self, v: Any) -> None:
        self.v = v


_MISSING = object()


def _get(root: Any, *keys: Any) -> Any:
    """Follow ``keys`` from ``root``; an Undefined when any link is missing."""
    value = root
    for key in keys:
        if isinstance(value, Undefined) or value is None:
            return value if isinstance(value, Undefined) else Undefined(name=str(key))
        if isinstance(value, Mapping):
            found = value.get(key, _MISSING)
        elif isinstance(value, list | tuple) and isinstance(key, int):
            found = value[key] if -len(value) <= key < len(value) else _MISSING
        else:
            found = _MISSING
        if found is _MISSING:
            return Undefined(name=str(key))
        value = found
    return value


def _nonnull(value: Any) -> Any:
    return False if value is None or isinstance(value, Undefined) else _Box(value)


def _present(value: Any) -> Any:
    return False if isinstance(value, Undefined) else _Box(value)


def _box(value: Any) -> _Box:
    return _Box(value)


def _unbox(box: _Box) -> Any:
    return box.v


def _contains(container: Any, item: Any) -> bool:
    if container is None or isinstance(container, Undefined):
        return False
    if isinstance(container, list | tuple | set) and isinstance(item, list | tuple):
        return all(x in container for x in item)
    return item in container


def _range(lower: Any, upper: Any) -> list[Any]:
    """Pebble's ``a..b``: ``range(a, b)``, so ``5..1`` is empty."""
    return pebble_range(lower, upper)


def _is_in(item: Any, container: Any) -> bool:
    """Kestra's ``isIn``: compared as text, in a list or among a map's keys and values."""
    if item is None or isinstance(item, Undefined):
        return False
    if container is None or isinstance(container, Undefined):
        return False
    wanted = to_text(item)
    if isinstance(container, Mapping):
        return any(to_text(k) == wanted or to_text(v) == wanted for k, v in container.items())
    if isinstance(container, str | bytes):
        return False
    try:
        return any(to_text(x) == wanted for x in container)
    except TypeError:
        return False


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _div(a: Any, b: Any) -> Any:
    """Pebble's ``/``: integer operands divide as Java integers (towards zero)."""
    if _is_int(a) and _is_int(b):
        if b == 0:
            raise ExpressionError("division by zero")
        q = abs(a) // abs(b)
        return q if (a >= 0) == (b >= 0) else -q
    return a / b


def _mod(a: Any, b: Any) -> Any:
    """Pebble's ``%``: the remainder takes the sign of the dividend, as in Java."""
    if _is_int(a) and _is_int(b):
        if b == 0:
            raise ExpressionError("division by zero")
        return a - b * _div(a, b)
    return math.fmod(a, b)


HELPERS: dict[str, Any] = {
    "__kf_div": _div,
    "__kf_mod": _mod,
    "__kf_get": _get,
    "__kf_nonnull": _nonnull,
    "__kf_present": _present,
    "__kf_box": _box,
    "__kf_unbox": _unbox,
    "__kf_is_defined": lambda v: not isinstance(v, Undefined),
    "__kf_is_null": lambda v: v is None or isinstance(v, Undefined),
    "__kf_is_empty": is_empty,
    "__kf_contains": _contains,
    "__kf_range": _range,
    "__kf_is_in": _is_in,
}
