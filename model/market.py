"""Market actions and ``apply_market``: everything that can happen to a node and its sales, one step at a time.

Theory of operation:
1. A market action is a frozen value: an availability save, a chain event (a request is submitted,
   another host fills a slot, a request is cancelled, fails or finishes, a slot is freed), a queue
   worker taking an item, one sale's event, a block expiry, or a node restart.
2. ``apply_market(state, action, rules=None)`` returns ``MarketAccepted`` (the new state, the
   reservation operations run, the sale-table pairs used) or a ``Rejection``; a rejection changes
   nothing. Events of different sales interleave in whatever order the caller applies them.
3. Chain events are delivered to the agents that exist when they happen (``onCancelled``,
   ``onFailed``, ``onSlotFilled``), and update the queue as Sales' subscriptions do (spec §4).
4. A sale step looks the next state up in the sale table, runs the event's effect
   (``model.sale_effects``), then enters the next state; after ``fillSlot`` the chain emits
   SlotFilled, and after the first run of a subscribing state (Unknown) a cancelled request's
   ``onCancelled`` reaches the agent (the watcher polls the request state, spec §3.1).
5. A restart (``Sales.load``) stops every agent without cleanup, empties the queue, deletes the
   reservations of slots not in ``mySlots`` and starts one ``SaleUnknown`` agent per slot in it.

Mirrors: codex-sales-spec §2.10, §3, §3.4, §4.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import attrs
import immutables

from model import slot_queue
from model.actions import (
    Action,
    CreateAvailability535,
    CreateAvailabilityHead,
    DeleteInactiveReservations,
    ExpireBlock,
    UpdateAvailability,
)
from model.chain import (
    ENDED,
    ChainSlot,
    Host,
    Move,
    RequestState,
    RequestTerms,
    SlotStatus,
    mine,
    new_request,
    with_slot,
)
from model.errors import IdInUse, Rejection, UnsupportedOperation
from model.market_state import (
    MarketRules,
    MarketState,
    NotEnabled,
    Progress,
    ReservationStep,
    Sale,
    SaleKey,
    default_rules,
    deliver,
    emit_slot_filled,
    enter,
    move_request,
    push_item,
    queue_item,
    run_reservations,
    sales_of,
    with_market,
    with_sale,
)
from model.sale import SaleEvent, SaleState, next_state
from model.sale_effects import EFFECTS, SUBSCRIBING
from model.slot_queue import SlotQueueItem
from model.state import Profile, items_in_key_order


@attrs.frozen(kw_only=True)
class MarketAction:
    """Base of every market action; ``name`` is its snake_case name."""

    name: ClassVar[str] = ""


@attrs.frozen(kw_only=True)
class SaveAvailability(MarketAction):
    """The operator creates or PATCHes an availability (a ``model.actions`` action)."""

    name: ClassVar[str] = "save_availability"
    action: Action


@attrs.frozen(kw_only=True)
class RequestStorage(MarketAction):
    """StorageRequested: a new request; Sales pushes every slot to the queue."""

    name: ClassVar[str] = "request_storage"
    terms: RequestTerms


@attrs.frozen(kw_only=True)
class FillSlot(MarketAction):
    """Another host fills a slot (SlotFilled)."""

    name: ClassVar[str] = "fill_slot"
    request_id: str
    slot_index: int


@attrs.frozen(kw_only=True)
class CancelRequest(MarketAction):
    """The request expired before it started (RequestCancelled)."""

    name: ClassVar[str] = "cancel_request"
    request_id: str


@attrs.frozen(kw_only=True)
class FailRequest(MarketAction):
    """Too many slots were lost (RequestFailed)."""

    name: ClassVar[str] = "fail_request"
    request_id: str


@attrs.frozen(kw_only=True)
class FinishRequest(MarketAction):
    """The request reached its end (no event; proving agents see the slot Finished)."""

    name: ClassVar[str] = "finish_request"
    request_id: str


@attrs.frozen(kw_only=True)
class FreeSlot(MarketAction):
    """The contract frees a filled slot whose host missed proofs (SlotFreed; repair at HEAD)."""

    name: ClassVar[str] = "free_slot"
    request_id: str
    slot_index: int


@attrs.frozen(kw_only=True)
class ProcessSlot(MarketAction):
    """An idle queue worker takes the first item."""

    name: ClassVar[str] = "process_slot"


@attrs.frozen(kw_only=True)
class SaleStep(MarketAction):
    """One sale's run outcome (``bytes`` is the size of a downloaded batch)."""

    name: ClassVar[str] = "sale_step"
    request_id: str
    slot_index: int
    number: int = 0
    event: SaleEvent
    bytes: int = 0

    @property
    def key(self) -> SaleKey:
        return (self.request_id, self.slot_index, self.number)


@attrs.frozen(kw_only=True)
class ExpireBlocks(MarketAction):
    """The blocks one slot stored expire (after its request ended) and leave the repo."""

    name: ClassVar[str] = "expire_blocks"
    request_id: str
    slot_index: int


@attrs.frozen(kw_only=True)
class Restart(MarketAction):
    """The node restarts: ``Sales.stop`` then ``Sales.start`` → ``Sales.load``."""

    name: ClassVar[str] = "restart"


@attrs.frozen(kw_only=True)
class MarketAccepted:
    """A market action went through: the new state, the reservation operations it ran, the sale-table
    pairs it used, and the items it offered to the queue."""

    state: MarketState
    steps: tuple[ReservationStep, ...] = ()
    hits: tuple[tuple[SaleState, SaleEvent], ...] = ()
    pushed: tuple[SlotQueueItem, ...] = ()


MarketOutcome = MarketAccepted | Rejection
Handler = Callable[[Progress, MarketRules, Any], Progress | Rejection]

AVAILABILITY_ACTIONS = (CreateAvailability535, CreateAvailabilityHead, UpdateAvailability)


def _save_availability(progress: Progress, rules: MarketRules, action: SaveAvailability) -> Progress | Rejection:
    """Guards: UnsupportedOperation for anything but an availability create or PATCH; the operation's own."""
    if not isinstance(action.action, AVAILABILITY_ACTIONS):
        return UnsupportedOperation(profile=progress.market.profile.value, operation=type(action.action).__name__)
    progress, outcome = run_reservations(progress, rules, action.action)
    return outcome if isinstance(outcome, Rejection) else progress


def _request_storage(progress: Progress, rules: MarketRules, action: RequestStorage) -> Progress | Rejection:
    """Guards: IdInUse. Effect: a New request; each slot pushed (in index order; nim-codex shuffles)."""
    request_id = action.terms.request_id
    if request_id in progress.market.requests:
        return IdInUse(entity="request", id=request_id)
    request = new_request(action.terms)
    progress = with_market(progress, requests=progress.market.requests.set(request_id, request))
    for index in range(action.terms.slots):
        progress = push_item(progress, rules, queue_item(request, index, repair=False, discount=0))
    return progress


def _fill_slot(progress: Progress, rules: MarketRules, action: FillSlot) -> Progress | Rejection:
    """Guards: NotEnabled unless the slot is free or in repair and the request New or Started."""
    request = progress.market.requests.get(action.request_id)
    if request is None or not 0 <= action.slot_index < len(request.slots):
        return NotEnabled(what="fill_slot", reason="no such slot")
    status = request.slots[action.slot_index].status
    if status not in (SlotStatus.FREE, SlotStatus.REPAIR) or request.state in ENDED:
        return NotEnabled(what="fill_slot", reason=f"slot is {status.value}, request {request.state.value}")
    collateral = request.terms.collateral_per_slot
    filled = with_slot(
        request, action.slot_index, ChainSlot(status=SlotStatus.FILLED, host=Host.OTHER, collateral=collateral)
    )
    progress = with_market(progress, requests=progress.market.requests.set(action.request_id, filled))
    return emit_slot_filled(progress, rules, action.request_id, action.slot_index)


def _request_ends(move: Move, event: SaleEvent | None) -> Handler:
    """A request changes state; with an ``event`` (Cancelled, Failed) its agents get it, its items leave the queue."""

    def handler(progress: Progress, rules: MarketRules, action: Any) -> Progress | Rejection:
        moved = move_request(progress, rules, action.request_id, move)
        if isinstance(moved, Rejection):
            return moved
        if event is None:
            return moved
        for key in sales_of(moved.market, action.request_id):
            moved = deliver(moved, rules, key, event)
        return with_market(moved, queue=slot_queue.delete_request(moved.market.queue, action.request_id))

    return handler


def _free_slot(progress: Progress, rules: MarketRules, action: FreeSlot) -> Progress | Rejection:
    """Guards: NotEnabled unless the slot is filled and the request Started. Effect: repair (HEAD) or free."""
    request = progress.market.requests.get(action.request_id)
    if request is None or not 0 <= action.slot_index < len(request.slots):
        return NotEnabled(what="free_slot", reason="no such slot")
    if request.slots[action.slot_index].status is not SlotStatus.FILLED or request.state is not RequestState.STARTED:
        return NotEnabled(what="free_slot", reason="slot not filled in a started request")
    status = SlotStatus.REPAIR if progress.market.profile is Profile.CODEX_HEAD else SlotStatus.FREE
    freed = with_slot(request, action.slot_index, ChainSlot(status=status))
    progress = with_market(progress, requests=progress.market.requests.set(action.request_id, freed))
    head = progress.market.profile is Profile.CODEX_HEAD
    discount = progress.market.repair_discount if head else 0
    item = queue_item(freed, action.slot_index, repair=True, discount=discount, head=head)
    return push_item(progress, rules, item)


def _process_slot(progress: Progress, rules: MarketRules, action: ProcessSlot) -> Progress | Rejection:
    """Guards: QueueNotReady (paused, empty, no idle worker). Effect: a Preparing agent, or a pause."""
    taken = rules.take(progress.market.queue)
    if isinstance(taken, Rejection):
        return taken
    queue, item = taken
    progress = with_market(progress, queue=queue)
    if item is None:
        return progress
    numbers = [key[2] for key in progress.market.sales if key[:2] == item.key]
    sale = Sale(
        request_id=item.request_id,
        slot_index=item.slot_index,
        number=max(numbers, default=-1) + 1,
        state=SaleState.PREPARING,
        item=item,
        worker=True,
    )
    return with_sale(progress, sale)


def _sale_step(progress: Progress, rules: MarketRules, action: SaleStep) -> Progress | Rejection:
    """Guards: NotEnabled (no such sale, or it ended); IllegalEvent; the event's own precondition."""
    sale = progress.market.sales.get(action.key)
    if sale is None or sale.ended:
        return NotEnabled(what=action.event.value, reason=f"no sale in flight for {action.key}")
    target = next_state(progress.market.profile, sale.state, action.event, rules.table)
    if isinstance(target, Rejection):
        return target
    done = EFFECTS[action.event](progress, rules, sale, action.bytes)
    if isinstance(done, Rejection):
        return done
    progress, changed = done
    progress = progress._replace(hits=(*progress.hits, (sale.state, action.event)))
    progress = with_sale(progress, enter(changed, target.state, target.reprocess, target.returns_collateral))
    if action.event is SaleEvent.FILL_OK:
        progress = emit_slot_filled(progress, rules, sale.request_id, sale.slot_index)
    request = progress.market.requests[sale.request_id]
    if sale.state in SUBSCRIBING and request.state is RequestState.CANCELLED:
        progress = deliver(progress, rules, action.key, SaleEvent.ON_CANCELLED)
    return progress


def _expire_blocks(progress: Progress, rules: MarketRules, action: ExpireBlocks) -> Progress | Rejection:
    """Guards: NotEnabled until the request ended and the slot stored blocks; the repo's own."""
    request = progress.market.requests.get(action.request_id)
    stored = progress.market.blocks.get((action.request_id, action.slot_index), 0)
    if request is None or request.state not in ENDED or stored == 0:
        return NotEnabled(what="expire_blocks", reason="no expired blocks for this slot")
    progress, outcome = run_reservations(progress, rules, ExpireBlock(bytes=stored))
    if isinstance(outcome, Rejection):
        return outcome
    return with_market(progress, blocks=progress.market.blocks.delete((action.request_id, action.slot_index)))


def my_slots(market: MarketState) -> frozenset[tuple[str, int]]:
    """``market.mySlots()``: the slots this host holds on chain."""
    return frozenset(
        (request_id, index)
        for request_id, request in items_in_key_order(market.requests)
        for index in range(len(request.slots))
        if mine(request, index)
    )


def _restart(progress: Progress, rules: MarketRules, action: Restart) -> Progress | Rejection:
    """Effect: agents dropped; queue emptied; inactive reservations deleted returning only their size
    (their written bytes are knowingly lost, HEAD); one Unknown agent per slot in ``mySlots``."""
    market = progress.market
    active = my_slots(market)
    known = market.known_lost
    if market.profile is Profile.CODEX_HEAD:
        res = market.reservations
        for rid in sorted(res.reservations):
            reservation = res.reservations[rid]
            ledger = res.reservation_ledgers[rid]
            written = ledger.slot_size - reservation.size - ledger.returned
            if (reservation.request_id, reservation.slot_index) not in active and written > 0:
                known = known.set(reservation.availability_id, known.get(reservation.availability_id, 0) + written)
    progress = with_market(progress, sales=immutables.Map(), queue=slot_queue.restarted(market.queue), known_lost=known)
    progress, _ = run_reservations(progress, rules, DeleteInactiveReservations(active_slots=active))
    orphans = {(r.request_id, r.slot_index): r.id for r in progress.market.reservations.reservations_by_id()}
    for request_id, index in sorted(active):
        agent = Sale(
            request_id=request_id, slot_index=index, state=SaleState.UNKNOWN, orphan=orphans.get((request_id, index))
        )
        progress = with_sale(progress, agent)
    return progress


HANDLERS: Mapping[type[MarketAction], Handler] = {
    SaveAvailability: _save_availability,
    RequestStorage: _request_storage,
    FillSlot: _fill_slot,
    CancelRequest: _request_ends(Move.CANCEL, SaleEvent.ON_CANCELLED),
    FailRequest: _request_ends(Move.FAIL, SaleEvent.ON_FAILED),
    FinishRequest: _request_ends(Move.FINISH, None),
    FreeSlot: _free_slot,
    ProcessSlot: _process_slot,
    SaleStep: _sale_step,
    ExpireBlocks: _expire_blocks,
    Restart: _restart,
}


def apply_market(state: MarketState, action: MarketAction, rules: MarketRules | None = None) -> MarketOutcome:
    """Run one market action with the profile's rules (or ``rules``).

    Guards: UnsupportedOperation for an unknown action; each handler's own, first failing wins.
    Effect: the handler's; a rejection leaves ``state`` as it is.
    Mirrors: codex-sales-spec §3 (sales), §4 (queue), §2.10 and §3.4 (restart).
    """
    handler = HANDLERS.get(type(action))
    if handler is None:
        return UnsupportedOperation(profile=state.profile.value, operation=type(action).__name__)
    done = handler(Progress(market=state), default_rules(state.profile) if rules is None else rules, action)
    if isinstance(done, Rejection):
        return done
    return MarketAccepted(state=done.market, steps=done.steps, hits=done.hits, pushed=done.pushed)
