"""Profile ``codex-head``: nim-codex at commit bd360322 (2025-11-13).

Rules:
1. An availability has ``total_size`` and ``free_size``; a reservation moves ``slot_size``
   from ``free_size`` into its own ``size`` and ``slot_size * collateral_per_byte`` out of
   ``total_remaining_collateral``.
2. Cleanup is ``return_bytes_to_availability(slot_size)`` (the written bytes, re-reserved in
   the repo) then ``delete_reservation`` (the unwritten bytes, and collateral if given).
3. Every availability write goes through ``_save`` = nim-codex ``updateAvailability``: the
   until rule, then the repo delta of a ``total_size`` change.
4. Guards run in the order each docstring lists; the first failing one wins. Where
   nim-codex would wrap (spec §2.12 items 1-3) the model refuses with a typed error.

Mirrors: codex-sales-spec §1.2, §2.1-2.10, §2.12.
"""

from __future__ import annotations

from collections.abc import Callable, Set

from model import quota
from model.checks import id_in_use, out_of_range
from model.common import delete_inactive_reservations as _delete_inactive
from model.common import first_by_id
from model.entities import (
    AvailabilityHead,
    AvailabilityLedger,
    ReservationHead,
    ReservationLedger,
    after_return,
    slot_collateral,
)
from model.errors import (
    BytesOutOfBounds,
    CollateralUnderflow,
    FreeSizeNotUpdatable,
    NotEnoughStorageQuota,
    NotExists,
    OutOfRange,
    Overflow,
    QuotaNotEnough,
    QuotaUnderflow,
    Rejection,
    ReleaseFailed,
    ReserveFailed,
    ReturnBytesUnderflow,
    TotalSizeBelowUsed,
    TotalSizeUnderflow,
    TotalSizeZero,
    UntilOutOfBounds,
)
from model.numbers import MONEY, SIZE, TIME, U64_MAX, U256_MAX, largest
from model.quota import RepoQuota
from model.records import constructor, evolve
from model.state import StateHead, get_availability, get_reservation, with_reservation_added, with_reservation_removed

#: ``ReservationHead(...)`` and ``ReservationLedger(...)``, built without ``__init__`` (model/records.py rule 6).
_new_reservation = constructor(ReservationHead)
_new_ledger = constructor(ReservationLedger)


def create_availability(
    state: StateHead,
    *,
    availability_id: str,
    total_size: int,
    duration: int,
    min_price_per_byte_per_second: int,
    total_collateral: int,
    enabled: bool = True,
    until: int = 0,
) -> StateHead | Rejection:
    """Set ``total_size`` bytes of the repo aside for sale.

    Guards: OutOfRange; IdInUse; UntilOutOfBounds when ``until < 0``;
    ReserveFailed(QuotaNotEnough) when the repo cannot reserve ``total_size``.
    Effect: new availability with ``free_size = total_size`` and
    ``total_remaining_collateral = total_collateral``; ``repo.reserved += total_size``.
    Mirrors: ``Reservations.createAvailability`` at bd360322, spec §2.1 (no REST zero checks).
    """
    bad = out_of_range(
        total_size=(total_size, SIZE),
        duration=(duration, SIZE),
        min_price_per_byte_per_second=(min_price_per_byte_per_second, MONEY),
        total_collateral=(total_collateral, MONEY),
        until=(until, TIME),
    )
    if bad is not None:
        return bad
    taken = id_in_use("availability", availability_id, state.availabilities)
    if taken is not None:
        return taken
    if until < 0:
        return UntilOutOfBounds(availability_id=availability_id, until=until, latest_valid_until=0)
    repo = quota.reserve(state.repo, total_size)
    if isinstance(repo, QuotaNotEnough):
        return ReserveFailed(parent=repo)
    availability = AvailabilityHead(
        id=availability_id,
        total_size=total_size,
        free_size=total_size,
        duration=duration,
        min_price_per_byte_per_second=min_price_per_byte_per_second,
        total_collateral=total_collateral,
        total_remaining_collateral=total_collateral,
        enabled=enabled,
        until=until,
    )
    ledger = AvailabilityLedger(created_size=total_size)
    return evolve(
        state,
        repo=repo,
        availabilities=state.availabilities.set(availability_id, availability),
        availability_ledgers=state.availability_ledgers.set(availability_id, ledger),
    )


def check_until(availability: AvailabilityHead, latest_valid_until: int) -> UntilOutOfBounds | None:
    """The until rule of ``updateAvailability``: ``until >= 0``, and ``until`` covers every hosted slot."""
    if availability.until < 0 or (availability.until > 0 and latest_valid_until > availability.until):
        return UntilOutOfBounds(
            availability_id=availability.id, until=availability.until, latest_valid_until=latest_valid_until
        )
    return None


def resize_repo(
    old: AvailabilityHead, new: AvailabilityHead, repo: RepoQuota
) -> RepoQuota | ReserveFailed | ReleaseFailed:
    """The repo delta of ``updateAvailability``: reserve growth, release shrinkage of ``total_size``."""
    if new.total_size > old.total_size:
        grown = quota.reserve(repo, new.total_size - old.total_size)
        return ReserveFailed(parent=grown) if isinstance(grown, QuotaNotEnough) else grown
    if new.total_size < old.total_size:
        shrunk = quota.release(repo, old.total_size - new.total_size)
        return ReleaseFailed(parent=shrunk) if isinstance(shrunk, QuotaUnderflow) else shrunk
    return repo


def _save(
    state: StateHead, old: AvailabilityHead, new: AvailabilityHead, latest_valid_until: int
) -> tuple[AvailabilityHead, RepoQuota] | UntilOutOfBounds | ReserveFailed | ReleaseFailed:
    """nim-codex ``updateAvailability`` on an existing record: until rule, then repo delta."""
    late = check_until(new, latest_valid_until)
    if late is not None:
        return late
    repo = resize_repo(old, new, state.repo)
    if isinstance(repo, Rejection):
        return repo
    return new, repo


def resize(availability: AvailabilityHead, total_size: int, repo: RepoQuota) -> AvailabilityHead | Rejection:
    """Kernel of the PATCH ``totalSize`` change: REST guards, then ``free_size`` follows the delta.

    Guards: TotalSizeZero; TotalSizeUnderflow when ``free_size > total_size``; TotalSizeBelowUsed
    when ``total_size < old total - free``; NotEnoughStorageQuota unless ``has_available(total_size)``.
    """
    if total_size == 0:
        return TotalSizeZero(availability_id=availability.id)
    if availability.free_size > availability.total_size:
        return TotalSizeUnderflow(
            availability_id=availability.id, total_size=availability.total_size, free_size=availability.free_size
        )
    used = availability.total_size - availability.free_size
    if total_size < used:
        return TotalSizeBelowUsed(availability_id=availability.id, requested=total_size, used=used)
    if not quota.has_available(repo, total_size):
        return NotEnoughStorageQuota(requested=total_size, available=quota.available(repo))
    if total_size >= availability.total_size:
        free_size = availability.free_size + (total_size - availability.total_size)
    else:
        free_size = availability.free_size - (availability.total_size - total_size)
    return evolve(availability, total_size=total_size, free_size=free_size)


def _patch_ranges(
    total_size: int | None,
    free_size: int | None,
    duration: int | None,
    min_price_per_byte_per_second: int | None,
    total_collateral: int | None,
    until: int | None,
) -> OutOfRange | None:
    given = {
        name: (value, bounds)
        for name, value, bounds in (
            ("total_size", total_size, SIZE),
            ("free_size", free_size, SIZE),
            ("duration", duration, SIZE),
            ("min_price_per_byte_per_second", min_price_per_byte_per_second, MONEY),
            ("total_collateral", total_collateral, MONEY),
            ("until", until, TIME),
        )
        if value is not None
    }
    return out_of_range(**given)


def update_availability(
    state: StateHead,
    *,
    availability_id: str,
    total_size: int | None = None,
    free_size: int | None = None,
    duration: int | None = None,
    min_price_per_byte_per_second: int | None = None,
    total_collateral: int | None = None,
    enabled: bool | None = None,
    until: int | None = None,
) -> StateHead | Rejection:
    """PATCH an availability: the REST handler's guards, field overwrites, then ``update``.

    Guards: OutOfRange; NotExists; FreeSizeNotUpdatable when ``free_size`` is given; the
    ``resize`` guards when ``total_size`` is given; UntilOutOfBounds (negative, or earlier
    than a hosted reservation's ``valid_until``); ReserveFailed / ReleaseFailed for the repo delta.
    Effect: ``free_size`` moves with ``total_size``; given fields overwrite; a given
    ``total_collateral`` also resets ``total_remaining_collateral`` (nim-codex#1147);
    ``repo.reserved`` follows the ``total_size`` delta.
    Mirrors: REST ``PATCH /sales/availability/{id}`` + ``Reservations.update`` at bd360322, spec §2.2, §2.3, §5.
    """
    bad = _patch_ranges(total_size, free_size, duration, min_price_per_byte_per_second, total_collateral, until)
    if bad is not None:
        return bad
    old = get_availability(state, availability_id)
    if isinstance(old, NotExists):
        return old
    if free_size is not None:
        return FreeSizeNotUpdatable(availability_id=availability_id)
    new = old
    if total_size is not None:
        resized = resize(old, total_size, state.repo)
        if isinstance(resized, Rejection):
            return resized
        new = resized
    new = _overwrite(new, duration, min_price_per_byte_per_second, total_collateral, enabled, until)
    ledger = state.availability_ledgers[availability_id]
    saved = _save(state, old, new, ledger.latest_valid_until)
    if isinstance(saved, Rejection):
        return saved
    new, repo = saved
    if total_collateral is not None:
        # The reset is a new collateral baseline: earlier leaks are forgotten, and it is sound
        # only when no live reservation holds collateral (nim-codex#1147).
        ledger = evolve(ledger, collateral_leaked=0, collateral_reset_live=len(ledger.reservations) > 0)
    return evolve(
        state,
        repo=repo,
        availabilities=state.availabilities.set(availability_id, new),
        availability_ledgers=state.availability_ledgers.set(availability_id, ledger),
    )


def _overwrite(
    availability: AvailabilityHead,
    duration: int | None,
    min_price_per_byte_per_second: int | None,
    total_collateral: int | None,
    enabled: bool | None,
    until: int | None,
) -> AvailabilityHead:
    """The PATCH field overwrites; ``totalCollateral=`` also sets ``totalRemainingCollateral``."""
    a = availability
    collateral = a.total_collateral if total_collateral is None else total_collateral
    return evolve(
        a,
        duration=a.duration if duration is None else duration,
        min_price_per_byte_per_second=(
            a.min_price_per_byte_per_second if min_price_per_byte_per_second is None else min_price_per_byte_per_second
        ),
        total_collateral=collateral,
        total_remaining_collateral=a.total_remaining_collateral if total_collateral is None else collateral,
        enabled=a.enabled if enabled is None else enabled,
        until=a.until if until is None else until,
    )


def take_slot(availability: AvailabilityHead, slot_size: int, collateral_per_byte: int) -> AvailabilityHead | Rejection:
    """Kernel of ``createReservation``: ``free_size -= slot_size``, ``TRC -= slot_size * cpb``.

    Guards: BytesOutOfBounds when ``free_size < slot_size``; CollateralUnderflow when
    ``TRC < slot_size * cpb``, tested as ``cpb > TRC div slot_size`` so that the product is
    formed only once it is known to fit in ``TRC`` (nim-codex forms it first, in UInt256,
    and wraps: spec §2.12 item 2).
    """
    if availability.free_size < slot_size:
        return BytesOutOfBounds(
            entity="availability", id=availability.id, requested=slot_size, available=availability.free_size
        )
    remaining = availability.total_remaining_collateral
    if slot_size > 0 and collateral_per_byte > remaining // slot_size:
        return CollateralUnderflow(
            availability_id=availability.id,
            required=slot_collateral(slot_size, collateral_per_byte),
            remaining=remaining,
        )
    return evolve(
        availability,
        free_size=availability.free_size - slot_size,
        total_remaining_collateral=remaining - slot_size * collateral_per_byte,
    )


def create_reservation(
    state: StateHead,
    *,
    availability_id: str,
    reservation_id: str,
    slot_size: int,
    request_id: str,
    slot_index: int,
    collateral_per_byte: int,
    valid_until: int,
) -> StateHead | Rejection:
    """Carve a reservation for one slot out of an availability, under the availability lock.

    Guards: OutOfRange; IdInUse; NotExists (availability); BytesOutOfBounds; CollateralUnderflow;
    UntilOutOfBounds when the availability's ``until`` is before ``valid_until``.
    Effect: ``free_size -= slot_size``; ``TRC -= slot_size * collateral_per_byte``; new
    reservation with ``size = slot_size``; repo untouched. Does not check ``enabled``.
    Mirrors: ``Reservations.createReservation`` at bd360322, spec §2.4.
    """
    bad = out_of_range(
        slot_size=(slot_size, SIZE),
        slot_index=(slot_index, SIZE),
        collateral_per_byte=(collateral_per_byte, MONEY),
        valid_until=(valid_until, TIME),
    )
    if bad is not None:
        return bad
    taken = id_in_use("reservation", reservation_id, state.reservations)
    if taken is not None:
        return taken
    availability = get_availability(state, availability_id)
    if isinstance(availability, NotExists):
        return availability
    reduced = take_slot(availability, slot_size, collateral_per_byte)
    if isinstance(reduced, Rejection):
        return reduced
    latest = largest(state.availability_ledgers[availability_id].latest_valid_until, valid_until)
    late = check_until(reduced, latest)
    if late is not None:
        return late
    reservation = _new_reservation(
        id=reservation_id,
        availability_id=availability_id,
        size=slot_size,
        request_id=request_id,
        slot_index=slot_index,
        valid_until=valid_until,
    )
    ledger = _new_ledger(slot_size=slot_size, collateral=slot_collateral(slot_size, collateral_per_byte))
    return with_reservation_added(state, reduced, reservation, ledger, valid_until)


def bytes_to_return(reservation: ReservationHead, bytes: int) -> int | ReturnBytesUnderflow:
    """``bytes - size``: what ``returnBytesToAvailability`` gives back; refused where nim-codex wraps."""
    if bytes < reservation.size:
        return ReturnBytesUnderflow(reservation_id=reservation.id, bytes=bytes, reservation_size=reservation.size)
    return bytes - reservation.size


def return_written(
    availability: AvailabilityHead, repo: RepoQuota, to_return: int
) -> tuple[AvailabilityHead, RepoQuota] | ReserveFailed | Overflow:
    """Kernel of ``returnBytesToAvailability``: re-reserve ``to_return`` and add it to ``free_size``.

    Guards: ReserveFailed; Overflow of ``free_size``.
    """
    reserved = quota.reserve(repo, to_return)
    if isinstance(reserved, QuotaNotEnough):
        return ReserveFailed(parent=reserved)
    if availability.free_size > U64_MAX - to_return:
        return Overflow(field="free_size", value=availability.free_size, addend=to_return, high=U64_MAX)
    return evolve(availability, free_size=availability.free_size + to_return), reserved


def return_bytes_to_availability(
    state: StateHead,
    *,
    availability_id: str,
    reservation_id: str,
    bytes: int,
    to_return: Callable[[ReservationHead, int], int | ReturnBytesUnderflow] = bytes_to_return,
) -> StateHead | Rejection:
    """Give a finished slot's written bytes back: ``bytes - reservation.size`` (``bytes`` = slot size).

    Guards: OutOfRange; NotExists (reservation); ReturnBytesUnderflow; then, unless nothing is to
    be returned: NotExists (availability); ReserveFailed (the written bytes are then lost to the
    availability); Overflow; UntilOutOfBounds.
    Effect: ``free_size += bytes - size``; ``repo.reserved += bytes - size``; the reservation is
    not modified, so a second call returns the bytes again (not idempotent).
    ``to_return`` is the step-2 kernel; ``variants.faithful`` passes nim-codex's unguarded one.
    Mirrors: ``Reservations.returnBytesToAvailability`` at bd360322, spec §2.6.
    """
    bad = out_of_range(bytes=(bytes, SIZE))
    if bad is not None:
        return bad
    reservation = get_reservation(state, reservation_id, availability_id)
    if isinstance(reservation, NotExists):
        return reservation
    amount = to_return(reservation, bytes)
    if isinstance(amount, ReturnBytesUnderflow):
        return amount
    ledgers = state.reservation_ledgers.set(
        reservation_id, after_return(state.reservation_ledgers[reservation_id], amount)
    )
    if amount == 0:
        return evolve(state, reservation_ledgers=ledgers)
    availability = get_availability(state, availability_id)
    if isinstance(availability, NotExists):
        return availability
    returned = return_written(availability, state.repo, amount)
    if isinstance(returned, Rejection):
        return returned
    new, repo = returned
    late = check_until(new, state.availability_ledgers[availability_id].latest_valid_until)
    if late is not None:
        return late
    return evolve(
        state,
        repo=repo,
        availabilities=state.availabilities.set(availability_id, new),
        reservation_ledgers=ledgers,
    )


def give_back(
    availability: AvailabilityHead, reservation: ReservationHead, returned_collateral: int | None
) -> AvailabilityHead | Overflow:
    """Kernel of ``deleteReservation``: ``free_size += size`` (when positive), ``TRC += collateral``."""
    free_size = availability.free_size
    if reservation.size > 0:
        if free_size > U64_MAX - reservation.size:
            return Overflow(field="free_size", value=free_size, addend=reservation.size, high=U64_MAX)
        free_size = free_size + reservation.size
    remaining = availability.total_remaining_collateral
    if returned_collateral is not None:
        if remaining > U256_MAX - returned_collateral:
            return Overflow(
                field="total_remaining_collateral", value=remaining, addend=returned_collateral, high=U256_MAX
            )
        remaining = remaining + returned_collateral
    return evolve(availability, free_size=free_size, total_remaining_collateral=remaining)


def delete_reservation(
    state: StateHead, *, reservation_id: str, availability_id: str, returned_collateral: int | None = None
) -> StateHead | Rejection:
    """Delete a reservation, returning its unwritten bytes and any collateral to the availability.

    Guards: OutOfRange (collateral); none for a missing reservation (success, nothing changes);
    NotExists (availability); Overflow; UntilOutOfBounds (the reservation is then kept).
    Effect: ``free_size += size``; ``TRC += returned_collateral`` (even when ``size == 0``,
    since #1216); reservation removed; written bytes not returned before are lost.
    Mirrors: ``Reservations.deleteReservation`` at bd360322, spec §2.7.
    """
    if returned_collateral is not None:
        bad = out_of_range(returned_collateral=(returned_collateral, MONEY))
        if bad is not None:
            return bad
    reservation = get_reservation(state, reservation_id, availability_id)
    if isinstance(reservation, NotExists):
        return state
    availability = get_availability(state, availability_id)
    if isinstance(availability, NotExists):
        return availability
    restored = give_back(availability, reservation, returned_collateral)
    if isinstance(restored, Overflow):
        return restored
    late = check_until(restored, state.availability_ledgers[availability_id].latest_valid_until)
    if late is not None:
        return late
    return with_reservation_removed(state, availability_id, reservation_id, returned_collateral, availability=restored)


def max_collateral_per_byte(availability: AvailabilityHead) -> int:
    """``TRC div free_size`` (floor), or ``TRC`` when ``free_size == 0`` (since #1242)."""
    if availability.free_size > 0:
        return availability.total_remaining_collateral // availability.free_size
    return availability.total_remaining_collateral


def matches(
    availability: AvailabilityHead,
    size: int,
    duration: int,
    price_per_byte_per_second: int,
    collateral_per_byte: int,
    valid_until: int,
) -> bool:
    """The six-part match of ``findAvailability`` (spec §2.8)."""
    return (
        availability.enabled
        and size <= availability.free_size
        and duration <= availability.duration
        and collateral_per_byte <= max_collateral_per_byte(availability)
        and price_per_byte_per_second >= availability.min_price_per_byte_per_second
        and (availability.until == 0 or availability.until >= valid_until)
    )


def find_availability(
    state: StateHead,
    *,
    size: int,
    duration: int,
    price_per_byte_per_second: int,
    collateral_per_byte: int,
    valid_until: int,
) -> AvailabilityHead | OutOfRange | None:
    """The matching availability with the smallest id, or None.

    Guards: OutOfRange.
    Mirrors: ``Reservations.findAvailability`` at bd360322, spec §2.8; key order made
    deterministic by id (spec §1.3).
    """
    bad = out_of_range(
        size=(size, SIZE),
        duration=(duration, SIZE),
        price_per_byte_per_second=(price_per_byte_per_second, MONEY),
        collateral_per_byte=(collateral_per_byte, MONEY),
        valid_until=(valid_until, TIME),
    )
    if bad is not None:
        return bad
    return first_by_id(
        state.availabilities_by_id(),
        lambda a: matches(a, size, duration, price_per_byte_per_second, collateral_per_byte, valid_until),
    )


def _delete(state: StateHead, reservation_id: str, availability_id: str) -> StateHead | Rejection:
    return delete_reservation(state, reservation_id=reservation_id, availability_id=availability_id)


def delete_inactive_reservations(state: StateHead, *, active_slots: Set[tuple[str, int]]) -> StateHead:
    """Restart cleanup at bd360322: see ``model.common.delete_inactive_reservations``."""
    return _delete_inactive(state, active_slots, _delete)
