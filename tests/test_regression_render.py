"""``reports.regression`` and ``sales-model report``: rendered pytest files pass, ruff-clean; a wrong rule fails."""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
from pathlib import Path
from typing import Any

import attrs
import pytest
from test_itf import broken, from_start, head_1147, market_errored, old_queries

from reports import itf, regression
from reports.counterexample import Counterexample
from sales_model.commands import report as report_command

ROOT = Path(__file__).resolve().parent.parent
RUFF = Path(sys.executable).parent / "ruff"
SAMPLES = {"head_1147": head_1147, "market_errored": market_errored, "from_start": from_start, "broken": broken}


def _run_pytest(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", str(path), "-q", "-p", "no:cacheprovider", "-c", "/dev/null"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )


def _write(tmp_path: Path, cx: Counterexample, name: str) -> Path:
    path = tmp_path / f"test_{name}.py"
    path.write_text(regression.render(cx), encoding="utf-8")
    return path


def test_rendered_files_pass(tmp_path: Path) -> None:
    paths = [_write(tmp_path, sample(), name) for name, sample in sorted(SAMPLES.items())]
    result = _run_pytest(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{len(paths)} passed" in result.stdout


def test_a_wrong_rule_fails(tmp_path: Path) -> None:
    """The same steps asserted against a rule they do not break: the rendered test fails."""
    cx = head_1147()
    text = regression.render(attrs.evolve(cx, rule="repo_within_quota"))
    assert "FAILING_STEP" not in text  # no step breaks it: the file only checks outcomes
    text = regression.render(cx).replace('RULE = "collateral_within_total"', 'RULE = "repo_within_quota"')
    path = tmp_path / "test_wrong.py"
    path.write_text(text, encoding="utf-8")
    result = _run_pytest(path)
    assert result.returncode == 1, result.stdout
    assert "repo_within_quota is not violated after step 4" in result.stdout


def test_a_wrong_known_reference_fails(tmp_path: Path) -> None:
    text = regression.render(head_1147()).replace('{"nim-codex#1147"}', '{"nim-codex#1"}')
    path = tmp_path / "test_known.py"
    path.write_text(text, encoding="utf-8")
    assert _run_pytest(path).returncode == 1


def test_rendering_is_ruff_clean_and_formatted(tmp_path: Path) -> None:
    if not RUFF.exists():
        pytest.skip("ruff is not installed beside this interpreter")
    for name, sample in sorted(SAMPLES.items()):
        _write(tmp_path, sample(), name)
    config = ["--config", str(ROOT / "pyproject.toml")]
    checked = subprocess.run([str(RUFF), "check", *config, str(tmp_path)], capture_output=True, text=True, check=False)
    assert checked.returncode == 0, checked.stdout
    formatted = subprocess.run(
        [str(RUFF), "format", "--check", "--diff", *config, str(tmp_path)], capture_output=True, text=True, check=False
    )
    assert formatted.returncode == 0, formatted.stdout + formatted.stderr


def test_rendering_content() -> None:
    text = regression.render(head_1147())
    assert text.startswith('"""Regression test: codex-head reservations, rule collateral_within_total')
    assert "sales-model report --format pytest codex-head-collateral-within-total-hypothesis.itf.json" in text
    assert "START = initial_state(PROFILE, quota_max_bytes=1000)" in text
    assert 'UpdateAvailability(availability_id="a1", total_collateral=500)' in text
    assert "FAILING_STEP = 4" in text
    assert 'assert {v.known for v in found} == {"nim-codex#1147"}' in text
    start = regression.render(from_start())
    assert 'START = restore(PROFILE, "reservations", SNAPSHOT)' in start
    variant = regression.render(broken())
    assert 'OPERATIONS = {v.name: v for v in VARIANTS}["delete_keeps_bytes"].operations(PROFILE)' in variant
    assert "assert {v.known for v in found} == {None}" in variant
    market = regression.render(market_errored())
    assert 'SaleStep(request_id="r1", slot_index=0, event=SaleEvent.MARKET_ERROR)' in market


def test_rendering_is_deterministic_and_survives_the_itf_round_trip() -> None:
    for sample in SAMPLES.values():
        cx = sample()
        assert regression.render(cx) == regression.render(sample())
        assert regression.render(itf.loads(itf.dumps(cx), "x")) == regression.render(cx)


def test_no_failing_step_still_checks_outcomes(tmp_path: Path) -> None:
    cx = old_queries()
    assert cx.failing_step is None
    text = regression.render(cx)
    assert "FAILING_STEP" not in text
    path = tmp_path / "test_outcomes.py"
    path.write_text(text, encoding="utf-8")
    assert _run_pytest(path).returncode == 0


# ---------------------------------------------------------------- the command


def main(argv: list[str]) -> int:
    """``sales-model`` with only the report command (``sales_model/cli.py`` registers it for real)."""
    top = argparse.ArgumentParser(prog="sales-model")
    report_command.register(top.add_subparsers(dest="command"))
    arguments = top.parse_args(argv)
    code: int = arguments.run(arguments)
    return code


def _saved(tmp_path: Path, cx: Counterexample) -> Path:
    path = tmp_path / f"{cx.slug()}.itf.json"
    path.write_text(itf.dumps(cx), encoding="utf-8")
    return path


def test_report_itf_and_pytest(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cx = market_errored()
    path = _saved(tmp_path, cx)
    assert main(["report", str(path), "--format", "itf"]) == 0
    assert capsys.readouterr().out == itf.dumps(cx)
    assert main(["report", str(path), "--format", "pytest"]) == 0
    assert capsys.readouterr().out == regression.render(cx)


def test_report_markdown(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    if importlib.util.find_spec("reports.markdown") is None:
        pytest.skip("reports.markdown is not written yet")
    from reports import markdown  # type: ignore[attr-defined,unused-ignore]

    cx = head_1147()
    assert main(["report", str(_saved(tmp_path, cx))]) == 0
    assert capsys.readouterr().out == markdown.render(cx)


def test_report_out_writes_all_three(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    if importlib.util.find_spec("reports.markdown") is None:
        pytest.skip("reports.markdown is not written yet")
    cx = head_1147()
    out = tmp_path / "out"
    assert main(["report", str(_saved(tmp_path, cx)), "--out", str(out)]) == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted([f"{cx.slug()}.md", f"{cx.slug()}.itf.json", f"test_{cx.slug().replace('-', '_')}.py"])
    assert len(capsys.readouterr().out.splitlines()) == 3
    assert _run_pytest(out / f"test_{cx.slug().replace('-', '_')}.py").returncode == 0


@pytest.mark.parametrize(
    "edit",
    [
        lambda text: text[:100],
        lambda text: text.replace('"codex-sales-model/1"', '"other/2"'),
        lambda text: text.replace('"mbt::actionTaken": "create_availability"', '"mbt::actionTaken": "zap"'),
    ],
    ids=["truncated", "vocabulary", "unknown-action"],
)
def test_report_bad_input_exits_2(edit: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.itf.json"
    path.write_text(edit(itf.dumps(head_1147())), encoding="utf-8")
    assert main(["report", str(path), "--format", "itf"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert len(captured.err.splitlines()) == 1
    assert captured.err.startswith(f"sales-model report: {path}: ")


def test_report_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", str(tmp_path / "none.itf.json"), "--format", "pytest"]) == 2
    assert len(capsys.readouterr().err.splitlines()) == 1
