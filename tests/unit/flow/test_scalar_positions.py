"""Positions inside YAML scalars map to the right file line and column."""

from __future__ import annotations

import pytest

from kflow.flow.positions import locate, offset_of
from kflow.flow.yamltree import parse_yaml

SOURCE = """\
plain: a {{ x }}
double: "q \\"{{ y }}\\" \\u00e9 {{ z }}"
single: 'it''s {{ w }}'
literal: |

  first
    {{ v }}
folded: >
  one
  two {{ u }}
multi: first line
  second {{ t }}
"""


@pytest.mark.parametrize(
    ("key", "needle", "line", "column"),
    [
        ("plain", "{{ x", 1, 10),
        ("double", "{{ y", 2, 14),
        ("double", "{{ z", 2, 31),
        ("single", "{{ w", 3, 16),
        ("literal", "{{ v", 7, 5),
        ("folded", "{{ u", 10, 7),
        ("multi", "{{ t", 12, 10),
    ],
)
def test_value_offsets_map_to_the_file(key: str, needle: str, line: int, column: int) -> None:
    root, diagnostics = parse_yaml(SOURCE, "f.yaml")
    assert root is not None and diagnostics == []
    node = root.value[key]
    assert locate(node, SOURCE, node.value.index(needle)) == (line, column)
    assert SOURCE.splitlines()[line - 1][column - 1 : column + 1] == "{{"


def test_offset_of_clamps_to_the_text() -> None:
    assert offset_of("ab\ncd", 2, 2) == 4
    assert offset_of("ab\ncd", 9, 9) == 5
    assert offset_of("", 1, 1) == 0
