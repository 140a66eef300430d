"""The ``sales-model`` command line: the main job, its exit codes and ``python -m`` access."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from sales_model.cli import main


def test_check_quick_passes_on_the_model(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """``check --budget quick`` runs every engine on both profiles, prints a summary per profile and exits 0."""
    assert main(["check", "--budget", "quick", "--report-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "== codex-535 (budget quick) ==" in out
    assert "== codex-head (budget quick) ==" in out
    assert "rules hit per operation:" in out
    assert "invariants checked:" in out
    for engine in ("proofs", "exhaustive", "coverage"):
        assert f"-- codex-head {engine}: ok" in out
    assert "OK: no violation" in out


def test_check_finds_a_broken_variant_and_exits_1(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """``check --variant`` on a broken model reports the violated rule and exits 1."""
    argv = ["check", "--budget", "quick", "--profile", "codex-535", "--variant", "delete_keeps_bytes"]
    assert main([*argv, "--report-dir", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "delete_returns_remaining_bytes" in out
    assert "FAILED: violations in codex-535" in out
    assert "shrunk program:" in out


def test_invalid_subcommand_exits_2() -> None:
    """An unknown subcommand is a usage error: exit code 2."""
    assert main(["bogus"]) == 2


def test_invalid_variant_for_profile_exits_2() -> None:
    """A variant that does not exist in the chosen profile is a usage error: exit code 2."""
    assert main(["check", "--profile", "codex-535", "--variant", "return_twice"]) == 2


def test_missing_subcommand_exits_2() -> None:
    """No subcommand prints the help and exits 2."""
    assert main([]) == 2


def test_python_m_runs_the_cli() -> None:
    """``python -m sales_model --help`` works as the console script does."""
    done = subprocess.run([sys.executable, "-m", "sales_model", "--help"], capture_output=True, text=True, check=False)
    assert done.returncode == 0
    assert "check" in done.stdout
