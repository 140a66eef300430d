"""What each sale event needs and does besides changing state: its precondition and its effects.

Rules:
1. The next state never comes from here: ``model.sale``'s table decides it. An effect only checks
   that the outcome can happen in this market (a run finds no availability only when none matches)
   and changes the data the outcome changes (a reservation, a downloaded batch, a filled slot).
2. An effect returns the market and the sale before the sale enters its next state, or
   ``NotEnabled`` naming why the outcome cannot happen now; a refusal changes nothing.
3. Reservation effects follow spec §3.3: ``create_reservation`` in Preparing, ``store_block`` then
   ``release_bytes`` per batch in Downloading (nothing released when repairing), and in each
   terminal state the cleanup of its ``Ending``: return the written bytes (HEAD), delete the
   reservation with the ending's collateral, re-queue the item seen when ``reprocess``, free the worker.
4. Failures of the environment (market errors, download and proof failures, a missing request) are
   always possible; they need no precondition.

Mirrors: codex-sales-spec §3.2, §3.3, §3.5; nim-codex ``codex/sales/states/*.nim`` and ``Sales.cleanUp``
at bd360322 and 570a1f7b.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from model.actions import (
    Accepted,
    Action,
    CreateReservation535,
    CreateReservationHead,
    DeleteReservation535,
    DeleteReservationHead,
    FindAvailability535,
    FindAvailabilityHead,
    ReleaseBytes,
    ReturnBytesToAvailability,
    StoreBlock,
)
from model.chain import ChainSlot, Host, Request, SlotStatus, fillable, mine, slot_state, with_slot
from model.errors import BytesOutOfBounds, Rejection, ReserveFailed
from model.market_state import MarketRules, NotEnabled, Progress, Sale, push_item, run_reservations, with_market
from model.records import evolve
from model.sale import Collateral, SaleEvent, SaleState
from model.state import Profile

Effect = Callable[[Progress, MarketRules, Sale, int], tuple[Progress, Sale] | Rejection]
E = SaleEvent


def request_of(progress: Progress, sale: Sale) -> Request:
    """The on-chain request of ``sale``."""
    return progress.market.requests[sale.request_id]


def slot_of(progress: Progress, sale: Sale) -> str:
    """``market.slotState`` of the sale's slot."""
    return slot_state(progress.market.profile, request_of(progress, sale), sale.slot_index)


def _refuse(sale: Sale, event: SaleEvent, reason: str) -> NotEnabled:
    return NotEnabled(what=f"{sale.state.value}/{event.value}", reason=reason)


def _free_states(profile: Profile) -> tuple[str, ...]:
    return ("Free", "Repair") if profile is Profile.CODEX_HEAD else ("Free",)


def _with_chain_slot(progress: Progress, sale: Sale, slot: ChainSlot) -> Progress:
    request = with_slot(request_of(progress, sale), sale.slot_index, slot)
    return with_market(progress, requests=progress.market.requests.set(sale.request_id, request))


def _release_worker(progress: Progress, rules: MarketRules, sale: Sale) -> tuple[Progress, Sale]:
    """``onFilled`` or the end of cleanup: the queue worker waiting on this sale is free again."""
    if not sale.worker:
        return progress, sale
    return with_market(progress, queue=rules.release_worker(progress.market.queue)), evolve(sale, worker=False)


# -- environment outcomes ---------------------------------------------------------------


def _anytime(progress: Progress, rules: MarketRules, sale: Sale, n: int) -> tuple[Progress, Sale] | Rejection:
    return progress, sale


def _early(event: SaleEvent) -> Effect:
    """An outcome of Preparing's run before ``findAvailability``: only while no hint is held."""

    def effect(progress: Progress, rules: MarketRules, sale: Sale, n: int) -> tuple[Progress, Sale] | Rejection:
        if sale.hint is not None:
            return _refuse(sale, event, "the run already found an availability")
        return progress, sale

    return effect


def _external(progress: Progress, rules: MarketRules, sale: Sale, n: int) -> tuple[Progress, Sale] | Rejection:
    return NotEnabled(what="external event", reason="delivered by the chain's events, not by a sale step")


def _slot_is(state: str, event: SaleEvent) -> Effect:
    """An outcome of ``SaleUnknown``'s switch on the slot state (or Proving's period check)."""

    def effect(progress: Progress, rules: MarketRules, sale: Sale, n: int) -> tuple[Progress, Sale] | Rejection:
        found = slot_of(progress, sale)
        return (progress, sale) if found == state else _refuse(sale, event, f"slot state is {found}")

    return effect


def _slot_not_free(progress: Progress, rules: MarketRules, sale: Sale, n: int) -> tuple[Progress, Sale] | Rejection:
    found = slot_of(progress, sale)
    if sale.hint is not None or found in _free_states(progress.market.profile):
        return _refuse(sale, E.SLOT_NOT_FREE, f"slot state is {found}, hint {sale.hint}")
    return progress, sale


# -- Preparing: findAvailability, createReservation --------------------------------------


def _find(progress: Progress, rules: MarketRules, sale: Sale) -> tuple[Progress, str | None] | Rejection:
    if sale.hint is not None:
        return _refuse(sale, E.AVAILABILITY_FOUND, "the run already found an availability")
    found = slot_of(progress, sale)
    if found not in _free_states(progress.market.profile):
        return _refuse(sale, E.AVAILABILITY_FOUND, f"slot state is {found}")
    terms = request_of(progress, sale).terms
    query: Action
    if progress.market.profile is Profile.CODEX_HEAD:
        query = FindAvailabilityHead(
            size=terms.slot_size,
            duration=terms.duration,
            price_per_byte_per_second=terms.price_per_byte_per_second,
            collateral_per_byte=terms.collateral_per_byte,
            valid_until=terms.end,
        )
    else:
        query = FindAvailability535(
            size=terms.slot_size,
            duration=terms.duration,
            min_price=terms.price_per_slot,
            collateral=terms.collateral_per_slot,
        )
    progress, outcome = run_reservations(progress, rules, query)
    if not isinstance(outcome, Accepted):
        return outcome
    return progress, outcome.found


def _found(progress: Progress, rules: MarketRules, sale: Sale, n: int) -> tuple[Progress, Sale] | Rejection:
    """``SalePreparing.run`` reaches ``findAvailability`` and gets an availability (kept as the hint).

    Mirrors: ``SalePreparing.run`` (bd360322, 570a1f7b), spec §2.8, §3.2.
    """
    found = _find(progress, rules, sale)
    if isinstance(found, Rejection):
        return found
    if found[1] is None:
        return _refuse(sale, E.AVAILABILITY_FOUND, "no availability matches")
    return found[0], evolve(sale, hint=found[1])


def _no_match(progress: Progress, rules: MarketRules, sale: Sale, n: int) -> tuple[Progress, Sale] | Rejection:
    found = _find(progress, rules, sale)
    if isinstance(found, Rejection):
        return found
    if found[1] is not None:
        return _refuse(sale, E.NO_MATCHING_AVAILABILITY, f"availability {found[1]} matches")
    return found[0], sale


def fresh_reservation_id(progress: Progress, sale: Sale) -> str:
    """``<request>/<slot>/<sale number>``, suffixed if a restart left that id live (nim-codex draws random ids)."""
    taken = progress.market.reservations.reservations
    base = f"{sale.request_id}/{sale.slot_index}/{sale.number}"
    k = 0
    while (base if k == 0 else f"{base}+{k}") in taken:
        k += 1
    return base if k == 0 else f"{base}+{k}"


def _create(progress: Progress, rules: MarketRules, sale: Sale) -> tuple[Progress, Action, object] | Rejection:
    if sale.hint is None:
        return _refuse(sale, E.RESERVATION_CREATED, "the run has not found an availability")
    terms = request_of(progress, sale).terms
    reservation_id = fresh_reservation_id(progress, sale)
    action: Action
    if progress.market.profile is Profile.CODEX_HEAD:
        action = CreateReservationHead(
            availability_id=sale.hint,
            reservation_id=reservation_id,
            slot_size=terms.slot_size,
            request_id=sale.request_id,
            slot_index=sale.slot_index,
            collateral_per_byte=terms.collateral_per_byte,
            valid_until=terms.end,
        )
    else:
        action = CreateReservation535(
            availability_id=sale.hint,
            reservation_id=reservation_id,
            slot_size=terms.slot_size,
            request_id=sale.request_id,
            slot_index=sale.slot_index,
        )
    progress, outcome = run_reservations(progress, rules, action)
    return progress, action, outcome


def _created(progress: Progress, rules: MarketRules, sale: Sale, n: int) -> tuple[Progress, Sale] | Rejection:
    """``createReservation`` on the hint succeeds: the agent records its reservation.

    Mirrors: ``SalePreparing.run`` → ``Reservations.createReservation`` (bd360322, 570a1f7b), spec §2.4, §3.3.
    """
    done = _create(progress, rules, sale)
    if isinstance(done, Rejection):
        return done
    progress, action, outcome = done
    if not isinstance(outcome, Accepted) or not isinstance(action, CreateReservation535 | CreateReservationHead):
        return _refuse(sale, E.RESERVATION_CREATED, f"createReservation refused: {outcome!r}")
    taken = action.slot_size * action.collateral_per_byte if isinstance(action, CreateReservationHead) else 0
    created = evolve(
        sale, hint=None, reservation_id=action.reservation_id, availability_id=action.availability_id, taken=taken
    )
    return progress, created


def _create_refused(event: SaleEvent, lost_race: bool) -> Effect:
    """``createReservation`` refused: with ``BytesOutOfBounds`` (``lost_race``) or with another error."""

    def effect(progress: Progress, rules: MarketRules, sale: Sale, n: int) -> tuple[Progress, Sale] | Rejection:
        done = _create(progress, rules, sale)
        if isinstance(done, Rejection):
            return done
        outcome = done[2]
        if not isinstance(outcome, Rejection) or isinstance(outcome, BytesOutOfBounds) is not lost_race:
            return _refuse(sale, event, f"createReservation gave {outcome!r}")
        return progress, evolve(sale, hint=None)

    return effect


# -- SlotReserving, Downloading ------------------------------------------------------------


def _reserve_slot(progress: Progress, rules: MarketRules, sale: Sale, n: int) -> tuple[Progress, Sale] | Rejection:
    found = slot_of(progress, sale)
    if found not in _free_states(progress.market.profile):
        return _refuse(sale, E.RESERVE_SLOT_OK, f"slot state is {found}")
    return progress, evolve(sale, repairing=found == "Repair")


def _batch(progress: Progress, rules: MarketRules, sale: Sale, n: int) -> tuple[Progress, Sale] | Rejection:
    """``onBlocks``: the batch is stored (``putBlock``), then released from the reservation (not when repairing).

    Mirrors: ``SaleDownloading.run`` ``onBlocks`` → ``Reservations.release`` (bd360322, 570a1f7b), spec §1.4, §3.3.
    """
    remaining = request_of(progress, sale).terms.slot_size - sale.downloaded
    if not 1 <= n <= remaining:
        return _refuse(sale, E.BATCH, f"batch of {n} bytes, {remaining} left to download")
    progress, stored = run_reservations(progress, rules, StoreBlock(bytes=n))
    if isinstance(stored, Rejection):
        return stored
    if not sale.repairing:
        if sale.reservation_id is None or sale.availability_id is None:
            return _refuse(sale, E.BATCH, "no reservation to release from")
        release = ReleaseBytes(reservation_id=sale.reservation_id, availability_id=sale.availability_id, bytes=n)
        progress, released = run_reservations(progress, rules, release)
        if isinstance(released, Rejection):
            return released
    slot = (sale.request_id, sale.slot_index)
    progress = with_market(progress, blocks=progress.market.blocks.set(slot, progress.market.blocks.get(slot, 0) + n))
    return progress, evolve(sale, downloaded=sale.downloaded + n)


def _downloaded(progress: Progress, rules: MarketRules, sale: Sale, n: int) -> tuple[Progress, Sale] | Rejection:
    size = request_of(progress, sale).terms.slot_size
    if sale.downloaded != size:
        return _refuse(sale, E.DOWNLOADED, f"{sale.downloaded} of {size} bytes downloaded")
    return progress, sale


# -- Filling, Filled, Proving, Payout, Failed ------------------------------------------------


def _fill(progress: Progress, rules: MarketRules, sale: Sale, n: int) -> tuple[Progress, Sale] | Rejection:
    """``fillSlot``: the slot is this host's, with the collateral ``slotCollateral`` asks (repair discount).

    Mirrors: ``SaleFilling.run`` (bd360322; 570a1f7b then waits for SlotFilled), spec §3.2, §3.5.
    """
    request = request_of(progress, sale)
    if not fillable(request, sale.slot_index):
        return _refuse(sale, E.FILL_OK, f"slot state is {slot_of(progress, sale)}")
    terms = request.terms
    collateral = terms.collateral_per_slot
    if request.slots[sale.slot_index].status is SlotStatus.REPAIR:
        collateral -= collateral * progress.market.repair_discount // 100
    slot = ChainSlot(status=SlotStatus.FILLED, host=Host.ME, collateral=collateral)
    return _with_chain_slot(progress, sale, slot), sale


def _mismatch(progress: Progress, rules: MarketRules, sale: Sale, n: int) -> tuple[Progress, Sale] | Rejection:
    if fillable(request_of(progress, sale), sale.slot_index):
        return _refuse(sale, E.SLOT_STATE_MISMATCH, "the slot can still be filled")
    return progress, sale


def _host_is_me(event: SaleEvent) -> Effect:
    """``SaleFilled`` with this host: ``onFilled`` frees the worker (then the expiry update may fail)."""

    def effect(progress: Progress, rules: MarketRules, sale: Sale, n: int) -> tuple[Progress, Sale] | Rejection:
        if not mine(request_of(progress, sale), sale.slot_index):
            return _refuse(sale, event, "this host does not hold the slot")
        return _release_worker(progress, rules, sale)

    return effect


def _host_is_other(progress: Progress, rules: MarketRules, sale: Sale, n: int) -> tuple[Progress, Sale] | Rejection:
    if mine(request_of(progress, sale), sale.slot_index):
        return _refuse(sale, E.HOST_IS_OTHER, "this host holds the slot")
    return progress, sale


def _payout(progress: Progress, rules: MarketRules, sale: Sale, n: int) -> tuple[Progress, Sale] | Rejection:
    """``SalePayout``: read ``currentCollateral``, ``freeSlot`` (the slot is withdrawn) -> Finished(collateral).

    Mirrors: ``SalePayout.run`` (bd360322; 570a1f7b passes no collateral), spec §3.2, §3.5.
    """
    request = request_of(progress, sale)
    if slot_of(progress, sale) != "Finished" or not mine(request, sale.slot_index):
        return _refuse(sale, E.PAYOUT, f"slot state is {slot_of(progress, sale)}; freeSlot needs this host's slot")
    slot = request.slots[sale.slot_index]
    progress = _with_chain_slot(progress, sale, evolve(slot, status=SlotStatus.WITHDRAWN))
    if progress.market.profile is Profile.CODEX_535:
        return progress, sale
    return progress, evolve(sale, returned_collateral=slot.collateral)


def _raise(progress: Progress, rules: MarketRules, sale: Sale, n: int) -> tuple[Progress, Sale] | Rejection:
    """HEAD ``SaleFailed``: ``freeSlot`` succeeds only for this host's slot; 570a1f7b just raises.

    Mirrors: ``SaleFailed.run`` (bd360322 frees the slot since nim-codex#556; 570a1f7b does not), spec §3.2, §3.5.
    """
    if progress.market.profile is Profile.CODEX_535:
        return progress, sale
    request = request_of(progress, sale)
    if not mine(request, sale.slot_index):
        return _refuse(sale, E.RAISE, "freeSlot reverts: this host does not hold the slot")
    slot = request.slots[sale.slot_index]
    return _with_chain_slot(progress, sale, evolve(slot, status=SlotStatus.WITHDRAWN)), sale


# -- cleanup -------------------------------------------------------------------------------------


def _collateral(progress: Progress, sale: Sale, collateral: Collateral) -> tuple[Progress, int | None]:
    """The collateral the cleanup passes to ``deleteReservation``, and ``SaleCancelled``'s ``freeSlot``."""
    if collateral is Collateral.PER_SLOT_IF_RETURNS:
        return progress, request_of(progress, sale).terms.collateral_per_slot if sale.returns_collateral else None
    if collateral is Collateral.CURRENT:
        return progress, sale.returned_collateral
    if collateral is Collateral.CURRENT_IF_HOST and mine(request_of(progress, sale), sale.slot_index):
        slot = request_of(progress, sale).slots[sale.slot_index]
        return _with_chain_slot(progress, sale, evolve(slot, status=SlotStatus.WITHDRAWN)), slot.collateral
    return progress, None


def _give_back(
    progress: Progress, rules: MarketRules, sale: Sale, returns_written: bool, collateral: int | None
) -> Progress:
    """Cleanup step 1: ``returnBytesToAvailability(slotSize)`` (HEAD) then ``deleteReservation``; errors only logged.

    Mirrors: ``Sales.cleanUp`` step 1 (bd360322; 570a1f7b deletes only), spec §3.3, §3.5.
    """
    rid, aid = sale.reservation_id, sale.availability_id
    if rid is None or aid is None:
        return progress
    if returns_written:
        before = progress.market.reservations
        slot_size = request_of(progress, sale).terms.slot_size
        action = ReturnBytesToAvailability(availability_id=aid, reservation_id=rid, bytes=slot_size)
        progress, outcome = run_reservations(progress, rules, action)
        reservation, ledger = before.reservations.get(rid), before.reservation_ledgers.get(rid)
        if isinstance(outcome, ReserveFailed) and reservation is not None and ledger is not None:
            lost = ledger.slot_size - reservation.size - ledger.returned
            known = progress.market.known_lost
            progress = with_market(progress, known_lost=known.set(aid, known.get(aid, 0) + lost))
    delete: Action
    if progress.market.profile is Profile.CODEX_HEAD:
        delete = DeleteReservationHead(reservation_id=rid, availability_id=aid, returned_collateral=collateral)
    else:
        delete = DeleteReservation535(reservation_id=rid, availability_id=aid)
    return run_reservations(progress, rules, delete)[0]


def _cleanup(progress: Progress, rules: MarketRules, sale: Sale, n: int) -> tuple[Progress, Sale] | Rejection:
    """``onCleanUp`` → ``Sales.cleanUp``: give back, re-queue when ``reprocess``, free the worker, stop.

    Mirrors: ``SaleFinished/SaleCancelled/SaleErrored/SaleIgnored.run`` and ``Sales.cleanUp`` (bd360322,
    570a1f7b), spec §3.2, §3.3 steps 1-4, §3.5.
    """
    ending = rules.endings.get(sale.state)
    if ending is None:
        return _refuse(sale, E.CLEANUP, "not a terminal state of this profile")
    progress, collateral = _collateral(progress, sale, ending.collateral)
    progress = _give_back(progress, rules, sale, ending.returns_written, collateral)
    if ending.requeues and sale.reprocess and sale.item is not None:
        progress = push_item(progress, rules, evolve(sale.item, seen=True))
    progress, sale = _release_worker(progress, rules, sale)
    return progress, evolve(sale, ended=True, given=collateral)


EFFECTS: Mapping[SaleEvent, Effect] = {
    E.ON_CANCELLED: _external,
    E.ON_FAILED: _external,
    E.ON_SLOT_FILLED: _external,
    E.REQUEST_MISSING: _early(E.REQUEST_MISSING),
    E.MARKET_ERROR: _early(E.MARKET_ERROR),
    E.SLOT_STATE_UNKNOWN: _anytime,
    E.SLOT_IS_FREE: _slot_is("Free", E.SLOT_IS_FREE),
    E.SLOT_IS_FILLED: _slot_is("Filled", E.SLOT_IS_FILLED),
    E.SLOT_IS_FINISHED: _slot_is("Finished", E.SLOT_IS_FINISHED),
    E.SLOT_IS_PAID: _slot_is("Paid", E.SLOT_IS_PAID),
    E.SLOT_IS_FAILED: _slot_is("Failed", E.SLOT_IS_FAILED),
    E.SLOT_IS_CANCELLED: _slot_is("Cancelled", E.SLOT_IS_CANCELLED),
    E.SLOT_IS_REPAIR: _slot_is("Repair", E.SLOT_IS_REPAIR),
    E.SLOT_NOT_FREE: _slot_not_free,
    E.AVAILABILITY_FOUND: _found,
    E.NO_MATCHING_AVAILABILITY: _no_match,
    E.RESERVATION_CREATED: _created,
    E.LOST_RESERVATION_RACE: _create_refused(E.LOST_RESERVATION_RACE, lost_race=True),
    E.RESERVATION_FAILED: _create_refused(E.RESERVATION_FAILED, lost_race=False),
    E.RESERVE_SLOT_OK: _reserve_slot,
    E.RESERVE_NOT_ALLOWED: _anytime,
    E.BATCH: _batch,
    E.DOWNLOADED: _downloaded,
    E.DOWNLOAD_FAILED: _anytime,
    E.PROOF_OK: _anytime,
    E.PROOF_FAILED: _anytime,
    E.FILL_OK: _fill,
    E.SLOT_STATE_MISMATCH: _mismatch,
    E.HOST_IS_ME: _host_is_me(E.HOST_IS_ME),
    E.HOST_IS_OTHER: _host_is_other,
    E.EXPIRY_UPDATE_FAILED: _host_is_me(E.EXPIRY_UPDATE_FAILED),
    E.SLOT_FINISHED: _slot_is("Finished", E.SLOT_FINISHED),
    E.SLOT_REPAIR: _slot_is("Repair", E.SLOT_REPAIR),
    E.SLOT_NOT_FILLED: _slot_is("Free", E.SLOT_NOT_FILLED),
    E.PAYOUT: _payout,
    E.RAISE: _raise,
    E.CLEANUP: _cleanup,
}

#: States whose ``run`` subscribes to the request's events (``agent.subscribe``, spec §3.1).
SUBSCRIBING = frozenset({SaleState.UNKNOWN, SaleState.PREPARING})
