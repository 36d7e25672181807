"""Where the expressions of a CQL template stand: bind markers, or problems.

Read by ``cql`` (which compiles the statement) and by ``checks`` (validation);
see ``cql``'s docstring for the rules. Pure text work: no Jinja2.
"""

from __future__ import annotations

import re

from .pebble_syntax import Translation

__all__ = ["CqlPlan", "Param", "plan_cql"]

_VALUE_AFTER = {
    "=",
    "<",
    ">",
    "<=",
    ">=",
    "!=",
    "IN",
    "CONTAINS",
    "KEY",
    "LIKE",
    "LIMIT",
    "TTL",
    "TIMESTAMP",
    "+",
    "-",
    "*",
    "/",
    "%",
    "[",
    "{",
    ":",
}
_LIST_OPENERS = {"VALUES", "IN"}
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|\d+(?:\.\d+)?")
_OPS = ("<=", ">=", "!=")


class Param:
    """One bind marker: a hole index, or a string literal made of text and holes."""

    __slots__ = ("hole", "parts")

    def __init__(self, hole: int | None = None, parts: list[str | int] | None = None) -> None:
        self.hole = hole
        self.parts = parts


class CqlPlan:
    """The query with its bind markers, their params and the problems found (message,
    source offset)."""

    __slots__ = ("params", "problems", "query")

    def __init__(self, query: str, params: list[Param], problems: list[tuple[str, int]]) -> None:
        self.query = query
        self.params = params
        self.problems = problems


def plan_cql(source: str, translation: Translation) -> CqlPlan:
    """Where each expression of a CQL template stands, and whether it can be bound."""
    holes = translation.holes
    problems: list[tuple[str, int]] = []
    if translation.has_statements:
        i = source.find("{%")
        problems.append(
            ("control tags ({% ... %}) cannot be used in cql: they change the statement", i)
        )
    out: list[str] = []
    params: list[Param] = []
    prev: list[str] = []  # significant tokens seen so far (upper-cased words)
    parens: list[bool] = []  # True when the parenthesis holds values
    state = "code"  # code, string, ident, line_comment, block_comment
    literal: list[str | int] = []
    literal_has_hole = False
    literal_start_out = 0
    pos = 0
    hole_iter = iter(enumerate(holes))
    next_hole = next(hole_iter, None)
    n = len(source)

    def in_value_position() -> bool:
        if not prev:
            return False
        last = prev[-1]
        if last in _VALUE_AFTER:
            return True
        if last in ("(", ","):
            return bool(parens) and parens[-1]
        return False

    while pos <= n:
        if next_hole is not None and pos == next_hole[1].start:
            index, hole = next_hole
            next_hole = next(hole_iter, None)
            if state == "string":
                literal.append(index)
                literal_has_hole = True
            elif state in ("ident", "line_comment", "block_comment"):
                where = "a double-quoted identifier" if state == "ident" else "a comment"
                problems.append(
                    (
                        f"the expression `{hole.text}` is inside {where}; it cannot be bound",
                        hole.start,
                    )
                )
            else:
                glued_before = pos > 0 and (source[pos - 1].isalnum() or source[pos - 1] in "_.")
                after = source[hole.end : hole.end + 1]
                glued_after = bool(after) and (after.isalnum() or after in "_.(")
                if glued_before or glued_after:
                    problems.append(
                        (
                            f"the expression `{hole.text}` is glued to other characters; only a "
                            "whole value can be bound",
                            hole.start,
                        )
                    )
                elif not in_value_position():
                    after_what = f" (after {prev[-1]})" if prev else ""
                    problems.append(
                        (
                            f"the expression `{hole.text}` stands where CQL expects an identifier "
                            f"or keyword{after_what}; it cannot be bound: identifiers are not "
                            "values. Write the name in the query itself",
                            hole.start,
                        )
                    )
                out.append("?")
                params.append(Param(hole=index))
                prev.append("?")
            pos = hole.end
            continue
        if pos == n:
            break
        ch = source[pos]
        if state == "string":
            if ch == "'" and source.startswith("''", pos):
                literal.append("'")
                out.append("''")
                pos += 2
                continue
            if ch == "'":
                state = "code"
                if literal_has_hole:
                    del out[literal_start_out:]
                    out.append("?")
                    params.append(Param(parts=_merge(literal)))
                else:
                    out.append("'")
                prev.append("'literal'")
            else:
                literal.append(ch)
                out.append(ch)
            pos += 1
            continue
        if state == "ident":
            out.append(ch)
            if ch == '"':
                state = "code"
                prev.append('"ident"')
            pos += 1
            continue
        if state == "line_comment":
            out.append(ch)
            if ch == "\n":
                state = "code"
            pos += 1
            continue
        if state == "block_comment":
            if source.startswith("*/", pos):
                out.append("*/")
                state = "code"
                pos += 2
            else:
                out.append(ch)
                pos += 1
            continue
        # code
        if ch == "'":
            state = "string"
            literal = []
            literal_has_hole = False
            literal_start_out = len(out)
            out.append(ch)
            pos += 1
            continue
        if ch == '"':
            state = "ident"
            out.append(ch)
            pos += 1
            continue
        if source.startswith("--", pos) or source.startswith("//", pos):
            state = "line_comment"
            out.append(source[pos : pos + 2])
            pos += 2
            continue
        if source.startswith("/*", pos):
            state = "block_comment"
            out.append("/*")
            pos += 2
            continue
        if ch.isspace():
            out.append(ch)
            pos += 1
            continue
        m = _WORD.match(source, pos)
        if m:
            prev.append(m.group().upper())
            out.append(m.group())
            pos = m.end()
            continue
        op = next((o for o in _OPS if source.startswith(o, pos)), ch)
        if op == "(":
            before = prev[-1] if prev else ""
            before2 = prev[-2] if len(prev) > 1 else ""
            parens.append(
                before in _LIST_OPENERS
                or before in _VALUE_AFTER
                or (bool(_WORD.fullmatch(before)) and before2 in _VALUE_AFTER)
                or (before in ("(", ",") and bool(parens) and parens[-1])
            )
        elif op == ")" and parens:
            parens.pop()
        prev.append(op)
        out.append(op)
        pos += len(op)
    if state == "string":
        problems.append(("unterminated string literal in cql", source.rfind("'")))
    return CqlPlan("".join(out), params, problems)


def _merge(parts: list[str | int]) -> list[str | int]:
    merged: list[str | int] = []
    for part in parts:
        if isinstance(part, str) and merged and isinstance(merged[-1], str):
            merged[-1] += part
        else:
            merged.append(part)
    return merged
