"""``kflow run`` from the command line, without services: --event, exit codes, bad flows."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from typer.testing import CliRunner

from kflow.cli.app import app

RUNNER = CliRunner()

FLOW = """
id: check_order
namespace: shop
tasks:
  - id: check
    type: io.kestra.plugin.core.execution.Fail
    condition: "{{ trigger.value.qty < 1 }}"
    errorMessage: "order {{ trigger.value.id }} has no quantity"
  - id: done
    type: io.kestra.plugin.core.debug.Return
    format: "{{ trigger.value.id }} by {{ trigger.key }}"
triggers:
  - id: orders
    type: io.kestra.plugin.kafka.RealtimeTrigger
    topic: orders
    groupId: g
    valueDeserializer: JSON
    properties:
      bootstrap.servers: 127.0.0.1:9092
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "flow.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_event_success_prints_one_json_execution(tmp_path: Path) -> None:
    flow = write(tmp_path, FLOW)
    result = RUNNER.invoke(
        app, ["run", str(flow), "--event", '{"id": "o1", "qty": 2}', "--key", "k", "--json"]
    )
    assert result.exit_code == 0, result.output
    [line] = result.stdout.strip().splitlines()
    record = json.loads(line)
    assert record["state"] == "SUCCESS"
    assert record["namespace"] == "shop" and record["flowId"] == "check_order"
    assert record["outputs"]["done"] == {"value": "o1 by k"}
    assert [t["taskId"] for t in record["taskRuns"]] == ["check", "done"]
    assert {"id", "startDate", "endDate", "durationMs", "trigger", "error"} <= set(record)


def test_event_failure_exits_1_with_the_error(tmp_path: Path) -> None:
    flow = write(tmp_path, FLOW)
    result = RUNNER.invoke(app, ["run", str(flow), "--event", '{"id": "o2", "qty": 0}'])
    assert result.exit_code == 1
    assert result.stdout.startswith("FAILED ")
    assert "error: task check: order o2 has no quantity" in result.stdout


def test_event_that_is_not_json_fails_its_execution(tmp_path: Path) -> None:
    flow = write(tmp_path, FLOW)
    result = RUNNER.invoke(app, ["run", str(flow), "--event", "{oops", "--json"])
    assert result.exit_code == 1
    record = json.loads(result.stdout)
    assert record["taskRuns"] == []
    assert "cannot deserialize --event as JSON" in record["error"]


def test_an_invalid_flow_is_not_run(tmp_path: Path) -> None:
    flow = write(tmp_path, FLOW.replace("errorMessage", "errorMesage"))
    result = RUNNER.invoke(app, ["run", str(flow), "--event", "{}"])
    assert result.exit_code == 1
    assert "unknown property 'errorMesage'" in result.stderr
    assert "nothing was run" in result.stderr


def test_a_flow_without_realtime_trigger_says_to_use_event(tmp_path: Path) -> None:
    flow = write(tmp_path, FLOW.split("triggers:")[0])
    proc = subprocess.run(
        [sys.executable, "-m", "kflow", "run", str(flow), "--timeout", "1"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 1
    [line] = proc.stderr.strip().splitlines()  # one clear line, no traceback
    assert "no enabled realtime trigger" in line and "--event" in line


def test_a_missing_file_is_a_usage_error(tmp_path: Path) -> None:
    result = RUNNER.invoke(app, ["run", str(tmp_path / "nope.yaml"), "--event", "{}"])
    assert result.exit_code == 2


def test_every_option_has_help() -> None:
    result = RUNNER.invoke(app, ["run", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    for option in (
        "--json",
        "--max-executions",
        "--timeout",
        "--event",
        "--key",
        "--concurrency",
        "--from-beginning",
        "--dead-letter-topic",
        "--topic",
        "--group-id",
        "--bootstrap-servers",
    ):
        assert option in result.stdout


INPUTS_FLOW = """
id: greet
namespace: demo
inputs:
  - id: name
    type: STRING
  - id: count
    type: INT
    defaults: 2
  - id: token
    type: SECRET
    required: false
tasks:
  - id: out
    type: io.kestra.plugin.core.debug.Return
    format: "{{ inputs.name }} x{{ inputs.count + 1 }} {{ inputs.token ?? '-' }}"
"""


def test_inputs_from_the_command_line_and_a_file_are_typed(tmp_path: Path) -> None:
    flow = write(tmp_path, INPUTS_FLOW)
    values = tmp_path / "inputs.yaml"
    values.write_text("name: Ada\ncount: 5\n", encoding="utf-8")
    args = ["run", str(flow), "--event", "{}", "--json", "--inputs-file", str(values)]
    result = RUNNER.invoke(app, [*args, "--input", "count=41", "--input", "token=s3cr3t"])
    assert result.exit_code == 0, result.output
    (execution,) = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    value = execution["outputs"]["out"]["value"]
    assert value == "Ada x42 ***"  # --input wins over the file; the secret input is masked
    assert "s3cr3t" not in result.output


def test_bad_inputs_stop_the_run_before_it_starts_naming_each_problem(tmp_path: Path) -> None:
    flow = write(tmp_path, INPUTS_FLOW)
    result = RUNNER.invoke(app, ["run", str(flow), "--event", "{}", "--input", "count=many"])
    assert result.exit_code == 2
    assert "input 'name': missing required input" in result.output
    assert "input 'count': expected INT, got 'many'" in result.output
