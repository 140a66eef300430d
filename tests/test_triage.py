"""Reachability triage of refutations: real failures get a shortest trace, induction artefacts do not."""

from __future__ import annotations

import os

import attrs
import pytest
from scenario import outputs_under_hash_seeds

from invariants.symbolic.obligations import generate
from invariants.symbolic.prover import Budget, Result, discharge
from invariants.symbolic.states import Scope
from invariants.symbolic.triage import API, SALES, Bounds, Goal, call, candidates, search, triage
from invariants.symbolic.values import Mode
from model.actions import (
    Accepted,
    Action,
    CreateAvailabilityHead,
    CreateReservationHead,
    DeleteReservationHead,
    ReleaseBytes,
    ReturnBytesToAvailability,
    UpdateAvailability,
    apply,
)
from model.state import AnyState, Profile, initial_state
from variants.faithful import RETURN_BYTES_UNGUARDED

SCOPE = Scope.parse("2x2")
BUDGET = Budget(cores=False)
UNGUARDED = "to_return = bytes - reservation.size"

#: Prints the rendered triage of the unguarded return's refutation, then the calls of the API
#: alphabet on ``rich_state()``: run in processes with other string hashes.
DETERMINISM_SCRIPT = f"""
import sys
sys.path.insert(0, {os.path.dirname(__file__)!r})
from test_triage import rich_state
from invariants.symbolic.obligations import generate
from invariants.symbolic.prover import Budget, discharge
from invariants.symbolic.states import Scope
from invariants.symbolic.triage import API, Bounds, call, candidates, triage
from invariants.symbolic.values import Mode
from variants.faithful import RETURN_BYTES_UNGUARDED as f
only = frozenset({{f.operation}})
suite = generate(f.profile, Mode.INT, Scope.parse("2x2"), operations=f.table, variant=f.name, only=only)
(obligation,) = [o for o in suite.obligations if {UNGUARDED!r} in o.statement]
print("\\n".join(triage(discharge(obligation, Budget(cores=False))).render()))
print("\\n".join(call(a) for a in candidates(rich_state(), API, "delete_reservation", Bounds())))
"""


def rich_state() -> AnyState:
    """A codex-head node with a1 holding r11 and r12 (r12 returned), and a2 holding r21."""
    state = initial_state(Profile.CODEX_HEAD, quota_max_bytes=6)
    steps: list[Action] = []
    for aid, rids in (("a2", ("r21",)), ("a1", ("r12", "r11"))):
        steps.append(
            CreateAvailabilityHead(
                availability_id=aid, total_size=3, duration=2, min_price_per_byte_per_second=1, total_collateral=3
            )
        )
        steps.extend(
            CreateReservationHead(
                availability_id=aid,
                reservation_id=rid,
                slot_size=1,
                request_id=f"q{rid[1:]}",
                slot_index=int(rid[1:]),
                collateral_per_byte=1,
                valid_until=1,
            )
            for rid in rids
        )
    steps.append(ReturnBytesToAvailability(availability_id="a1", reservation_id="r12", bytes=1))
    for action in steps:
        outcome = apply(state, action)
        assert isinstance(outcome, Accepted), outcome
        state = outcome.state
    return state


@pytest.fixture(scope="module")
def unguarded() -> Result:
    """The refutation of the faithful unguarded return's no-wrap obligation."""
    faithful = RETURN_BYTES_UNGUARDED
    suite = generate(
        faithful.profile,
        Mode.INT,
        SCOPE,
        operations=faithful.table,
        variant=faithful.name,
        only=frozenset({faithful.operation}),
    )
    (obligation,) = [o for o in suite.obligations if UNGUARDED in o.statement]
    result = discharge(obligation, BUDGET)
    assert result.status == "refuted"
    return result


def test_triage_unguarded_return_is_reachable_by_a_short_trace(unguarded):
    """The wrap of nim-codex's ``bytes - r.size`` is reached by a return of fewer bytes than the reservation holds."""
    found = triage(unguarded)
    assert found.verdict == "reachable"
    assert 1 <= len(found.trace) <= 4
    state = initial_state(Profile.CODEX_HEAD, quota_max_bytes=Bounds().quota)
    for action in found.trace[:-1]:
        outcome = apply(state, action, RETURN_BYTES_UNGUARDED.table)
        assert isinstance(outcome, Accepted)
        state = outcome.state
    last = found.trace[-1]
    assert isinstance(last, ReturnBytesToAvailability)
    assert last.bytes < state.reservations[last.reservation_id].size
    assert found.explanation.startswith("real: return_bytes_to_availability fails no_wrap:variants/faithful.py:")
    assert found.render()[-1].endswith(call(last))


def test_triage_expected_strict_refutations_are_reachable_with_their_attribution():
    """nim-codex's known collateral breaks (update, delete, restart) are real, and say which known behaviour."""
    operations = frozenset({"update_availability", "delete_reservation", "delete_inactive_reservations"})
    suite = generate(Profile.CODEX_HEAD, Mode.INT, SCOPE, only=operations)
    expected = [o for o in suite.obligations if o.kind == "strict" and o.expected == "refuted"]
    assert {(o.operation, o.rule) for o in expected} == {
        ("update_availability", "collateral_conserved"),
        ("delete_reservation", "collateral_conserved"),
        ("delete_inactive_reservations", "collateral_conserved"),
        ("delete_reservation", "collateral_within_total"),
    }
    for obligation in expected:
        result = discharge(obligation, BUDGET)
        assert result.status == "refuted"
        found = triage(result)
        assert found.verdict == "reachable", (obligation.name, found.explanation)
        assert found.trace[-1].name == obligation.operation
        assert len(found.trace) <= 4
        assert obligation.known is not None
        assert obligation.known in found.explanation


def test_triage_of_a_too_weak_hypothesis_is_unreachable():
    """Without ``inv:repo_reserved_identity`` a release is refuted from a pre-state no run reaches."""
    suite = generate(Profile.CODEX_535, Mode.INT, SCOPE, only=frozenset({"release_bytes"}))
    (obligation,) = [o for o in suite.obligations if o.name.endswith("invariant:repo_reserved_identity")]
    assert discharge(obligation, BUDGET).status == "proved"
    weak = {name: f for name, f in obligation.hypotheses.items() if name != "inv:repo_reserved_identity"}
    result = discharge(attrs.evolve(obligation, hypotheses=weak), BUDGET)
    assert result.status == "refuted"
    found = triage(result, max_depth=30, bounds=Bounds(quota=3, sizes=(1, 2)))
    assert found.verdict == "unreachable", found.explanation
    assert found.trace == ()
    assert found.states > 100
    assert found.explanation.startswith("not reachable within the api alphabet, quota 3,")
    assert "a missing invariant" in found.explanation


def test_triage_runs_never_pass_through_a_state_that_breaks_an_invariant():
    """An API return of more than was written breaks ``returned_within_written``; a delete after it
    does not refute the delete's own obligation (its pre-state is outside the hypotheses)."""
    goal = Goal(kind="invariant", rule="returned_within_written", operation="delete_reservation")
    bounds = Bounds(quota=2, availabilities=("a1",), reservations=1, sizes=(1, 2), collaterals=(0,), per_byte=(0,))
    found = search(Profile.CODEX_HEAD, goal, API, None, bounds=bounds, max_states=2_000, max_depth=20)
    assert found.verdict == "unreachable", found.explanation


def test_triage_stopped_by_the_state_cap_is_undecided(unguarded):
    """A search that runs out of states before a hit or the fixpoint decides nothing."""
    found = triage(unguarded, max_states=3)
    assert found.verdict == "undecided"
    assert found.trace == ()
    assert found.states == 3
    assert "max_states=3" in found.explanation


def test_triage_stopped_by_the_depth_cap_is_undecided(unguarded):
    """A search that needs more steps than ``max_depth`` decides nothing."""
    found = triage(unguarded, max_depth=2)
    assert found.verdict == "undecided"
    assert "max_depth=2" in found.explanation


def test_triage_trace_is_the_same_in_every_process(unguarded):
    """String hashes change per process; the candidates' order, and so the trace, must not."""
    printed = outputs_under_hash_seeds(DETERMINISM_SCRIPT)
    calls = [call(a) for a in candidates(rich_state(), API, "delete_reservation", Bounds())]
    assert printed == {"\n".join([*triage(unguarded).render(), *calls]) + "\n"}


def test_candidates_target_ids_in_sorted_order():
    """Whatever order the maps hold them in, candidates name availabilities and reservations by sorted id."""
    found = candidates(rich_state(), API, "delete_reservation", Bounds())
    patched = [a.availability_id for a in found if isinstance(a, UpdateAvailability)]
    released = [a.reservation_id for a in found if isinstance(a, ReleaseBytes)]
    deleted = [a.reservation_id for a in found if isinstance(a, DeleteReservationHead)]
    own = deleted[: deleted.index("r99")]  # then the probes: a missing reservation, mismatched pairs
    assert set(patched) == {"a1", "a2"}
    assert patched == sorted(patched)
    assert set(released) == {"r11", "r12", "r21"}
    assert released == sorted(released)
    assert own == sorted(own)


def test_sales_alphabet_follows_the_sales_calling_contract():
    """Sales releases only before returning, returns the slot size once, and deletes with at most what was taken."""
    state = initial_state(Profile.CODEX_HEAD, quota_max_bytes=4)
    for action in (
        CreateAvailabilityHead(
            availability_id="a1", total_size=3, duration=2, min_price_per_byte_per_second=1, total_collateral=3
        ),
        CreateReservationHead(
            availability_id="a1",
            reservation_id="r11",
            slot_size=2,
            request_id="q11",
            slot_index=11,
            collateral_per_byte=1,
            valid_until=1,
        ),
        ReleaseBytes(reservation_id="r11", availability_id="a1", bytes=1),
    ):
        outcome = apply(state, action)
        assert isinstance(outcome, Accepted)
        state = outcome.state
    before = candidates(state, SALES, "delete_reservation", Bounds())
    returns = [a for a in before if isinstance(a, ReturnBytesToAvailability)]
    assert returns == [ReturnBytesToAvailability(availability_id="a1", reservation_id="r11", bytes=2)]
    deletes = [a.returned_collateral for a in before if isinstance(a, DeleteReservationHead)]
    assert deletes == [None, 0, 1, 2]
    outcome = apply(state, returns[0])
    assert isinstance(outcome, Accepted)
    after = candidates(outcome.state, SALES, "delete_reservation", Bounds())
    assert not [a for a in after if isinstance(a, ReleaseBytes | ReturnBytesToAvailability)]
