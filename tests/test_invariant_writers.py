"""Catalogue rule 6: a step of a model operation an invariant does not name in ``written_by``
leaves what the invariant's check yields unchanged, on states that break the invariant.

The states are reachable ones broken on purpose (a field set out of range, an index entry dropped),
so each invariant has violations whose values a careless operation would move; every operation of
the profile's table then runs on them with random arguments. The test has teeth: for each invariant,
some operation it names does change what it yields here, and leaving that name out is caught
(``test_leaving_out_a_declared_writer_is_caught``).

Mirrors: invariants/catalogue.py rule 6; oracle/pipeline.py rule 6.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import attrs
import pytest
from scenario import random_action

from invariants import INVARIANTS
from invariants.catalogue import Invariant
from model import actions as act
from model.actions import OPERATIONS, Accepted, apply
from model.state import AnyState, Profile, initial_state

QUOTA = 1 << 20


def _reachable(profile: Profile, seed: int, steps: int = 40) -> list[AnyState]:
    """States a random run of the profile's operations passes through."""
    rng = random.Random(seed)
    state = initial_state(profile, quota_max_bytes=QUOTA)
    fresh, found = [0], []
    for _ in range(steps):
        outcome = apply(state, random_action(rng, state, fresh))
        if isinstance(outcome, Accepted) and outcome.state is not state:
            state = outcome.state
            found.append(state)
    return found


def _breaks(state: AnyState, rng: random.Random) -> Iterator[AnyState]:
    """``state`` broken in several ways, each breaking some invariant. The model's own ledgers stay
    consistent with each other (an index entry dropped is no state any input can lead to)."""
    head = state.profile is Profile.CODEX_HEAD
    for aid in sorted(state.availabilities):
        a, ledger = state.availabilities[aid], state.availability_ledgers[aid]
        if head:
            yield attrs.evolve(
                state,
                availabilities=state.availabilities.set(
                    aid,
                    attrs.evolve(
                        a,
                        free_size=a.total_size + 3,
                        total_remaining_collateral=a.total_collateral + 2,
                        until=rng.choice((-1, 1)),
                    ),
                ),
            )
            reset = attrs.evolve(ledger, collateral_reset_live=True, lost=-1)
            yield attrs.evolve(state, availability_ledgers=state.availability_ledgers.set(aid, reset))
        else:
            yield attrs.evolve(state, availabilities=state.availabilities.set(aid, attrs.evolve(a, size=a.size + 3)))
        if ledger.reservations:  # its reservations left without their availability
            yield attrs.evolve(state, availabilities=state.availabilities.delete(aid))
    for rid in sorted(state.reservations):
        r, ledger = state.reservations[rid], state.reservation_ledgers[rid]
        grown = attrs.evolve(r, size=ledger.slot_size + 2)
        credited = attrs.evolve(ledger, returned=ledger.slot_size + 1, collateral=ledger.collateral + 5)
        yield attrs.evolve(
            state,
            reservations=state.reservations.set(rid, grown),
            reservation_ledgers=state.reservation_ledgers.set(rid, credited),
        )


def _steps(profile: Profile) -> list[tuple[AnyState, act.Action, AnyState]]:
    """Accepted, state-changing steps from broken states (module docstring)."""
    rng = random.Random(5)
    found = []
    for seed in range(10):
        for state in _reachable(profile, seed)[::2]:
            for broken in _breaks(state, rng):
                fresh = [1000]
                for _ in range(12):
                    action = random_action(rng, broken, fresh)
                    outcome = apply(broken, action)
                    if isinstance(outcome, Accepted) and outcome.state is not broken:
                        found.append((broken, action, outcome.state))
    return found


STEPS = {profile: _steps(profile) for profile in Profile}


def _changes(invariant: Invariant[Any], steps: list[tuple[AnyState, act.Action, AnyState]]) -> dict[str, int]:
    """Per operation name: the steps whose post-state's check yields other than the pre-state's."""
    changed: dict[str, int] = {}
    for pre, action, post in steps:
        if list(invariant.check(post)) != list(invariant.check(pre)):
            changed[action.name] = changed.get(action.name, 0) + 1
    return changed


def _undeclared_changes(invariant: Invariant[Any], profile: Profile) -> dict[str, int]:
    """The changes made by operations ``invariant`` does not name (none, if rule 6 holds)."""
    return {name: n for name, n in _changes(invariant, STEPS[profile]).items() if not invariant.may_change(name)}


def _declared() -> list[tuple[Invariant[Any], Profile]]:
    return [(i, p) for i in INVARIANTS if i.written_by is not None for p in sorted(i.profiles, key=str)]


def _id(value: object) -> str:
    return getattr(value, "name", str(value))


@pytest.mark.parametrize(("invariant", "profile"), _declared(), ids=_id)
def test_an_operation_not_named_never_changes_what_the_check_yields(
    invariant: Invariant[Any], profile: Profile
) -> None:
    steps = STEPS[profile]
    names = {cls.name for cls in OPERATIONS[profile]}
    broken = [s for s in steps if list(invariant.check(s[0]))]
    assert len(broken) >= 30, "too few steps from states that break the invariant"
    undeclared = {n for n in names if not invariant.may_change(n)}
    seen = {s[1].name for s in broken}
    # every undeclared operation that changes a state ran on states breaking the invariant (find never does)
    assert undeclared - {"find_availability"} <= seen, sorted(undeclared - seen)
    assert _undeclared_changes(invariant, profile) == {}


@pytest.mark.parametrize("invariant", [i for i in INVARIANTS if i.written_by is not None], ids=_id)
def test_leaving_out_a_declared_writer_is_caught(invariant: Invariant[Any]) -> None:
    """Names are declared from what each operation writes; for each invariant some named operation
    does change what it yields on these steps (in some profile), and leaving any such name out is
    caught by the test above: the declaration is read from the code, the test is what holds it."""
    assert invariant.written_by is not None
    caught = 0
    for profile in invariant.profiles:
        for name in sorted(set(_changes(invariant, STEPS[profile])) & invariant.written_by):
            narrowed = attrs.evolve(invariant, written_by=invariant.written_by - {name})
            assert name in _undeclared_changes(narrowed, profile)
            caught += 1
    assert caught, "no named operation changes what the check yields here: the steps are too weak"
