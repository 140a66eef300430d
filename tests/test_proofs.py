"""The Z3 proofs in integer mode (CI runs these; ``sales-model prove --mode bv`` is the long run)."""

from __future__ import annotations

import attrs
import pytest

from invariants.symbolic import run as proofs
from invariants.symbolic.obligations import Case, generate
from invariants.symbolic.prover import Budget, discharge
from invariants.symbolic.replay import replay
from invariants.symbolic.states import Scope
from invariants.symbolic.values import Mode
from model.state import Profile
from variants.broken import VARIANTS
from variants.faithful import RETURN_BYTES_UNGUARDED

SCOPE = Scope()


@pytest.fixture(scope="module")
def outcome():
    return proofs.run(list(Profile), [Mode.INT], SCOPE, Budget())


def test_every_obligation_ends_as_expected(outcome):
    unexpected = [(r.obligation.name, r.status, r.reason) for r in outcome.results if not r.as_expected]
    assert unexpected == []
    assert outcome.exit_code == 0


def test_no_obligation_is_vacuous_or_undecided(outcome):
    assert {r.status for r in outcome.results} == {"proved", "refuted"}


def test_catalogue_obligations_cover_every_operation_and_invariant(outcome):
    from invariants import rules_for

    for profile in Profile:
        invariants, _ = rules_for(profile)
        names = {r.obligation.name for r in outcome.results if r.obligation.profile is profile}
        for operation in ("create_availability", "create_reservation", "release_bytes", "delete_reservation"):
            for invariant in invariants:
                assert f"{profile.value}/int/{operation}/invariant:{invariant.name}" in names


def test_the_issue_s_named_obligations_are_proved(outcome):
    proved = {r.obligation.name for r in outcome.results if r.status == "proved"}
    for name in (
        "codex-head/int/create_reservation/invariant:reserved_bytes_within_total",
        "codex-head/int/delete_reservation/property:delete_returns_remaining_bytes",
        "codex-head/int/delete_reservation/property:return_then_delete_returns_slot_size",
        "codex-535/int/delete_reservation/property:delete_returns_remaining_bytes",
        "codex-head/int/release_bytes/invariant:repo_reserved_identity",
        "codex-head/int/create_availability/invariant:repo_within_quota",
        "codex-head/int/update_availability/invariant:free_size_within_total",
        "codex-head/int/create_reservation/invariant:collateral_within_total",
    ):
        assert name in proved


def test_expected_refutations_replay_concretely_with_their_attribution(outcome):
    refuted = [r for r in outcome.results if r.status == "refuted"]
    assert len(refuted) == 5
    for result in refuted:
        assert result.obligation.known is not None
        if result.obligation.kind == "strict":
            assert "concrete replay:" in proofs.confirm(result)
            assert "NOT reproduced" not in proofs.confirm(result)
            assert "known:" in proofs.confirm(result)


def test_unguarded_return_wraps_with_the_minimal_counterexample(outcome):
    (result,) = [
        r for r in outcome.results if r.obligation.suite and r.obligation.suite.variant and r.status == "refuted"
    ]
    assert result.model is not None
    assert result.model.minimal
    values = result.model.values
    assert values["r11.size"] == 1
    assert values["return_bytes_to_availability[api].bytes"] == 0


def test_bit_vector_mode_refutes_the_unguarded_return_too():
    suite = generate(
        RETURN_BYTES_UNGUARDED.profile,
        Mode.BV,
        SCOPE,
        operations=RETURN_BYTES_UNGUARDED.table,
        only=frozenset({"return_bytes_to_availability"}),
    )
    (obligation,) = [o for o in suite.obligations if "to_return = bytes - reservation.size" in o.statement]
    result = discharge(obligation, Budget(cores=False))
    assert result.status == "refuted"
    assert result.model is not None
    assert (result.model.values["r11.size"], result.model.values["return_bytes_to_availability[api].bytes"]) == (1, 0)


@pytest.mark.parametrize(
    ("variant", "profile"),
    [(v, p) for v in VARIANTS for p in sorted(v.profiles, key=lambda p: p.value)],
    ids=lambda x: getattr(x, "name", getattr(x, "value", str(x))),
)
def test_every_broken_variant_makes_its_proofs_fail(variant, profile):
    operation = variant.actions[profile].name
    suite = generate(profile, Mode.INT, SCOPE, operations=variant.operations(profile), only=frozenset({operation}))
    failed = {o.rule for o in suite.obligations if not discharge(o, Budget(cores=False)).as_expected}
    assert failed & variant.detected_by, f"{variant.name} on {profile.value}: failed {sorted(failed)}"


def test_a_refutation_replays_on_the_plain_model():
    variant = next(v for v in VARIANTS if v.name == "release_keeps_repo_reserved")
    suite = generate(
        Profile.CODEX_535,
        Mode.INT,
        SCOPE,
        operations=variant.operations(Profile.CODEX_535),
        only=frozenset({"release_bytes"}),
    )
    obligation = next(o for o in suite.obligations if o.rule == "repo_reserved_identity")
    result = discharge(obligation)
    assert result.status == "refuted"
    assert result.model is not None
    again = replay(
        Profile.CODEX_535,
        SCOPE,
        result.model.values,
        result.model.case,
        "repo_reserved_identity",
        operations=variant.operations(Profile.CODEX_535),
    )
    assert again.violations


def test_contradictory_hypotheses_make_an_obligation_vacuous():
    suite = generate(Profile.CODEX_535, Mode.INT, SCOPE, only=frozenset({"store_block"}))
    obligation = suite.obligations[0]
    space = suite.space
    contradiction = {"false": space.false()}
    result = discharge(attrs.evolve(obligation, extra=contradiction))
    assert result.status == "vacuous"
    assert not result.as_expected


def test_unsatisfiable_premises_make_an_obligation_vacuous():
    suite = generate(Profile.CODEX_535, Mode.INT, SCOPE, only=frozenset({"store_block"}))
    obligation = suite.obligations[0]
    dead = tuple(Case(c.label, suite.space.false(), c.goal) for c in obligation.cases)
    assert discharge(attrs.evolve(obligation, cases=dead)).status == "vacuous"


def test_an_exhausted_budget_is_unknown_never_proved():
    suite = generate(Profile.CODEX_HEAD, Mode.INT, SCOPE, only=frozenset({"delete_reservation"}))
    obligation = next(o for o in suite.obligations if o.rule == "reserved_bytes_within_total")
    result = discharge(obligation, Budget(rlimit=2_000, cores=False))
    assert result.status == "unknown"
    assert result.reason
