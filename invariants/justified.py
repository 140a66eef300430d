"""``rejection_is_justified``: a refusal must be backed by the pre-state it was made in.

Rules:
1. Each rejection kind names the quantities it compared; the check recomputes them from
   the pre-state and the action, and confirms the comparison really fails.
2. ``UnsupportedOperation`` is checked against the profile's real operation table.

Mirrors: codex-sales-spec §2 (the guards of each procedure), §5 (REST 422s).
"""

from __future__ import annotations

from collections.abc import Iterator

from invariants.catalogue import Violation
from model import errors
from model.actions import OPERATIONS, Action, CreateReservationHead, Outcome
from model.entities import AvailabilityHead, free_bytes
from model.numbers import largest
from model.quota import available
from model.state import AnyState


def _bytes_out_of_bounds(pre: AnyState, action: Action, error: errors.BytesOutOfBounds) -> bool:
    if error.entity == "availability":
        record_a = pre.availabilities.get(error.id)
        return record_a is not None and free_bytes(record_a) == error.available and error.requested > error.available
    record_r = pre.reservations.get(error.id)
    return record_r is not None and record_r.size == error.available and error.requested > error.available


def _not_exists(pre: AnyState, action: Action, error: errors.NotExists) -> bool:
    if error.entity == "availability":
        return error.id not in pre.availabilities
    found = pre.reservations.get(error.id)
    return found is None or found.availability_id != getattr(action, "availability_id", None)


def _quota(pre: AnyState, error: errors.QuotaNotEnough) -> bool:
    repo = pre.repo
    seen = (error.used, error.reserved, error.max_bytes) == (repo.used, repo.reserved, repo.max_bytes)
    return seen and error.used + error.reserved + error.requested > error.max_bytes


def _until(pre: AnyState, action: Action, error: errors.UntilOutOfBounds) -> bool:
    if error.until < 0:
        return getattr(action, "until", None) == error.until
    ledger = pre.availability_ledgers.get(error.availability_id)
    latest = 0 if ledger is None else ledger.latest_valid_until
    if isinstance(action, CreateReservationHead):
        latest = largest(latest, action.valid_until)
    return error.latest_valid_until == latest and 0 < error.until < latest


def _collateral(pre: AnyState, action: Action, error: errors.CollateralUnderflow) -> bool:
    record = pre.availabilities.get(error.availability_id)
    if not isinstance(record, AvailabilityHead) or not isinstance(action, CreateReservationHead):
        return False
    required = action.slot_size * action.collateral_per_byte
    return error.required == required and record.total_remaining_collateral == error.remaining < required


def _below_used(pre: AnyState, error: errors.TotalSizeBelowUsed) -> bool:
    record = pre.availabilities.get(error.availability_id)
    return (
        isinstance(record, AvailabilityHead)
        and record.total_size - record.free_size == error.used
        and error.requested < error.used
    )


def _total_underflow(pre: AnyState, error: errors.TotalSizeUnderflow) -> bool:
    record = pre.availabilities.get(error.availability_id)
    return (
        isinstance(record, AvailabilityHead)
        and (record.total_size, record.free_size) == (error.total_size, error.free_size)
        and error.free_size > error.total_size
    )


def _justified(pre: AnyState, action: Action, error: errors.Rejection) -> bool:
    match error:
        case errors.BytesOutOfBounds():
            return _bytes_out_of_bounds(pre, action, error)
        case errors.NotExists():
            return _not_exists(pre, action, error)
        case errors.IdInUse():
            return error.id in (pre.availabilities if error.entity == "availability" else pre.reservations)
        case errors.ReserveFailed():
            return _quota(pre, error.parent)
        case errors.QuotaNotEnough():
            return _quota(pre, error)
        case errors.ReleaseFailed():
            return error.parent.requested > error.parent.current == pre.repo.reserved
        case errors.QuotaUnderflow():
            current = pre.repo.reserved if error.counter == "reserved" else pre.repo.used
            return error.requested > error.current == current
        case errors.UntilOutOfBounds():
            return _until(pre, action, error)
        case errors.CollateralUnderflow():
            return _collateral(pre, action, error)
        case errors.TotalSizeBelowUsed():
            return _below_used(pre, error)
        case errors.NotEnoughStorageQuota():
            return error.available == available(pre.repo) and error.requested >= error.available
        case errors.OutOfRange():
            return not error.low <= error.value <= error.high
        case errors.Overflow():
            return error.value + error.addend > error.high
        case errors.ReturnBytesUnderflow():
            record = pre.reservations.get(error.reservation_id)
            return record is not None and error.bytes < error.reservation_size == record.size
        case errors.TotalSizeUnderflow():
            return _total_underflow(pre, error)
        case errors.TotalSizeZero():
            return getattr(action, "total_size", None) == 0
        case errors.DurationZero():
            return getattr(action, "duration", None) == 0
        case errors.MinPricePerBytePerSecondZero():
            return getattr(action, "min_price_per_byte_per_second", None) == 0
        case errors.TotalCollateralZero():
            return getattr(action, "total_collateral", None) == 0
        case errors.FreeSizeNotUpdatable():
            return getattr(action, "free_size", None) is not None
        case errors.UnsupportedOperation():
            return type(action) not in OPERATIONS[pre.profile]
        case _:
            return True


def rejection_is_justified(pre: AnyState, action: Action, outcome: Outcome) -> Iterator[Violation]:
    if isinstance(outcome, errors.Rejection) and not _justified(pre, action, outcome):
        yield Violation(
            rule="rejection_is_justified",
            entity=action.name,
            message=f"{action.name} was refused with {outcome!r}, which the pre-state does not bear out",
        )
