"""Expression checks of a validated flow: syntax, jq, JSON documents, CQL, ``outputs.X``.

Runs after the structural checks, on the templated strings the validator
recorded (:class:`~kflow.flow.validate.TemplateSite`). ``kflow.expr`` is
imported here only, and only when a flow holds something to check.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from kflow.flow.diagnostics import Diagnostic
from kflow.flow.positions import locate, offset_of
from kflow.flow.properties import did_you_mean
from kflow.flow.validate import TemplateSite


def check_sites(
    sites: Iterable[TemplateSite],
    task_ids: Iterable[str],
    path: str,
    source: str,
) -> list[Diagnostic]:
    """Diagnostics for every recorded string of a flow."""
    expr = _expr_api()
    check_document: Callable[[str], list[Any]] | None = getattr(expr, "check_document", None)
    check_cql: Callable[[str], list[Any]] | None = getattr(expr, "check_cql", None)
    known = list(task_ids)
    known_set = set(known)
    out: list[Diagnostic] = []
    for site in sites:
        text = site.node.value
        if not isinstance(text, str):
            continue
        problems: list[Diagnostic] = []
        if expr.is_templated(text):
            problems = _located(expr.check_template(text), site, text, path, source, "template")
        if not problems and site.kind == "document" and check_document is not None:
            problems = _located(check_document(text), site, text, path, source, "document")
        if not problems and site.kind == "cql" and check_cql is not None:
            problems = _located(check_cql(text), site, text, path, source, "cql")
        out.extend(problems)
        for ref in sorted(expr.referenced_outputs(text)):
            message = _reference_problem(ref, site, known, known_set)
            if message is None:
                continue
            line, column = locate(site.node, source, _reference_offset(text, ref))
            out.append(Diagnostic(path, line, column, site.key_path, message, "error", "outputs"))
    return out


def _located(
    problems: Iterable[Any], site: TemplateSite, text: str, path: str, source: str, code: str
) -> list[Diagnostic]:
    """Problems positioned in the string, as diagnostics positioned in the file."""
    out = []
    for problem in problems:
        offset = offset_of(text, problem.line, problem.column)
        line, column = locate(site.node, source, offset)
        out.append(Diagnostic(path, line, column, site.key_path, problem.message, "error", code))
    return out


def _expr_api() -> Any:
    """``kflow.expr`` (its public names), imported on first use."""
    import kflow.expr as expr

    if hasattr(expr, "check_template"):
        return expr
    from kflow.expr import templates  # the package may not re-export yet

    return templates


def _reference_problem(
    ref: str, site: TemplateSite, known: list[str], known_set: set[str]
) -> str | None:
    if ref not in known_set:
        return f"outputs.{ref} refers to a task that does not exist{did_you_mean(ref, known)}"
    if site.before is None or ref in site.before:
        return None
    if site.task == ref:
        return f"outputs.{ref}: task {ref!r} cannot read its own outputs"
    if site.task is None:
        return f"outputs.{ref}: no task output is available here"
    return f"outputs.{ref}: task {ref!r} does not run before task {site.task!r}"


def _reference_offset(text: str, ref: str) -> int:
    match = re.search(
        rf"outputs\s*(?:\.\s*{re.escape(ref)}\b|\[\s*['\"]{re.escape(ref)}['\"])", text
    )
    return match.start() if match else 0
