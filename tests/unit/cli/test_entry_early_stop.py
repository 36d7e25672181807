"""SIGTERM while ``kflow run`` is still starting (importing, connecting) is a clean stop."""

from __future__ import annotations

import os
import signal

import pytest

import kflow.cli.app
from kflow.cli import entry


def test_sigterm_before_the_run_reads_exits_0_with_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def starting() -> None:  # stands for the imports and connections before reading
        os.kill(os.getpid(), signal.SIGTERM)
        raise AssertionError("SIGTERM did not stop the start")

    previous = signal.getsignal(signal.SIGTERM)
    monkeypatch.setattr("sys.argv", ["kflow", "run", "flow.yaml"])
    monkeypatch.setattr(kflow.cli.app, "app", starting)
    try:
        with pytest.raises(SystemExit) as stopped:
            entry.main()
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert stopped.value.code == 0
    assert capsys.readouterr().err == "kflow run: stopped (SIGTERM) before reading anything\n"


def test_other_commands_keep_the_default_sigterm(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[object] = []
    monkeypatch.setattr("sys.argv", ["kflow", "seed", "products"])
    monkeypatch.setattr(kflow.cli.app, "app", lambda: seen.append(signal.getsignal(signal.SIGTERM)))
    before = signal.getsignal(signal.SIGTERM)
    entry.main()
    assert seen == [before]
