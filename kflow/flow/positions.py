"""Map a position inside a YAML scalar's value to a line and column of the file.

Expression checks report problems relative to the string they read. For a
block scalar (``|``, ``>``) the content lines sit under the key, indented:
line ``n`` of a literal (``|``) value is line ``n`` after the indicator,
shifted by the indentation. For folded (``>``), plain and quoted scalars the
value's characters are
aligned with the source text in order, which is exact for single-line
scalars and for escapes such as ``''`` and ``\\"`` (after an escape like
``\\u00e9`` the alignment resumes at the next character found); inside
multi-line quoted scalars a position may land on the start of a folded line.
"""

from __future__ import annotations

from kflow.flow.yamltree import YNode


def offset_of(text: str, line: int, column: int) -> int:
    """Offset in ``text`` of a 1-based ``line``/``column`` (clamped to the text)."""
    lines = text.split("\n")
    line = max(1, min(line, len(lines)))
    offset = sum(len(item) + 1 for item in lines[: line - 1])
    return min(offset + max(column, 1) - 1, len(text))


def locate(node: YNode, source: str, offset: int) -> tuple[int, int]:
    """File ``(line, column)`` (1-based) of character ``offset`` of a scalar's value."""
    if node.style == "synthetic" or not isinstance(node.value, str) or not source:
        return node.line, node.column
    if node.style == "|":
        return _locate_block(node, source, offset)
    return _locate_inline(node, source, offset)


def _locate_block(node: YNode, source: str, offset: int) -> tuple[int, int]:
    value: str = node.value
    lines = source[node.start : node.end].split("\n")
    content = lines[1:]  # the first line holds the indicator
    indent = 0
    for text in content:
        if text.strip():
            indent = len(text) - len(text.lstrip(" "))
            break
    prefix = value[:offset]
    line_index = prefix.count("\n")
    column = len(prefix) - (prefix.rfind("\n") + 1)
    return node.line + 1 + line_index, indent + column + 1


def _locate_inline(node: YNode, source: str, offset: int) -> tuple[int, int]:
    value: str = node.value
    segment = source[node.start : node.end]
    # Skip the opening quote, or the indicator line of a folded scalar.
    starts = {"'": 1, '"': 1, ">": segment.find("\n") + 1}
    cursor = starts.get(node.style or "", 0)
    target = min(offset, len(value))
    found = cursor
    for char in value[: target + 1]:
        hit = segment.find(char, cursor)
        if hit < 0:
            continue  # an escape such as \u00e9: the next characters realign
        found, cursor = hit, hit + 1
    if target >= len(value):
        found = cursor
    absolute = node.start + found
    line = source.count("\n", 0, absolute) + 1
    column = absolute - (source.rfind("\n", 0, absolute) + 1) + 1
    return line, column
