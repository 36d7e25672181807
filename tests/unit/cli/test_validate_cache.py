"""The cache of ``kflow validate``: hits, misses, invalidation, and replays identical to a run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import kflow
import kflow.flow.loader
from kflow.cli import validate_cache
from kflow.cli.validate_cache import ValidateCache, cache_dir, open_cache, source_stamp
from kflow.cli.validate_report import validate_paths

REPO = Path(__file__).resolve().parents[3]
GOOD = """\
id: f
namespace: t
tasks:
  - id: a
    type: io.kestra.plugin.core.log.Log
    message: hello
  - id: b
    type: io.kestra.plugin.core.log.Log
    message: "{{ outputs.a.x ?? 'none' | upper }}"
"""
BAD = "id: f\nnamespace: t\ntasks:\n  - id: a\n    type: nope.Task\n"


@pytest.fixture
def cache_on(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.delenv("KFLOW_NO_CACHE", raising=False)
    monkeypatch.setenv("KFLOW_CACHE_DIR", str(folder))
    return folder / "validate"


def entries(folder: Path) -> list[Path]:
    return sorted(folder.iterdir()) if folder.is_dir() else []


def run(paths: list[Path], capsys: pytest.CaptureFixture[str], **kw: bool) -> tuple[int, str]:
    code = validate_paths(paths, **kw)
    return code, capsys.readouterr().out


class _Loads:
    """Counts the flows validated afresh."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        real = kflow.flow.loader.load_flow_text

        def counting(*args: object, **kwargs: object) -> object:
            self.count += 1
            return real(*args, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(kflow.flow.loader, "load_flow_text", counting)


def test_a_second_run_replays_the_first_without_validating(
    cache_on: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch
) -> None:
    good, bad = tmp_path / "good.yaml", tmp_path / "bad.yaml"
    good.write_text(GOOD)
    bad.write_text(BAD)
    loads = _Loads(monkeypatch)
    for as_json in (False, True):
        first = run([good, bad], capsys, as_json=as_json)
        second = run([good, bad], capsys, as_json=as_json)
        assert second == first
        assert first[0] == 1
    assert loads.count == 2  # one per file: the JSON runs replayed the text runs' entries
    assert len(entries(cache_on)) == 2


def test_an_edit_of_the_file_is_a_miss(
    cache_on: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch
) -> None:
    flow = tmp_path / "flow.yaml"
    flow.write_text(GOOD)
    assert run([flow], capsys)[0] == 0
    flow.write_text(BAD)
    loads = _Loads(monkeypatch)
    code, out = run([flow], capsys)
    assert code == 1 and "nope.Task" in out
    assert loads.count == 1


def test_the_same_content_at_another_path_is_a_miss(
    cache_on: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "a.yaml").write_text(BAD)
    (tmp_path / "b.yaml").write_text(BAD)
    out_a = run([tmp_path / "a.yaml"], capsys)[1]
    out_b = run([tmp_path / "b.yaml"], capsys)[1]
    assert "a.yaml" in out_a and "b.yaml" in out_b and "a.yaml" not in out_b


def test_an_edit_of_kflow_invalidates_every_entry(tmp_path: Path, monkeypatch) -> None:
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "a.py").write_text("x = 1\n")
    (package / "sub" / "b.py").write_text("y = 2\n")
    before = source_stamp(str(package))
    (package / "sub" / "b.py").write_text("y = 22\n")
    assert source_stamp(str(package)) != before
    cache = ValidateCache(tmp_path / "c", b"one")
    other = ValidateCache(tmp_path / "c", b"two")
    assert cache.key("f.yaml", b"data") != other.key("f.yaml", b"data")
    assert cache.key("f.yaml", b"data") == ValidateCache(tmp_path / "c", b"one").key(
        "f.yaml", b"data"
    )


def test_the_key_follows_kflow_version_sources_and_environment_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = {"KFLOW_CACHE_DIR": str(tmp_path)}

    def key(environ: dict[str, str] = env) -> str:
        cache = open_cache(environ)
        assert cache is not None
        return cache.key("f.yaml", b"x")

    first = key()
    assert key() == first
    with monkeypatch.context() as patch:
        patch.setattr(validate_cache, "source_stamp", lambda folder: b"kflow edited")
        assert key() != first
    with monkeypatch.context() as patch:
        patch.setattr(kflow, "__version__", "9.9.9")
        assert key() != first
    with_secret = key({**env, "SECRET_TOKEN": "c2VjcmV0"})
    assert with_secret != first
    assert key({**env, "SECRET_TOKEN": "b3RoZXI="}) == with_secret  # names, never values
    assert key({**env, "UNRELATED": "1"}) == first


def test_a_corrupt_entry_is_ignored_and_rewritten(
    cache_on: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch
) -> None:
    flow = tmp_path / "flow.yaml"
    flow.write_text(BAD)
    expected = run([flow], capsys)
    (entry,) = entries(cache_on)
    good_bytes = entry.read_bytes()
    loads = _Loads(monkeypatch)
    for broken in (b"", b"garbage", good_bytes[:-3], good_bytes[:20] + b"x" + good_bytes[21:]):
        entry.write_bytes(broken)
        loads.count = 0
        assert run([flow], capsys) == expected
        assert loads.count == 1
        assert entry.read_bytes() == good_bytes


def test_an_entry_of_the_wrong_shape_is_ignored(tmp_path: Path) -> None:
    cache = ValidateCache(tmp_path, b"stamp")
    cache.put("k", 42, [])  # type: ignore[arg-type]
    assert cache.get("k", "f.yaml") is None
    cache.put("k", "t.f", [{"path": "f.yaml"}])
    assert cache.get("k", "f.yaml") is None


def test_writes_are_atomic_and_leave_no_temporary_file(
    cache_on: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    flow = tmp_path / "flow.yaml"
    flow.write_text(GOOD)
    run([flow], capsys)
    assert [p.name.startswith(".") for p in entries(cache_on)] == [False]


def test_an_unwritable_cache_is_no_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.delenv("KFLOW_NO_CACHE", raising=False)
    monkeypatch.setenv("KFLOW_CACHE_DIR", str(blocker))
    flow = tmp_path / "flow.yaml"
    flow.write_text(GOOD)
    assert run([flow], capsys)[0] == 0


@pytest.mark.parametrize("how", ["env", "flag"])
def test_the_cache_can_be_turned_off(
    how: str, cache_on: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch
) -> None:
    flow = tmp_path / "flow.yaml"
    flow.write_text(GOOD)
    if how == "env":
        monkeypatch.setenv("KFLOW_NO_CACHE", "1")
    run([flow], capsys, use_cache=how != "flag")
    assert entries(cache_on) == []


def test_where_the_cache_lives() -> None:
    home = os.path.expanduser("~")
    assert cache_dir({}) == Path(home) / ".cache" / "kflow" / "validate"
    assert cache_dir({"XDG_CACHE_HOME": "/x"}) == Path("/x/kflow/validate")
    assert cache_dir({"XDG_CACHE_HOME": "/x", "KFLOW_CACHE_DIR": "/k"}) == Path("/k/validate")
    assert cache_dir({"KFLOW_NO_CACHE": "1", "KFLOW_CACHE_DIR": "/k"}) is None
    assert cache_dir({"KFLOW_NO_CACHE": "0"}) is not None


def test_no_home_folder_means_no_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os.path, "expanduser", lambda path: path)
    assert cache_dir({}) is None
    assert cache_dir({"XDG_CACHE_HOME": "/x"}) == Path("/x/kflow/validate")


def test_unreadable_files_are_not_cached(
    cache_on: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "latin1.yaml").write_bytes(b"id: caf\xe9\n")
    code = validate_paths([tmp_path / "latin1.yaml", tmp_path / "missing.yaml"])
    captured = capsys.readouterr()
    assert code == 2
    assert "not a UTF-8 text file" in captured.err and "cannot read" in captured.err
    assert entries(cache_on) == []


# ----------------------------------------------------- replayed output, byte for byte

CORPUS = [
    str(p.relative_to(REPO))
    for folder in ("samples", "tests/fixtures/flows", "tests/fixtures/conformance")
    for p in sorted((REPO / folder).glob("*.yaml"))
]


def _kflow(args: list[str], env: dict[str, str]) -> tuple[int, bytes, bytes]:
    proc = subprocess.run(
        [sys.executable, "-m", "kflow", "validate", *args],
        capture_output=True,
        cwd=REPO,
        env=env,
        check=False,
    )
    return proc.returncode, proc.stdout, proc.stderr


@pytest.mark.parametrize("mode", [[], ["--json"]])
def test_a_warm_run_prints_what_a_cold_run_prints(tmp_path: Path, mode: list[str]) -> None:
    env = {**os.environ, "KFLOW_CACHE_DIR": str(tmp_path)}
    env.pop("KFLOW_NO_CACHE", None)
    args = [*CORPUS, "samples", "no-such-file.yaml", *mode]
    cold = _kflow([*args, "--no-cache"], env)
    filling = _kflow(args, env)
    warm = _kflow(args, env)
    assert len(list((tmp_path / "validate").iterdir())) == len(CORPUS)
    assert cold == filling == warm
    assert cold[0] == 2  # the missing file


@pytest.mark.parametrize("path", CORPUS)
def test_each_file_alone_replays_as_it_was_validated(
    path: str, cache_on: Path, capsys: pytest.CaptureFixture[str], monkeypatch
) -> None:
    monkeypatch.chdir(REPO)
    for as_json in (False, True):
        cold = run([Path(path)], capsys, as_json=as_json, use_cache=False)
        filling = run([Path(path)], capsys, as_json=as_json)
        warm = run([Path(path)], capsys, as_json=as_json)
        assert cold == filling == warm
