"""Operations whose behaviour is the same at 570a1f7b and bd360322.

Rules:
1. ``release_bytes`` touches one reservation and the repo, never the availability.
2. Block operations touch only the repo's ``used`` counter.
3. ``delete_inactive_reservations`` deletes with the profile's own ``delete_reservation``,
   passing no collateral and returning no written bytes, and skips deletions that fail.

Mirrors: codex-sales-spec §2.5 (release), §1.4 (putBlock, delBlock), §2.10 (Sales.load).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Set
from typing import TypeVar

from model import quota
from model.checks import out_of_range
from model.entities import Availability535, AvailabilityHead, Reservation535, ReservationHead
from model.errors import (
    BytesOutOfBounds,
    NotExists,
    OutOfRange,
    QuotaNotEnough,
    QuotaUnderflow,
    Rejection,
    ReleaseFailed,
)
from model.numbers import SIZE
from model.quota import RepoQuota
from model.records import evolve
from model.state import A, R, ReservationsState, get_reservation

RR = TypeVar("RR", Reservation535, ReservationHead)
AA = TypeVar("AA", Availability535, AvailabilityHead)
S = TypeVar("S", bound=ReservationsState)  # type: ignore[type-arg]


def release_from(reservation: RR, repo: RepoQuota, n: int) -> tuple[RR, RepoQuota] | BytesOutOfBounds | ReleaseFailed:
    """Kernel of ``release``: move ``n`` written bytes out of one reservation and the repo.

    Guards: BytesOutOfBounds when ``size < n``; ReleaseFailed when ``reserved < n``.
    Effect: ``size -= n``; ``repo.reserved -= n``.
    """
    if reservation.size < n:
        return BytesOutOfBounds(entity="reservation", id=reservation.id, requested=n, available=reservation.size)
    released = quota.release(repo, n)
    if isinstance(released, QuotaUnderflow):
        return ReleaseFailed(parent=released)
    return evolve(reservation, size=reservation.size - n), released


def release_bytes(
    state: ReservationsState[A, R], *, reservation_id: str, availability_id: str, bytes: int
) -> ReservationsState[A, R] | Rejection:
    """Account for a downloaded batch of ``bytes``.

    Guards: OutOfRange (bytes); NotExists (reservation); BytesOutOfBounds; ReleaseFailed.
    Effect: ``reservation.size -= bytes``; ``repo.reserved -= bytes``; availability untouched.
    Mirrors: ``Reservations.release`` (570a1f7b, bd360322), spec §2.5.
    """
    bad = out_of_range(bytes=(bytes, SIZE))
    if bad is not None:
        return bad
    reservation = get_reservation(state, reservation_id, availability_id)
    if isinstance(reservation, NotExists):
        return reservation
    released = release_from(reservation, state.repo, bytes)
    if isinstance(released, Rejection):
        return released
    updated, repo = released
    return evolve(state, repo=repo, reservations=state.reservations.set(updated.id, updated))


def store_block(state: S, *, bytes: int) -> S | OutOfRange | QuotaNotEnough:
    """A block of ``bytes`` was written: ``repo.used += bytes``.

    Guards: OutOfRange (bytes); QuotaNotEnough when ``used + bytes + reserved > max_bytes``.
    Mirrors: ``RepoStore.putBlock`` (bd360322 ``updateQuotaUsage``), spec §1.4.
    """
    bad = out_of_range(bytes=(bytes, SIZE))
    if bad is not None:
        return bad
    repo = quota.store_block(state.repo, bytes)
    if isinstance(repo, QuotaNotEnough):
        return repo
    return evolve(state, repo=repo)


def expire_block(state: S, *, bytes: int) -> S | OutOfRange | QuotaUnderflow:
    """A block of ``bytes`` expired and was deleted: ``repo.used -= bytes``.

    Guards: OutOfRange (bytes); QuotaUnderflow when ``used < bytes``.
    Mirrors: ``RepoStore.delBlock`` (bd360322), spec §1.4.
    """
    bad = out_of_range(bytes=(bytes, SIZE))
    if bad is not None:
        return bad
    repo = quota.expire_block(state.repo, bytes)
    if isinstance(repo, QuotaUnderflow):
        return repo
    return evolve(state, repo=repo)


def first_by_id(availabilities: Iterable[AA], matches: Callable[[AA], bool]) -> AA | None:
    """The first matching availability of ``availabilities`` (given sorted by id): ``findAvailability``'s
    first hit in key order, since LevelDB's key order is the hex id's order (spec §1.3).

    Callers pass ``state.availabilities_by_id()``; the order also fixes the order in which a
    symbolic run meets the branches (model/state.py rule 5).
    """
    return next((availability for availability in availabilities if matches(availability)), None)


def delete_inactive_reservations(
    state: S, active_slots: Set[tuple[str, int]], delete: Callable[[S, str, str], S | Rejection]
) -> S:
    """Restart cleanup: delete every reservation whose ``(request_id, slot_index)`` is not active.

    Effect: each inactive reservation is deleted by ``delete`` (which returns its ``size``
    only); active ones are untouched; a failing deletion is skipped (nim-codex logs it).
    Mirrors: ``Sales.load`` → ``deleteInactiveReservations`` (570a1f7b, bd360322), spec §2.10.
    """
    for reservation_id in sorted(state.reservations):
        reservation = state.reservations[reservation_id]
        if (reservation.request_id, reservation.slot_index) in active_slots:
            continue
        outcome = delete(state, reservation_id, reservation.availability_id)
        if not isinstance(outcome, Rejection):
            state = outcome
    return state
