"""The random market machines of both profiles, under the active Hypothesis profile."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, settings
from hypothesis.stateful import run_state_machine_as_test

from model.state import Profile
from stateful_tests.coverage import Coverage
from stateful_tests.market_machine import market_machine
from stateful_tests.stats import ExplorationStats

TestMarketHeadMachine = market_machine(Profile.CODEX_HEAD).TestCase
TestMarket535Machine = market_machine(Profile.CODEX_535).TestCase


def test_market_machine_reports_known_leaks_and_coverage() -> None:
    """A derandomized run reproduces the spec §3.3 collateral leak and covers much of the sale table."""
    stats, coverage = ExplorationStats(), Coverage(profile=Profile.CODEX_HEAD)
    config = settings(
        max_examples=80,
        stateful_step_count=50,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    run_state_machine_as_test(market_machine(Profile.CODEX_HEAD, stats=stats, coverage=coverage), settings=config)
    assert any(rule == "collateral_returned_on_end" for rule, _ in stats.known)
    assert sum(1 for count in coverage.pairs.values() if count) >= 20
    assert "sale table pairs hit" in coverage.report()


@pytest.mark.slow
@pytest.mark.parametrize("profile", list(Profile), ids=lambda p: p.value)
def test_thorough_market_machine_finds_no_violation(profile: Profile) -> None:
    """2,000 random market programs of 60 steps find no unknown violation (run with -m slow)."""
    config = settings(max_examples=2000, stateful_step_count=60, deadline=None, suppress_health_check=list(HealthCheck))
    run_state_machine_as_test(market_machine(profile), settings=config)
