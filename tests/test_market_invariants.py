"""An example violating every market invariant and property, and the harness catching each (known ones reported)."""

from __future__ import annotations

import attrs
import pytest
from scenario import market_ok

from invariants import (
    MARKET_INVARIANTS,
    MARKET_PROPERTIES,
    Violation,
    check_market,
    check_market_transition,
    market_rule,
)
from model.actions import CreateAvailabilityHead
from model.chain import RequestState, RequestTerms
from model.market import MarketAccepted, ProcessSlot, RequestStorage, SaleStep, SaveAvailability
from model.market_state import MarketState, initial_market
from model.sale import SaleEvent, SaleState
from model.slot_queue import SlotQueueItem
from model.state import Profile
from stateful_tests.machines import HarnessFailure
from stateful_tests.market_machine import market_machine

E, S = SaleEvent, SaleState
TERMS = RequestTerms(
    request_id="r1",
    slots=2,
    slot_size=2,
    duration=5,
    price_per_byte_per_second=1,
    collateral_per_byte=3,
    expiry=9,
    end=40,
)


def reserved() -> MarketState:
    """A HEAD node whose sale r1/0 holds reservation r1/0/0 (2 bytes, 6 collateral) in SlotReserving."""
    market = initial_market(Profile.CODEX_HEAD, quota_max_bytes=20, max_size=3, max_workers=2)
    create = CreateAvailabilityHead(
        availability_id="a1", total_size=4, duration=10, min_price_per_byte_per_second=1, total_collateral=100
    )
    steps = [SaveAvailability(action=create), RequestStorage(terms=TERMS), ProcessSlot()]
    steps += [SaleStep(request_id="r1", slot_index=0, event=e) for e in (E.AVAILABILITY_FOUND, E.RESERVATION_CREATED)]
    return market_ok(market, *steps)


def with_sale(market: MarketState, **changes: object) -> MarketState:
    key = ("r1", 0, 0)
    return attrs.evolve(market, sales=market.sales.set(key, attrs.evolve(market.sales[key], **changes)))


def caught(market: MarketState) -> frozenset[str]:
    """The rules the market machine's checks raise on ``market`` (empty when it passes)."""
    machine = market_machine(Profile.CODEX_HEAD)()
    machine.market = market
    try:
        machine.judge(machine.state_violations(), None)
    except HarnessFailure as failure:
        return failure.rules
    return frozenset()


def rules_of(found: list[Violation], *, known: bool = False) -> set[str]:
    return {v.rule for v in found if bool(v.known) is known}


def test_every_market_rule_is_named_once_and_reachable_by_name() -> None:
    """The market rules have distinct names, statements and spec references, and ``rule(name)`` finds them."""
    names = [r.name for r in (*MARKET_INVARIANTS, *MARKET_PROPERTIES)]
    assert len(names) == len(set(names)) == 13
    assert all(r.statement and r.spec for r in (*MARKET_INVARIANTS, *MARKET_PROPERTIES))
    assert market_rule("queue_items_unique").name == "queue_items_unique"
    with pytest.raises(KeyError):
        market_rule("no_such_rule")


def test_a_healthy_market_violates_nothing() -> None:
    """A sale in flight with its reservation breaks no market invariant."""
    assert check_market(reserved()) == []
    assert caught(reserved()) == frozenset()


def test_terminal_sale_holds_no_reservation_violated() -> None:
    """An ended sale whose reservation is still live is caught; a restart agent's orphan is reported as known."""
    broken = with_sale(reserved(), state=S.ERRORED, ended=True)
    assert "terminal_sale_holds_no_reservation" in rules_of(check_market(broken))
    assert "terminal_sale_holds_no_reservation" in caught(broken)
    orphaned = with_sale(reserved(), state=S.ERRORED, ended=True, reservation_id=None, orphan="r1/0/0")
    assert "terminal_sale_holds_no_reservation" in rules_of(check_market(orphaned), known=True)
    assert "terminal_sale_holds_no_reservation" not in caught(orphaned)


def test_free_size_restored_violated() -> None:
    """With every sale ended and no block left, an availability short of its total size is caught."""
    market = with_sale(reserved(), state=S.ERRORED, ended=True, reservation_id=None)
    a1 = market.reservations.availabilities["a1"]
    res = attrs.evolve(market.reservations, reservations=market.reservations.reservations.delete("r1/0/0"))
    broken = attrs.evolve(market, reservations=res)
    assert a1.free_size == 2
    assert "free_size_restored" in rules_of(check_market(broken))
    assert "free_size_restored" in caught(broken)
    explained = attrs.evolve(broken, known_lost=broken.known_lost.set("a1", 2))
    assert "free_size_restored" in rules_of(check_market(explained), known=True)


def test_workers_within_max_violated() -> None:
    """More busy workers than maxWorkers is caught."""
    market = reserved()
    broken = attrs.evolve(market, queue=attrs.evolve(market.queue, busy=3))
    assert "workers_within_max" in rules_of(check_market(broken))
    assert "workers_within_max" in caught(broken)


def test_workers_accounted_violated() -> None:
    """A busy count that does not match the sales holding a worker is caught, as is an ended sale holding one."""
    market = reserved()
    assert "workers_accounted" in caught(attrs.evolve(market, queue=attrs.evolve(market.queue, busy=0)))
    assert "workers_accounted" in caught(with_sale(market, ended=True, state=S.ERRORED))


def _item(request_id: str, price: int) -> SlotQueueItem:
    return SlotQueueItem(
        request_id=request_id, slot_index=0, slot_size=1, duration=1, price_per_byte_per_second=price, collateral=1
    )


def test_queue_items_unique_violated() -> None:
    """The same slot queued twice is caught."""
    market = reserved()
    broken = attrs.evolve(market, queue=attrs.evolve(market.queue, items=(_item("x", 1), _item("x", 1))))
    assert "queue_items_unique" in caught(broken)


def test_queue_within_max_size_violated() -> None:
    """More items than the maximum size is caught."""
    market = reserved()
    items = tuple(_item(f"x{n}", 1) for n in range(4))
    assert "queue_within_max_size" in caught(attrs.evolve(market, queue=attrs.evolve(market.queue, items=items)))


def test_queue_ordered_violated() -> None:
    """An item queued after one it outranks is caught."""
    market = reserved()
    items = (_item("cheap", 1), _item("rich", 5))
    assert "queue_ordered" in caught(attrs.evolve(market, queue=attrs.evolve(market.queue, items=items)))


def test_collateral_returned_on_end_violated_and_known_paths() -> None:
    """An Ignored sale that gave back less collateral than taken is caught; an Errored one is a known leak."""
    base = with_sale(reserved(), reservation_id="gone", taken=6)
    ignored = with_sale(base, state=S.IGNORED, ended=True, given=None)
    assert "collateral_returned_on_end" in caught(ignored)
    errored = with_sale(base, state=S.ERRORED, ended=True, given=None)
    known = [v.known for v in check_market(errored) if v.rule == "collateral_returned_on_end"]
    assert known == ["spec §3.3: SaleErrored passes no collateral"]
    repaired = with_sale(base, state=S.FINISHED, ended=True, given=3)
    known = [v.known for v in check_market(repaired) if v.rule == "collateral_returned_on_end"]
    assert known == ["spec §3.3: currentCollateral differs from the collateral taken (repair discount)"]


def _step(pre: MarketState, post: MarketState, action: object = None) -> list[Violation]:
    act = action if action is not None else SaleStep(request_id="r1", slot_index=0, event=E.MARKET_ERROR)
    return check_market_transition(pre, act, MarketAccepted(state=post))  # type: ignore[arg-type]


def test_terminal_states_absorb_violated() -> None:
    """An ended sale that changes, or a terminal sale that leaves for a non-Errored state, is caught."""
    ended = with_sale(reserved(), state=S.IGNORED, ended=True)
    assert "terminal_states_absorb" in rules_of(_step(ended, with_sale(ended, state=S.PREPARING)))
    terminal = with_sale(reserved(), state=S.ERRORED)
    assert "terminal_states_absorb" in rules_of(_step(terminal, with_sale(terminal, state=S.CANCELLED)))
    assert rules_of(_step(with_sale(reserved(), state=S.CANCELLED), with_sale(reserved(), state=S.ERRORED))) == set()


def test_queue_stays_paused_violated() -> None:
    """A paused queue that unpauses with no unseen push and no enabled availability save is caught."""
    pre = attrs.evolve(reserved(), queue=attrs.evolve(reserved().queue, paused=True))
    post = attrs.evolve(pre, queue=attrs.evolve(pre.queue, paused=False))
    assert "queue_stays_paused" in rules_of(_step(pre, post))


def test_eviction_drops_lowest_violated() -> None:
    """An item that left the queue unasked while outranking an item kept is caught."""
    market = reserved()
    full = attrs.evolve(
        market, queue=attrs.evolve(market.queue, max_size=2, items=(_item("rich", 5), _item("cheap", 1)))
    )
    dropped = attrs.evolve(full, queue=attrs.evolve(full.queue, items=(_item("cheap", 1),)))
    found = rules_of(_step(full, dropped, ProcessSlot()))
    assert found == set()  # taking the first item is not an eviction
    evicted = attrs.evolve(full, queue=attrs.evolve(full.queue, items=(_item("cheap", 1), _item("new", 1))))
    assert "eviction_drops_lowest" in rules_of(_step(full, evicted, RequestStorage(terms=TERMS)))


def test_request_state_changes_allowed_violated() -> None:
    """A New request that finishes without starting is caught."""
    pre = reserved()
    request = attrs.evolve(pre.requests["r1"], state=RequestState.FINISHED)
    post = attrs.evolve(pre, requests=pre.requests.set("r1", request))
    assert "request_state_changes_allowed" in rules_of(_step(pre, post))


def test_cleanup_restores_free_size_violated() -> None:
    """A cleanup that ends the sale without giving the slot's bytes back is caught."""
    pre = with_sale(reserved(), state=S.ERRORED)
    post = with_sale(pre, ended=True)
    cleanup = SaleStep(request_id="r1", slot_index=0, event=E.CLEANUP)
    assert "cleanup_restores_free_size" in rules_of(_step(pre, post, cleanup))


@pytest.mark.parametrize("rule_", [*MARKET_INVARIANTS, *MARKET_PROPERTIES], ids=lambda r: r.name)
def test_every_market_rule_has_a_violating_example_here(rule_: object) -> None:
    """Each market rule of the catalogue is exercised by a test of this module."""
    import inspect
    import sys

    source = inspect.getsource(sys.modules[__name__])
    assert f'"{rule_.name}"' in source  # type: ignore[attr-defined]
