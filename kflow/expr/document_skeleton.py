"""The JSON skeleton of a document template: its holes replaced by markers.

A hole inside a JSON string becomes a string marker, a hole standing for a value
becomes a quoted value marker; the skeleton then parses as JSON when the template's
own text is JSON. Read by ``document`` (which compiles the document) and by
``checks`` (validation). Pure text work: no Jinja2.
"""

from __future__ import annotations

from .pebble_syntax import Translation

__all__ = [
    "MARKERS",
    "STR_CLOSE",
    "STR_OPEN",
    "VAL_CLOSE",
    "VAL_OPEN",
    "Skeleton",
    "build_skeleton",
    "needs_render_then_parse",
    "skeleton_problem",
]

STR_OPEN, STR_CLOSE = "\ue000", "\ue001"  # a hole inside a JSON string
VAL_OPEN, VAL_CLOSE = "\ue002", "\ue003"  # a hole standing for a JSON value
MARKERS = (STR_OPEN, STR_CLOSE, VAL_OPEN, VAL_CLOSE)


class Skeleton:
    """``pieces``: (skeleton offset, source offset, length) of each literal text;
    ``value_spans``: skeleton spans of the value-hole markers."""

    __slots__ = ("pieces", "text", "value_spans")

    def __init__(
        self, text: str, pieces: list[tuple[int, int, int]], value_spans: list[tuple[int, int]]
    ) -> None:
        self.text = text
        self.pieces = pieces
        self.value_spans = value_spans


def build_skeleton(source: str, translation: Translation) -> Skeleton:
    out: list[str] = []
    pieces: list[tuple[int, int, int]] = []
    value_spans: list[tuple[int, int]] = []
    size = 0
    in_string = False
    escaped = False
    pos = 0
    for index, hole in enumerate(translation.holes):
        literal = source[pos : hole.start]
        for ch in literal:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = in_string
            elif ch == '"':
                in_string = not in_string
        pieces.append((size, pos, len(literal)))
        out.append(literal)
        size += len(literal)
        if in_string:
            marker = f"{STR_OPEN}{index}{STR_CLOSE}"
        else:
            marker = f'"{VAL_OPEN}{index}{VAL_CLOSE}"'
            value_spans.append((size, size + len(marker)))
        out.append(marker)
        size += len(marker)
        pos = hole.end
    pieces.append((size, pos, len(source) - pos))
    out.append(source[pos:])
    return Skeleton("".join(out), pieces, value_spans)


def needs_render_then_parse(source: str, translation: Translation) -> bool:
    """Tags, raw blocks and comments change the text around the holes."""
    return (
        translation.has_statements
        or "{%" in source
        or "{#" in source
        or any(m in source for m in MARKERS)
    )


def skeleton_problem(skeleton: Skeleton, exc: ValueError) -> tuple[str, int] | None:
    """The JSON error of a skeleton (message, source offset), unless a value hole next
    to it may repair it."""
    pos = getattr(exc, "pos", 0) or 0
    for start, end in skeleton.value_spans:
        if start - 1 <= pos <= end + 1:
            return None  # may be JSON once rendered (render-then-parse at run time)
    msg = getattr(exc, "msg", str(exc))
    return (
        f"not JSON even with its expressions as placeholders: {msg}",
        _skeleton_to_source(skeleton, pos),
    )


def _skeleton_to_source(skeleton: Skeleton, offset: int) -> int:
    for sk_start, src_start, length in reversed(skeleton.pieces):
        if offset >= sk_start:
            return src_start + min(offset - sk_start, length)
    return 0
