"""Structure-aware rendering of JSON documents."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shared_corpus import REPO_ROOT, seed_post

from kflow.errors import ExpressionError
from kflow.expr import ExprProblem, check_document, compile_document, compile_template

# The blog's flow as the project ships it (its document is the seed post's, unchanged).
SAMPLE = REPO_ROOT / "samples" / "get_detailed_order.yaml"


def document_block(path: Path) -> str:
    """The ``document: |`` block of the blog flow in ``path``, de-indented."""
    text = path.read_text(encoding="utf-8")
    block = re.search(r"    document: \|\n((?:      .*\n)+)", text)
    assert block, f"no document block in {path}"
    return "\n".join(line[6:] for line in block.group(1).splitlines()) + "\n"


def blog_document() -> str:
    """The blog flow's document, read from the sample."""
    return document_block(SAMPLE)


def test_the_sample_document_is_the_seed_posts() -> None:
    assert blog_document() == document_block(seed_post())


EVENT = {
    "order_id": "1",
    "customer_name": "Kelly Olsen",
    "customer_email": "jenniferschneider@example.com",
    "product_id": "20",
    "price": "166.89",
    "quantity": "1",
    "total": "166.89",
}
ROW = {
    "product_id": 20,
    "product_name": "wolfe",
    "brand": "envisioneer cross-media convergence",
    "product_category": "Electronics",
}


def blog_ctx(event: dict[str, str], row: dict[str, object]) -> dict[str, object]:
    return {
        "trigger": {"value": json.dumps(event)},
        "outputs": {"get_product_from_cassandra": {"row": row}},
    }


def test_blog_document_gives_kestras_output() -> None:
    source = blog_document()
    document = compile_document(source)
    assert document.mode == "structured"
    rendered = document.render(blog_ctx(EVENT, ROW))
    # Kestra renders the text, then parses it: the same thing for ordinary values.
    kestra = json.loads(compile_template(source).render(blog_ctx(EVENT, ROW)))
    assert rendered == kestra
    assert rendered == {
        **EVENT,
        "product": {
            "id": "20",
            "name": "wolfe",
            "brand": "envisioneer cross-media convergence",
            "category": "Electronics",
        },
    }


def test_quotes_backslashes_newlines_and_braces_cannot_break_the_document() -> None:
    nasty = 'Kelly "The Hacker" O\\Neil\n{{ x }}", "injected": "yes'
    rendered = compile_document(blog_document()).render(
        blog_ctx({**EVENT, "customer_name": nasty}, ROW)
    )
    assert rendered["customer_name"] == nasty
    assert "injected" not in rendered


def test_value_position_keeps_the_json_type() -> None:
    source = '{"price": {{ p | number }}, "ok": {{ ok }}, "tags": {{ tags }}, "none": {{ n }}}'
    rendered = compile_document(source).render(
        {"p": "166.89", "ok": True, "tags": ["a", "b"], "n": None}
    )
    assert rendered == {"price": 166.89, "ok": True, "tags": ["a", "b"], "none": None}


def test_value_position_reads_json_text_as_kestra_does() -> None:
    # mongodb-InsertOne-2: document: "{{ outputs.task_id.data | toJson }}"
    document = compile_document("{{ outputs.task_id.data | toJson }}")
    data = {"a": 1, "b": [True, None]}
    assert document.render({"outputs": {"task_id": {"data": data}}}) == data
    number = compile_document('{"price": {{ p }}}').render({"p": "166.89"})
    assert number == {"price": 166.89}


def test_value_position_keeps_non_json_text_as_a_string() -> None:
    rendered = compile_document('{"name": {{ n }}}').render({"n": 'Kelly", "x": "y'})
    assert rendered == {"name": 'Kelly", "x": "y'}


def test_hole_with_text_around_inside_a_string() -> None:
    rendered = compile_document('{"greeting": "Hello \\"{{ n }}\\"!\\n"}').render({"n": 'a"b'})
    assert rendered == {"greeting": 'Hello "a"b"!\n'}


def test_hole_inside_a_quoted_key() -> None:
    rendered = compile_document('{"k_{{ k }}": 1}').render({"k": 'x"y'})
    assert rendered == {'k_x"y': 1}


def test_extended_json_passes_through() -> None:
    source = '{"_id": {"$oid": "5f1d8e1b9f1b9c0c8c8b4567"}, "n": "{{ n }}"}'
    assert compile_document(source).render({"n": 1}) == {
        "_id": {"$oid": "5f1d8e1b9f1b9c0c8c8b4567"},
        "n": "1",
    }


def test_plain_documents_are_known() -> None:
    # plain: nothing a reader of Extended JSON would convert (the MongoDB tasks skip that step)
    assert compile_document(blog_document()).plain
    assert not compile_document('{"_id": {"$oid": "{{ n }}"}}').plain
    assert not compile_document('{"n": {{ n }}}').plain
    assert not compile_document('{"{{ k }}": 1}').plain
    assert not compile_document({"n": "{{ n }}"}).plain


def test_map_document_renders_value_by_value() -> None:
    # mongodb-InsertOne-1
    source = {"_id": {"$oid": "60930c39a982931c20ef6cd6"}, "name": "{{ n }}", "tags": ["{{ t }}"]}
    document = compile_document(source)
    assert document.render({"n": 'a"b', "t": 3}) == {
        "_id": {"$oid": "60930c39a982931c20ef6cd6"},
        "name": 'a"b',
        "tags": ["3"],
    }


def test_constant_document() -> None:
    document = compile_document('{"a": [1, 2]}')
    first = document.render({})
    assert isinstance(first, dict)
    first["a"].append(3)
    assert document.render({}) == {"a": [1, 2]}


def test_each_render_builds_fresh_containers() -> None:
    document = compile_document('{"nested": {"a": "{{ x }}"}, "list": [1]}')
    first = document.render({"x": 1})
    assert isinstance(first, dict)
    first["nested"]["b"] = 2
    assert document.render({"x": 1}) == {"nested": {"a": "1"}, "list": [1]}


def test_for_loop_falls_back_to_render_then_parse() -> None:
    source = "[{% for x in xs %}{{ x }}{% if not loop.last %},{% endif %}{% endfor %}]"
    document = compile_document(source)
    assert document.mode == "fallback"
    assert document.render({"xs": [1, 2]}) == [1, 2]


def test_bare_key_falls_back() -> None:
    document = compile_document("{ {{ k }}: 1 }")
    assert document.mode == "fallback"
    assert document.render({"k": '"key"'}) == {"key": 1}


def test_fallback_result_that_is_not_json_names_the_offending_text() -> None:
    document = compile_document("{ {{ k }}: 1 }")
    with pytest.raises(ExpressionError, match=r"not JSON .*near `\{ key: 1 \}`"):
        document.render({"k": "key"})


def test_undefined_in_a_document_names_the_expression() -> None:
    with pytest.raises(ExpressionError) as err:
        compile_document(blog_document()).render({"trigger": {"value": json.dumps(EVENT)}})
    assert str(err.value) == (
        "Unable to find `outputs` used in the expression "
        "`{{ outputs.get_product_from_cassandra.row.product_id }}`"
    )


def test_document_must_be_an_object_or_array() -> None:
    with pytest.raises(ExpressionError, match="object or array"):
        compile_document("{{ x }}").render({"x": 3})


def test_compile_rejects_template_errors() -> None:
    with pytest.raises(ExpressionError, match="expected a filter name"):
        compile_document('{"a": "{{ x | }}"}')


def test_compile_rejects_constant_non_json() -> None:
    with pytest.raises(ExpressionError, match="not JSON"):
        compile_document('{"a": }')


class TestCheckDocument:
    def test_valid_documents(self) -> None:
        assert check_document(blog_document()) == []
        assert check_document('{"a": {{ x }}}') == []
        assert check_document("{ {{ k }}: 1 }") == []

    def test_skeleton_error_with_position(self) -> None:
        assert check_document('{\n  "a": "{{ x }}",\n  "b": [1,, 2]\n}') == [
            ExprProblem(
                "not JSON even with its expressions as placeholders: Expecting value", 3, 11
            )
        ]

    def test_missing_comma_between_string_holes(self) -> None:
        problems = check_document('{"a": "{{ x }}" "b": 1}')
        assert [(p.line, p.column) for p in problems] == [(1, 17)]
        assert "Expecting ',' delimiter" in problems[0].message

    def test_undecidable_next_to_a_value_hole_is_left_to_run_time(self) -> None:
        assert check_document('{"a": {{ x }} "b": 1}') == []

    def test_plain_json_error(self) -> None:
        assert check_document('{"a": }') == [ExprProblem("not JSON: Expecting value", 1, 7)]

    def test_every_problem_at_once(self) -> None:
        problems = check_document('{"a": "{{ v | jq(\'.[\') }}",\n "b": [1,, 2]}')
        assert [(p.line, p.column) for p in problems] == [(1, 18), (2, 10)]

    def test_template_error_is_reported(self) -> None:
        problems = check_document('{"a": "{{ x | nofilter }}"}')
        assert problems == [ExprProblem("unknown filter 'nofilter'", 1, 15)]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=8,
)


@settings(max_examples=300, deadline=None)
@given(name=st.text(), email=st.text(), row_name=st.text(), price=json_values)
def test_rendering_never_produces_invalid_json_and_round_trips_strings(
    name: str, email: str, row_name: str, price: object
) -> None:
    source = blog_document().replace(
        '"price": "{{ trigger.value | jq(\'.price\') | first }}"', '"price": {{ price }}'
    )
    document = compile_document(source)
    ctx = blog_ctx(
        {**EVENT, "customer_name": name, "customer_email": email}, {**ROW, "product_name": row_name}
    )
    ctx["price"] = price
    rendered = document.render(ctx)
    assert isinstance(rendered, dict)
    assert json.loads(json.dumps(rendered)) == rendered
    assert rendered["customer_name"] == name
    assert rendered["customer_email"] == email
    assert rendered["product"]["name"] == row_name
    assert set(rendered) == {*EVENT, "product"}
    if not isinstance(price, str):
        assert rendered["price"] == price


def test_compile_rejects_a_skeleton_that_no_value_can_repair() -> None:
    with pytest.raises(
        ExpressionError, match=r"is not JSON even .*Expecting value \(line 2, column 11\)"
    ):
        compile_document('{"a": "{{ x }}",\n  "b": [1,, 2]}')


def test_raw_blocks_and_comments_render_then_parse() -> None:
    document = compile_document('{"a": "{% raw %}{{ kept }}{% endraw %}", {# c #}"b": {{ b }}}')
    assert document.mode == "fallback"
    assert document.render({"b": 2}) == {"a": "{{ kept }}", "b": 2}
    assert check_document('{"a": "{% raw %}{{ kept }}{% endraw %}"}') == []


def test_very_deep_documents_are_built_too() -> None:
    depth = 150
    source = '{"a": ' * depth + '"{{ x }}"' + "}" * depth
    rendered = compile_document(source).render({"x": 'q"'})
    for _ in range(depth):
        assert isinstance(rendered, dict)
        rendered = rendered["a"]
    assert rendered == 'q"'
