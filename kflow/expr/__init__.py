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

Modules: ``pebble_lexer`` and ``pebble_syntax`` (reading Pebble), ``templates`` (environment and
Template), ``filters``, ``functions``, ``dates``, ``jq_support``, ``printing``.
"""

from .cql import CqlTemplate, check_cql, compile_cql
from .document import DocumentTemplate, check_document, compile_document
from .functions import ExpressionNotSupported
from .secrets_env import all_secret_values, envs_from_environ, secret_values_seen
from .templates import (
    ExprProblem,
    Template,
    check_template,
    compile_template,
    is_templated,
    referenced_names,
    referenced_outputs,
)
from .values import CompiledValue, compile_value, render_value

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
