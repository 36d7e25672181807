"""Simple Jinja2 expressions evaluated without a Jinja2 ``Context``.

Most holes of a flow are paths and filters: ``trigger.value | jq('.id') | first``,
``outputs.lookup.row.name``. Jinja2 builds a ``Context`` (a copy of every global
and variable) for each evaluation; for these expressions that copy is most of
the cost. :func:`compile_direct` turns such an expression into a plain Python
function of the variables that makes exactly the calls Jinja2's compiled code
makes (``environment.getattr``, ``environment.getitem``, the filter functions,
an ``Undefined`` for a missing name), so values and errors are the same.
Anything else (calls, operators, tests, filters that want the context) gives
None: the caller keeps Jinja2.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, cast

from jinja2 import TemplateError, nodes
from jinja2.environment import Environment
from jinja2.utils import missing

__all__ = ["compile_direct"]


class _Unsupported(Exception):
    pass


def compile_direct(
    environment: Environment, globals_: Mapping[str, Any], jinja_source: str
) -> Callable[[Mapping[str, Any]], Any] | None:
    """A function ``f(variables)`` giving the value of ``jinja_source``, or None when the
    expression uses more than names, attributes, items, constants, lists and plain filters."""
    try:
        tree = environment.parse("{{ (" + jinja_source + ") }}")
    except TemplateError:
        return None
    body = tree.body
    if len(body) != 1 or not isinstance(body[0], nodes.Output) or len(body[0].nodes) != 1:
        return None
    consts: list[Any] = []

    def const(value: Any) -> str:
        consts.append(value)
        return f"C[{len(consts) - 1}]"

    def gen(node: nodes.Node) -> str:
        if isinstance(node, nodes.Name) and node.ctx == "load":
            return f"R(V, {const(node.name)})"
        if isinstance(node, nodes.Getattr):
            return f"GA({gen(node.node)}, {const(node.attr)})"
        if isinstance(node, nodes.Getitem) and not isinstance(node.arg, nodes.Slice):
            return f"GI({gen(node.node)}, {gen(node.arg)})"
        if isinstance(node, nodes.Const):
            return const(node.value)
        if isinstance(node, nodes.List):
            return "[" + ", ".join(gen(item) for item in node.items) + "]"
        if isinstance(node, nodes.Filter) and node.node is not None:
            func = environment.filters.get(node.name)
            if (
                func is None
                or getattr(func, "jinja_pass_arg", None) is not None
                or node.dyn_args is not None
                or node.dyn_kwargs is not None
            ):
                raise _Unsupported
            args = [gen(node.node), *(gen(a) for a in node.args)]
            args += [f"**{{{const(k.key)}: {gen(k.value)}}}" for k in node.kwargs]
            return f"{const(func)}({', '.join(args)})"
        raise _Unsupported

    try:
        code = "lambda V: " + gen(body[0].nodes[0])
    except _Unsupported:
        return None
    undefined = environment.undefined

    def resolve(variables: Mapping[str, Any], name: str) -> Any:
        # Jinja2's Context.resolve_or_missing: the variables, then the globals.
        if name in variables:
            return variables[name]
        value = globals_.get(name, missing)
        return undefined(name=name) if value is missing else value

    scope = {
        "__builtins__": {},
        "C": consts,
        "R": resolve,
        "GA": environment.getattr,
        "GI": environment.getitem,
    }
    return cast("Callable[[Mapping[str, Any]], Any]", eval(code, scope))
