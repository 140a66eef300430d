"""Unit tests of profile codex-head (nim-codex bd360322): every operation, its guards and its effect.

Rejections are checked twice, through the module function and through ``model.actions.apply``
(the ``via`` fixture), and each must leave the state it was given untouched.
"""

from __future__ import annotations

import copy

import attrs
import pytest
from scenario import QUOTA, accepted, apply_ok, run

from model import codex_head, common
from model.actions import (
    Accepted,
    CreateAvailability535,
    CreateAvailabilityHead,
    CreateReservation535,
    CreateReservationHead,
    DeleteInactiveReservations,
    DeleteReservation535,
    DeleteReservationHead,
    ExpireBlock,
    FindAvailability535,
    FindAvailabilityHead,
    ReleaseBytes,
    ReturnBytesToAvailability,
    StoreBlock,
    UpdateAvailability,
    apply,
)
from model.entities import AvailabilityHead, AvailabilityLedger, ReservationHead, ReservationLedger
from model.errors import (
    BytesOutOfBounds,
    CollateralUnderflow,
    FreeSizeNotUpdatable,
    IdInUse,
    NotEnoughStorageQuota,
    NotExists,
    OutOfRange,
    Overflow,
    QuotaNotEnough,
    QuotaUnderflow,
    ReleaseFailed,
    ReserveFailed,
    ReturnBytesUnderflow,
    TotalSizeBelowUsed,
    TotalSizeUnderflow,
    TotalSizeZero,
    UnsupportedOperation,
    UntilOutOfBounds,
)
from model.numbers import I64_MAX, I64_MIN, U64_MAX, U256_MAX
from model.quota import RepoQuota
from model.state import reservations_of

# --- builders ---------------------------------------------------------------------------


def offered(state, availability_id="a", total_size=100, total_collateral=1000, enabled=True, until=0):
    """``state`` plus an availability: duration 60, min price 2 per byte per second, the given size and limits."""
    return accepted(
        codex_head.create_availability(
            state,
            availability_id=availability_id,
            total_size=total_size,
            duration=60,
            min_price_per_byte_per_second=2,
            total_collateral=total_collateral,
            enabled=enabled,
            until=until,
        )
    )


def reserve_slot(
    state,
    reservation_id="r",
    slot_size=40,
    collateral_per_byte=5,
    valid_until=500,
    request_id="q",
    slot_index=0,
    availability_id="a",
):
    """``state`` plus a reservation for slot ``(request_id, slot_index)``."""
    return accepted(
        codex_head.create_reservation(
            state,
            availability_id=availability_id,
            reservation_id=reservation_id,
            slot_size=slot_size,
            request_id=request_id,
            slot_index=slot_index,
            collateral_per_byte=collateral_per_byte,
            valid_until=valid_until,
        )
    )


def release(state, bytes, reservation_id="r", availability_id="a"):
    """``state`` after a downloaded batch of ``bytes`` for one reservation."""
    return accepted(
        common.release_bytes(state, reservation_id=reservation_id, availability_id=availability_id, bytes=bytes)
    )


def return_bytes(state, bytes, reservation_id="r", availability_id="a"):
    """``state`` after the cleanup's ``returnBytesToAvailability(bytes)``."""
    return accepted(
        codex_head.return_bytes_to_availability(
            state, availability_id=availability_id, reservation_id=reservation_id, bytes=bytes
        )
    )


def delete(state, reservation_id="r", availability_id="a", returned_collateral=None):
    """``state`` after ``deleteReservation``."""
    return accepted(
        codex_head.delete_reservation(
            state,
            reservation_id=reservation_id,
            availability_id=availability_id,
            returned_collateral=returned_collateral,
        )
    )


def patch(state, availability_id="a", **fields):
    """``state`` after a PATCH of availability ``availability_id``."""
    return accepted(codex_head.update_availability(state, availability_id=availability_id, **fields))


def with_availability(state, availability_id="a", **changes):
    """``state`` with fields of one availability overwritten directly (a state no operation reaches)."""
    a = state.availabilities[availability_id]
    return attrs.evolve(state, availabilities=state.availabilities.set(availability_id, attrs.evolve(a, **changes)))


def _empty(state):
    return state


def _offered(state):
    return offered(state)


def _reserved(state):
    """Availability "a" (100 bytes, collateral 1000) holding "r": 40 bytes at 5 per byte, valid until 500."""
    return reserve_slot(offered(state))


def _written(state):
    """``_reserved`` after 30 of the 40 bytes were downloaded."""
    return release(_reserved(state), 30)


def _stored(state):
    """300 bytes of the repo used by stored blocks."""
    return accepted(common.store_block(state, bytes=300))


def _large(state):
    """Availability "a" of 600 bytes, so 400 bytes remain available in the repo."""
    return offered(state, total_size=600)


def _mostly_reserved(state):
    """Availability "a" of 900 bytes holding an 800-byte reservation: 800 used, 100 available."""
    return reserve_slot(offered(state, total_size=900), slot_size=800, collateral_per_byte=1)


def _free_above_total(state):
    """Availability "a" with free size 150 above its total size 100."""
    return with_availability(offered(state), free_size=150)


def _until_400(state):
    """Availability "a" that accepts requests ending no later than 400."""
    return offered(state, until=400)


def _until_lowered(state):
    """``_written`` with the availability's until forced below the reservation's valid_until."""
    return with_availability(_written(state), until=100)


def _repo_drained(state):
    """``_reserved`` while the repo counts only 10 reserved bytes."""
    held = _reserved(state)
    return attrs.evolve(held, repo=attrs.evolve(held.repo, reserved=10))


def _free_at_max(state):
    """``_reserved`` with the availability's free and total size at the largest uint64."""
    return with_availability(_reserved(state), free_size=U64_MAX, total_size=U64_MAX)


def _written_free_at_max(state):
    """``_written`` with the availability's free and total size at the largest uint64."""
    return with_availability(_written(state), free_size=U64_MAX, total_size=U64_MAX)


def _collateral_at_max(state):
    """``_reserved`` with the availability's collateral fields at the largest UInt256."""
    return with_availability(_reserved(state), total_collateral=U256_MAX, total_remaining_collateral=U256_MAX)


def _no_headroom(state):
    """Availability of 960 bytes, 40 of them reserved and downloaded, then other blocks fill the repo."""
    state = reserve_slot(offered(state, total_size=960))
    state = accepted(common.store_block(state, bytes=40))
    state = release(state, 40)
    return accepted(common.store_block(state, bytes=40))


def _orphaned(state):
    """``_written`` with the availability record removed (availabilities are never deleted otherwise)."""
    held = _written(state)
    return attrs.evolve(held, availabilities=held.availabilities.delete("a"))


@pytest.fixture
def offered_state(head_state):
    """A codex-head node offering availability "a" of 100 bytes and 1000 collateral."""
    return _offered(head_state)


@pytest.fixture
def reserved_state(head_state):
    """Availability "a" holding reservation "r" of 40 bytes (collateral 200, valid until 500)."""
    return _reserved(head_state)


# --- rejections, through both entry points ------------------------------------------------

NEW_AVAILABILITY = {
    "availability_id": "b",
    "total_size": 10,
    "duration": 60,
    "min_price_per_byte_per_second": 2,
    "total_collateral": 100,
}
NEW_RESERVATION = {
    "availability_id": "a",
    "reservation_id": "s",
    "slot_size": 10,
    "request_id": "q",
    "slot_index": 1,
    "collateral_per_byte": 1,
    "valid_until": 300,
}


def _create_availability(**changes):
    return CreateAvailabilityHead(**(NEW_AVAILABILITY | changes))


def _create_reservation(**changes):
    return CreateReservationHead(**(NEW_RESERVATION | changes))


def _range(field, value, high=U64_MAX, low=0):
    return OutOfRange(field=field, value=value, low=low, high=high)


CREATE_AVAILABILITY_REJECTIONS = [
    pytest.param(_empty, _create_availability(total_size=-1), _range("total_size", -1), id="total_size_negative"),
    pytest.param(_empty, _create_availability(total_size=2**64), _range("total_size", 2**64), id="total_size_2**64"),
    pytest.param(_empty, _create_availability(duration=2**64), _range("duration", 2**64), id="duration_2**64"),
    pytest.param(_empty, _create_availability(total_size=True), _range("total_size", True), id="total_size_bool"),
    pytest.param(
        _empty,
        _create_availability(min_price_per_byte_per_second=2**256),
        _range("min_price_per_byte_per_second", 2**256, U256_MAX),
        id="price_2**256",
    ),
    pytest.param(
        _empty,
        _create_availability(total_collateral=2**256),
        _range("total_collateral", 2**256, U256_MAX),
        id="collateral_2**256",
    ),
    pytest.param(
        _empty,
        _create_availability(until=I64_MAX + 1),
        _range("until", I64_MAX + 1, I64_MAX, I64_MIN),
        id="until_above_int64",
    ),
    pytest.param(_offered, _create_availability(availability_id="a"), IdInUse(entity="availability", id="a"), id="id"),
    pytest.param(
        _empty,
        _create_availability(until=-1),
        UntilOutOfBounds(availability_id="b", until=-1, latest_valid_until=0),
        id="until_negative",
    ),
    pytest.param(
        _empty,
        _create_availability(until=-1, total_size=QUOTA + 1),
        UntilOutOfBounds(availability_id="b", until=-1, latest_valid_until=0),
        id="until_before_quota",
    ),
    pytest.param(
        _empty,
        _create_availability(total_size=QUOTA + 1),
        ReserveFailed(parent=QuotaNotEnough(requested=QUOTA + 1, used=0, reserved=0, max_bytes=QUOTA)),
        id="quota_plus_one",
    ),
    pytest.param(
        _stored,
        _create_availability(total_size=701),
        ReserveFailed(parent=QuotaNotEnough(requested=701, used=300, reserved=0, max_bytes=QUOTA)),
        id="quota_used_by_blocks",
    ),
]


def _update(**fields):
    return UpdateAvailability(**({"availability_id": "a"} | fields))


UPDATE_AVAILABILITY_REJECTIONS = [
    pytest.param(
        _offered,
        _update(availability_id="zz", total_size=2**64),
        _range("total_size", 2**64),
        id="range_before_not_exists",
    ),
    pytest.param(
        _offered,
        _update(availability_id="zz", free_size=2**64),
        _range("free_size", 2**64),
        id="free_size_range_before_not_exists",
    ),
    pytest.param(_offered, _update(duration=2**64), _range("duration", 2**64), id="duration_2**64"),
    pytest.param(
        _offered,
        _update(min_price_per_byte_per_second=2**256),
        _range("min_price_per_byte_per_second", 2**256, U256_MAX),
        id="price_2**256",
    ),
    pytest.param(
        _offered, _update(total_collateral=-1), _range("total_collateral", -1, U256_MAX), id="collateral_negative"
    ),
    pytest.param(
        _offered, _update(until=I64_MIN - 1), _range("until", I64_MIN - 1, I64_MAX, I64_MIN), id="until_below_int64"
    ),
    pytest.param(
        _offered,
        _update(availability_id="zz", free_size=10),
        NotExists(entity="availability", id="zz"),
        id="not_exists_before_free_size",
    ),
    pytest.param(
        _offered,
        _update(free_size=10, total_size=0),
        FreeSizeNotUpdatable(availability_id="a"),
        id="free_size_before_total_size_zero",
    ),
    pytest.param(
        _free_above_total, _update(total_size=0), TotalSizeZero(availability_id="a"), id="zero_before_underflow"
    ),
    pytest.param(
        _free_above_total,
        _update(total_size=120),
        TotalSizeUnderflow(availability_id="a", total_size=100, free_size=150),
        id="free_above_total",
    ),
    pytest.param(
        _reserved,
        _update(total_size=39),
        TotalSizeBelowUsed(availability_id="a", requested=39, used=40),
        id="one_below_used",
    ),
    pytest.param(
        _mostly_reserved,
        _update(total_size=500),
        TotalSizeBelowUsed(availability_id="a", requested=500, used=800),
        id="below_used_before_quota",
    ),
    pytest.param(
        _offered,
        _update(total_size=900),
        NotEnoughStorageQuota(requested=900, available=900),
        id="growth_equal_to_available",
    ),
    pytest.param(
        _large,
        _update(total_size=500),
        NotEnoughStorageQuota(requested=500, available=400),
        id="shrink_refused_by_full_size_check",
    ),
    pytest.param(
        _large,
        _update(total_size=400),
        NotEnoughStorageQuota(requested=400, available=400),
        id="shrink_to_available",
    ),
    pytest.param(
        _offered,
        _update(total_size=0, until=-1),
        TotalSizeZero(availability_id="a"),
        id="rest_guards_before_until",
    ),
    pytest.param(
        _offered,
        _update(until=-1),
        UntilOutOfBounds(availability_id="a", until=-1, latest_valid_until=0),
        id="until_negative",
    ),
    pytest.param(
        _reserved,
        _update(until=499),
        UntilOutOfBounds(availability_id="a", until=499, latest_valid_until=500),
        id="until_below_valid_until",
    ),
    pytest.param(
        _repo_drained,
        _update(total_size=50, until=-1),
        UntilOutOfBounds(availability_id="a", until=-1, latest_valid_until=500),
        id="until_before_repo",
    ),
    pytest.param(
        _repo_drained,
        _update(total_size=50),
        ReleaseFailed(parent=QuotaUnderflow(counter="reserved", requested=50, current=10)),
        id="shrink_release_refused",
    ),
]

CREATE_RESERVATION_REJECTIONS = [
    pytest.param(_offered, _create_reservation(slot_size=-1), _range("slot_size", -1), id="slot_size_negative"),
    pytest.param(_offered, _create_reservation(slot_size=2**64), _range("slot_size", 2**64), id="slot_size_2**64"),
    pytest.param(_offered, _create_reservation(slot_index=2**64), _range("slot_index", 2**64), id="slot_index_2**64"),
    pytest.param(
        _offered,
        _create_reservation(collateral_per_byte=2**256),
        _range("collateral_per_byte", 2**256, U256_MAX),
        id="cpb_2**256",
    ),
    pytest.param(
        _offered,
        _create_reservation(valid_until=I64_MAX + 1),
        _range("valid_until", I64_MAX + 1, I64_MAX, I64_MIN),
        id="valid_until_above_int64",
    ),
    pytest.param(
        _reserved,
        _create_reservation(reservation_id="r", availability_id="zz"),
        IdInUse(entity="reservation", id="r"),
        id="id_in_use_before_not_exists",
    ),
    pytest.param(
        _offered,
        _create_reservation(availability_id="zz"),
        NotExists(entity="availability", id="zz"),
        id="availability_missing",
    ),
    pytest.param(
        _offered,
        _create_reservation(slot_size=101),
        BytesOutOfBounds(entity="availability", id="a", requested=101, available=100),
        id="slot_one_over_free",
    ),
    pytest.param(
        _reserved,
        _create_reservation(slot_size=61, collateral_per_byte=1000),
        BytesOutOfBounds(entity="availability", id="a", requested=61, available=60),
        id="bytes_before_collateral",
    ),
    pytest.param(
        _offered,
        _create_reservation(slot_size=100, collateral_per_byte=11),
        CollateralUnderflow(availability_id="a", required=1100, remaining=1000),
        id="collateral_over_total",
    ),
    pytest.param(
        _reserved,
        _create_reservation(slot_size=60, collateral_per_byte=14),
        CollateralUnderflow(availability_id="a", required=840, remaining=800),
        id="collateral_over_remaining",
    ),
    pytest.param(
        _until_400,
        _create_reservation(valid_until=401),
        UntilOutOfBounds(availability_id="a", until=400, latest_valid_until=401),
        id="valid_until_after_until",
    ),
    pytest.param(
        _until_400,
        _create_reservation(slot_size=100, collateral_per_byte=11, valid_until=401),
        CollateralUnderflow(availability_id="a", required=1100, remaining=1000),
        id="collateral_before_until",
    ),
]

RELEASE_BYTES_REJECTIONS = [
    pytest.param(
        _reserved,
        ReleaseBytes(reservation_id="r", availability_id="a", bytes=2**64),
        _range("bytes", 2**64),
        id="2**64",
    ),
    pytest.param(
        _reserved,
        ReleaseBytes(reservation_id="zz", availability_id="a", bytes=1),
        NotExists(entity="reservation", id="zz"),
        id="missing",
    ),
    pytest.param(
        _reserved,
        ReleaseBytes(reservation_id="r", availability_id="zz", bytes=1),
        NotExists(entity="reservation", id="r"),
        id="wrong_availability",
    ),
    pytest.param(
        _reserved,
        ReleaseBytes(reservation_id="r", availability_id="a", bytes=41),
        BytesOutOfBounds(entity="reservation", id="r", requested=41, available=40),
        id="one_over_size",
    ),
    pytest.param(
        _repo_drained,
        ReleaseBytes(reservation_id="r", availability_id="a", bytes=11),
        ReleaseFailed(parent=QuotaUnderflow(counter="reserved", requested=11, current=10)),
        id="repo_reserved_too_small",
    ),
]


def _return(bytes, reservation_id="r", availability_id="a"):
    return ReturnBytesToAvailability(availability_id=availability_id, reservation_id=reservation_id, bytes=bytes)


RETURN_BYTES_REJECTIONS = [
    pytest.param(_written, _return(-1), _range("bytes", -1), id="negative"),
    pytest.param(_written, _return(2**64), _range("bytes", 2**64), id="2**64"),
    pytest.param(_written, _return(40, reservation_id="zz"), NotExists(entity="reservation", id="zz"), id="missing"),
    pytest.param(
        _written, _return(40, availability_id="zz"), NotExists(entity="reservation", id="r"), id="wrong_availability"
    ),
    pytest.param(
        _orphaned, _return(40), NotExists(entity="availability", id="a"), id="availability_missing_with_bytes"
    ),
    pytest.param(
        _reserved,
        _return(39),
        ReturnBytesUnderflow(reservation_id="r", bytes=39, reservation_size=40),
        id="bytes_below_size",
    ),
    pytest.param(
        _no_headroom,
        _return(40),
        ReserveFailed(parent=QuotaNotEnough(requested=40, used=80, reserved=920, max_bytes=QUOTA)),
        id="repo_full_of_blocks",
    ),
    pytest.param(
        _written_free_at_max,
        _return(40),
        Overflow(field="free_size", value=U64_MAX, addend=30, high=U64_MAX),
        id="free_size_overflow",
    ),
    pytest.param(
        _until_lowered,
        _return(40),
        UntilOutOfBounds(availability_id="a", until=100, latest_valid_until=500),
        id="until_below_valid_until",
    ),
]


def _delete(reservation_id="r", availability_id="a", returned_collateral=None):
    return DeleteReservationHead(
        reservation_id=reservation_id, availability_id=availability_id, returned_collateral=returned_collateral
    )


DELETE_RESERVATION_REJECTIONS = [
    pytest.param(
        _reserved,
        _delete(returned_collateral=2**256),
        _range("returned_collateral", 2**256, U256_MAX),
        id="collateral_2**256",
    ),
    pytest.param(
        _reserved,
        _delete(reservation_id="zz", returned_collateral=-1),
        _range("returned_collateral", -1, U256_MAX),
        id="range_before_missing_reservation",
    ),
    pytest.param(_orphaned, _delete(), NotExists(entity="availability", id="a"), id="availability_missing"),
    pytest.param(
        _free_at_max,
        _delete(returned_collateral=1),
        Overflow(field="free_size", value=U64_MAX, addend=40, high=U64_MAX),
        id="free_size_overflow",
    ),
    pytest.param(
        _collateral_at_max,
        _delete(returned_collateral=1),
        Overflow(field="total_remaining_collateral", value=U256_MAX, addend=1, high=U256_MAX),
        id="collateral_overflow",
    ),
    pytest.param(
        _until_lowered,
        _delete(),
        UntilOutOfBounds(availability_id="a", until=100, latest_valid_until=500),
        id="until_below_valid_until",
    ),
]

QUERY_AND_BLOCK_REJECTIONS = [
    pytest.param(
        _offered,
        FindAvailabilityHead(
            size=1, duration=1, price_per_byte_per_second=2, collateral_per_byte=0, valid_until=I64_MIN - 1
        ),
        _range("valid_until", I64_MIN - 1, I64_MAX, I64_MIN),
        id="find-valid_until_below_int64",
    ),
    pytest.param(
        _offered,
        FindAvailabilityHead(size=1, duration=2**64, price_per_byte_per_second=2, collateral_per_byte=0, valid_until=0),
        _range("duration", 2**64),
        id="find-duration_2**64",
    ),
    pytest.param(
        _offered,
        StoreBlock(bytes=901),
        QuotaNotEnough(requested=901, used=0, reserved=100, max_bytes=QUOTA),
        id="store_block-quota_plus_one",
    ),
    pytest.param(
        _stored,
        ExpireBlock(bytes=301),
        QuotaUnderflow(counter="used", requested=301, current=300),
        id="expire_block-more_than_used",
    ),
    pytest.param(_empty, ExpireBlock(bytes=-1), _range("bytes", -1), id="expire_block-negative"),
]


def _check_refused(head_state, via, build, action, expected):
    state = build(head_state)
    before = copy.deepcopy(state)
    assert run(state, action, via) == expected
    assert state == before


@pytest.mark.parametrize(("build", "action", "expected"), CREATE_AVAILABILITY_REJECTIONS)
def test_invalid_create_availability(head_state, via, build, action, expected):
    """A refused create_availability returns its typed rejection and leaves the input state as it was."""
    _check_refused(head_state, via, build, action, expected)


@pytest.mark.parametrize(("build", "action", "expected"), UPDATE_AVAILABILITY_REJECTIONS)
def test_invalid_update_availability(head_state, via, build, action, expected):
    """A refused PATCH returns the first failing guard's rejection and leaves the input state as it was."""
    _check_refused(head_state, via, build, action, expected)


@pytest.mark.parametrize(("build", "action", "expected"), CREATE_RESERVATION_REJECTIONS)
def test_invalid_create_reservation(head_state, via, build, action, expected):
    """A refused create_reservation returns its typed rejection and leaves the input state as it was."""
    _check_refused(head_state, via, build, action, expected)


@pytest.mark.parametrize(("build", "action", "expected"), RELEASE_BYTES_REJECTIONS)
def test_invalid_release_bytes(head_state, via, build, action, expected):
    """A refused release_bytes returns its typed rejection and leaves the input state as it was."""
    _check_refused(head_state, via, build, action, expected)


@pytest.mark.parametrize(("build", "action", "expected"), RETURN_BYTES_REJECTIONS)
def test_invalid_return_bytes_to_availability(head_state, via, build, action, expected):
    """A refused return_bytes_to_availability returns its typed rejection and leaves the input state as it was."""
    _check_refused(head_state, via, build, action, expected)


@pytest.mark.parametrize(("build", "action", "expected"), DELETE_RESERVATION_REJECTIONS)
def test_invalid_delete_reservation(head_state, via, build, action, expected):
    """A refused delete_reservation returns its typed rejection, keeps the reservation and the rest of the state."""
    _check_refused(head_state, via, build, action, expected)


@pytest.mark.parametrize(("build", "action", "expected"), QUERY_AND_BLOCK_REJECTIONS)
def test_invalid_query_or_block_operation(head_state, via, build, action, expected):
    """A refused find or block operation returns its typed rejection and leaves the input state as it was."""
    _check_refused(head_state, via, build, action, expected)


@pytest.mark.parametrize(
    "action",
    [
        CreateAvailability535(availability_id="b", size=10, duration=60, min_price=10, max_collateral=50),
        CreateReservation535(availability_id="a", reservation_id="s", slot_size=1, request_id="q", slot_index=1),
        DeleteReservation535(reservation_id="r", availability_id="a"),
        FindAvailability535(size=1, duration=1, min_price=10, collateral=0),
    ],
    ids=lambda action: type(action).__name__,
)
def test_invalid_codex535_only_action(reserved_state, action):
    """An action of the codex-535 vocabulary is refused as unsupported by a codex-head state."""
    before = copy.deepcopy(reserved_state)
    assert apply(reserved_state, action) == UnsupportedOperation(profile="codex-head", operation=type(action).__name__)
    assert reserved_state == before


# --- create_availability --------------------------------------------------------------------


def test_create_availability_offers_whole_size_and_collateral(head_state):
    """A new availability has free size = total size, remaining collateral = total, and reserves its size."""
    state = offered(head_state, enabled=False, until=700)
    assert state.availabilities["a"] == AvailabilityHead(
        id="a",
        total_size=100,
        free_size=100,
        duration=60,
        min_price_per_byte_per_second=2,
        total_collateral=1000,
        total_remaining_collateral=1000,
        enabled=False,
        until=700,
    )
    assert state.repo == RepoQuota(max_bytes=QUOTA, used=0, reserved=100)
    assert state.availability_ledgers["a"] == AvailabilityLedger(created_size=100)


def test_create_availability_accepts_exactly_full_quota(head_state, via):
    """An availability filling the quota exactly (U + R + size == M) is accepted by the module (no strict check)."""
    action = CreateAvailabilityHead(
        availability_id="a", total_size=QUOTA, duration=60, min_price_per_byte_per_second=2, total_collateral=1
    )
    assert run(head_state, action, via).repo.reserved == QUOTA


def test_create_availability_accepts_zero_size_and_zero_fields(head_state):
    """The module validates nothing of size, duration, price or collateral (spec §2.1): zeros are accepted."""
    state = accepted(
        codex_head.create_availability(
            head_state,
            availability_id="a",
            total_size=0,
            duration=0,
            min_price_per_byte_per_second=0,
            total_collateral=0,
        )
    )
    assert state.availabilities["a"].free_size == 0
    assert state.repo.reserved == 0


def test_create_availability_counts_stored_blocks(head_state):
    """Bytes used by stored blocks are not available: 700 of a repo with 300 used is accepted."""
    state = offered(_stored(head_state), total_size=700)
    assert state.repo == RepoQuota(max_bytes=QUOTA, used=300, reserved=700)


# --- update_availability --------------------------------------------------------------------


def test_update_availability_growth_reserves_delta(offered_state, via):
    """Growing total size moves free size with it and reserves the delta in the repo."""
    state = run(offered_state, UpdateAvailability(availability_id="a", total_size=150), via)
    assert (state.availabilities["a"].total_size, state.availabilities["a"].free_size) == (150, 150)
    assert state.repo.reserved == 150


def test_update_availability_growth_just_below_available(offered_state):
    """The strict quota check accepts a new total one byte below the available bytes."""
    state = patch(offered_state, total_size=899)
    assert state.repo.reserved == 899


def test_update_availability_shrink_releases_delta(reserved_state, via):
    """Shrinking total size lowers free size by the delta and releases it from the repo."""
    state = run(reserved_state, UpdateAvailability(availability_id="a", total_size=60), via)
    assert (state.availabilities["a"].total_size, state.availabilities["a"].free_size) == (60, 20)
    assert state.repo.reserved == 60
    assert state.reservations == reserved_state.reservations


def test_update_availability_shrink_to_used(reserved_state):
    """A new total equal to the bytes in use (total - free) is accepted and leaves free size 0."""
    state = patch(reserved_state, total_size=40)
    assert state.availabilities["a"].free_size == 0
    assert state.repo.reserved == 40


def test_update_availability_shrink_below_available(head_state):
    """With 400 bytes available a 600-byte availability may shrink to 399 but, per §5, not to 400 or 500."""
    state = patch(_large(head_state), total_size=399)
    assert state.availabilities["a"].free_size == 399
    assert state.repo.reserved == 399


@pytest.mark.parametrize("until", [500, 501, 0])
def test_update_availability_until_covering_reservations(reserved_state, until):
    """An until equal to or after the latest valid_until, or 0 (no limit), is accepted."""
    assert patch(reserved_state, until=until).availabilities["a"].until == until


def test_update_availability_overwrites_given_fields_only(reserved_state):
    """Given fields overwrite the record; omitted ones, free size and remaining collateral stay."""
    state = patch(reserved_state, duration=90, min_price_per_byte_per_second=7, enabled=False, until=600)
    assert state.availabilities["a"] == attrs.evolve(
        reserved_state.availabilities["a"], duration=90, min_price_per_byte_per_second=7, enabled=False, until=600
    )
    assert state.repo == reserved_state.repo


def test_update_availability_without_fields_changes_nothing(reserved_state, via):
    """A PATCH with no field gives back an equal state."""
    assert run(reserved_state, UpdateAvailability(availability_id="a"), via) == reserved_state


def test_update_availability_total_collateral_resets_remaining(reserved_state, via):
    """PATCH totalCollateral also sets the remaining collateral to it, forgetting the live reservation's share."""
    state = run(reserved_state, UpdateAvailability(availability_id="a", total_collateral=500), via)
    a = state.availabilities["a"]
    assert (a.total_collateral, a.total_remaining_collateral) == (500, 500)
    assert state.availability_ledgers["a"].collateral_reset_live is True


def test_update_availability_total_collateral_without_reservations(offered_state):
    """Resetting collateral with no live reservation resets the remaining collateral but raises no #1147 flag."""
    state = patch(offered_state, total_collateral=500)
    assert state.availabilities["a"].total_remaining_collateral == 500
    assert state.availability_ledgers["a"].collateral_reset_live is False


def test_update_availability_other_fields_keep_collateral_flag_down(reserved_state):
    """A PATCH without totalCollateral leaves the remaining collateral and the #1147 flag alone."""
    state = patch(reserved_state, total_size=120, duration=61)
    assert state.availabilities["a"].total_remaining_collateral == 800
    assert state.availability_ledgers["a"].collateral_reset_live is False


# --- create_reservation ---------------------------------------------------------------------


def test_create_reservation_moves_free_size_and_collateral(offered_state, via):
    """A reservation takes slot size from free size and slot size * cpb from the remaining collateral."""
    action = CreateReservationHead(
        availability_id="a",
        reservation_id="r",
        slot_size=40,
        request_id="q",
        slot_index=0,
        collateral_per_byte=5,
        valid_until=500,
    )
    state = run(offered_state, action, via)
    a = state.availabilities["a"]
    assert (a.total_size, a.free_size, a.total_remaining_collateral, a.total_collateral) == (100, 60, 800, 1000)
    assert state.reservations["r"] == ReservationHead(
        id="r", availability_id="a", size=40, request_id="q", slot_index=0, valid_until=500
    )
    assert state.reservation_ledgers["r"] == ReservationLedger(slot_size=40, collateral=200)
    assert state.repo == offered_state.repo
    assert state.availability_ledgers["a"].latest_valid_until == 500


def test_create_reservation_accepts_exact_free_size_and_collateral(offered_state):
    """A slot taking every free byte and every unit of remaining collateral is accepted."""
    a = reserve_slot(offered_state, slot_size=100, collateral_per_byte=10).availabilities["a"]
    assert (a.free_size, a.total_remaining_collateral) == (0, 0)


def test_create_reservation_ignores_enabled(head_state):
    """A disabled availability still hosts a new reservation: only free size (and collateral, until) are checked."""
    state = reserve_slot(offered(head_state, enabled=False))
    assert state.reservations["r"].size == 40


@pytest.mark.parametrize(("until", "valid_until"), [(400, 400), (0, I64_MAX)])
def test_create_reservation_within_until(head_state, until, valid_until):
    """A request ending exactly at until, or any request when until is 0, is accepted."""
    state = reserve_slot(offered(head_state, until=until), valid_until=valid_until)
    assert state.availability_ledgers["a"].latest_valid_until == valid_until


def test_create_reservation_tracks_latest_valid_until(reserved_state):
    """The availability's latest valid_until is the largest of its live reservations, and falls back on delete."""
    state = reserve_slot(reserved_state, "s", 10, 1, 700, "q", 1)
    state = reserve_slot(state, "t", 10, 1, 600, "q", 2)
    assert state.availability_ledgers["a"].latest_valid_until == 700
    state = delete(state, "s")
    assert state.availability_ledgers["a"].latest_valid_until == 600
    assert patch(state, until=600).availabilities["a"].until == 600


# --- release_bytes --------------------------------------------------------------------------


def test_release_bytes_moves_batch_only_out_of_reservation(reserved_state, via):
    """A released batch lowers the reservation's size and repo reserved, never the availability or its collateral."""
    state = run(reserved_state, ReleaseBytes(reservation_id="r", availability_id="a", bytes=30), via)
    assert state.reservations["r"].size == 10
    assert state.repo.reserved == 70
    assert state.availabilities == reserved_state.availabilities


@pytest.mark.parametrize(("bytes", "size"), [(0, 40), (40, 0)])
def test_release_bytes_boundaries(reserved_state, bytes, size):
    """Zero bytes and exactly the reservation's size are both accepted."""
    assert release(reserved_state, bytes).reservations["r"].size == size


# --- return_bytes_to_availability -----------------------------------------------------------


def test_return_bytes_to_availability_returns_written_bytes(head_state, via):
    """Returning the slot size gives back bytes - size (the written bytes) to free size and repo reserved."""
    state = _written(head_state)
    returned = run(state, _return(40), via)
    assert returned.availabilities["a"].free_size == 60 + 30
    assert returned.repo.reserved == state.repo.reserved + 30
    assert returned.reservations == state.reservations
    assert returned.reservation_ledgers["r"] == ReservationLedger(slot_size=40, collateral=200, returned=30, returns=1)


def test_return_bytes_to_availability_zero_return(reserved_state, via):
    """When nothing was written the return is a success that changes no availability or repo, only counts the call."""
    returned = run(reserved_state, _return(40), via)
    assert returned.availabilities == reserved_state.availabilities
    assert returned.repo == reserved_state.repo
    assert returned.reservation_ledgers["r"].returns == 1
    assert returned.reservation_ledgers["r"].returned == 0


def test_return_bytes_to_availability_zero_return_skips_until(head_state):
    """A zero return does not run updateAvailability, so an until below valid_until does not refuse it."""
    state = with_availability(_reserved(head_state), until=100)
    assert return_bytes(state, 40).availabilities == state.availabilities


def test_return_bytes_to_availability_zero_return_skips_availability(reserved_state):
    """A zero return succeeds before the availability is read (spec §2.6 step 3), even if that record is gone."""
    state = attrs.evolve(reserved_state, availabilities=reserved_state.availabilities.delete("a"))
    returned = return_bytes(state, 40)
    assert returned.availabilities == state.availabilities
    assert returned.reservation_ledgers["r"].returns == 1


def test_return_bytes_to_availability_is_not_idempotent(head_state):
    """A second return gives the written bytes back again (spec §2.6 step 7)."""
    twice = return_bytes(return_bytes(_written(head_state), 40), 40)
    assert twice.availabilities["a"].free_size == 60 + 30 + 30
    assert twice.repo.reserved == 70 + 60
    assert twice.reservation_ledgers["r"].returned == 60
    assert twice.reservation_ledgers["r"].returns == 2


def test_return_bytes_to_availability_refused_loses_written_bytes(head_state):
    """When blocks fill the repo the return fails, and a delete then loses the written bytes for good."""
    state = _no_headroom(head_state)
    assert isinstance(
        codex_head.return_bytes_to_availability(state, availability_id="a", reservation_id="r", bytes=40), ReserveFailed
    )
    deleted = delete(state)
    assert deleted.availabilities["a"].free_size == 920
    assert deleted.availability_ledgers["a"].lost == 40


# --- delete_reservation ---------------------------------------------------------------------


def test_delete_reservation_returns_remaining_size(reserved_state, via):
    """Deleting gives the reservation's size back to free size, removes it, and leaves repo and collateral."""
    state = run(reserved_state, _delete(), via)
    a = state.availabilities["a"]
    assert (a.free_size, a.total_remaining_collateral) == (100, 800)
    assert "r" not in state.reservations
    assert "r" not in state.reservation_ledgers
    assert state.repo == reserved_state.repo
    assert state.availability_ledgers["a"] == AvailabilityLedger(created_size=100, collateral_leaked=200)


def test_delete_reservation_adds_returned_collateral(reserved_state, via):
    """The collateral passed to delete is added to the remaining collateral, so none is recorded as leaked."""
    state = run(reserved_state, _delete(returned_collateral=200), via)
    assert state.availabilities["a"].total_remaining_collateral == 1000
    assert state.availability_ledgers["a"].collateral_leaked == 0


def test_delete_reservation_returns_collateral_of_empty_reservation(reserved_state):
    """Since #1216 collateral comes back even when the reservation's size is 0."""
    state = delete(release(reserved_state, 40), returned_collateral=200)
    a = state.availabilities["a"]
    assert (a.free_size, a.total_remaining_collateral) == (60, 1000)


def test_delete_reservation_zero_collateral_is_not_none(reserved_state):
    """A returned collateral of 0 and no returned collateral both leave the remaining collateral unchanged."""
    assert delete(reserved_state, returned_collateral=0) == delete(reserved_state)


@pytest.mark.parametrize(
    ("steps", "lost"),
    [
        pytest.param([("release", 30)], 30, id="written_not_returned"),
        pytest.param([("release", 30), ("return", 40)], 0, id="written_and_returned"),
        pytest.param([("release", 30), ("return", 40), ("release", 10)], 10, id="written_after_return"),
        pytest.param([], 0, id="nothing_written"),
    ],
)
def test_delete_reservation_records_lost_bytes(reserved_state, steps, lost):
    """A delete adds written minus returned bytes to the availability's lost ledger."""
    state = reserved_state
    for kind, bytes in steps:
        state = release(state, bytes) if kind == "release" else return_bytes(state, bytes)
    assert delete(state).availability_ledgers["a"].lost == lost


def test_delete_reservation_after_return_gives_back_slot_size(reserved_state):
    """The cleanup pair return(slot size) then delete gives the availability exactly its slot size back."""
    state = delete(return_bytes(release(reserved_state, 30), 40))
    assert state.availabilities["a"].free_size == 100
    assert state.repo.reserved == 100


def test_delete_reservation_missing_returns_same_state(reserved_state, via):
    """Deleting a reservation that does not exist succeeds and hands back the very same state object."""
    assert run(reserved_state, _delete(reservation_id="zz", returned_collateral=50), via) is reserved_state


@pytest.mark.parametrize("wrong_availability_id", ["b", "zz"])
def test_delete_reservation_under_wrong_availability_is_missing(reserved_state, via, wrong_availability_id):
    """A reservation addressed under another availability's key is treated as missing: same state back."""
    state = offered(reserved_state, "b")
    assert run(state, _delete(availability_id=wrong_availability_id, returned_collateral=50), via) is state


def test_delete_reservation_twice_is_idempotent(reserved_state):
    """A second delete of the same reservation succeeds and changes nothing, collateral included."""
    once = delete(reserved_state, returned_collateral=200)
    assert codex_head.delete_reservation(once, reservation_id="r", availability_id="a", returned_collateral=200) is once


# --- find_availability ----------------------------------------------------------------------

BASE_QUERY = {"size": 100, "duration": 60, "price_per_byte_per_second": 2, "collateral_per_byte": 10, "valid_until": 0}


def _find(state, **changes):
    return codex_head.find_availability(state, **(BASE_QUERY | changes))


def test_find_availability_matches_on_every_boundary(offered_state):
    """A query equal to the availability's limits on every compared field matches it."""
    assert _find(offered_state) == offered_state.availabilities["a"]


@pytest.mark.parametrize(
    ("build", "query", "matches"),
    [
        pytest.param(_offered, {}, True, id="all_boundaries"),
        pytest.param(lambda s: offered(s, enabled=False), {}, False, id="disabled"),
        pytest.param(_offered, {"size": 101}, False, id="size_above_free"),
        pytest.param(_offered, {"duration": 61}, False, id="duration_above"),
        pytest.param(_offered, {"duration": 0}, True, id="duration_below"),
        pytest.param(_offered, {"collateral_per_byte": 11}, False, id="cpb_above_max"),
        pytest.param(_offered, {"price_per_byte_per_second": 1}, False, id="price_below_min"),
        pytest.param(_offered, {"price_per_byte_per_second": 3}, True, id="price_above_min"),
        pytest.param(_until_400, {"valid_until": 401}, False, id="valid_until_after_until"),
        pytest.param(_until_400, {"valid_until": 400}, True, id="valid_until_at_until"),
        pytest.param(_offered, {"valid_until": I64_MAX}, True, id="until_zero_is_unlimited"),
    ],
)
def test_find_availability_checks_each_predicate_part(head_state, build, query, matches):
    """Each of the six parts of spec §2.8 decides the match on its own."""
    assert (_find(build(head_state), **query) is not None) is matches


@pytest.mark.parametrize(("collateral_per_byte", "matches"), [(3, True), (4, False)])
def test_find_availability_max_collateral_per_byte_is_floored(head_state, collateral_per_byte, matches):
    """The collateral limit is TRC div free size, floored: 1000 collateral over 300 bytes allows 3 per byte."""
    state = offered(head_state, total_size=300)
    found = _find(state, size=1, collateral_per_byte=collateral_per_byte)
    assert (found is not None) is matches


@pytest.mark.parametrize(("collateral_per_byte", "matches"), [(600, True), (601, False)])
def test_find_availability_no_free_bytes_uses_remaining_collateral(head_state, collateral_per_byte, matches):
    """With free size 0 the collateral limit is the remaining collateral itself (since #1242)."""
    state = reserve_slot(offered(head_state), slot_size=100, collateral_per_byte=4)
    assert state.availabilities["a"].total_remaining_collateral == 600
    found = _find(state, size=0, collateral_per_byte=collateral_per_byte)
    assert (found is not None) is matches


def test_find_availability_returns_smallest_matching_id(head_state):
    """Among several matches the smallest id wins, whatever the creation order."""
    state = offered(offered(offered(head_state, "c"), "a"), "b")
    assert _find(state).id == "a"


def test_find_availability_never_matches_disabled(head_state):
    """A disabled availability with the smallest id is passed over for an enabled one."""
    state = offered(offered(head_state, "b"), "a", enabled=False)
    assert _find(state).id == "b"
    assert _find(patch(state, "b", enabled=False)) is None


def test_find_availability_through_apply_reports_id_and_keeps_state(offered_state):
    """``apply`` of a find returns the found id and the very same state, or None when nothing matches."""
    hit = apply(offered_state, FindAvailabilityHead(**BASE_QUERY))
    miss = apply(offered_state, FindAvailabilityHead(**(BASE_QUERY | {"size": 101})))
    assert hit == Accepted(state=offered_state, found="a")
    assert hit.state is offered_state
    assert miss == Accepted(state=offered_state, found=None)


# --- delete_inactive_reservations -----------------------------------------------------------


def _three_slots(state):
    """Availability "a" with r1 (q, 0) of 40 bytes, r2 (q, 1) of 30 bytes with 10 written, r3 (p, 0) of 20 bytes."""
    state = reserve_slot(offered(state), "r1", 40, 5, 500, "q", 0)
    state = reserve_slot(state, "r2", 30, 5, 500, "q", 1)
    state = reserve_slot(state, "r3", 20, 5, 500, "p", 0)
    return release(state, 10, "r2")


def test_delete_inactive_reservations_keeps_active_and_returns_sizes(head_state, via):
    """Restart cleanup deletes inactive slots' reservations, giving back only their sizes and no collateral."""
    state = _three_slots(head_state)
    cleaned = run(state, DeleteInactiveReservations(active_slots=frozenset({("q", 0), ("p", 1)})), via)
    assert dict(cleaned.reservations) == {"r1": state.reservations["r1"]}
    a = cleaned.availabilities["a"]
    assert a.free_size == 10 + 20 + 20
    assert a.total_remaining_collateral == state.availabilities["a"].total_remaining_collateral
    assert cleaned.availability_ledgers["a"].lost == 10
    assert cleaned.repo == state.repo


def test_delete_inactive_reservations_all_active_changes_nothing(head_state, via):
    """When every reservation's slot is active, the state stays as it was."""
    state = _three_slots(head_state)
    action = DeleteInactiveReservations(active_slots=frozenset({("q", 0), ("q", 1), ("p", 0)}))
    assert run(state, action, via) == state


def test_delete_inactive_reservations_skips_refused_delete(head_state):
    """A delete refused by the until rule is skipped: the reservation survives the cleanup."""
    state = _until_lowered(head_state)
    assert codex_head.delete_inactive_reservations(state, active_slots=frozenset()) == state


# --- block operations -----------------------------------------------------------------------


def test_store_block_then_expire_block_moves_used(offered_state, via):
    """Storing a block up to the exact quota counts it as used; expiring it gives the bytes back."""
    stored = run(offered_state, StoreBlock(bytes=900), via)
    assert stored.repo == RepoQuota(max_bytes=QUOTA, used=900, reserved=100)
    assert run(stored, ExpireBlock(bytes=900), via) == offered_state


def test_store_block_leaves_availabilities(reserved_state):
    """Block accounting touches only the repo's used counter."""
    stored = accepted(common.store_block(reserved_state, bytes=40))
    assert attrs.evolve(stored, repo=reserved_state.repo) == reserved_state


def test_create_availability_through_apply_matches_function(head_state):
    """``apply`` of a create gives exactly the state the module function gives."""
    action = CreateAvailabilityHead(
        availability_id="a", total_size=100, duration=60, min_price_per_byte_per_second=2, total_collateral=1000
    )
    assert apply_ok(head_state, action) == offered(head_state)


def test_reservations_of_lists_one_availabilitys_reservations_by_id(head_state):
    """``reservations_of`` mirrors ``all(Reservation, availabilityId)``: that subtree only, in id order."""
    state = head_state
    for aid in ("a1", "a2"):
        state = apply_ok(
            state,
            CreateAvailabilityHead(
                availability_id=aid, total_size=100, duration=10, min_price_per_byte_per_second=1, total_collateral=100
            ),
        )
    for rid, aid in (("r2", "a1"), ("r1", "a1"), ("r3", "a2")):
        state = apply_ok(
            state,
            CreateReservationHead(
                availability_id=aid,
                reservation_id=rid,
                slot_size=10,
                request_id="q",
                slot_index=0,
                collateral_per_byte=0,
                valid_until=1,
            ),
        )
    assert [r.id for r in reservations_of(state, "a1")] == ["r1", "r2"]
    assert [r.id for r in reservations_of(state, "a2")] == ["r3"]
    assert reservations_of(state, "missing") == ()
