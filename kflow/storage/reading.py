"""The Pebble function ``read(path)``: a file's content as a string (Kestra's ReadFileFunction).

A ``kestra://`` URI is read from the internal storage; a ``file://`` URI or any
other string is a path on the local disk (Kestra reads a namespace file there;
kflow has no namespace files).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from kflow.errors import DataError, ExpressionError
from kflow.storage.local import default_storage
from kflow.storage.uris import is_storage_uri

__all__ = ["read_function"]


def read_function(path: Any = None) -> str:
    """``read(uri_or_path)``: the whole file as UTF-8 text; errors are ExpressionErrors."""
    if not isinstance(path, str) or not path:
        got = "null" if path is None else type(path).__name__
        raise ExpressionError(
            f"read: expects a path, a file:// URI or a kestra:// internal storage URI, got {got}"
        )
    try:
        if is_storage_uri(path):
            return default_storage().read_text(path)
        return _read_local(path)
    except DataError as exc:
        raise ExpressionError(f"read: {exc}") from exc


def _read_local(path: str) -> str:
    local = Path(unquote(urlsplit(path).path)) if path.startswith("file://") else Path(path)
    try:
        return local.expanduser().read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataError(f"no such file {path}") from None
    except UnicodeDecodeError as exc:
        raise DataError(f"{path} is not UTF-8 text at byte {exc.start}") from exc
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror or exc}") from exc
