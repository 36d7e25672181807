"""Where the expressions of a CQL template stand: bind markers, or problems.

Read by ``cql`` (which compiles the statement) and by ``checks`` (validation);
see ``cql``'s docstring for the rules. The lexing and the value positions are
``statement_lexer``'s (shared with the SQL tasks); here is what a hole becomes:
a bind marker, never text. Pure text work: no Jinja2.
"""

from __future__ import annotations

from .pebble_syntax import Translation
from .statement_lexer import CQL, HoleSite, Param, Placement, lex_statements

__all__ = ["CqlPlan", "Param", "plan_cql"]


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
    problems: list[tuple[str, int]] = []
    if translation.has_statements:
        i = source.find("{%")
        problems.append(
            ("control tags ({% ... %}) cannot be used in cql: they change the statement", i)
        )
    lexed = lex_statements(source, translation.holes, CQL, _place)
    (pieces,) = lexed.statements
    query = "".join("?" if isinstance(p, Param) else str(p) for p in pieces)
    params = [p for p in pieces if isinstance(p, Param)]
    return CqlPlan(query, params, problems + lexed.problems)


def _place(site: HoleSite) -> tuple[Placement, str | None]:
    # A refused expression still stands as a bind marker, so that the rest of the
    # statement reads as if it were a value.
    return "bind", site.problem(
        "CQL expects an identifier or keyword",
        "it cannot be bound: identifiers are not values. Write the name in the query itself",
    )
