"""Measurement side of the hand-written baselines: when each record was done, and CPU.

The baselines call :meth:`Recorder.done` once a record's document is stored.
Progress goes to stdout as one ``n=<count>`` line per call, so the bench can
see how far a baseline is (and one ``received`` line when the first record
arrives: the start of the measured window, where ``bench/run`` samples the
servers' CPU); :meth:`Recorder.write` saves every
record's ``[partition, offset, timestamp_ms, done_ms]``, when the first record
arrived, and the process CPU seconds then and at the last record to a JSON file.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Recorder:
    """Collects done records until ``expected`` are in (``finished`` then becomes true)."""

    def __init__(self, out: Path, expected: int) -> None:
        self.out = out
        self.expected = expected
        self.records: list[tuple[int, int, int, float]] = []
        self.first_ms: float | None = None
        self.cpu_first: float | None = None
        self.cpu_last: float | None = None

    @property
    def finished(self) -> bool:
        return len(self.records) >= self.expected

    def received(self) -> None:
        """Call when records arrive; the first call starts the measured window."""
        if self.first_ms is None:
            self.first_ms = time.time() * 1000
            self.cpu_first = cpu_seconds()
            sys.stdout.write("received\n")
            sys.stdout.flush()

    def done(self, items: list[tuple[int, int, int]]) -> None:
        """``items`` of ``(partition, offset, timestamp_ms)`` whose documents are stored now."""
        now_ms = time.time() * 1000
        self.cpu_last = cpu_seconds()
        self.records.extend((p, o, ts, now_ms) for p, o, ts in items)
        sys.stdout.write(f"n={len(self.records)}\n")
        sys.stdout.flush()

    def write(self) -> None:
        self.out.write_text(
            json.dumps(
                {
                    "records": self.records,
                    "first_ms": self.first_ms,
                    "cpu_first": self.cpu_first,
                    "cpu_last": self.cpu_last,
                }
            ),
            encoding="utf-8",
        )
