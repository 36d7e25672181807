"""The names a template may use as a filter, a test or a function.

One list, read by both sides: the translator (``pebble_syntax.translate``) rejects any
other name, at validation (``checks``) and at run time (``templates``) alike, and the
runtime environment of ``templates`` holds exactly these names (a unit test checks that
``ENVIRONMENT.filters``, ``.tests`` and ``.globals`` agree with this module). Adding a
filter, a test or a function means adding it to its registry (``filters.FILTERS``,
``functions.PUBLIC_FUNCTIONS``...) and here.

This module imports nothing, so that ``kflow validate`` checks names without loading
Jinja2 or the filters themselves.
"""

from __future__ import annotations

__all__ = [
    "FILTER_NAMES",
    "FUNCTION_NAMES",
    "JINJA_FILTERS",
    "JINJA_TESTS",
    "KFLOW_FILTERS",
    "KFLOW_FUNCTIONS",
    "KFLOW_TESTS",
    "TEST_NAMES",
    "TRANSLATED_TESTS",
]

#: ``filters.FILTERS``: Kestra's and Pebble's filters (some replace Jinja2's own).
KFLOW_FILTERS = frozenset(
    {
        "abbreviate",
        "base64decode",
        "base64encode",
        "capitalize",
        "chunk",
        "className",
        "date",
        "dateAdd",
        "default",
        "distinct",
        "endsWith",
        "escapeChar",
        "first",
        "flatten",
        "fromJson",
        "indent",
        "join",
        "jq",
        "json",
        "keys",
        "last",
        "length",
        "lower",
        "md5",
        "nindent",
        "number",
        "numberFormat",
        "replace",
        "rsort",
        "sha1",
        "sha256",
        "sha512",
        "slice",
        "slugify",
        "sort",
        "split",
        "startsWith",
        "substringAfter",
        "substringAfterLast",
        "substringBefore",
        "substringBeforeLast",
        "timestamp",
        "timestampMicro",
        "timestampMilli",
        "timestampNano",
        "title",
        "toIon",
        "toJson",
        "toYaml",
        "trim",
        "upper",
        "urldecode",
        "urlencode",
        "values",
        "yaml",
    }
)

#: Jinja2's built-in filters that kflow leaves in place (``jinja2.defaults.DEFAULT_FILTERS``
#: without those ``KFLOW_FILTERS`` replace).
JINJA_FILTERS = frozenset(
    {
        "abs",
        "attr",
        "batch",
        "center",
        "count",
        "d",
        "dictsort",
        "e",
        "escape",
        "filesizeformat",
        "float",
        "forceescape",
        "format",
        "groupby",
        "int",
        "items",
        "list",
        "map",
        "max",
        "min",
        "pprint",
        "random",
        "reject",
        "rejectattr",
        "reverse",
        "round",
        "safe",
        "select",
        "selectattr",
        "string",
        "striptags",
        "sum",
        "tojson",
        "truncate",
        "unique",
        "urlize",
        "wordcount",
        "wordwrap",
        "xmlattr",
    }
)

FILTER_NAMES = KFLOW_FILTERS | JINJA_FILTERS

#: Tests kflow adds to the environment (``templates._build_environment``).
KFLOW_TESTS = frozenset({"empty", "json"})

#: Jinja2's built-in tests (``jinja2.defaults.DEFAULT_TESTS``).
JINJA_TESTS = frozenset(
    {
        "!=",
        "<",
        "<=",
        "==",
        ">",
        ">=",
        "boolean",
        "callable",
        "defined",
        "divisibleby",
        "eq",
        "equalto",
        "escaped",
        "even",
        "false",
        "filter",
        "float",
        "ge",
        "greaterthan",
        "gt",
        "in",
        "integer",
        "iterable",
        "le",
        "lessthan",
        "lower",
        "lt",
        "mapping",
        "ne",
        "none",
        "number",
        "odd",
        "sameas",
        "sequence",
        "string",
        "test",
        "true",
        "undefined",
        "upper",
    }
)

#: Tests the translator writes as helpers or under Jinja2's name (``null``, ``map``...).
TRANSLATED_TESTS = frozenset({"defined", "null", "empty", "map"})

TEST_NAMES = KFLOW_TESTS | JINJA_TESTS | TRANSLATED_TESTS

#: ``functions.PUBLIC_FUNCTIONS`` plus ``render`` and ``renderOnce`` (``templates``).
KFLOW_FUNCTIONS = frozenset(
    {
        "appLink",
        "currentEachOutput",
        "decrypt",
        "encrypt",
        "errorLogs",
        "fetchContext",
        "fileExists",
        "fileSize",
        "fileURI",
        "fromIon",
        "fromJson",
        "isFileEmpty",
        "json",
        "kv",
        "max",
        "min",
        "now",
        "printContext",
        "randomInt",
        "range",
        "read",
        "render",
        "renderOnce",
        "secret",
        "tasksWithState",
        "uuid",
        "yaml",
    }
)

FUNCTION_NAMES = KFLOW_FUNCTIONS
