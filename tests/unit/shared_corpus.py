"""Where the tests find material that lives outside the repository, and what they do without it.

The project workspace (and CI) lays a ``shared/`` folder beside the clone:
``../shared/kestra-flows`` holds the flows written by the Kestra project (read from there, never
copied) and ``../shared/seed`` the blog post the project started from. A user's clone has no
``../shared``, so every test that reads it skips, each with :data:`KESTRA_FLOWS_MISSING` (or
:data:`SEED_POST_MISSING`).

``KFLOW_SHARED_DIR`` names the shared folder instead; a folder that does not exist
(``KFLOW_SHARED_DIR=/nonexistent``) runs the suite as a user's clone would.

The project's own corpus, :data:`CONFORMANCE`, is in the repository and always there.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
ENV_VAR = "KFLOW_SHARED_DIR"

#: Flows written for kflow's tests, with their EXPECT.tsv (see its README.md).
CONFORMANCE = REPO_ROOT / "tests" / "fixtures" / "conformance"


def shared_dir() -> Path:
    """``$KFLOW_SHARED_DIR`` when set (and not empty), else ``shared`` beside the repository."""
    override = os.environ.get(ENV_VAR)
    return Path(override) if override else REPO_ROOT.parent / "shared"


def missing_reason(relative: str, why: str) -> str:
    """The skip reason of a test whose file ``shared/<relative>`` is absent."""
    if os.environ.get(ENV_VAR):
        return f"{shared_dir() / relative} not found ({ENV_VAR} is set): {why}"
    return f"../shared/{relative} not found beside the repository: {why}; set {ENV_VAR} to use it"


KESTRA_FLOWS = shared_dir() / "kestra-flows"
KESTRA_FLOWS_MISSING = missing_reason(
    "kestra-flows", "the Kestra-written corpus is only in the project workspace"
)
SEED_POST = shared_dir() / "seed" / "realtime-triggers-blog.md"
SEED_POST_MISSING = missing_reason(
    "seed/realtime-triggers-blog.md", "the seed blog post is only in the project workspace"
)

#: Marks a test that reads ../shared/kestra-flows.
needs_kestra_flows = pytest.mark.skipif(not KESTRA_FLOWS.is_dir(), reason=KESTRA_FLOWS_MISSING)


def kestra_flow(name: str) -> Path:
    """The path of one Kestra-written flow; skips the calling test when the corpus is absent."""
    if not KESTRA_FLOWS.is_dir():
        pytest.skip(KESTRA_FLOWS_MISSING)
    return KESTRA_FLOWS / name


def kestra_flow_params() -> list[Any]:
    """One parameter per Kestra-written flow, or one skipped parameter saying why there are none."""
    if not KESTRA_FLOWS.is_dir():
        return [_absent()]
    return [pytest.param(path, id=path.stem) for path in sorted(KESTRA_FLOWS.glob("*.yaml"))]


def kestra_expectation_params() -> list[Any]:
    """``(file, expect, regex)`` per row of the Kestra corpus's EXPECT.tsv (or one skipped)."""
    if not KESTRA_FLOWS.is_dir():
        return [_absent(3)]
    return [pytest.param(*row, id=row[0]) for row in read_expectations(KESTRA_FLOWS)]


def conformance_params() -> list[Any]:
    """One parameter per flow of the project's own corpus."""
    return [pytest.param(path, id=path.stem) for path in sorted(CONFORMANCE.glob("*.yaml"))]


def read_expectations(folder: Path) -> list[tuple[str, str, str]]:
    """The rows of ``folder/EXPECT.tsv``: file, expect, regex (see the corpus's README.md)."""
    with (folder / "EXPECT.tsv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    return [(row["file"], row["expect"], row["regex"] or "") for row in rows]


def seed_post() -> Path:
    """The seed blog post; skips the calling test when it is absent."""
    if not SEED_POST.is_file():
        pytest.skip(SEED_POST_MISSING)
    return SEED_POST


def _absent(arity: int = 1) -> Any:
    values = (None,) * arity
    mark = pytest.mark.skip(reason=KESTRA_FLOWS_MISSING)
    return pytest.param(*values, marks=mark, id="kestra-flows-absent")
