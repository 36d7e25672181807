"""Read a CQL or SQL statement template: where does each ``{{ }}`` hole stand?

One lexer for the languages kflow binds values into: CQL (Cassandra) and the SQL of
PostgreSQL and MySQL. It walks strings, quoted identifiers, comments, words and
operators, tracks parentheses and SELECT lists, and for each hole outside strings,
identifiers and comments asks its caller where the hole goes, telling it whether the
hole stands in a value position:

- after an operator or keyword of the dialect's ``value_after`` (``=``, ``<``, ``IN``,
  ``LIMIT``, ...);
- after ``(`` or ``,`` inside a parenthesis that holds values: one opened after
  ``VALUES``, ``IN`` or a ``value_after`` token, a function call standing after one
  (``token(``, ``lower(``), or a parenthesis opened inside such a list;
- in a SELECT list, for the dialects with ``select_lists`` (SQL).

A hole inside a string literal makes the whole literal one bound value (its text with
the hole printed in it); one inside a quoted identifier or a comment is printed into
the text when the caller's ``printable`` says so, and refused otherwise.

The dialects (``CQL``, ``POSTGRESQL``, ``MYSQL``) are data: quote styles, comment
styles, escapes, extra value keywords. ``cql_plan`` and ``jdbc_sql`` say what a hole
becomes (a bind marker, a name printed once, a refusal). Pure text work and cheap to
import (``kflow validate`` plans CQL through it): no Jinja2, no driver, and the
patterns are compiled on first use.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Sequence
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from .pebble_syntax import Hole

__all__ = [
    "CQL",
    "MYSQL",
    "POSTGRESQL",
    "HoleSite",
    "LexedStatements",
    "Param",
    "Piece",
    "Placement",
    "StatementDialect",
    "lex_statements",
]

Placement = Literal["bind", "print", "refuse"]
"""What a hole in code becomes: a bound value, text printed once, or nothing (refused)."""


class StatementDialect:
    """How one language is written, as far as placing holes goes."""

    __slots__ = (
        "backslash_escapes",
        "bound_literal_token",
        "calls_in_value_lists",
        "dollar_quotes",
        "escape_prefixes",
        "identifier_name",
        "identifier_quotes",
        "identifier_token",
        "language",
        "line_comments",
        "named_parameters",
        "operators",
        "prefixed_strings",
        "select_lists",
        "splits_statements",
        "string_quotes",
        "value_after",
        "word",
    )

    def __init__(
        self,
        *,
        language: str,
        value_after: frozenset[str],
        operators: tuple[str, ...],
        word: str,
        string_quotes: str = "'",
        identifier_quotes: str = '"',
        identifier_name: str = "a quoted identifier",
        line_comments: tuple[str, ...] = ("--",),
        backslash_escapes: bool = False,
        escape_prefixes: tuple[str, ...] = (),
        prefixed_strings: bool = True,
        dollar_quotes: bool = False,
        named_parameters: bool = True,
        select_lists: bool = True,
        splits_statements: bool = True,
        calls_in_value_lists: bool = True,
        identifier_token: str = "ident",
        bound_literal_token: str = "?",
    ) -> None:
        self.language = language  # named in messages ("unterminated string literal in sql")
        self.value_after = value_after  # tokens (words upper-cased) a value may follow
        self.operators = operators  # operators of two characters (others are one)
        self.word = word  # pattern of a word or a number
        self.string_quotes = string_quotes
        self.identifier_quotes = identifier_quotes
        self.identifier_name = identifier_name  # for "the expression ... is inside ..."
        self.line_comments = line_comments
        self.backslash_escapes = backslash_escapes  # in every string (MySQL)
        self.escape_prefixes = escape_prefixes  # strings read with backslashes (E'...')
        self.prefixed_strings = prefixed_strings  # x'...', N'...': a hole inside is refused
        self.dollar_quotes = dollar_quotes  # $$...$$, $tag$...$tag$
        self.named_parameters = named_parameters  # :name, when name is a given parameter
        self.select_lists = select_lists  # a SELECT list holds values
        self.splits_statements = splits_statements  # at top-level ;
        # Three differences the CQL and SQL planners had grown apart on, kept as they were:
        # whether f( inside a value list is a call holding values (SQL) or not (CQL), and
        # the tokens a quoted identifier and a literal with holes leave behind (read by
        # later holes: SQL's "ident" is a word, so "f"( after = is a call; and named in
        # "(after ...)").
        self.calls_in_value_lists = calls_in_value_lists
        self.identifier_token = identifier_token
        self.bound_literal_token = bound_literal_token

    def __repr__(self) -> str:
        return f"StatementDialect({self.language!r})"


_VALUE_AFTER = frozenset(
    {"=", "<", ">", "<=", ">=", "!=", "+", "-", "*", "/", "%", "[", "IN", "LIKE", "LIMIT"}
)
_SQL_VALUE_AFTER = _VALUE_AFTER | {
    "<>",
    "||",
    "ILIKE",
    "OFFSET",
    "WHERE",
    "AND",
    "OR",
    "NOT",
    "CASE",
    "WHEN",
    "THEN",
    "ELSE",
    "BETWEEN",
    "INTERVAL",
    "ESCAPE",
}
_SQL_OPERATORS = ("<=", ">=", "!=", "<>", "||", "::")
_SQL_WORD = r"[A-Za-z_][A-Za-z0-9_$]*|\d+(?:\.\d+)?"

CQL = StatementDialect(
    language="cql",
    value_after=_VALUE_AFTER | {"CONTAINS", "KEY", "TTL", "TIMESTAMP", "{", ":"},
    operators=("<=", ">=", "!="),
    word=r"[A-Za-z_][A-Za-z0-9_]*|\d+(?:\.\d+)?",
    identifier_name="a double-quoted identifier",
    line_comments=("--", "//"),
    prefixed_strings=False,
    named_parameters=False,
    select_lists=False,  # CQL's SELECT list names columns
    splits_statements=False,
    calls_in_value_lists=False,
    identifier_token='"ident"',
    bound_literal_token="'literal'",
)
POSTGRESQL = StatementDialect(
    language="sql",
    value_after=_SQL_VALUE_AFTER,
    operators=_SQL_OPERATORS,
    word=_SQL_WORD,
    escape_prefixes=("e", "E"),
    dollar_quotes=True,
)
MYSQL = StatementDialect(
    language="sql",
    value_after=_SQL_VALUE_AFTER,
    operators=_SQL_OPERATORS,
    word=_SQL_WORD,
    string_quotes="'\"",  # "..." is a string too
    identifier_quotes="`",
    line_comments=("--", "#"),
    backslash_escapes=True,
)

_LIST_OPENERS = frozenset({"VALUES", "IN"})
_SELECT_ENDS = frozenset(
    {"FROM", "INTO", "WHERE", "GROUP", "ORDER", "LIMIT", "UNION", "HAVING", "WINDOW"}
)
_DOLLAR_TAG = r"\$(?:[A-Za-z_][A-Za-z0-9_]*)?\$"
_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_BACKSLASH_ESCAPES = {"0": "\0", "b": "\b", "n": "\n", "r": "\r", "t": "\t", "Z": "\x1a"}


class Param:
    """One bound value: a hole (its index), a string literal made of text and holes,
    or a ``:name`` parameter."""

    __slots__ = ("hole", "name", "parts")

    def __init__(
        self,
        hole: int | None = None,
        parts: list[str | int] | None = None,
        name: str | None = None,
    ) -> None:
        self.hole = hole
        self.parts = parts
        self.name = name

    def __repr__(self) -> str:
        return f"Param(hole={self.hole!r}, parts={self.parts!r}, name={self.name!r})"


Piece = str | int | Param
"""A statement is text, holes printed into it (their index) and bound values."""


class HoleSite:
    """A hole standing in code (not in a string, identifier or comment)."""

    __slots__ = ("after", "glued", "hole", "select_list", "value")

    def __init__(self, hole: Hole, glued: bool, value: bool, select_list: bool, after: str) -> None:
        self.hole = hole
        self.glued = glued  # to a word, a dot or a call's parenthesis: not a whole value
        self.value = value  # where the language expects a value
        self.select_list = select_list  # directly in a SELECT list
        self.after = after  # the token before it ("" at the start)

    def problem(self, expected: str, reason: str) -> str | None:
        """Why this hole cannot be bound, or None: glued to its neighbours, or standing
        where the language expects ``expected`` ("SQL expects a name or keyword")."""
        if self.glued:
            return (
                f"the expression `{self.hole.text}` is glued to other characters; only a "
                "whole value can be bound"
            )
        if self.value:
            return None
        after = f" (after {self.after})" if self.after else ""
        return f"the expression `{self.hole.text}` stands where {expected}{after}; {reason}"


class LexedStatements:
    """The statements read (pieces), the problems found (message, source offset) and
    the holes printed into the text."""

    __slots__ = ("printed", "problems", "statements")

    def __init__(
        self, statements: list[list[Piece]], problems: list[tuple[str, int]], printed: set[int]
    ) -> None:
        self.statements = statements
        self.problems = problems
        self.printed = printed


def _never(hole: Hole) -> bool:
    return False


def lex_statements(
    source: str,
    holes: Sequence[Hole],
    dialect: StatementDialect,
    place: Callable[[HoleSite], tuple[Placement, str | None]],
    *,
    printable: Callable[[Hole], bool] = _never,
    parameter_names: Collection[str] = (),
) -> LexedStatements:
    """Read ``source`` (whose holes are ``holes``, in order) into statements.

    ``place(site)`` decides what a hole in code becomes, with an optional problem;
    ``printable(hole)`` whether one in an identifier or a comment may be printed there.
    """
    d = dialect
    value_after = d.value_after
    word_re = re.compile(d.word)
    dollar_re = re.compile(_DOLLAR_TAG) if d.dollar_quotes else None
    name_re = re.compile(_NAME) if d.named_parameters else None
    problems: list[tuple[str, int]] = []
    printed: set[int] = set()
    statements: list[list[Piece]] = [[]]
    out = statements[-1]
    prev: list[str] = []  # significant tokens so far (words upper-cased)
    parens: list[bool] = []  # True when the parenthesis holds values
    select_depth: list[int] = []  # paren depths of the SELECT lists being read
    state = "code"  # code, string, ident, line_comment, block_comment, dollar
    quote = "'"  # the closing character of the current string or identifier
    literal: list[str | int] = []
    literal_has_hole = False
    literal_start = 0
    literal_prefix = ""
    backslashes = False
    dollar_tag = ""
    pos = 0
    hole_iter = iter(enumerate(holes))
    next_hole = next(hole_iter, None)
    n = len(source)

    def emit(text: str) -> None:
        if out and isinstance(out[-1], str):
            out[-1] += text
        else:
            out.append(text)

    def in_value_list() -> bool:
        return bool(parens) and parens[-1]

    def in_select_list() -> bool:
        return bool(select_depth) and select_depth[-1] == len(parens)

    def in_value_position() -> bool:
        if not prev:
            return False
        last = prev[-1]
        if last in value_after:
            return True
        if last in ("SELECT", "DISTINCT") or (last == "," and in_select_list()):
            return in_select_list()
        if last in ("(", ","):
            return in_value_list()
        return False

    while pos <= n:
        if next_hole is not None and pos == next_hole[1].start:
            index, hole = next_hole
            next_hole = next(hole_iter, None)
            if state == "string":
                literal.append(index)
                literal_has_hole = True
            elif state != "code":
                if printable(hole):
                    printed.add(index)
                    out.append(index)
                else:
                    where = {"ident": d.identifier_name, "dollar": "a dollar-quoted string"}
                    problems.append(
                        (
                            f"the expression `{hole.text}` is inside "
                            f"{where.get(state, 'a comment')}; it cannot be bound",
                            pos,
                        )
                    )
            else:
                glued_before = pos > 0 and (source[pos - 1].isalnum() or source[pos - 1] in "_.")
                after = source[hole.end : hole.end + 1]
                glued_after = bool(after) and (after.isalnum() or after in "_.(")
                site = HoleSite(
                    hole,
                    glued_before or glued_after,
                    in_value_position(),
                    in_select_list(),
                    prev[-1] if prev else "",
                )
                placement, problem = place(site)
                if problem is not None:
                    problems.append((problem, pos))
                if placement == "bind":
                    out.append(Param(hole=index))
                    prev.append("?")
                elif placement == "print":
                    printed.add(index)
                    out.append(index)
                    prev.append("name")
            pos = hole.end
            continue
        if pos == n:
            break
        ch = source[pos]
        if state == "string":
            if ch == "\\" and backslashes and pos + 1 < n:
                nxt = source[pos + 1]
                literal.append(_BACKSLASH_ESCAPES.get(nxt, "\\" + nxt if nxt in "%_" else nxt))
                emit(source[pos : pos + 2])
                pos += 2
                continue
            if ch == quote and source.startswith(quote * 2, pos):
                literal.append(quote)
                emit(quote * 2)
                pos += 2
                continue
            if ch == quote:
                state = "code"
                if literal_has_hole:
                    if literal_prefix:
                        problems.append(
                            (
                                f"an expression inside a {literal_prefix}'...' literal cannot "
                                "be bound; use a plain '...' literal",
                                pos,
                            )
                        )
                    _cut_literal(out, literal_start)
                    out.append(Param(parts=_merge(literal)))
                    prev.append(d.bound_literal_token)
                else:
                    emit(ch)
                    prev.append("'literal'")
            else:
                literal.append(ch)
                emit(ch)
            pos += 1
            continue
        if state == "ident":
            emit(ch)
            if ch == quote:
                state = "code"
                prev.append(d.identifier_token)
            pos += 1
            continue
        if state == "dollar":
            if source.startswith(dollar_tag, pos):
                emit(dollar_tag)
                pos += len(dollar_tag)
                state = "code"
                prev.append("'literal'")
            else:
                emit(ch)
                pos += 1
            continue
        if state == "line_comment":
            emit(ch)
            if ch == "\n":
                state = "code"
            pos += 1
            continue
        if state == "block_comment":
            if source.startswith("*/", pos):
                emit("*/")
                state = "code"
                pos += 2
            else:
                emit(ch)
                pos += 1
            continue
        # code
        if ch in d.string_quotes:
            before = source[pos - 1] if pos > 0 else ""
            glued = d.prefixed_strings and (before.isalnum() or before == "_")
            literal_prefix = before if glued else ""
            state = "string"
            quote = ch
            literal = []
            literal_has_hole = False
            backslashes = d.backslash_escapes or literal_prefix in d.escape_prefixes
            emit(ch)
            literal_start = _text_length(out) - 1  # where the quote stands in the last piece
            pos += 1
            continue
        if ch in d.identifier_quotes:
            state = "ident"
            quote = ch
            emit(ch)
            pos += 1
            continue
        if source.startswith(d.line_comments, pos):
            state = "line_comment"
            emit(ch)
            pos += 1
            continue
        if source.startswith("/*", pos):
            state = "block_comment"
            emit("/*")
            pos += 2
            continue
        if ch == "$" and dollar_re is not None:
            tag = dollar_re.match(source, pos)
            if tag and not (pos > 0 and (source[pos - 1].isalnum() or source[pos - 1] == "_")):
                dollar_tag = tag.group()
                state = "dollar"
                emit(dollar_tag)
                pos = tag.end()
                continue
        if (
            ch == ":"
            and name_re is not None
            and not source.startswith("::", pos)
            and source[pos - 1 : pos] != ":"
        ):
            name = name_re.match(source, pos + 1)
            if name and name.group() in parameter_names:
                out.append(Param(name=name.group()))
                prev.append("?")
                pos = name.end()
                continue
        if ch == ";" and d.splits_statements:
            emit(";")
            statements.append([])
            out = statements[-1]
            prev.clear()
            parens.clear()
            select_depth.clear()
            pos += 1
            continue
        if ch.isspace():
            emit(ch)
            pos += 1
            continue
        m = word_re.match(source, pos)
        if m:
            word = m.group().upper()
            if word == "SELECT" and d.select_lists:
                select_depth.append(len(parens))
            elif word in _SELECT_ENDS and in_select_list():
                select_depth.pop()
            prev.append(word)
            emit(m.group())
            pos = m.end()
            continue
        op = next((o for o in d.operators if source.startswith(o, pos)), ch)
        if op == "(":
            before_op = prev[-1] if prev else ""
            before2 = prev[-2] if len(prev) > 1 else ""
            parens.append(
                before_op in _LIST_OPENERS
                or before_op in value_after
                or (
                    bool(word_re.fullmatch(before_op))
                    and (
                        before2 in value_after
                        or (d.calls_in_value_lists and before2 in ("(", ",") and in_value_list())
                    )
                )
                or (before_op in ("(", ",") and in_value_list())
            )
        elif op == ")" and parens:
            if in_select_list():
                select_depth.pop()
            parens.pop()
        prev.append(op)
        emit(op)
        pos += len(op)
    if state == "string":
        problems.append((f"unterminated string literal in {d.language}", source.rfind(quote)))
    return LexedStatements(statements, problems, printed)


def _text_length(pieces: list[Piece]) -> int:
    return len(pieces[-1]) if pieces and isinstance(pieces[-1], str) else 0


def _cut_literal(pieces: list[Piece], start: int) -> None:
    """Drop the text of the literal being closed (it started at ``start`` in the last piece)."""
    last = pieces[-1] if pieces else None
    if isinstance(last, str):
        kept = last[:start]
        if kept:
            pieces[-1] = kept
        else:
            pieces.pop()


def _merge(parts: list[str | int]) -> list[str | int]:
    merged: list[str | int] = []
    for part in parts:
        if isinstance(part, str) and merged and isinstance(merged[-1], str):
            merged[-1] += part
        else:
            merged.append(part)
    return merged
