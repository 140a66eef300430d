"""Coverage of the sale table and of the market rules, shared by the exhaustive and the random explorers.

Rules:
1. Every ``(state, event)`` pair of the profile's sale table is either hit, or listed in
   ``UNREACHABLE`` with the reason no run of the model can take it; a zero-hit pair that is not
   listed, or a listed pair that was hit, makes ``problems()`` non-empty (the check fails).
2. "Tight" means an invariant's bound was reached, not passed: the repo full, a free size at zero,
   the queue full, every worker busy. A bound never reached was never tested at its edge.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

import attrs

from model.chain import RequestState
from model.entities import AvailabilityHead, free_bytes
from model.market_state import MarketState
from model.sale import TABLES, SaleEvent, SaleState
from model.state import Profile

S, E = SaleState, SaleEvent
PAIDOUT = "a paid-out slot leaves mySlots, so no restart agent ever reads it Paid"
FINAL = "the request of a slot in Payout or Finished is Finished on chain, which is never cancelled nor failed"
NEVER_FREE = "a slot in mySlots was filled, so its state is never Free (HEAD keeps it in Repair once freed)"

#: Table pairs no run of the model can take, and why (checked: the exhaustive search must not hit them).
UNREACHABLE: Mapping[Profile, Mapping[tuple[SaleState, SaleEvent], str]] = {
    Profile.CODEX_HEAD: {
        (S.UNKNOWN, E.SLOT_IS_PAID): PAIDOUT,
        (S.UNKNOWN, E.SLOT_IS_FREE): NEVER_FREE,
        (S.PAYOUT, E.ON_CANCELLED): FINAL,
        (S.PAYOUT, E.ON_FAILED): FINAL,
        (S.FINISHED, E.ON_CANCELLED): FINAL,
        (S.FINISHED, E.ON_FAILED): FINAL,
    },
    Profile.CODEX_535: {
        (S.PREPARING, E.RESERVATION_FAILED): (
            "once an availability matched, 570a1f7b's createReservation refuses only with BytesOutOfBounds "
            "(no until, no collateral budget; datastore failures are not modelled)"
        ),
        (S.UNKNOWN, E.SLOT_IS_PAID): PAIDOUT,
        (S.PAYOUT, E.ON_CANCELLED): FINAL,
        (S.PAYOUT, E.ON_FAILED): FINAL,
        (S.FINISHED, E.ON_CANCELLED): FINAL,
        (S.FINISHED, E.ON_FAILED): FINAL,
    },
}

#: Tightness labels, each named after the invariant whose bound it reaches.
TIGHT = {
    "repo_within_quota": "repo full: used + reserved == max",
    "free_size_within_total": "an availability's free size reached zero",
    "collateral_within_total": "an availability's remaining collateral reached zero",
    "reservation_size_within_slot": "a reservation fully downloaded (size 0)",
    "workers_within_max": "every queue worker busy",
    "queue_within_max_size": "the queue full",
    "queue_stays_paused": "the queue paused",
    "free_size_restored": "every sale ended with no block left",
}


def tight(market: MarketState) -> frozenset[str]:
    """The invariants whose bound ``market`` reaches exactly."""
    res, queue = market.reservations, market.queue
    found = set()
    if res.repo.used + res.repo.reserved == res.repo.max_bytes:
        found.add("repo_within_quota")
    for a in res.availabilities.values():
        if free_bytes(a) == 0 and a.id in res.availability_ledgers and res.availability_ledgers[a.id].created_size > 0:
            found.add("free_size_within_total")
        if isinstance(a, AvailabilityHead) and a.total_collateral > 0 and a.total_remaining_collateral == 0:
            found.add("collateral_within_total")
    if any(r.size == 0 and res.reservation_ledgers[r.id].slot_size > 0 for r in res.reservations.values()):
        found.add("reservation_size_within_slot")
    if queue.busy == queue.max_workers:
        found.add("workers_within_max")
    if len(queue.items) == queue.max_size:
        found.add("queue_within_max_size")
    if queue.paused and queue.items:
        found.add("queue_stays_paused")
    ended = all(s.ended for s in market.sales.values())
    if (
        market.sales
        and ended
        and res.repo.used == 0
        and any(r.state is not RequestState.NEW for r in market.requests.values())
    ):
        found.add("free_size_restored")
    return frozenset(found)


@attrs.define
class Coverage:
    """Mutable tallies (outside the functional core): table pairs, rules, rejections, tightness."""

    profile: Profile
    pairs: Counter[tuple[SaleState, SaleEvent]] = attrs.field(factory=Counter)
    rules: Counter[str] = attrs.field(factory=Counter)
    rejected: Counter[str] = attrs.field(factory=Counter)
    tight: Counter[str] = attrs.field(factory=Counter)

    def record(self, rule: str, hits: tuple[tuple[SaleState, SaleEvent], ...] | None) -> None:
        """One attempt of ``rule``: accepted with the table pairs it used, or rejected (``None``)."""
        if hits is None:
            self.rejected[rule] += 1
            return
        self.rules[rule] += 1
        self.pairs.update(hits)

    def observe(self, market: MarketState) -> None:
        """Count the bounds a new state reaches."""
        self.tight.update(tight(market))

    def merge(self, other: Coverage) -> None:
        self.pairs.update(other.pairs)
        self.rules.update(other.rules)
        self.rejected.update(other.rejected)
        self.tight.update(other.tight)

    def missing(self) -> list[tuple[SaleState, SaleEvent]]:
        """Table pairs never hit."""
        return [pair for pair in TABLES[self.profile] if self.pairs[pair] == 0]

    def problems(self) -> list[str]:
        """Zero-hit pairs not known unreachable, and pairs claimed unreachable that were hit."""
        unreachable = UNREACHABLE[self.profile]
        found = [f"never hit: {s.value} --{e.value}-->" for s, e in self.missing() if (s, e) not in unreachable]
        found += [
            f"claimed unreachable but hit: {s.value} --{e.value}-->" for s, e in unreachable if self.pairs[(s, e)]
        ]
        return found

    def report(self) -> str:
        """The coverage report, one line per table pair, rule and tight invariant."""
        table = TABLES[self.profile]
        unreachable = UNREACHABLE[self.profile]
        hit = sum(1 for pair in table if self.pairs[pair])
        lines = [f"sale table pairs hit: {hit}/{len(table)} ({len(unreachable)} unreachable with a reason)"]
        for state, event in table:
            count = self.pairs[(state, event)]
            note = f"unreachable: {unreachable[(state, event)]}" if (state, event) in unreachable else ""
            mark = "MISSING" if count == 0 and not note else ""
            lines.append(f"  {state.value:>15} --{event.value:<26} {count:>9}  {mark}{note}")
        lines.append("rules (accepted / precondition rejected):")
        for rule in sorted(set(self.rules) | set(self.rejected)):
            lines.append(f"  {rule:<40} {self.rules[rule]:>9} / {self.rejected[rule]}")
        lines.append("invariants ever tight:")
        for name, what in TIGHT.items():
            lines.append(f"  {name:<36} {'yes' if self.tight[name] else 'no ':<4} {what} ({self.tight[name]} states)")
        return "\n".join(lines)
