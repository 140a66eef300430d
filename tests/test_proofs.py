"""The Z3 proofs in both arithmetic modes (bit-vector formulas decided by int-blasting, with
z3's bit-blaster as a cross-check on a part of them)."""

from __future__ import annotations

import attrs
import pytest

from invariants.symbolic import run as proofs
from invariants.symbolic.obligations import Case, generate
from invariants.symbolic.prover import Budget, discharge
from invariants.symbolic.replay import concrete_wraps, replay
from invariants.symbolic.states import Scope
from invariants.symbolic.values import Mode
from model.actions import Accepted, CreateAvailabilityHead, CreateReservationHead, ReturnBytesToAvailability, apply
from model.state import Profile, initial_state
from variants.broken import VARIANTS
from variants.faithful import RETURN_BYTES_UNGUARDED

SCOPE = Scope()


@pytest.fixture(scope="module")
def outcome():
    return proofs.run(list(Profile), [Mode.INT], SCOPE, Budget())


def _report_unexpected(outcome, record):
    """Hand every unexpected refutation to the pytest plugin (reports under --sales-report-dir)."""
    from reports.engines import from_refutation

    for result in outcome.results:
        if result.status == "refuted" and not result.as_expected and result.model is not None:
            record(from_refutation(result, None))


def test_every_obligation_ends_as_expected(outcome, sales_counterexample):
    _report_unexpected(outcome, sales_counterexample)
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
    assert proofs.confirm(result) == "concrete replay: `to_return = bytes - reservation.size` wraps"


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


def _head_with_one_reservation():
    state = initial_state(Profile.CODEX_HEAD)
    for action in (
        CreateAvailabilityHead(
            availability_id="a1", total_size=4, duration=10, min_price_per_byte_per_second=1, total_collateral=10
        ),
        CreateReservationHead(
            availability_id="a1",
            reservation_id="r11",
            slot_size=2,
            request_id="q11",
            slot_index=0,
            collateral_per_byte=1,
            valid_until=5,
        ),
    ):
        assert concrete_wraps(state, action) == ()
        outcome = apply(state, action)
        assert isinstance(outcome, Accepted)
        state = outcome.state
    return state


@pytest.mark.parametrize(("returned", "wraps"), [(0, True), (1, True), (2, False), (3, False)])
def test_a_concrete_step_shows_the_line_that_wraps(returned, wraps):
    state = _head_with_one_reservation()
    action = ReturnBytesToAvailability(availability_id="a1", reservation_id="r11", bytes=returned)
    found = concrete_wraps(state, action, RETURN_BYTES_UNGUARDED.table)
    assert [w.text for w in found] == (["to_return = bytes - reservation.size"] if wraps else [])
    assert concrete_wraps(state, action) == ()  # the model guards the subtraction


def test_bit_vector_mode_tries_the_integer_proofs_core_first():
    """A proof from a subset of the hypotheses is a proof; a subset too small falls back to all."""
    only = frozenset({"release_bytes"})
    name = "release_bytes/invariant:repo_reserved_identity"
    ints = generate(Profile.CODEX_535, Mode.INT, SCOPE, only=only)
    bits = generate(Profile.CODEX_535, Mode.BV, SCOPE, only=only)
    (in_ints,) = [o for o in ints.obligations if o.name.endswith(name)]
    (in_bits,) = [o for o in bits.obligations if o.name.endswith(name)]
    core = discharge(in_ints, Budget()).core
    assert "inv:repo_reserved_identity" in core
    blasting = Budget(cores=False, bv_engine="bitblast")
    focused = discharge(in_bits, blasting, focus=core)
    assert (focused.status, focused.focused, focused.core) == ("proved", True, core)
    fallback = discharge(in_bits, blasting, focus=())
    assert (fallback.status, fallback.focused) == ("proved", False)


@pytest.mark.parametrize("operation", ["release_bytes", "create_reservation"])
def test_bit_blasting_and_int_blasting_agree(operation):
    """The cross-check: z3's own bit-blaster decides the same bit-vector obligations alike."""
    suite = generate(Profile.CODEX_535, Mode.BV, SCOPE, only=frozenset({operation}))
    assert suite.obligations
    for obligation in suite.obligations:
        by_ints = discharge(obligation, Budget(cores=False))
        by_bits = discharge(obligation, Budget(cores=False, bv_engine="bitblast"))
        assert (by_ints.engine, by_bits.engine) == ("intblast", "bitblast")
        assert by_ints.status == by_bits.status == obligation.expected, obligation.name


@pytest.fixture(scope="module")
def bit_vector_outcome():
    return proofs.run(list(Profile), [Mode.BV], SCOPE, Budget())


def test_bit_vector_suite_proves_everything_expected(bit_vector_outcome, sales_counterexample):
    """The whole bit-vector suite (under a minute: bench/bench_proofs.py times it)."""
    _report_unexpected(bit_vector_outcome, sales_counterexample)
    unexpected = [(r.obligation.name, r.status, r.reason) for r in bit_vector_outcome.results if not r.as_expected]
    assert unexpected == []
    assert bit_vector_outcome.exit_code == 0
    assert {r.engine for r in bit_vector_outcome.results} == {"intblast"}
    assert not [r for r in bit_vector_outcome.results if r.status == "vacuous"]


def test_both_modes_pose_the_same_obligations(outcome, bit_vector_outcome):
    def names(o):
        return sorted(r.obligation.name.replace("/bv/", "/int/") for r in o.results)

    assert names(outcome) == names(bit_vector_outcome)
