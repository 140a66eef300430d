"""``sales-model check``, the main job: every engine per profile, reports, ``--json`` and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sales_model.cli import main
from sales_model.commands import check

QUICK_535 = ["check", "--budget", "quick", "--profile", "codex-535"]


def test_check_json_summary_has_the_documented_keys(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """``--json`` prints only JSON on stdout: per profile and engine a status, counts, seconds and reports."""
    assert main([*QUICK_535, "--json", "--report-dir", str(tmp_path)]) == 0
    captured = capsys.readouterr()
    document = json.loads(captured.out)
    assert set(document) >= {"command", "budget", "variant", "report_dir", "profiles", "reports", "exit_code"}
    assert document["exit_code"] == 0
    assert document["budget"] == "quick"
    engines = document["profiles"]["codex-535"]
    assert list(engines) == list(check.ENGINES)
    for engine in engines.values():
        assert set(engine) >= {"status", "counts", "seconds", "reports", "known_reports"}
        assert engine["status"] == "ok"
    assert engines["stateful"]["counts"]["steps"] > 0
    assert engines["proofs"]["counts"]["proved"] > 0
    assert engines["coverage"]["counts"]["judged"] == 0  # suite quick: shown, not judged
    assert "[codex-535] stateful: started" in captured.err
    assert "[codex-535] proofs: ok" in captured.err


def test_check_broken_variant_exits_1_and_writes_reports(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """A broken operation table is caught (exit 1); its counterexample is written three times and listed."""
    assert main([*QUICK_535, "--variant", "quota_check_off_by_one", "--report-dir", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "FAILED: violations in codex-535" in out
    written = sorted(tmp_path.glob("*.md"))
    assert written, out
    stem = written[0].name.removesuffix(".md")
    assert (tmp_path / f"{stem}.itf.json").exists()
    assert (tmp_path / f"test_{stem.replace('-', '_')}.py").exists()
    assert str(written[0]) in out
    assert "codex-535   stateful    counterexample" in out
    assert "codex-535   proofs      counterexample" in out


def test_check_broken_variant_json_lists_reports(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """With ``--json`` the report paths are in the summary, and every listed file exists."""
    assert main([*QUICK_535, "--variant", "quota_check_off_by_one", "--json", "--report-dir", str(tmp_path)]) == 1
    document = json.loads(capsys.readouterr().out)
    assert document["exit_code"] == 1
    assert document["variant"] == "quota_check_off_by_one"
    stateful = document["profiles"]["codex-535"]["stateful"]
    assert stateful["status"] == "counterexample"
    assert len(stateful["reports"]) == 3
    assert all(Path(path).exists() for path in document["reports"])
    assert "coverage" not in document["profiles"]["codex-535"]  # not judged on a broken model


def test_check_broken_market_runs_only_the_exhaustive_engine(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A broken market applies to the exhaustive exploration only, which finds it (exit 1)."""
    argv = [*QUICK_535, "--variant", "finish_new_request", "--json", "--report-dir", str(tmp_path)]
    assert main(argv) == 1
    document = json.loads(capsys.readouterr().out)
    assert list(document["profiles"]["codex-535"]) == ["exhaustive"]
    assert document["profiles"]["codex-535"]["exhaustive"]["status"] == "counterexample"


def test_check_help_documents_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    """``check --help`` documents the engines, the report directory and the exit codes."""
    assert main(["check", "--help"]) == 0
    out = capsys.readouterr().out
    assert "Exit codes: 0 all good" in out
    assert "--report-dir" in out
    assert check.DEFAULT_REPORT_DIR in out


@pytest.mark.parametrize(
    "argv",
    [
        ["check", "--budget", "forever"],
        ["check", "--profile", "codex-1"],
        ["check", "--variant", "no_such_variant"],
        ["check", "--profile", "codex-535", "--variant", "return_twice"],
        ["check", "--jsn"],
    ],
    ids=["budget", "profile", "variant", "variant-profile", "option"],
)
def test_check_bad_usage_exits_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    """Bad options are usage errors: a message on stderr, exit code 2, no traceback."""
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err
    assert "Traceback" not in err


def test_check_report_dir_that_is_a_file_exits_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """A ``--report-dir`` that names a file is bad input: exit 2 before any engine runs."""
    taken = tmp_path / "taken"
    taken.write_text("")
    assert main([*QUICK_535, "--report-dir", str(taken)]) == 2
    assert "not a directory" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("statuses", "code"),
    [
        ((check.OK, check.OK), 0),
        ((check.OK, check.UNDECIDED), 3),
        ((check.UNDECIDED, check.COUNTEREXAMPLE), 1),
        ((check.COUNTEREXAMPLE, check.OK), 1),
    ],
)
def test_exit_code_orders_counterexample_before_undecided(statuses: tuple[str, str], code: int) -> None:
    """Exit 1 on any counterexample; else 3 on anything undecided; else 0."""
    runs = {"codex-head": {f"e{n}": check.EngineRun(engine=f"e{n}", status=s) for n, s in enumerate(statuses)}}
    assert check._exit_code(runs) == code


def test_known_report_directories_are_cut_at_a_word_boundary():
    """A known reference names its report directory; a long one is cut between words, never inside one."""
    from sales_model.commands.check import _slugify

    long = "spec §3.3: currentCollateral differs from the collateral the availability gave"
    assert _slugify(long) == "spec-3-3-currentcollateral-differs-from-the"
    assert _slugify("nim-codex#1147") == "nim-codex-1147"
    assert len(_slugify("word " * 40)) <= 48
    assert _slugify("§§§") == "other"
