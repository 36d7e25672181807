"""SQL templates for the JDBC tasks: values are bound by the driver, never pasted.

``SELECT * FROM orders WHERE id = {{ trigger.value | jq('.id') | first }}`` compiles to
``SELECT * FROM orders WHERE id = %s`` and, per execution, the params ``["20"]``.

- An expression where SQL expects a value (after ``= < > <= >= != <> LIKE IN LIMIT
  OFFSET + - * / || WHERE AND OR NOT CASE WHEN THEN ELSE BETWEEN INTERVAL ESCAPE``, in a
  SELECT list, inside ``VALUES (...)``, ``IN (...)`` or a function call in a value
  position) is a bound parameter.
- An expression inside a string literal (``'order-{{ x }}'``) turns the whole literal
  into one bound parameter holding the literal's text with the value printed in it.
- ``:name`` is a bound parameter when ``name`` is a key of the task's ``parameters``
  (as Kestra's named parameters; ``::type`` casts are left alone).
- An expression that names something (a table, a column, a keyword) can only read
  values fixed for the whole run (``flow``, ``vars``, ``inputs``, ``envs``, ``labels``):
  it is printed into the SQL once, when the flow starts (so is such an expression in a
  SELECT list, where it usually names columns). One that reads the event
  (``trigger``, ``outputs``, ``execution`` ...) there is refused at validate time.
- Control tags (``{% for %}`` ...) are refused: they change the statement per event.

``%`` is doubled in the text sent with parameters (psycopg2 and pymysql read ``%s``).
Statements are split at top-level ``;``: ``Query`` runs one, ``Queries`` several.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from jinja2 import Undefined

from kflow.errors import ExpressionError, TaskError
from kflow.expr.printing import to_text
from kflow.expr.templates import (
    ExprProblem,
    compile_jinja_expression,
    expression_error,
    line_col,
    referenced_names,
    translate_or_none,
)
from kflow.plugins.templating import STATIC_NAMES

__all__ = [
    "ALL_NAMES",
    "Dialect",
    "SqlStatement",
    "check_sql",
    "compile_sql",
    "named_placeholders",
    "plan_sql",
]

Dialect = Literal["postgres", "mysql"]

_VALUE_AFTER = {
    "=",
    "<",
    ">",
    "<=",
    ">=",
    "!=",
    "<>",
    "IN",
    "LIKE",
    "ILIKE",
    "LIMIT",
    "OFFSET",
    "+",
    "-",
    "*",
    "/",
    "%",
    "||",
    "WHERE",
    "AND",
    "OR",
    "NOT",
    "WHEN",
    "THEN",
    "ELSE",
    "BETWEEN",
    "CASE",
    "INTERVAL",
    "ESCAPE",
    "[",
}
_LIST_OPENERS = {"VALUES", "IN"}
_SELECT_ENDS = {"FROM", "INTO", "WHERE", "GROUP", "ORDER", "LIMIT", "UNION", "HAVING", "WINDOW"}
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*|\d+(?:\.\d+)?")
_OPS = ("<=", ">=", "!=", "<>", "||", "::")
_CHANGING_FUNCTIONS = re.compile(r"\b(now|uuid|randomInt|kv|errorLogs)\s*\(")
_DOLLAR_TAG = re.compile(r"\$(?:[A-Za-z_][A-Za-z0-9_]*)?\$")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_MYSQL_ESCAPES = {"0": "\0", "b": "\b", "n": "\n", "r": "\r", "t": "\t", "Z": "\x1a"}


@dataclass
class Param:
    """One bound value: a hole, a string literal made of text and holes, or ``:name``."""

    hole: int | None = None
    parts: list[str | int] | None = None
    name: str | None = None


@dataclass
class StatementPlan:
    """One statement: text, static holes (printed once) and bound parameters, in order."""

    pieces: list[str | int | Param] = field(default_factory=list)

    def is_blank(self) -> bool:
        text = "".join(p for p in self.pieces if isinstance(p, str))
        return not _strip_comments(text).strip() and not any(
            not isinstance(p, str) for p in self.pieces
        )


@dataclass
class SqlPlan:
    statements: list[StatementPlan]
    problems: list[tuple[str, int]]  # (message, source offset)
    static_holes: set[int]


def _strip_comments(text: str) -> str:
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    return re.sub(r"(--|#)[^\n]*", " ", text)


def _hole_is_static(body: str) -> bool:
    names = referenced_names("{{ " + body + " }}")
    return names is not None and names <= STATIC_NAMES and not _CHANGING_FUNCTIONS.search(body)


def plan_sql(
    source: str, dialect: Dialect, parameter_names: Collection[str] | None = None
) -> SqlPlan:
    """Read ``source`` into statements of text, static holes and parameters (pure)."""
    translation = translate_or_none(source)
    holes = translation.holes if translation is not None else []
    problems: list[tuple[str, int]] = []
    if translation is not None and translation.has_statements:
        problems.append(
            (
                "control tags ({% ... %}) cannot be used in sql: they change the statement "
                "for every execution; bind values with {{ }} or parameters, or use Queries",
                source.find("{%"),
            )
        )
    names: Collection[str] = parameter_names if parameter_names is not None else ()
    static_holes: set[int] = set()
    statements: list[StatementPlan] = [StatementPlan()]
    out = statements[-1].pieces
    prev: list[str] = []
    parens: list[bool] = []
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

    select_depth: list[int] = []  # paren depths of the SELECT lists being read

    def in_value_list() -> bool:
        return bool(parens) and parens[-1]

    def in_select_list() -> bool:
        return bool(select_depth) and select_depth[-1] == len(parens)

    def in_value_position() -> bool:
        if not prev:
            return False
        last = prev[-1]
        if last in _VALUE_AFTER:
            return True
        if last in ("SELECT", "DISTINCT") or (last == "," and in_select_list()):
            return in_select_list()
        if last in ("(", ","):
            return bool(parens) and parens[-1]
        return False

    while pos <= n:
        if next_hole is not None and pos == next_hole[1].start:
            index, hole = next_hole
            next_hole = next(hole_iter, None)
            static = _hole_is_static(hole.body)
            if state == "string":
                literal.append(index)
                literal_has_hole = True
            elif state in ("ident", "line_comment", "block_comment", "dollar"):
                if static:
                    static_holes.add(index)
                    out.append(index)
                else:
                    where = {"ident": "a quoted identifier", "dollar": "a dollar-quoted string"}
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
                if static and (
                    glued_before or glued_after or not in_value_position() or in_select_list()
                ):
                    # A name fixed for the whole run (a table, a schema): printed once.
                    static_holes.add(index)
                    out.append(index)
                    prev.append("name")
                elif glued_before or glued_after:
                    problems.append(
                        (
                            f"the expression `{hole.text}` is glued to other characters; only "
                            "a whole value can be bound",
                            pos,
                        )
                    )
                elif not in_value_position():
                    after_what = f" (after {prev[-1]})" if prev else ""
                    problems.append(
                        (
                            f"the expression `{hole.text}` stands where SQL expects a name or "
                            f"keyword{after_what}; it reads per-execution values, which are "
                            "bound, never pasted into the SQL: write the name in the query, "
                            "or read it from vars, inputs or envs",
                            pos,
                        )
                    )
                else:
                    out.append(Param(hole=index))
                    prev.append("?")
            pos = hole.end
            continue
        if pos == n:
            break
        ch = source[pos]
        if state == "string":
            if ch == "\\" and backslashes and pos + 1 < n:
                nxt = source[pos + 1]
                literal.append(_MYSQL_ESCAPES.get(nxt, "\\" + nxt if nxt in "%_" else nxt))
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
                    prev.append("?")
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
                prev.append("ident")
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
        if ch == "'" or (ch == '"' and dialect == "mysql"):  # MySQL: "..." is a string too
            before = source[pos - 1] if pos > 0 else ""
            glued = before.isalnum() or before == "_"
            literal_prefix = before if glued else ""
            state = "string"
            quote = ch
            literal = []
            literal_has_hole = False
            backslashes = dialect == "mysql" or literal_prefix in ("e", "E")
            emit(ch)
            literal_start = _text_length(out) - 1
            pos += 1
            continue
        if ch == '"' or (ch == "`" and dialect == "mysql"):
            state = "ident"
            quote = ch
            emit(ch)
            pos += 1
            continue
        if source.startswith("--", pos) or (ch == "#" and dialect == "mysql"):
            state = "line_comment"
            emit(ch)
            pos += 1
            continue
        if source.startswith("/*", pos):
            state = "block_comment"
            emit("/*")
            pos += 2
            continue
        if ch == "$" and dialect == "postgres":
            tag = _DOLLAR_TAG.match(source, pos)
            if tag and not (pos > 0 and (source[pos - 1].isalnum() or source[pos - 1] == "_")):
                dollar_tag = tag.group()
                state = "dollar"
                emit(dollar_tag)
                pos = tag.end()
                continue
        if ch == ":" and not source.startswith("::", pos) and source[pos - 1 : pos] != ":":
            name = _NAME.match(source, pos + 1)
            if name and name.group() in names:
                out.append(Param(name=name.group()))
                prev.append("?")
                pos = name.end()
                continue
        if ch == ";":
            emit(";")
            statements.append(StatementPlan())
            out = statements[-1].pieces
            prev = []
            parens = []
            select_depth = []
            pos += 1
            continue
        if ch.isspace():
            emit(ch)
            pos += 1
            continue
        m = _WORD.match(source, pos)
        if m:
            word = m.group().upper()
            if word == "SELECT":
                select_depth.append(len(parens))
            elif word in _SELECT_ENDS and in_select_list():
                select_depth.pop()
            prev.append(word)
            emit(m.group())
            pos = m.end()
            continue
        op = next((o for o in _OPS if source.startswith(o, pos)), ch)
        if op == "(":
            before_op = prev[-1] if prev else ""
            before2 = prev[-2] if len(prev) > 1 else ""
            parens.append(
                before_op in _LIST_OPENERS
                or before_op in _VALUE_AFTER
                or (
                    bool(_WORD.fullmatch(before_op))
                    and (before2 in _VALUE_AFTER or (before2 in ("(", ",") and in_value_list()))
                )
                or (before_op in ("(", ",") and bool(parens) and parens[-1])
            )
        elif op == ")" and parens:
            if select_depth and select_depth[-1] == len(parens):
                select_depth.pop()
            parens.pop()
        prev.append(op)
        emit(op)
        pos += len(op)
    if state == "string":
        problems.append(("unterminated string literal in sql", source.rfind(quote)))
    kept = [s for s in statements if not s.is_blank()]
    return SqlPlan(kept or [StatementPlan()], problems, static_holes)


def _text_length(pieces: list[str | int | Param]) -> int:
    return len(pieces[-1]) if pieces and isinstance(pieces[-1], str) else 0


def _cut_literal(pieces: list[str | int | Param], start: int) -> None:
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


class SqlStatement:
    """One statement ready to run: ``query`` (``%s`` markers) and ``params(ctx, named)``.

    ``query`` is None-free: without any parameter it is the SQL as written (``%`` kept),
    and ``params`` returns None so that the driver does no ``%`` formatting.
    """

    __slots__ = ("_eval", "_holes", "_params", "_source", "_translation", "query")

    def __init__(
        self,
        plan: StatementPlan,
        source: str,
        translation: Any,
        static_values: Mapping[int, str],
    ) -> None:
        self._source = source
        self._translation = translation
        self._params = [p for p in plan.pieces if isinstance(p, Param)]
        text: list[str] = []
        escape = bool(self._params)
        for piece in plan.pieces:
            if isinstance(piece, Param):
                text.append("%s")
            elif isinstance(piece, int):
                value = static_values[piece]
                text.append(value.replace("%", "%%") if escape else value)
            else:
                text.append(piece.replace("%", "%%") if escape else piece)
        self.query = "".join(text).strip().rstrip(";").rstrip()
        used = sorted({p.hole for p in self._params if p.hole is not None} | _literal_holes(self))
        self._holes = used
        if used:
            jinja = ", ".join(f"({translation.holes[i].jinja})" for i in used)
            self._eval: Any = compile_jinja_expression(f"[{jinja}]")
        else:
            self._eval = None

    @property
    def has_params(self) -> bool:
        return bool(self._params)

    def params(
        self, ctx: Mapping[str, Any], named: Mapping[str, Any] | None = None
    ) -> list[Any] | None:
        """The values of the parameters in order (None when the statement has none)."""
        if not self._params:
            return None
        values: dict[int, Any] = {}
        if self._eval is not None:
            try:
                evaluated = self._eval(ctx)
            except Exception as exc:
                raise expression_error(self._translation, self._source, exc, ctx) from exc
            for index, value in zip(self._holes, evaluated, strict=True):
                if isinstance(value, Undefined):
                    try:
                        value._fail_with_undefined_error()
                    except Exception as exc:
                        raise expression_error(self._translation, self._source, exc, ctx) from exc
                values[index] = value
        out: list[Any] = []
        for param in self._params:
            if param.hole is not None:
                out.append(values[param.hole])
            elif param.name is not None:
                if named is None or param.name not in named:
                    raise TaskError(f"sql uses :{param.name} but parameters has no {param.name!r}")
                out.append(named[param.name])
            else:
                out.append(
                    "".join(
                        p if isinstance(p, str) else to_text(values[p]) for p in param.parts or []
                    )
                )
        return out


def _literal_holes(statement: SqlStatement) -> set[int]:
    found: set[int] = set()
    for param in statement._params:
        for part in param.parts or []:
            if isinstance(part, int):
                found.add(part)
    return found


def compile_sql(
    source: str,
    dialect: Dialect,
    static_ctx: Mapping[str, Any],
    parameter_names: Collection[str] | None = None,
) -> list[SqlStatement]:
    """The statements of ``source``; static holes are printed with ``static_ctx`` now.

    Raises ExpressionError for an expression that cannot be bound or a template error.
    """
    translation = translate_or_none(source)
    if translation is None:
        from kflow.expr import compile_template

        compile_template(source)  # raises the syntax error with its message
        raise ExpressionError(f"cannot read the sql template `{source[:60]}`")
    plan = plan_sql(source, dialect, parameter_names)
    if plan.problems:
        message, offset = plan.problems[0]
        line, col = line_col(source, offset)
        raise ExpressionError(f"{message} (sql line {line}, column {col})")
    static_values: dict[int, str] = {}
    for index in plan.static_holes:
        hole = translation.holes[index]
        try:
            value = compile_jinja_expression(hole.jinja)(static_ctx)
            if isinstance(value, Undefined):
                value._fail_with_undefined_error()
        except Exception as exc:
            raise expression_error(translation, source, exc, static_ctx) from exc
        static_values[index] = to_text(value)
    return [SqlStatement(s, source, translation, static_values) for s in plan.statements]


def check_sql(
    source: str, dialect: Dialect, parameter_names: Collection[str] | None = None
) -> tuple[list[ExprProblem], int]:
    """Binding problems of ``source`` (with line and column) and its number of statements.

    Template syntax errors are not reported here (the flow checks report them).
    """
    if translate_or_none(source) is None:
        return [], 1
    plan = plan_sql(source, dialect, parameter_names)
    problems = [ExprProblem(message, *line_col(source, off)) for message, off in plan.problems]
    return problems, len(plan.statements)


def named_placeholders(source: str, dialect: Dialect) -> list[str]:
    """``:name`` placeholders of ``source`` outside literals, comments and casts (for checks)."""
    found: list[str] = []
    for statement in plan_sql(source, dialect, ALL_NAMES).statements:
        found.extend(p.name for p in statement.pieces if isinstance(p, Param) and p.name)
    return found


class _AllNames(Collection[str]):
    """A collection that contains every name (to find all ``:name`` placeholders)."""

    def __contains__(self, item: object) -> bool:
        return True

    def __iter__(self) -> Any:
        return iter(())

    def __len__(self) -> int:
        return 0


ALL_NAMES: Collection[str] = _AllNames()
"""Every ``:name`` is a placeholder (``parameters`` given as one template: keys unknown)."""
