"""The stateful machines of both profiles, run under the active Hypothesis profile."""

from __future__ import annotations

import pytest

from model.state import Profile
from stateful_tests.exploration import BUDGETS, explore
from stateful_tests.machines import reservations_machine

TestReservations535Machine = reservations_machine(Profile.CODEX_535).TestCase
TestReservationsHeadMachine = reservations_machine(Profile.CODEX_HEAD).TestCase


@pytest.mark.slow
@pytest.mark.parametrize("profile", list(Profile), ids=lambda p: p.value)
def test_thorough_exploration_finds_no_violation(profile: Profile) -> None:
    """The thorough budget (3,000 random programs of up to 80 steps) finds no violation (run with -m slow)."""
    result = explore(profile, BUDGETS["thorough"])
    assert not result.failed, result.violations or result.error
