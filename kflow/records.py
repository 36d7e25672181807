"""``Record`` and ``FrozenRecord``: what kflow's value classes take from dataclasses.

``@dataclass`` generates its methods when the class is created, and that cost every
``kflow validate`` its start-up; these two bases give the same behaviour to plain
classes: field-wise ``==``, ``repr`` naming the fields, ``replace`` (a changed copy,
as ``dataclasses.replace``), and for frozen records ``hash``, refused assignment and
``copy``/``deepcopy``/``pickle`` (which rebuild the value through its ``__init__``).

A record's fields are the parameters of its ``__init__``, in order (as a dataclass's
fields make its ``__init__``), and a frozen record's ``__init__`` stores them with
:meth:`FrozenRecord._set`::

    class Point(FrozenRecord):
        __slots__ = ("x", "y")

        x: int
        y: int

        def __init__(self, x: int, y: int = 0) -> None:
            self._set(x, y)

A class whose ``__init__`` takes ``**kwargs`` lists ``_fields`` itself. ``_compared``
names the fields that ``==`` and ``hash`` read, when some are left out (dataclasses'
``compare=False``).
"""

from __future__ import annotations

from typing import Any, ClassVar, Self

__all__ = ["FrozenRecord", "Record"]


class Record:
    """A mutable record: field-wise ``==`` and ``repr``, ``replace``; not hashable."""

    __slots__ = ()

    _fields: ClassVar[tuple[str, ...]] = ()
    _compared: ClassVar[tuple[str, ...] | None] = None  # None: every field

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "__init__" in cls.__dict__ and "_fields" not in cls.__dict__:
            code = cls.__dict__["__init__"].__code__
            cls._fields = code.co_varnames[1 : code.co_argcount + code.co_kwonlyargcount]

    def _key(self) -> tuple[Any, ...]:
        compared = self._fields if self._compared is None else self._compared
        return tuple(getattr(self, name) for name in compared)

    def _asdict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self._fields}

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Record) or other.__class__ is not self.__class__:
            return NotImplemented
        return self._key() == other._key()

    __hash__ = None  # type: ignore[assignment]  # a mutable record is not hashable

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._fields)
        return f"{type(self).__name__}({fields})"

    def replace(self, **changes: Any) -> Self:
        """A copy with ``changes`` applied, built by ``__init__`` (as ``dataclasses.replace``)."""
        unknown = changes.keys() - set(self._fields)
        if unknown:
            raise TypeError(f"{type(self).__name__} has no fields {sorted(unknown)}")
        return type(self)(**{**self._asdict(), **changes})


class FrozenRecord(Record):
    """An immutable record: hashable, and its fields cannot be assigned or deleted."""

    __slots__ = ()

    def _set(self, *values: Any) -> None:
        """Store ``values``, one for each field in order (for ``__init__``)."""
        for name, value in zip(self._fields, values, strict=True):
            object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"cannot delete field {name!r}")

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(self._key())

    def __reduce__(self) -> tuple[Any, ...]:  # copy, deepcopy and pickle
        return (_rebuild, (type(self), self._asdict()))


def _rebuild(cls: type[FrozenRecord], fields: dict[str, Any]) -> FrozenRecord:
    return cls(**fields)
