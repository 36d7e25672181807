"""The exit codes docs/production.md documents for supervisors are the ones kflow returns."""

from __future__ import annotations

import os
import re
import signal
import textwrap
from pathlib import Path

import pytest

import kflow.run.fleet as fleet
import kflow.run.session as session
from kflow.cli import entry
from kflow.engine.execution import TriggerRecord
from kflow.engine.memory_source import MemorySource
from kflow.engine.service import FlowService
from kflow.flow import load_flow_text

DOC = Path(__file__).resolve().parents[3] / "docs" / "production.md"

TRIGGER = """
triggers:
  - id: orders
    type: io.kestra.plugin.kafka.RealtimeTrigger
    topic: orders
    groupId: g
    properties:
      bootstrap.servers: 127.0.0.1:9
"""


def documented_codes() -> set[int]:
    section = DOC.read_text(encoding="utf-8").split("## Exit codes", 1)[1].split("\n## ", 1)[0]
    return {int(m) for m in re.findall(r"^\| (\d+) \|", section, re.MULTILINE)}


def kflow(monkeypatch: pytest.MonkeyPatch, *args: str) -> int:
    """``kflow ARGS`` in this process, through the entry point; its exit code."""
    monkeypatch.setattr("sys.argv", ["kflow", *args])
    monkeypatch.setattr(signal, "signal", lambda *a: None)  # entry's early SIGTERM handler
    with pytest.raises(SystemExit) as ended:
        entry.main()
    return int(ended.value.code or 0)


def flow_file(tmp_path: Path, tasks: str, trigger: str = "") -> Path:
    path = tmp_path / "flow.yaml"
    path.write_text(f"id: codes\nnamespace: t\ntasks:\n{textwrap.dedent(tasks)}{trigger}")
    return path


RETURN = """
  - id: done
    type: io.kestra.plugin.core.debug.Return
    format: "{{ trigger.value }}"
"""
FAIL = """
  - id: no
    type: io.kestra.plugin.core.execution.Fail
    errorMessage: "refused"
"""


def test_the_documented_codes_are_0_1_2_and_130() -> None:
    assert documented_codes() == {0, 1, 2, 130}


def test_0_and_1_for_an_event_that_succeeds_or_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert kflow(monkeypatch, "run", str(flow_file(tmp_path, RETURN)), "--event", "1") == 0
    assert kflow(monkeypatch, "run", str(flow_file(tmp_path, FAIL)), "--event", "1") == 1


def test_1_for_an_invalid_flow_or_an_error_that_ends_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    invalid = flow_file(tmp_path, "  - id: x\n    type: io.kestra.nope.Task\n")
    assert kflow(monkeypatch, "run", str(invalid)) == 1
    no_trigger = flow_file(tmp_path, RETURN)
    assert kflow(monkeypatch, "run", str(no_trigger)) == 1
    assert "kflow: error: flow t.codes has no enabled realtime trigger" in capsys.readouterr().err


def test_2_for_usage_errors_and_unreadable_flows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert kflow(monkeypatch, "run", str(tmp_path / "missing.yaml")) == 2
    ok = flow_file(tmp_path, RETURN)
    assert kflow(monkeypatch, "run", str(ok), "--metrics-port", "-1") == 2
    assert kflow(monkeypatch, "run", str(ok), "--log-format", "xml") == 2


def test_130_after_a_second_sigterm_and_0_after_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The run's own signal handling, on a source in memory: the first SIGTERM asks for a
    graceful stop, a second one during it cancels the execution still running."""
    monkeypatch.chdir(tmp_path)
    sleepy = """
  - id: nap
    type: io.kestra.plugin.core.flow.Sleep
    duration: PT30S
"""
    flow = load_flow_text(f"id: codes\nnamespace: t\ntasks:{sleepy}{TRIGGER}", for_run=True).flow
    quick = load_flow_text(f"id: codes\nnamespace: t\ntasks:{RETURN}{TRIGGER}", for_run=True).flow
    assert flow is not None and quick is not None
    monkeypatch.setattr(session, "build_source", lambda *a: MemorySource([TriggerRecord(1)]))
    presses: list[int] = []

    class Signalled(FlowService):
        def _dispatch(self, record: TriggerRecord) -> None:
            super()._dispatch(record)
            os.kill(os.getpid(), signal.SIGTERM)  # the first: stop gracefully

        def request_stop(self, reason: str = "signal") -> None:
            first = not self.stopping
            super().request_stop(reason)
            if first and reason == "signal" and len(presses) > 0:
                os.kill(os.getpid(), signal.SIGTERM)  # the second, once the first is handled

    monkeypatch.setattr(fleet, "FlowService", Signalled)
    assert session.run_flow(quick, session.RunOptions()) == 0  # one SIGTERM: finished, 0
    presses.append(2)
    assert session.run_flow(flow, session.RunOptions()) == 130
