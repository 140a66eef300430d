"""The state of one node's Reservations module: repo quota, records, ledgers.

Rules:
1. A state is a frozen value; every collection is an ``immutables.Map`` (HAMT), so an
   operation costs O(log n) whatever the number of live records.
2. The profile is a value carried by the state, never a global.
3. Reservation ids are unique across availabilities; a reservation is addressed by
   ``(reservation_id, availability_id)`` as nim-codex's key ``/<availabilityId>/<reservationId>``:
   a pair that does not match is ``NotExists``.
4. Look-up helpers here return the record or a ``NotExists``; arithmetic lives in the
   profile modules.
5. A HAMT iterates in hash order, and string hashes change with every process; whatever
   iterates a map to build a sum, a list of violations or a formula uses ``in_key_order`` /
   ``items_in_key_order``, so reports and Z3 terms are the same in every run.

Mirrors: codex-sales-spec §1.3 (key layout), §1.4 (repo quota), §2.0 (get/exists).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Generic, TypeVar

import attrs
import immutables

from model.entities import (
    Availability535,
    AvailabilityHead,
    AvailabilityLedger,
    Reservation535,
    ReservationHead,
    ReservationLedger,
    leaked_on_delete,
    lost_on_delete,
)
from model.errors import NotExists
from model.numbers import largest
from model.quota import RepoQuota
from model.records import evolve


class Profile(enum.Enum):
    """A nim-codex version the model reproduces."""

    CODEX_535 = "codex-535"
    CODEX_HEAD = "codex-head"


#: Default ``quotaMaxBytes``: 8 GiB at 570a1f7b, 20 GiB at bd360322 (spec §1.4).
DEFAULT_QUOTA = {Profile.CODEX_535: 1 << 33, Profile.CODEX_HEAD: 20 * (1 << 30)}

A = TypeVar("A", Availability535, AvailabilityHead)
R = TypeVar("R", Reservation535, ReservationHead)
K = TypeVar("K")
V = TypeVar("V")


@attrs.frozen(kw_only=True)
class ReservationsState(Generic[A, R]):
    """Everything the Reservations module and its repo hold, plus the model's ledgers."""

    profile: Profile
    repo: RepoQuota
    availabilities: immutables.Map[str, A] = immutables.Map()
    reservations: immutables.Map[str, R] = immutables.Map()
    availability_ledgers: immutables.Map[str, AvailabilityLedger] = immutables.Map()
    reservation_ledgers: immutables.Map[str, ReservationLedger] = immutables.Map()

    def availabilities_by_id(self) -> list[A]:
        """The availabilities, sorted by id (rule 5)."""
        return in_key_order(self.availabilities)

    def reservations_by_id(self) -> list[R]:
        """The reservations, sorted by id (rule 5)."""
        return in_key_order(self.reservations)


State535 = ReservationsState[Availability535, Reservation535]
StateHead = ReservationsState[AvailabilityHead, ReservationHead]
AnyState = State535 | StateHead


def initial_state(profile: Profile, *, quota_max_bytes: int | None = None, used: int = 0) -> AnyState:
    """An empty node: no availability, no reservation, the profile's default quota."""
    max_bytes = DEFAULT_QUOTA[profile] if quota_max_bytes is None else quota_max_bytes
    repo = RepoQuota(max_bytes=max_bytes, used=used)
    if profile is Profile.CODEX_535:
        return State535(profile=profile, repo=repo)
    return StateHead(profile=profile, repo=repo)


def get_availability(state: ReservationsState[A, R], availability_id: str) -> A | NotExists:
    """The stored availability, or ``NotExists``."""
    found = state.availabilities.get(availability_id)
    if found is None:
        return NotExists(entity="availability", id=availability_id)
    return found


def get_reservation(state: ReservationsState[A, R], reservation_id: str, availability_id: str) -> R | NotExists:
    """The reservation stored under ``/<availability_id>/<reservation_id>``, or ``NotExists``."""
    found = state.reservations.get(reservation_id)
    if found is None or found.availability_id != availability_id:
        return NotExists(entity="reservation", id=reservation_id)
    return found


def in_key_order(mapping: Mapping[K, V]) -> list[V]:
    """The values of ``mapping``, sorted by key (deterministic across processes, unlike a HAMT)."""
    return [mapping[key] for key in sorted(mapping)]  # type: ignore[type-var]


def items_in_key_order(mapping: Mapping[K, V]) -> list[tuple[K, V]]:
    """The items of ``mapping``, sorted by key."""
    return [(key, mapping[key]) for key in sorted(mapping)]  # type: ignore[type-var]


def same_state(first: AnyState, second: AnyState) -> bool:
    """``first == second``, comparing every map in key order (rule 5): the same result, and
    the same sequence of comparisons, so the same Z3 term, in every process."""
    if first is second:
        return True
    if first.profile is not second.profile or first.repo != second.repo:
        return False
    for field in ("availabilities", "reservations", "availability_ledgers", "reservation_ledgers"):
        mine, theirs = getattr(first, field), getattr(second, field)
        if sorted(mine) != sorted(theirs):
            return False
        if not all(mine[key] == theirs[key] for key in sorted(mine)):
            return False
    return True


def reservations_of(state: ReservationsState[A, R], availability_id: str) -> tuple[R, ...]:
    """Live reservations of one availability, by id (nim-codex ``all(Reservation, availabilityId)``)."""
    ledger = state.availability_ledgers.get(availability_id)
    if ledger is None:
        return ()
    return tuple(state.reservations[rid] for rid in sorted(ledger.reservations))


def with_reservation_added(
    state: ReservationsState[A, R], availability: A, reservation: R, ledger: ReservationLedger, valid_until: int
) -> ReservationsState[A, R]:
    """Store ``availability`` and a new ``reservation``, indexing it under its availability."""
    parent = state.availability_ledgers[availability.id]
    counts = parent.valid_until_counts
    parent = evolve(
        parent,
        reservations=parent.reservations.set(reservation.id, valid_until),
        valid_until_counts=counts.set(valid_until, counts.get(valid_until, 0) + 1),
        latest_valid_until=largest(parent.latest_valid_until, valid_until),
    )
    return evolve(
        state,
        availabilities=state.availabilities.set(availability.id, availability),
        reservations=state.reservations.set(reservation.id, reservation),
        availability_ledgers=state.availability_ledgers.set(availability.id, parent),
        reservation_ledgers=state.reservation_ledgers.set(reservation.id, ledger),
    )


def with_reservation_removed(
    state: ReservationsState[A, R],
    availability_id: str,
    reservation_id: str,
    returned_collateral: int | None = None,
    availability: A | None = None,
) -> ReservationsState[A, R]:
    """Drop the reservation and store ``availability`` if given.

    The availability's ledger counts the reservation's unreturned written bytes as lost and
    the collateral it took less ``returned_collateral`` as leaked.
    """
    ledger = state.reservation_ledgers[reservation_id]
    lost = lost_on_delete(ledger, state.reservations[reservation_id].size)
    leaked = leaked_on_delete(ledger, returned_collateral)
    parent = state.availability_ledgers[availability_id]
    valid_until = parent.reservations[reservation_id]
    held = parent.valid_until_counts[valid_until]
    counts: immutables.Map[int, int] = (
        parent.valid_until_counts.set(valid_until, held - 1)
        if held > 1
        else parent.valid_until_counts.delete(valid_until)
    )
    latest = parent.latest_valid_until
    if held == 1 and valid_until == latest:
        latest = largest(0, *counts)
    parent = evolve(
        parent,
        reservations=parent.reservations.delete(reservation_id),
        valid_until_counts=counts,
        latest_valid_until=latest,
        lost=parent.lost + lost,
        collateral_leaked=parent.collateral_leaked + leaked,
    )
    availabilities = (
        state.availabilities if availability is None else state.availabilities.set(availability_id, availability)
    )
    return evolve(
        state,
        availabilities=availabilities,
        reservations=state.reservations.delete(reservation_id),
        availability_ledgers=state.availability_ledgers.set(availability_id, parent),
        reservation_ledgers=state.reservation_ledgers.delete(reservation_id),
    )
