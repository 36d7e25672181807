"""Read Kestra's Pebble templates and translate them into Jinja2 source.

A template is first split into segments (``pebble_lexer``: text, prints, tags,
``{# #}`` comments, ``{% raw %}`` blocks) by a scanner that respects string
literals inside tags. Each expression is then tokenised and parsed with
Pebble's own operator precedences (``or`` 10, ``and`` 15, ``is``/``contains``
20, comparisons 30, ``+ -`` 40, ``* / %`` 60, ``|`` 100, ``~`` 110, ``..``,
``??``, ``???`` and Kestra's ``isIn`` 120, unary ``not + -`` 500, ternary ``? :`` lowest) into a
small tree, which is emitted as fully parenthesised Jinja2 code. So
``'a' ~ 'b' | upper`` becomes ``(('a' ~ 'b'))|upper`` and
``trigger.value ?? '' | jq('.a')`` becomes a coalesce whose result is piped.

Pebble constructs without a Jinja2 twin are emitted as calls to private
helpers (names starting with ``__kf_``, see ``functions.py``): ``??``,
``???``, ``contains``, ``isIn``, ``..``, ``is defined`` on a chain (false, not an error,
when a link is missing), ``is empty``, ``is null``, and ``/`` and ``%``
(integer operands give Java's integer division and remainder, as in Pebble).
Pebble's ``loop.index`` counts from 0 (Jinja2's ``loop.index0``).

``"Hello #{name}"`` interpolation (double-quoted strings only) is joined as
Pebble's concatenation (``__kf_concat``); ``x.size()`` and the other Java
methods flows call on maps, lists and strings go through ``__kf_method``;
``{% for x in y %}`` walks ``__kf_iter(y)`` (a map gives its entries, with
``key`` and ``value``, and ``for k, v in`` is rejected as in Pebble). These
helpers live in ``pebble_runtime``.

Not supported (rejected with a clear error): ``macro``, ``block``,
``extends``, ``include``, ``import`` tags.

Names starting with ``_`` are reserved and rejected, so a template can read
neither the helpers nor the private context keys (``_secrets``...).

Every problem is reported with its offset in the source, so callers can give
line and column.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from collections.abc import Set as AbstractSet
from typing import cast

from .pebble_lexer import PebbleSyntaxError, Segment, Token, split_segments, tokenize

__all__ = [
    "Hole",
    "PebbleSyntaxError",
    "Translation",
    "translate",
]


class Hole:
    """One ``{{ expr }}`` print of the source, with its translation.

    ``outputs``: task ids read via ``outputs.X``; ``jq_programs``: literal ``jq('...')``.
    """

    __slots__ = ("body", "end", "jinja", "jq_programs", "outputs", "start")

    def __init__(
        self,
        start: int,  # offset of "{{"
        end: int,  # offset just after "}}"
        body: str,  # the Pebble expression text
        jinja: str,  # the same expression in Jinja2 syntax
        outputs: set[str] | None = None,
        jq_programs: list[tuple[str, int]] | None = None,
    ) -> None:
        self.start = start
        self.end = end
        self.body = body
        self.jinja = jinja
        self.outputs = set() if outputs is None else outputs
        self.jq_programs = [] if jq_programs is None else jq_programs

    def __repr__(self) -> str:
        return f"Hole({self.start}, {self.end}, {self.body!r}, {self.jinja!r})"

    @property
    def text(self) -> str:
        return "{{ " + self.body.strip() + " }}"


class Translation:
    """The Jinja2 source of a template plus what was learnt reading it.

    ``jq_programs``: (program, offset of the string literal). ``ordinary``: the Jinja2
    source is made only of constructs Jinja2's parser accepts whatever they hold (see
    :func:`_unusual_number`, :func:`_unusual_target`, ``_Parser.unusual``); when False, validation
    asks Jinja2 itself to parse it.
    """

    __slots__ = ("has_statements", "holes", "jinja", "jq_programs", "ordinary", "outputs")

    def __init__(
        self,
        jinja: str,
        holes: list[Hole],
        has_statements: bool,
        outputs: set[str],
        jq_programs: list[tuple[str, int]],
        ordinary: bool = True,
    ) -> None:
        self.jinja = jinja
        self.holes = holes
        self.has_statements = has_statements
        self.outputs = outputs
        self.jq_programs = jq_programs
        self.ordinary = ordinary

    def __repr__(self) -> str:
        return f"Translation({self.jinja!r})"


# --------------------------------------------------------------------------- tree


class _Node:
    __slots__ = ("children", "kind", "kwargs", "pos", "raw", "value")

    def __init__(
        self,
        kind: str,
        pos: int,
        value: object = None,
        children: list[_Node] | None = None,
        kwargs: list[tuple[str, _Node]] | None = None,
        raw: str | None = None,
    ) -> None:
        self.kind = kind
        self.raw = raw  # a string literal's own text (``value`` is its Python literal)
        self.pos = pos
        self.value = value
        self.children = [] if children is None else children
        self.kwargs = [] if kwargs is None else kwargs


_BINARY = {
    "or": 10,
    "and": 15,
    "is": 20,
    "contains": 20,
    "==": 30,
    "equals": 30,
    "!=": 30,
    ">": 30,
    "<": 30,
    ">=": 30,
    "<=": 30,
    "+": 40,
    "-": 40,
    "*": 60,
    "/": 60,
    "%": 60,
    "|": 100,
    "~": 110,
    "..": 120,
    "??": 120,
    "???": 120,
    "isIn": 120,
}
_UNARY_PRECEDENCE = 500
_LITERAL_NAMES = {"true": "true", "false": "false", "null": "none", "none": "none"}
_KEYWORDS = set(_BINARY) | {"not"} | set(_LITERAL_NAMES)


class _Parser:
    def __init__(
        self,
        toks: list[Token],
        known_filters: AbstractSet[str],
        known_tests: AbstractSet[str],
        known_functions: AbstractSet[str] | None = None,
    ):
        self.toks = toks
        self.i = 0
        self.filters = known_filters
        self.tests = known_tests
        self.functions = known_functions
        self.outputs: set[str] = set()
        self.jq_programs: list[tuple[str, int]] = []
        self.unusual = False  # see Translation.ordinary

    # -- helpers
    def peek(self, k: int = 0) -> Token:
        return self.toks[min(self.i + k, len(self.toks) - 1)]

    def next(self) -> Token:
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def at_op(self, value: str) -> bool:
        t = self.peek()
        return t.kind == "op" and t.value == value

    def expect_op(self, value: str) -> Token:
        t = self.peek()
        if not (t.kind == "op" and t.value == value):
            raise PebbleSyntaxError(f"expected '{value}' but found {_describe(t)}", t.pos)
        return self.next()

    def expect_name(self, what: str) -> Token:
        t = self.peek()
        if t.kind != "name":
            raise PebbleSyntaxError(f"expected {what} but found {_describe(t)}", t.pos)
        return self.next()

    def expect_end(self) -> None:
        t = self.peek()
        if t.kind != "end":
            raise PebbleSyntaxError(f"unexpected {_describe(t)}", t.pos)

    # -- grammar
    def expression(self, min_prec: int = 0) -> _Node:
        left = self.unary()
        while True:
            t = self.peek()
            op = t.value if t.kind in ("op", "name") and t.value in _BINARY else None
            if op is None or _BINARY[op] < min_prec:
                break
            prec = _BINARY[op]
            self.next()
            if op == "|":
                left = self.filter_call(left)
            elif op == "is":
                negate = self.peek().kind == "name" and self.peek().value == "not"
                if negate:
                    self.next()
                left = self.test_call(left, negate, t.pos)
            else:
                right = self.expression(prec + 1)
                left = _Node("binary", t.pos, op, [left, right])
        if min_prec == 0 and self.at_op("?"):
            q = self.next()
            then = self.expression()
            self.expect_op(":")
            other = self.expression()
            left = _Node("ternary", q.pos, None, [left, then, other])
        return left

    def unary(self) -> _Node:
        t = self.peek()
        if (t.kind == "name" and t.value == "not") or (t.kind == "op" and t.value in "-+"):
            self.next()
            operand = self.expression(_UNARY_PRECEDENCE)
            return _Node("unary", t.pos, t.value, [operand])
        return self.postfix(self.primary())

    def primary(self) -> _Node:
        t = self.next()
        if t.kind == "number":
            return _Node("literal", t.pos, t.value)
        if t.kind == "string":
            return _Node("literal", t.pos, repr(t.value), raw=t.value)
        if t.kind == "istart":
            return self.interpolation(t)
        if t.kind == "name":
            if t.value in _LITERAL_NAMES:
                return _Node("literal", t.pos, _LITERAL_NAMES[t.value])
            if t.value in _KEYWORDS:
                raise PebbleSyntaxError(f"unexpected '{t.value}'", t.pos)
            if t.value.startswith("_"):
                raise PebbleSyntaxError(f"names starting with '_' are reserved: '{t.value}'", t.pos)
            if self.at_op("("):
                if self.functions is not None and t.value not in self.functions:
                    raise PebbleSyntaxError(f"unknown function '{t.value}'", t.pos)
                args, kwargs = self.arguments()
                return _Node("call", t.pos, t.value, args, kwargs)
            if t.value in _JINJA_WORDS:
                self.unusual = True  # Jinja2 may read the name as a keyword
            return _Node("name", t.pos, t.value)
        if t.kind == "op" and t.value == "(":
            inner = self.expression()
            self.expect_op(")")
            return _Node("group", t.pos, None, [inner])
        if t.kind == "op" and t.value == "[":
            items: list[_Node] = []
            while not self.at_op("]"):
                items.append(self.expression())
                if not self.at_op("]"):
                    self.expect_op(",")
            self.next()
            return _Node("list", t.pos, None, items)
        if t.kind == "op" and t.value == "{":
            pairs: list[_Node] = []
            while not self.at_op("}"):
                key = self.expression()
                self.expect_op(":")
                pairs.extend([key, self.expression()])
                if not self.at_op("}"):
                    self.expect_op(",")
            self.next()
            return _Node("map", t.pos, None, pairs)
        if t.kind == "end":
            raise PebbleSyntaxError("expression is incomplete", t.pos)
        raise PebbleSyntaxError(f"unexpected {_describe(t)}", t.pos)

    def interpolation(self, start: Token) -> _Node:
        """A double-quoted string with ``#{...}``: its parts, joined as Pebble does."""
        parts: list[_Node] = []
        while True:
            t = self.next()
            if t.kind == "iend":
                break
            if t.kind == "string":
                parts.append(_Node("literal", t.pos, repr(t.value), raw=t.value))
            elif t.kind == "iopen":
                if self.peek().kind == "iclose":
                    raise PebbleSyntaxError("empty string interpolation '#{}'", t.pos)
                parts.append(self.expression())
                close = self.next()
                if close.kind != "iclose":
                    raise PebbleSyntaxError(
                        f"expected '}}' closing '#{{' but found {_describe(close)}", close.pos
                    )
            else:  # pragma: no cover - the lexer only yields the kinds above
                raise PebbleSyntaxError(f"unexpected {_describe(t)}", t.pos)
        if not parts:
            return _Node("literal", start.pos, "''", raw="")
        if len(parts) == 1:
            return parts[0]  # as Pebble: "#{3}" is the number 3
        return _Node("concat", start.pos, None, parts)

    def postfix(self, node: _Node) -> _Node:
        while True:
            if self.at_op("."):
                dot = self.next()
                t = self.next()
                if t.kind not in ("name", "number"):
                    raise PebbleSyntaxError(
                        f"expected an attribute name after '.' but found {_describe(t)}", t.pos
                    )
                if t.value.startswith("_"):
                    raise PebbleSyntaxError(
                        f"attributes starting with '_' are not accessible: '{t.value}'", t.pos
                    )
                if t.kind == "name" and self.at_op("("):
                    args, kwargs = self.arguments()
                    if kwargs:
                        raise PebbleSyntaxError(
                            f"method '{t.value}()' takes no named arguments", t.pos
                        )
                    node = _Node("method", t.pos, t.value, [node, *args])
                    continue
                key = _Node("literal", t.pos, t.value if t.kind == "number" else repr(t.value))
                node = _Node("getattr", dot.pos, t.value, [node, key])
                self._note_output(node)
            elif self.at_op("["):
                b = self.next()
                index = self.expression()
                self.expect_op("]")
                node = _Node("getitem", b.pos, None, [node, index])
                self._note_output(node)
            else:
                return node

    def _note_output(self, node: _Node) -> None:
        base, key = node.children
        if base.kind == "name" and base.value == "outputs":
            if node.kind == "getattr":
                self.outputs.add(str(node.value))
            elif key.kind == "literal" and key.raw is not None:
                self.outputs.add(key.raw)

    def arguments(self) -> tuple[list[_Node], list[tuple[str, _Node]]]:
        self.expect_op("(")
        args: list[_Node] = []
        kwargs: list[tuple[str, _Node]] = []
        while not self.at_op(")"):
            if (
                self.peek().kind == "name"
                and self.peek(1).kind == "op"
                and (self.peek(1).value == "=")
            ):
                name = self.next().value
                self.next()
                kwargs.append((name, self.expression()))
            else:
                if kwargs:
                    raise PebbleSyntaxError(
                        "positional argument after a named one", self.peek().pos
                    )
                args.append(self.expression())
            if not self.at_op(")"):
                self.expect_op(",")
        self.next()
        return args, kwargs

    def filter_call(self, operand: _Node) -> _Node:
        name = self.expect_name("a filter name after '|'")
        if name.value not in self.filters:
            raise PebbleSyntaxError(f"unknown filter '{name.value}'", name.pos)
        args: list[_Node] = []
        kwargs: list[tuple[str, _Node]] = []
        if self.at_op("("):
            args, kwargs = self.arguments()
        if name.value == "jq" and args and args[0].kind == "literal" and args[0].raw is not None:
            self.jq_programs.append((args[0].raw, args[0].pos))
        return _Node("filter", name.pos, name.value, [operand, *args], kwargs)

    def test_call(self, operand: _Node, negate: bool, pos: int) -> _Node:
        name = self.expect_name("a test name after 'is'")
        if name.value not in self.tests:
            raise PebbleSyntaxError(f"unknown test '{name.value}'", name.pos)
        args: list[_Node] = []
        if self.at_op("("):
            args, _ = self.arguments()
        return _Node("test", pos, (name.value, negate), [operand, *args])


def _describe(tok: Token) -> str:
    if tok.kind == "end":
        return "the end of the expression"
    if tok.kind == "string":
        return f"string {tok.value!r}"
    return f"'{tok.value}'"


# --------------------------------------------------------------------------- emitter

_JINJA_BINARY = {"equals": "==", "or": "or", "and": "and"}
_TEST_HELPERS = {"defined": "__kf_is_defined", "null": "__kf_is_null", "empty": "__kf_is_empty"}
_JINJA_TESTS = {"even": "even", "odd": "odd", "iterable": "iterable", "map": "mapping"}


def _is_chain(node: _Node) -> bool:
    while node.kind in ("getattr", "getitem"):
        node = node.children[0]
    return node.kind == "name"


def _emit_safe(node: _Node) -> str:
    """Emit a chain so that a missing link yields undefined instead of raising."""
    if node.kind == "group":
        return _emit_safe(node.children[0])
    if node.kind == "binary" and node.value in ("??", "???"):
        # ``a ?? b ?? c`` reads ``(a ?? b) ?? c``: ``b`` may be missing too
        return _emit_coalesce(node, safe_right=True)
    if node.kind not in ("getattr", "getitem") or not _is_chain(node):
        return emit(node)
    keys: list[str] = []
    cur = node
    while cur.kind in ("getattr", "getitem"):
        key = cur.children[1]
        # a subscript that is itself a chain (``a[missing].b``) may be missing too
        keys.append(_emit_safe(key) if cur.kind == "getitem" and _is_chain(key) else emit(key))
        cur = cur.children[0]
    keys.reverse()
    return f"__kf_sget({emit(cur)}, {', '.join(keys)})"


def _emit_coalesce(node: _Node, safe_right: bool) -> str:
    left, right = node.children
    test = "__kf_nonnull" if node.value == "??" else "__kf_present"
    other = _emit_safe(right) if safe_right else emit(right)
    return f"__kf_unbox({test}({_emit_safe(left)}) or __kf_box({other}))"


def _emit_args(args: list[_Node], kwargs: list[tuple[str, _Node]]) -> str:
    parts = [emit(a) for a in args] + [f"{k}={emit(v)}" for k, v in kwargs]
    return ", ".join(parts)


def emit(node: _Node) -> str:
    """Jinja2 source for a parsed Pebble expression."""
    k = node.kind
    c = node.children
    if k == "literal":
        return str(node.value)
    if k == "name":
        return str(node.value)
    if k == "group":
        return f"({emit(c[0])})"
    if k == "list":
        return "[" + ", ".join(emit(x) for x in c) + "]"
    if k == "map":
        pairs = [f"{emit(c[i])}: {emit(c[i + 1])}" for i in range(0, len(c), 2)]
        return "{" + ", ".join(pairs) + "}"
    if k == "getattr":
        name = str(node.value)
        base = c[0]
        if base.kind == "name" and base.value == "loop" and name == "index":
            name = "index0"  # Pebble's loop.index counts from 0
        if name.isidentifier():
            return f"{emit(base)}.{name}"
        return f"{emit(base)}[{emit(c[1])}]"
    if k == "getitem":
        return f"{emit(c[0])}[{emit(c[1])}]"
    if k == "call":
        return f"{node.value}({_emit_args(c, node.kwargs)})"
    if k == "method":
        args = "".join(f", {emit(a)}" for a in c[1:])
        return f"__kf_method({emit(c[0])}, {node.value!r}{args})"
    if k == "concat":
        return "__kf_concat(" + ", ".join(emit(x) for x in c) + ")"
    if k == "unary":
        op = "not " if node.value == "not" else str(node.value)
        return f"({op}{emit(c[0])})"
    if k == "ternary":
        return f"({emit(c[1])} if {emit(c[0])} else {emit(c[2])})"
    if k == "filter":
        operand = _emit_safe(c[0]) if node.value == "default" else emit(c[0])
        args = _emit_args(c[1:], node.kwargs)
        call = f"{node.value}({args})" if args else str(node.value)
        return f"(({operand})|{call})"
    if k == "test":
        name, negate = cast("tuple[str, bool]", node.value)
        neg = "not " if negate else ""
        if name in _TEST_HELPERS:
            return f"({neg}{_TEST_HELPERS[name]}({_emit_safe(c[0])}))"
        args = ", ".join(emit(a) for a in c[1:])
        test = _JINJA_TESTS.get(name, name) + (f"({args})" if args else "")
        return f"(({emit(c[0])}) is {neg}{test})"
    if k == "binary":
        op = str(node.value)
        left, right = c
        if op in ("??", "???"):
            return _emit_coalesce(node, safe_right=False)
        if op == "contains":
            return f"__kf_contains({emit(left)}, {emit(right)})"
        if op == "isIn":
            return f"__kf_is_in({_emit_safe(left)}, {emit(right)})"
        if op == "..":
            return f"__kf_range({emit(left)}, {emit(right)})"
        if op == "/":
            return f"__kf_div({emit(left)}, {emit(right)})"
        if op == "%":
            return f"__kf_mod({emit(left)}, {emit(right)})"
        return f"({emit(left)} {_JINJA_BINARY.get(op, op)} {emit(right)})"
    raise AssertionError(f"unknown node {k}")


# --------------------------------------------------------------------------- statements

_FOR = re.compile(r"\s*for\s+([A-Za-z]\w*(?:\s*,\s*[A-Za-z]\w*)?)\s+in\s")
_SET = re.compile(r"\s*set\s+([A-Za-z]\w*)\s*=")
_SIMPLE_TAGS = {"else", "endif", "endfor", "endfilter", "endautoescape"}


def _translate_statement(source: str, seg: Segment, parse: Callable[[str, int, int], str]) -> str:
    body = source[seg.body_start : seg.body_end]
    stripped = body.strip()
    word = stripped.split(None, 1)[0] if stripped else ""
    lead = len(body) - len(body.lstrip())
    base = seg.body_start + lead
    if word in ("if", "elseif", "elif"):
        expr = parse(source, base + len(word), seg.body_end)
        return f"{'if' if word == 'if' else 'elif'} {expr}"
    if word in _SIMPLE_TAGS:
        if stripped != word:
            raise PebbleSyntaxError(f"'{word}' takes no arguments", base + len(word))
        return word
    if word == "for":
        m = _FOR.match(body)
        if not m:
            raise PebbleSyntaxError("expected 'for NAME in EXPRESSION'", base)
        if "," in m.group(1):
            raise PebbleSyntaxError(
                "'for' takes one loop variable, as in Pebble: iterate a map's entries with"
                " '{% for entry in map %}' and read 'entry.key' and 'entry.value'",
                base,
            )
        expr = parse(source, seg.body_start + m.end(), seg.body_end)
        return f"for {m.group(1)} in __kf_iter({expr})"
    if word == "set":
        m = _SET.match(body)
        if not m:
            raise PebbleSyntaxError("expected 'set NAME = EXPRESSION'", base)
        expr = parse(source, seg.body_start + m.end(), seg.body_end)
        return f"set {m.group(1)} = {expr}"
    if word == "filter":
        name = stripped[len("filter") :].strip()
        if not name.isidentifier():
            raise PebbleSyntaxError("expected 'filter NAME'", base)
        return f"filter {name}"
    if not word:
        raise PebbleSyntaxError("empty tag", seg.start)
    raise PebbleSyntaxError(f"unknown or unsupported tag '{word}'", base)


# --------------------------------------------------------------------------- entry point


def translate(
    source: str,
    filters: AbstractSet[str],
    tests: AbstractSet[str],
    functions: AbstractSet[str] | None = None,
) -> Translation:
    """Translate a Pebble template into Jinja2 source; raise PebbleSyntaxError.

    ``filters``, ``tests`` and (when given) ``functions`` are the known names;
    any other name in that role is a syntax error at its position.
    """
    segments = split_segments(source)
    out: list[str] = []
    holes: list[Hole] = []
    outputs: set[str] = set()
    jq_programs: list[tuple[str, int]] = []
    has_statements = False
    ordinary = True
    blocks: list[list[object]] = []  # [word, offset, seen_else] of each open block

    def parse(src: str, start: int, end: int) -> str:
        nonlocal ordinary
        toks = tokenize(src[start:end], start)
        if toks[0].kind == "end":
            raise PebbleSyntaxError("empty expression", start)
        parser = _Parser(toks, filters, tests, functions)
        node = parser.expression()
        parser.expect_end()
        if parser.unusual or any(_unusual_number(tok) for tok in toks):
            ordinary = False
        outputs.update(parser.outputs)
        jq_programs.extend(parser.jq_programs)
        parse.last_outputs = parser.outputs  # type: ignore[attr-defined]
        parse.last_jq = parser.jq_programs  # type: ignore[attr-defined]
        return emit(node)

    for seg in segments:
        chunk = source[seg.start : seg.end]
        newlines = "\n" * chunk.count("\n")  # keep Jinja2 line numbers aligned
        ltrim = "-" if seg.open_trim else ""
        rtrim = "-" if seg.close_trim else ""
        if seg.kind == "text":
            out.append(chunk)
        elif seg.kind == "comment":
            out.append("{#" + newlines + "#}")
        elif seg.kind == "raw":
            body = source[seg.body_start : seg.body_end]
            if "endraw" in body:  # a {% verbatim %} body: Jinja2 may end the raw block early
                ordinary = False
            out.append("{% raw %}" + body + "{% endraw %}")
        elif seg.kind == "print":
            expr = parse(source, seg.body_start, seg.body_end)
            holes.append(
                Hole(
                    seg.start,
                    seg.end,
                    source[seg.body_start : seg.body_end],
                    expr,
                    set(parse.last_outputs),  # type: ignore[attr-defined]
                    list(parse.last_jq),  # type: ignore[attr-defined]
                )
            )
            out.append("{{" + ltrim + " " + expr + " " + newlines + rtrim + "}}")
        else:
            has_statements = True
            stmt = _translate_statement(source, seg, parse)
            if not _track_block(blocks, stmt, seg.start) or _unusual_target(stmt):
                ordinary = False
            out.append("{%" + ltrim + " " + stmt + " " + newlines + rtrim + "%}")
    if blocks:
        word, offset = blocks[-1][0], blocks[-1][1]
        message = f"'{{% {word} %}}' is never closed with '{{% end{word} %}}'"
        raise PebbleSyntaxError(message, cast(int, offset))
    jinja = "".join(out)
    if ordinary and jinja.count("(") > _MAX_ORDINARY_DEPTH and _depth(jinja) > _MAX_ORDINARY_DEPTH:
        ordinary = False
    return Translation(jinja, holes, has_statements, outputs, jq_programs, ordinary)


# ------------------------------------------------------------------- what Jinja2 may refuse
# Validation parses a translation with Jinja2 only when it is not ``ordinary``. The
# emitter writes fully parenthesised expressions from a few shapes that Jinja2 always
# parses; what remains is listed here (tests/unit/expr/test_expr_checks.py proves the
# rest over every template of the test corpus and over generated ones).

#: Words Jinja2's parser treats as keywords somewhere in an expression or a target (a
#: bare name such as ``{{ in }}``; Pebble's own operators never reach the emitter as names).
_JINJA_WORDS = frozenset(
    {"and", "elif", "else", "endfor", "endif", "for", "if", "in", "is", "not", "or", "recursive"}
)
#: Names Jinja2 reads as constants: it cannot assign to them.
_JINJA_CONSTANTS = frozenset({"true", "false", "none", "True", "False", "None"})
#: Parentheses nesting beyond which Jinja2's recursive parser may exhaust the stack.
_MAX_ORDINARY_DEPTH = 30


def _unusual_number(tok: Token) -> bool:
    """``007``: Jinja2's integers have no leading zero (it reads ``00`` then ``7``)."""
    return tok.kind == "number" and tok.value[:1] == "0" and tok.value[1:2].isdigit()


def _unusual_target(stmt: str) -> bool:
    """``set``/``for``/``filter`` naming a Jinja2 keyword or constant, or a non-ASCII name."""
    parts = stmt.split(None, 2)
    if parts[0] not in ("set", "for", "filter") or len(parts) < 2:
        return False
    name = parts[1]
    return not name.isascii() or name in _JINJA_WORDS or name in _JINJA_CONSTANTS


def _depth(text: str) -> int:
    depth = deepest = 0
    for char in text:
        if char in "([{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in ")]}":
            depth -= 1
    return deepest


_OPENERS = {"if", "for", "filter"}
_INNER = {"elif": ("if",), "else": ("if", "for")}


def _track_block(blocks: list[list[object]], stmt: str, offset: int) -> bool:
    """Check that block tags nest: every opener closed by its own end tag.

    Returns False when the tags nest but Jinja2 may still refuse them: an ``else`` or
    ``elif`` after the block's ``else``.
    """
    word = stmt.split(None, 1)[0]
    if word in _OPENERS:
        blocks.append([word, offset, False])
    elif word in _INNER:
        if not blocks or blocks[-1][0] not in _INNER[word]:
            shown = "elseif" if word == "elif" else word
            raise PebbleSyntaxError(f"'{{% {shown} %}}' outside of an if or for block", offset)
        if blocks[-1][2]:
            return False
        if word == "else":
            blocks[-1][2] = True
    elif word.startswith("end"):
        opener = word[3:]
        if not blocks or blocks[-1][0] != opener:
            expected = f"; expected '{{% end{blocks[-1][0]} %}}'" if blocks else ""
            raise PebbleSyntaxError(f"unexpected '{{% {word} %}}'{expected}", offset)
        blocks.pop()
    return True
