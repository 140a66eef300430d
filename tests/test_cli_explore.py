"""``sales-model explore``: reports, shortest counterexamples, exit codes and usage errors."""

from __future__ import annotations

import pytest

from sales_model.cli import main


def test_explore_quick_suite_passes(capsys: pytest.CaptureFixture[str]) -> None:
    """``explore --suite quick`` explores both profiles, prints states and coverage, and exits 0."""
    assert main(["explore", "--suite", "quick"]) == 0
    captured = capsys.readouterr()
    assert "== codex-head (suite quick) ==" in captured.out
    assert "== codex-535 (suite quick) ==" in captured.out
    assert "sale table pairs hit:" in captured.out
    assert "coverage not judged" in captured.out
    assert "[codex-head] tiny: depth" in captured.err


def test_explore_variant_prints_the_shortest_counterexample(capsys: pytest.CaptureFixture[str]) -> None:
    """A broken market is found, its shortest counterexample printed, and the exit code is 1."""
    code = main(["explore", "--profile", "codex-head", "--scope", "lifecycle", "--variant", "finish_new_request"])
    out = capsys.readouterr().out
    assert code == 1
    assert "request_state_changes_allowed" in out
    assert "shortest counterexample (2 steps, scope lifecycle):" in out
    assert "2. finish_request(request_id=r1)" in out


def test_explore_traces_of_known_violations(capsys: pytest.CaptureFixture[str]) -> None:
    """``--traces`` prints the shortest trace to each known nim-codex violation."""
    assert main(["explore", "--profile", "codex-head", "--scope", "headroom", "--traces"]) == 0
    out = capsys.readouterr().out
    assert "cleanup_restores_free_size" in out
    assert "sale r1/0#0: cleanup" in out


def test_explore_random_machine(capsys: pytest.CaptureFixture[str]) -> None:
    """``--random`` also runs the random market machine and prints its coverage."""
    assert main(["explore", "--profile", "codex-535", "--scope", "tiny", "--random", "5"]) == 0
    out = capsys.readouterr().out
    assert "random market machine: " in out
    assert "random machine coverage:" in out


@pytest.mark.parametrize(
    "argv",
    [
        ["explore", "--depth", "-1"],
        ["explore", "--depth", "deep"],
        ["explore", "--depth", "61"],
        ["explore", "--scope", "tiny", "--suite", "quick"],
        ["explore", "--scope", "nowhere"],
        ["explore", "--random", "many"],
        ["explore", "--profile", "codex-535", "--variant", "seen_push_unpauses"],
    ],
    ids=[
        "negative-depth",
        "word-depth",
        "too-deep",
        "scope-and-suite",
        "unknown-scope",
        "word-random",
        "variant-profile",
    ],
)
def test_invalid_explore_usage_exits_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    """Bad options are usage errors: a message on stderr, exit code 2, no traceback."""
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err
    assert "Traceback" not in err
