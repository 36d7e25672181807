"""``kflow run --watch``'s view of the flow files, and which files a directory stands for."""

from __future__ import annotations

from pathlib import Path

from kflow.cli.flow_files import flow_files
from kflow.run.watch import Changes, FlowFileWatch

FLOW = "id: a\nnamespace: t\ntasks: []\n"


def test_a_directory_stands_for_its_visible_yaml_files_sorted(tmp_path: Path) -> None:
    for name in ("b.yml", "a.yaml", ".#a.yaml", "notes.txt", "c.yaml.swp"):
        (tmp_path / name).write_text(FLOW)
    (tmp_path / "sub.yaml").mkdir()
    given = tmp_path / "elsewhere.yaml"
    assert flow_files([tmp_path, given]) == [tmp_path / "a.yaml", tmp_path / "b.yml", given]


def watched(tmp_path: Path) -> tuple[FlowFileWatch, Path]:
    path = tmp_path / "a.yaml"
    path.write_text(FLOW)
    watch = FlowFileWatch([tmp_path])
    watch.start()
    return watch, path.resolve()


def test_an_edit_is_reported_once_it_has_settled_and_only_once(tmp_path: Path) -> None:
    watch, path = watched(tmp_path)
    path.write_text(FLOW + "labels: {v: 2}\n")
    assert watch.poll() == Changes()  # seen once: it may still be being written
    assert watch.poll() == Changes(changed=(path,))
    assert watch.poll() == Changes()


def test_a_touch_or_a_save_without_edits_is_not_a_change(tmp_path: Path) -> None:
    watch, path = watched(tmp_path)
    path.write_text(FLOW)
    path.touch()
    assert [watch.poll(), watch.poll()] == [Changes(), Changes()]


def test_a_file_seen_half_written_is_read_once_whole(tmp_path: Path) -> None:
    watch, path = watched(tmp_path)
    edited = FLOW + "labels: {v: 2}\n"
    path.write_text(edited[:10])
    assert watch.poll() == Changes()
    path.write_text(edited)
    assert watch.poll() == Changes()  # whole now, but not yet the same twice
    assert watch.poll() == Changes(changed=(path,))


def test_a_broken_edit_is_reported_once_and_an_undo_again(tmp_path: Path) -> None:
    watch, path = watched(tmp_path)
    path.write_text("id: [")
    watch.poll()
    assert watch.poll() == Changes(changed=(path,))
    assert watch.poll() == Changes()
    path.write_text(FLOW)  # back to what runs: the run is told, and finds nothing new
    watch.poll()
    assert watch.poll() == Changes(changed=(path,))


def test_added_and_removed_files(tmp_path: Path) -> None:
    watch, path = watched(tmp_path)
    added = tmp_path / "b.yaml"
    added.write_text(FLOW.replace("id: a", "id: b"))
    path.unlink()
    watch.poll()
    assert watch.poll() == Changes(changed=(added.resolve(),), removed=(path,))
    assert watch.poll() == Changes()


def test_a_named_file_that_goes_away_and_comes_back(tmp_path: Path) -> None:
    path = tmp_path / "a.yaml"
    path.write_text(FLOW)
    watch = FlowFileWatch([path])
    watch.start()
    path.unlink()
    watch.poll()
    assert watch.poll() == Changes(removed=(path.resolve(),))
    path.write_text(FLOW)
    watch.poll()
    assert watch.poll() == Changes(changed=(path.resolve(),))
