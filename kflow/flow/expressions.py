"""Expression checks of a validated flow: syntax, jq, JSON documents, CQL, ``outputs.X``.

Runs after the structural checks, on the templated strings the validator
recorded (:class:`~kflow.flow.validate.TemplateSite`). ``kflow.expr`` is
imported here only, and only when a flow holds something to check.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
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
    known = list(task_ids)
    known_set = set(known)
    out: list[Diagnostic] = []
    for site in sites:
        text = site.node.value
        if not isinstance(text, str):
            continue
        # check_document and check_cql include the template's own problems: one call
        # reports everything wrong with the string at once.
        if site.kind == "document":
            out.extend(_located(expr.check_document(text), site, text, path, source, "document"))
        elif site.kind == "cql":
            out.extend(_located(expr.check_cql(text), site, text, path, source, "cql"))
        elif expr.is_templated(text):
            out.extend(_located(expr.check_template(text), site, text, path, source, "template"))
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
        message = _one_line(problem.message)
        out.append(Diagnostic(path, line, column, site.key_path, message, "error", code))
    return out


def _one_line(message: str) -> str:
    """The first line of a message (jq adds the program and a caret on further lines)."""
    first = message.strip().splitlines()[0] if message.strip() else message
    return first.rstrip(":").rstrip()


def _expr_api() -> Any:
    """``kflow.expr``, imported on first use (it brings Jinja2 and jq)."""
    import kflow.expr as expr

    return expr


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
