"""The state of a node's whole market: reservations, slot queue, requests, and every sale in flight.

Rules:
1. ``MarketState`` is one frozen value; its collections are ``immutables.Map``, so it hashes and
   compares by value (the exhaustive explorer keys its visited set by it).
2. The reservations store (with its repo quota) is the existing ``ReservationsState``; every change
   to it goes through ``model.actions.apply`` (``run_reservations``), never around it.
3. After every accepted reservation operation, ``OnAvailabilitySaved`` is derived from the pre- and
   post-state of each availability (created, or free size, duration, minimum price or remaining
   collateral increased); at HEAD an enabled one clears the queue's seen flags and unpauses it.
4. ``MarketRules`` holds every replaceable part (the sale table, the endings, the reservation
   operations, the queue's push/take/release, the request moves), so broken variants are values.
5. A market step accumulates its effects in ``Progress``: the market, the reservation operations it
   ran (for the transition properties), the ``(state, event)`` pairs of the sale table it used, and
   the items it offered to the queue (kept or not).

Mirrors: codex-sales-spec §2.2 (OnAvailabilitySaved), §3 (sales), §4 (slot queue), §6 INV-13.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import attrs
import immutables

from model import slot_queue
from model.actions import Accepted, Action, OperationTable, Outcome, apply
from model.chain import REQUEST_MOVES, Move, Request, RequestState, SlotStatus
from model.entities import Availability535, AvailabilityHead
from model.errors import Rejection
from model.records import evolve
from model.sale import ENDINGS, TABLES, Ending, SaleEvent, SaleState, Table, next_state
from model.slot_queue import SlotQueue, SlotQueueItem
from model.state import AnyState, Profile, in_key_order, initial_state, items_in_key_order

SaleKey = tuple[str, int, int]
SlotKey = tuple[str, int]


@attrs.frozen(kw_only=True)
class Sale:
    """One sales agent: its slot, state, and the data nim-codex's ``SalesData`` carries.

    ``number`` tells apart agents of the same slot (a re-queued or repaired slot gets a new agent).
    ``item`` is the queue item it came from (None for agents started by a restart); ``worker`` says
    it holds a queue worker; ``hint`` is the availability ``findAvailability`` returned (Preparing);
    ``reservation_id``/``availability_id`` the reservation it created; ``downloaded`` the bytes it
    stored; ``taken`` the collateral its reservation took and ``given`` what its cleanup passed back
    (model-only); ``orphan`` the reservation of its slot that survived a restart, which the agent
    does not know about (spec §2.10 step 3).
    """

    request_id: str
    slot_index: int
    number: int = 0
    state: SaleState
    item: SlotQueueItem | None = None
    worker: bool = False
    hint: str | None = None
    reservation_id: str | None = None
    availability_id: str | None = None
    reprocess: bool = False
    returns_collateral: bool = False
    returned_collateral: int | None = None
    repairing: bool = False
    downloaded: int = 0
    taken: int = 0
    given: int | None = None
    ended: bool = False
    orphan: str | None = None

    @property
    def key(self) -> SaleKey:
        return (self.request_id, self.slot_index, self.number)


@attrs.frozen(kw_only=True, cache_hash=True)
class MarketState:
    """The node's reservations, queue and sales, and the requests on chain.

    ``blocks`` counts the bytes each slot stored in the repo (they expire with the request);
    ``known_lost`` counts, per availability, written bytes nim-codex knowingly never gives back
    (a cleanup whose return found no repo headroom, a restart deleting a written reservation).
    ``repair_discount`` is the contract's repair reward, in percent of the per-slot collateral.
    """

    profile: Profile
    reservations: AnyState
    queue: SlotQueue
    requests: immutables.Map[str, Request] = immutables.Map()
    sales: immutables.Map[SaleKey, Sale] = immutables.Map()
    blocks: immutables.Map[SlotKey, int] = immutables.Map()
    known_lost: immutables.Map[str, int] = immutables.Map()
    repair_discount: int = 0


def initial_market(
    profile: Profile,
    *,
    quota_max_bytes: int | None = None,
    max_size: int = slot_queue.DEFAULT_MAX_SIZE,
    max_workers: int = slot_queue.DEFAULT_MAX_WORKERS,
    repair_discount: int = 0,
) -> MarketState:
    """A node with no availability, no request and an empty queue (paused at HEAD)."""
    return MarketState(
        profile=profile,
        reservations=initial_state(profile, quota_max_bytes=quota_max_bytes),
        queue=slot_queue.new_queue(profile, max_size=max_size, max_workers=max_workers),
        repair_discount=repair_discount,
    )


@attrs.frozen(kw_only=True)
class MarketRules:
    """The replaceable parts of the market; ``default_rules`` gives the profile's real ones."""

    table: Table
    endings: Mapping[SaleState, Ending]
    operations: OperationTable | None = None
    push: Callable[[SlotQueue, SlotQueueItem], SlotQueue | Rejection] = slot_queue.push
    take: Callable[[SlotQueue], tuple[SlotQueue, SlotQueueItem | None] | Rejection] = slot_queue.take
    release_worker: Callable[[SlotQueue], SlotQueue] = slot_queue.release_worker
    request_moves: Mapping[tuple[RequestState, Move], RequestState] = REQUEST_MOVES


DEFAULT_RULES: Mapping[Profile, MarketRules] = {
    profile: MarketRules(table=TABLES[profile], endings=ENDINGS[profile]) for profile in Profile
}


def default_rules(profile: Profile) -> MarketRules:
    """The profile's real table, endings, operations and queue."""
    return DEFAULT_RULES[profile]


@attrs.frozen(kw_only=True)
class NotEnabled(Rejection):
    """A market action whose precondition does not hold in this state (``what`` names the action)."""

    what: str
    reason: str


@attrs.frozen(kw_only=True)
class ReservationStep:
    """One reservation operation a market step ran: its pre-state, action and outcome."""

    pre: AnyState
    action: Action
    outcome: Outcome


class Progress(NamedTuple):
    """A market step under way: the market so far, the reservation steps and table pairs it used,
    and the items it offered to the queue. (A named tuple: it is rebuilt many times per step.)"""

    market: MarketState
    steps: tuple[ReservationStep, ...] = ()
    hits: tuple[tuple[SaleState, SaleEvent], ...] = ()
    pushed: tuple[SlotQueueItem, ...] = ()


_MARKET_FIELDS = tuple(field.name for field in attrs.fields(MarketState))


def with_market(progress: Progress, **changes: Any) -> Progress:
    """``progress`` with some fields of its market replaced (``attrs.evolve``, without its introspection)."""
    market = progress.market
    fields = {name: changes[name] if name in changes else getattr(market, name) for name in _MARKET_FIELDS}
    return progress._replace(market=MarketState(**fields))


def with_sale(progress: Progress, sale: Sale) -> Progress:
    """``progress`` with ``sale`` stored under its key."""
    return with_market(progress, sales=progress.market.sales.set(sale.key, sale))


def _increased(before: Availability535 | AvailabilityHead, after: Availability535 | AvailabilityHead) -> bool:
    if not isinstance(before, AvailabilityHead) or not isinstance(after, AvailabilityHead):
        return False
    return (
        after.free_size > before.free_size
        or after.duration > before.duration
        or after.min_price_per_byte_per_second > before.min_price_per_byte_per_second
        or after.total_remaining_collateral > before.total_remaining_collateral
    )


def saved(pre: AnyState, post: AnyState) -> tuple[Availability535 | AvailabilityHead, ...]:
    """The availabilities for which ``OnAvailabilitySaved`` fired between ``pre`` and ``post``.

    At 570a1f7b only creations count (``onAvailabilityAdded``).

    Mirrors: ``updateAvailability`` step 6 and ``createAvailability`` (spec §2.1, §2.2, INV-13).
    """
    if pre.availabilities is post.availabilities:
        return ()
    fired = []
    for availability_id in sorted(post.availabilities):
        after = post.availabilities[availability_id]
        before = pre.availabilities.get(availability_id)
        if before is None or (before is not after and _increased(before, after)):
            fired.append(after)
    return tuple(fired)


def run_reservations(progress: Progress, rules: MarketRules, action: Action) -> tuple[Progress, Outcome]:
    """Run one reservation operation through ``model.actions.apply`` and wire ``OnAvailabilitySaved``.

    Effect: on acceptance the new reservations state is installed; then for each availability saved,
    HEAD: if enabled, the queue's seen flags are cleared and it unpauses; 570a1f7b: a created
    availability re-pushes the slots of every New request (``onAvailabilityAdded``).
    Mirrors: ``Reservations.OnAvailabilitySaved`` → ``Sales.onAvailabilitySaved`` (bd360322), spec §2.2, §4, INV-13.
    """
    pre = progress.market.reservations
    outcome = apply(pre, action, rules.operations)
    progress = progress._replace(steps=(*progress.steps, ReservationStep(pre=pre, action=action, outcome=outcome)))
    if not isinstance(outcome, Accepted):
        return progress, outcome
    progress = with_market(progress, reservations=outcome.state)
    for availability in saved(pre, outcome.state):
        progress = _on_saved(progress, rules, availability)
    return progress, outcome


def _on_saved(progress: Progress, rules: MarketRules, availability: Availability535 | AvailabilityHead) -> Progress:
    """Sales' reaction to ``OnAvailabilitySaved`` (HEAD) or ``onAvailabilityAdded`` (570a1f7b, creation only)."""
    if isinstance(availability, AvailabilityHead):
        queue = progress.market.queue
        return with_market(progress, queue=slot_queue.availability_saved(queue)) if availability.enabled else progress
    for request in sorted(in_key_order(progress.market.requests), key=lambda r: r.terms.request_id):
        if request.state is RequestState.NEW:
            for index in range(request.terms.slots):
                progress = push_item(progress, rules, queue_item(request, index, repair=False, discount=0))
    return progress


def push_item(progress: Progress, rules: MarketRules, item: SlotQueueItem) -> Progress:
    """Offer ``item`` to the queue; a refusal (already queued) is only logged by nim-codex.

    Mirrors: ``SlotQueue.push`` called from ``Sales`` (errors logged), spec §4.
    """
    pushed = rules.push(progress.market.queue, item)
    progress = progress._replace(pushed=(*progress.pushed, item))
    return with_market(progress, queue=pushed) if isinstance(pushed, SlotQueue) else progress


def queue_item(request: Request, index: int, *, repair: bool, discount: int, head: bool = True) -> SlotQueueItem:
    """The item a StorageRequested (or, ``repair``, SlotFreed) event pushes for one slot (spec §4).

    At HEAD a freed slot's item has no expiry; 570a1f7b's items always carry the request's.
    """
    terms = request.terms
    collateral = terms.collateral_per_slot
    if repair:
        collateral -= collateral * discount // 100
    return SlotQueueItem(
        request_id=terms.request_id,
        slot_index=index,
        slot_size=terms.slot_size,
        duration=terms.duration,
        price_per_byte_per_second=terms.price_per_byte_per_second,
        collateral=collateral,
        expiry=None if repair and head else terms.expiry,
    )


def enter(sale: Sale, state: SaleState, reprocess: bool, returns_collateral: bool) -> Sale:
    """``sale`` in its next state; a change of state takes the new state's flags."""
    if state is sale.state:
        return sale
    return evolve(sale, state=state, reprocess=reprocess, returns_collateral=returns_collateral)


def deliver(progress: Progress, rules: MarketRules, key: SaleKey, event: SaleEvent) -> Progress:
    """Deliver an external event to one agent; a state without a handler ignores it.

    Mirrors: ``asyncstatemachine`` ``schedule`` of ``onCancelled``/``onFailed``/``onSlotFilled``, spec §3.1.
    """
    sale = progress.market.sales[key]
    if sale.ended:
        return progress
    target = next_state(progress.market.profile, sale.state, event, rules.table)
    if isinstance(target, Rejection):
        return progress
    progress = progress._replace(hits=(*progress.hits, (sale.state, event)))
    return with_sale(progress, enter(sale, target.state, target.reprocess, target.returns_collateral))


def sales_of(market: MarketState, request_id: str, slot_index: int | None = None) -> tuple[SaleKey, ...]:
    """Keys of the live agents of a request (or of one of its slots), in key order."""
    return tuple(
        sorted(
            key
            for key, sale in items_in_key_order(market.sales)
            if not sale.ended and key[0] == request_id and (slot_index is None or key[1] == slot_index)
        )
    )


def move_request(progress: Progress, rules: MarketRules, request_id: str, move: Move) -> Progress | NotEnabled:
    """Change a request's state along ``rules.request_moves``.

    Guards: NotEnabled when the request is unknown or the move is not allowed from its state.
    Mirrors: the marketplace contract's request states (codex-contracts-eth), spec §3.1 event sources.
    """
    request = progress.market.requests.get(request_id)
    if request is None:
        return NotEnabled(what=move.value, reason=f"no request {request_id}")
    moved = rules.request_moves.get((request.state, move))
    if moved is None:
        return NotEnabled(what=move.value, reason=f"request {request_id} is {request.state.value}")
    return with_market(progress, requests=progress.market.requests.set(request_id, evolve(request, state=moved)))


def emit_slot_filled(progress: Progress, rules: MarketRules, request_id: str, index: int) -> Progress:
    """SlotFilled: the slot's agents get ``onSlotFilled``, its item leaves the queue; a New request
    whose slots are all filled starts (RequestFulfilled removes its items).

    Mirrors: ``Sales.onSlotFilled`` and ``onRequestFulfilled`` wiring (spec §3.1, §4).
    """
    for key in sales_of(progress.market, request_id, index):
        progress = deliver(progress, rules, key, SaleEvent.ON_SLOT_FILLED)
    progress = with_market(progress, queue=slot_queue.delete_item(progress.market.queue, request_id, index))
    request = progress.market.requests[request_id]
    all_filled = all(slot.status is SlotStatus.FILLED for slot in request.slots)
    if request.state is RequestState.NEW and all_filled:
        started = move_request(progress, rules, request_id, Move.START)
        if isinstance(started, Progress):
            progress = with_market(started, queue=slot_queue.delete_request(started.market.queue, request_id))
    return progress
