"""``kestra://`` URIs: where the storage lives, Kestra's layout of file names, and the
mapping of a URI to a path that cannot leave the storage directory."""

from __future__ import annotations

import os
import re
import unicodedata
from pathlib import Path, PurePosixPath
from urllib.parse import quote, unquote

from kflow.errors import DataError

__all__ = [
    "DEFAULT_DIR",
    "SCHEME",
    "STORAGE_DIR_ENV",
    "execution_prefix",
    "is_storage_uri",
    "kestra_slug",
    "relative_path",
    "storage_root",
    "task_prefix",
    "trigger_prefix",
    "uri_of",
]

SCHEME = "kestra"
STORAGE_DIR_ENV = "KFLOW_STORAGE_DIR"
DEFAULT_DIR = Path(".kflow") / "storage"
"""Relative to the current directory when ``KFLOW_STORAGE_DIR`` is not set."""


def storage_root() -> Path:
    """The storage directory: ``$KFLOW_STORAGE_DIR``, else ``.kflow/storage`` (absolute)."""
    configured = os.environ.get(STORAGE_DIR_ENV, "").strip()
    return Path(configured or DEFAULT_DIR).expanduser().absolute()


def is_storage_uri(value: object) -> bool:
    return isinstance(value, str) and value.startswith(f"{SCHEME}://")


# Kestra's Slugify: whitespace to '-', accents dropped, other non-word characters removed,
# '_' to '-', runs of '-' collapsed, no '-' at either end, lower case.
_NOT_WORD = re.compile(r"[^A-Za-z0-9_-]")
_DASHES = re.compile(r"-{2,}")


def kestra_slug(text: str) -> str:
    """A flow or task id as Kestra writes it in paths (``Get_Order.v2`` -> ``get-orderv2``)."""
    spaced = re.sub(r"\s", "-", text)
    plain = _NOT_WORD.sub("", unicodedata.normalize("NFD", spaced)).replace("_", "-")
    return _DASHES.sub("-", plain).strip("-").lower()


def execution_prefix(namespace: str, flow_id: str, execution_id: str) -> str:
    """``kestra:///<namespace as dirs>/<flow>/executions/<id>`` (Kestra's StorageContext)."""
    return uri_of(
        PurePosixPath(*namespace.split("."), kestra_slug(flow_id), "executions", execution_id)
    )


def task_prefix(
    namespace: str, flow_id: str, execution_id: str, task_id: str, taskrun_id: str
) -> str:
    """Where the files of one task run go: ``.../executions/<id>/tasks/<task>/<taskrun>``."""
    base = execution_prefix(namespace, flow_id, execution_id)
    return f"{base}/tasks/{quote(kestra_slug(task_id))}/{quote(taskrun_id)}"


def trigger_prefix(namespace: str, flow_id: str, execution_id: str, trigger_id: str) -> str:
    """Where the files of the trigger of one execution go: ``.../executions/<id>/trigger/<t>``."""
    base = execution_prefix(namespace, flow_id, execution_id)
    return f"{base}/trigger/{quote(kestra_slug(trigger_id))}"


def uri_of(relative: PurePosixPath) -> str:
    """The ``kestra:///`` URI of a path relative to the storage directory."""
    return f"{SCHEME}:///" + "/".join(quote(part) for part in relative.parts)


def relative_path(uri: str) -> PurePosixPath:
    """The path inside the storage directory that ``uri`` names.

    Accepts ``kestra:///a/b`` (Kestra's form) and ``kestra://a/b``. Refuses, with a
    :class:`DataError` naming the URI, other schemes, an empty path, and any ``..`` or
    ``.`` segment (also percent-encoded): no URI reaches outside the storage directory.
    """
    if not is_storage_uri(uri):
        raise DataError(f"{uri!r} is not an internal storage URI (kestra:///...)")
    raw = uri[len(SCHEME) + 3 :].split("?", 1)[0].split("#", 1)[0]
    text = unquote(raw)
    if "\\" in text or "\x00" in text:
        raise DataError(f"internal storage URI {uri!r} holds a backslash or NUL character")
    parts = [p for p in text.split("/") if p]
    if not parts:
        raise DataError(f"internal storage URI {uri!r} names no file")
    if any(p in ("..", ".") for p in parts):
        raise DataError(
            f"internal storage URI {uri!r} is refused: '..' and '.' segments could leave "
            "the storage directory"
        )
    return PurePosixPath(*parts)
