"""``kflow run --log-format json``: every line written to stderr becomes one JSON object.

Rather than teach every writer of stderr (sources' notices, the summary line, Python
warnings, the final error printed by the entry point) a second format, the run replaces
``sys.stderr`` with a :class:`JsonLines` stream: each complete line written to it, from
any thread, comes out as ``{"ts", "level", "message", "flow"}``. The level is read from
the line's own shape (:func:`level_of`); stdout is left alone.
"""

from __future__ import annotations

import atexit
import io
import json
import re
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from enum import StrEnum
from typing import TextIO


class LogFormat(StrEnum):
    text = "text"
    json = "json"


_WARNING = re.compile(r"(^|\s)warning:|\b[A-Z]\w*Warning: |^WARNING\b", re.IGNORECASE)
_DIAGNOSTIC = re.compile(r"^\S+:\d+:\d+ ")  # path:line:col key.path: message
_EXCEPTION = re.compile(r"^[\w.]*(Error|Exception|Interrupt)\b")  # a traceback's last line
_TROUBLE = ("failed", "cannot ", "lost ", "refused", "stuck")


def level_of(line: str, previous: str = "info") -> str:
    """``error``, ``warning`` or ``info`` for one line kflow wrote to stderr.

    Errors are the lines ``kflow: ...`` (the entry point's and the flow loader's), a flow
    diagnostic and a traceback (``KFLOW_DEBUG=1``); warnings say so (diagnostic warnings,
    Python warnings); a notice of the run (``kflow run: ...``) about something that went
    wrong is a warning; an indented line continues the one before.
    """
    if line[:1].isspace() and line.strip():
        return previous
    if _WARNING.search(line):
        return "warning"
    if line.startswith(("kflow: ", "Traceback ")) or _DIAGNOSTIC.match(line):
        return "error"
    if _EXCEPTION.match(line):
        return "error"
    if line.startswith("kflow run: ") and any(t in line for t in _TROUBLE):
        return "warning"
    return "info"


def json_line(message: str, level: str, flow: str | None, now: datetime | None = None) -> str:
    """The JSON object of one log line (``flow`` only when known)."""
    ts = (now or datetime.now(UTC)).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    record: dict[str, str] = {"ts": ts, "level": level, "message": message}
    if flow is not None:
        record["flow"] = flow
    return json.dumps(record, ensure_ascii=False)


class JsonLines(io.TextIOBase):
    """A text stream that writes each complete line as one JSON object to ``out``.

    Each thread keeps its own unfinished line (``print`` writes the text and the newline
    separately), so lines of two threads never mix.
    """

    def __init__(self, out: TextIO, flow: str | None = None) -> None:
        super().__init__()
        self.out = out
        self.flow = flow
        self._lock = threading.Lock()
        self._partial: dict[int, str] = {}
        self._levels: dict[int, str] = {}

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return "utf-8"

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        return self.out.fileno()

    def write(self, text: str) -> int:
        me = threading.get_ident()
        with self._lock:
            pending = self._partial.pop(me, "") + text
            *lines, rest = pending.split("\n")
            if rest:
                self._partial[me] = rest
            for line in lines:
                self._emit(me, line)
        return len(text)

    def write_for(self, flow: str | None, line: str) -> None:
        """Write one whole line that belongs to ``flow`` (many flows share the stream)."""
        with self._lock:
            self.out.write(json_line(line, level_of(line), flow) + "\n")
            self.out.flush()

    def flush(self) -> None:
        with self._lock:
            self.out.flush()

    def finish(self) -> None:
        """Write every unfinished line (at exit)."""
        with self._lock:
            for me, rest in list(self._partial.items()):
                self._emit(me, rest)
            self._partial.clear()
            self.out.flush()

    def _emit(self, thread: int, line: str) -> None:
        line = line.rstrip("\r")
        if not line.strip():
            return
        level = level_of(line, self._levels.get(thread, "info"))
        self._levels[thread] = level
        self.out.write(json_line(line, level, self.flow) + "\n")
        self.out.flush()


def use_json_stderr(flow: str | None = None) -> JsonLines:
    """Replace ``sys.stderr`` for the rest of the process; returns the stream (set its
    ``flow`` once the flow is known)."""
    current = sys.stderr
    if isinstance(current, JsonLines):
        return current
    stream = JsonLines(current, flow)
    sys.stderr = stream
    atexit.register(stream.finish)
    return stream


def say_for(flow: str) -> Callable[[str], None]:
    """Where a line about one flow of a many-flow run goes: stderr, named by the flow (the
    ``flow`` field of ``--log-format json``, else after the ``kflow run:`` the line starts
    with)."""

    def say(line: str) -> None:
        stream = sys.stderr
        if isinstance(stream, JsonLines):
            stream.write_for(flow, line)
            return
        head, sep, rest = line.partition("kflow run: ")
        named = f"kflow run: {flow}: {rest}" if sep and not head else f"{flow}: {line}"
        print(named, file=stream, flush=True)

    return say
