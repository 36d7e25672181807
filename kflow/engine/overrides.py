"""``--set NAME=VALUE``: trigger properties given on the command line.

A value is read as YAML (``--set qos=2`` is a number, ``--set topic=[a,b]`` a
list). A name with a dot sets one entry of a map property:
``--set properties.bootstrap.servers=host:9092`` sets ``bootstrap.servers``
under ``properties`` (Kestra's property names have no dots; map keys may).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from kflow.errors import UsageError


def parse_overrides(pairs: Iterable[str]) -> dict[str, Any]:
    """``["a=1", "properties.x.y=z"]`` → ``{"a": 1, "properties.x.y": "z"}``."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    yaml = YAML(typ="safe", pure=True)
    out: dict[str, Any] = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        if not sep or not name.strip():
            raise UsageError(f"--set {pair!r}: expected NAME=VALUE")
        try:
            value = yaml.load(text) if text.strip() else ""
        except YAMLError:
            value = text
        out[name.strip()] = text if value is None and text.strip() not in ("null", "~") else value
    return out


def apply_overrides(props: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``props`` with ``overrides`` set (see the module's doc for dotted names)."""
    out = dict(props)
    for name, value in overrides.items():
        head, dot, rest = name.partition(".")
        if not dot:
            out[name] = value
            continue
        current = out.get(head)
        if current is not None and not isinstance(current, Mapping):
            raise UsageError(f"--set {name}: property {head} is not a map")
        out[head] = {**(current or {}), rest: value}
    return out
