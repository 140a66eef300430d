"""Each engine's failure becomes a counterexample whose replayed steps show the failure.

Rules:
1. Every adapter is tried on a real failure of its engine: a broken variant explored by
   Hypothesis (reservations and market machines), a known example of the exhaustive search, and a
   Z3 refutation with and without a reachable triage.
2. The exploration keeps the shrunk run's trace: as many actions as the shrunk program's calls.
"""

from __future__ import annotations

import functools

import attrs
import pytest
from hypothesis import HealthCheck, settings
from hypothesis.stateful import run_state_machine_as_test

from invariants.market_invariants import LEAK_ERRORED
from invariants.symbolic import run as proofs
from invariants.symbolic.obligations import generate
from invariants.symbolic.prover import Budget as ProofBudget
from invariants.symbolic.prover import Result, discharge
from invariants.symbolic.states import Scope as ProofScope
from invariants.symbolic.triage import Bounds, triage
from invariants.symbolic.values import Mode
from model.state import Profile
from reports import engines
from stateful_tests import strategies
from stateful_tests.exhaustive import SCOPES, explore_exhaustively
from stateful_tests.exploration import Budget, ExplorationResult, explore
from stateful_tests.machines import HarnessFailure
from stateful_tests.market_machine import market_machine
from variants import VARIANTS
from variants.broken_market import MARKET_VARIANTS

SMALL = Budget(name="small", programs=25, steps=10, derandomize=True)
SCOPE = ProofScope(availabilities=1, reservations=1)


@functools.cache
def _explored(name: str, profile: Profile) -> ExplorationResult:
    variant = next(v for v in VARIANTS if v.name == name)
    return explore(profile, SMALL, operations=variant.operations(profile))


@functools.cache
def _refuted(kind: str) -> Result:
    """A refuted obligation at scope 1x1: the faithful wrap (``no_wrap``) or the #1147 PATCH (``strict``)."""
    if kind == "no_wrap":
        suites = proofs._faithful_suites([Profile.CODEX_HEAD], Mode.INT, SCOPE)
        obligations = [ob for suite in suites for ob in suite.obligations if ob.expected == "refuted"]
    else:
        suite = generate(Profile.CODEX_HEAD, Mode.INT, SCOPE, only=frozenset({"update_availability"}))
        obligations = [ob for ob in suite.obligations if ob.kind == "strict" and ob.rule == "collateral_conserved"]
    (obligation,) = obligations
    result = discharge(obligation, ProofBudget())
    assert result.status == "refuted"
    return result


# -- Hypothesis ----------------------------------------------------------------------------------


def test_broken_variant_exploration_shows_its_rule_at_the_failing_step() -> None:
    variant = next(v for v in VARIANTS if v.name == "patch_total_keeps_free")
    result = _explored(variant.name, Profile.CODEX_HEAD)
    cx = engines.from_exploration(result, variant.operations(Profile.CODEX_HEAD), variant.name)
    assert cx is not None
    assert cx.engine == "hypothesis"
    assert cx.level == "reservations"
    assert cx.variant == "patch_total_keeps_free"
    assert cx.rule in variant.detected_by
    assert cx.failing_step == len(cx.steps) - 1
    violation = next(v for v in cx.steps[-1].violations if v.rule == cx.rule)
    assert violation.known is None
    assert cx.known is None
    assert cx.setup == {"quota_max_bytes": strategies.QUOTA}
    assert cx.reproduce == "sales-model check --profile codex-head --variant patch_total_keeps_free"


def test_exploration_keeps_the_shrunk_trace() -> None:
    result = _explored("patch_total_keeps_free", Profile.CODEX_HEAD)
    failure = result.failure
    assert isinstance(failure, HarnessFailure)
    assert failure.violations == list(result.violations)
    # Every rule of this program applies one action: the kept trace is the shrunk program's.
    assert len(failure.trace) == engines.program_steps(result.program) == 2
    assert failure.level == "reservations"


def test_no_failure_gives_no_counterexample() -> None:
    result = explore(Profile.CODEX_535, Budget(name="tiny", programs=3, steps=3, derandomize=True))
    assert not result.failed
    assert result.failure is None
    assert engines.from_exploration(result) is None


def test_market_machine_failure_is_replayed_at_market_level() -> None:
    variant = next(v for v in MARKET_VARIANTS if v.name == "finish_new_request")
    rules = variant.rules(Profile.CODEX_535)
    config = settings(
        max_examples=30,
        stateful_step_count=15,
        derandomize=True,
        database=None,
        deadline=None,
        print_blob=False,
        suppress_health_check=list(HealthCheck),
    )
    with pytest.raises(HarnessFailure) as raised:
        run_state_machine_as_test(market_machine(Profile.CODEX_535, rules=rules), settings=config)
    failure = raised.value
    assert failure.level == "market"
    assert {"quota_max_bytes", "max_size", "max_workers", "repair_discount"} == set(failure.setup)
    cx = engines.from_harness_failure(failure, Profile.CODEX_535, variant=variant.name, rules=rules)
    assert cx.level == "market"
    assert cx.rule in variant.detected_by
    assert cx.failing_step == len(cx.steps) - 1
    assert cx.reproduce.startswith("sales-model explore --profile codex-535")
    assert cx.reproduce.endswith("--variant finish_new_request")


# -- the exhaustive search -------------------------------------------------------------------------


def test_exhaustive_known_example_starts_from_the_scope_and_is_attributed() -> None:
    scope = SCOPES["tiny"]
    result = explore_exhaustively(Profile.CODEX_HEAD, scope)
    example = result.known[("collateral_returned_on_end", LEAK_ERRORED)]
    cx = engines.from_exhaustive(Profile.CODEX_HEAD, scope, example)
    assert cx.engine == "exhaustive"
    assert cx.level == "market"
    assert cx.rule == "collateral_returned_on_end"
    assert cx.known == LEAK_ERRORED
    created = [s for s in cx.steps if s.action == "save_availability"]
    assert [s.arguments["availability_id"] for s in created] == ["a1", "a2"]
    assert len(cx.steps) == len(scope.availabilities) + len(example.trace)
    assert cx.failing_step == len(cx.steps) - 1
    assert all(step.outcome == "accepted" for step in cx.steps)
    assert cx.setup == {"quota_max_bytes": 4, "max_size": 2, "max_workers": 1, "repair_discount": 0}
    assert cx.reproduce == "sales-model explore --profile codex-head --scope tiny --traces"
    assert cx == engines.from_exhaustive(Profile.CODEX_HEAD, scope, example)


# -- Z3 ----------------------------------------------------------------------------------------------


def test_reachable_wrap_refutation_replays_the_triage_trace() -> None:
    result = _refuted("no_wrap")
    found = triage(result)
    assert found.verdict == "reachable"
    cx = engines.from_refutation(result, found)
    assert cx.engine == "z3"
    assert cx.kind == "no_wrap"
    assert cx.rule == result.obligation.rule
    assert cx.variant == "return_bytes_unguarded"
    assert cx.spec == "§2.6 step 2, §2.12 item 1"
    assert cx.setup == {"quota_max_bytes": Bounds().quota}
    assert [s.action for s in cx.steps] == [
        "create_availability",
        "create_reservation",
        "return_bytes_to_availability",
    ]
    assert "concrete replay: `to_return = bytes - reservation.size` wraps" in cx.notes
    assert cx.known == result.obligation.known
    assert "wrap" in cx.summary or "range" in cx.summary
    assert cx.reproduce == "sales-model prove --profile codex-head --scope 1x1"


def test_reachable_strict_refutation_is_the_known_1147() -> None:
    result = _refuted("strict")
    cx = engines.from_refutation(result, triage(result))
    assert cx.rule == "collateral_conserved"
    assert cx.kind == "invariant"
    assert cx.steps[-1].action == "update_availability"
    assert cx.failing_step == len(cx.steps) - 1
    assert cx.known == "nim-codex#1147"


def test_refutation_without_a_reachable_triage_starts_from_the_z3_pre_state() -> None:
    result = _refuted("strict")
    found = triage(result, max_depth=1)
    assert found.verdict != "reachable"
    cx = engines.from_refutation(result, found)
    assert cx.setup is None
    assert [s.action for s in cx.steps] == ["update_availability"]
    assert cx.failing_step == 0
    assert any(note.startswith(f"triage: {found.verdict}") for note in cx.notes)
    values = next(note for note in cx.notes if note.startswith("z3 values of the failing case: "))
    assert "r11.collateral=" in values
    assert any(note.startswith("z3 values minimal") or "not minimised" in note for note in cx.notes)
    without = engines.from_refutation(result, None)
    assert "triage: not run" in without.notes
    assert without.steps == cx.steps


def test_refutation_needs_a_model() -> None:
    result = attrs.evolve(_refuted("strict"), status="proved", model=None)
    with pytest.raises(ValueError, match="refuted"):
        engines.from_refutation(result, None)
