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

The lexing (quotes, comments, dollar quotes, ``:name``) and the value positions are
``kflow.expr.statement_lexer``'s, shared with CQL; here is what a hole becomes.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from jinja2 import Undefined

from kflow.errors import ExpressionError, TaskError
from kflow.expr.printing import to_text
from kflow.expr.statement_lexer import (
    MYSQL,
    POSTGRESQL,
    HoleSite,
    Param,
    Piece,
    Placement,
    lex_statements,
)
from kflow.expr.templates import (
    ExprProblem,
    compile_jinja_expression,
    expression_error,
    line_col,
    referenced_names,
    translate_or_none,
)
from kflow.plugins.templating import STATIC_NAMES

if TYPE_CHECKING:
    from kflow.expr.pebble_syntax import Hole

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

_DIALECTS = {"postgres": POSTGRESQL, "mysql": MYSQL}
_CHANGING_FUNCTIONS = re.compile(r"\b(now|uuid|randomInt|kv|errorLogs)\s*\(")


@dataclass
class StatementPlan:
    """One statement: text, static holes (printed once) and bound parameters, in order."""

    pieces: list[Piece] = field(default_factory=list)

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


def _hole_is_static(hole: Hole) -> bool:
    names = referenced_names("{{ " + hole.body + " }}")
    return names is not None and names <= STATIC_NAMES and not _CHANGING_FUNCTIONS.search(hole.body)


def _place(site: HoleSite) -> tuple[Placement, str | None]:
    if _hole_is_static(site.hole) and (site.glued or not site.value or site.select_list):
        return "print", None  # a name fixed for the whole run (a table, a schema)
    problem = site.problem(
        "SQL expects a name or keyword",
        "it reads per-execution values, which are bound, never pasted into the SQL: write "
        "the name in the query, or read it from vars, inputs or envs",
    )
    return ("bind" if problem is None else "refuse"), problem


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
    lexed = lex_statements(
        source,
        holes,
        _DIALECTS[dialect],
        _place,
        printable=_hole_is_static,
        parameter_names=parameter_names if parameter_names is not None else (),
    )
    statements = [StatementPlan(pieces) for pieces in lexed.statements]
    kept = [s for s in statements if not s.is_blank()]
    return SqlPlan(kept or [StatementPlan()], problems + lexed.problems, lexed.printed)


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
