"""kestra:// URIs: the storage directory, Kestra's layout, and refusing URIs that escape."""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

import pytest

from kflow.errors import DataError
from kflow.storage import (
    LocalStorage,
    execution_prefix,
    kestra_slug,
    relative_path,
    storage_root,
    task_prefix,
    trigger_prefix,
)


def test_storage_root_defaults_under_the_current_directory(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("KFLOW_STORAGE_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    assert storage_root() == tmp_path / ".kflow" / "storage"


def test_storage_root_follows_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("KFLOW_STORAGE_DIR", str(tmp_path / "files"))
    assert storage_root() == tmp_path / "files"


def test_task_files_follow_kestras_layout() -> None:
    # namespace dots become directories; flow and task ids are slugified as Kestra does
    assert task_prefix("shop.returns", "drain_returns", "EX1", "read_returns", "TR1") == (
        "kestra:///shop/returns/drain-returns/executions/EX1/tasks/read-returns/TR1"
    )
    assert execution_prefix("dev", "f", "E") == "kestra:///dev/f/executions/E"
    assert trigger_prefix("dev", "f", "E", "poll_kafka") == (
        "kestra:///dev/f/executions/E/trigger/poll-kafka"
    )


@pytest.mark.parametrize(
    ("text", "slug"),
    [("get_detailed_order", "get-detailed-order"), ("Flow.V2", "flowv2"), ("a  b", "a-b")],
)
def test_kestra_slug(text: str, slug: str) -> None:
    assert kestra_slug(text) == slug


@pytest.mark.parametrize(
    ("uri", "path"),
    [
        ("kestra:///dev/f/executions/E/x.ion", "dev/f/executions/E/x.ion"),
        ("kestra://dev/x.ion", "dev/x.ion"),
        ("kestra:///dev//a%20b.ion", "dev/a b.ion"),
    ],
)
def test_uris_map_to_paths_inside_the_storage(uri: str, path: str) -> None:
    assert relative_path(uri) == PurePosixPath(path)


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("kestra:///dev/../../etc/passwd", "'..'"),
        ("kestra:///%2E%2E/outside.ion", "'..'"),
        ("kestra:///dev/./x.ion", "'.'"),
        ("kestra:///a\\..\\b", "backslash"),
        ("kestra:///", "names no file"),
        ("file:///etc/passwd", "not an internal storage URI"),
        ("/etc/passwd", "not an internal storage URI"),
    ],
)
def test_uris_that_could_escape_are_refused(uri: str, message: str) -> None:
    with pytest.raises(DataError, match=message) as refused:
        relative_path(uri)
    assert repr(uri) in str(refused.value)


def test_local_storage_maps_uris_under_its_root(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    assert storage.path_of("kestra:///dev/f/x.ion") == tmp_path / "dev" / "f" / "x.ion"
    with pytest.raises(DataError, match="refused"):
        storage.path_of("kestra:///dev/../../x.ion")


def test_a_symbolic_link_out_of_the_storage_is_refused(tmp_path: Path) -> None:
    root, outside = tmp_path / "storage", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (outside / "secret.ion").write_text("1\n")
    os.symlink(outside, root / "link")
    storage = LocalStorage(root)
    with pytest.raises(DataError, match="resolves outside"):
        storage.read_text("kestra:///link/secret.ion")
