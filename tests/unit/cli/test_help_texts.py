"""Every command's --help renders: rich reads help texts as markup, so a stray [/X] or
[default: ...] in one breaks or swallows it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from kflow.cli.app import app


def command_paths() -> Iterator[list[str]]:
    def walk(command: Any, path: list[str]) -> Iterator[list[str]]:
        yield path
        for name, sub in getattr(command, "commands", {}).items():
            yield from walk(sub, [*path, name])

    yield from walk(typer.main.get_command(app), [])


@pytest.mark.parametrize("path", list(command_paths()), ids=lambda p: " ".join(p) or "kflow")
def test_help_renders_every_option(path: list[str]) -> None:
    result = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "400"})
    assert result.exit_code == 0, result.output
    command = typer.main.get_command(app)
    for name in path:
        command = command.commands[name]  # type: ignore[attr-defined]
    shown = " ".join(result.output.replace("│", " ").split())  # long helps wrap in the table
    for param in command.params:
        help_text = getattr(param, "help", None)
        if param.param_type_name == "option" and help_text and not getattr(param, "hidden", False):
            text = " ".join(help_text.replace("\\[", "[").split())
            assert text in shown, (param.name, text)
