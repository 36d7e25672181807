"""Problems found while loading or validating a flow.

Every check reports a :class:`Diagnostic` instead of raising, so that one run
of ``kflow validate`` shows every problem of a file at once.
"""

from __future__ import annotations

from typing import Any, Literal

from kflow.records import FrozenRecord

Severity = Literal["error", "warning"]


class Diagnostic(FrozenRecord):
    """One problem, located in its file.

    ``line`` and ``column`` are 1-based. ``key_path`` names the place in the
    flow the way a reader finds it: task ids instead of list indexes where a
    task has an id (``tasks.insert_into_mongodb.document``), ``[n]`` for other
    list items (``session.endpoints[0].port``).

    ``fails_at_run``: Kestra saves such a flow and fails only the task, when it runs:
    ``kflow validate`` reports the error, ``kflow run`` runs the flow and the task fails
    (see :meth:`deferred`).
    """

    __slots__ = ("code", "column", "fails_at_run", "key_path", "line", "message", "path",
                 "severity")  # fmt: skip

    path: str
    line: int
    column: int
    key_path: str
    message: str
    severity: Severity
    code: str
    fails_at_run: bool

    def __init__(
        self,
        path: str,
        line: int,
        column: int,
        key_path: str,
        message: str,
        severity: Severity = "error",
        code: str = "invalid",
        fails_at_run: bool = False,
    ) -> None:
        self._set(path, line, column, key_path, message, severity, code, fails_at_run)

    @property
    def is_error(self) -> bool:
        return self.severity == "error"

    def deferred(self) -> Diagnostic:
        """This error as ``kflow run`` reports it: a warning; the task fails when it runs."""
        if not (self.is_error and self.fails_at_run):
            return self
        return self.replace(severity="warning")

    def format(self) -> str:
        """``path:line:col key.path: message``, warnings marked as such."""
        where = f"{self.path}:{self.line}:{self.column}"
        key = f" {self.key_path}:" if self.key_path else ""
        mark = " warning:" if self.severity == "warning" else ""
        return f"{where}{key}{mark} {self.message}"

    def to_json(self) -> dict[str, Any]:
        return self._asdict()

    def sort_key(self) -> tuple[str, int, int, str]:
        return (self.path, self.line, self.column, self.message)
