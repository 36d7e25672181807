"""Expression checks of a validated flow: syntax, jq, JSON documents, CQL, ``outputs.X``.

Runs after the structural checks, on the templated strings the validator
recorded (:class:`~kflow.flow.validate.TemplateSite`). ``kflow.expr.checks`` is
imported here only, and only when a flow holds something to check.

Kestra saves a flow whose template does not parse, whose JSON document is not
JSON or that reads ``outputs.X`` of a task that does not exist or has not run
yet; the task fails when it renders the expression. ``kflow run`` does the same
(the engine fails the task). ``kflow validate`` reports what can never work (a
syntax error, a task the flow does not have) as an error it marks
``fails_at_run``, and what depends on the run (a task that may not have run yet)
as a warning. Two are plain errors: an expression CQL cannot bind (kflow never
splices values into a query), and any problem in a trigger, whose properties are
rendered when ``kflow run`` starts.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from kflow.flow.diagnostics import Diagnostic, Severity
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
            severity = "error" if ref not in known_set else _severity(site, runtime_failure=True)
            out.append(
                Diagnostic(
                    path,
                    line,
                    column,
                    site.key_path,
                    message,
                    severity,
                    "outputs",
                    fails_at_run=severity == "error" and not site.in_trigger,
                )
            )
    return out


def _severity(site: TemplateSite, *, runtime_failure: bool) -> Severity:
    """A warning when Kestra saves the flow and fails the task at run time (``runtime_failure``),
    unless the string belongs to a trigger (rendered when ``kflow run`` starts)."""
    return "warning" if runtime_failure and not site.in_trigger else "error"


def _located(
    problems: Iterable[Any], site: TemplateSite, text: str, path: str, source: str, code: str
) -> list[Diagnostic]:
    """Problems positioned in the string, as diagnostics positioned in the file.

    Every problem fails the task at run time (as in Kestra) except a CQL expression
    that cannot be bound, which kflow refuses to run at all.
    """
    out = []
    for problem in problems:
        offset = offset_of(text, problem.line, problem.column)
        line, column = locate(site.node, source, offset)
        message = _one_line(problem.message)
        unbindable = code == "cql" and problem.kind == "other"
        out.append(
            Diagnostic(
                path,
                line,
                column,
                site.key_path,
                message,
                "error",
                code,
                fails_at_run=not unbindable and not site.in_trigger,
            )
        )
    return out


def _one_line(message: str) -> str:
    """The first line of a message (jq adds the program and a caret on further lines)."""
    first = message.strip().splitlines()[0] if message.strip() else message
    return first.rstrip(":").rstrip()


def _expr_api() -> Any:
    """``kflow.expr.checks``, imported on first use (it needs neither Jinja2 nor the runtime)."""
    import kflow.expr.checks as checks

    return checks


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
