"""The records nim-codex persists, per profile, and the model-only ledgers beside them.

Rules:
1. Field names are the snake_case of nim-codex's own, so an oracle maps them one to one.
2. Records are frozen; validators check shape (int in range), never business rules.
3. Ledgers hold what nim-codex does not store but the invariants need (a reservation's
   slot size, bytes returned, bytes lost); they never influence an operation's outcome
   except for indexing (``reservations`` and ``latest_valid_until`` of an availability).
4. Arithmetic in this module (and in ``model/state.py``) is the model's own bookkeeping,
   exact by definition; nim-codex's arithmetic lives in the profile modules and ``quota.py``,
   where the proofs check it for wrap-around (docs/proofs.md).

Mirrors: codex-sales-spec §1.1 (OLD records), §1.2 (HEAD records), §6 (w(r), lost(A)).
"""

from __future__ import annotations

import attrs
import immutables

from model.numbers import money_field, size_field, time_field
from model.records import evolve


@attrs.frozen(kw_only=True)
class Availability535:
    """nim-codex 570a1f7b ``Availability``: ``size`` is the remaining sellable bytes."""

    id: str
    size: int = attrs.field(validator=size_field)
    duration: int = attrs.field(validator=money_field)
    min_price: int = attrs.field(validator=money_field)
    max_collateral: int = attrs.field(validator=money_field)


@attrs.frozen(kw_only=True)
class Reservation535:
    """nim-codex 570a1f7b ``Reservation``: ``size`` is reserved bytes not yet written."""

    id: str
    availability_id: str
    size: int = attrs.field(validator=size_field)
    request_id: str
    slot_index: int = attrs.field(validator=money_field)


@attrs.frozen(kw_only=True)
class AvailabilityHead:
    """nim-codex bd360322 ``Availability``."""

    id: str
    total_size: int = attrs.field(validator=size_field)
    free_size: int = attrs.field(validator=size_field)
    duration: int = attrs.field(validator=size_field)
    min_price_per_byte_per_second: int = attrs.field(validator=money_field)
    total_collateral: int = attrs.field(validator=money_field)
    total_remaining_collateral: int = attrs.field(validator=money_field)
    enabled: bool
    until: int = attrs.field(validator=time_field)


@attrs.frozen(kw_only=True)
class ReservationHead:
    """nim-codex bd360322 ``Reservation``."""

    id: str
    availability_id: str
    size: int = attrs.field(validator=size_field)
    request_id: str
    slot_index: int = attrs.field(validator=size_field)
    valid_until: int = attrs.field(validator=time_field)


Availability = Availability535 | AvailabilityHead
Reservation = Reservation535 | ReservationHead


def free_bytes(availability: Availability) -> int:
    """The bytes an availability can still sell: ``size`` at 570a1f7b, ``free_size`` at bd360322."""
    return availability.size if isinstance(availability, Availability535) else availability.free_size


@attrs.frozen(kw_only=True)
class ReservationLedger:
    """Model-only facts about one live reservation.

    ``slot_size`` is its size at creation, so ``written = slot_size - size`` (w(r) of §6);
    ``collateral`` is what creation took from ``total_remaining_collateral`` (HEAD);
    ``returned`` is what ``return_bytes_to_availability`` gave back so far, ``returns``
    how many times it was called.
    """

    slot_size: int
    collateral: int = 0
    returned: int = 0
    returns: int = 0


def slot_collateral(slot_size: int, collateral_per_byte: int) -> int:
    """The collateral a slot locks, ``slot_size * collateral_per_byte``, computed exactly.

    Used for the ledger and for reports; the profile's own subtraction from
    ``total_remaining_collateral`` is guarded so that it never needs more than 256 bits.
    """
    return slot_size * collateral_per_byte


def after_return(ledger: ReservationLedger, amount: int) -> ReservationLedger:
    """The ledger of a reservation after ``return_bytes_to_availability`` gave back ``amount``."""
    return evolve(ledger, returned=ledger.returned + amount, returns=ledger.returns + 1)


def lost_on_delete(ledger: ReservationLedger, size: int) -> int:
    """Written bytes that a delete leaves unreturned for good: ``slot_size - size - returned``."""
    return ledger.slot_size - size - ledger.returned


def leaked_on_delete(ledger: ReservationLedger, returned_collateral: int | None) -> int:
    """Collateral a delete does not give back: what the reservation took less what is returned."""
    return ledger.collateral - (0 if returned_collateral is None else returned_collateral)


@attrs.frozen(kw_only=True)
class AvailabilityLedger:
    """Model-only facts about one availability.

    ``created_size`` is its size at creation (the OLD capacity); ``lost`` counts written
    bytes that left it for good (OLD: every cleanup; HEAD: deletes without a return);
    ``reservations`` indexes its live reservations by id with their ``valid_until``;
    ``valid_until_counts`` is the multiset of those values and ``latest_valid_until`` its
    largest (0 when empty), kept so the until check of ``updateAvailability`` costs O(1)
    (the multiset is rescanned only when the last holder of the largest value goes);
    ``collateral_reset_live`` records that a
    PATCH of ``totalCollateral`` reset the remaining collateral while reservations held
    some (nim-codex#1147), and is recomputed by every such PATCH; ``collateral_leaked`` sums,
    since the last ``totalCollateral`` PATCH, over deleted reservations, the
    collateral they took less the collateral their delete gave back (spec §3.3: Errored,
    Cancelled-unfilled and restart paths give back none).
    """

    created_size: int
    lost: int = 0
    reservations: immutables.Map[str, int] = immutables.Map()
    valid_until_counts: immutables.Map[int, int] = immutables.Map()
    latest_valid_until: int = 0
    collateral_reset_live: bool = False
    collateral_leaked: int = 0
