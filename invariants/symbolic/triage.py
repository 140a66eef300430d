"""Reachability triage of refutations: does a run of the model reach the failure?

A refutation's pre-state is symbolic and inductive: it satisfies the invariants, but no
operation may lead to it. Triage decides, by concrete search, whether the failure is real.

Theory of operation:
1. Breadth first from ``initial_state(profile, quota_max_bytes=bounds.quota)`` over a small
   concrete alphabet; states are frozen values and are hashed, so each is expanded once.
   Only ``Accepted`` outcomes extend the frontier, and a state that breaks an invariant (not
   attributed to a known nim-codex behaviour) is not expanded: it lies outside every
   obligation's hypotheses, and the step that made it is another obligation's failure. Nor is a
   state outside the bounds (``Bounds.contains``).
2. Every candidate call of the obligation's operation is tested against the goal before it is
   used as a step, so the first hit ends a shortest trace. The goal, per obligation kind, on
   the last step (pre, action, outcome), from a pre-state inside the obligation's hypotheses
   (no unknown violation; for ``strict``, no violation of the rule at all):
   ``invariant`` accepted, and ``check_state(post)`` breaks the rule, not known;
   ``strict`` accepted, and ``check_state(post)`` breaks the rule, known or not;
   ``property`` ``check_transition`` breaks the rule, not known;
   ``no_wrap`` ``replay.concrete_wraps`` reports the obligation's site;
   ``no_crash`` ``apply`` raises.
   ``invariant`` and ``strict`` obligations range over the shapes Sales makes, so their last
   call is always one of the Sales alphabet.
3. Verdicts: ``reachable`` at the first hit; ``unreachable`` when the frontier empties (the
   fixpoint of the bounded alphabet) without one; ``undecided`` when ``max_states`` or
   ``max_depth`` stops the search first.
4. The alphabet follows the failing case's shape (``states.shapes``):
   * **Sales** (the shape's callers are ``{"sales"}``; spec §3.3): the operator creates
     availabilities and PATCHes their size, collateral and until through the API; Sales creates
     reservations, releases bytes while downloading (never after returning), returns bytes once
     with ``bytes`` = the slot size, deletes with ``returned_collateral`` none or at most what the
     reservation took, and deletes inactive reservations on restart; blocks are stored and expire.
   * **API** (any other shape): the Sales alphabet, plus releases and returns of any ``bytes``
     (0 included) on any live reservation, after a return or again (at most ``bounds.returns``
     returns per reservation: a return of nothing is accepted and only counts), deletes with any
     ``returned_collateral``, and calls of the obligation's operation on a missing or
     mismatched target, with an id in use, or a PATCH of ``free_size`` or of nothing.
   Ids follow the symbolic scope: availabilities ``a1``, ``a2`` (the first unused is created);
   reservations ``r<a><j>`` (the first unused ``j``) for request ``q<a><j>``, slot ``<a><j>``
   (``states.slot_of``). Quantities come from ``Bounds``; availabilities are created enabled with
   ``until = 0`` (a PATCH sets it). The terms only ``find_availability`` reads (duration, price,
   ``enabled``) are PATCHed, and finds are made, only when the obligation's operation is one of them.
5. Determinism: candidates are built from sorted ids and the bounds' tuples, the frontier is a
   list, and the visited set is only asked for membership; nothing depends on hash order, so a
   trace is the same in every process (``PYTHONHASHSEED``).

Pure: no I/O, clock or randomness.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from typing import Any

import attrs

from invariants import check_state, check_transition
from invariants.catalogue import Violation
from invariants.symbolic.obligations import Obligation
from invariants.symbolic.prover import Result
from invariants.symbolic.replay import concrete_wraps
from invariants.symbolic.run import operations_of
from invariants.symbolic.states import slot_of
from model import actions as act
from model.actions import Accepted, Action, OperationTable, Outcome, apply
from model.state import AnyState, Profile, initial_state

SALES = "sales"
API = "api"
KINDS = ("invariant", "strict", "property", "no_wrap", "no_crash")
#: The terms of every created availability that only ``find_availability`` reads, and their PATCHes.
DURATION, PRICE, MAX_COLLATERAL = 2, 1, 1
TERMS = ({"duration": 1}, {"min_price_per_byte_per_second": 2}, {"enabled": False}, {"enabled": True})


@attrs.frozen(kw_only=True)
class Bounds:
    """The finite world of the search: the quota, the ids, and the quantities the alphabet uses."""

    quota: int = 4
    availabilities: tuple[str, ...] = ("a1", "a2")
    reservations: int = 2
    sizes: tuple[int, ...] = (1, 2, 3)
    collaterals: tuple[int, ...] = (0, 1, 2, 3)
    per_byte: tuple[int, ...] = (0, 1)
    times: tuple[int, ...] = (1, 2)
    returns: int = 2  # API returns per reservation: the Sales one and one more (the scope's ``again`` shape)

    def contains(self, state: AnyState) -> bool:
        """Whether ``state`` stays in the bounded world: no availability has been given back more
        collateral than its reservations took by more than the largest collateral (API deletes after
        a ``totalCollateral`` reset could otherwise raise it without end)."""
        floor = -max(self.collaterals)
        return all(ledger.collateral_leaked >= floor for ledger in state.availability_ledgers.values())

    def describe(self, alphabet: str, profile: Profile) -> str:
        """One line: the alphabet, the quota, the ids and the ranges ``profile``'s operations take."""
        parts = [
            f"the {alphabet} alphabet",
            f"quota {self.quota}",
            f"availabilities {','.join(self.availabilities)} with at most {self.reservations} reservations each",
            f"sizes {_span(self.sizes)}",
        ]
        if profile is Profile.CODEX_HEAD:
            parts += [f"collateral {_span(self.collaterals)}", f"collateral per byte {_span(self.per_byte)}"]
            parts.append(f"times {_span((0, *self.times))}")
        if profile is Profile.CODEX_HEAD and alphabet == API:
            parts.append(f"at most {self.returns} returns per reservation")
            parts.append(f"at most {max(self.collaterals)} collateral over-returned")
        return ", ".join(parts)


@attrs.frozen(kw_only=True)
class Goal:
    """What the last step must show: the obligation's operation breaking the obligation's rule."""

    kind: str
    rule: str
    operation: str
    known: str | None = None


@attrs.frozen(kw_only=True)
class Triage:
    """The verdict of a search for a run that ends in a refutation's failure."""

    verdict: str  # reachable | unreachable | undecided
    trace: tuple[Action, ...]
    states: int
    depth: int
    bounds: str
    explanation: str

    def render(self) -> list[str]:
        """The lines ``sales-model prove`` prints under a refutation."""
        head = f"    triage: {self.verdict} ({self.states:,} states expanded, depth {self.depth})"
        steps = [f"      {n}. {call(action)}" for n, action in enumerate(self.trace, 1)]
        return [head, f"      {self.explanation}", *steps]


def call(action: Action) -> str:
    """``name(arg=value, ...)``, leaving out arguments not given (``None``)."""
    shown = [f"{name}={_text(value)}" for name, value in action.arguments().items() if value is not None]
    return f"{action.name}({', '.join(shown)})"


def triage(result: Result, *, max_states: int = 20_000, max_depth: int = 8, bounds: Bounds | None = None) -> Triage:
    """Search for a run of the model from the initial state whose last step fails as ``result`` says."""
    obligation = result.obligation
    if result.status != "refuted" or result.model is None or obligation.suite is None:
        raise ValueError(f"triage needs a refuted result with a counterexample, got {result.status}")
    if obligation.kind not in KINDS:
        raise ValueError(f"triage does not know obligations of kind {obligation.kind!r}")
    goal = Goal(kind=obligation.kind, rule=obligation.rule, operation=obligation.operation, known=obligation.known)
    alphabet = SALES if _callers(obligation, result.model.case) == frozenset({SALES}) else API
    return search(
        obligation.profile,
        goal,
        alphabet,
        operations_of(obligation.suite),
        bounds=bounds or Bounds(),
        max_states=max_states,
        max_depth=max_depth,
    )


def search(
    profile: Profile,
    goal: Goal,
    alphabet: str,
    operations: OperationTable | None,
    *,
    bounds: Bounds,
    max_states: int,
    max_depth: int,
) -> Triage:
    """Breadth first over ``alphabet`` within ``bounds`` until ``goal`` is hit or a cap stops the search."""
    world = bounds.describe(alphabet, profile)
    verdict = functools.partial(_verdict, bounds=f"{world}; caps {max_states:,} states, depth {max_depth}")
    start = initial_state(profile, quota_max_bytes=bounds.quota)
    frontier: list[tuple[AnyState, tuple[Action, ...]]] = [(start, ())]
    visited = {start}
    expanded, depth = 0, 0
    while frontier:
        if depth == max_depth:
            left = sum(
                1 for state, _ in frontier if bounds.contains(state) and not _breaks_invariant(check_state(state))
            )
            if not left:
                break
            return verdict("undecided", _capped(world, f"max_depth={max_depth}", left), expanded, depth)
        following: list[tuple[AnyState, tuple[Action, ...]]] = []
        for index, (state, trace) in enumerate(frontier):
            found = check_state(state)
            if _breaks_invariant(found) or not bounds.contains(state):
                continue
            if expanded == max_states:
                left = len(frontier) - index + len(following)
                return verdict("undecided", _capped(world, f"max_states={max_states:,}", left), expanded, depth)
            expanded += 1
            tested = _tested(state, found, alphabet, goal, bounds)
            for action in candidates(state, alphabet, goal.operation, bounds):
                outcome, known = _step(state, action, goal, operations, tested(action))
                if known is not None:
                    hit = (*trace, action)
                    return verdict("reachable", _real(goal, len(hit), known), expanded, len(hit), hit)
                if isinstance(outcome, Accepted) and outcome.state not in visited:
                    visited.add(outcome.state)
                    following.append((outcome.state, (*trace, action)))
        frontier = following
        depth += 1
    return verdict("unreachable", _missing_invariant(world), expanded, depth)


# -- the goal ---------------------------------------------------------------------------


def _breaks_invariant(found: list[Violation]) -> bool:
    """Whether violations ``found`` of a state include one not attributed to nim-codex (rule 1)."""
    return any(v.known is None for v in found)


def _tested(
    state: AnyState, found: list[Violation], alphabet: str, goal: Goal, bounds: Bounds
) -> Callable[[Action], bool]:
    """Which candidate calls on ``state`` are tested against the goal: calls of the obligation's
    operation, from a state inside its hypotheses (``strict``: the rule holds with no exception),
    and for ``invariant`` and ``strict``, whose obligations range over the shapes Sales makes,
    only calls of the Sales alphabet."""
    if goal.kind == "strict" and any(v.rule == goal.rule for v in found):
        return lambda _action: False
    if goal.kind in ("invariant", "strict") and alphabet == API:
        sales = frozenset(candidates(state, SALES, goal.operation, bounds))
        return lambda action: action.name == goal.operation and action in sales
    return lambda action: action.name == goal.operation


def _step(
    pre: AnyState, action: Action, goal: Goal, operations: OperationTable | None, tested: bool
) -> tuple[Outcome | None, str | None]:
    """Apply ``action``; the second value is ``None`` unless this step hits the goal, else its
    known attribution (``""`` when there is none)."""
    if not tested:
        return apply(pre, action, operations), None
    if goal.kind == "no_crash":
        try:
            return apply(pre, action, operations), None
        except Exception:  # a crash of the model is the goal
            return None, ""
    outcome = apply(pre, action, operations)
    if goal.kind == "no_wrap":
        site = goal.rule.removeprefix("no_wrap:")
        hit = any(w.site == site for w in concrete_wraps(pre, action, operations))
        return outcome, (goal.known or "") if hit else None
    found = _violations(pre, action, outcome, goal)
    if not found:
        return outcome, None
    return outcome, found[0].known or ""


def _violations(pre: AnyState, action: Action, outcome: Outcome, goal: Goal) -> list[Violation]:
    if goal.kind == "property":
        return [v for v in check_transition(pre, action, outcome) if v.rule == goal.rule and v.known is None]
    if not isinstance(outcome, Accepted):
        return []
    strict = goal.kind == "strict"
    return [v for v in check_state(outcome.state) if v.rule == goal.rule and (strict or v.known is None)]


# -- verdicts -----------------------------------------------------------------------------


def _verdict(
    verdict: str, explanation: str, states: int, depth: int, trace: tuple[Action, ...] = (), *, bounds: str
) -> Triage:
    return Triage(verdict=verdict, trace=trace, states=states, depth=depth, bounds=bounds, explanation=explanation)


def _real(goal: Goal, steps: int, known: str) -> str:
    attribution = ""
    if known:  # the obligation's own attribution is named only when the step shows a known violation
        texts = [goal.known] if goal.known and goal.known.startswith(known) else [known, *filter(None, [goal.known])]
        attribution = f" (known: {'; '.join(texts)})"
    return f"real: {goal.operation} fails {goal.rule} after {steps} steps{attribution}"


def _missing_invariant(world: str) -> str:
    return (
        f"not reachable within {world}: the counterexample's pre-state satisfies the invariants but no run"
        " reaches it; the inductive invariant needs strengthening (a missing invariant), not the code"
    )


def _capped(world: str, cap: str, left: int) -> str:
    return (
        f"undecided: the search hit {cap} with {left:,} states found and not expanded, before the fixpoint of {world};"
        " raise the cap or shrink the bounds"
    )


# -- the alphabets ------------------------------------------------------------------------


def candidates(state: AnyState, alphabet: str, operation: str, bounds: Bounds) -> list[Action]:
    """Every call of ``alphabet`` on ``state``, in a fixed order (sorted ids, the bounds' tuples)."""
    api = alphabet == API
    head = state.profile is Profile.CODEX_HEAD
    out: list[Action] = []
    out.extend(_create_availability(state, bounds, probe=api and operation == "create_availability"))
    if head:
        out.extend(_update_availability(state, bounds, operation, probe=api and operation == "update_availability"))
    out.extend(_create_reservation(state, bounds, probe=api and operation == "create_reservation"))
    out.extend(_release_bytes(state, bounds, api=api, probe=api and operation == "release_bytes"))
    if head:
        out.extend(_return_bytes(state, bounds, api=api, probe=api and operation == "return_bytes_to_availability"))
    out.extend(_delete_reservation(state, bounds, api=api, probe=api and operation == "delete_reservation"))
    out.extend(_blocks_and_restart(state, bounds))
    if operation == "find_availability":
        out.extend(_find_availability(state, bounds))
    return out


def _create_availability(state: AnyState, bounds: Bounds, *, probe: bool) -> Iterator[Action]:
    fresh = [aid for aid in bounds.availabilities if aid not in state.availabilities]
    ids = fresh[:1] + ([min(state.availabilities)] if probe and state.availabilities else [])
    for aid in ids:
        if state.profile is Profile.CODEX_535:
            for size in bounds.sizes:
                yield act.CreateAvailability535(
                    availability_id=aid, size=size, duration=DURATION, min_price=PRICE, max_collateral=MAX_COLLATERAL
                )
            continue
        for size in bounds.sizes:
            for collateral in bounds.collaterals:
                yield act.CreateAvailabilityHead(
                    availability_id=aid,
                    total_size=size,
                    duration=DURATION,
                    min_price_per_byte_per_second=PRICE,
                    total_collateral=collateral,
                )


def _update_availability(state: AnyState, bounds: Bounds, operation: str, *, probe: bool) -> Iterator[Action]:
    patches: list[dict[str, Any]] = [{"total_size": size} for size in bounds.sizes]
    patches += [{"total_collateral": collateral} for collateral in bounds.collaterals]
    patches += [{"until": until} for until in (0, *bounds.times)]
    if operation in ("update_availability", "find_availability"):
        patches += TERMS
    if probe:
        patches += [{}, {"free_size": bounds.sizes[0]}]
    for aid in sorted(state.availabilities):
        for patch in patches:
            yield act.UpdateAvailability(availability_id=aid, **patch)
    if probe:
        yield act.UpdateAvailability(availability_id="a9", duration=DURATION)


def _create_reservation(state: AnyState, bounds: Bounds, *, probe: bool) -> Iterator[Action]:
    head = state.profile is Profile.CODEX_HEAD
    targets = [(aid, rid) for aid in sorted(state.availabilities) if (rid := _fresh_reservation(state, aid, bounds))]
    if probe:
        targets += [("a9", "r91")] + [(min(state.availabilities), rid) for rid in sorted(state.reservations)[:1]]
    for aid, rid in targets:
        request_id, slot_index = slot_of(rid)
        for slot_size in bounds.sizes:
            if not head:
                yield act.CreateReservation535(
                    availability_id=aid,
                    reservation_id=rid,
                    slot_size=slot_size,
                    request_id=request_id,
                    slot_index=slot_index,
                )
                continue
            for per_byte in bounds.per_byte:
                for valid_until in bounds.times:
                    yield act.CreateReservationHead(
                        availability_id=aid,
                        reservation_id=rid,
                        slot_size=slot_size,
                        request_id=request_id,
                        slot_index=slot_index,
                        collateral_per_byte=per_byte,
                        valid_until=valid_until,
                    )


def _fresh_reservation(state: AnyState, availability_id: str, bounds: Bounds) -> str | None:
    index = availability_id[1:]
    ids = (f"r{index}{j}" for j in range(1, bounds.reservations + 1))
    return next((rid for rid in ids if rid not in state.reservations), None)


def _returns(state: AnyState, reservation_id: str) -> int:
    return state.reservation_ledgers[reservation_id].returns


def _release_bytes(state: AnyState, bounds: Bounds, *, api: bool, probe: bool) -> Iterator[Action]:
    amounts = (0, *bounds.sizes) if api else bounds.sizes
    for rid in sorted(state.reservations):
        if not api and _returns(state, rid):
            continue
        aid = state.reservations[rid].availability_id
        for amount in amounts:
            yield act.ReleaseBytes(reservation_id=rid, availability_id=aid, bytes=amount)
    for rid, aid in _wrong_targets(state) if probe else ():
        yield act.ReleaseBytes(reservation_id=rid, availability_id=aid, bytes=bounds.sizes[0])


def _return_bytes(state: AnyState, bounds: Bounds, *, api: bool, probe: bool) -> Iterator[Action]:
    for rid in sorted(state.reservations):
        aid = state.reservations[rid].availability_id
        if api and _returns(state, rid) < bounds.returns:
            for amount in (0, *bounds.sizes):
                yield act.ReturnBytesToAvailability(availability_id=aid, reservation_id=rid, bytes=amount)
        elif not api and not _returns(state, rid):
            slot_size = state.reservation_ledgers[rid].slot_size
            yield act.ReturnBytesToAvailability(availability_id=aid, reservation_id=rid, bytes=slot_size)
    for rid, aid in _wrong_targets(state) if probe else ():
        yield act.ReturnBytesToAvailability(availability_id=aid, reservation_id=rid, bytes=bounds.sizes[0])


def _delete_reservation(state: AnyState, bounds: Bounds, *, api: bool, probe: bool) -> Iterator[Action]:
    head = state.profile is Profile.CODEX_HEAD
    targets = [(rid, state.reservations[rid].availability_id) for rid in sorted(state.reservations)]
    for rid, aid in targets + (_wrong_targets(state) if probe else []):
        if not head:
            yield act.DeleteReservation535(reservation_id=rid, availability_id=aid)
            continue
        taken = state.reservation_ledgers[rid].collateral if rid in state.reservation_ledgers else 0
        given = bounds.collaterals if api else tuple(c for c in bounds.collaterals if c <= taken)
        for collateral in (None, *given):
            yield act.DeleteReservationHead(reservation_id=rid, availability_id=aid, returned_collateral=collateral)


def _wrong_targets(state: AnyState) -> list[tuple[str, str]]:
    """A missing reservation, and each live one paired with another availability than its own."""
    first = min(state.availabilities, default="a1")
    pairs = [("r99", first)]
    for rid in sorted(state.reservations):
        own = state.reservations[rid].availability_id
        pairs += [(rid, aid) for aid in sorted(state.availabilities) if aid != own][:1]
    return pairs


def _blocks_and_restart(state: AnyState, bounds: Bounds) -> Iterator[Action]:
    for amount in bounds.sizes:
        yield act.StoreBlock(bytes=amount)
    for amount in bounds.sizes:
        yield act.ExpireBlock(bytes=amount)
    live = sorted(state.reservations)
    slots = {rid: slot_of(rid) for rid in live}
    every = frozenset(slots.values())
    for rid in live:
        yield act.DeleteInactiveReservations(active_slots=every - {slots[rid]})
    if len(live) > 1:
        yield act.DeleteInactiveReservations(active_slots=frozenset())


def _find_availability(state: AnyState, bounds: Bounds) -> Iterator[Action]:
    for size in (0, *bounds.sizes):
        for duration in (DURATION - 1, DURATION):
            for price in (PRICE, PRICE + 1):
                if state.profile is Profile.CODEX_535:
                    yield act.FindAvailability535(size=size, duration=duration, min_price=price, collateral=0)
                    continue
                for per_byte in bounds.per_byte:
                    yield act.FindAvailabilityHead(
                        size=size,
                        duration=duration,
                        price_per_byte_per_second=price,
                        collateral_per_byte=per_byte,
                        valid_until=bounds.times[-1],
                    )


# -- helpers ------------------------------------------------------------------------------


def _callers(obligation: Obligation, case: str) -> frozenset[str]:
    """The callers of the shape a case label names (``operation[shape] path ...``)."""
    assert obligation.suite is not None
    label = case.split(" ", 1)[0]
    for runs in obligation.suite.operations:
        for shape, _ in runs.runs:
            if shape.label == label:
                return shape.callers
    raise ValueError(f"no shape {label!r} in the suite of {obligation.name}")


def _span(values: tuple[int, ...]) -> str:
    low, high = min(values), max(values)
    if len(values) == high - low + 1:
        return f"{low}-{high}" if low != high else str(low)
    return ",".join(map(str, values))


def _text(value: object) -> str:
    if isinstance(value, frozenset):
        return "{" + ", ".join(f"{r}/{s}" for r, s in sorted(value)) + "}"
    return str(value)
