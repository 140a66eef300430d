"""A Hypothesis rule-based machine over a whole market: availabilities, requests, sales, queue, restarts.

Theory of operation:
1. The machine holds one ``MarketState`` and changes it only through ``model.market.apply_market``
   (with the profile's rules, or a broken variant's).
2. After every accepted step it checks the whole catalogue: the market properties of the step, the
   reservation properties of every reservation operation the step ran, the reservation invariants
   of ``market.reservations`` and the market invariants. Known nim-codex violations are tallied;
   any other violation raises ``HarnessFailure``.
3. Which sale moves next, and which chain event happens, is a pick among the actions the model
   allows right now (tried on the model, never decided here), so programs interleave many sales.
4. ``sale_event`` throws an event at a sale blindly: an event its state does not handle must come
   back as ``IllegalEvent`` and change nothing.
"""

from __future__ import annotations

from typing import Any

import attrs
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, precondition, rule

from invariants import Violation, market_rules_for, rules_for
from model.actions import UpdateAvailability
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
    MarketOutcome,
    ProcessSlot,
    RequestStorage,
    Restart,
    SaleStep,
    SaveAvailability,
    apply_market,
)
from model.market_state import MarketRules, MarketState, initial_market
from model.sale import IllegalEvent, SaleEvent, next_state
from model.state import Profile
from stateful_tests import strategies as s
from stateful_tests.coverage import Coverage
from stateful_tests.exhaustive import Scope, _availability, candidates, rule_name, sale_steps
from stateful_tests.machines import HarnessFailure
from stateful_tests.stats import ExplorationStats

ACCEPTED = "accepted"
CHAIN = {
    "fill": FillSlot,
    "cancel": CancelRequest,
    "fail": FailRequest,
    "finish": FinishRequest,
    "free": FreeSlot,
    "expire": ExpireBlocks,
}
#: Run outcomes that end a sale early; ``advance`` takes them only when it draws a mishap.
MISHAPS = frozenset(
    {
        SaleEvent.REQUEST_MISSING,
        SaleEvent.MARKET_ERROR,
        SaleEvent.SLOT_STATE_UNKNOWN,
        SaleEvent.DOWNLOAD_FAILED,
        SaleEvent.PROOF_FAILED,
        SaleEvent.EXPIRY_UPDATE_FAILED,
        SaleEvent.RESERVE_NOT_ALLOWED,
    }
)
#: What ``candidates`` needs to list chain events and sale steps; requests come from the rules.
OPEN_SCOPE = Scope(name="open", depth=0, quota=s.MARKET_QUOTA, availabilities=(), requests=())


def market_machine(
    profile: Profile,
    *,
    rules: MarketRules | None = None,
    stats: ExplorationStats | None = None,
    coverage: Coverage | None = None,
) -> type[RuleBasedStateMachine]:
    """A machine class exploring ``profile``'s market (with ``rules`` in place of the real ones if given)."""
    head = profile is Profile.CODEX_HEAD
    collector = stats if stats is not None else ExplorationStats()
    seen = coverage if coverage is not None else Coverage(profile=profile)
    invariants, properties = rules_for(profile)
    market_invariants, market_properties = market_rules_for(profile)

    class MarketMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.setup: dict[str, Any] = {"quota_max_bytes": s.MARKET_QUOTA}
            self.market: MarketState = initial_market(profile, **self.setup)
            self.trace: list[MarketAction] = []  # every action applied since the start, for HarnessFailure
            self.counter = 0
            collector.runs += 1

        def teardown(self) -> None:
            collector.finish_run()

        def fresh(self, prefix: str) -> str:
            self.counter += 1
            return f"{prefix}{self.counter}"

        # -- the one way to change the market ---------------------------------------------

        def step(self, action: MarketAction, rule_label: str | None = None) -> MarketOutcome:
            pre = self.market
            try:
                outcome = apply_market(pre, action, rules)
            except Exception as exc:
                failure = Violation(rule="model_raised", entity=action.name, message=repr(exc))
                trace = (*self.trace, action)
                raise HarnessFailure([failure], None, trace=trace, setup=self.setup, level="market") from exc
            self.trace.append(action)
            label = rule_label or rule_name(action)
            kind = ACCEPTED if isinstance(outcome, MarketAccepted) else outcome.kind
            collector.record_step(label, kind, len(market_properties))
            if not isinstance(outcome, MarketAccepted):
                seen.record(label, None)
                return outcome
            seen.record(label, outcome.hits)
            found = [v for p in market_properties for v in p.check(pre, action, outcome)]
            for inner in outcome.steps:
                found += [v for p in properties for v in p.check(inner.pre, inner.action, inner.outcome)]
            self.market = outcome.state
            seen.observe(self.market)
            found += self.state_violations()
            self.judge(found, action)
            return outcome

        def state_violations(self) -> list[Violation]:
            found = [v for i in invariants for v in i.check(self.market.reservations)]
            found += [v for i in market_invariants for v in i.check(self.market)]
            collector.record_invariants(len(invariants) + len(market_invariants), [v for v in found if v.known])
            return found

        def judge(self, found: list[Violation], action: MarketAction | None) -> None:
            unknown = [v for v in found if not v.known]
            if unknown:
                failing = None if action is None else _as_action(action)
                raise HarnessFailure(unknown, failing, trace=tuple(self.trace), setup=self.setup, level="market")

        def enabled(self, actions: list[MarketAction]) -> list[MarketAction]:
            """The actions the model accepts now (tried on the current state, which stays as it is)."""
            return [a for a in actions if isinstance(apply_market(self.market, a, rules), MarketAccepted)]

        def take_one(self, actions: list[MarketAction], pick: int, label: str) -> None:
            allowed = self.enabled(actions)
            if not allowed:
                seen.record(label, None)
                collector.record_step(label, "NothingEnabled", 0)
                return
            self.step(allowed[pick % len(allowed)], label)

        # -- set-up ---------------------------------------------------------------------------

        @initialize(workers=s.max_workers, size=s.max_queue_sizes, discount=s.repair_discounts, first=s.market_sizes)
        def configure(self, workers: int, size: int, discount: int, first: int) -> None:
            """A node with its queue bounds and one availability of ``first`` bytes (most runs sell something)."""
            self.setup = {
                "quota_max_bytes": s.MARKET_QUOTA,
                "max_size": size,
                "max_workers": workers,
                "repair_discount": discount,
            }
            self.market = initial_market(profile, **self.setup)
            self.trace = []
            self.judge(self.state_violations(), None)
            self.create_availability(size=first, duration=20, price=0, collateral=1_000)

        # -- the operator -----------------------------------------------------------------------

        @rule(
            size=s.market_sizes,
            duration=s.availability_durations,
            price=s.market_prices,
            collateral=s.market_collaterals,
        )
        def create_availability(self, size: int, duration: int, price: int, collateral: int) -> None:
            action = _availability(profile, self.fresh("a"), size)
            if head:
                action = _with_terms(
                    action, duration=duration, min_price_per_byte_per_second=price, total_collateral=collateral
                )
            else:
                action = _with_terms(action, duration=duration, min_price=price, max_collateral=collateral)
            self.step(SaveAvailability(action=action))

        if head:

            @precondition(lambda self: bool(self.market.reservations.availabilities))
            @rule(
                pick=s.picks,
                enabled=st.one_of(st.none(), st.booleans()),
                total=s.optional(s.market_sizes),
                until=st.one_of(st.none(), st.just(0), s.request_ends),
                collateral=s.optional(s.market_collaterals),
            )
            def update_availability(
                self, pick: int, enabled: bool | None, total: int | None, until: int | None, collateral: int | None
            ) -> None:
                ids = sorted(self.market.reservations.availabilities)
                patch = UpdateAvailability(
                    availability_id=ids[pick % len(ids)],
                    enabled=enabled,
                    total_size=total,
                    until=until,
                    total_collateral=collateral,
                )
                self.step(SaveAvailability(action=patch))

        # -- the chain ---------------------------------------------------------------------------

        @precondition(lambda self: sum(r.state.value in ("New", "Started") for r in self.market.requests.values()) < 3)
        @rule(
            slots=s.slot_counts,
            slot_size=s.slot_sizes,
            duration=s.market_durations,
            price=s.market_prices,
            per_byte=st.integers(min_value=0, max_value=3),
            end=s.request_ends,
        )
        def request_storage(
            self, slots: int, slot_size: int, duration: int, price: int, per_byte: int, end: int
        ) -> None:
            terms = RequestTerms(
                request_id=self.fresh("r"),
                slots=slots,
                slot_size=slot_size,
                duration=duration,
                price_per_byte_per_second=price,
                collateral_per_byte=per_byte,
                expiry=end // 2,
                end=end,
            )
            self.step(RequestStorage(terms=terms))

        @rule(kind=st.sampled_from(sorted(CHAIN)), pick=s.picks)
        def chain_event(self, kind: str, pick: int) -> None:
            chosen = [a for a in candidates(self.market, OPEN_SCOPE, rules) if isinstance(a, CHAIN[kind])]
            self.take_one(chosen, pick, CHAIN[kind].name)  # type: ignore[attr-defined]

        # -- the node ------------------------------------------------------------------------------

        @rule()
        def process_slot(self) -> None:
            self.step(ProcessSlot())

        @rule(picks=st.lists(st.tuples(s.picks, s.mishaps), min_size=1, max_size=20))
        def advance(self, picks: list[tuple[int, bool]]) -> None:
            """The node works: a queue worker takes an item or a sale moves on, each picked among the
            actions the model allows; a failure (market error, failed download or proof, ...) only when
            ``mishap`` is drawn, so that sales get far."""
            table = None if rules is None else rules.table
            for pick, mishap in picks:
                steps: list[MarketAction] = [ProcessSlot(), *sale_steps(self.market, table)]
                happy = [a for a in steps if not isinstance(a, SaleStep) or a.event not in MISHAPS]
                self.take_one(steps if mishap or not self.enabled(happy) else happy, pick, "advance")

        @rule(pick=s.picks, event=st.sampled_from(list(SaleEvent)), size=st.integers(min_value=1, max_value=4))
        def sale_event(self, pick: int, event: SaleEvent, size: int) -> None:
            """A blind event: refused unless the sale's state handles it and the market allows it."""
            live = sorted(key for key, sale in self.market.sales.items() if not sale.ended)
            if not live:
                seen.record("sale_event", None)
                return
            request_id, index, number = live[pick % len(live)]
            sale = self.market.sales[(request_id, index, number)]
            action = SaleStep(request_id=request_id, slot_index=index, number=number, event=event, bytes=size)
            before = self.market
            outcome = self.step(action, "sale_event")
            illegal = isinstance(
                next_state(profile, sale.state, event, None if rules is None else rules.table), IllegalEvent
            )
            if illegal and (not isinstance(outcome, IllegalEvent) or self.market is not before):
                message = f"{sale.state.value} does not handle {event.value}, yet the step gave {outcome!r}"
                self.judge(
                    [Violation(rule="illegal_event_changes_nothing", entity=str(sale.key), message=message)], action
                )

        @rule(chance=st.integers(min_value=0, max_value=7))
        def restart(self, chance: int) -> None:
            """A node restart, one time in eight (it stops every sale in flight)."""
            if chance == 0:
                self.step(Restart())

    MarketMachine.__name__ = MarketMachine.__qualname__ = "MarketHeadMachine" if head else "Market535Machine"
    return MarketMachine


def _with_terms(action: Any, **terms: int) -> Any:
    return attrs.evolve(action, **terms)


def _as_action(action: MarketAction) -> Any:
    """A market action as the failing step of a ``HarnessFailure`` (which prints any value's repr)."""
    return action
