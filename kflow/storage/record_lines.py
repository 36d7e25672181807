"""Files of records, one value per line, as Kestra's ``FileSerde`` writes them.

``.ion`` files hold one Ion text value per line (the codec is ``kflow.expr.ion``);
``.jsonl`` files one JSON value per line. Readers accept either on any line: a
line is read as JSON first (the usual case, and valid Ion too), then as Ion.
Writers write to ``<name>.part`` and rename it when closed, so a file that
exists is complete.
"""

from __future__ import annotations

import json
import os
from collections.abc import Generator
from datetime import date, datetime, time
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Literal

from kflow.errors import DataError, ExpressionError
from kflow.expr.ion import from_ion, to_ion

__all__ = ["LineFormat", "RecordWriter", "decode_line", "encode_line", "iter_lines"]

LineFormat = Literal["ion", "json"]


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, bytes | bytearray):
        import base64

        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"a {type(value).__name__} cannot be written as JSON")


def encode_line(record: Any, fmt: LineFormat = "ion") -> str:
    """``record`` as one line of text (no newline inside; strings are escaped)."""
    if fmt == "json":
        return json.dumps(record, ensure_ascii=False, separators=(",", ":"), default=_json_default)
    return to_ion(record)


def decode_line(text: str) -> Any:
    """One line's value: JSON, else Ion text. Raises ``ValueError`` or ``ExpressionError``."""
    try:
        return json.loads(text)
    except ValueError:
        pass
    return from_ion(text)


def iter_lines(path: Path, name: str) -> Generator[tuple[int, Any], None, None]:
    """``(line number, value)`` of each non-blank line of ``path``, read as it goes.

    ``name`` (the URI) is what errors show: ``line 3 of kestra:///...: ...``.
    """
    try:
        handle = path.open(encoding="utf-8", newline="\n")
    except FileNotFoundError:
        raise DataError(f"{name}: no such file in the internal storage ({path})") from None
    except OSError as exc:
        raise DataError(f"{name}: cannot read {path}: {exc.strerror or exc}") from exc
    with handle:
        number = 0
        while True:
            try:
                line = handle.readline()
            except UnicodeDecodeError as exc:
                raise DataError(f"line {number + 1} of {name}: not UTF-8 text") from exc
            if not line:
                return
            number += 1
            text = line.strip()
            if not text:
                continue
            try:
                value = decode_line(text)
            except (ValueError, ExpressionError) as exc:
                reason = str(exc).removeprefix("fromIon: ")
                raise DataError(f"line {number} of {name}: neither JSON nor Ion: {reason}") from exc
            yield number, value


class RecordWriter:
    """Writes records to a new file, one per line; the file appears whole when closed.

    Use it as a context manager: leaving the block normally renames ``<path>.part`` to
    ``path`` (after an fsync), leaving it by an exception deletes the partial file.
    """

    def __init__(self, path: Path, uri: str, fmt: LineFormat = "ion") -> None:
        self.path = path
        self.uri = uri
        self.format: LineFormat = fmt
        self.count = 0
        self._partial = path.with_name(path.name + ".part")
        self._handle: IO[str] | None = None

    def __enter__(self) -> RecordWriter:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._handle = self._partial.open("x", encoding="utf-8", newline="\n")
        except OSError as exc:
            raise DataError(
                f"{self.uri}: cannot create {self.path}: {exc.strerror or exc}"
            ) from exc
        return self

    def write(self, record: Any) -> None:
        if self._handle is None:
            raise RuntimeError("RecordWriter.write outside its with block")
        try:
            line = encode_line(record, self.format)
        except (TypeError, ValueError, ExpressionError) as exc:
            reason = str(exc).removeprefix("toIon: ")
            raise DataError(f"record {self.count + 1} for {self.uri}: {reason}") from exc
        try:
            self._handle.write(line + "\n")
        except OSError as exc:
            raise DataError(f"{self.uri}: cannot write {self.path}: {exc.strerror or exc}") from exc
        self.count += 1

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        handle, self._handle = self._handle, None
        if handle is None:
            return
        if kind is not None:
            handle.close()
            self._partial.unlink(missing_ok=True)
            return
        try:
            handle.flush()
            os.fsync(handle.fileno())
            handle.close()
            os.replace(self._partial, self.path)
        except OSError as exc:
            handle.close()
            self._partial.unlink(missing_ok=True)
            raise DataError(f"{self.uri}: cannot write {self.path}: {exc.strerror or exc}") from exc
