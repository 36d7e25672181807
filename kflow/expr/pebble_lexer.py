"""Cut a Pebble template into segments and its expressions into tokens.

``split_segments`` finds text, ``{{ }}`` prints, ``{% %}`` tags, ``{# #}``
comments and ``{% raw %}`` / ``{% verbatim %}`` blocks, skipping string
literals and open brackets inside tags (so ``{{ '}}' }}`` and
``{{ {'a': {}} }}`` are one print each). ``tokenize`` reads one
expression; string literals are read as Pebble's lexer reads them. Offsets are
absolute in the template source, for line and column reporting.
"""

from __future__ import annotations

import re

from kflow.records import Record

__all__ = ["PebbleSyntaxError", "Segment", "Token", "split_segments", "tokenize"]


class PebbleSyntaxError(Exception):
    """A template that cannot be read; ``offset`` is 0-based in the source."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.message = message
        self.offset = offset


# --------------------------------------------------------------------------- segments


class Segment:
    """A piece of a template: ``kind`` is "text", "print", "stmt", "comment" or "raw"."""

    __slots__ = ("body_end", "body_start", "close_trim", "end", "kind", "open_trim", "start")

    def __init__(
        self,
        kind: str,
        start: int,
        end: int,
        body_start: int = 0,
        body_end: int = 0,
        open_trim: bool = False,
        close_trim: bool = False,
    ) -> None:
        self.kind = kind
        self.start = start
        self.end = end
        self.body_start = body_start
        self.body_end = body_end
        self.open_trim = open_trim
        self.close_trim = close_trim

    def __repr__(self) -> str:
        return f"Segment({self.kind!r}, {self.start}, {self.end})"


_RAW_OPEN = re.compile(r"\{%-?\s*(raw|verbatim)\s*-?%\}")
_RAW_CLOSE = {"raw": re.compile(r"\{%-?\s*endraw\s*-?%\}"),
              "verbatim": re.compile(r"\{%-?\s*endverbatim\s*-?%\}")}  # fmt: skip


def _scan_tag_end(source: str, pos: int, closer: str) -> int:
    """Offset of ``closer`` ending the tag whose body starts at ``pos``.

    As Pebble's lexer, a closer inside open brackets (``{{ {'a': {}} }}``) does
    not end the tag.
    """
    i = pos
    n = len(source)
    depth = 0
    while i < n:
        c = source[i]
        if c in "'\"":
            i = skip_string(source, i)
            continue
        if depth == 0 and source.startswith(closer, i):
            return i
        if c in "([{":
            depth += 1
        elif c in ")]}" and depth > 0:
            depth -= 1
        i += 1
    return -1


def split_segments(source: str) -> list[Segment]:
    """Cut a template into text, print, statement, comment and raw segments."""
    segments: list[Segment] = []
    pos = 0
    n = len(source)
    text_start = 0
    while pos < n:
        i = source.find("{", pos)
        if i < 0 or i + 1 >= n:
            break
        nxt = source[i + 1]
        if nxt not in "{%#":
            pos = i + 1
            continue
        if i > text_start:
            segments.append(Segment("text", text_start, i))
        if nxt == "#":
            end = source.find("#}", i + 2)
            if end < 0:
                raise PebbleSyntaxError("comment opened with '{#' is never closed", i)
            segments.append(Segment("comment", i, end + 2))
            pos = text_start = end + 2
            continue
        raw = _RAW_OPEN.match(source, i) if nxt == "%" else None
        if raw:
            closing = _RAW_CLOSE[raw.group(1)].search(source, raw.end())
            if not closing:
                raise PebbleSyntaxError(f"'{{% {raw.group(1)} %}}' is never closed", i)
            segments.append(
                Segment("raw", i, closing.end(), body_start=raw.end(), body_end=closing.start())
            )
            pos = text_start = closing.end()
            continue
        closer = "}}" if nxt == "{" else "%}"
        body_start = i + 2
        open_trim = source.startswith("-", body_start)
        if open_trim:
            body_start += 1
        end = _scan_tag_end(source, body_start, closer)
        if end < 0:
            what = "'{{'" if nxt == "{" else "'{%'"
            raise PebbleSyntaxError(f"{what} is never closed with '{closer}'", i)
        body_end = end
        close_trim = body_end > body_start and source[body_end - 1] == "-"
        if close_trim:
            body_end -= 1
        kind = "print" if nxt == "{" else "stmt"
        segments.append(Segment(kind, i, end + 2, body_start, body_end, open_trim, close_trim))
        pos = text_start = end + 2
    if text_start < n:
        segments.append(Segment("text", text_start, n))
    return segments


# --------------------------------------------------------------------------- tokens


class Token(Record):
    """``kind``: "name", "string", "number", "op", "end"; "istart", "iopen", "iclose",
    "iend". ``pos``: the absolute offset in the source."""

    __slots__ = ("kind", "pos", "value")

    def __init__(self, kind: str, value: str, pos: int) -> None:
        self.kind = kind
        self.value = value
        self.pos = pos

    def __repr__(self) -> str:
        return f"Token({self.kind!r}, {self.value!r}, {self.pos})"


_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<number>\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>\?\?\?|\?\?|\.\.|==|!=|<=|>=|[-+*/%~|?:.,()\[\]{}<>=])
    """,
    re.VERBOSE,
)


def _read_string(text: str, i: int, base: int) -> tuple[str, int]:
    """A string literal as Pebble reads it: a backslash only escapes the quote
    character; any other backslash is kept as written (``'\\d'`` stays ``\\d``)."""
    quote = text[i]
    out: list[str] = []
    j = i + 1
    while j < len(text):
        c = text[j]
        if c == "\\" and j + 1 < len(text):
            nxt = text[j + 1]
            out.append(nxt if nxt == quote else c + nxt)
            j += 2
            continue
        if c == quote:
            return "".join(out), j + 1
        out.append(c)
        j += 1
    raise PebbleSyntaxError("unterminated string literal", base + i)


def _interpolated(text: str, i: int) -> bool:
    """True when the double-quoted literal at ``i`` takes Pebble's interpolation path.

    As Pebble's lexer, a double-quoted string holding a ``#`` (outside an escape)
    is read part by part: ``#{ expr }`` parts are expressions, the text between
    them is kept as written (backslashes included).
    """
    j = i + 1
    while j < len(text):
        c = text[j]
        if c == "\\":
            j += 2
            continue
        if c == '"':
            return False
        if c == "#":
            return True
        j += 1
    return False


def _read_interpolated(text: str, i: int, base: int, toks: list[Token]) -> int:
    """Tokens of a double-quoted string with ``#{...}`` parts; offset after it."""
    toks.append(Token("istart", '"', base + i))
    j = i + 1
    part: list[str] = []
    part_start = j
    while j < len(text):
        c = text[j]
        if c == "#" and text.startswith("#{", j):
            if part:
                toks.append(Token("string", "".join(part), base + part_start))
                part = []
            toks.append(Token("iopen", "#{", base + j))
            j = _lex(text, j + 2, base, toks, interpolation=True)
            toks.append(Token("iclose", "}", base + j - 1))
            part_start = j
            continue
        if c == "\\" and j + 1 < len(text):
            part.append(text[j : j + 2])
            j += 2
            continue
        if c == '"':
            if part:
                toks.append(Token("string", "".join(part), base + part_start))
            toks.append(Token("iend", '"', base + j))
            return j + 1
        part.append(c)
        j += 1
    raise PebbleSyntaxError("unterminated string literal", base + i)


def _lex(text: str, i: int, base: int, toks: list[Token], interpolation: bool = False) -> int:
    """Append the tokens of ``text[i:]`` to ``toks``; return where lexing stopped.

    Inside an interpolation, lexing stops after the ``}`` closing it.
    """
    depth = 0
    while i < len(text):
        c = text[i]
        if c == '"' and _interpolated(text, i):
            i = _read_interpolated(text, i, base, toks)
            continue
        if c in "'\"":
            value, j = _read_string(text, i, base)
            toks.append(Token("string", value, base + i))
            i = j
            continue
        m = _TOKEN.match(text, i)
        if not m:
            raise PebbleSyntaxError(f"unexpected character {c!r}", base + i)
        kind = m.lastgroup or ""
        if interpolation and kind == "op":
            if m.group() == "{":
                depth += 1
            elif m.group() == "}":
                if depth == 0:
                    return m.end()
                depth -= 1
        if kind != "ws":
            toks.append(Token(kind, m.group(), base + i))
        i = m.end()
    if interpolation:
        raise PebbleSyntaxError("string interpolation '#{' is never closed with '}'", base + i)
    return i


def skip_string(source: str, i: int) -> int:
    """Offset just after the string literal starting at ``i`` (interpolation aware)."""
    toks: list[Token] = []
    if source[i] == '"' and _interpolated(source, i):
        return _read_interpolated(source, i, 0, toks)
    return _read_string(source, i, 0)[1]


def tokenize(text: str, base: int) -> list[Token]:
    """Tokens of an expression; ``base`` is the offset of ``text`` in the source."""
    toks: list[Token] = []
    _lex(text, 0, base, toks)
    toks.append(Token("end", "", base + len(text)))
    return toks
