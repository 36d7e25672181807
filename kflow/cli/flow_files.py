"""Which files a list of flow arguments names: files as given, directories by their flows.

One rule for every command that takes ``FLOW_OR_DIR...`` (``kflow validate``, ``kflow run``):
a directory stands for the ``*.yaml`` and ``*.yml`` files directly in it, sorted by name.
Hidden files (an editor's ``.#flow.yaml`` lock, a ``.flow.yaml`` being saved) are skipped.
"""

from __future__ import annotations

from pathlib import Path

TYPE_CHECKING = False  # not typing's: kflow validate must not import typing (~3 ms)
if TYPE_CHECKING:
    from collections.abc import Sequence

FLOW_SUFFIXES = (".yaml", ".yml")


def is_flow_file(path: Path) -> bool:
    return path.suffix in FLOW_SUFFIXES and not path.name.startswith(".")


def flow_files(paths: Sequence[Path]) -> list[Path]:
    """Files as given; directories replaced by their flow files, sorted."""
    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            out.extend(sorted(p for p in path.iterdir() if is_flow_file(p) and p.is_file()))
        else:
            out.append(path)
    return out
