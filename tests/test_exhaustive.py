"""The exhaustive explorer: the default suite finds no violation, exercises every reachable transition,
demonstrates the known nim-codex violations, and gives shortest counterexamples."""

from __future__ import annotations

import attrs
import pytest

from model.market import FinishRequest, RequestStorage
from model.state import Profile
from stateful_tests.exhaustive import (
    SCOPES,
    SUITES,
    Scope,
    SuiteResult,
    explore_exhaustively,
    explore_suite,
    initial,
)
from variants.broken_market import MARKET_VARIANTS

VARIANTS = {v.name: v for v in MARKET_VARIANTS}


@pytest.fixture(scope="module", params=list(Profile), ids=lambda p: p.value)
def default_suite(request: pytest.FixtureRequest) -> SuiteResult:
    """The default suite of ``sales-model explore``, explored once per profile."""
    profile: Profile = request.param
    return explore_suite(profile, tuple(SCOPES[n] for n in SUITES["default"]), name="default")


def test_default_suite_finds_no_violation(default_suite: SuiteResult, sales_counterexample) -> None:
    """Every scope of the default suite is explored to its depth without an unknown violation (a
    violation is handed to the pytest plugin, which writes its reports)."""
    from reports.engines import from_exhaustive

    for result in default_suite.results:
        if result.violation is not None:
            sales_counterexample(from_exhaustive(default_suite.profile, result.scope, result.violation))
    assert [r.violation for r in default_suite.results] == [None] * len(SUITES["default"])
    assert all(r.depth == r.scope.depth or r.complete for r in default_suite.results)


def test_default_suite_exercises_every_reachable_transition(default_suite: SuiteResult) -> None:
    """Every sale-table pair is hit, except those listed unreachable with a reason, none of which is hit."""
    assert default_suite.coverage.problems() == []
    assert not default_suite.failed


def test_default_suite_demonstrates_the_known_violations(default_suite: SuiteResult) -> None:
    """The known nim-codex violations are reproduced (and reported, not failed)."""
    known = {key for r in default_suite.results for key in r.known}
    if default_suite.profile is Profile.CODEX_HEAD:
        assert {rule for rule, _ in known} >= {
            "collateral_conserved",
            "collateral_returned_on_end",
            "terminal_sale_holds_no_reservation",
            "free_size_restored",
            "cleanup_restores_free_size",
        }
        refs = {ref for _, ref in known}
        assert any("SaleErrored" in ref for ref in refs)
        assert any("SaleCancelled" in ref for ref in refs)
        assert any("repair discount" in ref for ref in refs)
    else:
        assert known == {("terminal_sale_holds_no_reservation", "spec §3.4: a restart agent carries no reservation")}


def test_default_suite_reaches_the_bounds(default_suite: SuiteResult) -> None:
    """The exploration drives the queue full, every worker busy and a free size to zero."""
    tight = {name for name, count in default_suite.coverage.tight.items() if count}
    assert {"queue_within_max_size", "workers_within_max", "free_size_within_total"} <= tight
    if default_suite.profile is Profile.CODEX_HEAD:
        assert "queue_stays_paused" in tight


def test_shortest_counterexample_of_a_broken_request_rule() -> None:
    """A request allowed to finish before it starts is found in exactly the two steps it takes."""
    variant = VARIANTS["finish_new_request"]
    result = explore_exhaustively(Profile.CODEX_HEAD, SCOPES["lifecycle"], rules=variant.rules(Profile.CODEX_HEAD))
    assert result.violation is not None
    assert result.violation.trace == (
        RequestStorage(terms=SCOPES["lifecycle"].requests[0]),
        FinishRequest(request_id="r1"),
    )
    assert {v.rule for v in result.violation.violations} == {"request_state_changes_allowed"}


def test_hashing_explores_each_state_once_and_completes_a_closed_scope() -> None:
    """A scope with a finite state space (one availability the operator toggles) is explored completely."""
    closed = Scope(
        name="closed",
        depth=60,
        quota=1,
        availabilities=(1,),
        requests=(),
        patches=({"enabled": False}, {"enabled": True}, {"until": 5}, {"until": 0}),
    )
    result = explore_exhaustively(Profile.CODEX_HEAD, closed)
    assert result.complete
    assert result.depth < 60
    assert result.transitions > result.states > 1


def test_prelude_runs_before_the_search() -> None:
    """A scope's prelude is applied to the initial state and is part of every trace."""
    market = initial(Profile.CODEX_HEAD, SCOPES["repair"])
    assert market.requests["r1"].slots[0].status.value == "repair"


def test_invalid_scope_is_reported_not_crashed() -> None:
    """A scope whose availabilities do not fit the quota is a clear error."""
    with pytest.raises(ValueError, match="does not fit"):
        initial(Profile.CODEX_HEAD, attrs.evolve(SCOPES["tiny"], quota=1))
