"""``kflow.expr.checks``: validation without Jinja2 reports what the runtime's parse reports.

``check_template`` asks Jinja2 to parse a translation only when it is not ``ordinary``
(``pebble_syntax``). The tests here prove that nothing is lost: over every template of
the test corpus (and over generated ones), Jinja2 parses every ordinary translation, and
the checks give exactly what translating then parsing with Jinja2 gives; each kind of
translation Jinja2 may refuse is shown, with the diagnostic it keeps.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from functools import cache
from pathlib import Path

import jinja2.defaults
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jinja2 import TemplateError

from kflow.expr import names
from kflow.expr.checks import ExprProblem, check_template, line_col
from kflow.expr.filters import FILTERS
from kflow.expr.functions import PUBLIC_FUNCTIONS
from kflow.expr.jq_paths import compiles_as_plain_path
from kflow.expr.jq_support import check_jq
from kflow.expr.pebble_syntax import PebbleSyntaxError, Translation, translate
from kflow.expr.templates import ENVIRONMENT
from kflow.flow.loader import load_flow_text
from kflow.flow.registry import default_registry
from kflow.flow.validate import FlowValidator
from kflow.flow.yamltree import parse_yaml

REPO = Path(__file__).resolve().parents[3]
SHARED_FLOWS = REPO.parent / "shared" / "kestra-flows"


def _translate(source: str) -> Translation:
    return translate(source, names.FILTER_NAMES, names.TEST_NAMES, names.FUNCTION_NAMES)


def reference_check(source: str) -> list[tuple[str, int, int, str]]:
    """``check_template`` as it was with Jinja2 always: translate, parse, compile jq."""
    try:
        translation = _translate(source)
    except PebbleSyntaxError as exc:
        return [(exc.message, *line_col(source, exc.offset), "syntax")]
    problems = []
    try:
        ENVIRONMENT.parse(translation.jinja)
    except TemplateError as exc:
        message = getattr(exc, "message", None) or str(exc)
        problems.append((message, getattr(exc, "lineno", None) or 1, 1, "syntax"))
    for program, offset in translation.jq_programs:
        jq_message = check_jq(program)
        if jq_message is not None:
            problems.append((jq_message, *line_col(source, offset), "jq"))
    return problems


def as_tuples(problems: list[ExprProblem]) -> list[tuple[str, int, int, str]]:
    return [(p.message, p.line, p.column, p.kind) for p in problems]


# ------------------------------------------------------------------------ the corpus


def _yaml_templates(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8")
    root, _ = parse_yaml(text, str(path))
    if root is None:
        return []
    validator = FlowValidator(str(path), default_registry())
    validator.check_flow(root)
    load_flow_text(text, str(path))  # the flow-level outputs record their sites too
    return [s.node.value for s in validator.sites if isinstance(s.node.value, str)]


def _python_templates(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and ("{{" in node.value or "{%" in node.value)
    ]


@cache
def corpus() -> tuple[str, ...]:
    """Every template of the samples, the fixtures, the Kestra flows when present, and
    every string holding ``{{`` or ``{%`` in the unit and conformance tests."""
    found: dict[str, None] = {}
    folders = [REPO / "samples", REPO / "tests" / "fixtures", SHARED_FLOWS]
    for folder in folders:
        for path in sorted(folder.rglob("*.y*ml")) if folder.is_dir() else []:
            found.update(dict.fromkeys(_yaml_templates(path)))
    for path in sorted((REPO / "tests").rglob("*.py")):
        found.update(dict.fromkeys(_python_templates(path)))
    return tuple(found)


def test_the_corpus_is_large_enough_to_mean_something() -> None:
    templates = corpus()
    assert len(templates) > 500
    readable = [t for t in templates if _readable(t)]
    assert len(readable) > 400
    assert any(not _translate(t).ordinary for t in readable)  # the lazy parse is exercised


def _readable(source: str) -> bool:
    try:
        _translate(source)
    except PebbleSyntaxError:
        return False
    return True


def test_jinja2_parses_every_ordinary_translation_of_the_corpus() -> None:
    refused = []
    for source in corpus():
        try:
            translation = _translate(source)
        except PebbleSyntaxError:
            continue
        if not translation.ordinary:
            continue
        try:
            ENVIRONMENT.parse(translation.jinja)
        except TemplateError as exc:
            refused.append((source, str(exc)))
    assert refused == []


def test_the_checks_report_what_the_jinja2_parse_reported_over_the_corpus() -> None:
    different = [
        (source, as_tuples(check_template(source)), reference_check(source))
        for source in corpus()
        if as_tuples(check_template(source)) != reference_check(source)
    ]
    assert different == []


# ------------------------------------------------------- what only Jinja2 would refuse

#: (template, whether Jinja2 refuses its translation): kflow's parser accepts each one
#: and marks it not ordinary; some are marked out of caution (Jinja2 accepts them).
NOT_ORDINARY = [
    ("{% if a %}x{% else %}y{% else %}z{% endif %}", True),
    ("{% if a %}x{% else %}y{% elseif b %}z{% endif %}", True),
    ("{% for x in y %}a{% else %}b{% else %}c{% endfor %}", True),
    ("{% set true = 1 %}", True),
    ("{% set None = 1 %}", True),
    ("{{ 007 }}", True),
    ("{{ a.01 }}", True),
    ("{{ [1, 02] }}", True),
    ("{% verbatim %}{% endraw %}{% endverbatim %}", True),
    ("{% for in in items %}{{ in }}{% endfor %}", False),
    ("{{ if }}", False),
    ("{{ " + "(" * 40 + "1" + ")" * 40 + " }}", False),
]


@pytest.mark.parametrize(("source", "refused"), NOT_ORDINARY)
def test_what_jinja2_may_refuse_is_not_ordinary_and_keeps_its_diagnostic(
    source: str, refused: bool
) -> None:
    translation = _translate(source)
    assert not translation.ordinary
    expected = reference_check(source)
    assert bool(expected) == refused
    if refused:
        assert expected[0][3] == "syntax"
    assert as_tuples(check_template(source)) == expected


def test_nesting_too_deep_for_jinja2_fails_as_it_did() -> None:
    source = "{{ " + "(" * 90 + "1" + ")" * 90 + " }}"
    with pytest.raises(RecursionError):
        reference_check(source)
    with pytest.raises(RecursionError):
        check_template(source)


@pytest.mark.parametrize(
    "source",
    [
        "{{ x is null }}",
        "{{ not a and b or c }}",
        "{{ x.in }}",
        "{{ f(x) }}".replace("f", "max"),
        "{% if a %}x{% elseif b %}y{% else %}z{% endif %}",
        "{% for x in y %}{% else %}{% endfor %}",
        "{% raw %}{{ not read }}{% endraw %}",
        "{{ 0 }} {{ 0.5 }} {{ 10 }}",
    ],
)
def test_common_templates_are_ordinary(source: str) -> None:
    assert _translate(source).ordinary


# ---------------------------------------------------------------- generated templates

_ATOMS = ["a", "b.c", "x['k']", "1", "0", "2.5", "'s'", '"t"', "null", "true", "[1, 2]", "{}"]
_ATOMS += ["{'k': a}", "outputs.t.v", "in", "if", "else", "loop.index", "007"]
_BINARY = [" + ", " - ", " * ", " / ", " % ", " ~ ", " == ", " != ", " < ", " and ", " or "]
_BINARY += [" ?? ", " contains ", " .. ", " is ", " is not "]
_FILTERS = ["upper", "default('x')", "jq('.a')", "first", "join(', ')", "length"]
_TESTS = ["defined", "null", "empty", "even", "none", "in"]


@st.composite
def expressions(draw: st.DrawFn, depth: int = 0) -> str:
    kind = draw(st.sampled_from(["atom", "atom", "binary", "filter", "unary", "group", "call"]))
    if depth > 3 or kind == "atom":
        return draw(st.sampled_from(_ATOMS))
    inner = draw(expressions(depth + 1))
    if kind == "binary":
        op = draw(st.sampled_from(_BINARY))
        right = draw(st.sampled_from(_TESTS)) if op.strip().startswith("is") else None
        return inner + op + (right or draw(expressions(depth + 1)))
    if kind == "filter":
        return f"{inner} | {draw(st.sampled_from(_FILTERS))}"
    if kind == "unary":
        return draw(st.sampled_from(["not ", "-", "+"])) + inner
    if kind == "group":
        return f"({inner})"
    return f"max({inner}, {draw(expressions(depth + 1))})"


@st.composite
def templates(draw: st.DrawFn) -> str:
    parts = []
    for _ in range(draw(st.integers(1, 4))):
        piece = draw(st.sampled_from(["print", "text", "if", "for", "set", "raw"]))
        expr = draw(expressions())
        if piece == "print":
            parts.append("{{ " + expr + " }}")
        elif piece == "text":
            parts.append(draw(st.sampled_from(["x", " ", "\n", "}", "%}", "#"])))
        elif piece == "if":
            tail = draw(st.sampled_from(["", "{% else %}e", "{% elseif b %}f{% else %}g"]))
            tail += draw(st.sampled_from(["", "{% else %}h", "{% elseif c %}i"]))
            parts.append("{% if " + expr + " %}t" + tail + "{% endif %}")
        elif piece == "for":
            name = draw(st.sampled_from(["item", "x", "in", "true"]))
            tail = draw(st.sampled_from(["", "{% else %}e", "{% else %}e{% else %}f"]))
            parts.append("{% for " + name + " in " + expr + " %}{{ loop.index }}" + tail)
            parts.append("{% endfor %}")
        elif piece == "set":
            name = draw(st.sampled_from(["v", "none", "False", "or"]))
            parts.append("{% set " + name + " = " + expr + " %}")
        else:
            body = draw(st.sampled_from(["{{ x }}", "{% endraw %}", "plain"]))
            parts.append("{% verbatim %}" + body + "{% endverbatim %}")
    return "".join(parts)


@settings(
    max_examples=400,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(templates())
def test_jinja2_parses_every_ordinary_generated_translation(source: str) -> None:
    try:
        translation = _translate(source)
    except PebbleSyntaxError:
        return
    if translation.ordinary:
        ENVIRONMENT.parse(translation.jinja)
    assert as_tuples(check_template(source)) == reference_check(source)


# ------------------------------------------------------------------------- jq paths


#: jq's keywords: a plain path may name a key after any of them (``.end``).
JQ_WORDS = ["if", "then", "elif", "else", "end", "as", "def", "reduce", "foreach", "try"]
JQ_WORDS += ["catch", "label", "import", "include", "and", "or", "not", "true", "false", "null"]
PLAIN = [".", ".a", ".a.b", ".[0]", ".[-1]", '.["x-y"]', '."x"', ".a[1]", " .a ", ".a .b"]


@pytest.mark.parametrize("program", [*PLAIN, ".[007]", *(f".{word}" for word in JQ_WORDS)])
def test_plain_paths_compile_in_jq(program: str) -> None:
    assert compiles_as_plain_path(program)
    assert check_jq(program) is None


@pytest.mark.parametrize("program", ['.["\\ud800"]', '.["\\q"]', '."\\(1)"', ".a | .b", "."])
def test_programs_with_escapes_or_filters_are_left_to_jq(program: str) -> None:
    assert compiles_as_plain_path(program) == (program == ".")


def test_every_plain_path_of_the_corpus_compiles_in_jq() -> None:
    programs = {p for t in corpus() if _readable(t) for p, _ in _translate(t).jq_programs}
    plain = [p for p in programs if compiles_as_plain_path(p)]
    assert len(plain) > 20
    assert [p for p in plain if check_jq(p) is not None] == []


# ---------------------------------------------------------------------------- names


def test_the_runtime_environment_holds_exactly_the_listed_names() -> None:
    assert frozenset(ENVIRONMENT.filters) == names.FILTER_NAMES
    assert frozenset(ENVIRONMENT.tests) | names.TRANSLATED_TESTS == names.TEST_NAMES
    public = {n for n in ENVIRONMENT.globals if not n.startswith("_") and n[:1].islower()}
    assert public == names.FUNCTION_NAMES


def test_each_list_matches_its_registry() -> None:
    assert frozenset(FILTERS) == names.KFLOW_FILTERS
    assert frozenset(jinja2.defaults.DEFAULT_FILTERS) - names.KFLOW_FILTERS == names.JINJA_FILTERS
    assert frozenset(jinja2.defaults.DEFAULT_TESTS) == names.JINJA_TESTS
    assert frozenset(PUBLIC_FUNCTIONS) | {"render", "renderOnce"} == names.KFLOW_FUNCTIONS
    assert {"empty", "json"} <= set(ENVIRONMENT.tests)


# ------------------------------------------------------------------------ cold start


def test_validation_loads_neither_jinja2_nor_the_runtime() -> None:
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from kflow.cli.validate_report import validate_paths\n"
        "validate_paths([Path(sys.argv[1])], use_cache=False)\n"
        "heavy = ('jinja2', 'jq', 'rich', 'typer', 'dataclasses', 'kflow.expr.templates',\n"
        "         'kflow.engine', 'kflow.storage', 'kflow.connectors', 'kflow.plugins')\n"
        "print(sorted(m for m in sys.modules if m.startswith(heavy)))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(REPO / "samples" / "get_detailed_order.yaml")],
        capture_output=True,
        text=True,
        check=True,
    )
    assert proc.stdout.strip().splitlines()[-1] == "[]"
