"""`kflow validate` and `kflow schema` through the CLI runner (plain output, no colour)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from shared_corpus import REPO_ROOT, kestra_flow
from typer.testing import CliRunner

from kflow.cli.app import app

# The blog's flow as the project ships it: valid, with two warnings.
SAMPLE = REPO_ROOT / "samples" / "get_detailed_order.yaml"

runner = CliRunner()


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


def test_blog_flow_is_valid_with_its_two_warnings() -> None:
    blog = kestra_flow("docs-blog-realtime-triggers-1.yaml")
    result = runner.invoke(app, ["validate", str(blog)])
    assert result.exit_code == 0
    assert result.stdout == (
        f"{blog}:14:5 tasks.get_product_from_cassandra.fetchOne: warning: 'fetchOne' is "
        "deprecated: use fetchType: FETCH_ONE\n"
        f"{blog}:46:7 triggers.daily.serdeProperties.valueDeserializer: warning: "
        "valueDeserializer belongs at the top level, not under serdeProperties: Kestra ignores "
        "it there (the value stays a string); kflow honours it (JSON)\n"
        "✓ dev.get_detailed_order\n"
        "1 flow checked: 1 valid, 0 invalid; 0 errors, 2 warnings\n"
    )


def test_invalid_flow_lists_every_problem_and_exits_1(tmp_path: Path) -> None:
    good = write(
        tmp_path,
        "good.yaml",
        """
        id: good
        namespace: dev
        tasks:
          - id: hello
            type: io.kestra.plugin.core.log.Log
            message: hi
        """,
    )
    bad = write(
        tmp_path,
        "bad.yaml",
        """
        id: bad
        namespace: dev
        tasks:
          - id: hello
            type: io.kestra.plugin.core.log.Lg
          - id: insert
            type: io.kestra.plugin.mongodb.InsertOne
            connection: {uri: "mongodb://m"}
            database: d
            collection: c
            document: '{"a": "{{ outputs.nope.x }}"}'
        """,
    )
    result = runner.invoke(app, ["validate", str(good), str(bad)])
    assert result.exit_code == 1
    assert result.stdout == (
        "✓ dev.good\n"
        f"{bad}:5:11 tasks.hello.type: unknown task type io.kestra.plugin.core.log.Lg; "
        "did you mean io.kestra.plugin.core.log.Log?\n"
        f"{bad}:11:26 tasks.insert.document: outputs.nope refers to a task that does not exist\n"
        f"✘ {bad} (2 errors)\n"
        "2 flows checked: 1 valid, 1 invalid; 2 errors, 0 warnings\n"
    )


def test_unreadable_file_exits_2(tmp_path: Path) -> None:
    missing = tmp_path / "missing.yaml"
    result = runner.invoke(app, ["validate", str(SAMPLE), str(missing)])
    assert result.exit_code == 2
    assert f"kflow validate: {missing}: cannot read the flow file" in result.stderr


def test_no_argument_is_a_usage_error() -> None:
    result = runner.invoke(app, ["validate"])
    assert result.exit_code == 2


def test_json_output(tmp_path: Path) -> None:
    bad = write(tmp_path, "bad.yaml", "id: bad\nnamespace: dev\ntasks: []\n")
    result = runner.invoke(app, ["validate", "--json", str(SAMPLE), str(bad)])
    assert result.exit_code == 1
    payload = json.loads(result.stdout)
    assert payload["valid"] is False
    blog, broken = payload["flows"]
    assert blog["valid"] is True and blog["flow"] == "dev.get_detailed_order"
    assert [d["severity"] for d in blog["diagnostics"]] == ["warning", "warning"]
    assert broken["diagnostics"] == [
        {
            "path": str(bad),
            "line": 3,
            "column": 8,
            "key_path": "tasks",
            "message": "must hold at least one task",
            "severity": "error",
            "code": "empty",
            "fails_at_run": False,
        }
    ]


def test_validate_imports_no_database_or_kafka_driver() -> None:
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from kflow.cli.app import app\n"
        f"result = CliRunner().invoke(app, ['validate', {str(SAMPLE)!r}])\n"
        "assert result.exit_code == 0, result.output\n"
        "drivers = ('kafka', 'cassandra', 'pymongo', 'bson')\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & set(drivers)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[]"


def test_schema_command_prints_and_writes_the_schema(tmp_path: Path) -> None:
    printed = runner.invoke(app, ["schema"])
    assert printed.exit_code == 0
    schema = json.loads(printed.stdout)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["required"] == ["id", "namespace", "tasks"]
    target = tmp_path / "flow.schema.json"
    written = runner.invoke(app, ["schema", "--output", str(target)])
    assert written.exit_code == 0
    assert json.loads(target.read_text(encoding="utf-8")) == schema
    assert written.stderr == f"wrote {target}\n"


def test_a_directory_validates_its_flow_files(tmp_path: Path) -> None:
    for name in ("b.yaml", "a.yml"):
        write(
            tmp_path,
            name,
            f"""
            id: {name[0]}
            namespace: dev
            tasks:
              - id: hello
                type: io.kestra.plugin.core.log.Log
                message: hi
            """,
        )
    (tmp_path / "notes.txt").write_text("not a flow", encoding="utf-8")
    result = runner.invoke(app, ["validate", str(tmp_path)])
    assert result.exit_code == 0
    assert result.stdout == (
        "✓ dev.a\n✓ dev.b\n2 flows checked: 2 valid, 0 invalid; 0 errors, 0 warnings\n"
    )
