"""Unit tests of profile codex-535 (nim-codex 570a1f7b): every operation, its guards and its effect.

Rejections are checked twice, through the module function and through ``model.actions.apply``
(the ``via`` fixture), and each must leave the state it was given untouched.
"""

from __future__ import annotations

import copy

import attrs
import pytest
from scenario import QUOTA, accepted, apply_ok, run

from model import codex535, common
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
from model.entities import Availability535, AvailabilityLedger, Reservation535, ReservationLedger
from model.errors import (
    BytesOutOfBounds,
    IdInUse,
    NotExists,
    OutOfRange,
    Overflow,
    QuotaNotEnough,
    QuotaUnderflow,
    ReleaseFailed,
    ReserveFailed,
    UnsupportedOperation,
)
from model.numbers import U64_MAX, U256_MAX
from model.quota import RepoQuota
from model.state import Profile, initial_state

# --- builders ---------------------------------------------------------------------------


def offered(state, availability_id="a", size=100):
    """``state`` plus availability ``availability_id``: ``size`` bytes, duration 60, min price 10, max collateral 50."""
    return accepted(
        codex535.create_availability(
            state, availability_id=availability_id, size=size, duration=60, min_price=10, max_collateral=50
        )
    )


def reserve_slot(state, reservation_id="r", slot_size=40, request_id="q", slot_index=0, availability_id="a"):
    """``state`` plus a reservation of ``slot_size`` bytes for slot ``(request_id, slot_index)``."""
    return accepted(
        codex535.create_reservation(
            state,
            availability_id=availability_id,
            reservation_id=reservation_id,
            slot_size=slot_size,
            request_id=request_id,
            slot_index=slot_index,
        )
    )


def release(state, bytes, reservation_id="r", availability_id="a"):
    """``state`` after a downloaded batch of ``bytes`` for one reservation."""
    return accepted(
        common.release_bytes(state, reservation_id=reservation_id, availability_id=availability_id, bytes=bytes)
    )


def _empty(state):
    return state


def _offered(state):
    return offered(state)


def _reserved(state):
    return reserve_slot(offered(state))


def _size_at_max(state):
    """A reservation of 40 bytes whose availability already holds the largest uint64 size."""
    held = _reserved(state)
    a = held.availabilities["a"]
    return attrs.evolve(held, availabilities=held.availabilities.set("a", attrs.evolve(a, size=U64_MAX)))


def _repo_drained(state):
    """A reservation of 40 bytes while the repo counts only 5 reserved bytes."""
    held = _reserved(state)
    return attrs.evolve(held, repo=attrs.evolve(held.repo, reserved=5))


def _without_availability(state):
    """``state`` with the record of availability "a" removed (availabilities are never deleted otherwise)."""
    return attrs.evolve(state, availabilities=state.availabilities.delete("a"))


def _orphaned(state):
    """A reservation of 40 bytes whose availability record is gone."""
    return _without_availability(_reserved(state))


@pytest.fixture
def offered_state(old_state):
    """A codex-535 node offering availability "a" of 100 bytes."""
    return offered(old_state)


@pytest.fixture
def reserved_state(old_state):
    """Availability "a" of 100 bytes holding reservation "r" of 40 bytes for slot ("q", 0)."""
    return _reserved(old_state)


# --- rejections, through both entry points ------------------------------------------------

NEW_AVAILABILITY = {"availability_id": "b", "size": 10, "duration": 60, "min_price": 10, "max_collateral": 50}
NEW_RESERVATION = {"availability_id": "a", "reservation_id": "s", "slot_size": 10, "request_id": "q", "slot_index": 1}


def _create_availability(**changes):
    return CreateAvailability535(**(NEW_AVAILABILITY | changes))


def _create_reservation(**changes):
    return CreateReservation535(**(NEW_RESERVATION | changes))


REJECTIONS = [
    pytest.param(
        _empty,
        _create_availability(size=-1),
        OutOfRange(field="size", value=-1, low=0, high=U64_MAX),
        id="create_availability-size_negative",
    ),
    pytest.param(
        _empty,
        _create_availability(size=2**64),
        OutOfRange(field="size", value=2**64, low=0, high=U64_MAX),
        id="create_availability-size_2**64",
    ),
    pytest.param(
        _empty,
        _create_availability(duration=2**256),
        OutOfRange(field="duration", value=2**256, low=0, high=U256_MAX),
        id="create_availability-duration_2**256",
    ),
    pytest.param(
        _empty,
        _create_availability(min_price=2**256),
        OutOfRange(field="min_price", value=2**256, low=0, high=U256_MAX),
        id="create_availability-min_price_2**256",
    ),
    pytest.param(
        _empty,
        _create_availability(max_collateral=2**256),
        OutOfRange(field="max_collateral", value=2**256, low=0, high=U256_MAX),
        id="create_availability-max_collateral_2**256",
    ),
    pytest.param(
        _empty,
        _create_availability(max_collateral=-1),
        OutOfRange(field="max_collateral", value=-1, low=0, high=U256_MAX),
        id="create_availability-max_collateral_negative",
    ),
    pytest.param(
        _empty,
        _create_availability(size=-1, duration=2**256),
        OutOfRange(field="size", value=-1, low=0, high=U64_MAX),
        id="create_availability-first_range_error_wins",
    ),
    pytest.param(
        _offered,
        _create_availability(availability_id="a"),
        IdInUse(entity="availability", id="a"),
        id="create_availability-id_in_use",
    ),
    pytest.param(
        _offered,
        _create_availability(availability_id="a", size=-1),
        OutOfRange(field="size", value=-1, low=0, high=U64_MAX),
        id="create_availability-range_before_id_in_use",
    ),
    pytest.param(
        _empty,
        _create_availability(size=QUOTA + 1),
        ReserveFailed(parent=QuotaNotEnough(requested=QUOTA + 1, used=0, reserved=0, max_bytes=QUOTA)),
        id="create_availability-quota_plus_one",
    ),
    pytest.param(
        _offered,
        _create_availability(size=901),
        ReserveFailed(parent=QuotaNotEnough(requested=901, used=0, reserved=100, max_bytes=QUOTA)),
        id="create_availability-quota_taken_by_other_availability",
    ),
    pytest.param(
        _offered,
        _create_reservation(slot_size=-1),
        OutOfRange(field="slot_size", value=-1, low=0, high=U64_MAX),
        id="create_reservation-slot_size_negative",
    ),
    pytest.param(
        _offered,
        _create_reservation(slot_size=2**64),
        OutOfRange(field="slot_size", value=2**64, low=0, high=U64_MAX),
        id="create_reservation-slot_size_2**64",
    ),
    pytest.param(
        _offered,
        _create_reservation(slot_index=2**256),
        OutOfRange(field="slot_index", value=2**256, low=0, high=U256_MAX),
        id="create_reservation-slot_index_2**256",
    ),
    pytest.param(
        _offered,
        _create_reservation(slot_index=-1),
        OutOfRange(field="slot_index", value=-1, low=0, high=U256_MAX),
        id="create_reservation-slot_index_negative",
    ),
    pytest.param(
        _reserved,
        _create_reservation(reservation_id="r"),
        IdInUse(entity="reservation", id="r"),
        id="create_reservation-id_in_use",
    ),
    pytest.param(
        _reserved,
        _create_reservation(reservation_id="r", availability_id="zz"),
        IdInUse(entity="reservation", id="r"),
        id="create_reservation-id_in_use_before_missing_availability",
    ),
    pytest.param(
        _offered,
        _create_reservation(availability_id="zz"),
        NotExists(entity="availability", id="zz"),
        id="create_reservation-missing_availability",
    ),
    pytest.param(
        _offered,
        _create_reservation(slot_size=101),
        BytesOutOfBounds(entity="availability", id="a", requested=101, available=100),
        id="create_reservation-slot_one_over_size",
    ),
    pytest.param(
        _reserved,
        _create_reservation(slot_size=61),
        BytesOutOfBounds(entity="availability", id="a", requested=61, available=60),
        id="create_reservation-slot_one_over_remaining_size",
    ),
    pytest.param(
        _reserved,
        ReleaseBytes(reservation_id="r", availability_id="a", bytes=-1),
        OutOfRange(field="bytes", value=-1, low=0, high=U64_MAX),
        id="release_bytes-negative",
    ),
    pytest.param(
        _reserved,
        ReleaseBytes(reservation_id="r", availability_id="a", bytes=2**64),
        OutOfRange(field="bytes", value=2**64, low=0, high=U64_MAX),
        id="release_bytes-2**64",
    ),
    pytest.param(
        _reserved,
        ReleaseBytes(reservation_id="zz", availability_id="a", bytes=1),
        NotExists(entity="reservation", id="zz"),
        id="release_bytes-missing_reservation",
    ),
    pytest.param(
        _reserved,
        ReleaseBytes(reservation_id="r", availability_id="zz", bytes=1),
        NotExists(entity="reservation", id="r"),
        id="release_bytes-wrong_availability_id",
    ),
    pytest.param(
        _reserved,
        ReleaseBytes(reservation_id="r", availability_id="a", bytes=41),
        BytesOutOfBounds(entity="reservation", id="r", requested=41, available=40),
        id="release_bytes-one_over_reservation_size",
    ),
    pytest.param(
        _repo_drained,
        ReleaseBytes(reservation_id="r", availability_id="a", bytes=10),
        ReleaseFailed(parent=QuotaUnderflow(counter="reserved", requested=10, current=5)),
        id="release_bytes-repo_reserved_too_small",
    ),
    pytest.param(
        _size_at_max,
        DeleteReservation535(reservation_id="r", availability_id="a"),
        Overflow(field="size", value=U64_MAX, addend=40, high=U64_MAX),
        id="delete_reservation-size_overflow",
    ),
    pytest.param(
        _orphaned,
        DeleteReservation535(reservation_id="r", availability_id="a"),
        NotExists(entity="availability", id="a"),
        id="delete_reservation-availability_missing",
    ),
    pytest.param(
        _offered,
        StoreBlock(bytes=-1),
        OutOfRange(field="bytes", value=-1, low=0, high=U64_MAX),
        id="store_block-negative",
    ),
    pytest.param(
        _offered,
        StoreBlock(bytes=901),
        QuotaNotEnough(requested=901, used=0, reserved=100, max_bytes=QUOTA),
        id="store_block-quota_plus_one",
    ),
    pytest.param(
        _empty,
        ExpireBlock(bytes=2**64),
        OutOfRange(field="bytes", value=2**64, low=0, high=U64_MAX),
        id="expire_block-2**64",
    ),
    pytest.param(
        _empty,
        ExpireBlock(bytes=1),
        QuotaUnderflow(counter="used", requested=1, current=0),
        id="expire_block-more_than_used",
    ),
    pytest.param(
        _offered,
        FindAvailability535(size=2**64, duration=1, min_price=10, collateral=0),
        OutOfRange(field="size", value=2**64, low=0, high=U64_MAX),
        id="find_availability-size_2**64",
    ),
    pytest.param(
        _offered,
        FindAvailability535(size=1, duration=1, min_price=10, collateral=2**256),
        OutOfRange(field="collateral", value=2**256, low=0, high=U256_MAX),
        id="find_availability-collateral_2**256",
    ),
]


@pytest.mark.parametrize(("build", "action", "expected"), REJECTIONS)
def test_invalid_operation_is_refused_and_changes_nothing(old_state, via, build, action, expected):
    """A refused codex-535 operation returns its typed rejection and leaves the input state as it was."""
    state = build(old_state)
    before = copy.deepcopy(state)
    assert run(state, action, via) == expected
    assert state == before


@pytest.mark.parametrize(
    "action",
    [
        ReturnBytesToAvailability(availability_id="a", reservation_id="r", bytes=40),
        UpdateAvailability(availability_id="a", total_size=50),
        CreateAvailabilityHead(
            availability_id="b", total_size=10, duration=60, min_price_per_byte_per_second=1, total_collateral=1
        ),
        CreateReservationHead(
            availability_id="a",
            reservation_id="s",
            slot_size=1,
            request_id="q",
            slot_index=1,
            collateral_per_byte=0,
            valid_until=0,
        ),
        DeleteReservationHead(reservation_id="r", availability_id="a"),
        FindAvailabilityHead(size=1, duration=1, price_per_byte_per_second=10, collateral_per_byte=0, valid_until=0),
    ],
    ids=lambda action: type(action).__name__,
)
def test_invalid_head_only_action(reserved_state, action):
    """An action codex-535 has no procedure for is refused as unsupported, naming the profile and the action."""
    before = copy.deepcopy(reserved_state)
    assert apply(reserved_state, action) == UnsupportedOperation(profile="codex-535", operation=type(action).__name__)
    assert reserved_state == before


# --- create_availability --------------------------------------------------------------------


def test_create_availability_reserves_its_size(old_state):
    """A new availability offers its whole size and reserves it in the repo."""
    state = offered(old_state)
    assert state.availabilities["a"] == Availability535(id="a", size=100, duration=60, min_price=10, max_collateral=50)
    assert state.repo == RepoQuota(max_bytes=QUOTA, used=0, reserved=100)
    assert state.availability_ledgers["a"] == AvailabilityLedger(created_size=100)


def test_create_availability_accepts_exactly_full_quota(old_state):
    """An availability whose size fills the quota exactly (U + R + size == M) is accepted."""
    state = offered(offered(old_state, "a", 600), "b", 400)
    assert state.repo.reserved == QUOTA


def test_create_availability_counts_stored_blocks():
    """Bytes already used by stored blocks are not available to a new availability."""
    state = initial_state(Profile.CODEX_535, quota_max_bytes=QUOTA, used=300)
    assert offered(state, size=700).repo == RepoQuota(max_bytes=QUOTA, used=300, reserved=700)
    refused = codex535.create_availability(
        state, availability_id="a", size=701, duration=60, min_price=10, max_collateral=50
    )
    assert refused == ReserveFailed(parent=QuotaNotEnough(requested=701, used=300, reserved=0, max_bytes=QUOTA))


def test_create_availability_accepts_zero_size(old_state):
    """An availability of zero bytes is accepted (spec §2.1: no size validation in the module)."""
    state = offered(old_state, size=0)
    assert state.availabilities["a"].size == 0
    assert state.repo.reserved == 0


def test_create_availability_through_apply(old_state):
    """``apply`` with ``CreateAvailability535`` gives the same state as the module function."""
    action = CreateAvailability535(availability_id="a", size=100, duration=60, min_price=10, max_collateral=50)
    assert apply(old_state, action) == Accepted(state=offered(old_state))


# --- create_reservation ---------------------------------------------------------------------


def test_create_reservation_moves_slot_size_out_of_availability(offered_state):
    """A reservation takes its slot size out of the availability's size and leaves the repo alone."""
    state = reserve_slot(offered_state)
    assert state.availabilities["a"].size == 60
    assert state.reservations["r"] == Reservation535(id="r", availability_id="a", size=40, request_id="q", slot_index=0)
    assert state.repo == offered_state.repo
    assert state.reservation_ledgers["r"] == ReservationLedger(slot_size=40)
    assert dict(state.availability_ledgers["a"].reservations) == {"r": 0}


def test_create_reservation_accepts_slot_equal_to_size(offered_state):
    """A slot exactly as large as the availability's size is accepted and leaves size 0."""
    state = reserve_slot(offered_state, slot_size=100)
    assert state.availabilities["a"].size == 0
    assert state.reservations["r"].size == 100


def test_create_reservation_accepts_zero_slot(offered_state):
    """A slot of zero bytes is accepted and leaves the availability's size unchanged."""
    state = reserve_slot(offered_state, slot_size=0)
    assert state.availabilities["a"].size == 100
    assert state.reservations["r"].size == 0


def test_invalid_reservation_id_taken_under_another_availability(reserved_state):
    """Reservation ids are unique across availabilities, so reusing one under "b" is refused."""
    state = offered(reserved_state, "b")
    assert codex535.create_reservation(
        state, availability_id="b", reservation_id="r", slot_size=1, request_id="q", slot_index=1
    ) == IdInUse(entity="reservation", id="r")


def test_create_reservation_through_apply(offered_state):
    """``apply`` with ``CreateReservation535`` gives the same state as the module function."""
    action = CreateReservation535(availability_id="a", reservation_id="r", slot_size=40, request_id="q", slot_index=0)
    assert apply_ok(offered_state, action) == reserve_slot(offered_state)


# --- release_bytes --------------------------------------------------------------------------


def test_release_bytes_moves_batch_out_of_reservation_and_repo(reserved_state, via):
    """A released batch lowers the reservation's size and the repo's reserved bytes, not the availability."""
    state = run(reserved_state, ReleaseBytes(reservation_id="r", availability_id="a", bytes=10), via)
    assert state.reservations["r"].size == 30
    assert state.repo == RepoQuota(max_bytes=QUOTA, used=0, reserved=90)
    assert state.availabilities == reserved_state.availabilities


def test_release_bytes_accepts_zero(reserved_state, via):
    """A batch of zero bytes is accepted and changes nothing."""
    assert run(reserved_state, ReleaseBytes(reservation_id="r", availability_id="a", bytes=0), via) == reserved_state


def test_release_bytes_accepts_whole_reservation(reserved_state, via):
    """Releasing exactly the reservation's size leaves it at size 0."""
    state = run(reserved_state, ReleaseBytes(reservation_id="r", availability_id="a", bytes=40), via)
    assert state.reservations["r"].size == 0
    assert state.repo.reserved == 60


# --- delete_reservation ---------------------------------------------------------------------


def test_delete_reservation_returns_unwritten_bytes(reserved_state, via):
    """Deleting an untouched reservation gives its whole size back and removes it with its ledger."""
    state = run(reserved_state, DeleteReservation535(reservation_id="r", availability_id="a"), via)
    assert state.availabilities["a"].size == 100
    assert "r" not in state.reservations
    assert "r" not in state.reservation_ledgers
    assert state.availability_ledgers["a"] == AvailabilityLedger(created_size=100)
    assert state.repo == reserved_state.repo


def test_delete_reservation_consumes_written_bytes(reserved_state, via):
    """Written bytes are consumed for good: the size after delete is the original size minus the bytes written."""
    state = release(reserved_state, 15)
    state = run(state, DeleteReservation535(reservation_id="r", availability_id="a"), via)
    assert state.availabilities["a"].size == 100 - 15
    assert state.availability_ledgers["a"].lost == 15
    assert state.repo.reserved == 85


def test_delete_reservation_after_full_download_returns_nothing(reserved_state, via):
    """A fully written reservation (size 0) gives no bytes back."""
    state = release(reserved_state, 40)
    state = run(state, DeleteReservation535(reservation_id="r", availability_id="a"), via)
    assert state.availabilities["a"].size == 60
    assert state.availability_ledgers["a"].lost == 40


def test_delete_reservation_missing_returns_same_state(reserved_state, via):
    """Deleting a reservation that does not exist succeeds and hands back the very same state object."""
    assert run(reserved_state, DeleteReservation535(reservation_id="zz", availability_id="a"), via) is reserved_state


def test_delete_reservation_twice_is_idempotent(reserved_state, via):
    """A second delete of the same reservation succeeds and changes nothing."""
    once = run(reserved_state, DeleteReservation535(reservation_id="r", availability_id="a"), via)
    assert run(once, DeleteReservation535(reservation_id="r", availability_id="a"), via) is once


@pytest.mark.parametrize("wrong_availability_id", ["b", "zz"])
def test_delete_reservation_under_wrong_availability_is_missing(reserved_state, via, wrong_availability_id):
    """A reservation addressed under another availability's key is treated as missing: same state back."""
    state = offered(reserved_state, "b")
    assert run(state, DeleteReservation535(reservation_id="r", availability_id=wrong_availability_id), via) is state


def test_delete_reservation_of_emptied_reservation_skips_availability(reserved_state):
    """An emptied reservation is deleted without reading its availability (spec §2.7 OLD), even if that is gone."""
    state = _without_availability(release(reserved_state, 40))
    deleted = accepted(codex535.delete_reservation(state, reservation_id="r", availability_id="a"))
    assert "r" not in deleted.reservations
    assert deleted.availabilities == state.availabilities
    assert deleted.availability_ledgers["a"].lost == 40


# --- find_availability ----------------------------------------------------------------------


def _find(state, size=100, duration=60, min_price=10, collateral=50):
    return codex535.find_availability(state, size=size, duration=duration, min_price=min_price, collateral=collateral)


def test_find_availability_matches_on_every_boundary(offered_state):
    """A query equal to the availability on every compared field matches it."""
    assert _find(offered_state) == offered_state.availabilities["a"]


@pytest.mark.parametrize(
    ("query", "matches"),
    [
        pytest.param({"size": 101}, False, id="size_above"),
        pytest.param({"size": 1}, True, id="size_below"),
        pytest.param({"duration": 61}, False, id="duration_above"),
        pytest.param({"duration": 1}, True, id="duration_below"),
        pytest.param({"collateral": 51}, False, id="collateral_above"),
        pytest.param({"collateral": 0}, True, id="collateral_below"),
        pytest.param({"min_price": 9}, False, id="price_below"),
        pytest.param({"min_price": 11}, True, id="price_above"),
    ],
)
def test_find_availability_checks_each_predicate_part(offered_state, query, matches):
    """Each of size, duration, collateral and price decides the match on its own."""
    assert (_find(offered_state, **query) is not None) is matches


def test_find_availability_returns_smallest_matching_id(old_state):
    """Among several matches the smallest id wins, whatever the creation order."""
    state = offered(offered(offered(old_state, "c"), "a"), "b")
    assert _find(state).id == "a"


def test_find_availability_skips_smaller_id_that_does_not_match(old_state):
    """A smaller id that fails the predicate does not hide a larger one that matches."""
    state = offered(offered(offered(old_state, "c"), "a", size=10), "b")
    assert _find(state).id == "b"


def test_find_availability_none_when_nothing_matches(offered_state, old_state):
    """With no matching availability, or none at all, the answer is None."""
    assert _find(offered_state, size=101) is None
    assert _find(old_state) is None


def test_find_availability_through_apply_reports_id_and_keeps_state(offered_state):
    """``apply`` of a find returns the found id and the very same state, or None when nothing matches."""
    hit = apply(offered_state, FindAvailability535(size=100, duration=60, min_price=10, collateral=50))
    miss = apply(offered_state, FindAvailability535(size=101, duration=60, min_price=10, collateral=50))
    assert hit == Accepted(state=offered_state, found="a")
    assert hit.state is offered_state
    assert miss == Accepted(state=offered_state, found=None)


# --- delete_inactive_reservations -----------------------------------------------------------


def _three_slots(state):
    """Availability "a" with r1 (q, 0) of 40 bytes, r2 (q, 1) of 30 bytes with 10 written, r3 (p, 0) of 20 bytes."""
    state = reserve_slot(offered(state), "r1", 40, "q", 0)
    state = reserve_slot(state, "r2", 30, "q", 1)
    state = reserve_slot(state, "r3", 20, "p", 0)
    return release(state, 10, "r2")


def test_delete_inactive_reservations_keeps_active_and_returns_sizes(old_state, via):
    """Restart cleanup keeps reservations of active slots and deletes the rest, giving back only their sizes."""
    state = _three_slots(old_state)
    action = DeleteInactiveReservations(active_slots=frozenset({("q", 0), ("p", 1)}))
    cleaned = run(state, action, via)
    assert dict(cleaned.reservations) == {"r1": state.reservations["r1"]}
    assert cleaned.availabilities["a"].size == 10 + 20 + 20
    assert cleaned.availability_ledgers["a"].lost == 10
    assert cleaned.repo == state.repo


def test_delete_inactive_reservations_all_active_changes_nothing(old_state, via):
    """When every reservation's slot is active, the state stays as it was."""
    state = _three_slots(old_state)
    action = DeleteInactiveReservations(active_slots=frozenset({("q", 0), ("q", 1), ("p", 0)}))
    assert run(state, action, via) == state


def test_delete_inactive_reservations_skips_failing_delete(old_state):
    """A deletion that is refused (here an overflow) is skipped and the reservation stays."""
    state = _size_at_max(old_state)
    assert codex535.delete_inactive_reservations(state, active_slots=frozenset()) == state


# --- block operations -----------------------------------------------------------------------


def test_store_block_then_expire_block_moves_used(offered_state, via):
    """Storing a block counts its bytes as used; expiring it forgets them again."""
    stored = run(offered_state, StoreBlock(bytes=900), via)
    assert stored.repo == RepoQuota(max_bytes=QUOTA, used=900, reserved=100)
    assert run(stored, ExpireBlock(bytes=900), via) == offered_state
