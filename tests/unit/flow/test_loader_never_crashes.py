"""Property-based: the loader and validator report, never crash, whatever the input."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from kflow.flow import default_registry, load_flow_text

_TOKENS = st.sampled_from(
    [*"ab:-{}[]|>'\"#&*!%@`,?~ \n\t.01", "{{", "}}", "  ", "id: ", "tasks:", "- ", "type: "]
)
yaml_like_text = st.lists(_TOKENS, max_size=80).map("".join)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(max_size=20),
    st.sampled_from(["{{ outputs.a.b }}", "{{ x | jq('.[') }}", "PT1S", "{{", "{%", "}}"]),
)
keys = st.one_of(
    st.sampled_from(
        [
            "id",
            "type",
            "namespace",
            "tasks",
            "triggers",
            "message",
            "then",
            "cases",
            "retry",
            "timeout",
            "pluginDefaults",
            "values",
            "document",
            "cql",
            "topic",
            "serdeProperties",
        ]
    ),
    st.text(max_size=8),
)
types = st.sampled_from([*default_registry().names(), "io.kestra.plugin.nope.X"])
values = st.recursive(
    st.one_of(scalars, types),
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(keys, children, max_size=5)
    ),
    max_leaves=25,
)


def _dump(data: object) -> str:
    import io

    out = io.StringIO()
    YAML(typ="safe", pure=True).dump(data, out)
    return out.getvalue()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(yaml_like_text, st.text(max_size=100)))
def test_arbitrary_text_gives_diagnostics_not_exceptions(text: str) -> None:
    result = load_flow_text(text, "fuzz.yaml")
    assert (result.flow is None) == any(d.is_error for d in result.diagnostics)
    for d in result.diagnostics:
        assert d.line >= 1 and d.column >= 1


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.fixed_dictionaries(
        {"id": scalars, "namespace": scalars},
        optional={
            "tasks": st.lists(
                st.fixed_dictionaries(
                    {"id": st.text(max_size=5), "type": types},
                    optional={k: values for k in ["message", "tasks", "then", "cases", "cql"]},
                ),
                max_size=4,
            ),
            "triggers": values,
            "pluginDefaults": values,
            "errors": values,
        },
    )
)
def test_arbitrary_flow_structures_give_diagnostics_not_exceptions(data: dict) -> None:
    result = load_flow_text(_dump(data), "fuzz.yaml")
    if result.flow is None:
        assert any(d.is_error for d in result.diagnostics)
    for d in result.diagnostics:
        assert d.line >= 1 and d.column >= 1 and d.message
