"""The REST front as model operations: ``model.rest`` (POST check order, new kinds, justified arms)."""

from __future__ import annotations

from typing import Any

import pytest

from invariants.justified import rejection_is_justified
from model import errors
from model.actions import (
    Accepted,
    CreateAvailabilityHead,
    CreateReservationHead,
    UpdateAvailability,
    apply,
)
from model.codex_head import create_availability
from model.rest import REST_OPERATION_NAMES, REST_OPERATIONS, REST_TABLE, post_availability
from model.state import AnyState, Profile, initial_state

GOOD: dict[str, Any] = {
    "availability_id": "a1",
    "total_size": 100,
    "duration": 10,
    "min_price_per_byte_per_second": 2,
    "total_collateral": 300,
}


def _post(state: AnyState, **changes: Any) -> Any:
    return post_availability(state, **{**GOOD, **changes})  # type: ignore[arg-type]


def test_post_availability_creates_the_availability(head_state: AnyState) -> None:
    """A valid body creates the availability and reserves its size, as createAvailability does."""
    outcome = _post(head_state)
    assert isinstance(outcome, Accepted)
    created: Any = outcome.state.availabilities["a1"]
    assert (created.total_size, created.free_size, created.total_remaining_collateral) == (100, 100, 300)
    assert outcome.state.repo.reserved == 100


@pytest.mark.parametrize(
    ("changes", "kind"),
    [
        pytest.param({"total_size": -1, "duration": 0}, "OutOfRange", id="range_before_zero"),
        pytest.param({"total_size": 0, "duration": 0, "total_collateral": 0}, "TotalSizeZero", id="size_first"),
        pytest.param({"duration": 0, "min_price_per_byte_per_second": 0}, "DurationZero", id="duration_second"),
        pytest.param(
            {"min_price_per_byte_per_second": 0, "total_collateral": 0}, "MinPricePerBytePerSecondZero", id="price"
        ),
        pytest.param({"total_collateral": 0, "total_size": 10**6}, "TotalCollateralZero", id="collateral_before_quota"),
        pytest.param({"total_size": 10**6, "until": -1}, "NotEnoughStorageQuota", id="quota_before_until"),
        pytest.param({"until": -1}, "UntilOutOfBounds", id="until_last"),
    ],
)
def test_post_availability_first_failing_check_wins(head_state: AnyState, changes: dict[str, Any], kind: str) -> None:
    """With several checks failing, the first in spec §5 order names the rejection."""
    outcome = _post(head_state, **changes)
    assert not isinstance(outcome, Accepted)
    assert outcome.kind == kind


def test_invalid_post_duration_zero(head_state: AnyState) -> None:
    """POST refuses duration 0 (createAvailability alone accepts it)."""
    assert _post(head_state, duration=0) == errors.DurationZero(availability_id="a1")
    assert not isinstance(create_availability(head_state, **{**GOOD, "duration": 0}), errors.Rejection)  # type: ignore[arg-type]


def test_invalid_post_min_price_zero(head_state: AnyState) -> None:
    """POST refuses a minimum price of 0."""
    assert _post(head_state, min_price_per_byte_per_second=0) == errors.MinPricePerBytePerSecondZero(
        availability_id="a1"
    )


def test_invalid_post_total_collateral_zero(head_state: AnyState) -> None:
    """POST refuses a total collateral of 0."""
    assert _post(head_state, total_collateral=0) == errors.TotalCollateralZero(availability_id="a1")


def test_invalid_post_size_equal_to_available() -> None:
    """``hasAvailable`` is strict: a size equal to the free quota is refused by POST, not by createAvailability."""
    state = initial_state(Profile.CODEX_HEAD, quota_max_bytes=100)
    assert _post(state) == errors.NotEnoughStorageQuota(requested=100, available=100)
    assert not isinstance(create_availability(state, **GOOD), errors.Rejection)  # type: ignore[arg-type]
    assert isinstance(_post(state, total_size=99), Accepted)


def test_rest_table_exposes_only_post_and_patch(head_state: AnyState) -> None:
    """Through the REST table, creates and PATCHes run and a reservation is UnsupportedOperation."""
    assert set(REST_OPERATIONS) == {CreateAvailabilityHead, UpdateAvailability}
    assert REST_OPERATION_NAMES == ("create_availability", "update_availability")
    assert {e.method for e in REST_OPERATIONS.values()} == {"POST", "PATCH"}
    reservation = CreateReservationHead(
        availability_id="a1",
        reservation_id="r1",
        slot_size=1,
        request_id="q",
        slot_index=0,
        collateral_per_byte=0,
        valid_until=1,
    )
    outcome = apply(head_state, reservation, REST_TABLE)
    assert not isinstance(outcome, Accepted)
    assert outcome.kind == "UnsupportedOperation"
    refused = apply(head_state, CreateAvailabilityHead(**{**GOOD, "duration": 0}), REST_TABLE)
    assert refused == errors.DurationZero(availability_id="a1")


@pytest.mark.parametrize(
    ("field", "rejection"),
    [
        ("duration", errors.DurationZero(availability_id="a1")),
        ("min_price_per_byte_per_second", errors.MinPricePerBytePerSecondZero(availability_id="a1")),
        ("total_collateral", errors.TotalCollateralZero(availability_id="a1")),
        ("total_size", errors.TotalSizeZero(availability_id="a1")),
    ],
)
def test_zero_rejections_are_justified_only_by_a_zero_field(
    head_state: AnyState, field: str, rejection: errors.Rejection
) -> None:
    """A zero-field rejection is justified when the action's field is 0, and flagged when it is not."""
    zero = CreateAvailabilityHead(**{**GOOD, field: 0})
    nonzero = CreateAvailabilityHead(**GOOD)
    assert list(rejection_is_justified(head_state, zero, rejection)) == []
    flagged = list(rejection_is_justified(head_state, nonzero, rejection))
    assert [v.rule for v in flagged] == ["rejection_is_justified"]


def test_post_rejections_are_justified(head_state: AnyState) -> None:
    """Every rejection ``post_availability`` gives on a sample of bodies is justified by the pre-state."""
    bodies = [{"duration": 0}, {"total_size": 0}, {"total_collateral": 0}, {"total_size": 10**6}, {"until": -5}]
    for changes in bodies:
        outcome = _post(head_state, **changes)
        action = CreateAvailabilityHead(**{**GOOD, **changes})
        assert isinstance(outcome, errors.Rejection)
        assert list(rejection_is_justified(head_state, action, outcome)) == []
