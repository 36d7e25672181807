"""Expression checks without rendering anything: what ``kflow validate`` asks of ``kflow.expr``.

- ``check_template``: syntax errors, and jq errors in literal ``jq('...')`` programs;
- ``check_document``: the same, and JSON errors no value of the holes could repair;
- ``check_cql``: the same, and expressions standing where CQL cannot bind a value;
- ``referenced_outputs``: the task ids a template reads through ``outputs``.

Templates are read with kflow's own Pebble parser (``pebble_syntax``) and the names of
``names``; nothing here imports Jinja2, and jq only for a literal program that is more
than a plain path (the modules each check needs are imported on its first call). Jinja2
parses a translation only when it is not ``ordinary`` (see
``pebble_syntax``), so that its diagnostics stay those of the runtime.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from kflow.records import FrozenRecord

from .names import FILTER_NAMES, FUNCTION_NAMES, TEST_NAMES
from .pebble_syntax import PebbleSyntaxError, Translation, translate

__all__ = [
    "ExprProblem",
    "check_cql",
    "check_document",
    "check_template",
    "is_templated",
    "line_col",
    "referenced_outputs",
    "translate_or_none",
]

ProblemKind = Literal["syntax", "jq", "other"]


class ExprProblem(FrozenRecord):
    """A problem found without running: message and 1-based position in the source.

    ``kind`` says what found it: ``syntax`` (the template does not compile), ``jq``
    (a literal jq program does not compile; the filter fails when it is reached), or
    ``other`` (the checks of documents and CQL). It is left out of comparisons.
    """

    __slots__ = ("column", "kind", "line", "message")

    _compared = ("message", "line", "column")

    message: str
    line: int
    column: int
    kind: ProblemKind

    def __init__(self, message: str, line: int, column: int, kind: ProblemKind = "other") -> None:
        self._set(message, line, column, kind)


def line_col(source: str, offset: int) -> tuple[int, int]:
    """1-based line and column of ``offset`` in ``source``."""
    offset = max(0, min(offset, len(source)))
    line = source.count("\n", 0, offset) + 1
    start = source.rfind("\n", 0, offset) + 1
    return line, offset - start + 1


def is_templated(source: str) -> bool:
    """True when ``source`` holds ``{{`` or ``{%`` (other strings are never rendered)."""
    return "{{" in source or "{%" in source


@lru_cache(maxsize=256)
def _read(source: str) -> Translation | PebbleSyntaxError:
    """The translation of ``source`` or why it cannot be read (each check reads it once)."""
    try:
        return translate(source, FILTER_NAMES, TEST_NAMES, FUNCTION_NAMES)
    except PebbleSyntaxError as exc:
        return exc


def translate_or_none(source: str) -> Translation | None:
    """The translation of ``source``, or None when it cannot be read."""
    result = _read(source)
    return result if isinstance(result, Translation) else None


def check_template(source: str) -> list[ExprProblem]:
    """Syntax errors and jq syntax errors in literal ``jq('...')`` arguments."""
    translation = _read(source)
    if isinstance(translation, PebbleSyntaxError):
        return [
            ExprProblem(translation.message, *line_col(source, translation.offset), kind="syntax")
        ]
    problems: list[ExprProblem] = []
    if not translation.ordinary:
        problem = _jinja_problem(translation.jinja)
        if problem is not None:
            problems.append(problem)
    for program, offset in translation.jq_programs:
        message = _jq_problem(program)
        if message is not None:
            problems.append(ExprProblem(message, *line_col(source, offset), kind="jq"))
    return problems


def _jinja_problem(jinja: str) -> ExprProblem | None:
    """Jinja2's own syntax error for a translation it may refuse (rare: loads Jinja2)."""
    from jinja2 import TemplateError

    from .templates import ENVIRONMENT

    try:
        ENVIRONMENT.parse(jinja)
    except TemplateError as exc:
        lineno = getattr(exc, "lineno", None) or 1
        message = getattr(exc, "message", None) or str(exc)
        return ExprProblem(message, lineno, 1, kind="syntax")
    return None


def _jq_problem(program: str) -> str | None:
    from .jq_paths import compiles_as_plain_path

    if compiles_as_plain_path(program):
        return None
    from .jq_support import check_jq

    return check_jq(program)


def referenced_outputs(source: str) -> set[str]:
    """Task ids read through ``outputs.X`` / ``outputs['x-y']`` (empty if unreadable)."""
    if not is_templated(source):
        return set()
    translation = translate_or_none(source)
    return set(translation.outputs) if translation is not None else set()


def check_cql(source: str) -> list[ExprProblem]:
    """Template errors (as ``check_template``) and expressions standing where no
    value can be bound, all at once, in source order."""
    from .cql_plan import plan_cql

    problems = check_template(source)
    translation = translate_or_none(source)
    if translation is not None:
        plan = plan_cql(source, translation)
        problems += [ExprProblem(msg, *line_col(source, off)) for msg, off in plan.problems]
    return sorted(problems, key=lambda p: (p.line, p.column))


def check_document(source: str) -> list[ExprProblem]:
    """Template errors (as ``check_template``) and JSON errors that no value of the
    holes could repair, all at once, in source order."""
    import json

    from .document_skeleton import build_skeleton, needs_render_then_parse, skeleton_problem

    if not is_templated(source):
        try:
            json.loads(source)
        except ValueError as exc:
            pos = getattr(exc, "pos", 0) or 0
            return [ExprProblem(f"not JSON: {getattr(exc, 'msg', exc)}", *line_col(source, pos))]
        return []
    problems = check_template(source)
    translation = translate_or_none(source)
    if translation is None or needs_render_then_parse(source, translation):
        return problems
    skeleton = build_skeleton(source, translation)
    try:
        json.loads(skeleton.text)
    except ValueError as exc:
        problem = skeleton_problem(skeleton, exc)
        if problem is not None:
            message, offset = problem
            problems.append(ExprProblem(message, *line_col(source, offset)))
    return sorted(problems, key=lambda p: (p.line, p.column))
