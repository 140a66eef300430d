"""Exhaustive breadth-first exploration of a small market scope, with state hashing.

Theory of operation:
1. A ``Scope`` fixes everything finite: the availabilities present at the start, the requests the
   chain may submit, the queue's bounds, the PATCHes the operator may make, whether restarts happen,
   and the depth. ``candidates(market, scope)`` lists every action that might apply; the model
   (``apply_market``) decides which do, so this engine holds no business rule of its own.
2. States are frozen values (``immutables.Map`` inside) and are hashed: each is expanded once.
   Every transition, including into an already seen state, is checked against the transition
   properties; every new state against the invariants (reservations and market).
3. Breadth first, so the first violation of a rule is found at the smallest depth: its trace is a
   shortest counterexample. Known nim-codex violations are recorded (shortest trace each), not failed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import attrs

from invariants import Violation, market_rules_for, rules_for
from model.actions import CreateAvailability535, CreateAvailabilityHead, UpdateAvailability
from model.chain import RequestTerms
from model.market import (
    CancelRequest,
    ExpireBlocks,
    FailRequest,
    FillSlot,
    FinishRequest,
    FreeSlot,
    MarketAccepted,
    MarketAction,
    ProcessSlot,
    RequestStorage,
    Restart,
    SaleStep,
    SaveAvailability,
    apply_market,
)
from model.market_state import MarketRules, MarketState, initial_market
from model.sale import EXTERNAL, TABLES, SaleEvent, SaleState, Table, events_of
from model.state import Profile
from stateful_tests.coverage import Coverage

#: Large enough that collateral never limits matching unless a PATCH lowers it.
COLLATERAL = 1_000


@attrs.frozen(kw_only=True)
class Scope:
    """A finite world to explore completely up to ``depth`` steps after its ``prelude``.

    ``availabilities`` are created at the start; ``requests`` may be submitted at any step;
    ``patches`` are the PATCHes (HEAD) the operator may make to any availability at any step;
    ``creatable`` are sizes of availabilities (ids ``c1``, ``c2``, ...) the operator may create at any step;
    ``prelude`` is a fixed trace run first, to start the search deep in one region.
    """

    name: str
    depth: int
    quota: int
    availabilities: tuple[int, ...]
    requests: tuple[RequestTerms, ...]
    max_workers: int = 1
    max_size: int = 2
    repair_discount: int = 0
    restarts: bool = True
    patches: tuple[dict[str, Any], ...] = ()
    creatable: tuple[int, ...] = ()
    prelude: tuple[MarketAction, ...] = ()


def terms(request_id: str, *, slots: int, slot_size: int, price: int = 1, end: int = 30) -> RequestTerms:
    """Request terms with small prices; ``end`` is the reservation's ``valid_until``."""
    return RequestTerms(
        request_id=request_id,
        slots=slots,
        slot_size=slot_size,
        duration=5,
        price_per_byte_per_second=price,
        collateral_per_byte=1,
        expiry=10,
        end=end,
    )


ONE = terms("r1", slots=1, slot_size=1)
TWO = terms("r1", slots=2, slot_size=1)
BIG = terms("r1", slots=1, slot_size=2)

SCOPES: dict[str, Scope] = {
    # One slot from request to payout, restarts anywhere, blocks that expire.
    "lifecycle": Scope(name="lifecycle", depth=15, quota=3, availabilities=(1,), requests=(ONE,), max_size=1),
    # Two slots of one request and room for one: a filled slot in a New request, no match, cancellations.
    "pair": Scope(name="pair", depth=12, quota=3, availabilities=(1,), requests=(TWO,), max_workers=2),
    # Two agents racing for one availability while the operator PATCHes it.
    "race": Scope(
        name="race",
        depth=8,
        quota=3,
        availabilities=(1,),
        requests=(TWO,),
        max_workers=2,
        restarts=False,
        patches=({"until": 1}, {"until": 0}, {"enabled": False}, {"enabled": True}),
        creatable=(1,),
    ),
    # A slot freed for repair, downloaded again without release, filled at the discounted collateral.
    "repair": Scope(
        name="repair",
        depth=14,
        quota=5,
        availabilities=(2,),
        requests=(BIG,),
        repair_discount=50,
        restarts=False,
        prelude=(
            RequestStorage(terms=BIG),
            FillSlot(request_id="r1", slot_index=0),
            FreeSlot(request_id="r1", slot_index=0),
        ),
    ),
    # A repo with no headroom left when a cleanup re-reserves the written bytes (spec §3.3, nim-codex#1251).
    "headroom": Scope(
        name="headroom", depth=10, quota=2, availabilities=(1,), requests=(ONE,), restarts=False, creatable=(1,)
    ),
    # Two requests for a queue of one item and nothing to sell until an availability is created:
    # evictions, seen items, a paused queue and what unpauses it.
    "queue": Scope(
        name="queue",
        depth=10,
        quota=3,
        availabilities=(0,),
        requests=(terms("r1", slots=1, slot_size=1), terms("r2", slots=1, slot_size=1, price=2)),
        max_workers=2,
        max_size=1,
        restarts=False,
        creatable=(1,),
    ),
    # Sizes 0, 1 and 2 on two availabilities (a tiny smoke scope for the tests).
    "tiny": Scope(name="tiny", depth=8, quota=4, availabilities=(0, 2), requests=(terms("r1", slots=1, slot_size=2),)),
}

#: Named sets of scopes explored together; coverage is judged on their union.
SUITES: dict[str, tuple[str, ...]] = {
    "default": ("lifecycle", "pair", "race", "repair", "queue", "headroom"),
    "quick": ("tiny",),
}


def initial(profile: Profile, scope: Scope) -> MarketState:
    """The scope's starting market: its availabilities created, nothing requested."""
    market = initial_market(
        profile,
        quota_max_bytes=scope.quota,
        max_size=scope.max_size,
        max_workers=scope.max_workers,
        repair_discount=scope.repair_discount,
    )
    for n, size in enumerate(scope.availabilities, start=1):
        outcome = apply_market(market, SaveAvailability(action=_availability(profile, f"a{n}", size)))
        if not isinstance(outcome, MarketAccepted):
            raise ValueError(f"scope {scope.name}: availability of {size} bytes does not fit: {outcome!r}")
        market = outcome.state
    for action in scope.prelude:
        outcome = apply_market(market, action)
        if not isinstance(outcome, MarketAccepted):
            raise ValueError(f"scope {scope.name}: prelude step {action!r} refused: {outcome!r}")
        market = outcome.state
    return market


def _availability(profile: Profile, availability_id: str, size: int) -> CreateAvailabilityHead | CreateAvailability535:
    if profile is Profile.CODEX_HEAD:
        return CreateAvailabilityHead(
            availability_id=availability_id,
            total_size=size,
            duration=10,
            min_price_per_byte_per_second=1,
            total_collateral=COLLATERAL,
        )
    return CreateAvailability535(
        availability_id=availability_id, size=size, duration=10, min_price=1, max_collateral=COLLATERAL
    )


def candidates(market: MarketState, scope: Scope, rules: MarketRules | None = None) -> Iterator[MarketAction]:
    """Every action that might apply to ``market`` within ``scope`` (the model refuses the others)."""
    for asked in scope.requests:
        if asked.request_id not in market.requests:
            yield RequestStorage(terms=asked)
    for request_id, request in sorted(market.requests.items()):
        yield from (CancelRequest(request_id=request_id), FailRequest(request_id=request_id))
        yield FinishRequest(request_id=request_id)
        for index in range(len(request.slots)):
            yield FillSlot(request_id=request_id, slot_index=index)
            yield FreeSlot(request_id=request_id, slot_index=index)
            yield ExpireBlocks(request_id=request_id, slot_index=index)
    yield ProcessSlot()
    if scope.restarts:
        yield Restart()
    for n, size in enumerate(scope.creatable, start=1):
        if f"c{n}" not in market.reservations.availabilities:
            yield SaveAvailability(action=_availability(market.profile, f"c{n}", size))
    if market.profile is Profile.CODEX_HEAD:
        for availability_id in sorted(market.reservations.availabilities):
            for patch in scope.patches:
                yield SaveAvailability(action=UpdateAvailability(availability_id=availability_id, **patch))
    yield from sale_steps(market, None if rules is None else rules.table)


_ROWS: dict[int, tuple[Table, dict[SaleState, tuple[SaleEvent, ...]]]] = {}


def _run_outcomes(table: Table, state: SaleState) -> tuple[SaleEvent, ...]:
    """The run outcomes ``state`` handles in ``table`` (memoised per table)."""
    cached = _ROWS.get(id(table))
    if cached is None or cached[0] is not table:
        rows = {s: tuple(e for e in events_of(table, s) if e not in EXTERNAL) for s in SaleState}
        cached = _ROWS[id(table)] = (table, rows)
    return cached[1][state]


def sale_steps(market: MarketState, table: Table | None = None) -> Iterator[SaleStep]:
    """Every run outcome of every live sale; a batch is one byte or the rest of the slot."""
    chosen = TABLES[market.profile] if table is None else table
    for key, sale in sorted(market.sales.items()):
        if sale.ended:
            continue
        request_id, index, number = key
        for event in _run_outcomes(chosen, sale.state):
            if event is SaleEvent.BATCH:
                rest = market.requests[request_id].terms.slot_size - sale.downloaded
                for size in sorted({1, rest}):
                    yield SaleStep(request_id=request_id, slot_index=index, number=number, event=event, bytes=size)
            else:
                yield SaleStep(request_id=request_id, slot_index=index, number=number, event=event)


def rule_name(action: MarketAction) -> str:
    """The coverage name of an action: its name, and for a sale step its event."""
    return f"sale_step[{action.event.value}]" if isinstance(action, SaleStep) else action.name


@attrs.frozen(kw_only=True)
class Example:
    """The shortest trace found to a violation (or to a known nim-codex violation)."""

    violations: tuple[Violation, ...]
    trace: tuple[MarketAction, ...]


@attrs.define
class ExhaustiveResult:
    """What one exhaustive exploration found."""

    profile: Profile
    scope: Scope
    states: int = 0
    transitions: int = 0
    depth: int = 0
    complete: bool = False
    seconds: float = 0.0
    violation: Example | None = None
    known: dict[tuple[str, str], Example] = attrs.field(factory=dict)
    known_counts: dict[tuple[str, str], int] = attrs.field(factory=dict)
    coverage: Coverage = attrs.field(default=None)

    @property
    def failed(self) -> bool:
        return self.violation is not None

    @property
    def states_per_second(self) -> float:
        return self.states / self.seconds if self.seconds else 0.0


Listener = Callable[[ExhaustiveResult, int], None]


class _Search:
    """The bookkeeping of one breadth-first search (parents for traces, tallies)."""

    def __init__(self, profile: Profile, scope: Scope, rules: MarketRules | None) -> None:
        self.scope, self.rules = scope, rules
        self.result = ExhaustiveResult(profile=profile, scope=scope, coverage=Coverage(profile=profile))
        self.parents: dict[MarketState, tuple[MarketState, MarketAction] | None] = {}
        self.invariants, self.properties = rules_for(profile)
        self.market_invariants, self.market_properties = market_rules_for(profile)

    def state_violations(self, market: MarketState) -> list[Violation]:
        found = [v for rule in self.invariants for v in rule.check(market.reservations)]
        return found + [v for rule in self.market_invariants for v in rule.check(market)]

    def step_violations(self, pre: MarketState, action: MarketAction, outcome: MarketAccepted) -> list[Violation]:
        found = [v for rule in self.market_properties for v in rule.check(pre, action, outcome)]
        for step in outcome.steps:
            found += [v for rule in self.properties for v in rule.check(step.pre, step.action, step.outcome)]
        return found

    def trace(self, state: MarketState, last: MarketAction | None = None) -> tuple[MarketAction, ...]:
        steps: list[MarketAction] = [] if last is None else [last]
        link = self.parents[state]
        while link is not None:
            state, action = link
            steps.append(action)
            link = self.parents[state]
        return (*self.scope.prelude, *reversed(steps))

    def judge(self, found: list[Violation], state: MarketState, last: MarketAction | None) -> bool:
        """Record violations; True when an unknown one ends the search."""
        for violation in found:
            key = (violation.rule, violation.known or "")
            if violation.known:
                self.result.known_counts[key] = self.result.known_counts.get(key, 0) + 1
                if key not in self.result.known:
                    self.result.known[key] = Example(violations=(violation,), trace=self.trace(state, last))
        unknown = tuple(v for v in found if not v.known)
        if unknown:
            self.result.violation = Example(violations=unknown, trace=self.trace(state, last))
        return bool(unknown)

    def expand(self, state: MarketState, frontier: list[MarketState]) -> bool:
        result = self.result
        for action in candidates(state, self.scope, self.rules):
            outcome = apply_market(state, action, self.rules)
            if not isinstance(outcome, MarketAccepted):
                result.coverage.record(rule_name(action), None)
                continue
            result.transitions += 1
            result.coverage.record(rule_name(action), outcome.hits)
            if self.judge(self.step_violations(state, action, outcome), state, action):
                return True
            post = outcome.state
            if post in self.parents:
                continue
            self.parents[post] = (state, action)
            result.states += 1
            result.coverage.observe(post)
            if self.judge(self.state_violations(post), post, None):
                return True
            frontier.append(post)
        return False


def explore_exhaustively(
    profile: Profile, scope: Scope, *, rules: MarketRules | None = None, listener: Listener | None = None
) -> ExhaustiveResult:
    """Breadth-first search of ``scope`` for ``profile`` (with ``rules`` in place of the real ones if given)."""
    started = time.perf_counter()
    search = _Search(profile, scope, rules)
    result = search.result
    start = initial(profile, scope)
    search.parents[start] = None
    result.states = 1
    result.coverage.observe(start)
    stop = search.judge(search.state_violations(start), start, None)
    frontier = [start]
    while frontier and not stop and result.depth < scope.depth:
        level, frontier = frontier, []
        for state in level:
            if search.expand(state, frontier):
                stop = True
                break
        result.depth += 1
        result.seconds = time.perf_counter() - started
        if listener is not None:
            listener(result, len(frontier))
    result.complete = not frontier and not stop
    result.seconds = time.perf_counter() - started
    return result


@attrs.define
class SuiteResult:
    """The exhaustive explorations of every scope of a suite, for one profile, and their joint coverage."""

    profile: Profile
    suite: str
    results: list[ExhaustiveResult] = attrs.field(factory=list)
    coverage: Coverage = attrs.field(default=None)

    @property
    def failed(self) -> bool:
        return any(r.failed for r in self.results) or bool(self.coverage.problems())

    @property
    def states(self) -> int:
        return sum(r.states for r in self.results)

    @property
    def transitions(self) -> int:
        return sum(r.transitions for r in self.results)

    @property
    def seconds(self) -> float:
        return sum(r.seconds for r in self.results)


def explore_suite(
    profile: Profile,
    scopes: tuple[Scope, ...],
    *,
    name: str = "custom",
    rules: MarketRules | None = None,
    listener: Listener | None = None,
) -> SuiteResult:
    """Explore every scope for ``profile``; coverage is the union. A scope's violation stops the suite."""
    suite = SuiteResult(profile=profile, suite=name, coverage=Coverage(profile=profile))
    for scope in scopes:
        result = explore_exhaustively(profile, scope, rules=rules, listener=listener)
        suite.results.append(result)
        suite.coverage.merge(result.coverage)
        if result.failed:
            break
    return suite
