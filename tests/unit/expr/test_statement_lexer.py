"""The statement lexer shared by CQL and SQL: quoting per dialect, and value positions."""

from __future__ import annotations

from collections.abc import Collection

import pytest

from kflow.expr.statement_lexer import (
    CQL,
    MYSQL,
    POSTGRESQL,
    HoleSite,
    LexedStatements,
    Param,
    Piece,
    Placement,
    StatementDialect,
    lex_statements,
)
from kflow.expr.templates import translate_or_none

DIALECTS = {"cql": CQL, "postgres": POSTGRESQL, "mysql": MYSQL}


def lex(
    source: str,
    dialect: StatementDialect,
    sites: list[HoleSite] | None = None,
    names: Collection[str] = (),
    printable: bool = False,
) -> LexedStatements:
    """Lex ``source``, binding every hole in code and recording where it stood."""
    translation = translate_or_none(source)
    assert translation is not None

    def place(site: HoleSite) -> tuple[Placement, str | None]:
        if sites is not None:
            sites.append(site)
        return "bind", None

    return lex_statements(
        source,
        translation.holes,
        dialect,
        place,
        printable=lambda hole: printable,
        parameter_names=names,
    )


def shown(pieces: list[Piece]) -> str:
    """The statement with ``?`` for a bound hole, ``<p:…>`` for a literal or a name."""
    out = []
    for piece in pieces:
        if isinstance(piece, str):
            out.append(piece)
        elif isinstance(piece, int):
            out.append(f"<printed {piece}>")
        elif piece.hole is not None:
            out.append("?")
        elif piece.name is not None:
            out.append(f"<:{piece.name}>")
        else:
            out.append(f"<p:{piece.parts!r}>")
    return "".join(out)


def one(
    source: str, dialect: StatementDialect, names: Collection[str] = ()
) -> tuple[str, list[str]]:
    """The one statement read, and the problems' messages."""
    lexed = lex(source, dialect, names=names)
    assert len(lexed.statements) == 1
    return shown(lexed.statements[0]), [message for message, _ in lexed.problems]


def test_cql_strings_double_their_quotes_and_a_hole_binds_the_whole_literal() -> None:
    assert one("SELECT * FROM t WHERE a = 'it''s {{ x }}' AND b = 'y'", CQL) == (
        "SELECT * FROM t WHERE a = <p:[\"it's \", 0]> AND b = 'y'",
        [],
    )


def test_cql_double_quotes_and_both_comment_styles_hide_holes() -> None:
    _, problems = one('SELECT "{{ a }}" FROM t -- {{ b }}\n// {{ c }}\n/* {{ d }} */', CQL)
    assert [p.split(" is inside ")[1] for p in problems] == [
        "a double-quoted identifier; it cannot be bound",
        "a comment; it cannot be bound",
        "a comment; it cannot be bound",
        "a comment; it cannot be bound",
    ]


def test_cql_has_no_statement_splitting_no_named_parameters_and_no_prefixed_strings() -> None:
    lexed = lex("SELECT :id FROM t; x'{{ a }}'", CQL, names=["id"])
    assert [shown(s) for s in lexed.statements] == ["SELECT :id FROM t; x<p:[0]>"]
    assert lexed.problems == []


def test_postgres_dollar_quotes_escape_strings_and_casts() -> None:
    assert one("SELECT $tag$ it's {{ a }} $tag$, x::int, :id", POSTGRESQL, names=["id"]) == (
        "SELECT $tag$ it's  $tag$, x::int, <:id>",
        ["the expression `{{ a }}` is inside a dollar-quoted string; it cannot be bound"],
    )
    # E'...' reads backslashes (the quote after \ does not close it); a hole there is refused
    assert one("SELECT E'a\\'{{ b }}', 'c\\'", POSTGRESQL) == (
        "SELECT E<p:[\"a'\", 0]>, 'c\\'",
        ["an expression inside a E'...' literal cannot be bound; use a plain '...' literal"],
    )
    assert one('SELECT "{{ c }}"', POSTGRESQL)[1] == [
        "the expression `{{ c }}` is inside a quoted identifier; it cannot be bound"
    ]


def test_mysql_double_quoted_strings_backslashes_backticks_and_hash_comments() -> None:
    assert one('SELECT "it\\\'s\\n{{ a }}", `{{ b }}` # {{ c }}\n', MYSQL) == (
        'SELECT <p:["it\'s\\n", 0]>, `` # \n',
        [
            "the expression `{{ b }}` is inside a quoted identifier; it cannot be bound",
            "the expression `{{ c }}` is inside a comment; it cannot be bound",
        ],
    )


def test_a_hole_in_a_comment_or_identifier_is_printed_when_the_caller_says_so() -> None:
    lexed = lex('SELECT "{{ a }}".id -- {{ b }}', POSTGRESQL, printable=True)
    assert shown(lexed.statements[0]) == 'SELECT "<printed 0>".id -- <printed 1>'
    assert lexed.printed == {0, 1}


@pytest.mark.parametrize("dialect", ["postgres", "mysql"])
def test_sql_splits_statements_at_top_level_semicolons_only(dialect: str) -> None:
    lexed = lex("SELECT ';' /* ; */; SELECT 1 -- ;\n;", DIALECTS[dialect])
    assert [shown(s) for s in lexed.statements] == ["SELECT ';' /* ; */;", " SELECT 1 -- ;\n;", ""]


@pytest.mark.parametrize("dialect", ["cql", "postgres", "mysql"])
def test_an_unterminated_string_is_reported_at_its_quote(dialect: str) -> None:
    lexed = lex("SELECT * FROM t WHERE a = 'x", DIALECTS[dialect])
    assert lexed.problems == [(f"unterminated string literal in {DIALECTS[dialect].language}", 26)]


@pytest.mark.parametrize(
    ("dialect", "source", "value", "after"),
    [
        ("cql", "SELECT * FROM t WHERE a = {{ x }}", True, "="),
        ("cql", "SELECT * FROM t WHERE a IN ({{ 1 }}, {{ x }})", True, ","),
        ("cql", "SELECT * FROM t WHERE token(k) > token({{ x }})", True, "("),
        ("cql", "UPDATE t SET m = m + {'k': {{ x }}}", True, ":"),
        ("cql", "SELECT * FROM t WHERE tags CONTAINS KEY {{ x }}", True, "KEY"),
        ("cql", "INSERT INTO t (a) VALUES ({{ 1 }}) USING TTL {{ x }}", True, "TTL"),
        ("cql", "SELECT * FROM {{ x }}", False, "FROM"),
        ("cql", "SELECT {{ x }} FROM t", False, "SELECT"),  # CQL's SELECT list names columns
        ("cql", "SELECT * FROM t WHERE {{ x }} = 1", False, "WHERE"),
        ("cql", "SELECT * FROM t WHERE a = 1; SELECT {{ x }}", False, "SELECT"),
        ("postgres", "SELECT {{ x }} FROM t", True, "SELECT"),
        ("postgres", "SELECT a, {{ x }} FROM t", True, ","),
        ("postgres", "SELECT a FROM t ORDER BY {{ x }}", False, "BY"),
        ("postgres", "SELECT * FROM t WHERE {{ x }}", True, "WHERE"),
        ("postgres", "SELECT * FROM t WHERE a <> {{ x }} OFFSET 1", True, "<>"),
        ("postgres", "INSERT INTO t (a, b) VALUES ({{ 1 }}, lower({{ x }}))", True, "("),
        ("postgres", "INSERT INTO t (a, {{ x }}) VALUES (1, 2)", False, ","),
        ("postgres", "SELECT 1; INSERT INTO {{ x }}", False, "INTO"),
        ("mysql", "SELECT * FROM t WHERE a = 1 AND b BETWEEN {{ x }} AND 2", True, "BETWEEN"),
        ("mysql", "SELECT * FROM t WHERE a LIKE CONCAT('%', {{ x }})", True, ","),
    ],
)
def test_value_positions(dialect: str, source: str, value: bool, after: str) -> None:
    sites: list[HoleSite] = []
    lex(source, DIALECTS[dialect], sites)
    site = sites[-1]
    assert (site.value, site.after) == (value, after)
    assert not site.glued


def test_select_lists_and_glued_holes() -> None:
    sites: list[HoleSite] = []
    lex("SELECT {{ a }}, (SELECT 1) FROM t WHERE x = y{{ b }} AND c = {{ d }}.e", POSTGRESQL, sites)
    assert [(s.select_list, s.value, s.glued) for s in sites] == [
        (True, True, False),
        (False, False, True),  # after the word y
        (False, True, True),
    ]


def test_a_call_in_a_value_list_holds_values_in_sql_not_in_cql() -> None:
    # Kept as the two planners had it: CQL refuses VALUES ({{ 1 }}, f({{ x }})).
    source = "INSERT INTO t (a, b) VALUES ({{ 1 }}, toTimestamp({{ x }}))"
    for dialect, value in ((POSTGRESQL, True), (CQL, False)):
        sites: list[HoleSite] = []
        lex(source, dialect, sites)
        assert sites[-1].value is value


def test_placement_decides_what_a_hole_becomes() -> None:
    source = "SELECT * FROM {{ t }} WHERE a = {{ v }} AND b = {{ w }}"
    translation = translate_or_none(source)
    assert translation is not None
    choices: list[Placement] = ["print", "bind", "refuse"]

    def place(site: HoleSite) -> tuple[Placement, str | None]:
        choice = choices.pop(0)
        return choice, "refused" if choice == "refuse" else None

    lexed = lex_statements(source, translation.holes, POSTGRESQL, place)
    (pieces,) = lexed.statements
    assert shown(pieces) == "SELECT * FROM <printed 0> WHERE a = ? AND b = "
    assert [p.hole for p in pieces if isinstance(p, Param)] == [1]
    assert lexed.printed == {0}
    assert lexed.problems == [("refused", source.index("{{ w"))]
