"""Profile ``codex-535``: nim-codex at PR #535 (commit 570a1f7b, 2023-09-29).

Rules:
1. An availability has one capacity field, ``size``: the bytes it can still sell.
2. A reservation takes ``slot_size`` out of ``size``; a delete gives back only the
   reservation's remaining ``size``: written bytes are consumed for good.
3. No lock, no collateral budget, no ``enabled``/``until``.
4. Guards run in the order each docstring lists; the first failing one wins.

Mirrors: codex-sales-spec §1.1, §2.1-2.10 (OLD notes), §2.13, §3.5.
"""

from __future__ import annotations

from collections.abc import Set

from model import quota
from model.checks import id_in_use, out_of_range
from model.common import delete_inactive_reservations as _delete_inactive
from model.common import first_by_id
from model.entities import Availability535, AvailabilityLedger, Reservation535, ReservationLedger
from model.errors import BytesOutOfBounds, NotExists, OutOfRange, Overflow, QuotaNotEnough, Rejection, ReserveFailed
from model.numbers import MONEY, SIZE, U64_MAX
from model.records import constructor, evolve
from model.state import State535, get_availability, get_reservation, with_reservation_added, with_reservation_removed

#: ``Reservation535(...)`` and ``ReservationLedger(...)``, built without ``__init__`` (model/records.py rule 6).
_new_reservation = constructor(Reservation535)
_new_ledger = constructor(ReservationLedger)


def create_availability(
    state: State535, *, availability_id: str, size: int, duration: int, min_price: int, max_collateral: int
) -> State535 | Rejection:
    """Set ``size`` bytes of the repo aside for sale.

    Guards: OutOfRange; IdInUse; ReserveFailed(QuotaNotEnough) when the repo cannot reserve ``size``.
    Effect: new availability; ``repo.reserved += size``.
    Mirrors: ``Reservations.createAvailability`` at 570a1f7b, spec §2.1 (OLD).
    """
    bad = out_of_range(
        size=(size, SIZE),
        duration=(duration, MONEY),
        min_price=(min_price, MONEY),
        max_collateral=(max_collateral, MONEY),
    )
    if bad is not None:
        return bad
    taken = id_in_use("availability", availability_id, state.availabilities)
    if taken is not None:
        return taken
    repo = quota.reserve(state.repo, size)
    if isinstance(repo, QuotaNotEnough):
        return ReserveFailed(parent=repo)
    availability = Availability535(
        id=availability_id, size=size, duration=duration, min_price=min_price, max_collateral=max_collateral
    )
    return evolve(
        state,
        repo=repo,
        availabilities=state.availabilities.set(availability_id, availability),
        availability_ledgers=state.availability_ledgers.set(availability_id, AvailabilityLedger(created_size=size)),
    )


def take_bytes(availability: Availability535, slot_size: int) -> Availability535 | BytesOutOfBounds:
    """Kernel of ``createReservation``: ``size -= slot_size`` unless fewer bytes remain."""
    if availability.size < slot_size:
        return BytesOutOfBounds(
            entity="availability", id=availability.id, requested=slot_size, available=availability.size
        )
    return evolve(availability, size=availability.size - slot_size)


def create_reservation(
    state: State535, *, availability_id: str, reservation_id: str, slot_size: int, request_id: str, slot_index: int
) -> State535 | Rejection:
    """Carve a reservation of ``slot_size`` bytes out of an availability.

    Guards: OutOfRange; IdInUse; NotExists (availability); BytesOutOfBounds when ``size < slot_size``.
    Effect: ``availability.size -= slot_size``; new reservation with ``size = slot_size``; repo untouched.
    Mirrors: ``Reservations.createReservation`` at 570a1f7b, spec §2.4 (OLD).
    """
    bad = out_of_range(slot_size=(slot_size, SIZE), slot_index=(slot_index, MONEY))
    if bad is not None:
        return bad
    taken = id_in_use("reservation", reservation_id, state.reservations)
    if taken is not None:
        return taken
    availability = get_availability(state, availability_id)
    if isinstance(availability, NotExists):
        return availability
    reduced = take_bytes(availability, slot_size)
    if isinstance(reduced, BytesOutOfBounds):
        return reduced
    reservation = _new_reservation(
        id=reservation_id,
        availability_id=availability_id,
        size=slot_size,
        request_id=request_id,
        slot_index=slot_index,
    )
    return with_reservation_added(state, reduced, reservation, _new_ledger(slot_size=slot_size), 0)


def give_back(availability: Availability535, reservation: Reservation535) -> Availability535 | Overflow:
    """Kernel of ``deleteReservation``: ``size += reservation.size``."""
    if availability.size > U64_MAX - reservation.size:
        return Overflow(field="size", value=availability.size, addend=reservation.size, high=U64_MAX)
    return evolve(availability, size=availability.size + reservation.size)


def delete_reservation(state: State535, *, reservation_id: str, availability_id: str) -> State535 | Rejection:
    """Delete a reservation, returning its unwritten bytes to the availability.

    Guards: none for a missing reservation (success, nothing changes); when ``size > 0``:
    NotExists (availability), Overflow.
    Effect: ``availability.size += reservation.size``; reservation removed; written bytes consumed.
    Mirrors: ``Reservations.deleteReservation`` at 570a1f7b, spec §2.7 (OLD: the availability is
    loaded only when there are bytes to give back).
    """
    reservation = get_reservation(state, reservation_id, availability_id)
    if isinstance(reservation, NotExists):
        return state
    restored = None
    if reservation.size > 0:
        availability = get_availability(state, availability_id)
        if isinstance(availability, NotExists):
            return availability
        given = give_back(availability, reservation)
        if isinstance(given, Overflow):
            return given
        restored = given
    return with_reservation_removed(state, availability_id, reservation_id, availability=restored)


def matches(availability: Availability535, size: int, duration: int, min_price: int, collateral: int) -> bool:
    """The OLD match predicate: enough size, long enough, price high enough, collateral low enough."""
    return (
        size <= availability.size
        and duration <= availability.duration
        and collateral <= availability.max_collateral
        and min_price >= availability.min_price
    )


def find_availability(
    state: State535, *, size: int, duration: int, min_price: int, collateral: int
) -> Availability535 | OutOfRange | None:
    """The matching availability with the smallest id, or None.

    ``min_price`` is what Sales passes: the request's ``pricePerSlot``.
    Guards: OutOfRange.
    Mirrors: ``Reservations.findAvailability`` at 570a1f7b, spec §2.8 (OLD); key order made
    deterministic by id (spec §1.3).
    """
    bad = out_of_range(
        size=(size, SIZE), duration=(duration, MONEY), min_price=(min_price, MONEY), collateral=(collateral, MONEY)
    )
    if bad is not None:
        return bad
    return first_by_id(state.availabilities_by_id(), lambda a: matches(a, size, duration, min_price, collateral))


def _delete(state: State535, reservation_id: str, availability_id: str) -> State535 | Rejection:
    return delete_reservation(state, reservation_id=reservation_id, availability_id=availability_id)


def delete_inactive_reservations(state: State535, *, active_slots: Set[tuple[str, int]]) -> State535:
    """Restart cleanup at 570a1f7b: see ``model.common.delete_inactive_reservations``."""
    return _delete_inactive(state, active_slots, _delete)
