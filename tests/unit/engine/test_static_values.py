"""Which property values can be rendered once per run."""

from __future__ import annotations

import pytest

from kflow.plugins.templating import is_static


@pytest.mark.parametrize(
    ("value", "static"),
    [
        ("mongodb://127.0.0.1:27017", True),
        ("{{ envs.mongo_uri ?? 'mongodb://127.0.0.1:27017' }}", True),
        ({"endpoints": [{"hostname": "{{ vars.host }}", "port": 9042}]}, True),
        ("{{ flow.namespace }}-{{ labels.team }}", True),
        ("{{ trigger.value.db }}", False),
        ({"endpoints": [{"hostname": "{{ outputs.pick.value }}"}]}, False),
        ("{{ envs.prefix }}-{{ now() }}", False),
        ("{{ vars.a ?? uuid() }}", False),
        ("{{ broken", False),
        ({"{{ trigger.key }}": "x"}, False),
    ],
)
def test_is_static(value: object, static: bool) -> None:
    assert is_static(value) is static
