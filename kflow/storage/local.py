"""The internal storage on the local disk: ``kestra://`` URIs as files under one directory."""

from __future__ import annotations

import random
from collections.abc import Generator
from pathlib import Path
from typing import Any

from kflow.errors import DataError
from kflow.storage.record_lines import LineFormat, RecordWriter, iter_lines
from kflow.storage.uris import relative_path, storage_root

__all__ = ["LocalStorage", "default_storage"]

_SUFFIX: dict[LineFormat, str] = {"ion": ".ion", "json": ".jsonl"}
_NAME_CHARS = "0123456789abcdefghijklmnopqrstuvwxyz"


def _new_name() -> str:
    return "".join(random.choices(_NAME_CHARS, k=16))


class LocalStorage:
    """Files of ``kestra:///a/b/c`` live at ``<root>/a/b/c``; nothing outside ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = root.absolute()

    def path_of(self, uri: str) -> Path:
        """The file ``uri`` names. Raises :class:`DataError` for a URI that would escape."""
        path = self.root.joinpath(*relative_path(uri).parts)
        # A symbolic link inside the storage may point anywhere: refuse what resolves outside.
        resolved_root = self.root.resolve()
        if not path.resolve().is_relative_to(resolved_root):
            raise DataError(f"internal storage URI {uri!r} resolves outside {resolved_root}")
        return path

    def new_file(
        self, prefix: str, fmt: LineFormat = "ion", name: str | None = None
    ) -> RecordWriter:
        """A writer of a new file under the ``prefix`` URI (``name`` defaults to a random one).

        ``with storage.new_file(prefix) as out: out.write(record)``; then ``out.uri``.
        """
        file_name = name or _new_name() + _SUFFIX[fmt]
        uri = prefix.rstrip("/") + "/" + file_name
        return RecordWriter(self.path_of(uri), uri, fmt)

    def write_records(
        self, prefix: str, records: Any, fmt: LineFormat = "ion", name: str | None = None
    ) -> tuple[str, int]:
        """Write an iterable of records to a new file; ``(uri, count)``."""
        with self.new_file(prefix, fmt, name) as out:
            for record in records:
                out.write(record)
        return out.uri, out.count

    def read_records(self, uri: str) -> Generator[tuple[int, Any], None, None]:
        """``(line number, record)`` of an ION or JSON-lines file, streamed."""
        return iter_lines(self.path_of(uri), uri)

    def read_text(self, uri: str) -> str:
        path = self.path_of(uri)
        try:
            return path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise DataError(f"{uri}: no such file in the internal storage ({path})") from None
        except UnicodeDecodeError as exc:
            raise DataError(f"{uri}: not UTF-8 text at byte {exc.start}") from exc
        except OSError as exc:
            raise DataError(f"{uri}: cannot read {path}: {exc.strerror or exc}") from exc

    def exists(self, uri: str) -> bool:
        return self.path_of(uri).is_file()


def default_storage() -> LocalStorage:
    """The storage of ``$KFLOW_STORAGE_DIR`` (else ``./.kflow/storage``), read at each call."""
    return LocalStorage(storage_root())
