"""The Pebble function read(): internal storage URIs and local paths."""

from __future__ import annotations

from pathlib import Path

import pytest

from kflow.errors import ExpressionError
from kflow.expr import compile_template
from kflow.storage import LocalStorage


@pytest.fixture
def storage(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> LocalStorage:
    monkeypatch.setenv("KFLOW_STORAGE_DIR", str(tmp_path / "storage"))
    return LocalStorage(tmp_path / "storage")


def render(template: str, **variables: object) -> str:
    return compile_template(template).render(variables)


def test_read_returns_a_storage_files_content(storage: LocalStorage) -> None:
    uri, _ = storage.write_records("kestra:///dev/f/executions/E/tasks/t/R", [{"a": 1}, "b"])
    assert render("{{ read(outputs.t.uri) }}", outputs={"t": {"uri": uri}}) == '{a:1}\n"b"\n'
    assert render("{{ read(path=u) | length }}", u=uri) == "10"


def test_read_reads_local_paths_and_file_uris(storage: LocalStorage, tmp_path: Path) -> None:
    local = tmp_path / "note é.txt"
    local.write_text("hello\n", encoding="utf-8")
    assert render("{{ read(p) }}", p=str(local)) == "hello\n"
    assert render("{{ read(p) }}", p=local.as_uri()) == "hello\n"


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("kestra:///dev/../../etc/passwd", "read: internal storage URI .* is refused"),
        ("kestra:///dev/missing.ion", r"read: kestra:///dev/missing\.ion: no such file"),
        ("/no/such/file.txt", "read: no such file /no/such/file.txt"),
    ],
)
def test_read_errors_are_one_clear_line(storage: LocalStorage, path: str, message: str) -> None:
    with pytest.raises(ExpressionError, match=message) as failed:
        render("{{ read(p) }}", p=path)
    assert "\n" not in str(failed.value)


def test_read_needs_a_path(storage: LocalStorage) -> None:
    with pytest.raises(ExpressionError, match=r"read: expects a path.*got null"):
        render("{{ read(null) }}")
