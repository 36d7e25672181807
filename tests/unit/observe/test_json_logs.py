"""--log-format json: each line written to stderr, from any thread, is one JSON object."""

from __future__ import annotations

import io
import json
import sys
import threading
from datetime import UTC, datetime

import pytest

from kflow.observe.logs import JsonLines, json_line, level_of, use_json_stderr


@pytest.mark.parametrize(
    ("line", "level"),
    [
        ("kflow: error: cannot reach Kafka at 127.0.0.1:9", "error"),
        ("kflow: flow.yaml is not a valid flow; nothing was run", "error"),
        ("flow.yaml:3:5 tasks.x.type: unknown task type 'Nope'", "error"),
        ("flow.yaml:16:5 tasks.q.fetchOne: warning: 'fetchOne' is deprecated", "warning"),
        ("/x.py:3: DeprecationWarning: old", "warning"),
        ("kflow run: trigger daily: assigned orders[0,1]", "info"),
        ("kflow run: trigger daily: commit failed: Kafka at x did not answer", "warning"),
        ("kflow run: stopped (signal) after 3.0 s: 10 executions (SUCCESS 10), 3.3/s", "info"),
        ("Traceback (most recent call last):", "error"),
        ("kflow.errors.FlowError: flow y.x has no trigger", "error"),
    ],
)
def test_the_level_is_read_from_the_line(line: str, level: str) -> None:
    assert level_of(line) == level


def test_an_indented_line_continues_the_level_of_the_one_before() -> None:
    assert level_of('  File "x.py", line 3, in f', "error") == "error"


def test_a_line_is_an_object_with_ts_level_message_and_the_flow_when_known() -> None:
    now = datetime(2026, 12, 1, 16, 30, 0, 123456, UTC)
    assert json.loads(json_line('a "quoted" é', "info", "dev.f", now)) == {
        "ts": "2026-12-01T16:30:00.123Z",
        "level": "info",
        "message": 'a "quoted" é',
        "flow": "dev.f",
    }
    assert "flow" not in json.loads(json_line("x", "info", None, now))


def test_print_from_many_threads_gives_whole_lines_only() -> None:
    out = io.StringIO()
    stream = JsonLines(out, flow="dev.f")

    def talk(n: int) -> None:
        for i in range(200):
            print(f"kflow run: thread {n} line {i}", file=stream)

    threads = [threading.Thread(target=talk, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    assert len(records) == 800
    assert {r["message"] for r in records} == {
        f"kflow run: thread {n} line {i}" for n in range(4) for i in range(200)
    }
    assert {r["flow"] for r in records} == {"dev.f"}


def test_an_unfinished_line_is_written_at_the_end_and_blank_lines_are_dropped() -> None:
    out = io.StringIO()
    stream = JsonLines(out)
    stream.write("one\n\n  \ntw")
    stream.write("o")
    assert [json.loads(x)["message"] for x in out.getvalue().splitlines()] == ["one"]
    stream.finish()
    assert [json.loads(x)["message"] for x in out.getvalue().splitlines()] == ["one", "two"]


def test_use_json_stderr_replaces_stderr_once(monkeypatch: pytest.MonkeyPatch) -> None:
    out = io.StringIO()
    monkeypatch.setattr(sys, "stderr", out)
    monkeypatch.setattr("atexit.register", lambda f: f)
    stream = use_json_stderr()
    assert sys.stderr is stream and use_json_stderr("dev.f") is stream
    print("kflow: error: boom", file=sys.stderr)
    assert json.loads(out.getvalue())["level"] == "error"
