"""What ``kflow validate`` found in a file, kept on disk and replayed when nothing changed.

An entry holds one file's report (its flow's ``namespace.id`` or None, and its
diagnostics), keyed by a hash of:

- the file's bytes and the path as given (diagnostics quote it);
- kflow's version and a stamp of kflow's own source files (size and modification
  time of each ``kflow/**/*.py``), so that editing kflow invalidates every entry;
- the Python version and the modification times of the ``sys.path`` folders but the
  first (an install or an upgrade of a dependency such as ruamel.yaml or jq touches
  them; the first is the working directory or the script's folder);
- the names of the ``ENV_*`` and ``SECRET_*`` variables (never their values): the
  checks read no environment today; a check that does must add what it reads here.

The output mode is not in the key: an entry keeps the report's data and
``validate_report`` prints it, text or JSON, with the same code as a fresh run.

Entries live in ``$KFLOW_CACHE_DIR``, else ``$XDG_CACHE_HOME/kflow``, else
``~/.cache/kflow`` (under ``validate/``). ``KFLOW_NO_CACHE=1`` or ``--no-cache`` turns
the cache off. An entry is written to a temporary file then renamed (readers never
see half an entry); one that cannot be read back intact (bad checksum, bad shape) is
ignored and rewritten. Old entries are never pruned: each is a few hundred bytes.

This module is on the warm path: it imports nothing beyond the interpreter's own
modules (``marshal`` and ``_blake2``, which ``hashlib`` itself re-exports).
"""

from __future__ import annotations

import contextlib
import marshal
import os
import sys
from pathlib import Path

try:
    from _blake2 import blake2b  # hashlib's blake2b, without loading OpenSSL (~4 ms)
except ImportError:  # pragma: no cover - an interpreter built without it
    from hashlib import blake2b

import kflow

TYPE_CHECKING = False  # not typing's: this module must not import typing (~3 ms)
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

__all__ = ["CachedResult", "ValidateCache", "cache_dir", "open_cache"]

_FORMAT = 1  # bump when the entry layout changes
_DIGEST = 16


class CachedDiagnostic:
    """A diagnostic read back from the cache: what the report prints of it."""

    __slots__ = ("_fields", "column", "is_error", "key_path", "line", "message", "path")

    def __init__(self, fields: dict[str, object]) -> None:
        self._fields = fields
        self.path = fields["path"]
        self.line = fields["line"]
        self.column = fields["column"]
        self.key_path = fields["key_path"]
        self.message = fields["message"]
        self.is_error = fields["severity"] == "error"

    def to_json(self) -> dict[str, object]:
        return dict(self._fields)


class _FlowRef:
    __slots__ = ("ref",)

    def __init__(self, ref: str) -> None:
        self.ref = ref


class CachedResult:
    """A file's report read back from the cache, shaped as a ``LoadResult`` for the report."""

    __slots__ = ("diagnostics", "flow", "path")

    def __init__(self, path: str, ref: str | None, diagnostics: list[CachedDiagnostic]) -> None:
        self.path = path
        self.flow = _FlowRef(ref) if ref is not None else None
        self.diagnostics = diagnostics

    @property
    def errors(self) -> list[CachedDiagnostic]:
        return [d for d in self.diagnostics if d.is_error]


def cache_dir(environ: Mapping[str, str] | None = None) -> Path | None:
    """Where entries go, or None when the cache is off (``KFLOW_NO_CACHE=1``, or no
    folder given and no home folder)."""
    env = os.environ if environ is None else environ
    if env.get("KFLOW_NO_CACHE", "") not in ("", "0"):
        return None
    if env.get("KFLOW_CACHE_DIR"):
        return Path(env["KFLOW_CACHE_DIR"]) / "validate"
    base = env.get("XDG_CACHE_HOME")
    if not base:
        home = os.path.expanduser("~")
        if home.startswith("~"):
            return None  # no home folder to put it in
        base = os.path.join(home, ".cache")
    return Path(base) / "kflow" / "validate"


def source_stamp(package_dir: str) -> bytes:
    """Size and modification time of every ``.py`` file under ``package_dir``."""
    parts: list[str] = []
    stack = [package_dir]
    while stack:
        folder = stack.pop()
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:
            continue
        for entry in entries:
            if entry.name.endswith(".py"):
                info = entry.stat()
                parts.append(f"{entry.path}:{info.st_size}:{info.st_mtime_ns}")
            elif entry.is_dir() and entry.name != "__pycache__":
                stack.append(entry.path)
    return "\n".join(parts).encode()


def environment_stamp(environ: Mapping[str, str]) -> bytes:
    """What of the environment may change a report (see the module docstring)."""
    names = sorted(n for n in environ if n.startswith(("ENV_", "SECRET_")))
    folders = []
    for folder in sys.path[1:]:  # [0] is the script's folder or the working directory
        try:
            folders.append(f"{folder}:{os.stat(folder or '.').st_mtime_ns}")
        except OSError:
            continue
    return "\n".join([sys.version, *names, *folders]).encode()


class ValidateCache:
    """Entries in ``directory``; ``stamp`` covers everything but the file and its path."""

    def __init__(self, directory: Path, stamp: bytes) -> None:
        self.directory = directory
        self._stamp = blake2b(stamp, digest_size=_DIGEST).digest()

    def key(self, path: str, data: bytes) -> str:
        digest = blake2b(self._stamp, digest_size=_DIGEST)
        digest.update(path.encode("utf-8", "surrogateescape") + b"\0")
        digest.update(data)
        return digest.hexdigest()

    def get(self, key: str, path: str) -> CachedResult | None:
        """The report kept under ``key``, or None (absent, unreadable, corrupt)."""
        try:
            blob = (self.directory / key).read_bytes()
        except OSError:
            return None
        check, payload = blob[:_DIGEST], blob[_DIGEST:]
        if len(check) != _DIGEST or blake2b(payload, digest_size=_DIGEST).digest() != check:
            return None
        try:
            ref, diagnostics = marshal.loads(payload)
            if ref is not None and not isinstance(ref, str):
                return None
            return CachedResult(path, ref, [CachedDiagnostic(d) for d in diagnostics])
        except (ValueError, TypeError, EOFError, KeyError):
            return None

    def put(self, key: str, ref: str | None, diagnostics: Iterable[dict[str, object]]) -> None:
        """Keep a report; a cache that cannot be written is left alone (nothing is reported)."""
        payload = marshal.dumps((ref, [dict(d) for d in diagnostics]))
        blob = blake2b(payload, digest_size=_DIGEST).digest() + payload
        target = self.directory / key
        partial = self.directory / f".{key}.{os.getpid()}.tmp"
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            partial.write_bytes(blob)
            os.replace(partial, target)
        except OSError:
            with contextlib.suppress(OSError):
                partial.unlink()


def open_cache(environ: Mapping[str, str] | None = None) -> ValidateCache | None:
    """The cache of this process's ``kflow validate``, or None when it is off."""
    env = os.environ if environ is None else environ
    directory = cache_dir(env)
    if directory is None:
        return None
    package_dir = os.path.dirname(os.path.abspath(kflow.__file__))
    stamp = b"\0".join(
        [
            f"kflow {kflow.__version__} format {_FORMAT}".encode(),
            source_stamp(package_dir),
            environment_stamp(env),
        ]
    )
    return ValidateCache(directory, stamp)
