"""The registry of task and trigger types, keyed by Kestra's type strings.

Each type is a :class:`TypeSpec`: its canonical name, older names (aliases),
its property model and the import path of its runtime (``runner``). The
catalog modules (``kflow.catalog.*``) declare the specs; :func:`default_registry`
collects them once. Nothing here imports a runtime or a driver: the engine
imports ``runner`` lazily when a flow actually runs.

To add a type, declare a ``TypeSpec`` in the catalog module of its system and
list it in that module's ``SPECS``.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Literal

from kflow.flow.properties import CheckContext, Prop
from kflow.records import FrozenRecord

if TYPE_CHECKING:
    from kflow.flow.yamltree import YNode

TypeKind = Literal["task", "trigger"]

#: A cross-property rule: ``check(props, node, ctx, key_path)``; it may report
#: problems and adjust ``props`` (the checked values) in place.
CrossCheck = Callable[[dict[str, Any], "YNode", CheckContext, str], None]

CATALOG_MODULES = (
    "kflow.catalog.core",
    "kflow.catalog.kafka",
    "kflow.catalog.cassandra",
    "kflow.catalog.mongodb",
    "kflow.catalog.amqp",
    "kflow.catalog.mqtt",
    "kflow.catalog.jdbc",
    "kflow.catalog.nats",
    "kflow.catalog.redis",
    "kflow.catalog.debezium",
)


class TypeSpec(FrozenRecord):
    """One task or trigger type.

    ``runner`` is ``"module:Class"``, imported by the engine when the flow
    runs; ``None`` means the type is declared (flows using it validate) but
    kflow cannot run it yet. ``flowable`` types hold nested tasks. ``check``, a
    cross-property rule, is left out of comparisons.
    """

    __slots__ = ("aliases", "check", "description", "flowable", "kind", "name", "properties",
                 "runner")  # fmt: skip

    _compared = ("name", "kind", "properties", "runner", "aliases", "description", "flowable")

    name: str
    kind: TypeKind
    properties: Mapping[str, Prop]
    runner: str | None
    aliases: tuple[str, ...]
    description: str
    flowable: bool
    check: CrossCheck | None

    def __init__(
        self,
        name: str,
        kind: TypeKind,
        properties: Mapping[str, Prop],
        runner: str | None = None,
        aliases: tuple[str, ...] = (),
        description: str = "",
        flowable: bool = False,
        check: CrossCheck | None = None,
    ) -> None:
        self._set(name, kind, properties, runner, aliases, description, flowable, check)

    def __repr__(self) -> str:  # short: the properties would fill a screen
        return f"TypeSpec(name={self.name!r}, kind={self.kind!r}, runner={self.runner!r})"

    @property
    def short_name(self) -> str:
        return self.name.removeprefix("io.kestra.plugin.")

    @property
    def supported(self) -> bool:
        return self.runner is not None

    def load_runner(self) -> Any:
        """Import and return the runtime class (``NotSupportedError`` when there is none)."""
        from kflow.errors import NotSupportedError

        if self.runner is None:
            raise NotSupportedError(f"{self.kind} type {self.name} is not supported yet by kflow")
        module_name, _, attr = self.runner.partition(":")
        module = importlib.import_module(module_name)
        return getattr(module, attr)


class DuplicateTypeError(ValueError):
    """Two specs claim the same type name or alias."""


class TypeRegistry:
    """Task and trigger types by name and alias; refuses duplicates."""

    def __init__(self, specs: Iterable[TypeSpec] = ()) -> None:
        self._by_name: dict[str, TypeSpec] = {}
        self._specs: list[TypeSpec] = []
        for spec in specs:
            self.add(spec)

    def add(self, spec: TypeSpec) -> None:
        for name in (spec.name, *spec.aliases):
            if name in self._by_name:
                other = self._by_name[name].name
                raise DuplicateTypeError(f"type name {name} is declared twice ({other})")
        for name in (spec.name, *spec.aliases):
            self._by_name[name] = spec
        self._specs.append(spec)

    def lookup(self, name: str) -> TypeSpec | None:
        return self._by_name.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def __iter__(self) -> Iterator[TypeSpec]:
        return iter(self._specs)

    def __len__(self) -> int:
        return len(self._specs)

    def names(self) -> list[str]:
        """Every accepted name (canonical names and aliases)."""
        return list(self._by_name)

    def suggest(self, name: str, kind: TypeKind | None = None, n: int = 3) -> list[str]:
        """Canonical names closest to ``name`` (best first), optionally of one kind.

        Names are compared without the ``io.kestra.plugin.``/``io.kestra.`` prefix
        that every name shares, so that only real near-misses are suggested.
        """
        import difflib

        scored: dict[str, float] = {}
        wanted = _short(name)
        for key, spec in self._by_name.items():
            if kind is not None and spec.kind != kind:
                continue
            ratio = difflib.SequenceMatcher(None, wanted, _short(key)).ratio()
            if ratio >= 0.75 and ratio > scored.get(spec.name, 0.0):
                scored[spec.name] = ratio
        return sorted(scored, key=lambda k: -scored[k])[:n]


def _short(name: str) -> str:
    lowered = name.lower()
    for prefix in ("io.kestra.plugin.", "io.kestra.core.tasks.", "io.kestra."):
        if lowered.startswith(prefix):
            return lowered[len(prefix) :]
    return lowered


@functools.cache
def default_registry() -> TypeRegistry:
    """The registry of every type declared in ``kflow.catalog`` (built once)."""
    registry = TypeRegistry()
    for module_name in CATALOG_MODULES:
        module = importlib.import_module(module_name)
        for spec in module.SPECS:
            registry.add(spec)
    return registry
