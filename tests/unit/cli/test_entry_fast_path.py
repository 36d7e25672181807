"""``kflow validate`` answered without Typer says exactly what the Typer command says."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kflow.cli.app import app

REPO = Path(__file__).resolve().parents[3]
GOOD = REPO / "samples" / "get_detailed_order.yaml"


def fast(*args: str) -> subprocess.CompletedProcess[str]:
    code = (
        "import sys; from kflow.cli.entry import main; sys.argv = ['kflow', *sys.argv[1:]]; main()"
    )
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, check=False
    )


@pytest.mark.parametrize("extra", [[], ["--json"]])
def test_fast_path_matches_the_typer_command(tmp_path: Path, extra: list[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("id: x\nnamespace: t\ntasks:\n  - id: a\n    type: nope.Task\n")
    args = ["validate", str(GOOD), str(bad), *extra]
    via_typer = CliRunner().invoke(app, args)
    direct = fast(*args)
    assert direct.returncode == via_typer.exit_code == 1
    assert direct.stdout == via_typer.stdout


def test_fast_path_does_not_load_typer() -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; sys.argv=['kflow','validate',sys.argv[1]]\n"
            "from kflow.cli.entry import _fast_validate\n"
            "code = _fast_validate(sys.argv[1:])\n"
            "print(code, 'typer' in sys.modules, 'rich' in sys.modules)",
            str(GOOD),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.stdout.strip().splitlines()[-1] == "0 False False"


def test_help_and_options_still_go_through_typer() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "kflow", "validate", "--help"],
        capture_output=True,
        text=True,
        check=False,
        env={"COLUMNS": "120", "PATH": ""},
    )
    assert proc.returncode == 0
    assert "--json" in proc.stdout
