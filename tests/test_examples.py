"""The committed example reports in docs/counterexamples/ are what the engines find today.

Rules:
1. The check regenerates every example in memory (the exhaustive search of the ``tiny`` scope and
   two Z3 obligations with their triage: a few seconds) and compares it byte for byte.
2. A second process with another ``PYTHONHASHSEED`` agrees: the examples do not depend on hash order.
3. ``--check`` reports a differing, a missing and an extra file, and exits 1.

When this fails after a change to the model, the engines or the renderings, regenerate with
``python -m reports.examples`` and review the diff.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from reports import examples

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def expected() -> dict[str, str]:
    return examples.files()


def test_committed_examples_are_up_to_date(expected: dict[str, str]) -> None:
    problems = examples.differences(examples.DIRECTORY, expected)
    assert problems == [], "regenerate with `python -m reports.examples`:\n" + "\n".join(problems)


def test_examples_cover_the_known_violations(expected: dict[str, str]) -> None:
    index = expected[examples.INDEX]
    for reference in (
        "spec §3.3: SaleErrored passes no collateral",
        "spec §3.3 collateral leak",
        "nim-codex#1147",
        "return_bytes_unguarded",
    ):
        assert f"Known: {reference}" in index
    assert sum(1 for name in expected if name.endswith(".md") and name != examples.INDEX) == len(examples.EXAMPLES)
    assert sum(1 for name in expected if name.endswith(".itf.json")) == len(examples.EXAMPLES)
    assert sum(1 for name in expected if name.startswith("test_")) == len(examples.EXAMPLES)


def test_check_in_another_process_with_another_hash_seed() -> None:
    seed = "0" if os.environ.get("PYTHONHASHSEED") == "1" else "1"
    done = subprocess.run(
        [sys.executable, "-m", "reports.examples", "--check"],
        cwd=ROOT,
        env={**os.environ, "PYTHONHASHSEED": seed},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_check_lists_differing_missing_and_extra_files(expected: dict[str, str], tmp_path: Path) -> None:
    for name, text in expected.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    assert examples.differences(tmp_path, expected) == []
    changed, removed = sorted(n for n in expected if n != examples.INDEX)[:2]
    (tmp_path / changed).write_text("edited by hand\n", encoding="utf-8")
    (tmp_path / removed).unlink()
    (tmp_path / "stale.md").write_text("old\n", encoding="utf-8")
    assert examples.differences(tmp_path, expected) == [
        f"differs: {tmp_path / changed}",
        f"missing: {tmp_path / removed}",
        f"extra: {tmp_path / 'stale.md'}",
    ]


def test_committed_regression_files_pass_and_replay() -> None:
    """Each committed ``test_*.py`` reproduces its example on the model, and each ``.itf.json`` replays."""
    tests = sorted(examples.DIRECTORY.glob("test_*.py"))
    assert len(tests) == 4
    ran = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *map(str, tests)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
    from reports.itf import load
    from reports.replay import replay

    for trace in sorted(examples.DIRECTORY.glob("*.itf.json")):
        report = replay(load(trace))
        assert report.ok, (trace.name, report.lines())
