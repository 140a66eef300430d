"""The ``sales_model`` pytest plugin: reports of failing harness runs, the fixture, the header, coverage."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

BROKEN_MACHINE = """
from hypothesis import settings

from model.state import Profile
from stateful_tests.machines import reservations_machine
from variants.broken import VARIANTS

VARIANT = next(v for v in VARIANTS if v.name == "quota_check_off_by_one")
Machine = reservations_machine(Profile.CODEX_535, operations=VARIANT.operations(Profile.CODEX_535))
Machine.TestCase.settings = settings(
    max_examples=40, stateful_step_count=30, derandomize=True, database=None, deadline=None, print_blob=False
)
TestBrokenMachine = Machine.TestCase
"""


def test_plugin_imports_neither_z3_nor_the_engines() -> None:
    """Importing the plugin (as every pytest run does) pulls in no z3, Hypothesis or model code."""
    code = (
        "import sys, reports.pytest_plugin; "
        "heavy = [m for m in ('z3', 'hypothesis', 'model', 'invariants', 'reports.engines') if m in sys.modules]; "
        "print(heavy)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_plugin_loads_in_a_plain_run(pytester: pytest.Pytester) -> None:
    """Without ``-p``, the entry point loads the plugin, and the header names profiles and versions."""
    pytester.makepyfile(
        """
        def test_loaded(pytestconfig):
            assert pytestconfig.pluginmanager.has_plugin("sales_model")
        """
    )
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(passed=1)
    header = [line for line in result.outlines if line.startswith("sales-model: ")]
    assert header, result.outlines
    assert re.fullmatch(
        r"sales-model: profiles codex-535, codex-head; hypothesis profile \S+; z3-solver [0-9.]+", header[0]
    )


def test_harness_failure_of_a_broken_variant_is_written(pytester: pytest.Pytester, tmp_path: Path) -> None:
    """A broken variant's machine fails; its counterexample's three renderings exist and are listed."""
    pytester.makepyfile(test_broken=BROKEN_MACHINE)
    reports = tmp_path / "cx"
    result = pytester.runpytest_subprocess(f"--sales-report-dir={reports}")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*= sales-model counterexamples =*", "*test_broken.py::TestBrokenMachine::runTest:*"])
    written = sorted(reports.iterdir())
    assert {path.suffix for path in written} == {".md", ".json", ".py"}, written
    assert len(written) == 3
    for path in written:
        assert str(path) in result.stdout.str()
    assert "quota-check-off-by-one" in written[0].name  # the variant is recognised from the machine


def test_without_a_report_dir_the_counterexample_is_listed_not_written(pytester: pytest.Pytester) -> None:
    """No ``--sales-report-dir``: the summary names the counterexample and says nothing was written."""
    pytester.makepyfile(test_broken=BROKEN_MACHINE)
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*= sales-model counterexamples =*", "*not written: pass --sales-report-dir*"])


def test_recorded_counterexample_is_written(pytester: pytest.Pytester, tmp_path: Path) -> None:
    """The ``sales_counterexample`` fixture hands a counterexample to the plugin, even from a passing test."""
    pytester.makepyfile(
        """
        from reports import examples

        def test_leak(sales_counterexample):
            sales_counterexample(examples.ending_leak())
        """
    )
    reports = tmp_path / "recorded"
    result = pytester.runpytest_subprocess(f"--sales-report-dir={reports}")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        ["*= sales-model counterexamples =*", "*test_recorded_counterexample_is_written.py::test_leak:*"]
    )
    assert len(list(reports.iterdir())) == 3


def test_coverage_section(pytester: pytest.Pytester) -> None:
    """``--sales-coverage`` prints the sale-table coverage report as a terminal summary section."""
    pytester.makepyfile("def test_nothing():\n    pass\n")
    result = pytester.runpytest_subprocess("--sales-coverage")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        ["*= sales-model coverage =*", "== codex-535 (suite quick) ==", "sale table pairs hit: *", "*codex-head*"]
    )


def test_a_broken_market_is_named_by_its_rules():
    """Rule 3: a market machine's failure names the broken market whose rules the machine runs."""
    from model.market_state import default_rules
    from model.state import Profile
    from reports.pytest_plugin import _market_variant
    from variants.broken_market import MARKET_VARIANTS

    for variant in MARKET_VARIANTS:
        for profile in variant.profiles:
            assert _market_variant(variant.rules(profile), profile) == variant.name
    for profile in Profile:
        assert _market_variant(default_rules(profile), profile) is None
