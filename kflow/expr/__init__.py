"""Kestra expressions for kflow: Pebble as flows use it, run on sandboxed Jinja2.

- ``compile_template`` / ``Template``: compile once, ``render`` (text, Pebble
  printing) or ``evaluate`` (native value) many times;
- ``check_template``, ``referenced_outputs``, ``is_templated``: for validation;
- ``compile_value`` / ``render_value``: maps and lists given as properties;
- ``compile_document`` / ``check_document``: structure-aware JSON documents
  (see ``document.py``: values are escaped, never spliced as text);
- ``compile_cql`` / ``check_cql``: CQL with expressions as bind markers;
- ``envs_from_environ``, ``secret_values_seen``, ``all_secret_values``: the
  environment seen by templates and the secrets to mask (see ``secrets_env.py``).
  ``envs``: ``ENV_X`` variables as ``envs.x`` (name lower-cased, as Kestra),
  plus every plain variable under its own name; the prefixed one wins.
  ``secret('X')``: ``ctx["_secrets"]``, else base64 ``SECRET_X`` (as Kestra's
  open source edition), else plain ``X``.

Modules: ``pebble_lexer`` and ``pebble_syntax`` (reading Pebble), ``names`` (the filters,
tests and functions), ``checks`` (validation, without Jinja2), ``templates`` (environment and
Template), ``filters``, ``functions``, ``dates``, ``jq_support``, ``printing``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .checks import (
        ExprProblem,
        check_cql,
        check_document,
        check_template,
        is_templated,
        referenced_outputs,
    )
    from .cql import CqlTemplate, compile_cql
    from .document import DocumentTemplate, compile_document
    from .functions import ExpressionNotSupported
    from .secrets_env import all_secret_values, envs_from_environ, secret_values_seen
    from .templates import Template, compile_template, referenced_names
    from .values import CompiledValue, compile_value, render_value

# Each name is imported from its module on first use: ``kflow validate`` reads the
# checks (``checks``: no Jinja2) without loading the runtime (``templates``: Jinja2).
_MODULES = {
    "CompiledValue": "values",
    "CqlTemplate": "cql",
    "DocumentTemplate": "document",
    "ExprProblem": "checks",
    "ExpressionNotSupported": "functions",
    "Template": "templates",
    "all_secret_values": "secrets_env",
    "check_cql": "checks",
    "check_document": "checks",
    "check_template": "checks",
    "compile_cql": "cql",
    "compile_document": "document",
    "compile_template": "templates",
    "compile_value": "values",
    "envs_from_environ": "secrets_env",
    "is_templated": "checks",
    "referenced_names": "templates",
    "referenced_outputs": "checks",
    "render_value": "values",
    "secret_values_seen": "secrets_env",
}

__all__ = [
    "CompiledValue",
    "CqlTemplate",
    "DocumentTemplate",
    "ExprProblem",
    "ExpressionNotSupported",
    "Template",
    "all_secret_values",
    "check_cql",
    "check_document",
    "check_template",
    "compile_cql",
    "compile_document",
    "compile_template",
    "compile_value",
    "envs_from_environ",
    "is_templated",
    "referenced_names",
    "referenced_outputs",
    "render_value",
    "secret_values_seen",
]


def __getattr__(name: str) -> Any:
    module = _MODULES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_MODULES))
