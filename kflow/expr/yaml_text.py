"""YAML written as Kestra's Jackson mapper writes it (the ``yaml`` filter): quotes only
where a plain scalar would read back differently, `` - `` list items, a final newline."""

from __future__ import annotations

import datetime as dt
import decimal
import json
import re
from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from typing import Any

from .printing import iso_datetime, java_double, to_text

# ------------------------------------------------------------------------ yaml

_YAML_PLAIN_UNSAFE = re.compile(r"""^[\s\-?:,\[\]{}#&*!|>'"%@`]|[\s]$|: |\s#|[\x00-\x1f\x7f]|:$""")
_YAML_SPECIAL_WORDS = re.compile(
    r"(?i:yes|no|on|off|true|false|null|~)\Z"
    r"|[-+]?(\.[0-9]+|[0-9][0-9_]*(\.[0-9_]*)?)([eE][-+]?[0-9]+)?\Z"
    r"|[-+]?\.(?i:inf)\Z|\.(?i:nan)\Z|0[xob][0-9a-fA-F_]+\Z"
)


def _yaml_string(text: str, indent: str) -> str:
    if "\n" in text and not _YAML_PLAIN_UNSAFE.search(text.replace("\n", "")):
        body = text[:-1] if text.endswith("\n") else text
        chomp = "" if text.endswith("\n") and not text.endswith("\n\n") else "-"
        if text.endswith("\n\n"):
            chomp = "+"
            body = text[:-1]
        lines = body.split("\n")
        inner = indent + "  "
        return f"|{chomp}\n" + "\n".join(inner + line if line else "" for line in lines)
    if text == "" or _YAML_PLAIN_UNSAFE.search(text) or _YAML_SPECIAL_WORDS.match(text):
        return json.dumps(text, ensure_ascii=False)
    return text


def _yaml_scalar(value: Any, indent: str) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return java_double(value)
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return _yaml_string(iso_datetime(value), indent)
    return _yaml_string(value if isinstance(value, str) else to_text(value), indent)


def _is_block(value: Any) -> bool:
    return isinstance(value, Mapping | list | tuple | AbstractSet) and len(value) > 0


def _yaml_lines(value: Any, indent: str) -> list[str]:
    """Block YAML of a non-empty map or list, every line starting with ``indent``."""
    lines: list[str] = []
    if isinstance(value, Mapping):
        for key, item in value.items():
            head = f"{indent}{_yaml_string(to_text(key), indent)}:"
            if _is_block(item):
                lines.append(head)
                lines.extend(
                    _yaml_lines(item, indent + ("  " if isinstance(item, Mapping) else " "))
                )
            else:
                lines.append(f"{head} {_yaml_inline(item, indent + '  ')}")
        return lines
    for item in value:
        if _is_block(item):
            inner = _yaml_lines(item, indent + "  ")
            lines.append(f"{indent}- {inner[0][len(indent) + 2 :]}")
            lines.extend(inner[1:])
        else:
            lines.append(f"{indent}- {_yaml_inline(item, indent + '  ')}")
    return lines


def _yaml_inline(value: Any, indent: str) -> str:
    if isinstance(value, Mapping):
        return "{}"
    if isinstance(value, list | tuple | AbstractSet):
        return "[]"
    return _yaml_scalar(value, indent)


def write_yaml(value: Any) -> str:
    """Kestra's ``yaml`` filter: YAML text, as its Jackson mapper writes it.

    Block style, quotes only where needed, list items indented by one space
    (``" - a"``), a final newline; ``null`` gives ``"null"``.
    """
    if value is None:
        return "null"
    if _is_block(value):
        base = "" if isinstance(value, Mapping) else " "
        return "\n".join(_yaml_lines(value, base)) + "\n"
    return _yaml_inline(value, "") + "\n"
