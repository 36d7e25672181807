"""Compile and render Kestra templates with a sandboxed Jinja2 environment.

A template is translated from Pebble to Jinja2 once (``pebble_syntax``),
compiled once, and rendered many times. Rendering prints values as Pebble
does (``printing.to_text``). ``Template.evaluate`` returns the native value
when the whole source is one ``{{ expr }}``.

Context keys read by templates: ``flow``, ``execution``, ``task``,
``taskrun``, ``trigger``, ``vars``, ``inputs``, ``outputs``, ``envs``,
``labels``; private keys (never readable by name from a template):
``_error_logs`` (for ``errorLogs()``), ``_secrets``, ``_environ`` and
``_secrets_seen`` (see ``secrets_env``).

Errors are ``ExpressionError``; an undefined name reads
"Unable to find `x` used in the expression `{{ x + 1 }}`".
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any, NoReturn

from jinja2 import StrictUndefined, TemplateError, Undefined, UndefinedError, pass_context
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context
from jinja2.sandbox import SandboxedEnvironment

from kflow.errors import ExpressionError

from .checks import (
    ExprProblem,
    check_template,
    is_templated,
    line_col,
    referenced_outputs,
    translate_or_none,
)
from .direct import compile_direct
from .filters import FILTERS, is_json
from .functions import HELPERS, PUBLIC_FUNCTIONS
from .names import FILTER_NAMES, FUNCTION_NAMES, TEST_NAMES
from .pebble_runtime import RUNTIME_HELPERS
from .pebble_syntax import PebbleSyntaxError, Translation, translate
from .printing import to_text

__all__ = [
    "BrokenTemplate",
    "ExprProblem",
    "Template",
    "check_template",
    "compile_or_broken",
    "compile_template",
    "is_templated",
    "line_col",
    "referenced_outputs",
    "translate_or_none",
]


# ----------------------------------------------------------------------- environment


class _MissingValue(UndefinedError):
    def __init__(self, message: str, name: str | None) -> None:
        super().__init__(message)
        self.missing_name = name


class KestraUndefined(StrictUndefined):
    """Strict undefined that remembers which name was missing."""

    __slots__ = ()

    def _fail_with_undefined_error(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise _MissingValue(self._undefined_message, self._undefined_name)

    __str__ = __iter__ = __len__ = __eq__ = __ne__ = __bool__ = __hash__ = (  # type: ignore[assignment]
        _fail_with_undefined_error
    )
    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = __lt__ = __le__ = (  # type: ignore[assignment]
        _fail_with_undefined_error
    )
    __gt__ = __ge__ = __int__ = __float__ = __contains__ = __getitem__ = (  # type: ignore[assignment]
        _fail_with_undefined_error
    )
    __truediv__ = __rtruediv__ = __mod__ = __rmod__ = __neg__ = __pos__ = __call__ = (  # type: ignore[assignment]
        _fail_with_undefined_error
    )

    def __getattr__(self, name: str) -> Any:
        if name[:2] == "__":
            raise AttributeError(name)
        self._fail_with_undefined_error()


def _finalize(value: Any) -> str:
    if isinstance(value, Undefined):
        value._fail_with_undefined_error()
    return to_text(value)


class KestraEnvironment(SandboxedEnvironment):
    """Sandboxed Jinja2 with Kestra's filters, functions and map-first lookups."""

    def getattr(self, obj: Any, attribute: str) -> Any:
        # A map's entries win over its methods: ``outputs.x.values`` is the entry.
        if type(obj) is dict or isinstance(obj, Mapping):
            try:
                return obj[attribute]
            except KeyError:
                return self.undefined(obj=obj, name=attribute)
            except TypeError:
                pass
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        if type(obj) is dict or isinstance(obj, Mapping):
            try:
                return obj[argument]
            except (KeyError, TypeError):
                return self.undefined(obj=obj, name=argument)
        return super().getitem(obj, argument)


def _build_environment() -> KestraEnvironment:
    env = KestraEnvironment(
        undefined=KestraUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        trim_blocks=False,
        lstrip_blocks=False,
        finalize=_finalize,
        cache_size=0,
    )
    env.filters.update(FILTERS)
    env.globals.clear()  # Jinja2's own (lipsum, cycler...) are not Pebble's
    env.globals.update(PUBLIC_FUNCTIONS)
    env.globals.update(HELPERS)
    env.globals.update(RUNTIME_HELPERS)
    env.globals["render"] = _render_function
    env.globals["renderOnce"] = _render_once_function
    env.tests["empty"] = lambda v: FILTERS["default"](v, True) is True
    env.tests["json"] = is_json
    return env


_MAX_RENDERS = 10


def _render_text(text: str, variables: Mapping[str, Any], recursive: bool) -> str:
    for _ in range(_MAX_RENDERS if recursive else 1):
        if not is_templated(text):
            return text
        text = _compile_cached(text).render(variables)
    if recursive and is_templated(text):
        raise ExpressionError(f"render: too many rendering attempts for `{_excerpt(text)}`")
    return text


def _render_object(value: Any, variables: Mapping[str, Any], recursive: bool) -> Any:
    """Kestra's renderObject: strings rendered, maps and lists rendered item by item."""
    if isinstance(value, str):
        return _render_text(value, variables, recursive)
    if isinstance(value, Mapping):
        return {
            _render_object(k, variables, recursive): _render_object(v, variables, recursive)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple | set | frozenset):
        return [_render_object(v, variables, recursive) for v in value]
    return value


@pass_context
def _render_function(context: Context, toRender: Any = None, recursive: Any = True) -> Any:
    """``render(x)``: ``x`` rendered as a template with the current variables,
    again and again while the result still holds an expression (``recursive=false``:
    once); a map or list has its strings rendered."""
    if recursive is None:
        recursive = True
    if not isinstance(recursive, bool):
        raise ExpressionError("render: the argument 'recursive' must be a boolean")
    return _render_object(toRender, context.get_all(), recursive)


@pass_context
def _render_once_function(context: Context, toRender: Any = None) -> Any:
    """``renderOnce(x)``: ``render(x, recursive=false)``."""
    return _render_object(toRender, context.get_all(), False)


ENVIRONMENT = _build_environment()
_FLAT_GLOBALS: dict[str, Any] = dict(ENVIRONMENT.globals)


def fast_context(template: Any, ctx: Mapping[str, Any]) -> Context:
    """A render context for ``template`` without Jinja2's per-call ChainMap copy."""
    parent = _FLAT_GLOBALS.copy()
    parent.update(ctx)
    return Context(ENVIRONMENT, parent, template.name, template.blocks, globals=template.globals)


# The names templates may use are listed in ``names`` (a unit test checks that the
# environment holds exactly those).
_FILTERS, _TESTS, _FUNCTIONS = FILTER_NAMES, TEST_NAMES, FUNCTION_NAMES


# ---------------------------------------------------------------------- translation


def _translate(source: str) -> Translation:
    try:
        return translate(source, _FILTERS, _TESTS, _FUNCTIONS)
    except PebbleSyntaxError as exc:
        line, col = line_col(source, exc.offset)
        raise ExpressionError(
            f"{_first_line(exc.message)} at line {line}, column {col} of `{_excerpt(source)}`"
        ) from exc


def _first_line(message: str) -> str:
    """The first line of a message (Jinja2 and jq add the source and a caret below it)."""
    lines = message.strip().splitlines()
    return lines[0].rstrip(":").rstrip() if lines else message


def _excerpt(source: str, limit: int = 80) -> str:
    text = " ".join(source.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


# ------------------------------------------------------------------------- template


class Template:
    """A compiled template: ``render`` gives text, ``evaluate`` a native value."""

    __slots__ = ("_expr", "_jinja", "_translation", "source")

    def __init__(self, source: str) -> None:
        self.source = source
        self._translation = _translate(source)
        try:
            self._jinja = ENVIRONMENT.from_string(self._translation.jinja)
        except TemplateError as exc:
            message = _first_line(getattr(exc, "message", None) or str(exc))
            raise ExpressionError(f"{message} in `{_excerpt(source)}`") from exc
        holes = self._translation.holes
        self._expr = None
        if (
            len(holes) == 1
            and not self._translation.has_statements
            and not source[: holes[0].start].strip()
            and not source[holes[0].end :].strip()
        ):
            self._expr = compile_jinja_expression(holes[0].jinja)

    @property
    def translation(self) -> Translation:
        return self._translation

    @property
    def referenced_outputs(self) -> set[str]:
        return set(self._translation.outputs)

    def render(self, ctx: Mapping[str, Any]) -> str:
        """The text of the template for ``ctx``, values printed as Pebble prints them."""
        jt = self._jinja
        try:
            return "".join(jt.root_render_func(fast_context(jt, ctx)))
        except Exception as exc:
            raise self._error(exc, ctx) from exc

    def evaluate(self, ctx: Mapping[str, Any]) -> Any:
        """The native value when the source is one ``{{ expr }}``; else ``render``."""
        if self._expr is None:
            return self.render(ctx)
        try:
            value = self._expr(ctx)
        except Exception as exc:
            raise self._error(exc, ctx) from exc
        if isinstance(value, Undefined):
            try:
                value._fail_with_undefined_error()
            except Exception as exc:
                raise self._error(exc, ctx) from exc
        return value

    # -- errors
    def _error(self, exc: BaseException, ctx: Mapping[str, Any]) -> ExpressionError:
        return expression_error(self._translation, self.source, exc, ctx)


class _Expression:
    """A compiled Jinja2 expression (native result): evaluated directly when it is made of
    paths and plain filters (``kflow.expr.direct``), else with a fast Jinja2 context."""

    __slots__ = ("_direct", "_template")

    def __init__(self, jinja_source: str) -> None:
        self._template = ENVIRONMENT.compile_expression(
            jinja_source, undefined_to_none=False
        )._template
        self._direct = compile_direct(ENVIRONMENT, _FLAT_GLOBALS, jinja_source)

    def __call__(self, ctx: Mapping[str, Any]) -> Any:
        if self._direct is not None:
            return self._direct(ctx)
        template = self._template
        context = fast_context(template, ctx)
        for _ in template.root_render_func(context):
            pass
        return context.vars["result"]


@lru_cache(maxsize=512)
def compile_jinja_expression(jinja_source: str) -> _Expression:
    """A compiled Jinja2 expression (native result, Undefined kept), cached."""
    return _Expression(jinja_source)


def _first_failing_hole(
    translation: Translation, ctx: Mapping[str, Any], original: BaseException
) -> int | None:
    """The hole to blame for ``original``.

    Each hole is evaluated alone with ``ctx``: the first one failing exactly like
    ``original`` wins. Otherwise (holes inside loops see no loop variables), the
    first hole mentioning the missing name, else the first one failing at all.
    """
    missing = getattr(original, "missing_name", None)
    mentions = re.compile(rf"\b{re.escape(str(missing))}\b") if missing is not None else None
    first: int | None = None
    mentioning: int | None = None
    for i, hole in enumerate(translation.holes):
        if mentioning is None and mentions is not None and mentions.search(hole.body):
            mentioning = i
        try:
            value = compile_jinja_expression(hole.jinja)(ctx)
            _finalize(value)
        except Exception as exc:
            if type(exc) is type(original) and str(exc) == str(original):
                return i
            if first is None:
                first = i
    return mentioning if mentioning is not None else first


def expression_error(
    translation: Translation, source: str, exc: BaseException, ctx: Mapping[str, Any]
) -> ExpressionError:
    """Turn a render failure into an ExpressionError naming the expression."""
    if isinstance(exc, ExpressionError) and getattr(exc, "kflow_named", False):
        return exc
    holes = translation.holes
    index = 0 if len(holes) == 1 else _first_failing_hole(translation, ctx, exc)
    where = f"`{holes[index].text}`" if index is not None else f"`{_excerpt(source)}`"
    if isinstance(exc, UndefinedError):
        name = getattr(exc, "missing_name", None)
        what = f"`{name}`" if name is not None else str(exc)
        error = ExpressionError(f"Unable to find {what} used in the expression {where}")
    elif isinstance(exc, SecurityError):
        error = ExpressionError(f"not allowed in the expression {where}: {exc}")
    elif isinstance(exc, ExpressionError):
        error = type(exc)(f"{_first_line(str(exc))} (in the expression {where})")
    else:
        text = _first_line(str(exc))
        error = ExpressionError(f"{type(exc).__name__}: {text} (in the expression {where})")
    error.kflow_named = True  # type: ignore[attr-defined]
    return error


def compile_template(source: str) -> Template:
    """Compile ``source`` once; raise ExpressionError (with line/col) on a syntax error."""
    return Template(source)


class BrokenTemplate:
    """A template that did not compile, standing in for its :class:`Template`.

    Kestra saves a flow whose template cannot be parsed and fails the task when
    it renders it; so does kflow: ``render`` and ``evaluate`` raise the compile
    error, a fresh ``ExpressionError`` with the same one-line message each time.
    """

    __slots__ = ("message", "source")

    def __init__(self, source: str, message: str) -> None:
        self.source = source
        self.message = message

    def render(self, ctx: Mapping[str, Any]) -> str:
        raise ExpressionError(self.message)

    def evaluate(self, ctx: Mapping[str, Any]) -> Any:
        raise ExpressionError(self.message)


def compile_or_broken(source: str) -> Template | BrokenTemplate:
    """``compile_template(source)``, or a :class:`BrokenTemplate` keeping its compile error."""
    try:
        return Template(source)
    except ExpressionError as exc:
        return BrokenTemplate(source, str(exc))


@lru_cache(maxsize=256)
def _compile_cached(source: str) -> Template:
    return Template(source)


def referenced_names(source: str) -> set[str] | None:
    """Root names a template reads (variables and functions), or None when unreadable."""
    if not is_templated(source):
        return set()
    try:
        translation = translate(source, _FILTERS, _TESTS, _FUNCTIONS)
        from jinja2 import meta

        return set(meta.find_undeclared_variables(ENVIRONMENT.parse(translation.jinja)))
    except (PebbleSyntaxError, TemplateError):
        return None
